//! `APKINDEX.tar.gz` (spec §6): read, verify, write and sign.
//!
//! ```text
//! APKINDEX.tar.gz = [gzip(signature tar, cut)] ‖ gzip(tar: [DESCRIPTION] APKINDEX, 2 zero blocks)
//! ```
//!
//! The tar is written the way `apk index` writes it (GNU `ustar  ` magic, root/root,
//! 12-digit size and mtime, no pax headers, two zero blocks and no record padding). The
//! signature covers the whole compressed index member, as `abuild-sign` makes it. Records
//! use [`PackageInfo`] from [`crate::db`], the model the installed database shares.

use std::path::Path;

use crate::db::{self, DbError, PackageInfo};
use crate::dep::{self, Dependency};
use crate::limits;
use crate::package::{shown, Package, PackageError, SignatureEntry, Signer};
use crate::sign::{self, Keyring, SigAlg, SignatureName};
use crate::tarball::{self, EntryType, Header, TarEnd, TarReader, TarStyle, TarWriter};
use crate::version;

/// apk reads `DESCRIPTION` only up to this size.
pub const MAX_DESCRIPTION: usize = 160;
/// Largest index (decompressed) we hold in memory (Alpine's largest, `community`, is about
/// 20 MiB).
const MAX_INDEX: u64 = 256 << 20;

/// Why an index was rejected. Messages start with the part that is bad.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("signature: {0}")]
    Signature(String),
    #[error("index: {0}")]
    Index(String),
    #[error("index: APKINDEX: {0}")]
    Records(DbError),
    #[error("signature: index is not signed")]
    Unsigned,
    #[error("signature: no trusted key for {}", names.join(", "))]
    Untrusted { names: Vec<String> },
    #[error("signature: {alg} signature by {key} is damaged or was made with another key")]
    BadSignature { alg: SigAlg, key: String },
    #[error("index: the index member does not match its intact {alg} signature by {key}")]
    IndexModified { alg: SigAlg, key: String },
    #[error("{}: {error}", shown(path))]
    Package { path: String, error: PackageError },
    #[error("{}: {error}", shown(path))]
    Io { path: String, error: std::io::Error },
    #[error("{}: {what}", shown(path))]
    Refused { path: String, what: String },
}

impl From<DbError> for IndexError {
    fn from(e: DbError) -> Self {
        IndexError::Records(e)
    }
}

/// A parsed index.
#[derive(Debug, Clone, Default)]
pub struct ApkIndex {
    pub description: Option<String>,
    /// Records in file order.
    pub packages: Vec<PackageInfo>,
    pub signatures: Vec<SignatureEntry>,
    /// The compressed index member (what the signature covers); empty for an index built in
    /// memory and not yet written.
    pub index_gz: Vec<u8>,
}

/// The index record for a package (`--rewrite-arch` replaces `A:` when given).
pub fn package_info(pkg: &Package, rewrite_arch: Option<&str>) -> PackageInfo {
    let p = &pkg.pkginfo;
    let deps = |items: &mut dyn Iterator<Item = &str>| -> Vec<Dependency> {
        let joined: Vec<&str> = items.collect();
        dep::parse_list_lenient(&joined.join(" ")).0
    };
    PackageInfo {
        checksum: pkg.identity(),
        name: p.pkgname.clone(),
        version: p.pkgver.clone(),
        arch: rewrite_arch.map_or_else(|| p.arch.clone(), str::to_string),
        size: pkg.file_size,
        installed_size: p.size,
        description: p.pkgdesc.clone(),
        url: p.url.clone(),
        license: p.license.clone(),
        origin: p.origin.clone(),
        maintainer: p.maintainer.clone().unwrap_or_default(),
        build_time: p.builddate,
        commit: p.commit.clone().unwrap_or_default(),
        provider_priority: p.provider_priority.unwrap_or(0),
        depends: deps(&mut p.all_depends()),
        provides: deps(&mut p.all_provides()),
        install_if: deps(&mut p.install_if.iter().map(String::as_str)),
        issues: Default::default(),
    }
}

impl ApkIndex {
    /// An index of the given packages.
    pub fn new(description: Option<String>, packages: Vec<PackageInfo>) -> ApkIndex {
        ApkIndex {
            description,
            packages,
            signatures: Vec::new(),
            index_gz: Vec::new(),
        }
    }

    /// Reads `.apk` files and indexes them, as `apk index FILE…` does: like apk, only the
    /// signature and control members are read (the record needs `.PKGINFO`, the control
    /// member's checksum and the file size); the data is checked when the package is
    /// installed or verified. Signatures are not required (`apk index` wants trusted
    /// signatures unless `--allow-untrusted`; callers that care use
    /// [`Package::verify_signature`]). A package whose record apk could not write
    /// ([`limits::index_problem`]) is refused.
    pub fn from_package_files(
        description: Option<String>,
        files: &[&Path],
        rewrite_arch: Option<&str>,
    ) -> Result<ApkIndex, IndexError> {
        let record = |f: &Path| -> Result<PackageInfo, IndexError> {
            let path = f.display().to_string();
            let pkg = Package::read_head(f).map_err(|error| IndexError::Package {
                path: path.clone(),
                error,
            })?;
            let info = package_info(&pkg, rewrite_arch);
            match limits::index_problem(&info) {
                Some(what) => Err(IndexError::Refused { path, what }),
                None => Ok(info),
            }
        };
        // Packages are read on every CPU (each is a few small reads and inflates); the
        // records keep the order of `files`, and the first error in that order is returned.
        let threads = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .min(files.len().div_ceil(16).max(1));
        let next = std::sync::atomic::AtomicUsize::new(0);
        let mut results: Vec<(usize, Result<PackageInfo, IndexError>)> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| {
                        let mut done = Vec::new();
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some(f) = files.get(i) else { break done };
                            done.push((i, record(f)));
                        }
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().expect("a reader thread panicked"))
                .collect()
        });
        results.sort_by_key(|r| r.0);
        let packages = results
            .into_iter()
            .map(|r| r.1)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ApkIndex::new(description, packages))
    }

    /// Parses `APKINDEX.tar.gz` bytes (signed or not).
    pub fn parse(bytes: &[u8]) -> Result<ApkIndex, IndexError> {
        let mut start = 0;
        let mut signatures = Vec::new();
        // A signature member, if present, is a cut tar of `.SIGN.*` entries only.
        let (first, first_range) = tarball::inflate_member(bytes, 0, MAX_INDEX).map_err(|e| {
            if crate::package::first_member_was_signature(bytes, &[b"DESCRIPTION\0", b"APKINDEX\0"])
            {
                IndexError::Signature(e.to_string())
            } else {
                IndexError::Index(e.to_string())
            }
        })?;
        let mut r = TarReader::new(first.as_slice());
        let head = r.next_entry();
        let is_sig = matches!(&head, Ok(Some(h)) if h.path.starts_with(".SIGN."));
        let index_tar = if is_sig {
            let mut h = head.map_err(|e| IndexError::Signature(e.to_string()))?;
            while let Some(hd) = h {
                if !hd.path.starts_with(".SIGN.") {
                    return Err(IndexError::Signature(format!(
                        "unexpected entry {:?} in the signature member",
                        hd.path
                    )));
                }
                let data = r
                    .read_data(sign::MAX_SIGNATURE)
                    .map_err(|e| IndexError::Signature(e.to_string()))?;
                let (alg, key_name) = match sign::parse_signature_name(&hd.path) {
                    Some(SignatureName::Rsa { alg, key_name }) => (Some(alg), key_name.to_string()),
                    _ => (None, String::new()),
                };
                signatures.push(SignatureEntry {
                    name: hd.path,
                    alg,
                    key_name,
                    signature: data,
                });
                h = r
                    .next_entry()
                    .map_err(|e| IndexError::Signature(e.to_string()))?;
            }
            if r.saw_end_blocks() {
                return Err(IndexError::Signature(
                    "end-of-archive blocks inside the signature member".into(),
                ));
            }
            start = first_range.end;
            let (tar, range) = tarball::inflate_member(bytes, start, MAX_INDEX)
                .map_err(|e| IndexError::Index(e.to_string()))?;
            if range.end != bytes.len() {
                return Err(IndexError::Index("bytes after the index member".into()));
            }
            tar
        } else {
            if first_range.end != bytes.len() {
                return Err(IndexError::Index("bytes after the index member".into()));
            }
            first
        };
        let mut description = None;
        let mut text = None;
        let mut r = TarReader::new(index_tar.as_slice());
        while let Some(h) = r
            .next_entry()
            .map_err(|e| IndexError::Index(e.to_string()))?
        {
            let data = r
                .read_data(MAX_INDEX)
                .map_err(|e| IndexError::Index(e.to_string()))?;
            match h.path.as_str() {
                "DESCRIPTION" if data.len() <= MAX_DESCRIPTION => {
                    description = Some(String::from_utf8_lossy(&data).into_owned());
                }
                "APKINDEX" => {
                    text = Some(
                        String::from_utf8(data)
                            .map_err(|_| IndexError::Index("APKINDEX is not UTF-8".into()))?,
                    )
                }
                _ => {}
            }
        }
        let text = text.ok_or_else(|| IndexError::Index("no APKINDEX entry".into()))?;
        let packages = db::parse_index(&text)?;
        Ok(ApkIndex {
            description,
            packages,
            signatures,
            index_gz: bytes[start..].to_vec(),
        })
    }

    /// Reads an index file.
    pub fn read(path: &Path) -> Result<ApkIndex, IndexError> {
        let bytes = std::fs::read(path).map_err(|error| IndexError::Io {
            path: path.display().to_string(),
            error,
        })?;
        ApkIndex::parse(&bytes)
    }

    /// Checks the signature (first `.SIGN.*` with a trusted key) over the index member.
    pub fn verify_signature(&self, keys: &Keyring) -> Result<(SigAlg, String), IndexError> {
        if self.signatures.is_empty() {
            return Err(IndexError::Unsigned);
        }
        let Some((sig, alg, key)) = self.signatures.iter().find_map(|s| {
            let alg = s.alg?;
            keys.get(&s.key_name).map(|k| (s, alg, k))
        }) else {
            return Err(IndexError::Untrusted {
                names: self.signatures.iter().map(|s| s.name.clone()).collect(),
            });
        };
        key.verify(alg, &self.index_gz, &sig.signature)
            .map_err(|_| {
                let name = sig.key_name.clone();
                if crate::package::key_check(key, alg, &sig.signature) {
                    IndexError::IndexModified { alg, key: name }
                } else {
                    IndexError::BadSignature { alg, key: name }
                }
            })?;
        Ok((alg, sig.key_name.clone()))
    }

    /// The `APKINDEX` text: records sorted by name (`strcasecmp`, then `strcmp`), then
    /// version, each followed by an empty line.
    pub fn text(&self) -> String {
        let mut v: Vec<&PackageInfo> = self.packages.iter().collect();
        v.sort_by(|a, b| {
            db::name_cmp_display(&a.name, &b.name)
                .then_with(|| version::compare(&a.version, &b.version))
        });
        v.iter().map(|p| p.to_index_entry()).collect()
    }

    /// Writes `APKINDEX.tar.gz`, entries with mtime `mtime` (`SOURCE_DATE_EPOCH`), signed
    /// when `signer` is given.
    pub fn to_bytes(&self, mtime: u64, signer: Option<&Signer>) -> Result<Vec<u8>, IndexError> {
        let werr = |e: tarball::TarError| IndexError::Index(e.to_string());
        let mut w = TarWriter::new(Vec::new(), TarStyle::ApkIndex);
        let mut entry = |name: &str, data: &[u8]| -> Result<(), IndexError> {
            let mut h = Header::new(name, EntryType::Regular);
            h.mode = 0o644;
            h.uname = "root".into();
            h.gname = "root".into();
            h.mtime = mtime;
            h.size = data.len() as u64;
            w.append(&h, data).map_err(werr)
        };
        if let Some(d) = &self.description {
            entry("DESCRIPTION", d.as_bytes())?;
        }
        entry("APKINDEX", self.text().as_bytes())?;
        let index_gz = tarball::gzip(&w.finish(TarEnd::TwoBlocks).map_err(werr)?);
        let mut out = match signer {
            Some(s) => s
                .signature_member(&index_gz, mtime)
                .map_err(|e| IndexError::Signature(e.to_string()))?,
            None => Vec::new(),
        };
        out.extend_from_slice(&index_gz);
        Ok(out)
    }

    /// Packages named `name`.
    pub fn find<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a PackageInfo> + 'a {
        self.packages.iter().filter(move |p| p.name == name)
    }
}

/// A local repository directory as apk uses it: `<dir>/<arch>/APKINDEX.tar.gz`, packages
/// at `<dir>/<arch>/<name>-<version>.apk`. A directory that holds `APKINDEX.tar.gz`
/// itself is accepted too.
#[derive(Debug, Clone)]
pub struct Repository {
    /// The repository as written in `etc/apk/repositories` (the directory above the arch).
    pub path: std::path::PathBuf,
    /// Directory holding the index and the packages.
    pub dir: std::path::PathBuf,
    pub index: ApkIndex,
    /// Whether the index signature verified with a trusted key. Packages of a trusted
    /// index are trusted through their `C:` identity; otherwise they need their own
    /// signature.
    pub trusted: bool,
}

impl Repository {
    /// Opens the repository for `arch` and checks the index signature against `keys`. An
    /// index that is not signed by a trusted key is an error, as apk ignores it unless
    /// `--allow-untrusted` (see [`Repository::open_untrusted`]).
    pub fn open(path: &Path, arch: &str, keys: &Keyring) -> Result<Repository, IndexError> {
        let (dir, index) = Repository::read_index(path, arch)?;
        Repository::trust(path, dir, index, keys, false)
    }

    /// Like [`Repository::open`], but an unsigned or untrusted index opens too, with
    /// `trusted == false` (`--allow-untrusted`). A signature by a trusted key that does not
    /// verify is still an error.
    pub fn open_untrusted(
        path: &Path,
        arch: &str,
        keys: &Keyring,
    ) -> Result<Repository, IndexError> {
        let (dir, index) = Repository::read_index(path, arch)?;
        Repository::trust(path, dir, index, keys, true)
    }

    /// A repository named by its index file (apk-tools' `ndx` form, a path ending in
    /// `.tar.gz`), its packages beside it; trusted as [`Repository::open`] says, or, with
    /// `allow_untrusted`, as [`Repository::open_untrusted`] says.
    pub fn open_index_file(
        file: &Path,
        keys: &Keyring,
        allow_untrusted: bool,
    ) -> Result<Repository, IndexError> {
        let index = ApkIndex::read(file)?;
        check_names(file, &index)?;
        let dir = file.parent().unwrap_or(Path::new(".")).to_path_buf();
        Repository::trust(file, dir, index, keys, allow_untrusted)
    }

    fn trust(
        path: &Path,
        dir: std::path::PathBuf,
        index: ApkIndex,
        keys: &Keyring,
        allow_untrusted: bool,
    ) -> Result<Repository, IndexError> {
        let trusted = match index.verify_signature(keys) {
            Ok(_) => true,
            Err(IndexError::Unsigned | IndexError::Untrusted { .. }) if allow_untrusted => false,
            Err(e @ (IndexError::Unsigned | IndexError::Untrusted { .. })) => {
                let file = if path.is_file() {
                    path.to_path_buf()
                } else {
                    dir.join("APKINDEX.tar.gz")
                };
                return Err(IndexError::Refused {
                    path: file.display().to_string(),
                    what: format!(
                        "{e} (the index is not trusted; --allow-untrusted uses it anyway)"
                    ),
                });
            }
            Err(e) => return Err(e),
        };
        Ok(Repository {
            path: path.to_path_buf(),
            dir,
            index,
            trusted,
        })
    }

    /// Reads `<path>/<arch>/APKINDEX.tar.gz` (or `<path>/APKINDEX.tar.gz`) and checks that
    /// every record names a file in that directory.
    fn read_index(path: &Path, arch: &str) -> Result<(std::path::PathBuf, ApkIndex), IndexError> {
        let mut dir = path.join(arch);
        if !dir.join("APKINDEX.tar.gz").is_file() && path.join("APKINDEX.tar.gz").is_file() {
            dir = path.to_path_buf();
        }
        let file = dir.join("APKINDEX.tar.gz");
        let index = ApkIndex::read(&file)?;
        check_names(&file, &index)?;
        Ok((dir, index))
    }

    /// Where the `.apk` of an index record is.
    pub fn package_path(&self, p: &PackageInfo) -> std::path::PathBuf {
        self.dir.join(format!("{}-{}.apk", p.name, p.version))
    }
}

/// Refuses an index with a record whose file name would not be a plain name in the
/// index's directory.
fn check_names(file: &Path, index: &ApkIndex) -> Result<(), IndexError> {
    for p in &index.packages {
        let name = format!("{}-{}.apk", p.name, p.version);
        if name.starts_with('.') || name.contains('/') || name.chars().any(char::is_control) {
            return Err(IndexError::Refused {
                path: file.display().to_string(),
                what: format!(
                    "record {}: a name or version that is not a plain file name",
                    shown(&name)
                ),
            });
        }
    }
    Ok(())
}
