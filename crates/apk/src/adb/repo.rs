//! A v3 repository as `apk add` uses it: a `Packages.adb`, trusted only when a trusted
//! key signed it (unless `--allow-untrusted`), its records turned into the
//! [`PackageInfo`] the solver and the installer share, and each record's package file
//! found as apk-tools 3 finds it.
//!
//! A record's `C:` is `Q1` and the base64 of its whole `hashes` (32 bytes for `apk mkndx
//! --hash sha256`, the default; 20 for `sha256-160`, or for a v2 package, whose `hashes`
//! is its SHA-1 `C:`), the form apk-tools reads a SHA-256 `C:` in. The solver keys
//! packages by the first 20 bytes, which is the `C:` apk-tools 3 writes into the installed
//! database, so an installed package is the record's.
//!
//! A package's file is `<base>/<pkgname-spec>`: the index's `pkgname-spec` when it has one,
//! else the repository's default, with `${name}`, `${version}`, `${arch}` and `${hash}`
//! (apk-tools' `apk_pkg_subst`, `${field:N}` keeping N bytes) replaced. A spec naming a
//! URL (`://`) or a path leaving the base (absolute, `..`, control characters) is refused.

use std::path::{Path, PathBuf};

use super::index::IndexV3;
use super::schema::PkgInfoV3;
use super::AdbError;
use crate::db::PackageInfo;
use crate::package::{q1, unsafe_path_reason};
use crate::sign::Keyring;

/// apk-tools' package file name in a repository opened by its `Packages.adb` (`ndx`).
pub const NDX_PKGNAME_SPEC: &str = "${name}-${version}.apk";

/// An opened `Packages.adb`.
#[derive(Debug, Clone)]
pub struct RepositoryV3 {
    /// The index file.
    pub index_file: PathBuf,
    /// The directory package file names are relative to.
    pub base: PathBuf,
    pub index: IndexV3,
    /// The records that have a hash (apk-tools skips the others), in index order.
    pub records: Vec<PackageInfo>,
    /// Each record's package file, relative to `base`.
    pub files: Vec<String>,
    /// Whether a trusted key signed the index.
    pub trusted: bool,
}

fn in_file(f: &Path, error: AdbError) -> AdbError {
    AdbError::InFile {
        path: f.display().to_string(),
        error: Box::new(error),
    }
}

impl RepositoryV3 {
    /// Opens `index_file`, whose packages are under `base` at `default_spec` unless the
    /// index names its own. The index must be signed by a trusted key in `keys`; with
    /// `allow_untrusted`, an unsigned index or one signed by an unknown key opens too
    /// (`trusted == false`), but a signature by a trusted key that does not verify does
    /// not.
    pub fn open(
        index_file: &Path,
        base: &Path,
        default_spec: &str,
        keys: &Keyring,
        allow_untrusted: bool,
    ) -> Result<RepositoryV3, AdbError> {
        let f = index_file;
        let (index, trusted) = match IndexV3::read(f, Some(keys)) {
            Ok(i) => (i, true),
            Err(AdbError::Unsigned | AdbError::Untrusted { .. }) if allow_untrusted => {
                (IndexV3::read(f, None).map_err(|e| in_file(f, e))?, false)
            }
            Err(e @ (AdbError::Unsigned | AdbError::Untrusted { .. })) => {
                return Err(in_file(f, AdbError::NotTrusted(Box::new(e))))
            }
            Err(e @ AdbError::Io { .. }) => return Err(e),
            Err(e) => return Err(in_file(f, e)),
        };
        let spec = match index.meta.pkgname_spec.as_str() {
            "" => default_spec,
            s => s,
        };
        let (mut records, mut files) = (Vec::new(), Vec::new());
        for p in index.meta.packages.iter().filter(|p| !p.hashes.is_empty()) {
            files.push(package_file(spec, p).map_err(|e| in_file(f, e))?);
            records.push(package_info(p));
        }
        Ok(RepositoryV3 {
            index_file: f.to_path_buf(),
            base: base.to_path_buf(),
            index,
            records,
            files,
            trusted,
        })
    }

    /// Where the package of `records[i]` is.
    pub fn package_path(&self, i: usize) -> PathBuf {
        self.base.join(&self.files[i])
    }

    /// The index of the record `p` (by identity, name and version).
    pub fn position(&self, p: &PackageInfo) -> Option<usize> {
        self.records
            .iter()
            .position(|r| r.checksum == p.checksum && r.name == p.name && r.version == p.version)
    }
}

/// An index record as the solver and the installer see it.
pub fn package_info(p: &PkgInfoV3) -> PackageInfo {
    PackageInfo {
        checksum: q1(&p.hashes),
        name: p.name.clone(),
        version: p.version.clone(),
        arch: p.arch.clone(),
        size: p.file_size.unwrap_or(0),
        installed_size: p.installed_size.unwrap_or(0),
        description: p.description.clone(),
        url: p.url.clone(),
        license: p.license.clone(),
        origin: p.origin.clone(),
        maintainer: p.maintainer.clone(),
        build_time: p.build_time.unwrap_or(0),
        commit: hex::encode(&p.repo_commit),
        provider_priority: p
            .provider_priority
            .map_or(0, |v| u32::try_from(v).unwrap_or(u32::MAX)),
        depends: p.depends.clone(),
        provides: p.provides.clone(),
        install_if: p.install_if.clone(),
        issues: Default::default(),
    }
}

/// The package file of record `p`: `spec` substituted as `apk_pkg_subst` does.
pub fn package_file(spec: &str, p: &PkgInfoV3) -> Result<String, AdbError> {
    let bad = |what: String| AdbError::Schema {
        at: "pkgname-spec".into(),
        what,
    };
    if spec.contains("://") {
        return Err(bad(format!(
            "'{spec}' names a URL; only local repositories are supported"
        )));
    }
    let mut out = String::new();
    let mut rest = spec;
    while let Some(at) = rest.find("${") {
        out.push_str(&rest[..at]);
        let end = rest[at..]
            .find('}')
            .ok_or_else(|| bad(format!("unterminated variable in '{spec}'")))?;
        let var = &rest[at + 2..at + end];
        let (field, keep) = match var.split_once(':') {
            Some((f, n)) => {
                let n = n
                    .parse::<usize>()
                    .map_err(|_| bad(format!("'{var}' in '{spec}': not a length")))?;
                (f, Some(n))
            }
            None => (var, None),
        };
        let value = match field {
            "name" => p.name.clone(),
            "version" => p.version.clone(),
            "arch" => p.arch.clone(),
            "hash" => hex::encode(&p.hashes),
            other => return Err(bad(format!("unknown field '{other}' in '{spec}'"))),
        };
        let mut n = keep.unwrap_or(value.len()).min(value.len());
        while !value.is_char_boundary(n) {
            n -= 1;
        }
        out.push_str(&value[..n]);
        rest = &rest[at + end + 1..];
    }
    out.push_str(rest);
    match unsafe_path_reason(&out) {
        Some(why) => Err(bad(format!(
            "'{}' for {}-{}: {why}",
            out.escape_default(),
            p.name,
            p.version
        ))),
        None => Ok(out),
    }
}
