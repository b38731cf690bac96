//! Reading a package as a stream, with memory bounded whatever its files hold.
//!
//! [`PackageReader::new`] reads the signature and control members (each at most
//! [`MAX_CONTROL`] bytes inflated, kept in memory for signature and `C:` checks) and the
//! data member's gzip header. The caller can then decide whether it trusts the package
//! before any data is read. [`PackageReader::next_entry`] checks one data entry at a time;
//! [`PackageReader::copy_content`] hands a regular file's content over in chunks while its
//! SHA-1 is computed, and fails if it does not match the file's checksum record.
//! [`PackageReader::finish`] checks the rest: the data member's end, its SHA-256 against
//! `datahash`, and that nothing follows it.

use std::collections::HashSet;
use std::io::{self, BufRead, Read};
use std::ops::Range;

use flate2::Decompress;
use sha1::{Digest, Sha1};
use sha2::Sha256;

use super::{corrupt, unsafe_path_reason, DataEntry, Package, PackageError, Part, SignatureEntry};
use crate::db::ScriptKind;
use crate::pkginfo::PkgInfo;
use crate::sign::{self, SignatureName};
use crate::tarball::{self, EntryType, GzMemberReader, Header, TarReader, PAX_CHECKSUM_SHA1};

/// Largest signature or control member, inflated, that is read into memory.
pub const MAX_CONTROL: u64 = 16 << 20;
/// Most data entries a package may have (each costs memory until the package is done).
pub const MAX_ENTRIES: usize = 1 << 20;
/// Compressed bytes of a signature or control member kept for checks (deflate can be a
/// little larger than its input).
const MAX_CONTROL_GZ: usize = (MAX_CONTROL as usize) + (1 << 20);
/// Size of the chunks file contents are handed over in.
const CHUNK: usize = 128 << 10;

/// The compressed bytes of a package as they are read: counted, kept while a signature or
/// control member is read, hashed (SHA-256) while the data member is.
pub(crate) struct Tapped<B> {
    inner: B,
    pos: u64,
    keep: Option<Vec<u8>>,
    kept_too_much: bool,
    sha256: Option<Sha256>,
}

impl<B: BufRead> Tapped<B> {
    pub(crate) fn new(inner: B) -> Self {
        Tapped {
            inner,
            pos: 0,
            keep: None,
            kept_too_much: false,
            sha256: None,
        }
    }

    fn start_keeping(&mut self) {
        self.keep = Some(Vec::new());
        self.kept_too_much = false;
    }

    fn take_kept(&mut self) -> Option<Vec<u8>> {
        let kept = self.keep.take();
        (!self.kept_too_much).then_some(kept).flatten()
    }

    fn at_eof(&mut self) -> io::Result<bool> {
        Ok(self.inner.fill_buf()?.is_empty())
    }
}

impl<B: BufRead> Read for Tapped<B> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = {
            let buf = self.inner.fill_buf()?;
            let n = buf.len().min(out.len());
            out[..n].copy_from_slice(&buf[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl<B: BufRead> BufRead for Tapped<B> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        // `consume` follows a `fill_buf` that returned at least `n` bytes; asking again
        // returns the same buffer without reading.
        if let Ok(buf) = self.inner.fill_buf() {
            let chunk = &buf[..n.min(buf.len())];
            if let Some(k) = self.keep.as_mut() {
                if k.len() + chunk.len() > MAX_CONTROL_GZ {
                    self.kept_too_much = true;
                } else {
                    k.extend_from_slice(chunk);
                }
            }
            if let Some(h) = self.sha256.as_mut() {
                h.update(chunk);
            }
        }
        self.inner.consume(n);
        self.pos += n as u64;
    }
}

/// A small member read whole: its tar entries with their data, byte range and compressed
/// bytes.
struct SmallMember {
    entries: Vec<(Header, Vec<u8>)>,
    range: Range<usize>,
    gz: Vec<u8>,
}

fn read_small_member<B: BufRead>(
    src: &mut Tapped<B>,
    part: Part,
    inflater: &mut Option<Decompress>,
) -> Result<SmallMember, PackageError> {
    let start = src.pos as usize;
    src.start_keeping();
    let mut gz =
        GzMemberReader::with_inflater(&mut *src, inflater.take()).map_err(|e| corrupt(part, e))?;
    let mut tar = Vec::with_capacity(16 << 10);
    (&mut gz)
        .take(MAX_CONTROL + 1)
        .read_to_end(&mut tar)
        .map_err(|e| corrupt(part, tarball::gz_io(e)))?;
    if tar.len() as u64 > MAX_CONTROL {
        return Err(corrupt(
            part,
            format!("member inflates to more than {MAX_CONTROL} bytes"),
        ));
    }
    if !gz.is_done() {
        return Err(corrupt(part, "gzip: member truncated"));
    }
    *inflater = Some(gz.into_parts().1);
    let gz = src
        .take_kept()
        .ok_or_else(|| corrupt(part, "member is too large"))?;
    let mut r = TarReader::new(tar.as_slice());
    let mut entries = Vec::new();
    while let Some(h) = r.next_entry().map_err(|e| corrupt(part, e))? {
        let data = r.read_data(MAX_CONTROL).map_err(|e| corrupt(part, e))?;
        entries.push((h, data));
    }
    if r.saw_end_blocks() {
        return Err(corrupt(
            part,
            "end-of-archive blocks inside the member (apk rejects them; use a cut tar)",
        ));
    }
    Ok(SmallMember {
        entries,
        range: start..src.pos as usize,
        gz,
    })
}

/// Decides, after the first member failed to read, whether it was a signature member: it
/// was if a later gzip member inflates cleanly and starts with one of `names` (the first
/// entry of a control or index member). A damaged signature leaves the next member intact,
/// so this blames the right part without trusting anything inside the damaged member.
pub(crate) fn first_member_was_signature(bytes: &[u8], names: &[&[u8]]) -> bool {
    let starts_ok = |tar: &[u8]| {
        names.iter().any(|n| {
            tar.starts_with(n)
                || tar
                    .get(13..)
                    .is_some_and(|t| tar.starts_with(b"./PaxHeaders/") && t.starts_with(n))
        })
    };
    (1..bytes.len().saturating_sub(18))
        .filter(|&i| bytes[i..].starts_with(&[0x1f, 0x8b, 8]))
        .any(|i| {
            tarball::inflate_member(bytes, i, MAX_CONTROL)
                .map(|(tar, _)| starts_ok(&tar))
                .unwrap_or(false)
        })
}

/// Reads the first member; when it is damaged, blames the signature if a control member
/// follows intact (looking at most [`MAX_CONTROL_GZ`] bytes further).
fn read_first_member<B: BufRead>(
    src: &mut Tapped<B>,
    inflater: &mut Option<Decompress>,
) -> Result<SmallMember, PackageError> {
    read_small_member(src, Part::Control, inflater).map_err(|e| {
        let PackageError::Corrupt { what, .. } = e else {
            return e;
        };
        let mut prefix = src.keep.take().unwrap_or_default();
        let _ = (&mut src.inner)
            .take(MAX_CONTROL_GZ as u64)
            .read_to_end(&mut prefix);
        let part = if first_member_was_signature(&prefix, &[b".PKGINFO\0"]) {
            Part::Signature
        } else {
            Part::Control
        };
        PackageError::Corrupt { part, what }
    })
}

fn signature_entries(entries: Vec<(Header, Vec<u8>)>) -> Vec<SignatureEntry> {
    entries
        .into_iter()
        .filter(|(h, _)| h.size <= sign::MAX_SIGNATURE)
        .map(|(h, data)| {
            let (alg, key_name) = match sign::parse_signature_name(&h.path) {
                Some(SignatureName::Rsa { alg, key_name }) => (Some(alg), key_name.to_string()),
                _ => (None, String::new()),
            };
            SignatureEntry {
                name: h.path,
                alg,
                key_name,
                signature: data,
            }
        })
        .collect()
}

/// `.PKGINFO` and scripts from the control member's entries.
fn control_entries(pkg: &mut Package, entries: Vec<(Header, Vec<u8>)>) -> Result<(), PackageError> {
    let mut pkginfo_raw = None;
    for (h, data) in entries {
        if h.path == ".PKGINFO" {
            pkginfo_raw = Some(data);
        } else if let Some(kind) = ScriptKind::parse(&h.path).filter(|_| h.path.starts_with('.')) {
            pkg.scripts.push((kind, data));
        } else if h.path == ".INSTALL" {
            return Err(corrupt(
                Part::Control,
                "v1 package (.INSTALL) is not supported",
            ));
        } else if h.path.starts_with(".SIGN.") {
            return Err(corrupt(
                Part::Control,
                "signature entry inside the control member",
            ));
        } else if !h.path.starts_with('.') {
            return Err(corrupt(
                Part::Control,
                format!(
                    "unexpected entry {} (data inside the control member)",
                    super::shown(&h.path)
                ),
            ));
        }
        pkg.control_headers.push(h);
    }
    pkg.pkginfo_raw = pkginfo_raw.ok_or_else(|| corrupt(Part::Control, "no .PKGINFO"))?;
    pkg.pkginfo = PkgInfo::parse(&pkg.pkginfo_raw)?;
    if pkg.pkginfo.datahash.is_none() {
        return Err(corrupt(Part::Control, ".PKGINFO has no datahash"));
    }
    Ok(())
}

/// The regular file whose content is being read.
struct Content {
    want: [u8; 20],
    sha1: Sha1,
}

/// A package being read; see the module documentation.
pub struct PackageReader<B: BufRead> {
    pkg: Package,
    tar: TarReader<GzMemberReader<Tapped<B>>>,
    data_start: usize,
    dirs: HashSet<String>,
    regular: HashSet<String>,
    content: Option<Content>,
    buf: Vec<u8>,
}

impl<B: BufRead> PackageReader<B> {
    /// Reads the signature and control members and the data member's gzip header.
    pub fn new(src: B) -> Result<Self, PackageError> {
        let mut src = Tapped::new(src);
        if src.at_eof().map_err(|e| corrupt(Part::Control, e))? {
            return Err(corrupt(Part::Control, "empty file"));
        }
        if src.fill_buf().is_ok_and(|b| b.starts_with(b"ADB")) {
            return Err(corrupt(
                Part::Control,
                "this is a v3 (ADB) package; only v2 is supported",
            ));
        }
        let mut inflater = None;
        let first = read_first_member(&mut src, &mut inflater)?;
        let mut pkg = Package::empty();
        let is_sig = !first.entries.is_empty()
            && first
                .entries
                .iter()
                .all(|(h, _)| h.path.starts_with(".SIGN."));
        let control = if is_sig {
            pkg.signatures = signature_entries(first.entries);
            pkg.signature_range = Some(first.range);
            if src.at_eof().map_err(|e| corrupt(Part::Control, e))? {
                return Err(corrupt(
                    Part::Control,
                    "missing (file ends after signature)",
                ));
            }
            read_small_member(&mut src, Part::Control, &mut inflater)?
        } else {
            first
        };
        pkg.control_range = control.range;
        pkg.control_gz = control.gz;
        control_entries(&mut pkg, control.entries)?;

        if src.at_eof().map_err(|e| corrupt(Part::Data, e))? {
            return Err(corrupt(Part::Data, "missing (file ends after control)"));
        }
        let data_start = src.pos as usize;
        src.sha256 = Some(Sha256::new());
        let gz =
            GzMemberReader::with_inflater(src, inflater).map_err(|e| corrupt(Part::Data, e))?;
        Ok(PackageReader {
            pkg,
            tar: TarReader::new(gz),
            data_start,
            dirs: HashSet::new(),
            regular: HashSet::new(),
            content: None,
            buf: Vec::new(),
        })
    }

    /// What has been read so far: everything but the data entries not reached yet (and
    /// `data_range` and `file_size`, set by [`PackageReader::finish`]).
    pub fn package(&self) -> &Package {
        &self.pkg
    }

    /// What has been read so far, without reading further (see [`PackageReader::package`]).
    pub fn into_package(self) -> Package {
        self.pkg
    }

    /// Where the data member starts in the file.
    pub fn data_start(&self) -> usize {
        self.data_start
    }

    /// Checks the next data entry (after checking what was left of the previous file's
    /// content) and returns it; `None` at the end of the data.
    pub fn next_entry(&mut self) -> Result<Option<&DataEntry>, PackageError> {
        self.finish_content()?;
        let Some(h) = self.tar.next_entry().map_err(|e| corrupt(Part::Data, e))? else {
            return Ok(None);
        };
        if self.pkg.entries.len() >= MAX_ENTRIES {
            return Err(corrupt(
                Part::Data,
                format!("more than {MAX_ENTRIES} entries"),
            ));
        }
        let entry = self.check_entry(h)?;
        if entry.header.entry_type == EntryType::Regular {
            self.content = Some(Content {
                want: entry.sha1.expect("checked"),
                sha1: Sha1::new(),
            });
        }
        self.pkg.entries.push(entry);
        Ok(self.pkg.entries.last())
    }

    /// apk's rules for one data entry (spec §5.3, §5.7).
    fn check_entry(&mut self, h: Header) -> Result<DataEntry, PackageError> {
        let file_err = |what: &str| PackageError::File {
            path: h.path.clone(),
            what: what.to_string(),
        };
        if let Some(why) = unsafe_path_reason(&h.path) {
            return Err(file_err(why));
        }
        if let Some((parent, _)) = h.path.rsplit_once('/') {
            if !self.dirs.contains(parent) {
                return Err(file_err(
                    "no directory entry for its parent earlier in the archive",
                ));
            }
        }
        let declared = match h.pax_value(PAX_CHECKSUM_SHA1) {
            Some(_) => Some(
                h.sha1_checksum()
                    .ok_or_else(|| file_err("malformed APK-TOOLS.checksum.SHA1"))?,
            ),
            None => None,
        };
        match h.entry_type {
            EntryType::Regular => {
                if declared.is_none() {
                    return Err(file_err(
                        "no APK-TOOLS.checksum.SHA1 record (apk 3 refuses it)",
                    ));
                }
                self.regular.insert(h.path.clone());
            }
            EntryType::Symlink => {
                if h.link_name.is_empty() {
                    return Err(file_err("symlink with an empty target"));
                }
                if declared.is_some_and(|want| Sha1::digest(h.link_name.as_bytes())[..] != want) {
                    return Err(file_err(
                        "link target does not match APK-TOOLS.checksum.SHA1",
                    ));
                }
            }
            EntryType::Hardlink => {
                if !self.regular.contains(&h.link_name) {
                    return Err(file_err(
                        "hard link to a path that is not an earlier file of the package",
                    ));
                }
            }
            EntryType::Directory => {
                self.dirs.insert(h.path.clone());
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {}
            EntryType::Other(f) => {
                return Err(file_err(&format!(
                    "unsupported tar type {}",
                    (f as char).escape_default()
                )))
            }
        }
        Ok(DataEntry {
            header: h,
            sha1: declared,
        })
    }

    /// Hands the current regular file's content (what is left of it) to `sink` in chunks,
    /// then checks its SHA-1. The outer error is the package's (bad data, wrong checksum);
    /// the inner one is `sink`'s, after which the content is checked by the next call.
    pub fn copy_content(
        &mut self,
        mut sink: impl FnMut(&[u8]) -> io::Result<()>,
    ) -> Result<io::Result<u64>, PackageError> {
        let mut total = 0u64;
        if self.content.is_none() {
            return Ok(Ok(0));
        }
        if self.buf.is_empty() {
            self.buf = vec![0u8; CHUNK];
        }
        loop {
            let n = self
                .tar
                .read_some(&mut self.buf)
                .map_err(|e| corrupt(Part::Data, e))?;
            if n == 0 {
                break;
            }
            let chunk = &self.buf[..n];
            if let Some(c) = self.content.as_mut() {
                c.sha1.update(chunk);
            }
            total += n as u64;
            if let Err(e) = sink(chunk) {
                return Ok(Err(e));
            }
        }
        self.finish_content()?;
        Ok(Ok(total))
    }

    /// Reads what is left of the current file and checks its SHA-1.
    fn finish_content(&mut self) -> Result<(), PackageError> {
        if self.content.is_some() && self.tar.remaining() > 0 {
            self.copy_content(|_| Ok(()))?
                .expect("a sink that cannot fail");
            return Ok(());
        }
        let Some(c) = self.content.take() else {
            return Ok(());
        };
        if c.sha1.finalize()[..] != c.want {
            let path = self.pkg.entries.last().map(|e| e.header.path.clone());
            return Err(PackageError::File {
                path: path.unwrap_or_default(),
                what: "content does not match APK-TOOLS.checksum.SHA1".into(),
            });
        }
        Ok(())
    }

    /// Reads the remaining entries, then checks the end of the data member, that nothing
    /// follows it and that its SHA-256 is `datahash`.
    pub fn finish(mut self) -> Result<Package, PackageError> {
        while self.next_entry()?.is_some() {}
        let gz = self.tar.into_inner();
        if !gz.is_done() {
            return Err(corrupt(Part::Data, "gzip: member truncated"));
        }
        let mut src = gz.into_inner();
        let end = src.pos as usize;
        if !src.at_eof().map_err(|e| corrupt(Part::Data, e))? {
            return Err(corrupt(
                Part::Data,
                "bytes after the data member (it must be a single gzip member)",
            ));
        }
        let actual = hex::encode(src.sha256.take().expect("hashing data").finalize());
        let datahash = self.pkg.pkginfo.datahash.as_deref().unwrap_or_default();
        if actual != datahash {
            return Err(corrupt(
                Part::Data,
                format!("SHA-256 {actual} does not match datahash {datahash}"),
            ));
        }
        self.pkg.data_range = self.data_start..end;
        self.pkg.file_size = end as u64;
        Ok(self.pkg)
    }
}
