//! `apk add` as one call: open local repositories, v2 (`APKINDEX.tar.gz`) or v3
//! (`Packages.adb`), trusted indexes only unless `allow_untrusted`; resolve with the
//! [`Solver`], then install in one [`Transaction`] with the database, world, repositories
//! (and keys, the `--initdb` layout). Shared by the `apk` front ends (`crates/apk-cli`) and
//! by alpinist's stages, which install sysroots and root filesystems with it.
//!
//! A repository is named as apk-tools' `--repository` names one, or by its directory:
//! - a path ending in `.adb` is a v3 index (apk-tools reads no v2 index there), one ending
//!   in `.tar.gz` an index of either kind, told apart by its first bytes; its packages are
//!   beside it, at the index's `pkgname-spec` or `${name}-${version}.apk` (apk-tools'
//!   `ndx` repositories);
//! - a directory holds `<arch>/APKINDEX.tar.gz` (read first, as apk-tools reads a
//!   repository line without a type) or `<arch>/Packages.adb`, or the index itself; a
//!   `Packages.adb` found there is used as if its path had been given. The root's
//!   `etc/apk/repositories` gets the directory for a v2 index and the index's path for a
//!   v3 one, so that apk-tools 3 reads the same index from it.

use std::path::{Path, PathBuf};

use crate::adb::repo::{RepositoryV3, NDX_PKGNAME_SPEC};
use crate::adb::AdbError;
use crate::db::PackageInfo;
use crate::index::{IndexError, Repository};
use crate::install::{self, InstallError, Transaction, Trust};
use crate::package::shown;
use crate::sign::{Keyring, SignError};
use crate::solver::{self, Action, Solver, SolverError};

/// What to install, where, from where.
#[derive(Debug, Clone, Copy)]
pub struct AddOptions<'a> {
    /// The root directory (created when missing; removed again if that add fails).
    pub root: &'a Path,
    /// The root's arch: selects `<repository>/<arch>/APKINDEX.tar.gz` (or
    /// `Packages.adb`).
    pub arch: &'a str,
    /// Create the database in a new root (`--initdb`); without it the root must have one.
    pub initdb: bool,
    /// Repositories: directories (holding `<arch>/APKINDEX.tar.gz` or
    /// `<arch>/Packages.adb`) or index files (see the module documentation).
    pub repositories: &'a [PathBuf],
    /// Trusted public keys, also copied into the root's `etc/apk/keys`; without it, the
    /// root's own keys are trusted.
    pub keys_dir: Option<&'a Path>,
    /// Only resolve: return what would be done and change nothing.
    pub simulate: bool,
    /// Use indexes that are not signed by a trusted key, and install their packages without
    /// checking trust (`--allow-untrusted`). Integrity is still checked, and every package
    /// must still match its index record.
    pub allow_untrusted: bool,
    /// Names or dependencies to add to the world (`name`, `name=ver`, `so:…`).
    pub deps: &'a [String],
}

/// Why an add was refused or failed: one line, naming the file, package or path.
#[derive(Debug, thiserror::Error)]
pub enum AddError {
    #[error("{}: no installed database (use --initdb for a new root)", shown(root))]
    NoDatabase { root: String },
    #[error("{}: {error}", shown(path))]
    Io { path: String, error: std::io::Error },
    #[error("{error}")]
    Keys { error: SignError },
    #[error("{error}")]
    Index { error: IndexError },
    #[error("{error}")]
    IndexV3 { error: AdbError },
    #[error("{}", error.output().trim_end())]
    Solve { error: SolverError },
    #[error("{}: not available from any repository", shown(name))]
    Unavailable { name: String },
    #[error("{error}")]
    Install { error: InstallError },
}

impl From<InstallError> for AddError {
    fn from(error: InstallError) -> Self {
        AddError::Install { error }
    }
}

impl From<IndexError> for AddError {
    fn from(error: IndexError) -> Self {
        AddError::Index { error }
    }
}

impl From<AdbError> for AddError {
    fn from(error: AdbError) -> Self {
        AddError::IndexV3 { error }
    }
}

impl From<SignError> for AddError {
    fn from(error: SignError) -> Self {
        AddError::Keys { error }
    }
}

/// Loads every public key in `dir` (none when it does not exist).
pub fn load_keys(dir: &Path) -> Result<Keyring, SignError> {
    let mut keys = Keyring::new();
    if dir.is_dir() {
        keys.load_dir(dir)?;
    }
    Ok(keys)
}

/// Resolves `o.deps` as `apk add` does, then installs (with `simulate`, only plans).
/// Returns what apk prints: `(1/2) Installing b (2)` lines and the `OK:` line. Either
/// everything is installed and the database, world, repositories (and keys, the `--initdb`
/// layout) are written, or the root is left as it was.
pub fn add(o: &AddOptions<'_>) -> Result<String, AddError> {
    let root = o.root;
    let created = !o.simulate && !root.exists();
    if !o.simulate {
        std::fs::create_dir_all(root).map_err(|error| AddError::Io {
            path: root.display().to_string(),
            error,
        })?;
    }
    let r = add_in(o);
    if r.is_err() && created {
        // Leave no trace of a root this call made (`remove_dir` only removes it empty).
        let _ = std::fs::remove_dir(root);
    }
    r
}

fn add_in(o: &AddOptions<'_>) -> Result<String, AddError> {
    let root = o.root;
    if !o.simulate && !o.initdb && !install::has_database(root) {
        return Err(AddError::NoDatabase {
            root: root.display().to_string(),
        });
    }
    let keys = match o.keys_dir {
        Some(dir) => load_keys(dir)?,
        None if root.is_dir() => install::load_root_keys(root)?,
        None => Keyring::new(),
    };
    let repos = open_repositories(o, &keys)?;
    let (db, world) = if root.is_dir() {
        (install::read_database(root)?, install::read_world(root)?)
    } else {
        Default::default()
    };
    let solver_repos = repos
        .iter()
        .map(|r| solver::Repository::new(r.line(), r.records().to_vec()))
        .collect();
    let opts = solver::Options {
        arches: vec![o.arch.to_string()],
        ..solver::Options::default()
    };
    let solver = Solver::with_options(solver_repos, &db, &world, opts);
    let args: Vec<&str> = o.deps.iter().map(String::as_str).collect();
    let plan = solver
        .add_args(&args, &solver::AddOptions::default())
        .map_err(|error| AddError::Solve { error })?;
    if o.simulate {
        return Ok(plan.output().to_string());
    }

    let mut tx = Transaction::new(root, db)?;
    if o.initdb {
        tx.init_root(o.arch);
    }
    if let Some(dir) = o.keys_dir {
        tx.install_keys(dir)?;
    }
    for change in &plan.changes {
        if change.action == Action::Remove {
            tx.remove(&change.name)?;
            continue;
        }
        let Some(new) = &change.new else { continue };
        let repo = change.repository.and_then(|i| repos.get(i));
        let Some((repo, file)) = repo.and_then(|r| Some((r, r.package_path(new)?))) else {
            return Err(AddError::Unavailable {
                name: change.name.clone(),
            });
        };
        // A package listed in a trusted index is trusted through its record (C:, P:, V:).
        let trust = if repo.trusted() {
            Trust::Index(new)
        } else {
            Trust::Untrusted(Some(new))
        };
        tx.add_file(&file, trust)?;
    }
    tx.set_world(&plan.world);
    let repo_lines: Vec<String> = repos.iter().map(Source::line).collect();
    tx.set_repositories(&repo_lines);
    tx.commit()?;
    Ok(plan.output().to_string())
}

/// A repository `apk add` reads: its index, v2 or v3.
enum Source {
    V2(Repository),
    V3(RepositoryV3),
}

impl Source {
    fn records(&self) -> &[PackageInfo] {
        match self {
            Source::V2(r) => &r.index.packages,
            Source::V3(r) => &r.records,
        }
    }

    fn trusted(&self) -> bool {
        match self {
            Source::V2(r) => r.trusted,
            Source::V3(r) => r.trusted,
        }
    }

    /// The package file of a record of this repository.
    fn package_path(&self, p: &PackageInfo) -> Option<PathBuf> {
        match self {
            Source::V2(r) => Some(r.package_path(p)),
            Source::V3(r) => r.position(p).map(|i| r.package_path(i)),
        }
    }

    /// The line of `etc/apk/repositories` from which apk-tools reads the same index.
    fn line(&self) -> String {
        match self {
            Source::V2(r) => r.path.display().to_string(),
            Source::V3(r) => r.index_file.display().to_string(),
        }
    }
}

/// The repositories of `o`, by absolute path: only trusted indexes, unless
/// `allow_untrusted`.
fn open_repositories(o: &AddOptions<'_>, keys: &Keyring) -> Result<Vec<Source>, AddError> {
    let mut repos = Vec::new();
    for r in o.repositories {
        let abs = std::path::absolute(r).map_err(|error| AddError::Io {
            path: r.display().to_string(),
            error,
        })?;
        repos.push(open_source(&abs, o.arch, keys, o.allow_untrusted)?);
    }
    Ok(repos)
}

/// Opens a repository named as the module documentation says.
fn open_source(
    path: &Path,
    arch: &str,
    keys: &Keyring,
    allow_untrusted: bool,
) -> Result<Source, AddError> {
    let name = path.to_string_lossy();
    let v3_file = |file: &Path| -> Result<Source, AddError> {
        let base = file.parent().unwrap_or(Path::new("/"));
        let r = RepositoryV3::open(file, base, NDX_PKGNAME_SPEC, keys, allow_untrusted)?;
        Ok(Source::V3(r))
    };
    if name.ends_with(".adb") {
        return v3_file(path);
    }
    if name.ends_with(".tar.gz") && path.is_file() {
        let mut magic = [0u8; 3];
        let head = std::fs::File::open(path)
            .and_then(|mut f| std::io::Read::read(&mut f, &mut magic))
            .map_err(|error| AddError::Io {
                path: path.display().to_string(),
                error,
            })?;
        if magic[..head] == *b"ADB" {
            return v3_file(path);
        }
        let r = Repository::open_index_file(path, keys, allow_untrusted)?;
        return Ok(Source::V2(r));
    }
    let (v2, v3) = ("APKINDEX.tar.gz", "Packages.adb");
    let in_arch = path.join(arch);
    if !in_arch.join(v2).is_file() {
        for dir in [in_arch.as_path(), path] {
            if dir.join(v3).is_file() && !(dir == path && path.join(v2).is_file()) {
                return v3_file(&dir.join(v3));
            }
        }
    }
    let r = if allow_untrusted {
        Repository::open_untrusted(path, arch, keys)
    } else {
        Repository::open(path, arch, keys)
    };
    Ok(Source::V2(r?))
}
