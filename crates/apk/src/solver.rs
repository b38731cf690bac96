//! Dependency solving as `apk add`, `del`, `upgrade` and `fix` do it, with apk's output.
//!
//! The solver is a port of apk-tools 3's `solver.c` (see `solver/engine.rs`), run over a
//! model of apk's database built from repositories, the installed database and the world.
//! Each operation works on a copy of that model, so one [`Solver`] can plan several operations.
//! A [`Plan`] lists the changes in apk's order and renders apk's `(i/n) Installing name (ver)`
//! lines; a [`SolverError`] carries apk's message (`unable to select packages:` with its
//! analysis). `Plan::output` and `SolverError::output` are exactly what `apk --simulate` prints.
//!
//! ```
//! use alpinist_apk::db::{InstalledDb, PackageInfo};
//! use alpinist_apk::dep::Dependency;
//! use alpinist_apk::solver::{Repository, Solver};
//!
//! let mut a = PackageInfo::new("a", "1.0-r0");
//! a.depends.push(Dependency::new("b"));
//! let b = PackageInfo::new("b", "2.0-r0");
//! let repo = Repository::new("main", vec![a, b]);
//! let solver = Solver::new(vec![repo], &InstalledDb::default(), &[]);
//! let plan = solver.add(&[Dependency::new("a")]).unwrap();
//! assert_eq!(plan.change_lines(), ["(1/2) Installing b (2.0-r0)", "(2/2) Installing a (1.0-r0)"]);
//! ```

mod engine;
mod model;
mod report;

use std::fmt;

use crate::db::{InstalledDb, PackageInfo};
use crate::dep::Dependency;
use crate::version::VersionOp;
use engine::*;
use model::*;
use report::Out;

/// A repository index as the solver sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    /// Identity (URL or path). Entries with the same URL are one repository that several
    /// tags select, as when `etc/apk/repositories` lists a URL twice.
    pub url: String,
    /// Pinning tag without `@` (`@testing https://…` in `etc/apk/repositories`).
    pub tag: Option<String>,
    pub packages: Vec<PackageInfo>,
    /// A remote repository cannot be downloaded from with [`Options::no_network`].
    pub remote: bool,
}

impl Repository {
    /// A local, untagged repository.
    pub fn new(url: impl Into<String>, packages: Vec<PackageInfo>) -> Self {
        Repository {
            url: url.into(),
            tag: None,
            packages,
            remote: false,
        }
    }
}

/// apk's global options that change solving or output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `etc/apk/arch`: the first is the primary arch. Packages for other arches (except
    /// `noarch` and none) are uninstallable. Default: the host's.
    pub arches: Vec<String>,
    /// `--no-network`: remote repositories are unavailable.
    pub no_network: bool,
    /// `--force-broken-world`: drop world entries that cannot be satisfied.
    pub force_broken_world: bool,
    /// `--force-non-repository`: allow `add --virtual` of a name not starting with a dot.
    pub force_non_repository: bool,
    /// 0 with `-q`, 1 by default, 2 with `-v`.
    pub verbosity: i32,
    /// Packages from `etc/apk/cache/installed` (non-repository packages kept in the cache);
    /// apk reads them only for a root on tmpfs.
    pub cached: Vec<PackageInfo>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            arches: vec![host_arch().to_string()],
            no_network: false,
            force_broken_world: false,
            force_non_repository: false,
            verbosity: 1,
            cached: Vec::new(),
        }
    }
}

/// apk's arch name for the machine this runs on.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86" => "x86",
        "arm" => "armv7",
        "powerpc64" => "ppc64le",
        "loongarch64" => "loongarch64",
        other => other,
    }
}

/// `apk add` options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddOptions {
    /// `--upgrade`: also upgrade the named packages' dependencies.
    pub upgrade: bool,
    /// `--latest`: pick the newest version even over pinning preferences.
    pub latest: bool,
    /// `--virtual NAME[=VERSION]`: bundle the arguments into a virtual package.
    pub virtual_pkg: Option<String>,
}

/// `apk del` options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DelOptions {
    /// `--rdepends`: also remove what depends on the named packages.
    pub rdepends: bool,
}

/// `apk upgrade` options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpgradeOptions {
    /// `--available`: prefer packages still in a repository.
    pub available: bool,
    /// `--latest`
    pub latest: bool,
    /// `--ignore`: keep the named packages as they are.
    pub ignore: bool,
    /// `--prune`: drop world entries no repository provides.
    pub prune: bool,
    /// `--self-upgrade-only` / `--preupgrade-only`: only upgrade apk itself (the owner of
    /// `/proc/self/exe`) and `preupgrade_depends`.
    pub preupgrade_only: bool,
    /// `--preupgrade-depends`, one string per option.
    pub preupgrade_depends: Vec<String>,
}

/// `apk fix` options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FixOptions {
    /// `--depends`: also fix dependencies.
    pub depends: bool,
    /// `--reinstall` (the default when neither this nor `upgrade` is set).
    pub reinstall: bool,
    /// `--upgrade`
    pub upgrade: bool,
    /// `--xattr`: also fix packages with broken xattrs.
    pub xattr: bool,
}

/// What happens to one package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Install,
    Remove,
    Upgrade,
    Downgrade,
    /// Same version, different build.
    Replace,
    Reinstall,
    /// Reinstall requested but the package cannot be fetched.
    ReinstallUnavailable,
    /// Same package, different repository tag.
    UpdatePinning,
}

impl Action {
    /// The verb apk prints.
    pub fn verb(self) -> &'static str {
        match self {
            Action::Install => "Installing",
            Action::Remove => "Purging",
            Action::Upgrade => "Upgrading",
            Action::Downgrade => "Downgrading",
            Action::Replace => "Replacing",
            Action::Reinstall => "Reinstalling",
            Action::ReinstallUnavailable => "[APK unavailable, skipped] Reinstalling",
            Action::UpdatePinning => "Updating pinning",
        }
    }

    fn from_verb(verb: &str) -> Action {
        [
            Action::Install,
            Action::Remove,
            Action::Upgrade,
            Action::Downgrade,
            Action::Replace,
            Action::Reinstall,
            Action::ReinstallUnavailable,
            Action::UpdatePinning,
        ]
        .into_iter()
        .find(|a| a.verb() == verb)
        .unwrap_or(Action::Install)
    }
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub action: Action,
    pub name: String,
    /// Repository tag the package is pinned to after the change, without `@`.
    pub tag: Option<String>,
    /// The installed package being replaced or removed.
    pub old: Option<PackageInfo>,
    /// The package being installed.
    pub new: Option<PackageInfo>,
    /// Index into the `repos` given to [`Solver::new`] to fetch `new` from; `None` for a
    /// package that needs no download (unchanged, virtual, cached) or none is available.
    pub repository: Option<usize>,
    text: String,
}

impl Change {
    pub fn old_version(&self) -> Option<&str> {
        self.old.as_ref().map(|p| p.version.as_str())
    }

    pub fn new_version(&self) -> Option<&str> {
        self.new.as_ref().map(|p| p.version.as_str())
    }
}

impl fmt::Display for Change {
    /// `Installing b (2)`, `Upgrading a@testing (1 -> 2)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The result of a successful operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Changes in the order apk applies them.
    pub changes: Vec<Change>,
    /// The world to write after committing (sorted as apk writes it).
    pub world: Vec<Dependency>,
    output: String,
}

impl Plan {
    /// `(1/2) Installing b (2)` lines.
    pub fn change_lines(&self) -> Vec<String> {
        let n = self.changes.len();
        let digits = n.to_string().len();
        self.changes
            .iter()
            .enumerate()
            .map(|(i, c)| format!("({:>digits$}/{n}) {c}", i + 1))
            .collect()
    }

    /// Everything `apk --simulate` prints for this operation, warnings and the final `OK:`
    /// line included.
    pub fn output(&self) -> &str {
        &self.output
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

/// Why an operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SolverErrorKind {
    /// No consistent selection; the text is apk's analysis (the indented lines).
    #[error("unable to select packages:\n{0}")]
    Unsatisfiable(String),
    #[error("'{0}' is not a valid world dependency, format is name(@tag)([<>~=]version)")]
    InvalidWorldDependency(String),
    #[error("'{0}' is not a valid package dependency, format is name([<>~=]version)")]
    InvalidPackageDependency(String),
    #[error("{0}: bad package specifier")]
    BadVirtualSpec(String),
    #[error(
        "You tried to add a non-repository package to system, but it would be lost on next \
         reboot. Enable package caching (apk cache --help) or use --force-non-repository if \
         you know what you are doing."
    )]
    NonRepository,
    #[error("Not committing changes due to missing repository tags.")]
    MissingRepositoryTags,
    #[error("Not continuing with upgrade due to missing repository tags.")]
    UpgradeMissingRepositoryTags,
    #[error("No such package: {0}")]
    NoSuchPackage(String),
    #[error("Package '{0}' not found")]
    PackageNotFound(String),
}

/// A failed operation: the reason and everything apk would have printed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}")]
pub struct SolverError {
    pub kind: SolverErrorKind,
    output: String,
}

impl SolverError {
    /// Everything apk prints, ending with the `ERROR: …` message.
    pub fn output(&self) -> &str {
        &self.output
    }
}

/// Plans apk operations over repositories, an installed database and a world.
#[derive(Debug, Clone)]
pub struct Solver {
    model: Model,
    /// Model repository index → first matching entry of the caller's list.
    repo_map: Vec<usize>,
    opts: Options,
    open_output: String,
}

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
struct Run {
    db: Model,
    out: Out,
    force_non_repository: bool,
}

impl Solver {
    /// Builds the model as `apk` opens its database, with default [`Options`].
    pub fn new(repos: Vec<Repository>, installed: &InstalledDb, world: &[Dependency]) -> Self {
        Solver::with_options(repos, installed, world, Options::default())
    }

    pub fn with_options(
        repos: Vec<Repository>,
        installed: &InstalledDb,
        world: &[Dependency],
        opts: Options,
    ) -> Self {
        let mut out = Out::new(opts.verbosity);
        let mut m = Model::new(&opts.arches);
        m.force_broken_world = opts.force_broken_world;
        // apk reads the world before the installed database, then the repositories; tag
        // numbers follow that order.
        let world: Vec<Dep> = world
            .iter()
            .map(|d| {
                let tag = m.get_tag_id(d.tag.as_deref());
                m.dep_from(d, tag)
            })
            .collect();
        m.world = world;
        for p in &installed.packages {
            m.pkg_add(&p.info, Origin::Installed, Some(p));
        }
        let stats = installed.stats();
        m.installed_dirs = stats.dirs;
        m.installed_files = stats.files;
        for p in &opts.cached {
            m.pkg_add(p, Origin::CacheInstalled, None);
        }
        let mut repo_map = Vec::new();
        let mut loads = Vec::new();
        for (i, r) in repos.iter().enumerate() {
            let tag = m.get_tag_id(r.tag.as_deref());
            match m.repos.iter().position(|x| x.url == r.url) {
                Some(j) => m.repos[j].tag_mask |= 1 << tag,
                // apk ignores repositories past APK_MAX_REPOS.
                None if m.repos.len() >= MAX_REPOS => {}
                None => {
                    m.repos.push(Repo {
                        url: r.url.clone(),
                        tag_mask: 1 << tag,
                    });
                    repo_map.push(i);
                    loads.push(i);
                }
            }
        }
        for (num, &i) in loads.iter().enumerate() {
            let r = &repos[i];
            for p in &r.packages {
                m.pkg_add(p, Origin::Repository(num), None);
            }
            let bit = 1u32 << num;
            if !r.remote {
                m.local_repos |= bit;
            }
            if !r.remote || !opts.no_network {
                m.available_repos |= bit;
            }
            let mask = m.repos[num].tag_mask;
            for (t, tag) in m.tags.iter_mut().enumerate() {
                if t < 32 && mask & (1 << t) != 0 {
                    tag.allowed_repos |= bit;
                }
            }
        }
        m.build_rdepends();
        if m.compat_newfeatures {
            out.warn(&format!(
                "This apk-tools is OLD! Some packages {}.",
                if m.compat_notinstallable {
                    "are not installable"
                } else {
                    "might not function properly"
                }
            ));
        }
        if m.compat_depversions {
            out.warn(&format!(
                "The indexes contain broken packages which {}.",
                if m.compat_notinstallable {
                    "are not installable"
                } else {
                    "might not function properly"
                }
            ));
        }
        Solver {
            model: m,
            repo_map,
            opts,
            open_output: out.text,
        }
    }

    /// Warnings apk prints when opening the database (also part of every `output()`).
    pub fn open_warnings(&self) -> &str {
        &self.open_output
    }

    /// The world as read.
    pub fn world(&self) -> Vec<Dependency> {
        self.model
            .world
            .iter()
            .map(|d| self.model.dep_to(d))
            .collect()
    }

    fn start(&self) -> Run {
        let mut out = Out::new(self.opts.verbosity);
        out.text = self.open_output.clone();
        Run {
            db: self.model.clone(),
            out,
            force_non_repository: self.opts.force_non_repository,
        }
    }

    /// `apk add DEPS…`: adds the dependencies to the world and plans the result.
    pub fn add(&self, deps: &[Dependency]) -> Result<Plan, SolverError> {
        let args: Vec<String> = deps.iter().map(|d| d.to_string()).collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.add_args(&args, &AddOptions::default())
    }

    /// `apk add [OPTIONS] ARGS…` with the arguments as typed (parsed and rejected as apk does).
    pub fn add_args(&self, args: &[&str], opts: &AddOptions) -> Result<Plan, SolverError> {
        let mut run = self.start();
        let r = with_big_stack(|| run.add(args, opts));
        self.finish(run, r)
    }

    /// `apk del NAMES…`
    pub fn del(&self, names: &[&str], opts: &DelOptions) -> Result<Plan, SolverError> {
        let mut run = self.start();
        let r = with_big_stack(|| run.del(names, opts));
        self.finish(run, r)
    }

    /// `apk upgrade [NAMES…]`
    pub fn upgrade(&self, names: &[&str], opts: &UpgradeOptions) -> Result<Plan, SolverError> {
        let mut run = self.start();
        let r = with_big_stack(|| run.upgrade(names, opts));
        self.finish(run, r)
    }

    /// `apk fix [NAMES…]`
    pub fn fix(&self, names: &[&str], opts: &FixOptions) -> Result<Plan, SolverError> {
        let mut run = self.start();
        let r = with_big_stack(|| run.fix(names, opts));
        self.finish(run, r)
    }

    fn finish(
        &self,
        run: Run,
        r: Result<Option<Outcome>, SolverErrorKind>,
    ) -> Result<Plan, SolverError> {
        match r {
            Err(kind) => Err(SolverError {
                kind,
                output: run.out.text,
            }),
            Ok(None) => Ok(Plan {
                changes: Vec::new(),
                world: run.db.world.iter().map(|d| run.db.dep_to(d)).collect(),
                output: run.out.text,
            }),
            Ok(Some(o)) => {
                let db = &run.db;
                let changes = o
                    .printed
                    .iter()
                    .map(|(c, text)| self.change(db, c, text))
                    .collect();
                let mut world: Vec<Dependency> = o.world.iter().map(|d| db.dep_to(d)).collect();
                world.sort_by(|a, b| crate::db::name_cmp_display(&a.name, &b.name));
                Ok(Plan {
                    changes,
                    world,
                    output: run.out.text,
                })
            }
        }
    }

    fn change(&self, db: &Model, c: &RawChange, text: &str) -> Change {
        let pkg = c.new_pkg.or(c.old_pkg).unwrap_or_default();
        let verb = text.split(' ').next().unwrap_or("");
        let action = if text.starts_with("Updating pinning") {
            Action::UpdatePinning
        } else if text.starts_with("[APK unavailable") {
            Action::ReinstallUnavailable
        } else {
            Action::from_verb(verb)
        };
        let repository = c
            .new_pkg
            .filter(|_| c.new_pkg != c.old_pkg || c.reinstall)
            .and_then(|p| {
                let pkg = &db.pkgs[p];
                if pkg.cached {
                    return None;
                }
                let mut repos = pkg.repos & db.available_repos;
                if repos & db.local_repos != 0 {
                    repos &= db.local_repos;
                }
                (repos != 0).then(|| self.repo_map[repos.trailing_zeros() as usize])
            });
        Change {
            action,
            name: db.names[db.pkgs[pkg].name].name.clone(),
            tag: (c.new_tag != 0).then(|| db.tags[c.new_tag].plain.clone()),
            old: c.old_pkg.map(|p| db.pkgs[p].info.clone()),
            new: c.new_pkg.map(|p| db.pkgs[p].info.clone()),
            repository,
            text: text.to_string(),
        }
    }
}

/// A committed (simulated) changeset and the world it was computed for.
struct Outcome {
    printed: Vec<(RawChange, String)>,
    world: Vec<Dep>,
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

    fn add(
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

    fn del(
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

    fn upgrade(
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

    fn fix(
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

/// Runs `f` on a thread with a large stack: the solver recurses along dependency chains, as
/// apk does, and a long chain must not overflow a small (test or worker) thread's stack.
/// Falls back to the current thread if no thread can be started.
fn with_big_stack<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    let mut f = Some(f);
    let mut out = None;
    std::thread::scope(|s| {
        let spawned = std::thread::Builder::new()
            .name("apk-solver".into())
            .stack_size(512 << 20)
            .spawn_scoped(s, || f.take().map(|f| f()));
        if let Ok(handle) = spawned {
            match handle.join() {
                Ok(r) => out = r,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    });
    match (out, f) {
        (Some(r), _) => r,
        (None, Some(f)) => f(),
        (None, None) => unreachable!("the solver thread neither ran nor returned"),
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
