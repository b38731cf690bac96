//! The root filesystem as a deterministic tarball.

use std::path::Path;

use anyhow::{bail, Context as _, Result};

use crate::exec::Cmd;

/// A deterministic gzip'd tar of `root`: sorted, numeric owners and modes as installed,
/// every mtime clamped to SOURCE_DATE_EPOCH (default: alpinist's bootstrap epoch).
pub(crate) fn write_tarball(root: &Path, out: &Path) -> Result<()> {
    let epoch = crate::stages::packages::output_epoch();
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

/// Unpacks a root filesystem tarball into `root` (with tar, which keeps owners and
/// device files as the tarball has them).
pub fn unpack(tarball: &Path, root: &Path) -> Result<()> {
    let out = Cmd::new("tar")
        .arg("-xzf")
        .arg(tarball)
        .arg("-C")
        .arg(root)
        .output_combined()?;
    if !out.status.success() {
        bail!(
            "unpacking {} failed:\n{}",
            tarball.display(),
            String::from_utf8_lossy(&out.stdout).trim_end()
        );
    }
    Ok(())
}
