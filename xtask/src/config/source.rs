//! A pinned source file, as `toolchains/components.toml` and the Debian table describe it.

use std::path::Path;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use sha2::{Sha256, Sha512};

use crate::fsutil::hash_file;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// The file name the source is stored under.
    pub file: String,
    #[serde(default)]
    pub urls: Vec<String>,
    #[serde(default)]
    pub sha512: Option<String>,
    #[serde(default)]
    pub sha256: Option<String>,
    /// A Debian source package whose orig tarball is (or contains) this very file.
    #[serde(default)]
    pub debian: Option<DebianOrigin>,
    /// The upstream git tag whose archive is this very file (GitHub's and GitLab's tag
    /// archives are `git archive | gzip -n`).
    #[serde(default)]
    pub git: Option<GitArchive>,
    /// A file of a git repository at a commit that is this very file.
    #[serde(default)]
    pub git_file: Option<GitFile>,
    /// A documented substitute with its own checksum.
    #[serde(default)]
    pub substitute: Option<Substitute>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Substitute {
    pub file: String,
    #[serde(default)]
    pub sha512: Option<String>,
    #[serde(default)]
    pub sha256: Option<String>,
    /// Why the substitute is acceptable and what differs from upstream.
    pub why: String,
    #[serde(default)]
    pub urls: Vec<String>,
    #[serde(default)]
    pub debian: Option<DebianOrigin>,
    /// An archive of an upstream git tag: how the substitute is made (documented, and
    /// made by alpinist when it can reach the repository).
    #[serde(default)]
    pub git: Option<GitArchive>,
    /// A file of a git repository at a commit (`git cat-file blob <commit>:<path>`).
    #[serde(default)]
    pub git_file: Option<GitFile>,
    /// A file of alpinist's checkout (a path relative to it) that is the substitute.
    #[serde(default)]
    pub local: Option<String>,
}

/// `git archive --format=tar --prefix=<prefix> <tag> | gzip -n` of a repository: the
/// archives GitHub and GitLab serve for a tag are byte-identical to it. With `with`, the
/// archives of further trees (another repository's commit, say a submodule) follow in
/// the same tar stream before it is compressed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitArchive {
    /// The repository: a URL, or a path relative to alpinist's checkout (a fixture's
    /// bundle). `git config url.<mirror>.insteadOf <url>` reaches it through a mirror.
    pub url: String,
    /// The tag archived, or (`commit`) a full commit id.
    #[serde(default)]
    pub tag: Option<String>,
    #[serde(default)]
    pub commit: Option<String>,
    /// The archive's top directory, with its trailing slash (`openrc-0.63.2/`).
    pub prefix: String,
    /// `xz`: compressed with `xz -T0` (as `make dist` of some projects does, e.g.
    /// libucontext and ifupdown-ng); default `gzip -n`, as GitHub and GitLab do.
    #[serde(default)]
    pub compress: Option<String>,
    /// Further trees in the same archive, in this order (isl's imath submodule under
    /// `isl-0.26/imath/`): each archive's members follow the previous one's, as
    /// `tar --concatenate` puts them, and the end-of-archive blocks are the last one's.
    #[serde(default)]
    pub with: Vec<GitTree>,
}

/// One tree of a repository archived under a prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitTree {
    pub url: String,
    #[serde(default)]
    pub tag: Option<String>,
    #[serde(default)]
    pub commit: Option<String>,
    pub prefix: String,
}

impl GitTree {
    /// What `git fetch` asks for: the tag's ref or the commit id. Exactly one must be set.
    pub fn rev(&self) -> Result<String> {
        match (&self.tag, &self.commit) {
            (Some(t), None) => Ok(format!("refs/tags/{t}")),
            (None, Some(c)) if c.len() == 40 && c.chars().all(|x| x.is_ascii_hexdigit()) => {
                Ok(c.to_ascii_lowercase())
            }
            (None, Some(c)) => bail!(
                "git origin {}: commit {c:?} must be a full 40-digit commit id (a short one cannot be fetched)",
                self.url
            ),
            _ => bail!(
                "git origin {}: give exactly one of tag and commit",
                self.url
            ),
        }
    }
    /// The tag or commit, for messages.
    pub fn name(&self) -> &str {
        self.tag
            .as_deref()
            .or(self.commit.as_deref())
            .unwrap_or("?")
    }
}

impl GitArchive {
    /// The trees archived, in order: the repository's own, then `with`.
    pub fn trees(&self) -> Vec<GitTree> {
        let mut v = vec![GitTree {
            url: self.url.clone(),
            tag: self.tag.clone(),
            commit: self.commit.clone(),
            prefix: self.prefix.clone(),
        }];
        v.extend(self.with.iter().cloned());
        v
    }

    /// The commands that make the file, for messages and documentation.
    pub fn commands(&self, file: &str) -> String {
        let mut parts = Vec::new();
        for (i, t) in self.trees().iter().enumerate() {
            parts.push(format!(
                "git init --bare {i}.git && git -C {i}.git fetch --depth 1 {} {} && git -C {i}.git archive --format=tar --prefix={} FETCH_HEAD > {i}.tar",
                t.url,
                t.rev().unwrap_or_else(|e| e.to_string()),
                t.prefix
            ));
        }
        let cat = if self.with.is_empty() {
            "cat 0.tar".to_string()
        } else {
            "tar --concatenate of the .tar files in order".to_string()
        };
        format!(
            "{} && {cat} | {} > {file}",
            parts.join(" && "),
            self.compressor().join(" ")
        )
    }

    /// The compressor the archive goes through.
    pub fn compressor(&self) -> Vec<&'static str> {
        match self.compress.as_deref() {
            Some("xz") => vec!["xz", "-T0"],
            _ => vec!["gzip", "-n"],
        }
    }

    /// A spelling mistake in `compress` is an error, not gzip.
    pub fn check(&self) -> Result<()> {
        if let Some(c) = self
            .compress
            .as_deref()
            .filter(|c| *c != "xz" && *c != "gzip")
        {
            bail!("git origin {}: compress {c:?} is not xz or gzip", self.url);
        }
        for t in self.trees() {
            t.rev()?;
        }
        Ok(())
    }
}

/// One file of a repository at a commit, byte for byte (`git cat-file blob
/// <commit>:<path>`): a tarball a packaging repository keeps, say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitFile {
    /// A URL, or a path relative to alpinist's checkout.
    pub url: String,
    /// A full commit id.
    pub commit: String,
    /// The file's path in that commit.
    pub path: String,
}

impl GitFile {
    /// The repository and commit, as a tree without a prefix (for fetching).
    pub fn tree(&self) -> GitTree {
        GitTree {
            url: self.url.clone(),
            tag: None,
            commit: Some(self.commit.clone()),
            prefix: String::new(),
        }
    }
    pub fn commands(&self, file: &str) -> String {
        format!(
            "git init --bare src.git && git -C src.git fetch --depth 1 {} {} && git -C src.git cat-file blob {}:{} > {file}",
            self.url, self.commit, self.commit, self.path
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DebianOrigin {
    /// Source package name (`gcc-15`).
    pub package: String,
    /// Full Debian version (`15.2.0-12`).
    pub version: String,
    /// The orig tarball's file name (`gcc-15_15.2.0.orig.tar.gz`).
    pub orig: String,
    /// A member inside the orig tarball that is the file itself.
    #[serde(default)]
    pub member: Option<String>,
    /// `orig` is a binary package (`apt-get download`, e.g. `netbase_6.4_all.deb`) and
    /// `member` a file of its data (`etc/services`): for files whose source package is
    /// no longer in the archive at that version.
    #[serde(default)]
    pub binary: bool,
    /// `gzip`: the file is the orig's tarball decompressed and compressed again with
    /// `gzip -n -9` — automake's `make dist` compresses its .tar.gz so, so a Debian .tar.xz
    /// of the same dist run gives back the upstream .tar.gz byte for byte (the checksum
    /// decides).
    #[serde(default)]
    pub recompress: Option<String>,
}

/// A checksum that a file must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checksum {
    Sha512(String),
    Sha256(String),
}

impl Checksum {
    pub(crate) fn of(
        sha512: &Option<String>,
        sha256: &Option<String>,
        file: &str,
    ) -> Result<Checksum> {
        match (sha512, sha256) {
            (Some(s), _) => Ok(Checksum::Sha512(s.to_ascii_lowercase())),
            (None, Some(s)) => Ok(Checksum::Sha256(s.to_ascii_lowercase())),
            (None, None) => bail!("source {file} has neither sha512 nor sha256; add one"),
        }
    }
    pub fn algo(&self) -> &'static str {
        match self {
            Checksum::Sha512(_) => "sha512",
            Checksum::Sha256(_) => "sha256",
        }
    }
    pub fn expected(&self) -> &str {
        match self {
            Checksum::Sha512(s) | Checksum::Sha256(s) => s,
        }
    }
    /// Hashes a file with this checksum's algorithm.
    pub fn compute(&self, path: &Path) -> Result<String> {
        match self {
            Checksum::Sha512(_) => hash_file::<Sha512>(path),
            Checksum::Sha256(_) => hash_file::<Sha256>(path),
        }
    }
}

impl SourceSpec {
    pub fn checksum(&self) -> Result<Checksum> {
        Checksum::of(&self.sha512, &self.sha256, &self.file)
    }
    /// What identifies this source in a step key: every checksum it accepts.
    pub fn key_value(&self) -> String {
        let mut v = format!(
            "{}={}",
            self.file,
            self.sha512
                .as_deref()
                .or(self.sha256.as_deref())
                .unwrap_or("-")
        );
        if let Some(s) = &self.substitute {
            v.push_str(&format!(
                " substitute {}={}",
                s.file,
                s.sha512.as_deref().or(s.sha256.as_deref()).unwrap_or("-")
            ));
        }
        v
    }
}
