//! A source made from an upstream git tag (`git archive | gzip -n`, as GitHub and GitLab
//! make their tag archives).

use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};

use crate::config::source::GitArchive;
use crate::exec::Cmd;
use crate::sources::Resolver;

impl Resolver<'_> {
    /// Makes the archive of a git tag (needs git and the network).
    pub(super) fn fetch_git(&self, git: &GitArchive, file: &str) -> Result<PathBuf> {
        if !crate::host::on_path("git") {
            bail!("git is not installed");
        }
        let tmp = self.layout.distfiles.join(format!(".git-{file}.tmp"));
        let _ = std::fs::remove_dir_all(&tmp);
        let clone = Cmd::new("git")
            .args(["clone", "--quiet", "--bare", "--depth", "1", "--branch"])
            .args([&git.tag, &git.url])
            .arg(&tmp)
            .env("GIT_TERMINAL_PROMPT", "0")
            .output_combined()?;
        if !clone.status.success() {
            let _ = std::fs::remove_dir_all(&tmp);
            bail!(
                "git clone failed: {}",
                crate::exec::tail_str(&String::from_utf8_lossy(&clone.stdout), 3)
            );
        }
        // `git archive | gzip -n` (or xz), through a file: the compressor reads the same
        // bytes.
        let tar = self.layout.distfiles.join(format!("{file}.tar.part"));
        let part = self.layout.distfiles.join(format!("{file}.part"));
        let made = Cmd::new("git")
            .arg("-C")
            .arg(&tmp)
            .args(["archive", "--format=tar"])
            .arg(format!("--prefix={}", git.prefix))
            .arg(&git.tag)
            .run_to_file(&tar)
            .and_then(|()| {
                let c = git.compressor();
                Cmd::new(c[0])
                    .args(&c[1..])
                    .stdin_file(&tar)
                    .run_to_file(&part)
            });
        let _ = std::fs::remove_dir_all(&tmp);
        let _ = std::fs::remove_file(&tar);
        made.context("git archive | gzip")?;
        let dest = self.layout.distfiles.join(file);
        std::fs::rename(&part, &dest)?;
        Ok(dest)
    }
}
