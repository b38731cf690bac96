//! v2 `.apk` packages: read and check, verify signatures, and write (spec §5).
//!
//! ```text
//! apk = gzip(signature tar, cut) ‖ gzip(control tar, cut) ‖ gzip(data tar, with end blocks)
//! ```
//!
//! [`Package::parse`] splits the members, reads `.PKGINFO` and scripts, streams the data
//! member and checks everything a package can check about itself: gzip CRCs, apk's tar
//! rules, `datahash` (SHA-256 of the compressed data member) and every file's
//! `APK-TOOLS.checksum.SHA1` pax record. Whether the package is *trusted* is a separate
//! question: [`Package::verify_signature`] checks a `.SIGN.*` member against a [`Keyring`],
//! and [`Package::identity`] gives the `C:` value an index vouches for.
//!
//! [`PackageBuilder`] writes packages deterministically: entries sorted byte-wise, mtimes
//! clamped to `SOURCE_DATE_EPOCH`, owners from a declared map, gzip as `gzip -n -9`.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::ops::Range;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use sha1::{Digest, Sha1};
use sha2::Sha256;

use crate::db::ScriptKind;
use crate::pkginfo::{PkgInfo, PkgInfoError};
use crate::sign::{self, Keyring, PrivateKey, SigAlg};
use crate::tarball::{
    self, EntryType, Header, TarEnd, TarError, TarStyle, TarWriter, PAX_CHECKSUM_SHA1,
};

mod read;

pub(crate) use read::first_member_was_signature;
pub use read::{PackageReader, MAX_CONTROL, MAX_ENTRIES};

/// The three parts of a v2 package, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Signature,
    Control,
    Data,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Part::Signature => "signature",
            Part::Control => "control",
            Part::Data => "data",
        })
    }
}

/// Why a package was rejected. The message always starts with the part that is bad.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("{part}: {what}")]
    Corrupt { part: Part, what: String },
    #[error("control: {0}")]
    PkgInfo(PkgInfoError),
    #[error("data: file {}: {what}", shown(path))]
    File { path: String, what: String },
    #[error("signature: package is not signed")]
    Unsigned,
    #[error("signature: no trusted key for {}", names.join(", "))]
    Untrusted { names: Vec<String> },
    #[error("signature: {alg} signature by {key} is damaged or was made with another key")]
    BadSignature { alg: SigAlg, key: String },
    #[error("control: the control member does not match its intact {alg} signature by {key}")]
    ControlModified { alg: SigAlg, key: String },
    #[error("control: identity {actual} does not match the index's C:{expected}")]
    IdentityMismatch { expected: String, actual: String },
    #[error("cannot write package: {0}")]
    Write(String),
    #[error("{}: {error}", shown(path))]
    Io { path: String, error: std::io::Error },
}

impl From<PkgInfoError> for PackageError {
    fn from(e: PkgInfoError) -> Self {
        PackageError::PkgInfo(e)
    }
}

fn corrupt(part: Part, what: impl fmt::Display) -> PackageError {
    PackageError::Corrupt {
        part,
        what: what.to_string(),
    }
}

/// Text from a package or index as it is safe to print on one line: control characters
/// (a newline, an escape sequence) are shown escaped, as `\n` or `\u{1b}`.
pub fn shown(text: &str) -> Shown<'_> {
    Shown(text)
}

/// See [`shown`].
pub struct Shown<'a>(&'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                fmt::Write::write_char(f, c)?;
            }
        }
        Ok(())
    }
}

/// Opens a package file for streaming, reading `buffer` bytes at a time.
fn open_package(
    path: &Path,
    buffer: usize,
) -> Result<std::io::BufReader<std::fs::File>, PackageError> {
    let f = std::fs::File::open(path).map_err(|error| PackageError::Io {
        path: path.display().to_string(),
        error,
    })?;
    Ok(std::io::BufReader::with_capacity(buffer, f))
}

/// A `.SIGN.*` member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureEntry {
    /// Full member name, `.SIGN.RSA.<key name>`.
    pub name: String,
    /// `None` for algorithms apk knows and we do not (`DSA`).
    pub alg: Option<SigAlg>,
    pub key_name: String,
    pub signature: Vec<u8>,
}

/// One member of the data tar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataEntry {
    pub header: Header,
    /// SHA-1 from the `APK-TOOLS.checksum.SHA1` record, already checked against the
    /// content (regular files) or link target (symlinks).
    pub sha1: Option<[u8; 20]>,
}

impl DataEntry {
    pub fn path(&self) -> &str {
        &self.header.path
    }
}

/// A parsed and self-consistent package.
#[derive(Debug, Clone)]
pub struct Package {
    pub signatures: Vec<SignatureEntry>,
    pub pkginfo: PkgInfo,
    /// `.PKGINFO` exactly as stored.
    pub pkginfo_raw: Vec<u8>,
    /// Maintainer scripts in control order.
    pub scripts: Vec<(ScriptKind, Vec<u8>)>,
    /// Headers of the control member (`.PKGINFO`, scripts), in order.
    pub control_headers: Vec<Header>,
    pub entries: Vec<DataEntry>,
    /// The compressed control member: what signatures and `C:` cover.
    pub control_gz: Vec<u8>,
    /// Byte ranges of the members in the file.
    pub signature_range: Option<Range<usize>>,
    pub control_range: Range<usize>,
    pub data_range: Range<usize>,
    /// Size of the whole `.apk` file (`S:` in an index).
    pub file_size: u64,
}

/// Why a data path is unsafe to install, following apk's rules (spec §5.7).
pub fn unsafe_path_reason(path: &str) -> Option<&'static str> {
    if path.is_empty() {
        return Some("empty path");
    }
    if path.starts_with('/') {
        return Some("absolute path");
    }
    if path.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Some("control character in path");
    }
    if path
        .split('/')
        .any(|c| c == ".." || (c == "." && path != "."))
    {
        return Some("path contains '..' or '.' components");
    }
    // Linux's NAME_MAX and PATH_MAX: longer names cannot be created in any root, so the
    // package is refused before anything is written rather than failing half-way.
    if path.split('/').any(|c| c.len() > 255) {
        return Some("a path component is longer than 255 bytes");
    }
    if path.len() > 4095 {
        return Some("path is longer than 4095 bytes");
    }
    None
}

/// `Q1` + base64 SHA-1: the `C:` form of a digest.
pub fn q1(sha1: &[u8]) -> String {
    format!(
        "Q1{}",
        base64::engine::general_purpose::STANDARD.encode(sha1)
    )
}

/// Decodes a `C:`/`Z:` value (`Q1<base64>` or `X1<hex>`) to raw digest bytes.
pub fn decode_q1(value: &str) -> Option<Vec<u8>> {
    if let Some(b64) = value.strip_prefix("Q1") {
        return base64::engine::general_purpose::STANDARD.decode(b64).ok();
    }
    hex::decode(value.strip_prefix("X1")?).ok()
}

impl Package {
    /// A package with nothing read yet.
    fn empty() -> Package {
        Package {
            signatures: Vec::new(),
            pkginfo: PkgInfo::default(),
            pkginfo_raw: Vec::new(),
            scripts: Vec::new(),
            control_headers: Vec::new(),
            entries: Vec::new(),
            control_gz: Vec::new(),
            signature_range: None,
            control_range: 0..0,
            data_range: 0..0,
            file_size: 0,
        }
    }

    /// Reads a package from its bytes and checks its integrity (not its trust).
    pub fn parse(bytes: &[u8]) -> Result<Package, PackageError> {
        PackageReader::new(bytes)?.finish()
    }

    /// Reads a package file as a stream (memory does not grow with its files' sizes) and
    /// checks its integrity.
    pub fn read(path: &Path) -> Result<Package, PackageError> {
        PackageReader::new(open_package(path, 128 << 10)?)?.finish()
    }

    /// Reads only what an index needs: the signature and control members, and the data
    /// member's gzip header; `file_size` is the file's size. The data is not checked.
    pub fn read_head(path: &Path) -> Result<Package, PackageError> {
        // The control member is a few KiB: a small buffer reads little more than that.
        let file = open_package(path, 16 << 10)?;
        let size = file
            .get_ref()
            .metadata()
            .map_err(|error| PackageError::Io {
                path: path.display().to_string(),
                error,
            })?;
        let r = PackageReader::new(file)?;
        let start = r.data_start();
        let mut pkg = r.into_package();
        pkg.data_range = start..size.len() as usize;
        pkg.file_size = size.len();
        Ok(pkg)
    }

    /// `Q1` + base64 SHA-1 of the compressed control member: the `C:` identity.
    pub fn identity(&self) -> String {
        q1(&Sha1::digest(&self.control_gz))
    }

    /// Checks the signature against trusted keys, as apk does: the first `.SIGN.*` entry
    /// whose key name is a trusted key file name is used. Returns the algorithm and key name.
    pub fn verify_signature(&self, keys: &Keyring) -> Result<(SigAlg, String), PackageError> {
        if self.signatures.is_empty() {
            return Err(PackageError::Unsigned);
        }
        let Some((sig, alg, key)) = self.signatures.iter().find_map(|s| {
            let alg = s.alg?;
            keys.get(&s.key_name).map(|k| (s, alg, k))
        }) else {
            return Err(PackageError::Untrusted {
                names: self.signatures.iter().map(|s| s.name.clone()).collect(),
            });
        };
        key.verify(alg, &self.control_gz, &sig.signature)
            .map_err(|_| {
                let name = sig.key_name.clone();
                if key_check(key, alg, &sig.signature) {
                    PackageError::ControlModified { alg, key: name }
                } else {
                    PackageError::BadSignature { alg, key: name }
                }
            })?;
        Ok((alg, sig.key_name.clone()))
    }

    /// Checks the package against the `C:` value of a (trusted) index, instead of a signature.
    pub fn verify_identity(&self, expected: &str) -> Result<(), PackageError> {
        let actual = Sha1::digest(&self.control_gz);
        match decode_q1(expected) {
            Some(want) if want.as_slice() == actual.as_slice() => Ok(()),
            _ => Err(PackageError::IdentityMismatch {
                expected: expected.to_string(),
                actual: q1(&actual),
            }),
        }
    }

    /// The data entries as a map from path, for comparisons.
    pub fn tree(&self) -> BTreeMap<&str, &DataEntry> {
        self.entries.iter().map(|e| (e.path(), e)).collect()
    }
}

/// Whether `signature` is a well-formed signature under `key` (so a mismatch means the
/// signed bytes changed, not the signature).
pub(crate) fn key_check(key: &sign::PublicKey, alg: SigAlg, signature: &[u8]) -> bool {
    key.signed_digest(alg, signature).is_some()
}

/// Reads, checks and verifies a package: integrity, then the signature.
pub fn verify(bytes: &[u8], keys: &Keyring) -> Result<(Package, SigAlg, String), PackageError> {
    let pkg = Package::parse(bytes)?;
    let (alg, key) = pkg.verify_signature(keys)?;
    Ok((pkg, alg, key))
}

// ---------------------------------------------------------------------------------------------
// writing
// ---------------------------------------------------------------------------------------------

/// Owner of a path in a package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub uid: u32,
    pub gid: u32,
    pub uname: String,
    pub gname: String,
}

impl Owner {
    /// `root:root`, 0:0: what everything is under abuild's fakeroot.
    pub fn root() -> Owner {
        Owner {
            uid: 0,
            gid: 0,
            uname: "root".into(),
            gname: "root".into(),
        }
    }
}

impl Default for Owner {
    fn default() -> Self {
        Owner::root()
    }
}

/// Declared owners: package-relative path (`usr/bin/foo`) → owner. Paths not listed are
/// `root:root`. The builder's own uid never leaks into a package.
pub type OwnerMap = BTreeMap<String, Owner>;

/// What to do with file mtimes when writing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MtimePolicy {
    /// `min(mtime, SOURCE_DATE_EPOCH)`: newer files are clamped, older keep their time.
    #[default]
    Clamp,
    /// Every entry gets `SOURCE_DATE_EPOCH`, as abuild's `touch -h -d @$SOURCE_DATE_EPOCH`.
    Fixed,
}

/// Who signs and how.
#[derive(Debug, Clone)]
pub struct Signer {
    pub key: PrivateKey,
    /// File name of the public key, e.g. `me-62a9ada3.rsa.pub`.
    pub key_name: String,
    pub alg: SigAlg,
}

impl Signer {
    /// Loads a private key; the key name is its file name plus `.pub`, as abuild-sign assumes.
    pub fn from_private_key_file(path: &Path, alg: SigAlg) -> Result<Signer, PackageError> {
        let key = PrivateKey::from_file(path).map_err(|e| PackageError::Write(e.to_string()))?;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| PackageError::Write(format!("bad key path {}", path.display())))?;
        Ok(Signer {
            key,
            key_name: format!("{name}.pub"),
            alg,
        })
    }

    /// The gzip'd signature member over `signed` (a cut tar with one `.SIGN.*` entry, owner
    /// 0/0 numeric as `abuild-sign` writes it).
    pub fn signature_member(&self, signed: &[u8], mtime: u64) -> Result<Vec<u8>, PackageError> {
        let sig = self
            .key
            .sign(self.alg, signed)
            .map_err(|e| PackageError::Write(e.to_string()))?;
        let mut h = Header::new(self.alg.member_name(&self.key_name), EntryType::Regular);
        h.mode = 0o644;
        h.mtime = mtime;
        h.size = sig.len() as u64;
        let mut w = TarWriter::new(Vec::new(), TarStyle::GnuPosix);
        w.append(&h, &sig).map_err(write_err)?;
        Ok(tarball::gzip(&w.finish(TarEnd::Cut).map_err(write_err)?))
    }
}

fn write_err(e: TarError) -> PackageError {
    PackageError::Write(e.to_string())
}

fn io_error(p: &Path) -> impl FnOnce(std::io::Error) -> PackageError + '_ {
    move |error| PackageError::Io {
        path: p.display().to_string(),
        error,
    }
}

fn sha1_of_file(p: &Path) -> Result<sha1::digest::Output<Sha1>, PackageError> {
    let mut f = std::fs::File::open(p).map_err(io_error(p))?;
    let mut h = Sha1::new();
    std::io::copy(&mut f, &mut h).map_err(io_error(p))?;
    Ok(h.finalize())
}

/// Builds a v2 package from entries and metadata.
#[derive(Debug, Clone)]
pub struct PackageBuilder {
    /// Metadata; `size` and `datahash` are filled in by [`PackageBuilder::build`] (`size` only
    /// when [`PackageBuilder::compute_size`] is set).
    pub pkginfo: PkgInfo,
    /// Scripts in control order (abuild: `$install` then `$triggers` order).
    pub scripts: Vec<(ScriptKind, Vec<u8>)>,
    /// `SOURCE_DATE_EPOCH`: mtime of control and signature entries, clamp for data.
    pub source_date_epoch: u64,
    /// Compute `size` from the entries (spec §4.2). On by default.
    pub compute_size: bool,
    entries: Vec<(Header, Content)>,
}

/// Where a data entry's content comes from.
#[derive(Debug, Clone)]
enum Content {
    Bytes(Vec<u8>),
    /// A file read when the package is built (so a tree is never held in memory).
    File(PathBuf),
}

impl PackageBuilder {
    pub fn new(pkginfo: PkgInfo, source_date_epoch: u64) -> PackageBuilder {
        PackageBuilder {
            pkginfo,
            scripts: Vec::new(),
            source_date_epoch,
            compute_size: true,
            entries: Vec::new(),
        }
    }

    /// Adds a data entry as given (no sorting, no checks: tests use this to build hostile
    /// packages). [`PackageBuilder::build`] adds the checksum record unless the header
    /// already has one.
    pub fn push_entry(&mut self, header: Header, data: Vec<u8>) {
        self.entries.push((header, Content::Bytes(data)));
    }

    /// Adds a regular file whose content is read from `path` when the package is built,
    /// streamed rather than held in memory; `header.size` must be its size then.
    pub fn push_file(&mut self, header: Header, path: PathBuf) {
        self.entries.push((header, Content::File(path)));
    }

    pub fn entries(&self) -> impl Iterator<Item = &Header> {
        self.entries.iter().map(|(h, _)| h)
    }

    /// Adds every entry under `dir` (not `dir` itself), sorted byte-wise by relative path as
    /// `find * | LC_ALL=C sort` does. Hard links (same device and inode) after the first become
    /// tar hard links. Owners come from `owners`; mtimes follow `mtime`.
    pub fn add_tree(
        &mut self,
        dir: &Path,
        owners: &OwnerMap,
        mtime: MtimePolicy,
    ) -> Result<(), PackageError> {
        let io = |p: &Path| {
            let p = p.display().to_string();
            move |error| PackageError::Io { path: p, error }
        };
        let mut paths: Vec<(Vec<u8>, PathBuf)> = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).map_err(io(&d))? {
                let e = e.map_err(io(&d))?;
                let p = e.path();
                let rel = p.strip_prefix(dir).expect("under dir");
                let rel = rel
                    .to_str()
                    .ok_or_else(|| PackageError::Write(format!("non-UTF-8 path {}", p.display())))?
                    .to_string();
                if e.file_type().map_err(io(&p))?.is_dir() {
                    stack.push(p.clone());
                }
                paths.push((rel.into_bytes(), p));
            }
        }
        paths.sort();
        let mut inodes: HashMap<(u64, u64), String> = HashMap::new();
        for (rel, full) in paths {
            let rel = String::from_utf8(rel).expect("was a str");
            let md = std::fs::symlink_metadata(&full).map_err(io(&full))?;
            let ft = md.file_type();
            let owner = owners.get(&rel).cloned().unwrap_or_default();
            let mut h = Header::new(rel.clone(), EntryType::Regular);
            h.uid = owner.uid;
            h.gid = owner.gid;
            h.uname = owner.uname;
            h.gname = owner.gname;
            h.mode = md.mode() & 0o7777;
            let file_mtime = u64::try_from(md.mtime()).unwrap_or(0);
            h.mtime = match mtime {
                MtimePolicy::Clamp => file_mtime.min(self.source_date_epoch),
                MtimePolicy::Fixed => self.source_date_epoch,
            };
            let data = Vec::new();
            if ft.is_dir() {
                h.entry_type = EntryType::Directory;
            } else if ft.is_symlink() {
                h.entry_type = EntryType::Symlink;
                h.mode = 0o777;
                let target = std::fs::read_link(&full).map_err(io(&full))?;
                h.link_name = target
                    .to_str()
                    .ok_or_else(|| {
                        PackageError::Write(format!("non-UTF-8 link {}", full.display()))
                    })?
                    .to_string();
            } else if ft.is_file() {
                let key = (md.dev(), md.ino());
                if md.nlink() > 1 {
                    if let Some(first) = inodes.get(&key) {
                        h.entry_type = EntryType::Hardlink;
                        h.link_name = first.clone();
                        self.entries.push((h, Content::Bytes(data)));
                        continue;
                    }
                    inodes.insert(key, rel.clone());
                }
                h.size = md.len();
                self.entries.push((h, Content::File(full)));
                continue;
            } else {
                return Err(PackageError::Write(format!(
                    "{}: only files, directories and symlinks can be packaged",
                    full.display()
                )));
            }
            self.entries.push((h, Content::Bytes(data)));
        }
        Ok(())
    }

    /// Installed size as abuild computes it (spec §4.2): regular file bytes, each inode once;
    /// 1 if that is 0 but there is any entry or script.
    pub fn installed_size(&self) -> u64 {
        let sum: u64 = self
            .entries
            .iter()
            .filter(|(h, _)| h.entry_type == EntryType::Regular)
            .map(|(h, _)| h.size)
            .sum();
        if sum == 0 && (!self.entries.is_empty() || !self.scripts.is_empty()) {
            1
        } else {
            sum
        }
    }

    /// The gzip'd data member: GNU-tar-like posix tar with checksums, padded to a 10240
    /// record, compressed as it is written (file contents are streamed, read twice: once for
    /// their checksum record, once for the archive).
    fn data_member(&self) -> Result<Vec<u8>, PackageError> {
        let mut data = TarWriter::new(tarball::gzip_encoder(Vec::new()), TarStyle::GnuPosix);
        for (h, content) in &self.entries {
            let mut h = h.clone();
            // A checksum already in the header is kept (tests build bad packages that way).
            let digest = match (h.entry_type, content) {
                _ if h.pax_value(PAX_CHECKSUM_SHA1).is_some() => None,
                (EntryType::Regular, Content::Bytes(d)) => Some(Sha1::digest(d)),
                (EntryType::Regular, Content::File(p)) => Some(sha1_of_file(p)?),
                (EntryType::Symlink, _) => Some(Sha1::digest(h.link_name.as_bytes())),
                _ => None,
            };
            if let Some(d) = digest {
                h.pax
                    .push((PAX_CHECKSUM_SHA1.to_string(), hex::encode(d).into_bytes()));
            }
            match content {
                Content::Bytes(d) => data.append(&h, d).map_err(write_err)?,
                Content::File(p) => {
                    let mut f = std::fs::File::open(p).map_err(io_error(p))?;
                    data.append_reader(&h, &mut f).map_err(write_err)?;
                }
            }
        }
        let gz = data.finish(TarEnd::GnuRecord).map_err(write_err)?;
        gz.finish().map_err(|e| PackageError::Write(e.to_string()))
    }

    /// Writes the package; signs it when `signer` is given.
    pub fn build(&self, signer: Option<&Signer>) -> Result<Vec<u8>, PackageError> {
        let data_gz = self.data_member()?;

        let mut info = self.pkginfo.clone();
        if self.compute_size {
            info.size = self.installed_size();
        }
        info.datahash = Some(hex::encode(Sha256::digest(&data_gz)));
        let pkginfo = info.to_text().into_bytes();

        let mut control = TarWriter::new(Vec::new(), TarStyle::GnuPosix);
        let mut h = Header::new(".PKGINFO", EntryType::Regular);
        h.mode = 0o644;
        h.uname = "root".into();
        h.gname = "root".into();
        h.mtime = self.source_date_epoch;
        h.size = pkginfo.len() as u64;
        control.append(&h, &pkginfo).map_err(write_err)?;
        for (kind, body) in &self.scripts {
            let mut s = h.clone();
            s.path = format!(".{}", kind.as_str());
            s.mode = 0o755;
            s.size = body.len() as u64;
            control.append(&s, body).map_err(write_err)?;
        }
        let control_gz = tarball::gzip(&control.finish(TarEnd::Cut).map_err(write_err)?);

        let mut out = match signer {
            Some(s) => s.signature_member(&control_gz, self.source_date_epoch)?,
            None => Vec::new(),
        };
        out.extend_from_slice(&control_gz);
        out.extend_from_slice(&data_gz);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_paths() {
        let long_name = format!("usr/{}", "a".repeat(256));
        let long_path = "abc/".repeat(1024);
        for p in [
            "", "/etc", "../x", "a/../b", "a/..", "./a", "a/./b", "a\nb", &long_name, &long_path,
        ] {
            assert!(unsafe_path_reason(p).is_some(), "{p:?}");
        }
        assert!(unsafe_path_reason(&format!("usr/{}", "a".repeat(255))).is_none());
        for p in ["etc", "etc/apk", ".hidden", "a..b", "..a"] {
            assert!(unsafe_path_reason(p).is_none(), "{p:?}");
        }
    }

    #[test]
    fn q1_round_trip() {
        let d = Sha1::digest(b"x");
        let q = q1(&d);
        assert_eq!(q.len(), 30);
        assert_eq!(decode_q1(&q).unwrap(), d.to_vec());
        assert_eq!(
            decode_q1(&format!("X1{}", hex::encode(d))).unwrap(),
            d.to_vec()
        );
    }
}
