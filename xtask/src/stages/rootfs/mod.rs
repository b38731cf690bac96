//! Stage 3: an Alpine root filesystem from the local repositories.
//!
//! Packages are installed with alpinist's apk installer (which records maintainer scripts
//! without running them); the scripts and triggers then run inside the new root under
//! bubblewrap, target binaries through qemu-user via binfmt_misc. The result is
//! `build/<arch>/alpine-<profile>-<version>-<arch>.tar.gz` (minirootfs, or buildroot:
//! the root with a compiler and abuild that the self-hosting check uses).
//!
//! - [`install`]: the packages into a fresh root; [`scripts`]: their scripts and
//!   triggers inside it; [`tarball`]: the deterministic tarball; [`verify`]: the root's
//!   own tools run in it; [`selfhost`]: Alpine building Alpine in the build root;
//!   [`binfmt`]: qemu-user through binfmt_misc.

use std::path::PathBuf;

use anyhow::{Context as _, Result};

use crate::config::arch::Arch;
use crate::context::Context;

pub mod binfmt;
pub mod install;
pub mod scripts;
pub mod selfhost;
pub mod tarball;
pub mod verify;

pub use install::rootfs;
pub use verify::verify;

/// Where, inside the root, the local repositories appear when the root is used through
/// `verify-rootfs` (bind-mounted there), and so what `/etc/apk/repositories` names.
pub const REPO_MOUNT: &str = "/var/lib/alpinist/repo";

/// The local repositories of `arch`, each with where a root sees it ([`REPO_MOUNT`]`/<name>`,
/// as its `/etc/apk/repositories` names it): the bind mounts of a root's sandbox.
pub fn repo_binds(cx: &Context, arch: &Arch) -> Result<Vec<(PathBuf, String)>> {
    Ok(local_repos(cx, arch)?
        .into_iter()
        .map(|r| {
            let name = r
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (r, format!("{REPO_MOUNT}/{name}"))
        })
        .collect())
}

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

/// The arch directories (`<repo>/<arch>/`) of [`local_repos`]: where the packages and
/// their `sbom/` are.
pub fn local_arch_dirs(cx: &Context, arch: &Arch) -> Result<Vec<PathBuf>> {
    Ok(local_repos(cx, arch)?
        .into_iter()
        .map(|r| r.join(&arch.name))
        .collect())
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
    pub(crate) fn dir(self) -> &'static str {
        match self {
            Profile::Minirootfs => "rootfs",
            Profile::Buildroot => "buildroot",
        }
    }
    /// `build/<arch>/alpine-<profile>-<version>-<arch>.tar.gz`: the one written last (the
    /// last bootstrap's, whichever set it built), if any.
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
        let mtime = |p: &PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        v.sort_by(|a, b| mtime(a).cmp(&mtime(b)).then(a.cmp(b)));
        v.pop()
            .with_context(|| format!("no {prefix}*.tar.gz in {}", dir.display()))
    }
}
