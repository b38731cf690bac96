//! Reading a v3 package as a stream, with memory bounded whatever its files hold.
//!
//! [`UnverifiedPackageV3::new`] reads the header, the ADB block (at most
//! [`MAX_PACKAGE_ADB`] bytes) and the SIG blocks, and stops before the first DATA block.
//! Nothing inside the ADB block is looked at until the caller has decided to trust it:
//! [`UnverifiedPackageV3::verify`] (a signature by a trusted key),
//! [`UnverifiedPackageV3::verify_identity`] (the hash a trusted index gives) or
//! [`UnverifiedPackageV3::allow_untrusted`]. Only then is the block decoded against the
//! schema, and [`PackageV3Reader`] hands out the entries in apk-tools' order (each
//! directory, then its files), with each regular file's content from the next DATA block,
//! hashed while it is read. [`PackageV3Reader::finish`] checks that nothing follows.

use std::io::{self, BufRead};

use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

use super::container::{BlockHeader, BlockReader, Compression, BLOCK_ADB, BLOCK_DATA, BLOCK_SIG};
use super::schema::{Decoder, DirV3, FileV3, PackageMeta, SCHEMA_PACKAGE};
use super::sig::{self, SigBlock, MAX_SIG_BLOCK, MAX_SIG_BLOCKS};
use super::wire::{Budget, View};
use super::AdbError;
use crate::package::MAX_ENTRIES;
use crate::sign::Keyring;

/// Largest package ADB block read (the metadata and file list; contents are in DATA
/// blocks).
pub const MAX_PACKAGE_ADB: u64 = 16 << 20;
/// What decoding a package's ADB block may produce (see [`Budget`]).
pub const PACKAGE_BUDGET: Budget = Budget {
    nodes: 1 << 22,
    bytes: 64 << 20,
};
/// Size of the chunks file contents are handed over in.
const CHUNK: usize = 128 << 10;

fn format(what: impl Into<String>) -> AdbError {
    AdbError::Format(what.into())
}

/// The blocks before the data: the ADB block and its signatures.
pub(crate) struct Head<R: BufRead> {
    pub blocks: BlockReader<R>,
    pub adb: Vec<u8>,
    pub signatures: Vec<SigBlock>,
    /// The first block after the signatures, if any.
    pub next: Option<BlockHeader>,
}

/// Reads the header, the ADB block (at most `limit` bytes) and the SIG blocks of a file of
/// `schema`.
pub(crate) fn read_head<R: BufRead>(src: R, schema: u32, limit: u64) -> Result<Head<R>, AdbError> {
    let mut blocks = BlockReader::new(src)?;
    if blocks.schema != schema {
        let show = |s: u32| {
            String::from_utf8_lossy(&s.to_le_bytes())
                .escape_default()
                .to_string()
        };
        return Err(format(format!(
            "schema '{}', not '{}'",
            show(blocks.schema),
            show(schema)
        )));
    }
    let first = blocks
        .next_header()?
        .ok_or_else(|| format("no ADB block"))?;
    if first.kind != BLOCK_ADB {
        return Err(format(format!(
            "the first block is a {} block, not the ADB block",
            first.kind_name()
        )));
    }
    let adb = blocks.payload(&first, limit)?;
    View::new(&adb)?;
    let mut signatures = Vec::new();
    let next = loop {
        match blocks.next_header()? {
            Some(h) if h.kind == BLOCK_SIG => {
                if signatures.len() == MAX_SIG_BLOCKS {
                    return Err(AdbError::Limit(format!(
                        "more than {MAX_SIG_BLOCKS} SIG blocks"
                    )));
                }
                signatures.push(SigBlock::parse(&blocks.payload(&h, MAX_SIG_BLOCK)?)?);
            }
            Some(h) if h.kind == BLOCK_ADB => return Err(format("a second ADB block")),
            other => break other,
        }
    };
    Ok(Head {
        blocks,
        adb,
        signatures,
        next,
    })
}

/// SHA-256 of an ADB block's payload: a package's identity in an index (`apk mkndx
/// --hash sha256`, the default).
pub fn adb_identity(adb: &[u8]) -> [u8; 32] {
    Sha256::digest(adb).into()
}

/// Whether `expected` (32 bytes, or the first 20 for `--hash sha256-160`) is `identity`.
pub(crate) fn identity_matches(identity: &[u8; 32], expected: &[u8]) -> bool {
    matches!(expected.len(), 20 | 32) && identity[..expected.len()] == *expected
}

/// A v3 package, its metadata decoded.
#[derive(Debug, Clone)]
pub struct PackageV3 {
    pub meta: PackageMeta,
    /// The ADB block's payload: what signatures and the index's hash cover.
    pub adb: Vec<u8>,
    pub signatures: Vec<SigBlock>,
    pub compression: Compression,
}

impl PackageV3 {
    /// SHA-256 of the ADB block: what an index lists as the package's `hashes`.
    pub fn identity(&self) -> [u8; 32] {
        adb_identity(&self.adb)
    }

    /// Reads a whole package from bytes, checking its integrity and, with `keys`, that a
    /// trusted key signed it (`None`: trust is not checked).
    pub fn parse(bytes: &[u8], keys: Option<&Keyring>) -> Result<PackageV3, AdbError> {
        let head = UnverifiedPackageV3::new(bytes)?;
        let r = match keys {
            Some(k) => head.verify(k)?.0,
            None => head.allow_untrusted()?,
        };
        r.finish()
    }

    /// The path of a file in the package.
    pub fn path_of(&self, dir: &DirV3, file: &FileV3) -> String {
        join(&dir.name, &file.name)
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// A package whose ADB block and signatures have been read, not trusted yet.
pub struct UnverifiedPackageV3<R: BufRead> {
    head: Head<R>,
}

impl<R: BufRead> UnverifiedPackageV3<R> {
    pub fn new(src: R) -> Result<Self, AdbError> {
        let head = read_head(src, SCHEMA_PACKAGE, MAX_PACKAGE_ADB)?;
        if let Some(h) = head.next.filter(|h| h.kind != BLOCK_DATA) {
            return Err(format(format!(
                "a {} block after the signatures",
                h.kind_name()
            )));
        }
        Ok(UnverifiedPackageV3 { head })
    }

    pub fn signatures(&self) -> &[SigBlock] {
        &self.head.signatures
    }

    /// The ADB block's payload, not decoded.
    pub fn adb(&self) -> &[u8] {
        &self.head.adb
    }

    pub fn identity(&self) -> [u8; 32] {
        adb_identity(&self.head.adb)
    }

    /// Trusts the package when a trusted key signed it; returns the key's name too.
    pub fn verify(self, keys: &Keyring) -> Result<(PackageV3Reader<R>, String), AdbError> {
        let h = &self.head;
        let key = sig::verify(&h.signatures, keys, SCHEMA_PACKAGE, &h.adb)?;
        Ok((self.decode()?, key))
    }

    /// Trusts the package when its identity is the hash a trusted index lists for it.
    pub fn verify_identity(self, expected: &[u8]) -> Result<PackageV3Reader<R>, AdbError> {
        let actual = self.identity();
        if !identity_matches(&actual, expected) {
            return Err(AdbError::IdentityMismatch {
                expected: hex::encode(expected),
                actual: hex::encode(actual),
            });
        }
        self.decode()
    }

    /// Reads on without trusting the package (`--allow-untrusted`).
    pub fn allow_untrusted(self) -> Result<PackageV3Reader<R>, AdbError> {
        self.decode()
    }

    fn decode(self) -> Result<PackageV3Reader<R>, AdbError> {
        let Head {
            blocks,
            adb,
            signatures,
            next,
        } = self.head;
        let meta = Decoder::new(View::new(&adb)?, PACKAGE_BUDGET).package()?;
        let entries: usize = meta.paths.iter().map(|d| 1 + d.files.len()).sum();
        if entries > MAX_ENTRIES {
            return Err(AdbError::Limit(format!(
                "more than {MAX_ENTRIES} directories and files"
            )));
        }
        let compression = blocks.compression;
        Ok(PackageV3Reader {
            blocks,
            pkg: PackageV3 {
                meta,
                adb,
                signatures,
                compression,
            },
            next,
            dir: 0,
            next_file: None,
            content: None,
            buf: Vec::new(),
        })
    }
}

/// One entry of a package: a directory (`file` is `None`) or a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryV3 {
    pub path: String,
    /// Index into [`PackageMeta::paths`].
    pub dir: usize,
    /// Index into that directory's files.
    pub file: Option<usize>,
}

/// A digest being computed over a file's content, of the kind its hash says.
enum Hasher {
    Sha1(Sha1),
    Sha256(Sha256),
    Sha512(Sha512),
}

impl Hasher {
    fn for_hash(len: usize) -> Hasher {
        match len {
            20 => Hasher::Sha1(Sha1::new()),
            64 => Hasher::Sha512(Sha512::new()),
            _ => Hasher::Sha256(Sha256::new()),
        }
    }

    fn update(&mut self, b: &[u8]) {
        match self {
            Hasher::Sha1(h) => h.update(b),
            Hasher::Sha256(h) => h.update(b),
            Hasher::Sha512(h) => h.update(b),
        }
    }

    fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Sha1(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha512(h) => h.finalize().to_vec(),
        }
    }
}

/// The content of the current file: what is left to read, and its digest so far.
struct Content {
    path: String,
    left: u64,
    hasher: Hasher,
    want: Vec<u8>,
}

/// A trusted package being read; see the module documentation.
pub struct PackageV3Reader<R: BufRead> {
    blocks: BlockReader<R>,
    pkg: PackageV3,
    /// The block read after the last one handed out.
    next: Option<BlockHeader>,
    /// Where the walk is: the directory, and the next of its files (`None` before the
    /// directory itself).
    dir: usize,
    next_file: Option<usize>,
    content: Option<Content>,
    buf: Vec<u8>,
}

impl<R: BufRead> PackageV3Reader<R> {
    /// The package's metadata (decoded when it was trusted).
    pub fn package(&self) -> &PackageV3 {
        &self.pkg
    }

    /// The next directory or file, after checking the content of the previous file;
    /// `None` after the last.
    pub fn next_entry(&mut self) -> Result<Option<EntryV3>, AdbError> {
        self.finish_content()?;
        loop {
            let Some(d) = self.pkg.meta.paths.get(self.dir) else {
                return Ok(None);
            };
            let Some(fi) = self.next_file else {
                // The directory itself (not the root), then its files.
                self.next_file = Some(0);
                if d.name.is_empty() {
                    continue;
                }
                let path = d.name.clone();
                return Ok(Some(EntryV3 {
                    path,
                    dir: self.dir,
                    file: None,
                }));
            };
            let Some(f) = d.files.get(fi) else {
                self.dir += 1;
                self.next_file = None;
                continue;
            };
            self.next_file = Some(fi + 1);
            let entry = EntryV3 {
                path: join(&d.name, &f.name),
                dir: self.dir,
                file: Some(fi),
            };
            if f.has_data() {
                let (size, want) = (f.size, f.hash.clone());
                self.start_content(&entry, size, want)?;
            } else if f.target.is_none() && Hasher::for_hash(f.hash.len()).finish() != f.hash {
                return Err(AdbError::File {
                    path: entry.path,
                    what: "an empty file whose hash is not that of no content".into(),
                });
            }
            return Ok(Some(entry));
        }
    }

    /// Reads the DATA block header of the current file and checks it is this file's.
    fn start_content(&mut self, e: &EntryV3, size: u64, want: Vec<u8>) -> Result<(), AdbError> {
        let file_err = |what: String| AdbError::File {
            path: e.path.clone(),
            what,
        };
        let h = match self.next.take() {
            Some(h) => h,
            None => return Err(file_err("no DATA block for its content".into())),
        };
        if h.kind != BLOCK_DATA {
            return Err(format(format!(
                "a {} block among the DATA blocks",
                h.kind_name()
            )));
        }
        let mut idx = [0u8; 8];
        let mut at = 0;
        while at < 8 && h.len >= 8 {
            let n = self.blocks.read_payload(&mut idx[at..])?;
            at += n;
        }
        let (want_dir, want_file) = (e.dir as u64 + 1, e.file.expect("a file") as u64 + 1);
        let dir = u64::from(u32::from_le_bytes(idx[..4].try_into().expect("4")));
        let file = u64::from(u32::from_le_bytes(idx[4..].try_into().expect("4")));
        if h.len < 8 || (dir, file) != (want_dir, want_file) {
            return Err(file_err(format!(
                "the next DATA block is for path {dir} file {file}, not {want_dir} {want_file}"
            )));
        }
        if h.len - 8 != size {
            return Err(file_err(format!(
                "its DATA block holds {} bytes, the file has {size}",
                h.len - 8
            )));
        }
        self.content = Some(Content {
            path: e.path.clone(),
            left: size,
            hasher: Hasher::for_hash(want.len()),
            want,
        });
        Ok(())
    }

    /// Hands the current file's content (what is left of it) to `sink` in chunks, then
    /// checks its hash. The outer error is the package's; the inner one is `sink`'s, after
    /// which the content is checked by the next call.
    pub fn copy_content(
        &mut self,
        mut sink: impl FnMut(&[u8]) -> io::Result<()>,
    ) -> Result<io::Result<u64>, AdbError> {
        let mut total = 0u64;
        if self.content.is_none() {
            return Ok(Ok(0));
        }
        if self.buf.is_empty() {
            self.buf = vec![0u8; CHUNK];
        }
        while let Some(c) = self.content.as_mut().filter(|c| c.left > 0) {
            let want = self
                .buf
                .len()
                .min(usize::try_from(c.left).unwrap_or(usize::MAX));
            let n = self.blocks.read_payload(&mut self.buf[..want])?;
            let chunk = &self.buf[..n];
            c.hasher.update(chunk);
            c.left -= n as u64;
            total += n as u64;
            if let Err(e) = sink(chunk) {
                return Ok(Err(e));
            }
        }
        self.finish_content()?;
        Ok(Ok(total))
    }

    /// Reads what is left of the current file, checks its hash and reads the next block's
    /// header.
    fn finish_content(&mut self) -> Result<(), AdbError> {
        if self.content.as_ref().is_some_and(|c| c.left > 0) {
            self.copy_content(|_| Ok(()))?
                .expect("a sink that cannot fail");
            return Ok(());
        }
        let Some(c) = self.content.take() else {
            return Ok(());
        };
        if c.hasher.finish() != c.want {
            return Err(AdbError::File {
                path: c.path,
                what: "content does not match its hash".into(),
            });
        }
        self.next = self.blocks.next_header()?;
        Ok(())
    }

    /// Reads the remaining entries and checks that no block and no byte follows.
    pub fn finish(mut self) -> Result<PackageV3, AdbError> {
        while self.next_entry()?.is_some() {}
        if let Some(h) = self.next {
            return Err(format(format!(
                "a {} block of {} bytes after the last file's content",
                h.kind_name(),
                h.len
            )));
        }
        Ok(self.pkg)
    }
}
