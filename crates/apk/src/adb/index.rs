//! `Packages.adb`, the v3 repository index (schema `indx`): read, verify, write, sign.
//!
//! [`IndexV3::parse`] reads the ADB and SIG blocks (no DATA block belongs in an index),
//! checks the signature when keys are given, and only then decodes the records.
//! [`IndexV3Builder`] writes an index of v3 packages as `apk mkndx` does (apk-tools
//! `app_mkndx.c`): each package's info object copied value by value from the package's
//! own ADB block, with its file size and the SHA-256 of that block as `hashes`; the
//! records sorted field by field; then the description and the package name spec. For
//! the same packages, description and key, an uncompressed index is byte for byte the
//! one `apk mkndx --compression none` writes.

use std::io::{BufRead, Write};
use std::path::Path;

use super::container::{self, Compression, FileWriter, BLOCK_ADB, BLOCK_SIG};
use super::package::{adb_identity, identity_matches, read_head, UnverifiedPackageV3};
use sha1::{Digest, Sha1};

use super::encode;
use super::schema::{
    dependency_problem, package_name_problem, pi, pkginfo_cmp, Decoder, IndexMeta, PkgInfoV3,
    SCHEMA_INDEX, SCHEMA_PACKAGE,
};
use super::sig::{self, SigBlock};
use super::wire::{Budget, Val, View, T_ARRAY};
use super::write::AdbWriter;
use super::AdbError;
use crate::dep::Dependency;
use crate::package::{unsafe_path_reason, Package};
use crate::sign::{Keyring, PrivateKey};
use crate::version;

/// Largest index ADB block read.
pub const MAX_INDEX_ADB: u64 = 128 << 20;
/// What decoding an index may produce (see [`Budget`]).
pub const INDEX_BUDGET: Budget = Budget {
    nodes: 1 << 23,
    bytes: 256 << 20,
};
/// apk-tools' name of a package file when an index does not say otherwise.
pub const DEFAULT_PKGNAME_SPEC: &str = "${name}-${version}.apk";

/// A parsed index.
#[derive(Debug, Clone)]
pub struct IndexV3 {
    pub meta: IndexMeta,
    /// The ADB block's payload, what the signatures cover.
    pub adb: Vec<u8>,
    pub signatures: Vec<SigBlock>,
    pub compression: Compression,
    /// The name of the key whose signature was checked, if one was.
    pub trusted_by: Option<String>,
}

impl IndexV3 {
    /// Reads an index; with `keys`, refuses it unless a trusted key signed it. The records
    /// are decoded only after that check.
    pub fn parse(bytes: &[u8], keys: Option<&Keyring>) -> Result<IndexV3, AdbError> {
        IndexV3::read_from(bytes, keys)
    }

    /// Like [`IndexV3::parse`], from a stream.
    pub fn read_from<R: BufRead>(src: R, keys: Option<&Keyring>) -> Result<IndexV3, AdbError> {
        let head = read_head(src, SCHEMA_INDEX, MAX_INDEX_ADB)?;
        if let Some(h) = head.next {
            return Err(AdbError::Format(format!(
                "a {} block in an index",
                h.kind_name()
            )));
        }
        let trusted_by = match keys {
            Some(k) => Some(sig::verify(&head.signatures, k, SCHEMA_INDEX, &head.adb)?),
            None => None,
        };
        let meta = Decoder::new(View::new(&head.adb)?, INDEX_BUDGET).index()?;
        Ok(IndexV3 {
            meta,
            compression: head.blocks.compression,
            adb: head.adb,
            signatures: head.signatures,
            trusted_by,
        })
    }

    /// Reads an index file (see [`IndexV3::parse`]).
    pub fn read(path: &Path, keys: Option<&Keyring>) -> Result<IndexV3, AdbError> {
        let f = std::fs::File::open(path).map_err(|error| AdbError::Io {
            path: path.display().to_string(),
            error,
        })?;
        IndexV3::read_from(std::io::BufReader::new(f), keys)
    }

    /// Where a record's package file is, relative to the index: the index's package name
    /// spec (or [`DEFAULT_PKGNAME_SPEC`]) with `${field}` replaced by the record's field.
    pub fn package_path(&self, p: &PkgInfoV3) -> Result<String, AdbError> {
        let spec = match self.meta.pkgname_spec.as_str() {
            "" => DEFAULT_PKGNAME_SPEC,
            s => s,
        };
        let path = substitute(spec, p)?;
        match unsafe_path_reason(&path) {
            Some(why) => Err(AdbError::Schema {
                at: "pkgname-spec".into(),
                what: format!("'{path}' for {}-{}: {why}", p.name, p.version),
            }),
            None => Ok(path),
        }
    }

    /// Records named `name`.
    pub fn find<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a PkgInfoV3> + 'a {
        self.meta.packages.iter().filter(move |p| p.name == name)
    }
}

/// `apk_blob_subst` with `adb_s_field_subst`: `${field}` is the record's scalar field.
fn substitute(spec: &str, p: &PkgInfoV3) -> Result<String, AdbError> {
    let bad = |what: String| AdbError::Schema {
        at: "pkgname-spec".into(),
        what,
    };
    let num = |v: Option<u64>| v.unwrap_or(0).to_string();
    let mut out = String::new();
    let mut rest = spec;
    while let Some(at) = rest.find("${") {
        out.push_str(&rest[..at]);
        let end = rest[at..]
            .find('}')
            .ok_or_else(|| bad(format!("unterminated variable in '{spec}'")))?;
        let field = &rest[at + 2..at + end];
        out.push_str(&match field {
            "name" => p.name.clone(),
            "version" => p.version.clone(),
            "hashes" => hex::encode(&p.hashes),
            "description" => p.description.clone(),
            "arch" => p.arch.clone(),
            "license" => p.license.clone(),
            "origin" => p.origin.clone(),
            "maintainer" => p.maintainer.clone(),
            "url" => p.url.clone(),
            "repo-commit" => hex::encode(&p.repo_commit),
            "build-time" => num(p.build_time),
            "installed-size" => num(p.installed_size),
            "file-size" => num(p.file_size),
            "provider-priority" => num(p.provider_priority),
            "layer" => num(p.layer),
            other => return Err(bad(format!("unknown field '{other}' in '{spec}'"))),
        });
        rest = &rest[at + end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// One package of an index being written.
#[derive(Debug, Clone)]
enum Record {
    /// A v3 package: its ADB block, the info copied from there.
    V3 { adb: Vec<u8>, file_size: u64 },
    /// A v2 package: its `.PKGINFO` and its identity.
    V2 {
        pkginfo: Vec<u8>,
        identity: Vec<u8>,
        file_size: u64,
    },
}

/// An index being put together; see the module documentation.
#[derive(Debug, Clone, Default)]
pub struct IndexV3Builder {
    pub description: String,
    /// Written only when set (`apk mkndx --pkgname-spec`).
    pub pkgname_spec: Option<String>,
    records: Vec<Record>,
}

impl IndexV3Builder {
    pub fn new(description: impl Into<String>) -> IndexV3Builder {
        IndexV3Builder {
            description: description.into(),
            ..IndexV3Builder::default()
        }
    }

    /// Adds a package by its ADB block (already trusted by the caller) and file size.
    pub fn add_package(&mut self, adb: Vec<u8>, file_size: u64) -> Result<(), AdbError> {
        // Checked now, so that writing only copies what is known to be well-formed.
        Decoder::new(View::new(&adb)?, super::package::PACKAGE_BUDGET).package()?;
        self.records.push(Record::V3 { adb, file_size });
        Ok(())
    }

    /// Adds a v2 package (its signature and control members read, its trust decided by
    /// the caller), as `apk mkndx` indexes one: the record from `.PKGINFO`, `hashes` the
    /// package's v2 identity, the SHA-1 of its compressed control member (apk-tools'
    /// v2 reader computes SHA-1 whatever `--hash` says).
    pub fn add_v2_package(&mut self, pkg: &Package) -> Result<(), AdbError> {
        let identity = Sha1::digest(&pkg.control_gz).to_vec();
        let r = Record::V2 {
            pkginfo: pkg.pkginfo_raw.clone(),
            identity,
            file_size: pkg.file_size,
        };
        // Checked now, so that a bad `.PKGINFO` is refused when it is added.
        r.write(&mut AdbWriter::new())?;
        self.records.push(r);
        Ok(())
    }

    /// Reads each package file, v3 or v2 (signatures checked against `keys` when given,
    /// as `apk mkndx` does unless `--allow-untrusted`), and adds it. Only what a record
    /// needs is read: a v3 package's ADB block, a v2 package's signature and control.
    pub fn add_package_files(
        &mut self,
        files: &[&Path],
        keys: Option<&Keyring>,
    ) -> Result<(), AdbError> {
        for f in files {
            let io = |error| AdbError::Io {
                path: f.display().to_string(),
                error,
            };
            let file = std::fs::File::open(f).map_err(io)?;
            let size = file.metadata().map_err(io)?.len();
            let mut src = std::io::BufReader::with_capacity(64 << 10, file);
            if !src.fill_buf().map_err(io)?.starts_with(b"ADB") {
                self.add_v2_file(f, keys)?;
                continue;
            }
            let head = UnverifiedPackageV3::new(src).map_err(|e| in_file(f, e))?;
            let adb = head.adb().to_vec();
            if let Some(k) = keys {
                sig::verify(head.signatures(), k, SCHEMA_PACKAGE, &adb)
                    .map_err(|e| in_file(f, e))?;
            }
            self.add_package(adb, size).map_err(|e| in_file(f, e))?;
        }
        Ok(())
    }

    /// A v2 package file: its signature and control members (the data is not read).
    fn add_v2_file(&mut self, f: &Path, keys: Option<&Keyring>) -> Result<(), AdbError> {
        let v2 = |e: crate::package::PackageError| AdbError::InFile {
            path: f.display().to_string(),
            error: Box::new(AdbError::Format(format!("v2 package: {e}"))),
        };
        let pkg = Package::read_head(f).map_err(v2)?;
        if let Some(k) = keys {
            pkg.verify_signature(k).map_err(v2)?;
        }
        self.add_v2_package(&pkg).map_err(|e| in_file(f, e))
    }

    /// The index's ADB block.
    pub fn adb(&self) -> Result<Vec<u8>, AdbError> {
        let mut w = AdbWriter::new();
        let mut vals = Vec::with_capacity(self.records.len());
        for r in &self.records {
            let v = r.write(&mut w)?;
            // The record as it reads back, for sorting.
            let info = Decoder::new(View::new(w.bytes())?, INDEX_BUDGET).pkginfo(v)?;
            vals.push((info, v));
        }
        let description = w.blob(self.description.as_bytes());
        let spec = w.blob(self.pkgname_spec.as_deref().unwrap_or_default().as_bytes());
        vals.sort_by(|a, b| pkginfo_cmp(&a.0, &b.0));
        let packages: Vec<Val> = vals.into_iter().map(|(_, v)| v).collect();
        let packages = w.object(&packages);
        let root = w.object(&[description, packages, spec]);
        w.set_root(root);
        w.finish()
    }

    /// The index as bytes, signed with `key` when given.
    pub fn build(
        &self,
        key: Option<&PrivateKey>,
        compression: Compression,
    ) -> Result<Vec<u8>, AdbError> {
        let adb = self.adb()?;
        write_adb_file(Vec::new(), SCHEMA_INDEX, &adb, key, compression)?
            .finish()
            .map_err(|e| AdbError::Write(e.to_string()))
    }
}

impl Record {
    /// Writes the record's info object.
    fn write(&self, w: &mut AdbWriter) -> Result<Val, AdbError> {
        match self {
            Record::V3 { adb, file_size } => {
                let view = View::new(adb)?;
                let copy_err = |what: String| AdbError::Schema {
                    at: "info".into(),
                    what,
                };
                let root = view.slots(view.root()).map_err(copy_err)?;
                let info = view.slots(root.map_or(Val::NULL, |r| r.get(1)));
                let mut slots = Vec::with_capacity(pi::COUNT);
                for v in info.map_err(copy_err)?.iter().flat_map(|s| s.iter()) {
                    slots.push(w.copy(&view, v).map_err(copy_err)?);
                }
                slots.resize(slots.len().max(pi::COUNT), Val::NULL);
                slots[pi::FILE_SIZE - 1] = w.int(*file_size);
                slots[pi::HASHES - 1] = w.blob(&adb_identity(adb));
                Ok(w.object(&slots))
            }
            Record::V2 {
                pkginfo,
                identity,
                file_size,
            } => v2_record(w, pkginfo, identity, *file_size),
        }
    }
}

/// The pkginfo field a `.PKGINFO` key fills in `apk mkndx` (`mkndx_parse_v2meta`); 0 for
/// keys it reads and drops.
fn v2_field(key: &str) -> Option<usize> {
    Some(match key {
        "arch" => pi::ARCH,
        "builddate" => pi::BUILD_TIME,
        "commit" => pi::REPO_COMMIT,
        "depend" => pi::DEPENDS,
        "install_if" => pi::INSTALL_IF,
        "license" => pi::LICENSE,
        "maintainer" => pi::MAINTAINER,
        "origin" => pi::ORIGIN,
        "pkgdesc" => pi::DESCRIPTION,
        "pkgname" => pi::NAME,
        "pkgver" => pi::VERSION,
        "provider_priority" => pi::PROVIDER_PRIORITY,
        "provides" => pi::PROVIDES,
        "replaces" => pi::REPLACES,
        "size" => pi::INSTALLED_SIZE,
        "url" => pi::URL,
        "datahash" | "packager" | "replaces_priority" | "triggers" => 0,
        _ => return None,
    })
}

/// A v2 package's record as `apk mkndx` writes it: `.PKGINFO` read line by line, each
/// field written when its line is met, except `depend`, `provides` and `replaces`, whose
/// items are written as they come and whose arrays are written after the last line.
fn v2_record(
    w: &mut AdbWriter,
    pkginfo: &[u8],
    identity: &[u8],
    file_size: u64,
) -> Result<Val, AdbError> {
    let bad = |key: &str, what: String| AdbError::Schema {
        at: format!(".PKGINFO {key}"),
        what,
    };
    let text = std::str::from_utf8(pkginfo).map_err(|_| bad("", "not UTF-8".into()))?;
    let mut slots = vec![Val::NULL; pi::COUNT];
    let mut lists: [Vec<(Dependency, Val)>; 3] = Default::default();
    let parse_deps = |key: &str, v: &str| -> Result<Vec<Dependency>, AdbError> {
        let mut out = Vec::new();
        for word in v.split([' ', '\n']).filter(|w| !w.is_empty()) {
            let d = Dependency::parse_metadata(word).map_err(|e| bad(key, e.to_string()))?;
            if let Some(p) = dependency_problem(&d) {
                return Err(bad(key, p));
            }
            out.push(d);
        }
        Ok(out)
    };
    for line in text.split('\n') {
        let Some((key, v)) = line.split_once(" = ").filter(|_| !line.starts_with('#')) else {
            continue;
        };
        let Some(f) = v2_field(key).filter(|&f| f != 0) else {
            continue;
        };
        if !slots[f - 1].is_null() {
            return Err(bad(key, "given twice".into()));
        }
        let int = |v: &str| {
            v.parse::<u64>()
                .map_err(|_| bad(key, format!("'{v}' is not a number")))
        };
        let list = [pi::DEPENDS, pi::PROVIDES, pi::REPLACES]
            .iter()
            .position(|&l| l == f);
        slots[f - 1] = match f {
            _ if list.is_some() => {
                for d in parse_deps(key, v)? {
                    let val = encode::dependency(w, &d);
                    lists[list.expect("a list")].push((d, val));
                }
                Val::NULL
            }
            pi::INSTALL_IF => encode::dependencies(w, &parse_deps(key, v)?),
            pi::REPO_COMMIT => match v.get(..40).map(hex::decode) {
                Some(Ok(commit)) => w.blob(&commit),
                _ => Val::NULL,
            },
            pi::NAME => match package_name_problem(v) {
                Some(p) => return Err(bad(key, p.into())),
                None => w.blob(v.as_bytes()),
            },
            pi::VERSION if !version::validate(v) => {
                return Err(bad(key, format!("'{v}' is not a valid version")))
            }
            pi::BUILD_TIME | pi::INSTALLED_SIZE | pi::PROVIDER_PRIORITY => w.int(int(v)?),
            _ => w.blob(v.as_bytes()),
        };
    }
    for (list, f) in lists.iter().zip([pi::DEPENDS, pi::PROVIDES, pi::REPLACES]) {
        slots[f - 1] = encode::dependencies_tagged(w, list, T_ARRAY);
    }
    slots[pi::FILE_SIZE - 1] = w.int(file_size);
    slots[pi::HASHES - 1] = w.blob(identity);
    Ok(w.object(&slots))
}

fn in_file(f: &Path, e: AdbError) -> AdbError {
    AdbError::InFile {
        path: f.display().to_string(),
        error: Box::new(e),
    }
}

/// Writes the header, the ADB block and, with `key`, its SIG block; the caller writes
/// DATA blocks after, if any, and finishes the writer.
pub fn write_adb_file<W: Write>(
    out: W,
    schema: u32,
    adb: &[u8],
    key: Option<&PrivateKey>,
    compression: Compression,
) -> Result<FileWriter<W>, AdbError> {
    let werr = |e: std::io::Error| AdbError::Write(e.to_string());
    let mut f = FileWriter::new(out, schema, compression).map_err(werr)?;
    container::write_block(&mut f, BLOCK_ADB, adb).map_err(werr)?;
    if let Some(k) = key {
        let s = sig::sign(k, schema, adb)?;
        container::write_block(&mut f, BLOCK_SIG, &s.to_bytes()).map_err(werr)?;
    }
    Ok(f)
}

/// Whether `expected` (an index record's `hashes`) names the package whose ADB block
/// is `adb`.
pub fn record_matches(expected: &[u8], adb: &[u8]) -> bool {
    identity_matches(&adb_identity(adb), expected)
}
