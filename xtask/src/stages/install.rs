//! Packages from local repositories installed into a root with the apk library: a
//! build's sysroot, and a root filesystem. What `apk add --initdb` does
//! ([`alpinist_apk::add`]): open the repositories (signed by a trusted key), solve, and
//! install with the world and the repositories file, in one transaction. (Maintainer
//! scripts are recorded, not run; the rootfs stage runs them inside the root.)

use std::path::{Path, PathBuf};

use alpinist_apk::add::{add, AddOptions};
use anyhow::Result;

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
    Ok(add(&AddOptions {
        root: o.root,
        arch: o.arch,
        initdb: true,
        repositories: o.repositories,
        keys_dir: Some(o.keys_dir),
        simulate: false,
        allow_untrusted: false,
        deps: o.deps,
    })?)
}
