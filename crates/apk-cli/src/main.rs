//! `apk` for a target root: the package manager of alpinist's fixture root filesystem.
//!
//! A small subset of apk-tools' command line over the `alpinist-apk` library:
//! `apk --version`, `apk info [-v]`, `apk verify FILE…`, `apk add [--root DIR]
//! [--simulate] DEP…`. Repositories, keys and the arch come from the root's
//! `/etc/apk/{repositories,keys,arch}` as apk-tools reads them; only local repository
//! directories are supported.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _, Result};

use alpinist_apk::db::ScriptKind;
use alpinist_apk::install;
use alpinist_apk::package::Package;
use alpinist_apk_cli::{add, info_text, load_keys, verify_files, AddOptions};

const USAGE: &str = "usage: apk [--root DIR] COMMAND [ARGS]

commands:
  add [--simulate] DEP...   install packages and their dependencies from the
                            repositories in /etc/apk/repositories
  info [-v]                 list installed packages (-v: with versions)
  info FILE.apk             print a package's metadata and files
  verify FILE.apk...        check signatures and checksums against /etc/apk/keys
  --version                 print the version

This is alpinist's apk (apk v2 packages), not Alpine's apk-tools.";

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ERROR: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Vec<String>) -> Result<()> {
    let mut root = PathBuf::from("/");
    let mut rest = Vec::new();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--root" | "-p" => root = PathBuf::from(it.next().context("--root needs a directory")?),
            "--version" | "-V" => {
                println!(
                    "alpinist-apk {} (apk v2 packages)",
                    env!("CARGO_PKG_VERSION")
                );
                return Ok(());
            }
            "--help" | "-h" => {
                println!("{USAGE}");
                return Ok(());
            }
            _ => rest.push(a),
        }
    }
    let Some((cmd, args)) = rest.split_first() else {
        bail!("no command\n{USAGE}");
    };
    let etc = |f: &str| root.join("etc/apk").join(f);
    match cmd.as_str() {
        "info" => {
            if let Some(f) = args.iter().find(|a| !a.starts_with('-')) {
                let pkg = Package::read(Path::new(f)).with_context(|| f.clone())?;
                print!("{}", info_text(&pkg));
                return Ok(());
            }
            let verbose = args.iter().any(|a| a == "-v");
            for p in install::read_database(&root)?.packages {
                if verbose {
                    println!("{}-{}", p.info.name, p.info.version);
                } else {
                    println!("{}", p.info.name);
                }
            }
            Ok(())
        }
        "verify" => {
            let files: Vec<PathBuf> = args.iter().map(PathBuf::from).collect();
            if files.is_empty() {
                bail!("verify: no package given");
            }
            let (report, bad) = verify_files(&files, &load_keys(&etc("keys"))?);
            print!("{report}");
            if bad > 0 {
                bail!("{bad} of {} packages failed verification", files.len());
            }
            Ok(())
        }
        "add" => {
            let simulate = args.iter().any(|a| a == "--simulate" || a == "-s");
            let deps: Vec<String> = args
                .iter()
                .filter(|a| !a.starts_with('-'))
                .cloned()
                .collect();
            if deps.is_empty() {
                bail!("add: no package given");
            }
            let arch = std::fs::read_to_string(etc("arch"))
                .with_context(|| format!("{}: the root's arch", etc("arch").display()))?;
            let repositories = read_repositories(&etc("repositories"))?;
            let before = installed(&root)?;
            let out = add(&AddOptions {
                root: &root,
                arch: arch.trim(),
                initdb: false,
                repositories: &repositories,
                keys_dir: None,
                simulate,
                deps: &deps,
            })?;
            print!("{out}");
            if !simulate && root == Path::new("/") {
                run_new_scripts(&root, &before)?;
            }
            Ok(())
        }
        other => bail!("unknown command {other:?}\n{USAGE}"),
    }
}

fn installed(root: &Path) -> Result<Vec<String>> {
    Ok(install::read_database(root)?
        .packages
        .into_iter()
        .map(|p| p.info.name)
        .collect())
}

/// Local repository directories from `/etc/apk/repositories` (comments and tags aside).
fn read_repositories(path: &Path) -> Result<Vec<PathBuf>> {
    let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let repo = line.rsplit(' ').next().unwrap_or(line);
        if repo.contains("://") {
            bail!(
                "{}:{}: {repo}: only local repository directories are supported by this apk",
                path.display(),
                n + 1
            );
        }
        out.push(PathBuf::from(repo));
    }
    Ok(out)
}

/// Runs the post-install scripts of the packages that were not installed before, as apk
/// does (script path, then the new version), with /bin/sh of the root.
fn run_new_scripts(root: &Path, before: &[String]) -> Result<()> {
    let db = install::read_database(root)?;
    let dir = root.join("tmp");
    for p in db
        .packages
        .iter()
        .filter(|p| !before.contains(&p.info.name))
    {
        for s in p
            .scripts
            .iter()
            .filter(|s| s.kind == ScriptKind::PostInstall)
        {
            let file = dir.join(format!("{}.post-install", p.info.name));
            std::fs::write(&file, &s.body)?;
            let st = std::process::Command::new("/bin/sh")
                .arg(&file)
                .arg(&p.info.version)
                .status()
                .with_context(|| format!("{}: running its post-install script", p.info.name))?;
            let _ = std::fs::remove_file(&file);
            if !st.success() {
                eprintln!(
                    "ERROR: {}: post-install script exited with {st}",
                    p.info.name
                );
            }
        }
    }
    Ok(())
}
