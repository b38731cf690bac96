//! Dependency solving as `apk add`, `del`, `upgrade` and `fix` do it, with apk's output.
//!
//! The solver is a port of apk-tools 3's `solver.c` (see `solver/engine.rs`), run over a
//! model of apk's database (`solver/model.rs`) built from repositories, the installed
//! database and the world. Each operation (`solver/applets.rs`) works on a copy of that
//! model, so one [`Solver`] can plan several operations; `solver/report.rs` prints what apk
//! prints.
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

mod applets;
mod engine;
mod model;
mod report;

use std::fmt;

use crate::db::{InstalledDb, PackageInfo};
use crate::dep::Dependency;
use applets::{Outcome, Run};
use engine::RawChange;
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
