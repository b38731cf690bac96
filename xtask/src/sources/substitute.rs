//! Where an aport's remote source files can be had besides the recipe's own URLs
//! (`toolchains/sources.toml`): byte-identical copies in Debian's archive, and documented
//! substitutes — the same sources in another form (Debian's repack, an archive of the
//! upstream git tag) — used only when the recipe's own file cannot be had.
//!
//! The recipe is never edited for a substitute. The resolver accepts the substitute's
//! own checksum in its place, and [`adapt`] turns the verified substitute into a file
//! with the recipe's file name and top directory (repacked deterministically, with the
//! entry's patches applied where its contents need them), so the recipe unpacks what it
//! expects.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _, Result};
use sha2::{Digest, Sha256};

pub use crate::config::aport_sources::AportSubstitute;
use crate::config::aport_sources::SourcesFile;
use crate::config::source::{DebianOrigin, GitArchive, GitFile, SourceSpec, Substitute};
use crate::exec::Cmd;
use crate::sources::patches;

/// Where a byte-identical copy of a recipe's file can be had.
#[derive(Debug, Clone)]
pub struct Identical {
    pub debian: Option<DebianOrigin>,
    /// The upstream tag whose `git archive | gzip -n` is the file (as GitHub's and
    /// GitLab's tag archives are).
    pub git: Option<GitArchive>,
    /// A file of a repository at a commit that is the file.
    pub git_file: Option<GitFile>,
}

/// `toolchains/sources.toml` (and any extra files a set names).
#[derive(Debug, Default, Clone)]
pub struct AportSources {
    identical: BTreeMap<String, Identical>,
    substitutes: BTreeMap<String, Vec<AportSubstitute>>,
    /// What was searched for the files no origin has.
    searched: BTreeMap<String, String>,
}

impl AportSources {
    /// Loads and merges source files; later files add to earlier ones.
    pub fn load(paths: &[PathBuf]) -> Result<AportSources> {
        let mut all = AportSources::default();
        for path in paths {
            let f: SourcesFile = crate::config::load(path)?;
            for e in f.source {
                if e.debian.is_none() && e.git.is_none() && e.git_file.is_none() {
                    bail!(
                        "{}: source {} names no origin (debian, git or git_file)",
                        path.display(),
                        e.file
                    );
                }
                if let Some(g) = &e.git {
                    g.check()
                        .with_context(|| format!("{}: source {}", path.display(), e.file))?;
                }
                all.identical.insert(
                    e.file,
                    Identical {
                        debian: e.debian,
                        git: e.git,
                        git_file: e.git_file,
                    },
                );
            }
            for u in f.unobtainable {
                all.searched.insert(u.file, u.searched);
            }
            for s in f.substitute {
                if s.file == s.for_file {
                    bail!(
                        "{}: the substitute for {} must have a file name of its own (it is kept beside the recipe's file in the distfiles)",
                        path.display(),
                        s.for_file
                    );
                }
                s.check_origin().with_context(|| {
                    format!("{}: the substitute for {}", path.display(), s.for_file)
                })?;
                all.substitutes
                    .entry(s.for_file.clone())
                    .or_default()
                    .push(s);
            }
        }
        Ok(all)
    }

    /// What was searched for a file no origin has, when someone did.
    pub fn searched(&self, file: &str) -> Option<&str> {
        self.searched.get(file).map(|s| s.as_str())
    }

    /// Where this very file can be had besides its URLs.
    pub fn identical(&self, file: &str) -> Option<&Identical> {
        self.identical.get(file)
    }

    /// The resolver's spec for a recipe's remote source: its URL, the identical copies,
    /// and (when `with_substitute`) the documented substitute.
    pub fn spec(&self, file: &str, url: &str, sha512: &str, with_substitute: bool) -> SourceSpec {
        let same = self.identical(file);
        SourceSpec {
            file: file.to_string(),
            urls: vec![url.to_string()],
            sha512: Some(sha512.to_string()),
            sha256: None,
            debian: same.and_then(|o| o.debian.clone()),
            git: same.and_then(|o| o.git.clone()),
            git_file: same.and_then(|o| o.git_file.clone()),
            substitute: self
                .substitute(file, sha512)
                .filter(|_| with_substitute)
                .map(|x| x.spec()),
        }
    }

    /// The documented substitute for a recipe's file with that checksum, if any.
    pub fn substitute(&self, file: &str, sha512: &str) -> Option<&AportSubstitute> {
        self.substitutes
            .get(file)?
            .iter()
            .find(|s| s.for_sha512.eq_ignore_ascii_case(sha512))
    }
}

impl AportSubstitute {
    /// The resolver's view of it.
    pub fn spec(&self) -> Substitute {
        Substitute {
            file: self.file.clone(),
            sha512: Some(self.sha512.clone()),
            sha256: None,
            why: self.why.clone(),
            urls: self.urls.clone(),
            debian: self.debian.clone(),
            git: self.git.clone(),
            git_file: self.git_file.clone(),
            local: self.local.clone(),
        }
    }

    /// Every substitute has an origin alpinist obtains it from by itself (its URLs,
    /// Debian's archive, a git repository, a file of the checkout): none is a file that
    /// only a machine where someone made it by hand has.
    pub fn check_origin(&self) -> Result<()> {
        if self.urls.is_empty()
            && self.debian.is_none()
            && self.git.is_none()
            && self.git_file.is_none()
            && self.local.is_none()
        {
            bail!(
                "{} names no origin alpinist can obtain it from: give it urls, debian, git (an archive of one or more trees), git_file (a file at a commit) or local",
                self.file
            );
        }
        if let Some(g) = &self.git {
            g.check()?;
        }
        Ok(())
    }

    /// What identifies the adapted file: the substitute's checksum and everything
    /// [`adapt`] does to it (the patches by content).
    pub fn key(&self, checkout: &Path) -> Result<String> {
        let mut h = Sha256::new();
        h.update(format!(
            "{} {} top={:?} env={:?} run={:?}\n",
            self.file, self.sha512, self.top, self.env, self.run
        ));
        if !self.recipe_run.is_empty() {
            h.update(format!("recipe_run={:?}\n", self.recipe_run));
        }
        for p in self.patch_files(checkout)? {
            h.update(p.file_name().map(|n| n.as_encoded_bytes()).unwrap_or(b""));
            h.update(std::fs::read(&p).with_context(|| format!("reading patch {}", p.display()))?);
        }
        Ok(hex::encode(h.finalize()))
    }

    /// The entry's patches, in name order.
    pub fn patch_files(&self, checkout: &Path) -> Result<Vec<PathBuf>> {
        let Some(dir) = &self.patches else {
            return Ok(Vec::new());
        };
        let dir = checkout.join(dir);
        if !dir.is_dir() {
            bail!(
                "substitute for {}: patch directory {} does not exist",
                self.for_file,
                dir.display()
            );
        }
        let v = patches::list(&dir)?;
        if v.is_empty() {
            bail!(
                "substitute for {}: {} has no *.patch files",
                self.for_file,
                dir.display()
            );
        }
        Ok(v)
    }
}

/// Makes the recipe's file from a verified substitute: `<distfiles>/.substituted/<key>/<recipe
/// file>`, kept for the next build. Without a new top directory or patches, and with the
/// same compression, it is the substitute's bytes under the recipe's name; otherwise the
/// tree is unpacked, its top directory renamed, the patches applied, and it is packed
/// again in a fixed order, with owner 0/0, the original modes and times (files a patch
/// changed get the newest time of the archive), compressed as the recipe's name says.
pub fn adapt(
    sub: &AportSubstitute,
    verified: &Path,
    distfiles: &Path,
    checkout: &Path,
) -> Result<PathBuf> {
    let key = sub.key(checkout)?;
    let dir = distfiles.join(".substituted").join(&key[..24]);
    let dest = dir.join(&sub.for_file);
    if dest.is_file() {
        return Ok(dest);
    }
    std::fs::create_dir_all(&dir)?;
    let patches = sub.patch_files(checkout)?;
    let same_compression = Compression::of(&sub.file).ok() == Compression::of(&sub.for_file).ok();
    // Names of this process: two builds may adapt the same substitute at once.
    let pid = std::process::id();
    let part = dir.join(format!("{}.{pid}.part", sub.for_file));
    if Compression::of(&sub.for_file).is_err() {
        // Not a tarball (a patch, say): the same bytes, compressed as the recipe's file
        // name says when the substitute's is not.
        single_file(verified, &sub.file, &sub.for_file, &part)?;
    } else if sub.top.is_none() && patches.is_empty() && sub.run.is_empty() && same_compression {
        std::fs::copy(verified, &part)
            .with_context(|| format!("copying {}", verified.display()))?;
    } else {
        let work = dir.join(format!("tree.{pid}.tmp"));
        let _ = std::fs::remove_dir_all(&work);
        std::fs::create_dir_all(&work)?;
        let result = repack(sub, verified, &work, &patches, &part);
        let _ = std::fs::remove_dir_all(&work);
        result.with_context(|| {
            format!("adapting the substitute {} into {}", sub.file, sub.for_file)
        })?;
    }
    std::fs::rename(&part, &dest)?;
    Ok(dest)
}

/// `from` (named `file`) as the single file `for_file`: xz- or gzip-compressed when
/// `for_file` ends so and `file` does not.
fn single_file(from: &Path, file: &str, for_file: &str, out: &Path) -> Result<()> {
    let mut input = File::open(from)?;
    let f = File::create(out)?;
    let mut w: Encoder = match [".xz", ".gz"]
        .into_iter()
        .find(|ext| for_file.ends_with(ext) && !file.ends_with(ext))
    {
        Some(".xz") => Encoder::Xz(xz2::write::XzEncoder::new(f, 6)),
        Some(_) => Encoder::Gzip(
            flate2::GzBuilder::new()
                .mtime(0)
                .write(f, flate2::Compression::best()),
        ),
        None => Encoder::None(f),
    };
    std::io::copy(&mut input, &mut w)?;
    w.finish()
}

fn repack(
    sub: &AportSubstitute,
    verified: &Path,
    work: &Path,
    patches: &[PathBuf],
    out: &Path,
) -> Result<()> {
    let mut ar = tar::Archive::new(Compression::of(&sub.file)?.reader(File::open(verified)?)?);
    ar.set_preserve_mtime(true);
    ar.set_preserve_permissions(true);
    // The archive's newest time: what files a patch changes (and directories the archive
    // does not list) get, so the result does not depend on when it was made.
    let mut newest = 0;
    for entry in ar
        .entries()
        .with_context(|| format!("reading {}", verified.display()))?
    {
        let mut entry = entry.with_context(|| format!("reading {}", verified.display()))?;
        // `git archive` puts the commit id in a pax global header: not a file.
        if entry.header().entry_type() == tar::EntryType::XGlobalHeader {
            continue;
        }
        newest = newest.max(entry.header().mtime()?);
        if !entry.unpack_in(work)? {
            bail!(
                "{}: member {} points outside the archive",
                sub.file,
                entry.path()?.display()
            );
        }
    }
    let tops: Vec<PathBuf> = std::fs::read_dir(work)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    let [old_top] = tops.as_slice() else {
        bail!(
            "{} does not have one top directory (it has {})",
            sub.file,
            tops.len()
        );
    };
    let top_name = match &sub.top {
        Some(t) => t.clone(),
        None => old_top
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| anyhow!("odd top directory in {}", sub.file))?
            .to_string(),
    };
    let top = work.join(&top_name);
    if *old_top != top {
        std::fs::rename(old_top, &top)?;
    }
    for p in patches {
        patches::apply(p, &top)?;
    }
    for cmd in &sub.run {
        let out = Cmd::new("sh")
            .args(["-c", cmd])
            .dir(&top)
            .env("LC_ALL", "C")
            .env("SOURCE_DATE_EPOCH", newest.to_string())
            .output_combined()
            .context("running sh")?;
        if !out.status.success() {
            bail!(
                "`{cmd}` failed in the substitute's tree ({}):\n{}",
                out.status,
                crate::exec::tail_str(&String::from_utf8_lossy(&out.stdout), 20)
            );
        }
    }
    let f = File::create(out)?;
    let mut writer = Compression::of(&sub.for_file)?.writer(f)?;
    {
        let mut b = tar::Builder::new(&mut writer);
        b.follow_symlinks(false);
        append_sorted(&mut b, work, &top, newest)?;
        b.finish()?;
    }
    writer.finish()?;
    Ok(())
}

/// Appends `path` and everything under it, in byte order of the names.
fn append_sorted<W: Write>(
    b: &mut tar::Builder<W>,
    base: &Path,
    path: &Path,
    newest: u64,
) -> Result<()> {
    let meta = std::fs::symlink_metadata(path)?;
    let name = path.strip_prefix(base)?;
    let mut h = tar::Header::new_gnu();
    h.set_metadata_in_mode(&meta, tar::HeaderMode::Complete);
    h.set_uid(0);
    h.set_gid(0);
    h.set_username("")?;
    h.set_groupname("")?;
    // A file a patch touched is newer than the archive: clamp it to the archive's newest.
    h.set_mtime(h.mtime()?.min(newest));
    let ft = meta.file_type();
    if ft.is_dir() {
        b.append_data(&mut h, name, std::io::empty())?;
        let mut kids: Vec<PathBuf> = std::fs::read_dir(path)?
            .map(|e| e.map(|e| e.path()))
            .collect::<std::io::Result<_>>()?;
        kids.sort();
        for k in kids {
            append_sorted(b, base, &k, newest)?;
        }
    } else if ft.is_symlink() {
        let target = std::fs::read_link(path)?;
        b.append_link(&mut h, name, target)?;
    } else if ft.is_file() {
        b.append_data(&mut h, name, File::open(path)?)?;
    } else {
        bail!("{}: not a file, directory or symlink", path.display());
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compression {
    None,
    Gzip,
    Xz,
    Bzip2,
}

impl Compression {
    fn of(file: &str) -> Result<Compression> {
        Ok(if file.ends_with(".tar.gz") || file.ends_with(".tgz") {
            Compression::Gzip
        } else if file.ends_with(".tar.xz") {
            Compression::Xz
        } else if file.ends_with(".tar.bz2") {
            Compression::Bzip2
        } else if file.ends_with(".tar") {
            Compression::None
        } else {
            bail!("{file}: alpinist can adapt .tar, .tar.gz, .tar.xz and .tar.bz2 sources only")
        })
    }

    fn reader(self, f: File) -> Result<Box<dyn Read>> {
        Ok(match self {
            Compression::None => Box::new(f),
            Compression::Gzip => Box::new(flate2::read::GzDecoder::new(f)),
            Compression::Xz => Box::new(xz2::read::XzDecoder::new(f)),
            Compression::Bzip2 => Box::new(bzip2::read::BzDecoder::new(f)),
        })
    }

    fn writer(self, f: File) -> Result<Encoder> {
        Ok(match self {
            Compression::None => Encoder::None(f),
            // No name and no time in the gzip header (as `gzip -n`).
            Compression::Gzip => Encoder::Gzip(
                flate2::GzBuilder::new()
                    .mtime(0)
                    .write(f, flate2::Compression::best()),
            ),
            // Preset 1: the adapted file is a cache entry, and gcc's tree is 1.2 GiB.
            Compression::Xz => Encoder::Xz(xz2::write::XzEncoder::new(f, 1)),
            Compression::Bzip2 => {
                Encoder::Bzip2(bzip2::write::BzEncoder::new(f, bzip2::Compression::best()))
            }
        })
    }
}

enum Encoder {
    None(File),
    Gzip(flate2::write::GzEncoder<File>),
    Xz(xz2::write::XzEncoder<File>),
    Bzip2(bzip2::write::BzEncoder<File>),
}

impl Write for Encoder {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Encoder::None(f) => f.write(buf),
            Encoder::Gzip(e) => e.write(buf),
            Encoder::Xz(e) => e.write(buf),
            Encoder::Bzip2(e) => e.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Encoder::None(f) => f.flush(),
            Encoder::Gzip(e) => e.flush(),
            Encoder::Xz(e) => e.flush(),
            Encoder::Bzip2(e) => e.flush(),
        }
    }
}

impl Encoder {
    fn finish(self) -> Result<()> {
        let mut f = match self {
            Encoder::None(f) => f,
            Encoder::Gzip(e) => e.finish()?,
            Encoder::Xz(e) => e.finish()?,
            Encoder::Bzip2(e) => e.finish()?,
        };
        f.flush()?;
        f.sync_all()?;
        Ok(())
    }
}
