//! Pinned, verified source files.
//!
//! A source is a file name, URLs, and a SHA-512 or SHA-256. It may also name the Debian
//! source package that carries it (`apt-get source --download-only NAME=VER`), and a
//! documented substitute with its own checksum for when the upstream file cannot be had
//! (Debian's DFSG repack of gcc, say). Resolution order: the distfiles directories, then
//! the URLs and mirrors (HTTP with resume), then the Debian archive. Every file is
//! checked against its checksum before use; a file that fails is moved aside into
//! `<distfiles>/.rejected/` and never used. Checksums decide, never file names.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};

use crate::config::source::{Checksum, DebianOrigin, SourceSpec};
use crate::fsutil::link_or_copy;
use crate::layout::Layout;

mod debian;
mod download;

pub use download::download;

/// The files a spec accepts: its own, then its documented substitute.
fn candidates(spec: &SourceSpec) -> Result<Vec<Candidate<'_>>> {
    let mut v = vec![Candidate {
        file: &spec.file,
        sum: spec.checksum()?,
        urls: &spec.urls,
        debian: spec.debian.as_ref(),
        substitute: false,
    }];
    if let Some(s) = &spec.substitute {
        v.push(Candidate {
            file: &s.file,
            sum: Checksum::of(&s.sha512, &s.sha256, &s.file)?,
            urls: &s.urls,
            debian: s.debian.as_ref(),
            substitute: true,
        });
    }
    Ok(v)
}

struct Candidate<'a> {
    file: &'a str,
    sum: Checksum,
    urls: &'a [String],
    debian: Option<&'a DebianOrigin>,
    substitute: bool,
}

/// A verified file, ready to use.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub path: PathBuf,
    /// The documented substitute was used instead of the upstream file.
    pub substitute: bool,
    /// Where it came from, for the manifest and messages.
    pub origin: String,
}

/// Finds, fetches and verifies source files.
pub struct Resolver<'a> {
    pub layout: &'a Layout,
    pub mirrors: &'a [String],
    pub offline: bool,
    /// Called with progress messages ("downloading …").
    pub say: &'a (dyn Fn(&str) + Sync),
}

impl Resolver<'_> {
    pub fn resolve(&self, spec: &SourceSpec) -> Result<Resolved> {
        let dist = &self.layout.distfiles;
        std::fs::create_dir_all(dist)?;
        let mut tried: Vec<String> = Vec::new();
        let cands = candidates(spec)?;
        // (a) distfiles: the user's directory, then the shared cache.
        for c in &cands {
            for dir in [dist.clone(), self.layout.shared_distfiles()] {
                let p = dir.join(c.file);
                if !p.is_file() {
                    continue;
                }
                match self.verify(
                    &p,
                    &c.sum,
                    &format!("distfiles directory {}", dir.display()),
                ) {
                    Ok(()) => {
                        self.share(&p, c.file);
                        return Ok(Resolved {
                            path: p,
                            substitute: c.substitute,
                            origin: format!("{}", dir.display()),
                        });
                    }
                    Err(e) => tried.push(format!("{e:#}")),
                }
            }
        }
        if self.offline {
            bail!(
                "source {} is not in {} and --offline forbids fetching it{}\n  put the file there (checked by {}), or run `cargo xtask fetch` while online",
                spec.file,
                dist.display(),
                fmt_tried(&tried),
                spec.checksum()?.algo()
            );
        }
        // (b) URLs, then mirrors.
        for c in &cands {
            let mut urls: Vec<String> = c.urls.to_vec();
            for m in self.mirrors {
                urls.push(format!("{}/{}", m.trim_end_matches('/'), c.file));
            }
            for url in urls {
                let dest = dist.join(c.file);
                (self.say)(&format!("downloading {url}"));
                match download(&url, &dest) {
                    Ok(()) => match self.verify(&dest, &c.sum, &url) {
                        Ok(()) => {
                            self.share(&dest, c.file);
                            return Ok(Resolved {
                                path: dest,
                                substitute: c.substitute,
                                origin: url,
                            });
                        }
                        Err(e) => tried.push(format!("{e:#}")),
                    },
                    Err(e) => tried.push(format!("{url}: {e:#}")),
                }
            }
        }
        // (c) the Debian source archive.
        for c in &cands {
            let Some(deb) = c.debian else { continue };
            let origin = format!(
                "Debian source package {}={}{}",
                deb.package,
                deb.version,
                deb.member
                    .as_deref()
                    .map(|m| format!(" (member {m} of {})", deb.orig))
                    .unwrap_or_default()
            );
            (self.say)(&format!("fetching {origin}"));
            match self.fetch_debian(deb, c.file) {
                Ok(dest) => match self.verify(&dest, &c.sum, &origin) {
                    Ok(()) => {
                        self.share(&dest, c.file);
                        return Ok(Resolved {
                            path: dest,
                            substitute: c.substitute,
                            origin,
                        });
                    }
                    Err(e) => tried.push(format!("{e:#}")),
                },
                Err(e) => tried.push(format!("{origin}: {e:#}")),
            }
        }
        bail!(
            "could not obtain a verified copy of source {}{}\n  put a copy with the right checksum into {}",
            spec.file,
            fmt_tried(&tried),
            dist.display()
        )
    }

    /// Checks a file; a mismatch moves it aside and names both sums and where it came from.
    pub fn verify(&self, path: &Path, sum: &Checksum, origin: &str) -> Result<()> {
        let actual = sum.compute(path)?;
        if actual == sum.expected() {
            return Ok(());
        }
        let rejected = self.layout.distfiles.join(".rejected");
        std::fs::create_dir_all(&rejected)?;
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
        let aside = rejected.join(format!("{name}.{stamp}"));
        std::fs::rename(path, &aside)
            .or_else(|_| std::fs::copy(path, &aside).map(|_| ()))
            .with_context(|| format!("moving bad file {} aside", path.display()))?;
        let _ = std::fs::remove_file(path);
        bail!(
            "checksum mismatch for {name} (from {origin}):\n  expected {} {}\n  actual   {} {}\n  the file was moved aside to {} and will not be used",
            sum.algo(),
            sum.expected(),
            sum.algo(),
            actual,
            aside.display()
        )
    }

    /// Keeps a verified copy in the shared cache so other checkouts find it.
    fn share(&self, path: &Path, file: &str) {
        let shared = self.layout.shared_distfiles();
        let dest = shared.join(file);
        if dest.exists() || std::fs::create_dir_all(&shared).is_err() {
            return;
        }
        let _ = link_or_copy(path, &dest);
    }
}

fn fmt_tried(tried: &[String]) -> String {
    if tried.is_empty() {
        return String::new();
    }
    let mut s = String::from("\n  tried:");
    for t in tried {
        for (i, l) in t.lines().enumerate() {
            s.push_str(if i == 0 { "\n  - " } else { "\n    " });
            s.push_str(l);
        }
    }
    s
}
