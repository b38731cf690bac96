//! A directory seen through disorderfs (Debian's `disorderfs`, as reprotest uses it):
//! the same files, but every listing in a new random order, so a build that depends on
//! the order a directory lists its files in shows it.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};

use crate::exec::Cmd;

/// `dir` mounted at `view` with shuffled listings; unmounted when dropped.
#[derive(Debug)]
pub struct Disorder {
    view: PathBuf,
}

/// Checks that disorderfs can mount here: the program, and FUSE.
pub fn preflight() -> Result<()> {
    if Cmd::new("disorderfs").arg("--version").output().is_err() {
        bail!("the file-order variation needs disorderfs: `sudo apt-get install disorderfs` (or `sudo cargo xtask setup`)");
    }
    if std::fs::metadata("/dev/fuse").is_err() {
        bail!("the file-order variation needs FUSE, and this machine has no /dev/fuse (in a container, give it the device)");
    }
    Ok(())
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn unmount(view: &Path) -> bool {
    ["fusermount3", "fusermount"].iter().any(|prog| {
        Cmd::new(*prog)
            .args(["-u", "-q"])
            .arg(view)
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

impl Disorder {
    /// Mounts `dir` at `view` (created; a mount left there by a killed run is taken down
    /// first).
    pub fn mount(dir: &Path, view: &Path) -> Result<Disorder> {
        if view.exists() {
            unmount(view);
            std::fs::remove_dir(view).with_context(|| {
                format!(
                    "{}: left by an earlier run and cannot be removed",
                    view.display()
                )
            })?;
        }
        std::fs::create_dir_all(view)?;
        // Other users (the sandbox's user namespace) may use it when alpinist is root.
        let multi = if is_root() { "yes" } else { "no" };
        let out = Cmd::new("disorderfs")
            .args(["-q", "--shuffle-dirents=yes", "--reverse-dirents=no"])
            .arg(format!("--multi-user={multi}"))
            .arg(dir)
            .arg(view)
            .output_combined()
            .context("running disorderfs")?;
        if !out.status.success() {
            let _ = std::fs::remove_dir(view);
            bail!(
                "disorderfs {} {}: {}",
                dir.display(),
                view.display(),
                String::from_utf8_lossy(&out.stdout).trim()
            );
        }
        Ok(Disorder {
            view: view.to_path_buf(),
        })
    }

    /// Where the shuffled view is.
    pub fn view(&self) -> &Path {
        &self.view
    }
}

impl Drop for Disorder {
    fn drop(&mut self) {
        if unmount(&self.view) {
            let _ = std::fs::remove_dir(&self.view);
        }
    }
}
