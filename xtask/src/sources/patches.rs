//! Patches: the `*.patch` files of a directory, in name order, and the one way they are
//! applied (`patch -p1 -N --no-backup-if-mismatch`, from the top of the tree). The
//! toolchain's components, aports (`patches/aports/`) and documented substitutes use it.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};

use crate::exec::Cmd;

/// The `*.patch` files in `dir`, in name order; none when `dir` does not exist.
pub fn list(dir: &Path) -> Result<Vec<PathBuf>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    let mut v = Vec::new();
    for e in rd {
        let p = e?.path();
        if p.extension().and_then(|x| x.to_str()) == Some("patch") {
            v.push(p);
        }
    }
    v.sort();
    Ok(v)
}

/// The command that applies `patch` to the tree at `dir`.
pub fn command(patch: &Path, dir: &Path) -> Cmd {
    Cmd::new("patch")
        .args(["-p1", "-N", "--no-backup-if-mismatch", "-i"])
        .arg(patch)
        .dir(dir)
}

/// Applies `patch` to the tree at `dir`; the error has patch's output.
pub fn apply(patch: &Path, dir: &Path) -> Result<()> {
    let out = command(patch, dir).output_combined()?;
    if !out.status.success() {
        bail!(
            "{} does not apply:\n{}",
            patch.display(),
            String::from_utf8_lossy(&out.stdout).trim_end()
        );
    }
    Ok(())
}
