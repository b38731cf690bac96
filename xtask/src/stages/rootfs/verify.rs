//! `verify-rootfs`: the tarball unpacked and the root's own tools run in it.

use std::path::{Path, PathBuf};

use alpinist_apk::install;
use anyhow::{bail, Context as _, Result};

use crate::config::arch::Arch;
use crate::context::Context;
use crate::stages::rootfs::binfmt::ensure_binfmt;
use crate::stages::rootfs::scripts::in_root;
use crate::stages::rootfs::tarball::unpack;
use crate::stages::rootfs::{repo_binds, Profile};

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
    unpack(&tarball, &root)?;
    let binds = repo_binds(cx, arch)?;
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
        let out = in_root(arch, &root, &binds, false, &a).output()?;
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
    let _ = crate::fsutil::remove_dir_all_writable(&tmp);
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
