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

use crate::config::source::{Checksum, DebianOrigin, GitArchive, GitFile, SourceSpec};
use crate::fsutil::link_or_copy;
use crate::layout::Layout;

mod debian;
mod download;
mod git;
pub mod patches;
pub mod substitute;

pub use download::download;

/// The files a spec accepts: its own, then its documented substitute.
fn candidates(spec: &SourceSpec) -> Result<Vec<Candidate<'_>>> {
    let mut v = vec![Candidate {
        file: &spec.file,
        sum: spec.checksum()?,
        urls: &spec.urls,
        debian: spec.debian.as_ref(),
        git: spec.git.as_ref(),
        git_file: spec.git_file.as_ref(),
        local: None,
        substitute: false,
    }];
    if let Some(s) = &spec.substitute {
        v.push(Candidate {
            file: &s.file,
            sum: Checksum::of(&s.sha512, &s.sha256, &s.file)?,
            urls: &s.urls,
            debian: s.debian.as_ref(),
            git: s.git.as_ref(),
            git_file: s.git_file.as_ref(),
            local: s.local.as_deref(),
            substitute: true,
        });
    }
    Ok(v)
}

struct Candidate<'a> {
    file: &'a str,
    /// A file of alpinist's checkout.
    local: Option<&'a str>,
    sum: Checksum,
    urls: &'a [String],
    debian: Option<&'a DebianOrigin>,
    git: Option<&'a GitArchive>,
    git_file: Option<&'a GitFile>,
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
    /// Finds a verified copy: the file itself from the distfiles, its URLs and mirrors,
    /// then Debian's archive; only when none of these has it, the documented substitute,
    /// looked for in the same places and then made from its git tag.
    pub fn resolve(&self, spec: &SourceSpec) -> Result<Resolved> {
        std::fs::create_dir_all(&self.layout.distfiles)?;
        let mut tried: Vec<String> = Vec::new();
        let cands = candidates(spec)?;
        if self.offline {
            for c in &cands {
                if let Some(r) = self.in_distfiles(c, &mut tried)? {
                    return Ok(r);
                }
            }
            bail!(
                "source {} is not in {} and --offline forbids fetching it{}\n  put the file there (checked by {}), or, while online, run `cargo xtask fetch --arch ARCH [--aports PATH] [--set SET]` with the same --distfiles: it obtains every source the set's bootstrap needs",
                spec.file,
                self.layout.distfiles.display(),
                fmt_tried(&tried),
                spec.checksum()?.algo()
            );
        }
        for c in &cands {
            if let Some(r) = self.find(c, &mut tried)? {
                return Ok(r);
            }
        }
        bail!(
            "could not obtain a verified copy of source {}{}\n  put a copy with the right checksum into {}{}",
            spec.file,
            fmt_tried(&tried),
            self.layout.distfiles.display(),
            how_to_make(spec)
        )
    }

    /// One candidate from the distfiles directories (the user's, then the shared cache).
    fn in_distfiles(&self, c: &Candidate, tried: &mut Vec<String>) -> Result<Option<Resolved>> {
        for dir in [
            self.layout.distfiles.clone(),
            self.layout.shared_distfiles(),
        ] {
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
                    return Ok(Some(Resolved {
                        path: p,
                        substitute: c.substitute,
                        origin: format!("{}", dir.display()),
                    }));
                }
                Err(e) => tried.push(format!("{e:#}")),
            }
        }
        tried.push(format!(
            "{}: not in {} or {}",
            c.file,
            self.layout.distfiles.display(),
            self.layout.shared_distfiles().display()
        ));
        Ok(None)
    }

    /// One candidate from everywhere it may be: distfiles, URLs and mirrors, Debian, git.
    fn find(&self, c: &Candidate, tried: &mut Vec<String>) -> Result<Option<Resolved>> {
        if let Some(r) = self.in_distfiles(c, tried)? {
            return Ok(Some(r));
        }
        let dist = &self.layout.distfiles;
        let mut urls: Vec<String> = c.urls.to_vec();
        for m in self.mirrors {
            urls.push(format!("{}/{}", m.trim_end_matches('/'), c.file));
        }
        for url in urls {
            (self.say)(&format!("downloading {url}"));
            let dest = dist.join(c.file);
            let got = download(&url, &dest).map(|()| dest);
            if let Some(r) = self.checked(c, url, got, tried) {
                return Ok(Some(r));
            }
        }
        if let Some(deb) = c.debian {
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
            let got = self.fetch_debian(deb, c.file);
            if let Some(r) = self.checked(c, origin, got, tried) {
                return Ok(Some(r));
            }
        }
        if let Some(local) = c.local {
            let from = self.layout.repo.join(local);
            let dest = dist.join(c.file);
            let got = std::fs::copy(&from, &dest)
                .map(|_| dest)
                .with_context(|| format!("copying {}", from.display()));
            if let Some(r) = self.checked(c, format!("alpinist's {local}"), got, tried) {
                return Ok(Some(r));
            }
        }
        if let Some(git) = c.git {
            let origin = git_origin(git);
            (self.say)(&format!("making {} ({origin})", c.file));
            let got = self.fetch_git(git, c.file);
            if let Some(r) = self.checked(c, origin, got, tried) {
                return Ok(Some(r));
            }
        }
        if let Some(g) = c.git_file {
            let origin = format!("{} at commit {} of {}", g.path, g.commit, g.url);
            (self.say)(&format!("taking {} ({origin})", c.file));
            let got = self.fetch_git_file(g, c.file);
            if let Some(r) = self.checked(c, origin, got, tried) {
                return Ok(Some(r));
            }
        }
        Ok(None)
    }

    /// A fetched file, verified; a failure is recorded in `tried`.
    fn checked(
        &self,
        c: &Candidate,
        origin: String,
        got: Result<PathBuf>,
        tried: &mut Vec<String>,
    ) -> Option<Resolved> {
        let verified = got.and_then(|path| {
            self.verify(&path, &c.sum, &origin)?;
            Ok(path)
        });
        match verified {
            Ok(path) => {
                self.share(&path, c.file);
                Some(Resolved {
                    path,
                    substitute: c.substitute,
                    origin,
                })
            }
            Err(e) => {
                tried.push(format!("{origin}: {e:#}"));
                None
            }
        }
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

/// A git archive origin, for the manifest and messages.
fn git_origin(git: &GitArchive) -> String {
    let trees: Vec<String> = git
        .trees()
        .iter()
        .map(|t| {
            let what = if t.tag.is_some() { "tag" } else { "commit" };
            format!("{what} {} of {}", t.name(), t.url)
        })
        .collect();
    format!("git archive of {}", trees.join(" + "))
}

/// How to make a missing file by hand, when its origins are git repositories alpinist
/// could not reach: the same commands it runs.
fn how_to_make(spec: &SourceSpec) -> String {
    let mut s = String::new();
    let mut add = |file: &str, what: &str, cmds: String| {
        s.push_str(&format!(
            "\n  or make {what}{file} (checked by its own checksum) where the repository can be reached, with\n    {cmds}"
        ));
    };
    if let Some(g) = &spec.git {
        add(&spec.file, "", g.commands(&spec.file));
    }
    if let Some(g) = &spec.git_file {
        add(&spec.file, "", g.commands(&spec.file));
    }
    if let Some(sub) = &spec.substitute {
        if let Some(g) = &sub.git {
            add(
                &sub.file,
                "the documented substitute ",
                g.commands(&sub.file),
            );
        }
        if let Some(g) = &sub.git_file {
            add(
                &sub.file,
                "the documented substitute ",
                g.commands(&sub.file),
            );
        }
    }
    s
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
