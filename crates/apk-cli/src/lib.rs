//! The operations of alpinist's `apk` front ends: `cargo xtask apk …` on the build
//! machine and the `apk` binary this crate builds for target roots (the fixture root
//! filesystem's package manager, where Alpine's apk-tools source is not obtainable).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};

use alpinist_apk::index::Repository;
use alpinist_apk::install::{self, Transaction, Trust};
use alpinist_apk::package::Package;
use alpinist_apk::sign::Keyring;
use alpinist_apk::solver::{self, Action, Solver};
use alpinist_apk::tarball::EntryType;

/// Loads every public key in `dir` (none when it does not exist).
pub fn load_keys(dir: &Path) -> Result<Keyring> {
    let mut keys = Keyring::new();
    if dir.is_dir() {
        keys.load_dir(dir)?;
    }
    Ok(keys)
}

/// One line per file (`FILE: OK (RSA, key)` or `FILE: error`), and how many failed.
pub fn verify_files(files: &[PathBuf], keys: &Keyring) -> (String, usize) {
    let mut out = String::new();
    let mut bad = 0;
    for f in files {
        let res = std::fs::read(f)
            .map_err(|e| e.to_string())
            .and_then(|b| alpinist_apk::package::verify(&b, keys).map_err(|e| e.to_string()));
        match res {
            Ok((_, alg, key)) => out.push_str(&format!("{}: OK ({alg}, {key})\n", f.display())),
            Err(e) => {
                bad += 1;
                out.push_str(&format!("{}: {e}\n", f.display()));
            }
        }
    }
    (out, bad)
}

/// `.PKGINFO` fields, identity, signatures and the file list.
pub fn info_text(pkg: &Package) -> String {
    let mut out = String::new();
    for line in pkg.pkginfo.to_text().lines() {
        if !line.starts_with('#') {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.push_str(&format!("C:{}\n", pkg.identity()));
    for s in &pkg.signatures {
        out.push_str(&format!("signature: {}\n", s.name));
    }
    for (kind, body) in &pkg.scripts {
        out.push_str(&format!(
            "script: .{} ({} bytes)\n",
            kind.as_str(),
            body.len()
        ));
    }
    out.push_str("files:\n");
    for e in &pkg.entries {
        let h = &e.header;
        let t = match h.entry_type {
            EntryType::Directory => 'd',
            EntryType::Symlink => 'l',
            EntryType::Hardlink => 'h',
            EntryType::Regular => '-',
            _ => '?',
        };
        let mut line = format!(
            "{t} {:04o} {}/{} {:>9} {}",
            h.mode, h.uname, h.gname, h.size, h.path
        );
        if t == 'd' {
            line.push('/');
        }
        if !h.link_name.is_empty() {
            line.push_str(if t == 'l' { " -> " } else { " link to " });
            line.push_str(&h.link_name);
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// Options of `apk add`.
pub struct AddOptions<'a> {
    pub root: &'a Path,
    pub arch: &'a str,
    pub initdb: bool,
    pub repositories: &'a [PathBuf],
    pub keys_dir: Option<&'a Path>,
    pub simulate: bool,
    pub deps: &'a [String],
}

/// Resolves with [`Solver`] as `apk add` does, then installs (or with `simulate` only
/// plans). Returns what apk prints: `(1/2) Installing b (2)` lines and the `OK:` line.
pub fn add(o: &AddOptions<'_>) -> Result<String> {
    let root = o.root;
    if !o.simulate {
        std::fs::create_dir_all(root).with_context(|| root.display().to_string())?;
        if o.initdb {
            install::init_root(root, o.arch)?;
        } else if !root.join(install::INSTALLED).is_file() {
            bail!(
                "{}: no installed database (use --initdb for a new root)",
                root.display()
            );
        }
    }
    let keys_dir = o
        .keys_dir
        .map(Path::to_path_buf)
        .unwrap_or_else(|| root.join(install::KEYS));
    let keys = load_keys(&keys_dir)?;
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
    if o.simulate {
        return Ok(plan.output().to_string());
    }

    if let Some(dir) = o.keys_dir {
        install::install_keys(root, dir)?;
    }
    let mut tx = Transaction::new(root, db);
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
        let path = repo.package_path(new);
        let bytes = std::fs::read(&path).with_context(|| path.display().to_string())?;
        // A package listed in a trusted index is trusted through its C: identity.
        let trust = if repo.trusted {
            Trust::Identity(&new.checksum)
        } else {
            Trust::Keys(&keys)
        };
        tx.add(bytes, trust)
            .with_context(|| path.display().to_string())?;
    }
    tx.commit()?;
    install::write_world(root, &plan.world)?;
    let repo_lines: Vec<String> = repos.iter().map(|r| r.path.display().to_string()).collect();
    install::write_repositories(root, &repo_lines)?;
    Ok(plan.output().to_string())
}
