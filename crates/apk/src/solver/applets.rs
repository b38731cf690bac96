//! apk's applets over the model: `add`, `del`, `upgrade` and `fix` as `app_add.c`,
//! `app_del.c`, `app_upgrade.c` and `app_fix.c` run them, each on its own copy of the
//! model, printing what apk prints.

use super::engine::*;
use super::model::*;
use super::report::{self, Out};
use super::{AddOptions, DelOptions, FixOptions, SolverErrorKind, UpgradeOptions};
use crate::db::PackageInfo;
use crate::dep::Dependency;
use crate::version::VersionOp;

/// apk's `apk_deps_add`: replaces the entry with the same name, else appends.
fn deps_add(deps: &mut Vec<Dep>, dep: Dep) {
    match deps.iter_mut().find(|d| d.name == dep.name) {
        Some(d) => *d = dep,
        None => deps.push(dep),
    }
}

/// apk's `apk_deps_del`: the last entry takes the removed one's place.
fn deps_del(deps: &mut Vec<Dep>, name: NameId) {
    if let Some(i) = deps.iter().position(|d| d.name == name) {
        deps.swap_remove(i);
    }
}

/// Case-insensitive `fnmatch` with `*` and `?`.
fn glob_match(pat: &[u8], s: &[u8]) -> bool {
    match pat.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => (0..=s.len()).any(|i| glob_match(rest, &s[i..])),
        Some((&c, rest)) => match s.split_first() {
            Some((&d, srest)) => {
                (c == b'?' || c.eq_ignore_ascii_case(&d)) && glob_match(rest, srest)
            }
            None => false,
        },
    }
}

const NAME_WAS_WORLD_CONFLICT: u32 = 1;
const NAME_IS_WORLD_DEPENDENCY: u32 = 2;

/// The state of one operation: a private copy of the model and the output so far.
pub(super) struct Run {
    pub(super) db: Model,
    pub(super) out: Out,
    pub(super) force_non_repository: bool,
}

/// A committed (simulated) changeset and the world it was computed for.
pub(super) struct Outcome {
    pub(super) printed: Vec<(RawChange, String)>,
    pub(super) world: Vec<Dep>,
}

impl Run {
    /// Parses a command-line dependency (`apk_blob_pull_dep`).
    fn parse_arg(&mut self, arg: &str, allow_tag: bool) -> Option<Dep> {
        let d = Dependency::parse(arg).ok()?;
        if d.tag.is_some() && !allow_tag {
            return None;
        }
        let tag = self.db.get_tag_id(d.tag.as_deref());
        Some(self.db.dep_from(&d, tag))
    }

    /// `apk_solver_commit`.
    fn commit(
        &mut self,
        flags: u16,
        mut world: Vec<Dep>,
    ) -> Result<Option<Outcome>, SolverErrorKind> {
        if report::check_world(&self.db, &world, &mut self.out) != 0 {
            return Err(self.error(SolverErrorKind::MissingRepositoryTags));
        }
        let (errors, cs) = solve(&mut self.db, flags, &mut world);
        if errors != 0 {
            return Err(self.unsatisfiable(&cs, &world));
        }
        self.commit_changeset(&cs, world)
    }

    fn commit_changeset(
        &mut self,
        cs: &Changeset,
        world: Vec<Dep>,
    ) -> Result<Option<Outcome>, SolverErrorKind> {
        match report::commit_changeset(&mut self.db, cs, &world, &mut self.out) {
            None => Err(SolverErrorKind::MissingRepositoryTags),
            Some(c) => {
                self.db.world = world.clone();
                Ok(Some(Outcome {
                    printed: c.printed,
                    world,
                }))
            }
        }
    }

    fn unsatisfiable(&mut self, cs: &Changeset, world: &[Dep]) -> SolverErrorKind {
        let text = report::print_errors(&mut self.db, cs, world);
        self.out.err("unable to select packages:");
        self.out.text.push_str(&text);
        SolverErrorKind::Unsatisfiable(text)
    }

    /// Prints `kind` as apk's `ERROR:` line and returns it.
    fn error(&mut self, kind: SolverErrorKind) -> SolverErrorKind {
        self.out.err(&kind.to_string());
        kind
    }

    pub(super) fn add(
        &mut self,
        args: &[&str],
        opts: &AddOptions,
    ) -> Result<Option<Outcome>, SolverErrorKind> {
        let flags = if opts.upgrade { SOLVERF_UPGRADE } else { 0 }
            | if opts.latest { SOLVERF_LATEST } else { 0 };
        let mut world = self.db.world.clone();
        let mut virt: Option<(Dep, Vec<Dep>)> = None;
        if let Some(spec) = &opts.virtual_pkg {
            let bad = || SolverErrorKind::BadVirtualSpec(spec.clone());
            let Some(mut vdep) = self.parse_arg(spec, true).filter(|d| !d.conflict()) else {
                return Err(self.error(bad()));
            };
            if !self.db.names[vdep.name].name.starts_with('.') && !self.force_non_repository {
                return Err(self.error(SolverErrorKind::NonRepository));
            }
            if vdep.op == VersionOp::ANY.bits() {
                if vdep.version != NULL_ATOM {
                    return Err(self.error(bad()));
                }
                vdep.op = VersionOp::EQUAL.bits();
                vdep.version = self.db.atom(&generate_version());
            } else if vdep.op != VersionOp::EQUAL.bits() || vdep.version == NULL_ATOM {
                return Err(self.error(bad()));
            }
            if args.is_empty() {
                self.out.warn("creating empty virtual package");
            }
            virt = Some((vdep, Vec::new()));
        }
        for arg in args {
            let Some(dep) = self.parse_arg(arg, virt.is_none()) else {
                let kind = if virt.is_some() {
                    SolverErrorKind::InvalidPackageDependency(arg.to_string())
                } else {
                    SolverErrorKind::InvalidWorldDependency(arg.to_string())
                };
                return Err(self.error(kind));
            };
            match &mut virt {
                Some((_, deps)) => deps_add(deps, dep),
                None => {
                    deps_add(&mut world, dep);
                    set_name_flags(&mut self.db, dep.name, flags, flags);
                }
            }
        }
        if let Some((vdep, deps)) = virt {
            let mut info = PackageInfo::new(
                self.db.names[vdep.name].name.clone(),
                self.db.atom_str(vdep.version).to_string(),
            );
            info.description = "virtual meta package".into();
            info.arch = "noarch".into();
            info.depends = deps.iter().map(|d| self.db.dep_to(d)).collect();
            self.db.virtual_serial += 1;
            info.checksum = format!("virtual:{}", self.db.virtual_serial);
            self.db.pkg_add(&info, Origin::Virtual, None);
            deps_add(&mut world, vdep);
            set_name_flags(&mut self.db, vdep.name, flags, flags);
        }
        self.commit(0, world)
    }

    /// Names matching the arguments, as `apk_db_foreach_matching_name` visits them.
    fn matching_names(&self, args: &[&str]) -> Vec<(String, Option<NameId>)> {
        if args.iter().any(|a| a.contains('*')) {
            return self
                .db
                .names_in_hash_order()
                .into_iter()
                .filter_map(|n| {
                    let name = &self.db.names[n].name;
                    args.iter()
                        .find(|a| glob_match(a.as_bytes(), name.as_bytes()))
                        .map(|a| (a.to_string(), Some(n)))
                })
                .collect();
        }
        args.iter()
            .map(|a| (a.to_string(), self.db.query_name(a)))
            .collect()
    }

    pub(super) fn del(
        &mut self,
        args: &[&str],
        opts: &DelOptions,
    ) -> Result<Option<Outcome>, SolverErrorKind> {
        struct DelCtx {
            world: Vec<Dep>,
            recursive: bool,
            genid: u32,
        }
        fn delete_pkg(db: &mut Model, ctx: &mut DelCtx, pkg0: PkgId, _d: Dep, _p: PkgId) {
            let name = db.pkgs[pkg0].name;
            deps_del(&mut ctx.world, name);
            set_name_flags(db, name, SOLVERF_REMOVE, 0);
            if ctx.recursive {
                for i in 0..db.pkgs[pkg0].provides.len() {
                    let n = db.pkgs[pkg0].provides[i].name;
                    deps_del(&mut ctx.world, n);
                }
                let m = ctx.genid | FOREACH_INSTALLED | DEP_SATISFIES;
                db.foreach_reverse_dependency(pkg0, m, ctx, delete_pkg);
            }
        }

        let orig_world = self.db.world.clone();
        let genid = self.db.next_genid();
        let mut ctx = DelCtx {
            world: self.db.world.clone(),
            recursive: opts.rdepends,
            genid,
        };
        let mut first_error = None;
        for (arg, name) in self.matching_names(args) {
            let Some(name) = name else {
                let kind = SolverErrorKind::NoSuchPackage(arg);
                self.out.err(&kind.to_string());
                first_error.get_or_insert(kind);
                continue;
            };
            match self.db.installed_pkg_of(name) {
                Some(pkg) => delete_pkg(&mut self.db, &mut ctx, pkg, NO_DEP, pkg),
                None => deps_del(&mut ctx.world, name),
            }
        }
        if let Some(kind) = first_error {
            return Err(kind);
        }

        let mut world = ctx.world;
        let (errors, cs) = solve(&mut self.db, 0, &mut world);
        if errors != 0 {
            return Err(self.unsatisfiable(&cs, &world));
        }
        if self.out.verbosity >= 1 {
            for d in &orig_world {
                if d.conflict() {
                    self.db.names[d.name].state_int |= NAME_WAS_WORLD_CONFLICT;
                }
            }
            for d in &world {
                if !d.conflict() {
                    self.db.names[d.name].state_int |= NAME_IS_WORLD_DEPENDENCY;
                }
            }
            for c in &cs.changes {
                if let Some(p) = c.new_pkg {
                    self.db.pkgs[p].marked = true;
                }
            }
            let mut nd = NotDeleted {
                text: String::new(),
                indent: report::Indent::default(),
                name: String::new(),
                matches: 0,
                header: false,
                verbose: self.out.verbosity >= 2,
            };
            for name in self.sorted_names(args) {
                if self.db.names[name].state_int & NAME_WAS_WORLD_CONFLICT != 0 {
                    continue;
                }
                nd.name = self.db.names[name].name.clone();
                nd.matches = self.db.next_genid() | FOREACH_MARKED | DEP_SATISFIES;
                nd.indent = report::Indent::default();
                for pi in 0..self.db.names[name].providers.len() {
                    let p = self.db.names[name].providers[pi].pkg;
                    if self.db.pkgs[p].marked {
                        print_not_deleted_pkg(&mut self.db, &mut nd, p, NO_DEP, p);
                    }
                }
                nd.indent.end(&mut nd.text);
            }
            self.out.text.push_str(&nd.text);
            if nd.header {
                self.out.text.push('\n');
            }
        }
        self.commit_changeset(&cs, world)
    }

    /// `apk_db_foreach_sorted_name` over existing names.
    fn sorted_names(&self, args: &[&str]) -> Vec<NameId> {
        let mut v: Vec<NameId> = if args.iter().any(|a| a.contains('*')) {
            (0..self.db.names.len())
                .filter(|&n| {
                    args.iter()
                        .any(|a| glob_match(a.as_bytes(), self.db.names[n].name.as_bytes()))
                })
                .collect()
        } else {
            args.iter().filter_map(|a| self.db.query_name(a)).collect()
        };
        v.sort_by(|&a, &b| {
            crate::db::name_cmp_display(&self.db.names[a].name, &self.db.names[b].name)
        });
        v
    }

    pub(super) fn upgrade(
        &mut self,
        args: &[&str],
        opts: &UpgradeOptions,
    ) -> Result<Option<Outcome>, SolverErrorKind> {
        let world = self.db.world.clone();
        if report::check_world(&self.db, &world, &mut self.out) != 0 {
            return Err(self.error(SolverErrorKind::UpgradeMissingRepositoryTags));
        }
        let mut flags = SOLVERF_UPGRADE
            | if opts.available { SOLVERF_AVAILABLE } else { 0 }
            | if opts.latest { SOLVERF_LATEST } else { 0 };
        // apk only preupgrades on its own root, or when asked to do nothing else.
        if opts.preupgrade_only && args.is_empty() {
            return self.preupgrade(flags, &opts.preupgrade_depends);
        }
        if opts.preupgrade_only {
            return Ok(None);
        }
        let mut world = world;
        if flags & SOLVERF_AVAILABLE != 0 {
            for d in &mut world {
                if d.op == VersionOp::CHECKSUM.bits() {
                    d.op = VersionOp::ANY.bits();
                    d.version = NULL_ATOM;
                }
            }
        }
        if opts.prune {
            let db = &self.db;
            world.retain(|d| {
                db.names[d.name]
                    .providers
                    .iter()
                    .any(|p| db.pkg_available(p.pkg))
            });
        }
        if !args.is_empty() {
            if !opts.ignore {
                flags &= !SOLVERF_UPGRADE;
            }
            let mut first_error = None;
            for (arg, name) in self.matching_names(args) {
                match name {
                    None => {
                        let kind = SolverErrorKind::PackageNotFound(arg);
                        self.out.err(&kind.to_string());
                        first_error.get_or_insert(kind);
                    }
                    Some(n) => {
                        let f = if opts.ignore {
                            SOLVERF_INSTALLED
                        } else {
                            SOLVERF_UPGRADE
                        };
                        set_name_flags(&mut self.db, n, f, 0);
                    }
                }
            }
            if let Some(kind) = first_error {
                return Err(kind);
            }
        }
        self.commit(flags, world)
    }

    /// `apk_do_preupgrade` with `--preupgrade-only`.
    fn preupgrade(
        &mut self,
        flags: u16,
        preupgrade_depends: &[String],
    ) -> Result<Option<Outcome>, SolverErrorKind> {
        let mut deps: Vec<Dep> = Vec::new();
        if let Some(owner) = self.db.file_owner("/proc/self/exe") {
            let name = self.db.pkgs[owner].name;
            deps_add(
                &mut deps,
                Dep {
                    name,
                    version: NULL_ATOM,
                    op: VersionOp::ANY.bits(),
                    broken: false,
                    tag: 0,
                },
            );
        }
        for s in preupgrade_depends {
            let mut warn = false;
            for w in s.split([' ', '\n']).filter(|w| !w.is_empty()) {
                match Dependency::parse_metadata(w) {
                    Ok(d) => {
                        let dep = self.db.dep_from(&d, 0);
                        deps_add(&mut deps, dep);
                    }
                    Err(_) => {
                        warn = true;
                        break;
                    }
                }
            }
            if warn {
                self.out.warn(&format!(
                    "Ignored invalid preupgrade dependencies from: {s}"
                ));
            }
        }
        let mut any = false;
        for dep in &deps {
            let pkg = self.db.installed_pkg_of(dep.name);
            if !self.db.dep_is_materialized(dep, pkg) {
                continue;
            }
            let Some(pkg) = pkg else { continue };
            let newer = self.db.names[dep.name].providers.iter().any(|p0| {
                let p0 = &self.db.pkgs[p0.pkg];
                p0.repos != 0
                    && crate::version::compare(
                        self.db.atom_str(p0.version),
                        self.db.atom_str(self.db.pkgs[pkg].version),
                    ) == std::cmp::Ordering::Greater
            });
            if newer {
                set_name_flags(&mut self.db, dep.name, flags, 0);
                any = true;
            }
        }
        if !any {
            return Ok(None);
        }
        self.db.performing_preupgrade = true;
        let mut world = self.db.world.clone();
        let (errors, cs) = solve(&mut self.db, 0, &mut world);
        if errors != 0 {
            self.out
                .warn("Failed to perform initial preupgrade, continuing with a full upgrade.");
            self.db.performing_preupgrade = false;
            return Ok(None);
        }
        if cs.num_total_changes() == 0 {
            self.db.performing_preupgrade = false;
            return Ok(None);
        }
        self.db.performing_preupgrade = false;
        self.out.msg("Preupgrading:");
        self.commit_changeset(&cs, world)
    }

    pub(super) fn fix(
        &mut self,
        args: &[&str],
        opts: &FixOptions,
    ) -> Result<Option<Outcome>, SolverErrorKind> {
        let mut flags = if opts.reinstall { SOLVERF_REINSTALL } else { 0 }
            | if opts.upgrade { SOLVERF_UPGRADE } else { 0 };
        if flags == 0 {
            flags = SOLVERF_REINSTALL;
        }
        let inheritable = if opts.depends { flags } else { 0 };
        if args.is_empty() {
            for i in 0..self.db.installed.len() {
                let p = self.db.installed[i];
                let broken = self.db.pkgs[p]
                    .ipkg
                    .as_ref()
                    .is_some_and(|i| i.broken_files || i.broken_script);
                if broken {
                    let n = self.db.pkgs[p].name;
                    set_name_flags(&mut self.db, n, flags, inheritable);
                }
            }
        } else {
            let mut first_error = None;
            for (arg, name) in self.matching_names(args) {
                match name {
                    None => {
                        let kind = SolverErrorKind::PackageNotFound(arg);
                        self.out.err(&kind.to_string());
                        first_error.get_or_insert(kind);
                    }
                    Some(n) => set_name_flags(&mut self.db, n, flags, inheritable),
                }
            }
            if let Some(kind) = first_error {
                return Err(kind);
            }
        }
        let world = self.db.world.clone();
        self.commit(0, world)
    }
}

const NO_DEP: Dep = Dep {
    name: 0,
    version: NULL_ATOM,
    op: 0,
    broken: false,
    tag: 0,
};

struct NotDeleted {
    text: String,
    indent: report::Indent,
    name: String,
    matches: u32,
    header: bool,
    verbose: bool,
}

/// `print_not_deleted_pkg` of `apk:src/app_del.c`.
fn print_not_deleted_pkg(db: &mut Model, ctx: &mut NotDeleted, pkg0: PkgId, _d: Dep, _p: PkgId) {
    if !ctx.header {
        ctx.text
            .push_str("World updated, but the following packages are not removed due to:\n");
        ctx.header = true;
    }
    if ctx.indent.indent == 0 {
        let head = format!("  {}:", ctx.name);
        ctx.indent.group(&mut ctx.text, 0, &head);
    }
    let name0 = db.pkgs[pkg0].name;
    if db.names[name0].state_int & NAME_IS_WORLD_DEPENDENCY != 0 {
        let s = db.names[name0].name.clone();
        ctx.indent.item(&mut ctx.text, &s);
    }
    for i in 0..db.pkgs[pkg0].provides.len() {
        let n = db.pkgs[pkg0].provides[i].name;
        if db.names[n].state_int & NAME_IS_WORLD_DEPENDENCY == 0 {
            continue;
        }
        let s = db.names[n].name.clone();
        ctx.indent.item(&mut ctx.text, &s);
    }
    let matches = ctx.matches;
    db.foreach_reverse_dependency(pkg0, matches, ctx, print_not_deleted_pkg);
    // Walk the providers of what installed this one automatically, limited to marked world
    // packages (apk issue #11151).
    for i in 0..db.pkgs[pkg0].install_if.len() {
        let dn = db.pkgs[pkg0].install_if[i].name;
        for pi in 0..db.names[dn].providers.len() {
            let p = db.names[dn].providers[pi].pkg;
            if !db.pkgs[p].marked || db.pkg_match_genid(p, matches) {
                continue;
            }
            let pn = db.pkgs[p].name;
            if !ctx.verbose && db.names[pn].state_int & NAME_IS_WORLD_DEPENDENCY == 0 {
                continue;
            }
            print_not_deleted_pkg(db, ctx, p, NO_DEP, p);
        }
    }
}

/// A version from the current UTC time, `%Y%m%d.%H%M%S`, as `apk add --virtual NAME` makes.
fn generate_version() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let t = crate::utc::Utc::from_unix(secs);
    format!(
        "{:04}{:02}{:02}.{:02}{:02}{:02}",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}
