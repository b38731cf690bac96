//! A source made from an upstream git tag (`git archive | gzip -n`, as GitHub and GitLab
//! make their tag archives).

use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};

use crate::config::source::GitArchive;
use crate::sources::Resolver;

impl Resolver<'_> {
    /// Makes the archive of a git tag (needs git and the network).
    pub(super) fn fetch_git(&self, git: &GitArchive, file: &str) -> Result<PathBuf> {
        if !crate::host::on_path("git") {
            bail!("git is not installed");
        }
        let tmp = self.layout.distfiles.join(format!(".git-{file}.tmp"));
        let _ = std::fs::remove_dir_all(&tmp);
        let clone = duct::cmd!(
            "git", "clone", "--quiet", "--bare", "--depth", "1", "--branch", &git.tag, &git.url,
            &tmp
        )
        .env("GIT_TERMINAL_PROMPT", "0")
        .stderr_to_stdout()
        .stdout_capture()
        .unchecked()
        .run()?;
        if !clone.status.success() {
            let _ = std::fs::remove_dir_all(&tmp);
            bail!(
                "git clone failed: {}",
                crate::exec::tail_str(&String::from_utf8_lossy(&clone.stdout), 3)
            );
        }
        let part = self.layout.distfiles.join(format!("{file}.part"));
        let made = duct::cmd!(
            "git",
            "-C",
            &tmp,
            "archive",
            "--format=tar",
            format!("--prefix={}", git.prefix),
            &git.tag
        )
        .pipe({
            let c = git.compressor();
            duct::cmd(c[0], &c[1..])
        })
        .stdout_path(&part)
        .run();
        let _ = std::fs::remove_dir_all(&tmp);
        made.context("git archive | gzip")?;
        let dest = self.layout.distfiles.join(file);
        std::fs::rename(&part, &dest)?;
        Ok(dest)
    }
}
