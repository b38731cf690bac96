//! The root: packages installed from the local repositories, scripts and triggers run,
//! the tarball written.

use std::path::PathBuf;

use alpinist_apk::db::ScriptKind;
use alpinist_apk::install;
use anyhow::{bail, Result};

use crate::config::arch::Arch;
use crate::context::Context;
use crate::keys::SigningKey;
use crate::stages::install::Install;
use crate::stages::rootfs::binfmt::ensure_binfmt;
use crate::stages::rootfs::scripts::run_script;
use crate::stages::rootfs::tarball::write_tarball;
use crate::stages::rootfs::{local_repos, Profile, REPO_MOUNT};

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
        crate::fsutil::remove_dir_all_writable(&root)?;
    }
    std::fs::create_dir_all(&root)?;
    // Only the public key goes into the root.
    let pubdir = dir.join("keys");
    std::fs::create_dir_all(&pubdir)?;
    std::fs::copy(&key.public, pubdir.join(&key.public_name))?;
    eprintln!("installing {} into {}", packages.join(" "), root.display());
    let out = crate::stages::install::install(&Install {
        root: &root,
        arch: &arch.name,
        repositories: &repos,
        keys_dir: &pubdir,
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
                    arch,
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
                arch,
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
