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
    /// first). `multi_user`: other users may use it too (the sandbox's user namespace);
    /// disorderfs allows that only to root.
    pub fn mount(dir: &Path, view: &Path, multi_user: bool) -> Result<Disorder> {
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
        let multi = if multi_user { "yes" } else { "no" };
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
