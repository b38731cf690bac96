//! Step 1: the modes fakeroot recorded for the package's files, the libtool archives
//! abuild's postcheck deletes, and the empty directories abuild removes from the main
//! package.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use alpinist_apkbuild::recipe::Recipe;
use anyhow::{Context as _, Result};

/// An entry of `.owners`: numeric ids and the mode, as fakeroot saw them.
#[derive(Debug, Clone)]
pub(crate) struct Owned {
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
}

/// What fakeroot recorded, by path under `$pkgbasedir`.
pub(crate) type Owners = BTreeMap<String, Owned>;

/// Gives the files of package `name` the modes fakeroot recorded.
pub(crate) fn apply(owners: &Owners, pkgbase: &Path, name: &str) -> Result<()> {
    for (rel, Owned { mode, .. }) in owners
        .iter()
        .filter(|(k, _)| k.starts_with(&format!("{name}/")))
    {
        let p = pkgbase.join(rel);
        if let Ok(md) = std::fs::symlink_metadata(&p) {
            if !md.file_type().is_symlink() && md.permissions().mode() & 0o7777 != *mode {
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(*mode))?;
            }
        }
    }
    Ok(())
}

/// abuild's postcheck deletes every regular `*.la` file (libtool archives) unless the
/// recipe's `options` has `libtool` for this package.
pub(crate) fn remove_libtool_archives(r: &Recipe, name: &str, dir: &Path) -> Result<()> {
    if r.option(name, "libtool") {
        return Ok(());
    }
    for (rel, full) in alpinist_apkbuild::trace::files(dir) {
        if rel.ends_with(".la") {
            std::fs::remove_file(&full).with_context(|| format!("removing {}", full.display()))?;
        }
    }
    Ok(())
}

/// abuild removes these from the main package when they are empty (unless `keepdirs`).
pub(crate) fn remove_empty_dirs(r: &Recipe, name: &str, dir: &Path) {
    if name == r.pkgname && !r.option(name, "keepdirs") {
        for d in ["usr/lib", "usr/bin", "usr/share", "usr", "etc", "lib"] {
            let _ = std::fs::remove_dir(dir.join(d));
        }
    }
}

/// `.owners` from the shell: `uid\tgid\tmode\tpath\0` per entry, under fakeroot.
pub(crate) fn read_owners(path: &Path) -> Result<Owners> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut m = BTreeMap::new();
    for rec in bytes.split(|&b| b == 0).filter(|r| !r.is_empty()) {
        let s = String::from_utf8_lossy(rec);
        let f: Vec<&str> = s.splitn(4, '\t').collect();
        let [u, g, mo, p] = f.as_slice() else {
            continue;
        };
        m.insert(
            p.to_string(),
            Owned {
                uid: u.parse().unwrap_or(0),
                gid: g.parse().unwrap_or(0),
                mode: u32::from_str_radix(mo, 8).unwrap_or(0o644),
            },
        );
    }
    Ok(m)
}
