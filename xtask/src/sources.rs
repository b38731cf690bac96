//! Pinned, verified source files.
//!
//! A source is a file name, URLs, and a SHA-512 or SHA-256. It may also name the Debian
//! source package that carries it (`apt-get source --download-only NAME=VER`), and a
//! documented substitute with its own checksum for when the upstream file cannot be had
//! (Debian's DFSG repack of gcc, say). Resolution order: the distfiles directories, then
//! the URLs and mirrors (HTTP with resume), then the Debian archive. Every file is
//! checked against its checksum before use; a file that fails is moved aside into
//! `<distfiles>/.rejected/` and never used. Checksums decide, never file names.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256, Sha512};

use crate::layout::Layout;

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
}

impl GitArchive {
    /// The commands that make the file, for messages and documentation.
    pub fn commands(&self, file: &str) -> String {
        format!(
            "git clone --bare {} src.git && git -C src.git archive --format=tar --prefix={} {} | gzip -n > {file}",
            self.url, self.prefix, self.tag
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
    fn of(sha512: &Option<String>, sha256: &Option<String>, file: &str) -> Result<Checksum> {
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

/// Streams a file through a digest; lowercase hex.
fn hash_file<D: Digest>(path: &Path) -> Result<String> {
    let mut f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut buf = vec![0u8; 1 << 20];
    let mut h = D::new();
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
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

    fn candidates(&self) -> Result<Vec<Candidate<'_>>> {
        let mut v = vec![Candidate {
            file: &self.file,
            sum: self.checksum()?,
            urls: &self.urls,
            debian: self.debian.as_ref(),
            git: self.git.as_ref(),
            substitute: false,
        }];
        if let Some(s) = &self.substitute {
            v.push(Candidate {
                file: &s.file,
                sum: Checksum::of(&s.sha512, &s.sha256, &s.file)?,
                urls: &s.urls,
                debian: s.debian.as_ref(),
                git: s.git.as_ref(),
                substitute: true,
            });
        }
        Ok(v)
    }
}

struct Candidate<'a> {
    file: &'a str,
    sum: Checksum,
    urls: &'a [String],
    debian: Option<&'a DebianOrigin>,
    git: Option<&'a GitArchive>,
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
        let cands = spec.candidates()?;
        if self.offline {
            for c in &cands {
                if let Some(r) = self.in_distfiles(c, &mut tried)? {
                    return Ok(r);
                }
            }
            bail!(
                "source {} is not in {} and --offline forbids fetching it{}\n  put the file there (checked by {}), or run `cargo xtask fetch` while online",
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
        let made_by = spec
            .substitute
            .as_ref()
            .and_then(|s| s.git.as_ref().map(|g| (s, g)))
            .map(|(s, g)| {
                format!(
                    "\n  or make the documented substitute {} (checked by its own checksum) with\n    {}",
                    s.file,
                    g.commands(&s.file)
                )
            })
            .unwrap_or_default();
        bail!(
            "could not obtain a verified copy of source {}{}\n  put a copy with the right checksum into {}{made_by}",
            spec.file,
            fmt_tried(&tried),
            self.layout.distfiles.display()
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
        if let Some(git) = c.git {
            let origin = format!("git archive of tag {} of {}", git.tag, git.url);
            (self.say)(&format!("making {} ({origin})", c.file));
            let got = self.fetch_git(git, c.file);
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

    /// Makes the archive of a git tag (needs git and the network).
    fn fetch_git(&self, git: &GitArchive, file: &str) -> Result<PathBuf> {
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
                crate::runner::tail_str(&String::from_utf8_lossy(&clone.stdout), 3)
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
        .pipe(duct::cmd!("gzip", "-n"))
        .stdout_path(&part)
        .run();
        let _ = std::fs::remove_dir_all(&tmp);
        made.context("git archive | gzip")?;
        let dest = self.layout.distfiles.join(file);
        std::fs::rename(&part, &dest)?;
        Ok(dest)
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

    fn fetch_debian(&self, deb: &DebianOrigin, file: &str) -> Result<PathBuf> {
        let dir = self
            .layout
            .distfiles
            .join(".debian")
            .join(format!("{}_{}", deb.package, deb.version));
        std::fs::create_dir_all(&dir)?;
        let orig = dir.join(&deb.orig);
        if deb.binary && deb.member.is_none() {
            bail!(
                "{file}: a binary Debian origin ({}) needs a member",
                deb.orig
            );
        }
        if !orig.is_file() {
            // A source package comes with `apt-get source` (deb-src lines needed), a
            // binary one with `apt-get download`.
            let mut args: Vec<String> = if deb.binary {
                vec!["download".into()]
            } else {
                crate::host::ensure_deb_src(self.layout)?;
                vec!["source".into(), "--download-only".into()]
            };
            args.push(format!("{}={}", deb.package, deb.version));
            // apt-get may fail on a missing .dsc for an older revision while still
            // fetching the tarballs; the checksum below decides, so look at the files.
            let out = duct::cmd("apt-get", &args)
                .dir(&dir)
                .stderr_to_stdout()
                .stdout_capture()
                .unchecked()
                .run()
                .context("running apt-get (is this a Debian/Ubuntu host?)")?;
            if !orig.is_file() {
                let text = String::from_utf8_lossy(&out.stdout);
                let hint = if text.contains("You must put some 'deb-src'")
                    || text.contains("Unable to find a source package")
                {
                    "\n  enable deb-src lines with `cargo xtask setup` (as root) and run `apt-get update`"
                } else {
                    ""
                };
                bail!(
                    "apt-get {} did not produce {}:\n{}{hint}",
                    args[0],
                    deb.orig,
                    crate::runner::tail_str(&text, 15)
                );
            }
        }
        // A binary package's files are in its data tarball.
        let archive = if deb.binary {
            let data = dir.join(format!("{}.tar", deb.orig));
            if !data.is_file() {
                let tmp = dir.join(format!("{}.tar.part", deb.orig));
                duct::cmd!("dpkg-deb", "--fsys-tarfile", &orig)
                    .stdout_path(&tmp)
                    .run()
                    .with_context(|| format!("dpkg-deb --fsys-tarfile {}", orig.display()))?;
                std::fs::rename(&tmp, &data)?;
            }
            data
        } else {
            orig.clone()
        };
        let dest = self.layout.distfiles.join(file);
        let part = self.layout.distfiles.join(format!("{file}.part"));
        match &deb.member {
            None => {
                link_or_copy(&archive, &part)?;
            }
            Some(member) => extract_member(&archive, member, &part)
                .with_context(|| format!("extracting {member} from {}", orig.display()))?,
        }
        match deb.recompress.as_deref() {
            None => {}
            Some("gzip") => {
                let name = deb.member.as_deref().unwrap_or(&deb.orig);
                recompress_gzip(&part, name)
                    .with_context(|| format!("recompressing {name} with gzip -n -9"))?;
            }
            Some(other) => bail!("{file}: unknown recompress {other:?} (known: \"gzip\")"),
        }
        std::fs::rename(&part, &dest)?;
        Ok(dest)
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

fn link_or_copy(from: &Path, to: &Path) -> Result<()> {
    let _ = std::fs::remove_file(to);
    if std::fs::hard_link(from, to).is_ok() {
        return Ok(());
    }
    std::fs::copy(from, to)
        .map(|_| ())
        .with_context(|| format!("copying {} to {}", from.display(), to.display()))
}

/// Copies one member out of a (gzip or xz compressed) tarball.
fn extract_member(archive: &Path, member: &str, dest: &Path) -> Result<()> {
    let f = File::open(archive)?;
    let reader: Box<dyn Read> = match archive.extension().and_then(|e| e.to_str()) {
        Some("gz") | Some("tgz") => Box::new(flate2::read::GzDecoder::new(f)),
        Some("xz") => Box::new(xz2::read::XzDecoder::new(f)),
        _ => Box::new(f),
    };
    let mut ar = tar::Archive::new(reader);
    for entry in ar.entries()? {
        let mut entry = entry?;
        if entry.path()?.to_string_lossy().trim_start_matches("./") == member {
            let mut out = File::create(dest)?;
            std::io::copy(&mut entry, &mut out)?;
            return Ok(());
        }
    }
    Err(anyhow!("no member {member} in {}", archive.display()))
}

/// Replaces `path` (a compressed tarball named like `name`) with its tar stream compressed
/// by `gzip -n -9`.
fn recompress_gzip(path: &Path, name: &str) -> Result<()> {
    let tar = PathBuf::from(format!("{}.tar", path.display()));
    {
        let f = File::open(path)?;
        let mut reader: Box<dyn Read> = if name.ends_with(".xz") {
            Box::new(xz2::read::XzDecoder::new(f))
        } else if name.ends_with(".gz") {
            Box::new(flate2::read::GzDecoder::new(f))
        } else {
            bail!("{name}: only .xz and .gz can be recompressed");
        };
        let mut out = File::create(&tar)?;
        std::io::copy(&mut reader, &mut out)?;
    }
    let made = duct::cmd!("gzip", "-n", "-9")
        .stdin_path(&tar)
        .stdout_path(path)
        .run();
    let _ = std::fs::remove_file(&tar);
    made.context("running gzip")?;
    Ok(())
}

/// Downloads `url` to `dest`, resuming from `dest.part` after a dropped connection.
pub fn download(url: &str, dest: &Path) -> Result<()> {
    let part = PathBuf::from(format!("{}.part", dest.display()));
    let mut last_err = None;
    for _attempt in 0..5 {
        match download_once(url, &part) {
            Ok(true) => {
                std::fs::rename(&part, dest)?;
                return Ok(());
            }
            Ok(false) => last_err = Some(anyhow!("connection ended early")),
            Err(e) => last_err = Some(e),
        }
    }
    Err(last_err.unwrap_or_else(|| anyhow!("download failed")))
}

/// One attempt; Ok(true) when the body was complete.
fn download_once(url: &str, part: &Path) -> Result<bool> {
    if let Some(path) = url.strip_prefix("file://") {
        // A local mirror directory (`--mirror file:///path`).
        std::fs::copy(path, part).with_context(|| format!("copying {path}"))?;
        return Ok(true);
    }
    let have = std::fs::metadata(part).map(|m| m.len()).unwrap_or(0);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(std::time::Duration::from_secs(20)))
        .timeout_recv_body(Some(std::time::Duration::from_secs(120)))
        .build()
        .into();
    let mut req = agent.get(url);
    if have > 0 {
        req = req.header("Range", format!("bytes={have}-"));
    }
    let mut resp = req.call().map_err(|e| anyhow!("{e}"))?;
    let status = resp.status().as_u16();
    let resumed = status == 206;
    let expected_len: Option<u64> = resp
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let mut out = if resumed {
        OpenOptions::new().append(true).open(part)?
    } else {
        File::create(part)?
    };
    let mut reader = resp.body_mut().with_config().limit(u64::MAX).reader();
    let mut buf = vec![0u8; 1 << 16];
    let mut got = 0u64;
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                out.write_all(&buf[..n])?;
                got += n as u64;
            }
            Err(_) => {
                out.flush()?;
                return Ok(false);
            }
        }
    }
    out.flush()?;
    Ok(match expected_len {
        Some(len) => got == len,
        None => true,
    })
}
