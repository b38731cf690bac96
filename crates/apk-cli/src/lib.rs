//! The operations of alpinist's `apk` front ends: `cargo xtask apk …` on the build
//! machine and the `apk` binary this crate builds for target roots (the fixture root
//! filesystem's package manager, where Alpine's apk-tools source is not obtainable).
//!
//! Errors are one line each: the package (name, version and file), the path, and what is
//! wrong.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};

use alpinist_apk::index::Repository;
use alpinist_apk::install::{self, Transaction, Trust};
use alpinist_apk::package::{shown, Package};
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
        let res = Package::read(f)
            .and_then(|pkg| pkg.verify_signature(keys))
            .map_err(|e| e.to_string());
        match res {
            Ok((alg, key)) => out.push_str(&format!("{}: OK ({alg}, {key})\n", f.display())),
            Err(e) => {
                bad += 1;
                out.push_str(&format!("{}: {e}\n", f.display()));
            }
        }
    }
    (out, bad)
}

/// `.PKGINFO` fields, identity, signatures and the file list (control characters shown
/// escaped).
pub fn info_text(pkg: &Package) -> String {
    let mut out = String::new();
    for line in pkg.pkginfo.to_text().lines() {
        if !line.starts_with('#') {
            out.push_str(&format!("{}\n", shown(line)));
        }
    }
    out.push_str(&format!("C:{}\n", pkg.identity()));
    for s in &pkg.signatures {
        out.push_str(&format!("signature: {}\n", shown(&s.name)));
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
        out.push_str(&file_line(&e.header));
        out.push('\n');
    }
    out
}

fn file_line(h: &alpinist_apk::tarball::Header) -> String {
    let t = match h.entry_type {
        EntryType::Directory => 'd',
        EntryType::Symlink => 'l',
        EntryType::Hardlink => 'h',
        EntryType::Regular => '-',
        _ => '?',
    };
    let mut line = format!(
        "{t} {:04o} {}/{} {:>9} {}",
        h.mode,
        shown(&h.uname),
        shown(&h.gname),
        h.size,
        shown(&h.path)
    );
    if t == 'd' {
        line.push('/');
    }
    if !h.link_name.is_empty() {
        line.push_str(if t == 'l' { " -> " } else { " link to " });
        line.push_str(&shown(&h.link_name).to_string());
    }
    line
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

/// Options of `apk add` beyond [`AddOptions`].
#[derive(Debug, Clone, Copy, Default)]
pub struct AddFlags {
    /// Use indexes that are not signed by a trusted key, and install packages without
    /// checking their trust (`--allow-untrusted`). Integrity is still checked.
    pub allow_untrusted: bool,
}

/// Resolves with [`Solver`] as `apk add` does, then installs (or with `simulate` only
/// plans). Returns what apk prints: `(1/2) Installing b (2)` lines and the `OK:` line.
pub fn add(o: &AddOptions<'_>) -> Result<String> {
    add_with(o, AddFlags::default())
}

/// [`add`] with [`AddFlags`]. Either everything is installed and the database, world,
/// repositories (and keys, `--initdb` layout) are written, or the root is left as it was.
pub fn add_with(o: &AddOptions<'_>, flags: AddFlags) -> Result<String> {
    let root = o.root;
    let created = !o.simulate && !root.exists();
    if !o.simulate {
        std::fs::create_dir_all(root).with_context(|| root.display().to_string())?;
    }
    let r = add_in(o, flags);
    if r.is_err() && created {
        // Leave no trace of a root this call made (`remove_dir` only removes it empty).
        let _ = std::fs::remove_dir(root);
    }
    r
}

fn add_in(o: &AddOptions<'_>, flags: AddFlags) -> Result<String> {
    let root = o.root;
    if !o.simulate && !o.initdb && !install::has_database(root) {
        bail!(
            "{}: no installed database (use --initdb for a new root)",
            root.display()
        );
    }
    let keys = match o.keys_dir {
        Some(dir) => load_keys(dir)?,
        None if root.is_dir() => install::load_root_keys(root)?,
        None => Keyring::new(),
    };
    let mut repos = Vec::new();
    for r in o.repositories {
        let abs = std::path::absolute(r).with_context(|| r.display().to_string())?;
        let repo = if flags.allow_untrusted {
            Repository::open_untrusted(&abs, o.arch, &keys)
        } else {
            Repository::open(&abs, o.arch, &keys)
        };
        repos.push(repo?);
    }
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
    let plan = match solver.add_args(&args, &solver::AddOptions::default()) {
        Ok(plan) => plan,
        Err(e) => bail!("{}", e.output().trim_end()),
    };
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
            .with_context(|| {
                format!("{}: not available from any repository", shown(&change.name))
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
