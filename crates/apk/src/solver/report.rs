//! What apk prints: the change list and summary of `apk_solver_commit_changeset` and the
//! "unable to select packages" analysis of `apk_solver_print_errors` (`apk:src/commit.c`),
//! with apk's word-wrapping indenter (`apk:src/print.c`) at its non-terminal width of 50.

use super::engine::{Changeset, RawChange};
use super::model::*;

/// apk's line width when the output is not a terminal.
const WIDTH: usize = 50;

/// Collected output, in the order apk would print it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Out {
    pub text: String,
    pub verbosity: i32,
}

impl Out {
    pub fn new(verbosity: i32) -> Out {
        Out {
            text: String::new(),
            verbosity,
        }
    }

    /// `apk_msg`
    pub fn msg(&mut self, s: &str) {
        if self.verbosity >= 1 {
            self.text.push_str(s);
            self.text.push('\n');
        }
    }

    /// `apk_warn`
    pub fn warn(&mut self, s: &str) {
        if self.verbosity >= 0 {
            self.text.push_str("WARNING: ");
            self.text.push_str(s);
            self.text.push('\n');
        }
    }

    /// `apk_err`
    pub fn err(&mut self, s: &str) {
        self.text.push_str("ERROR: ");
        self.text.push_str(s);
        self.text.push('\n');
    }
}

/// `struct apk_indent`.
#[derive(Debug, Default)]
pub(crate) struct Indent {
    pub x: usize,
    pub indent: usize,
}

impl Indent {
    pub fn group(&mut self, out: &mut String, indent: usize, text: &str) {
        out.push_str(text);
        self.x = text.len();
        self.indent = if indent != 0 { indent } else { self.x + 1 };
        if text.ends_with('\n') {
            self.x = 0;
        }
    }

    pub fn line(&mut self, out: &mut String, text: &str) {
        out.push_str(text);
        self.x = 0;
        self.indent = 0;
    }

    pub fn end(&mut self, out: &mut String) {
        if self.x != 0 {
            out.push('\n');
            self.x = 0;
            self.indent = 0;
        }
    }

    pub fn item(&mut self, out: &mut String, word: &str) {
        if self.x <= self.indent {
            let pad = self.indent - self.x;
            out.extend(std::iter::repeat_n(' ', pad));
            out.push_str(word);
            self.x += pad + word.len();
        } else if self.x + word.len() + 1 >= WIDTH {
            out.push('\n');
            out.extend(std::iter::repeat_n(' ', self.indent));
            out.push_str(word);
            self.x = self.indent + word.len();
        } else {
            out.push(' ');
            out.push_str(word);
            self.x += word.len() + 1;
        }
    }

    pub fn words(&mut self, out: &mut String, text: &str) {
        for w in text.split_whitespace() {
            self.item(out, w);
        }
    }
}

/// `apk_fmt_human_size(…, 1)`.
pub(crate) fn human_size(val: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut s = val as f32;
    let mut v = val;
    let mut i = 0;
    while i < UNITS.len() - 1 && s >= 10000.0 {
        s /= 1024.0;
        v /= 1024;
        i += 1;
    }
    if i < 2 {
        format!("{v} {}", UNITS[i])
    } else {
        format!("{s:.1} {}", UNITS[i])
    }
}

fn calc_precision(mut n: usize) -> usize {
    let mut p = 1;
    while n >= 10 {
        p += 1;
        n /= 10;
    }
    p
}

/// `pkg_available` of commit.c: can the package be fetched from somewhere.
pub(crate) fn pkg_fetchable(db: &Model, p: PkgId) -> bool {
    db.pkgs[p].cached || db.pkg_available(p)
}

/// The verb apk prints for a change (`print_change`), or `None` when nothing happens.
pub(crate) fn change_verb(db: &Model, c: &RawChange) -> Option<&'static str> {
    match (c.old_pkg, c.new_pkg) {
        (None, Some(_)) => Some("Installing"),
        (Some(_), None) => Some("Purging"),
        (Some(o), Some(n)) if o == n => {
            if c.reinstall {
                if pkg_fetchable(db, n) {
                    Some("Reinstalling")
                } else {
                    Some("[APK unavailable, skipped] Reinstalling")
                }
            } else if c.old_tag != c.new_tag {
                Some("Updating pinning")
            } else {
                None
            }
        }
        (Some(o), Some(n)) => Some(match db.version_cmp_pkgs(n, o) {
            std::cmp::Ordering::Less => "Downgrading",
            std::cmp::Ordering::Equal => "Replacing",
            std::cmp::Ordering::Greater => "Upgrading",
        }),
        (None, None) => None,
    }
}

/// The text after `(i/n) ` for a change.
pub(crate) fn change_text(db: &Model, c: &RawChange, verb: &str) -> String {
    let pkg = c.new_pkg.or(c.old_pkg).unwrap_or_default();
    let name = &db.names[db.pkgs[pkg].name].name;
    let tag = &db.tags[c.new_tag].tag;
    let one = match (c.old_pkg, c.new_pkg) {
        (None, Some(n)) => Some(n),
        (Some(o), None) => Some(o),
        (Some(o), Some(n)) if o == n => Some(n),
        _ => None,
    };
    match one {
        Some(p) => format!("{verb} {name}{tag} ({})", db.atom_str(db.pkgs[p].version)),
        None => format!(
            "{verb} {name}{tag} ({} -> {})",
            db.atom_str(db.pkgs[c.old_pkg.unwrap_or_default()].version),
            db.atom_str(db.pkgs[c.new_pkg.unwrap_or_default()].version)
        ),
    }
}

/// `apk_db_check_world`: warns about world tags that select no repository.
pub(crate) fn check_world(db: &Model, world: &[Dep], out: &mut Out) -> usize {
    if db.force_broken_world {
        return 0;
    }
    let mut bad = 0;
    for d in world {
        if d.tag == 0 || db.tags[d.tag].allowed_repos != 0 {
            continue;
        }
        out.warn(&format!(
            "The repository tag for world dependency '{}{}' does not exist",
            db.names[d.name].name, db.tags[d.tag].tag
        ));
        bad += 1;
    }
    bad
}

fn name_of_change(db: &Model, c: &RawChange) -> NameId {
    db.pkgs[c.old_pkg.or(c.new_pkg).unwrap_or_default()].name
}

fn dump_packages(
    db: &Model,
    sorted: &[RawChange],
    cmp: &dyn Fn(&RawChange) -> bool,
    details: bool,
    msg: &str,
    out: &mut Out,
) -> usize {
    let mut indent = Indent::default();
    let mut matched = 0;
    let mut text = String::new();
    for c in sorted {
        if !cmp(c) {
            continue;
        }
        if matched == 0 {
            indent.group(&mut text, 2, &format!("{msg}:\n"));
        }
        let pkg = c.new_pkg.or(c.old_pkg).unwrap_or_default();
        let name = &db.names[db.pkgs[pkg].name].name;
        if details {
            let tag = &db.tags[c.new_tag].tag;
            match (c.old_pkg, c.new_pkg) {
                (Some(o), Some(n)) if !c.reinstall => text.push_str(&format!(
                    "  {name}{tag} ({} -> {})\n",
                    db.atom_str(db.pkgs[o].version),
                    db.atom_str(db.pkgs[n].version)
                )),
                _ => text.push_str(&format!(
                    "  {name}{tag} ({})\n",
                    db.atom_str(db.pkgs[c.old_pkg.unwrap_or(pkg)].version)
                )),
            }
        } else {
            indent.item(&mut text, name);
        }
        matched += 1;
    }
    indent.end(&mut text);
    out.text.push_str(&text);
    matched
}

/// The outcome of committing (in simulation): the changes that do something.
pub(crate) struct Committed {
    pub printed: Vec<(RawChange, String)>,
}

/// Counts of a changeset, as `apk_solver_commit_changeset` adds them up.
struct Totals {
    total_changes: usize,
    size_diff: i64,
    pkg_diff: i64,
    download_size: u64,
}

fn totals(db: &Model, cs: &Changeset) -> Totals {
    let mut t = Totals {
        total_changes: 0,
        size_diff: 0,
        pkg_diff: 0,
        download_size: 0,
    };
    for c in &cs.changes {
        if c.new_pkg != c.old_pkg || c.reinstall || c.new_tag != c.old_tag {
            t.total_changes += 1;
        }
        if let Some(n) = c.new_pkg {
            t.size_diff += db.pkgs[n].installed_size as i64;
            t.pkg_diff += 1;
            if c.new_pkg != c.old_pkg && db.pkgs[n].repos & db.local_repos == 0 {
                t.download_size += db.pkgs[n].size;
            }
        }
        if let Some(o) = c.old_pkg {
            t.size_diff -= db.pkgs[o].installed_size as i64;
            t.pkg_diff -= 1;
        }
    }
    t
}

/// The package lists and sizes apk prints with `-v` before committing.
fn print_summary(db: &Model, cs: &Changeset, download_size: u64, size_diff: i64, out: &mut Out) {
    let details = out.verbosity >= 2;
    let mut sorted = cs.changes.clone();
    sorted.sort_by(|a, b| {
        crate::db::name_cmp_display(
            &db.names[name_of_change(db, a)].name,
            &db.names[name_of_change(db, b)].name,
        )
    });
    let non_repo = |c: &RawChange| -> bool {
        let Some(n) = c.new_pkg else { return false };
        let name = &db.names[db.pkgs[n].name];
        !name.has_repository_providers && (details || !name.name.starts_with('.'))
    };
    dump_packages(
        db,
        &sorted,
        &non_repo,
        false,
        "NOTE: Consider running apk upgrade with --prune and/or --available.\n\
         The following packages are no longer available from a repository",
        out,
    );
    let mut r = dump_packages(
        db,
        &sorted,
        &|c| c.new_pkg.is_none(),
        details,
        "The following packages will be REMOVED",
        out,
    );
    let is_downgrade = |c: &RawChange| match (c.old_pkg, c.new_pkg) {
        (Some(o), Some(n)) => db.version_cmp_pkgs(n, o) == std::cmp::Ordering::Less,
        _ => false,
    };
    r += dump_packages(
        db,
        &sorted,
        &is_downgrade,
        details,
        "The following packages will be DOWNGRADED",
        out,
    );
    if r != 0 || out.verbosity > 2 {
        dump_packages(
            db,
            &sorted,
            &|c| c.old_pkg.is_none(),
            details,
            "The following NEW packages will be installed",
            out,
        );
        let is_upgrade = |c: &RawChange| match (c.old_pkg, c.new_pkg) {
            (Some(o), Some(n)) => o != n && db.version_cmp_pkgs(n, o) != std::cmp::Ordering::Less,
            _ => false,
        };
        dump_packages(
            db,
            &sorted,
            &is_upgrade,
            details,
            "The following packages will be upgraded",
            out,
        );
        dump_packages(
            db,
            &sorted,
            &|c| c.reinstall,
            details,
            "The following packages will be reinstalled",
            out,
        );
        if download_size != 0 {
            out.msg(&format!(
                "Need to download {} of packages.",
                human_size(download_size)
            ));
        }
        out.msg(&format!(
            "After this operation, {} of {}.",
            human_size(size_diff.unsigned_abs()),
            if size_diff < 0 {
                "disk space will be freed"
            } else {
                "additional disk space will be used"
            }
        ));
    }
}

/// `apk_solver_commit_changeset` in `--simulate` mode. `None` when the world names a tag that
/// selects no repository.
pub(crate) fn commit_changeset(
    db: &mut Model,
    cs: &Changeset,
    world: &[Dep],
    out: &mut Out,
) -> Option<Committed> {
    if check_world(db, world, out) != 0 {
        out.err("Not committing changes due to missing repository tags.");
        return None;
    }
    let Totals {
        total_changes,
        size_diff,
        pkg_diff,
        download_size,
    } = totals(db, cs);
    let digits = calc_precision(total_changes);

    if out.verbosity > 1 {
        print_summary(db, cs, download_size, size_diff, out);
    }

    let mut errors = 0;
    let mut done = 0;
    let mut printed = Vec::new();
    for c in &cs.changes {
        // In a simulation nothing is installed, so a package with broken files or scripts
        // stays an error.
        let broken = c.old_pkg.is_some_and(|o| {
            db.pkgs[o]
                .ipkg
                .as_ref()
                .is_some_and(|i| i.broken_files || i.broken_script)
        });
        if let Some(verb) = change_verb(db, c) {
            let text = change_text(db, c, verb);
            out.msg(&format!(
                "({done:>digits$}/{total_changes}) {text}",
                done = done + 1
            ));
            printed.push((*c, text));
        }
        errors += usize::from(broken);
        if c.new_pkg != c.old_pkg || c.reinstall || c.new_tag != c.old_tag {
            done += 1;
        }
    }

    if !db.performing_preupgrade {
        let msg = match errors {
            0 => "OK:".to_string(),
            1 => "1 error;".to_string(),
            n => format!("{n} errors;"),
        };
        let bytes = (db.installed_bytes as i64 + size_diff).max(0) as u64;
        let packages = db.installed.len() as i64 + pkg_diff;
        if out.verbosity > 1 {
            out.msg(&format!(
                "{msg} {packages} packages, {} dirs, {} files, {}",
                db.installed_dirs,
                db.installed_files,
                human_size(bytes)
            ));
        } else {
            out.msg(&format!(
                "{msg} {} in {packages} packages",
                human_size(bytes)
            ));
        }
    }
    Some(Committed { printed })
}

const STATE_PRESENT: u32 = 0x8000_0000;
const STATE_MISSING: u32 = 0x4000_0000;
const STATE_VIRTUAL_ONLY: u32 = 0x2000_0000;
const STATE_INSTALLIF: u32 = 0x1000_0000;
const STATE_COUNT_MASK: u32 = 0x0000_ffff;

struct PrintState<'w> {
    world: &'w [Dep],
    i: Indent,
    label: Option<String>,
    num_labels: usize,
    text: String,
}

impl PrintState<'_> {
    fn label_start(&mut self, text: &str) {
        if let Some(l) = self.label.take() {
            self.i.line(&mut self.text, &format!("  {l}:\n"));
            self.num_labels += 1;
        }
        if self.i.x == 0 {
            self.i.group(&mut self.text, 0, &format!("    {text}"));
        }
    }

    fn label_end(&mut self) {
        self.i.end(&mut self.text);
    }

    fn item(&mut self, s: &str) {
        self.i.item(&mut self.text, s);
    }
}

fn print_pinning_errors(ps: &mut PrintState, db: &Model, pkg: PkgId, tag: usize) {
    let p = &db.pkgs[pkg];
    if p.ipkg.is_some() {
        return;
    }
    if !db.pkg_available(pkg) && !p.cached {
        ps.label_start("masked in:");
        ps.item("--no-network");
    } else if (1u32 << p.layer) & db.active_layers == 0 {
        ps.label_start("masked in:");
        ps.item("layer");
    } else if p.repos == 0 && p.cached {
        ps.label_start("masked in:");
        ps.item("cache");
    } else {
        let mask = 1u16 | (1u16 << tag);
        if p.repos & db.pinning_mask_repos(mask) != 0 {
            return;
        }
        for t in &db.tags {
            if p.repos & t.allowed_repos != 0 {
                ps.label_start("masked in:");
                ps.item(&t.tag);
            }
        }
    }
    ps.label_end();
}

fn print_conflicts(ps: &mut PrintState, db: &Model, pkg: PkgId) {
    let name = db.pkgs[pkg].name;
    for p in &db.names[name].providers {
        if p.pkg == pkg || !db.pkgs[p.pkg].marked {
            continue;
        }
        ps.label_start("conflicts:");
        ps.item(&db.pkg_fmt(p.pkg));
    }
    for d in &db.pkgs[pkg].provides {
        let mut once = true;
        for p in &db.names[d.name].providers {
            if !db.pkgs[p.pkg].marked {
                continue;
            }
            if d.version == NULL_ATOM && p.version == NULL_ATOM {
                continue;
            }
            if once && p.pkg == pkg && p.version == d.version {
                once = false;
                continue;
            }
            ps.label_start("conflicts:");
            ps.item(&format!("{}[{}]", db.pkg_fmt(p.pkg), db.dep_fmt(d)));
        }
    }
    ps.label_end();
}

type Matched = Vec<(Option<PkgId>, Dep)>;

fn print_mdeps(ps: &mut PrintState, db: &Model, label: &str, deps: &mut Matched) {
    if deps.is_empty() {
        return;
    }
    ps.label_start(label);
    deps.sort_by(|a, b| {
        if let (Some(pa), Some(pb)) = (a.0, b.0) {
            let r = db.pkg_cmp_display(pa, pb);
            if r != std::cmp::Ordering::Equal {
                return r;
            }
        }
        a.1.op.cmp(&b.1.op)
    });
    for (pkg, dep) in deps.iter() {
        let s = match pkg {
            None => format!("world[{}{}]", db.dep_fmt(dep), db.tags[dep.tag].tag),
            Some(p) => format!("{}[{}]", db.pkg_fmt(*p), db.dep_fmt(dep)),
        };
        ps.item(&s);
    }
    deps.clear();
}

fn print_deps(ps: &mut PrintState, db: &mut Model, pkg: PkgId, mtch: u32) {
    let label = if mtch & DEP_SATISFIES != 0 {
        "satisfies:"
    } else {
        "breaks:"
    };
    let mtch = mtch | FOREACH_MARKED | FOREACH_DEP;
    let mut deps: Matched = Vec::new();
    let genid = db.next_genid();
    let world = ps.world;
    db.foreach_matching_world(world, mtch | genid, pkg, &mut deps, |_, deps, p0, d0, _| {
        deps.push((p0, d0))
    });
    print_mdeps(ps, db, label, &mut deps);
    let genid = db.next_genid();
    db.foreach_reverse_dependency(pkg, mtch | genid, &mut deps, |_, deps, p0, d0, _| {
        deps.push((Some(p0), d0))
    });
    print_mdeps(ps, db, label, &mut deps);
    ps.label_end();
}

fn print_broken_deps(ps: &mut PrintState, db: &Model, deps: &[Dep], label: &str) {
    for d in deps {
        if !d.broken {
            continue;
        }
        ps.label_start(label);
        ps.item(&db.dep_fmt(d));
    }
    ps.label_end();
}

fn analyze_package(ps: &mut PrintState, db: &mut Model, pkg: PkgId, tag: usize) {
    ps.label = Some(db.pkg_fmt(pkg));
    if db.pkgs[pkg].uninstallable {
        ps.label_start("error:");
        ps.item("uninstallable");
        ps.label_end();
        if !db.arch_compatible(&db.pkgs[pkg].arch) {
            ps.label_start("arch:");
            let arch = db.pkgs[pkg].arch.clone();
            ps.item(&arch);
            ps.label_end();
        }
        let p = &db.pkgs[pkg];
        print_broken_deps(ps, db, &p.depends, "depends:");
        print_broken_deps(ps, db, &p.provides, "provides:");
        print_broken_deps(ps, db, &p.install_if, "install_if:");
    }
    print_pinning_errors(ps, db, pkg, tag);
    print_conflicts(ps, db, pkg);
    print_deps(ps, db, pkg, DEP_CONFLICTS);
    if ps.label.is_none() {
        print_deps(ps, db, pkg, DEP_SATISFIES);
    }
}

fn analyze_missing_name(ps: &mut PrintState, db: &mut Model, name: NameId) {
    if !db.names[name].providers.is_empty() {
        ps.label = Some(format!("{} (virtual)", db.names[name].name));
        ps.label_start("note:");
        let mut text = std::mem::take(&mut ps.text);
        ps.i.words(
            &mut text,
            "please select one of the 'provided by' packages explicitly",
        );
        ps.text = text;
        ps.label_end();

        ps.label_start("provided by:");
        let providers = db.names[name].providers.clone();
        for p0 in &providers {
            let n0 = db.pkgs[p0.pkg].name;
            db.names[n0].state_int = db.names[n0].state_int.wrapping_add(1);
        }
        for p0 in &providers {
            let n0 = db.pkgs[p0.pkg].name;
            let refs = (db.names[n0].state_int & STATE_COUNT_MASK) as usize;
            if refs == db.names[n0].providers.len() {
                let s = db.names[n0].name.clone();
                ps.item(&s);
                db.names[n0].state_int &= !STATE_COUNT_MASK;
            } else if refs > 0 {
                ps.item(&db.pkg_fmt(p0.pkg));
                db.names[n0].state_int -= 1;
            }
        }
        ps.label_end();
    } else {
        ps.label = Some(format!("{} (no such package)", db.names[name].name));
    }

    ps.label_start("required by:");
    for d0 in ps.world {
        if d0.name != name || d0.conflict() {
            continue;
        }
        let s = format!("world[{}{}]", db.dep_fmt(d0), db.tags[d0.tag].tag);
        ps.i.item(&mut ps.text, &s);
    }
    let genid = db.next_genid();
    for ni in 0..db.names[name].rdepends.len() {
        let name0 = db.names[name].rdepends[ni];
        'providers: for pi in 0..db.names[name0].providers.len() {
            let p0 = db.names[name0].providers[pi].pkg;
            if !db.pkgs[p0].marked || db.pkgs[p0].foreach_genid == genid {
                continue;
            }
            db.pkgs[p0].foreach_genid = genid;
            for d0 in &db.pkgs[p0].depends {
                if d0.name != name || d0.conflict() {
                    continue;
                }
                let s = format!("{}[{}]", db.pkg_fmt(p0), db.dep_fmt(d0));
                ps.item(&s);
                break 'providers;
            }
        }
    }
    ps.label_end();
}

fn analyze_deps(ps: &mut PrintState, db: &mut Model, deps: &[Dep]) {
    for d0 in deps {
        if d0.conflict() {
            continue;
        }
        if db.names[d0.name].state_int & (STATE_INSTALLIF | STATE_PRESENT | STATE_MISSING) != 0 {
            continue;
        }
        db.names[d0.name].state_int |= STATE_MISSING;
        analyze_missing_name(ps, db, d0.name);
    }
}

fn discover_reverse_iif(db: &mut Model, name: NameId) {
    for ni in 0..db.names[name].rinstall_if.len() {
        let name0 = db.names[name].rinstall_if[ni];
        for pi in 0..db.names[name0].providers.len() {
            let p = db.names[name0].providers[pi].pkg;
            if !db.pkgs[p].marked || db.pkgs[p].install_if.is_empty() {
                continue;
            }
            let ok = db.pkgs[p].install_if.iter().all(|d| {
                d.conflict()
                    != (db.names[d.name].state_int & (STATE_PRESENT | STATE_INSTALLIF) != 0)
            });
            if ok {
                let pname = db.pkgs[p].name;
                discover_name(db, pname, STATE_INSTALLIF);
                for di in 0..db.pkgs[p].provides.len() {
                    let n = db.pkgs[p].provides[di].name;
                    discover_name(db, n, STATE_INSTALLIF);
                }
            }
        }
    }
}

fn is_name_concrete(db: &Model, pkg: PkgId, name: NameId) -> bool {
    db.pkgs[pkg].name == name
        || db.pkgs[pkg]
            .provides
            .iter()
            .any(|d| d.name == name && d.version != NULL_ATOM)
}

fn discover_name(db: &mut Model, name: NameId, pkg_state: u32) {
    for pi in 0..db.names[name].providers.len() {
        let p = db.names[name].providers[pi].pkg;
        let mut state = pkg_state;
        if !db.pkgs[p].marked {
            continue;
        }
        if (state == STATE_PRESENT || state == STATE_INSTALLIF)
            && db.pkgs[p].provider_priority == 0
            && !is_name_concrete(db, p, name)
        {
            state = STATE_VIRTUAL_ONLY;
        }
        if db.pkgs[p].state_int & state != 0 {
            continue;
        }
        db.pkgs[p].state_int |= state;
        let pname = db.pkgs[p].name;
        db.names[pname].state_int |= state;
        for di in 0..db.pkgs[p].provides.len() {
            let d = db.pkgs[p].provides[di];
            let dep_state = if state == STATE_INSTALLIF && d.version == NULL_ATOM {
                STATE_VIRTUAL_ONLY
            } else {
                state
            };
            db.names[d.name].state_int |= dep_state;
        }
        let depends = db.pkgs[p].depends.clone();
        discover_deps(db, &depends);
        if state == STATE_PRESENT || state == STATE_INSTALLIF {
            discover_reverse_iif(db, pname);
            for di in 0..db.pkgs[p].provides.len() {
                let n = db.pkgs[p].provides[di].name;
                discover_reverse_iif(db, n);
            }
        }
    }
}

fn discover_deps(db: &mut Model, deps: &[Dep]) {
    for d in deps {
        if d.conflict() {
            continue;
        }
        discover_name(db, d.name, STATE_PRESENT);
    }
}

/// `apk_solver_print_errors`: the lines after `ERROR: unable to select packages:`.
pub(crate) fn print_errors(db: &mut Model, cs: &Changeset, world: &[Dep]) -> String {
    for c in &cs.changes {
        if let Some(p) = c.new_pkg {
            db.pkgs[p].marked = true;
        }
    }
    discover_deps(db, world);
    let mut ps = PrintState {
        world,
        i: Indent::default(),
        label: None,
        num_labels: 0,
        text: String::new(),
    };
    analyze_deps(&mut ps, db, world);
    for c in &cs.changes {
        let Some(pkg) = c.new_pkg else { continue };
        analyze_package(&mut ps, db, pkg, c.new_tag);
        let depends = db.pkgs[pkg].depends.clone();
        analyze_deps(&mut ps, db, &depends);
    }
    if ps.num_labels == 0 {
        ps.i.line(
            &mut ps.text,
            "Huh? Error reporter did not find the broken constraints.\n",
        );
    }
    ps.text
}
