//! Stage 3: an Alpine root filesystem from the local repositories.
//!
//! Packages are installed with alpinist's apk installer (which records maintainer scripts
//! without running them); the scripts and triggers then run inside the new root under
//! bubblewrap, target binaries through qemu-user via binfmt_misc. The result is
//! `build/<arch>/alpine-<profile>-<version>-<arch>.tar.gz` (minirootfs, or buildroot:
//! the root with a compiler and abuild that the self-hosting check uses).

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use alpinist_apk::db::ScriptKind;
use alpinist_apk::install;
use anyhow::{bail, Context as _, Result};

use crate::arch::Arch;
use crate::context::Context;
use crate::keys::SigningKey;

/// Where, inside the root, the local repositories appear when the root is used through
/// `verify-rootfs` (bind-mounted there), and so what `/etc/apk/repositories` names.
pub const REPO_MOUNT: &str = "/var/lib/alpinist/repo";

/// The local repositories that have packages for `arch`: `build/repo/<repo>`.
pub fn local_repos(cx: &Context, arch: &Arch) -> Result<Vec<PathBuf>> {
    let base = cx.repodest.clone();
    let mut v: Vec<PathBuf> = std::fs::read_dir(&base)
        .with_context(|| {
            format!(
                "{}: no local repository yet (run `cargo xtask build`)",
                base.display()
            )
        })?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join(&arch.name).join("APKINDEX.tar.gz").is_file())
        .collect();
    v.sort();
    Ok(v)
}

/// Makes sure the kernel runs `arch`'s programs through qemu-user (binfmt_misc).
pub fn ensure_binfmt(arch: &Arch) -> Result<()> {
    if arch.is_native() {
        return Ok(());
    }
    let misc = Path::new("/proc/sys/fs/binfmt_misc");
    if !misc.join("register").exists() {
        let st = std::process::Command::new("mount")
            .args(["-t", "binfmt_misc", "binfmt_misc"])
            .arg(misc)
            .status();
        if !matches!(st, Ok(s) if s.success()) || !misc.join("register").exists() {
            bail!(
                "binfmt_misc is not mounted and could not be mounted; as root run\n  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc"
            );
        }
    }
    let name = format!("qemu-{}", arch.qemu);
    if misc.join(&name).exists() {
        return Ok(());
    }
    let conf = Path::new("/usr/lib/binfmt.d").join(format!("{name}.conf"));
    let line = std::fs::read_to_string(&conf).with_context(|| {
        format!(
            "{}: missing; install qemu-user-static (`sudo cargo xtask setup`)",
            conf.display()
        )
    })?;
    std::fs::OpenOptions::new()
        .write(true)
        .open(misc.join("register"))
        .and_then(|mut f| f.write_all(line.trim().as_bytes()))
        .with_context(|| {
            format!(
                "registering {name} with binfmt_misc (needs root; or run `sudo update-binfmts --enable {name}`)"
            )
        })?;
    Ok(())
}

/// Runs a command inside `root` as its `/` (with no network when `no_net`).
pub fn in_root(
    root: &Path,
    binds: &[(PathBuf, String)],
    no_net: bool,
    argv: &[&str],
) -> std::process::Command {
    let mut c = std::process::Command::new("bwrap");
    c.arg("--bind").arg(root).arg("/");
    if no_net {
        c.arg("--unshare-net");
    }
    c.args([
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--tmpfs",
        "/run",
        "--unshare-pid",
        "--die-with-parent",
        "--chdir",
        "/",
        "--clearenv",
    ]);
    c.args([
        "--setenv",
        "PATH",
        "/usr/sbin:/usr/bin:/sbin:/bin",
        "--setenv",
        "HOME",
        "/root",
    ]);
    for (from, to) in binds {
        c.arg("--ro-bind").arg(from).arg(to);
    }
    c.arg("--").args(argv);
    c
}

fn run_script(
    root: &Path,
    pkg: &str,
    kind: ScriptKind,
    body: &[u8],
    args: &[String],
    log: &mut String,
) -> Result<()> {
    let path = root.join(".alpinist-script");
    std::fs::write(&path, body)?;
    // Executed as apk does (the kernel follows the #! line inside the root, e.g.
    // busybox's `#!/bin/busybox sh` before /bin/sh exists); /bin/sh only without one.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    let mut argv: Vec<&str> = if body.starts_with(b"#!") {
        vec!["/.alpinist-script"]
    } else {
        vec!["/bin/sh", "/.alpinist-script"]
    };
    argv.extend(args.iter().map(|s| s.as_str()));
    let out = in_root(root, &[], false, &argv)
        .output()
        .context("running bwrap")?;
    let _ = std::fs::remove_file(&path);
    log.push_str(&format!(
        "{pkg}.{}: {}\n{}{}",
        kind.as_str(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ));
    if !out.status.success() && kind != ScriptKind::Trigger {
        bail!(
            "{pkg}.{} failed inside the root ({}):\n{}",
            kind.as_str(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim_end()
        );
    }
    Ok(())
}

/// Which root filesystem: Alpine's minirootfs, or the build root (alpine-sdk-like: a
/// compiler, abuild and apk, for building Alpine on the target itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Profile {
    Minirootfs,
    Buildroot,
}

impl Profile {
    pub fn name(self) -> &'static str {
        match self {
            Profile::Minirootfs => "minirootfs",
            Profile::Buildroot => "buildroot",
        }
    }
    /// Where the root is assembled, under build/<arch>/.
    fn dir(self) -> &'static str {
        match self {
            Profile::Minirootfs => "rootfs",
            Profile::Buildroot => "buildroot",
        }
    }
    /// `build/<arch>/alpine-<profile>-<version>-<arch>.tar.gz`: the newest, if any.
    pub fn newest_tarball(self, cx: &Context, arch: &Arch) -> Result<PathBuf> {
        let dir = cx.layout.build.join(&arch.name);
        let prefix = format!("alpine-{}-", self.name());
        let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
            .with_context(|| {
                format!(
                    "{}: no root filesystem yet (run `cargo xtask rootfs`)",
                    dir.display()
                )
            })?
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name().is_some_and(|n| {
                    let n = n.to_string_lossy();
                    n.starts_with(&prefix) && n.ends_with(".tar.gz")
                })
            })
            .collect();
        v.sort();
        v.pop()
            .with_context(|| format!("no {prefix}*.tar.gz in {}", dir.display()))
    }
}

/// Builds the root filesystem tarball for `arch` from the local repositories.
pub fn rootfs(cx: &Context, arch: &Arch, packages: &[String], profile: Profile) -> Result<PathBuf> {
    let key = SigningKey::ensure(cx)?;
    let repos = local_repos(cx, arch)?;
    if repos.is_empty() {
        bail!(
            "no local repository has packages for {}; run `cargo xtask build --arch {}` first",
            arch.name,
            arch.name
        );
    }
    let dir = cx.layout.build.join(&arch.name);
    let root = dir.join(profile.dir());
    if root.exists() {
        crate::step::remove_dir_all_writable(&root)?;
    }
    std::fs::create_dir_all(&root)?;
    // Only the public key goes into the root.
    let pubdir = dir.join("keys");
    std::fs::create_dir_all(&pubdir)?;
    std::fs::copy(&key.public, pubdir.join(&key.public_name))?;
    eprintln!("installing {} into {}", packages.join(" "), root.display());
    let out = crate::cmd_apk::add(&crate::cmd_apk::AddOptions {
        root: &root,
        arch: &arch.name,
        initdb: true,
        repositories: &repos,
        keys_dir: Some(&pubdir),
        simulate: false,
        deps: packages,
    })?;
    eprint!("{out}");
    let lines: Vec<String> = repos
        .iter()
        .map(|r| {
            format!(
                "{REPO_MOUNT}/{}",
                r.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            )
        })
        .collect();
    install::write_repositories(&root, &lines)?;

    // Maintainer scripts, then triggers, inside the root.
    ensure_binfmt(arch)?;
    let db = install::read_database(&root)?;
    let mut log = String::new();
    for p in &db.packages {
        for kind in [ScriptKind::PreInstall, ScriptKind::PostInstall] {
            if let Some(s) = p.scripts.iter().find(|s| s.kind == kind) {
                run_script(
                    &root,
                    &p.info.name,
                    kind,
                    &s.body,
                    &[p.info.version.to_string()],
                    &mut log,
                )?;
            }
        }
    }
    for p in &db.packages {
        let Some(t) = p.scripts.iter().find(|s| s.kind == ScriptKind::Trigger) else {
            continue;
        };
        let mut dirs = Vec::new();
        for glob in &p.triggers {
            if root.join(glob.trim_start_matches('/')).is_dir() {
                dirs.push(glob.clone());
            }
        }
        if !dirs.is_empty() {
            run_script(
                &root,
                &p.info.name,
                ScriptKind::Trigger,
                &t.body,
                &dirs,
                &mut log,
            )?;
        }
    }
    std::fs::write(dir.join("rootfs-scripts.log"), &log)?;

    let version = std::fs::read_to_string(root.join("etc/alpine-release"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "0".into());
    let tarball = dir.join(format!(
        "alpine-{}-{version}-{}.tar.gz",
        profile.name(),
        arch.name
    ));
    write_tarball(&root, &tarball)?;
    eprintln!("root filesystem: {}", tarball.display());
    Ok(tarball)
}

/// A deterministic gzip'd tar of `root`: sorted, numeric owners and modes as installed,
/// every mtime clamped to SOURCE_DATE_EPOCH (default: alpinist's bootstrap epoch).
fn write_tarball(root: &Path, out: &Path) -> Result<()> {
    let epoch: u64 = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(crate::build::BOOTSTRAP_EPOCH);
    let tmp = out.with_extension("tmp");
    let f = std::fs::File::create(&tmp)?;
    let gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(f, flate2::Compression::best());
    let mut b = tar::Builder::new(gz);
    let mut paths = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)?.flatten() {
            let p = e.path();
            if e.file_type()?.is_dir() {
                stack.push(p.clone());
            }
            paths.push(p);
        }
    }
    paths.sort();
    for p in paths {
        let rel = Path::new(".").join(p.strip_prefix(root).expect("under root"));
        let meta = std::fs::symlink_metadata(&p)?;
        let mut h = tar::Header::new_gnu();
        h.set_metadata_in_mode(&meta, tar::HeaderMode::Complete);
        h.set_mtime(h.mtime().unwrap_or(0).min(epoch));
        // Names of the build machine's users mean nothing in the root: numbers only.
        h.set_username("").ok();
        h.set_groupname("").ok();
        let ctx = || format!("adding {}", p.display());
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&p)?;
            b.append_link(&mut h, &rel, &target).with_context(ctx)?;
        } else if meta.is_file() {
            b.append_data(&mut h, &rel, std::fs::File::open(&p)?)
                .with_context(ctx)?;
        } else {
            h.set_size(0);
            b.append_data(&mut h, &rel, std::io::empty())
                .with_context(ctx)?;
        }
    }
    b.into_inner()?.finish()?;
    std::fs::rename(&tmp, out)?;
    Ok(())
}

/// `verify-rootfs`: unpack the tarball and run the root's own tools in it.
pub fn verify(cx: &Context, arch: &Arch, tarball: Option<PathBuf>) -> Result<()> {
    let dir = cx.layout.build.join(&arch.name);
    let tarball = match tarball {
        Some(t) => t,
        None => Profile::Minirootfs.newest_tarball(cx, arch)?,
    };
    ensure_binfmt(arch)?;
    let tmp = tempfile_dir(&dir)?;
    let root = tmp.join("root");
    std::fs::create_dir_all(&root)?;
    let st = std::process::Command::new("tar")
        .arg("-xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(&root)
        .status()?;
    if !st.success() {
        bail!("unpacking {} failed", tarball.display());
    }
    let binds: Vec<(PathBuf, String)> = local_repos(cx, arch)?
        .into_iter()
        .map(|r| {
            let name = r
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (r, format!("{REPO_MOUNT}/{name}"))
        })
        .collect();
    let some_pkg = binds
        .iter()
        .find_map(|(r, m)| {
            std::fs::read_dir(r.join(&arch.name))
                .ok()?
                .flatten()
                .find_map(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    n.ends_with(".apk")
                        .then(|| format!("{m}/{}/{n}", arch.name))
                })
        })
        .context("no package in the local repositories")?;
    // A package from the local repositories that the root does not have yet.
    let installed: std::collections::BTreeSet<String> = install::read_database(&root)?
        .packages
        .iter()
        .map(|p| p.info.name.clone())
        .collect();
    let to_add = binds
        .iter()
        .flat_map(|(r, _)| {
            alpinist_apk::index::ApkIndex::read(&r.join(&arch.name).join("APKINDEX.tar.gz"))
                .map(|i| i.packages.into_iter().map(|p| p.name).collect::<Vec<_>>())
                .unwrap_or_default()
        })
        .find(|n| !installed.contains(n))
        .context("every package of the local repositories is already in the root")?;
    let checks: Vec<(&str, Vec<String>)> = vec![
        (
            "cat /etc/alpine-release",
            vec!["cat".into(), "/etc/alpine-release".into()],
        ),
        ("apk --version", vec!["apk".into(), "--version".into()]),
        ("apk info", vec!["apk".into(), "info".into()]),
        ("apk verify", vec!["apk".into(), "verify".into(), some_pkg]),
        (
            "busybox applet (uname -m)",
            vec!["/bin/busybox".into(), "uname".into(), "-m".into()],
        ),
        (
            "apk add (a package from the local repository)",
            vec!["apk".into(), "add".into(), to_add],
        ),
    ];
    let mut failed = 0;
    for (what, argv) in &checks {
        let a: Vec<&str> = argv.iter().map(|s| s.as_str()).collect();
        let out = in_root(&root, &binds, false, &a).output()?;
        let ok = out.status.success();
        println!(
            "{} {what}: {}",
            if ok { "ok  " } else { "FAIL" },
            String::from_utf8_lossy(if ok { &out.stdout } else { &out.stderr })
                .trim()
                .replace('\n', " | ")
        );
        if !ok {
            failed += 1;
        }
    }
    let _ = crate::step::remove_dir_all_writable(&tmp);
    if failed > 0 {
        bail!(
            "{failed} of {} checks failed in {}",
            checks.len(),
            tarball.display()
        );
    }
    Ok(())
}

fn tempfile_dir(parent: &Path) -> Result<PathBuf> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_nanos();
    let d = parent.join(format!("verify-{stamp}"));
    std::fs::create_dir_all(&d)?;
    Ok(d)
}
