//! Stage 3: an Alpine root filesystem from the local repositories.
//!
//! Packages are installed with alpinist's apk installer (which records maintainer scripts
//! without running them); the scripts and triggers then run inside the new root under
//! bubblewrap, target binaries through qemu-user via binfmt_misc. The result is
//! `build/<arch>/alpine-minirootfs-<version>-<arch>.tar.gz`.
//!
//! - [`install`]: the packages into a fresh root; [`scripts`]: their scripts and
//!   triggers inside it; [`tarball`]: the deterministic tarball; [`verify`]: the root's
//!   own tools run in it; [`binfmt`]: qemu-user through binfmt_misc.

use std::path::PathBuf;

use anyhow::{Context as _, Result};

use crate::config::arch::Arch;
use crate::context::Context;

pub mod binfmt;
pub mod install;
pub mod scripts;
pub mod tarball;
pub mod verify;

pub use install::rootfs;
pub use verify::verify;

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
