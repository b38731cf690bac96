//! `apk` for a target root: the package manager of alpinist's fixture root filesystem.
//!
//! A small subset of apk-tools' command line over the `alpinist-apk` library:
//! `apk --version`, `apk info [-v]`, `apk info FILE`, `apk verify FILE…`, `apk add
//! [--simulate] DEP…`, `apk index`, with apk-tools' options `--root DIR`, `--repository
//! DIR`, `--keys-dir DIR`, `--allow-untrusted`, `--initdb` and `--arch ARCH`. Repositories,
//! keys and the arch otherwise come from the root's `/etc/apk/{repositories,keys,arch}` as
//! apk-tools reads them; only local repositories are supported, v2 (`APKINDEX.tar.gz`) or
//! v3 (`Packages.adb`, named by its path, or found in the repository directory).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _, Result};

use alpinist_apk::add::AddOptions;
use alpinist_apk::db::ScriptKind;
use alpinist_apk::index::ApkIndex;
use alpinist_apk::install;
use alpinist_apk_cli::{index_v3, info_file, load_keys, verify_files};

const USAGE: &str = "usage: apk [OPTIONS] COMMAND [ARGS]

commands:
  add [--simulate] DEP...   install packages and their dependencies from the
                            repositories in /etc/apk/repositories and --repository
  info [-v]                 list installed packages (-v: with versions)
  info FILE.apk             print a package's metadata and files (v2, v3)
  verify FILE.apk...        check signatures and checksums against the keys (v2, v3)
  index -o FILE FILE.apk... write an index (unsigned) of the packages: APKINDEX.tar.gz,
                            or with --format v3 a Packages.adb (v3 and v2 packages);
                            --description TEXT, --rewrite-arch ARCH (v2),
                            --pkgname-spec SPEC (v3)
  --version                 print the version

options:
  --root DIR, -p DIR        the root to work on (default /)
  --repository DIR, -X DIR  also use this repository: a directory (DIR/ARCH/APKINDEX.tar.gz
                            or DIR/ARCH/Packages.adb) or an index (.../Packages.adb)
  --keys-dir DIR            trusted keys (default: the root's /etc/apk/keys); add
                            copies them into the root
  --allow-untrusted         use unsigned or untrusted indexes and packages
  --initdb                  create the database in a new root (add)
  --arch ARCH               the root's arch (default: its /etc/apk/arch)

This is alpinist's apk (apk v2 and v3 packages), not Alpine's apk-tools.";

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ERROR: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The global options, wherever they are on the command line.
#[derive(Default)]
struct Options {
    root: Option<PathBuf>,
    repositories: Vec<PathBuf>,
    keys_dir: Option<PathBuf>,
    allow_untrusted: bool,
    initdb: bool,
    arch: Option<String>,
}

/// Splits the options from the command and its arguments; `None` when `--version` or
/// `--help` was printed.
fn parse(args: Vec<String>) -> Result<Option<(Options, Vec<String>)>> {
    let mut o = Options::default();
    let mut rest = Vec::new();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let mut value = |what: &str| it.next().with_context(|| format!("{a} needs {what}"));
        match a.as_str() {
            "--root" | "-p" => o.root = Some(PathBuf::from(value("a directory")?)),
            "--repository" | "-X" => o.repositories.push(PathBuf::from(value("a directory")?)),
            "--keys-dir" => o.keys_dir = Some(PathBuf::from(value("a directory")?)),
            "--arch" => o.arch = Some(value("an arch")?),
            "--allow-untrusted" => o.allow_untrusted = true,
            "--initdb" => o.initdb = true,
            "--version" | "-V" => {
                println!(
                    "alpinist-apk {} (apk v2 and v3 packages)",
                    env!("CARGO_PKG_VERSION")
                );
                return Ok(None);
            }
            "--help" | "-h" => {
                println!("{USAGE}");
                return Ok(None);
            }
            _ => rest.push(a),
        }
    }
    Ok(Some((o, rest)))
}

fn run(args: Vec<String>) -> Result<()> {
    let Some((o, rest)) = parse(args)? else {
        return Ok(());
    };
    let Some((cmd, args)) = rest.split_first() else {
        bail!("no command\n{USAGE}");
    };
    let root = o.root.clone().unwrap_or_else(|| PathBuf::from("/"));
    match cmd.as_str() {
        "info" => info(&root, args),
        "verify" => {
            let files: Vec<PathBuf> = args.iter().map(PathBuf::from).collect();
            if files.is_empty() {
                bail!("verify: no package given");
            }
            let keys = match &o.keys_dir {
                Some(dir) => load_keys(dir)?,
                None => install::load_root_keys(&root)?,
            };
            let (report, bad) = verify_files(&files, &keys);
            print!("{report}");
            if bad > 0 {
                bail!("{bad} of {} packages failed verification", files.len());
            }
            Ok(())
        }
        "add" => add(&root, &o, args),
        "index" => index(args),
        other => bail!("unknown command {other:?}\n{USAGE}"),
    }
}

/// `apk index -o FILE [--description TEXT] [--rewrite-arch ARCH] FILE.apk…`, as
/// apk-tools writes it (`SOURCE_DATE_EPOCH` or now as the mtime; not signed); with
/// `--format v3`, a `Packages.adb` as `apk mkndx` writes it (`--pkgname-spec SPEC`).
fn index(args: &[String]) -> Result<()> {
    let (mut output, mut description, mut arch, mut files) = (None, None, None, Vec::new());
    let (mut format, mut spec) = (String::from("v2"), None);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "-o" | "--output" => output = Some(PathBuf::from(value()?)),
            "-d" | "--description" => description = Some(value()?.clone()),
            "--rewrite-arch" => arch = Some(value()?.clone()),
            "--format" => format = value()?.clone(),
            "--pkgname-spec" => spec = Some(value()?.clone()),
            f => files.push(PathBuf::from(f)),
        }
    }
    let output = output.context("index: -o FILE is required")?;
    let bytes = match format.as_str() {
        "v3" => {
            if let Some(a) = arch {
                bail!("index: --rewrite-arch is for v2 indexes; for v3 give --pkgname-spec '{a}/${{name}}-${{version}}.apk'");
            }
            index_v3(&files, description.as_deref(), spec.as_deref(), None)?
        }
        "v2" => {
            if spec.is_some() {
                bail!("index: --pkgname-spec is for v3 indexes (--format v3)");
            }
            let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
            let idx = ApkIndex::from_package_files(description, &refs, arch.as_deref())?;
            let mtime = std::env::var("SOURCE_DATE_EPOCH")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| {
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs())
                });
            idx.to_bytes(mtime, None)?
        }
        other => bail!("index: --format {other:?}: v2 or v3"),
    };
    std::fs::write(&output, bytes).with_context(|| output.display().to_string())
}

fn info(root: &Path, args: &[String]) -> Result<()> {
    if let Some(f) = args.iter().find(|a| !a.starts_with('-')) {
        print!("{}", info_file(Path::new(f))?);
        return Ok(());
    }
    let verbose = args.iter().any(|a| a == "-v");
    for p in install::read_database(root)?.packages {
        if verbose {
            println!("{}-{}", p.info.name, p.info.version);
        } else {
            println!("{}", p.info.name);
        }
    }
    Ok(())
}

fn add(root: &Path, o: &Options, args: &[String]) -> Result<()> {
    let simulate = args.iter().any(|a| a == "--simulate" || a == "-s");
    let deps: Vec<String> = args
        .iter()
        .filter(|a| !a.starts_with('-'))
        .cloned()
        .collect();
    if deps.is_empty() {
        bail!("add: no package given");
    }
    let etc = |f: &str| root.join("etc/apk").join(f);
    let arch = match &o.arch {
        Some(a) => a.clone(),
        None => std::fs::read_to_string(etc("arch"))
            .with_context(|| format!("{}: the root's arch", etc("arch").display()))?,
    };
    let mut repositories = o.repositories.clone();
    if !o.initdb || etc("repositories").exists() {
        repositories.extend(read_repositories(&etc("repositories"))?);
    }
    let before = installed(root)?;
    let out = alpinist_apk::add::add(&AddOptions {
        root,
        arch: arch.trim(),
        initdb: o.initdb,
        repositories: &repositories,
        keys_dir: o.keys_dir.as_deref(),
        simulate,
        allow_untrusted: o.allow_untrusted,
        deps: &deps,
    })?;
    print!("{out}");
    if !simulate && root == Path::new("/") {
        run_new_scripts(root, &before)?;
    }
    Ok(())
}

fn installed(root: &Path) -> Result<Vec<String>> {
    if !root.is_dir() {
        return Ok(Vec::new());
    }
    Ok(install::read_database(root)?
        .packages
        .into_iter()
        .map(|p| p.info.name)
        .collect())
}

/// Local repositories from `/etc/apk/repositories` (comments and tags aside): a directory
/// or an index file, with apk-tools' `v2` and `ndx` type words. A `v3 DIR` line (packages
/// at `DIR/<arch of the package>/…`) is not read: this apk names a v3 repository by its
/// index, as it writes it.
fn read_repositories(path: &Path) -> Result<Vec<PathBuf>> {
    let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = || format!("{}:{}", path.display(), n + 1);
        let mut words = line.split_whitespace().filter(|w| !w.starts_with('@'));
        let mut repo = words.next().unwrap_or_default();
        match repo {
            "v2" | "ndx" => repo = words.next().unwrap_or_default(),
            "v3" => bail!(
                "{}: 'v3' repository lines are not supported by this apk; name the index (DIR/ARCH/Packages.adb)",
                at()
            ),
            "set" => bail!("{}: 'set' lines are not supported by this apk", at()),
            _ => {}
        }
        if repo.contains("://") {
            bail!(
                "{}: {repo}: only local repositories are supported by this apk",
                at()
            );
        }
        if words.next().is_some() {
            bail!(
                "{}: repository components are not supported by this apk",
                at()
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
            let file = dir.join(format!(
                "apk-{}-{}.post-install",
                std::process::id(),
                p.info.name.replace('/', "_")
            ));
            write_new(&file, &s.body)?;
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

/// Creates `path` (never through a symlink, never over an existing file) with `data`.
fn write_new(path: &Path, data: &[u8]) -> Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o700)
        .open(path)
        .with_context(|| path.display().to_string())?;
    f.write_all(data)
        .with_context(|| path.display().to_string())
}
