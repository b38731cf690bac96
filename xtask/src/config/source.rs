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
    /// A file of alpinist's checkout (a path relative to it) that is the substitute.
    #[serde(default)]
    pub local: Option<String>,
}

/// `git archive --format=tar --prefix=<prefix> <tag> | gzip -n` of a repository: the
/// archives GitHub and GitLab serve for a tag are byte-identical to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitArchive {
    pub url: String,
    pub tag: String,
    /// The archive's top directory, with its trailing slash (`openrc-0.63.2/`).
    pub prefix: String,
    /// `xz`: compressed with `xz -T0` (as `make dist` of some projects does, e.g.
    /// libucontext and ifupdown-ng); default `gzip -n`, as GitHub and GitLab do.
    #[serde(default)]
    pub compress: Option<String>,
}

impl GitArchive {
    /// The commands that make the file, for messages and documentation.
    pub fn commands(&self, file: &str) -> String {
        format!(
            "git clone --bare {} src.git && git -C src.git archive --format=tar --prefix={} {} | {} > {file}",
            self.url,
            self.prefix,
            self.tag,
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
