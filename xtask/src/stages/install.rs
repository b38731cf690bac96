//! Packages from local repositories installed into a root with the apk library: a
//! build's sysroot, and a root filesystem. What `apk add --initdb` does: open the
//! repositories with the trusted keys, solve, install, write the world and the
//! repositories file. (Maintainer scripts are recorded, not run; the rootfs stage runs
//! them inside the root.)

use std::path::{Path, PathBuf};

use alpinist_apk::index::Repository;
use alpinist_apk::install::{self, Transaction, Trust};
use alpinist_apk::sign::Keyring;
use alpinist_apk::solver::{self, Action, Solver};
use anyhow::{bail, Context as _, Result};

/// Where to install from and what.
pub struct Install<'a> {
    /// A new root (its database is created).
    pub root: &'a Path,
    pub arch: &'a str,
    /// Directories holding `<arch>/APKINDEX.tar.gz`.
    pub repositories: &'a [PathBuf],
    /// The trusted public keys; also copied into the root's `/etc/apk/keys`.
    pub keys_dir: &'a Path,
    /// Names or dependencies for the world.
    pub deps: &'a [String],
}

/// Installs `o.deps` and what they need into the new root `o.root`. Returns what apk
/// prints: `(1/2) Installing b (2)` lines and the `OK:` line.
pub fn install(o: &Install<'_>) -> Result<String> {
    let root = o.root;
    std::fs::create_dir_all(root).with_context(|| root.display().to_string())?;
    let mut keys = Keyring::new();
    if o.keys_dir.is_dir() {
        keys.load_dir(o.keys_dir)?;
    }
    let mut repos = Vec::new();
    for r in o.repositories {
        let abs = std::path::absolute(r).with_context(|| r.display().to_string())?;
        let repo =
            Repository::open(&abs, o.arch, &keys).with_context(|| abs.display().to_string())?;
        repos.push(repo);
    }
    let db = install::read_database(root)?;
    let world = install::read_world(root)?;
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
    let plan = match solver.add_args(&args, &solver::AddOptions::default()) {
        Ok(plan) => plan,
        Err(e) => bail!("{}", e.output().trim_end()),
    };
    let mut tx = Transaction::new(root, db)?;
    tx.init_root(o.arch);
    tx.install_keys(o.keys_dir)?;
    for change in &plan.changes {
        if change.action == Action::Remove {
            tx.remove(&change.name)?;
            continue;
        }
        let Some(new) = &change.new else { continue };
        let repo = change
            .repository
            .and_then(|i| repos.get(i))
            .with_context(|| format!("{}: not available from any repository", change.name))?;
        // Only trusted indexes open: a package is trusted through its record (C:, P:, V:).
        tx.add_file(&repo.package_path(new), Trust::Index(new))?;
    }
    tx.set_world(&plan.world);
    let repo_lines: Vec<String> = repos.iter().map(|r| r.path.display().to_string()).collect();
    tx.set_repositories(&repo_lines);
    tx.commit()?;
    Ok(plan.output().to_string())
}
