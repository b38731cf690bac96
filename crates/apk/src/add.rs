//! `apk add` as one call: open local repositories (trusted indexes only, unless
//! `allow_untrusted`), resolve with the [`Solver`], then install in one [`Transaction`] with
//! the database, world, repositories (and keys, the `--initdb` layout). Shared by the
//! `apk` front ends (`crates/apk-cli`) and by alpinist's stages, which install sysroots and
//! root filesystems with it.

use std::path::{Path, PathBuf};

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
    /// The root's arch: selects `<repository>/<arch>/APKINDEX.tar.gz`.
    pub arch: &'a str,
    /// Create the database in a new root (`--initdb`); without it the root must have one.
    pub initdb: bool,
    /// Repository directories (holding `<arch>/APKINDEX.tar.gz`).
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
        .map(|r| solver::Repository::new(r.path.display().to_string(), r.index.packages.clone()))
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
        let repo = change
            .repository
            .and_then(|i| repos.get(i))
            .ok_or_else(|| AddError::Unavailable {
                name: change.name.clone(),
            })?;
        // A package listed in a trusted index is trusted through its record (C:, P:, V:).
        let trust = if repo.trusted {
            Trust::Index(new)
        } else {
            Trust::Untrusted(Some(new))
        };
        tx.add_file(&repo.package_path(new), trust)?;
    }
    tx.set_world(&plan.world);
    let repo_lines: Vec<String> = repos.iter().map(|r| r.path.display().to_string()).collect();
    tx.set_repositories(&repo_lines);
    tx.commit()?;
    Ok(plan.output().to_string())
}

/// The repositories of `o`, by absolute path: only trusted indexes, unless
/// `allow_untrusted`.
fn open_repositories(o: &AddOptions<'_>, keys: &Keyring) -> Result<Vec<Repository>, AddError> {
    let mut repos = Vec::new();
    for r in o.repositories {
        let abs = std::path::absolute(r).map_err(|error| AddError::Io {
            path: r.display().to_string(),
            error,
        })?;
        let repo = if o.allow_untrusted {
            Repository::open_untrusted(&abs, o.arch, keys)
        } else {
            Repository::open(&abs, o.arch, keys)
        };
        repos.push(repo?);
    }
    Ok(repos)
}
