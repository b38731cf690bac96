//! Sources made from public git repositories: the archive of a tag (`git archive | gzip
//! -n`, as GitHub and GitLab make their tag archives), of several trees in one stream
//! (a tag and its submodule's commit), or one file at a commit.
//!
//! Each tree is fetched alone (`git fetch --depth 1 <url> <tag or commit>` into an empty
//! bare repository), so a mirror configured with `url.<mirror>.insteadOf` serves it as the
//! network would.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};

use crate::config::source::{GitArchive, GitFile, GitTree};
use crate::exec::Cmd;
use crate::sources::Resolver;

impl Resolver<'_> {
    /// Makes the archive of a tag (or of several trees) from its repositories.
    pub(super) fn fetch_git(&self, git: &GitArchive, file: &str) -> Result<PathBuf> {
        git.check()?;
        let scratch = self.git_scratch(file)?;
        let made = self.archive_trees(git, file, &scratch.0);
        drop(scratch);
        made
    }

    /// Takes one file of a repository at a commit, byte for byte.
    pub(super) fn fetch_git_file(&self, g: &GitFile, file: &str) -> Result<PathBuf> {
        let scratch = self.git_scratch(file)?;
        let repo = scratch.0.join("0.git");
        self.fetch_tree(&g.tree(), &repo)?;
        let part = self.layout.distfiles.join(format!("{file}.part"));
        Cmd::new("git")
            .arg("-C")
            .arg(&repo)
            .args(["cat-file", "blob"])
            .arg(format!("FETCH_HEAD:{}", g.path))
            .run_to_file(&part)
            .with_context(|| format!("{} has no file {} at commit {}", g.url, g.path, g.commit))?;
        let dest = self.layout.distfiles.join(file);
        std::fs::rename(&part, &dest)?;
        Ok(dest)
    }

    fn archive_trees(&self, git: &GitArchive, file: &str, scratch: &Path) -> Result<PathBuf> {
        let mut tars = Vec::new();
        for (i, t) in git.trees().iter().enumerate() {
            let repo = scratch.join(format!("{i}.git"));
            self.fetch_tree(t, &repo)?;
            let tar = scratch.join(format!("{i}.tar"));
            Cmd::new("git")
                .arg("-C")
                .arg(&repo)
                .args(["archive", "--format=tar"])
                .arg(format!("--prefix={}", t.prefix))
                .arg("FETCH_HEAD")
                .run_to_file(&tar)
                .with_context(|| format!("git archive of {} {}", t.url, t.name()))?;
            tars.push(tar);
        }
        let tar = if let [one] = tars.as_slice() {
            one.clone()
        } else {
            let all = scratch.join("all.tar");
            concatenate(&tars, &all)?;
            all
        };
        // The compressor reads the same bytes whatever the tar's size: through a file.
        let part = self.layout.distfiles.join(format!("{file}.part"));
        let c = git.compressor();
        Cmd::new(c[0])
            .args(&c[1..])
            .stdin_file(&tar)
            .run_to_file(&part)
            .with_context(|| format!("{} of the archive", c.join(" ")))?;
        let dest = self.layout.distfiles.join(file);
        std::fs::rename(&part, &dest)?;
        Ok(dest)
    }

    /// `git fetch --depth 1` of one tag or commit into a new bare repository.
    fn fetch_tree(&self, t: &GitTree, repo: &Path) -> Result<()> {
        if !crate::host::on_path("git") {
            bail!("git is not installed");
        }
        let rev = t.rev()?;
        let url = self.git_url(&t.url);
        let init = Cmd::new("git")
            .args(["init", "--quiet", "--bare"])
            .arg(repo)
            .output_combined()?;
        if !init.status.success() {
            bail!("git init {} failed", repo.display());
        }
        let fetch = Cmd::new("git")
            .arg("-C")
            .arg(repo)
            .args(["fetch", "--quiet", "--depth", "1", &url, &rev])
            .env("GIT_TERMINAL_PROMPT", "0")
            .output_combined()?;
        if !fetch.status.success() {
            bail!(
                "git fetch {url} {} failed: {}",
                t.name(),
                crate::exec::tail_str(&String::from_utf8_lossy(&fetch.stdout), 3)
            );
        }
        Ok(())
    }

    /// A repository's URL, or a path relative to alpinist's checkout made absolute.
    fn git_url(&self, url: &str) -> String {
        if url.contains("://") || url.starts_with('/') || url.contains('@') {
            url.to_string()
        } else {
            self.layout.repo.join(url).display().to_string()
        }
    }

    /// An empty scratch directory for one file's repositories, removed when dropped.
    fn git_scratch(&self, file: &str) -> Result<Scratch> {
        let dir = self
            .layout
            .distfiles
            .join(format!(".git-{file}.{}.tmp", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Scratch(dir))
    }
}

struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The tar archives `tars` as one: the members of each in order, each archive's
/// end-of-archive blocks dropped but the last one's, which ends the whole.
fn concatenate(tars: &[PathBuf], out: &Path) -> Result<()> {
    let mut w = std::io::BufWriter::new(
        std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?,
    );
    for (i, t) in tars.iter().enumerate() {
        let bytes = std::fs::read(t).with_context(|| format!("reading {}", t.display()))?;
        let end = if i + 1 == tars.len() {
            bytes.len()
        } else {
            members_end(&bytes).with_context(|| format!("{} is not a tar archive", t.display()))?
        };
        w.write_all(&bytes[..end])?;
    }
    w.flush()?;
    Ok(())
}

/// Where a tar archive's members end: the offset of its first all-zero header block.
fn members_end(tar: &[u8]) -> Result<usize> {
    let mut off = 0usize;
    while off + 512 <= tar.len() {
        let header = &tar[off..off + 512];
        if header.iter().all(|&b| b == 0) {
            return Ok(off);
        }
        let size = tar_size(&header[124..136])?;
        let blocks = size.div_ceil(512);
        off = off
            .checked_add(512 + blocks * 512)
            .filter(|&o| o <= tar.len())
            .ok_or_else(|| anyhow::anyhow!("a member at offset {off} runs past the end"))?;
    }
    bail!("no end-of-archive block")
}

/// A tar header's size field: octal digits, or GNU's base-256 for large members.
fn tar_size(field: &[u8]) -> Result<usize> {
    if field[0] & 0x80 != 0 {
        let mut n: u64 = u64::from(field[0] & 0x7f);
        for &b in &field[1..] {
            n = n
                .checked_mul(256)
                .and_then(|n| n.checked_add(u64::from(b)))
                .ok_or_else(|| anyhow::anyhow!("size too large"))?;
        }
        return usize::try_from(n).context("size too large");
    }
    let mut text = String::new();
    field
        .iter()
        .take_while(|&&b| b != 0)
        .for_each(|&b| text.push(b as char));
    let digits = text.trim();
    if digits.is_empty() {
        return Ok(0);
    }
    usize::from_str_radix(digits, 8).with_context(|| format!("bad size field {digits:?}"))
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in files {
            let mut h = tar::Header::new_ustar();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn names(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
        let mut ar = tar::Archive::new(bytes);
        ar.entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let mut v = Vec::new();
                e.read_to_end(&mut v).unwrap();
                (e.path().unwrap().display().to_string(), v)
            })
            .collect()
    }

    #[test]
    fn archives_are_concatenated_member_by_member() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a.tar");
        let b = d.path().join("b.tar");
        std::fs::write(&a, tar_of(&[("x/1", b"one"), ("x/2", &[7u8; 700])])).unwrap();
        std::fs::write(&b, tar_of(&[("x/sub/3", b"three")])).unwrap();
        let out = d.path().join("all.tar");
        concatenate(&[a, b.clone()], &out).unwrap();
        let all = std::fs::read(&out).unwrap();
        assert_eq!(
            names(&all),
            [
                ("x/1".to_string(), b"one".to_vec()),
                ("x/2".to_string(), vec![7u8; 700]),
                ("x/sub/3".to_string(), b"three".to_vec())
            ]
        );
        // The last archive's trailer ends the whole.
        let last = std::fs::read(&b).unwrap();
        assert!(all.ends_with(&last[members_end(&last).unwrap()..]));
    }

    #[test]
    fn a_truncated_archive_is_not_taken_for_members() {
        let t = tar_of(&[("x/2", &[7u8; 700])]);
        assert!(members_end(&t[..600]).is_err());
        assert_eq!(members_end(&t).unwrap(), 512 + 1024);
    }
}
