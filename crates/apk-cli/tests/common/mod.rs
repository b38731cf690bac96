//! Helpers shared by the `apk` binary's tests: keys, packages, signed repositories, the
//! binary itself, and snapshots of a tree.
#![allow(dead_code)]

pub mod hostile;

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use alpinist_apk::db::PackageInfo;
use alpinist_apk::index::{self, ApkIndex};
use alpinist_apk::package::{Package, PackageBuilder, Signer};
use alpinist_apk::pkginfo::PkgInfo;
use alpinist_apk::sign::{self, PrivateKey, SigAlg};
use alpinist_apk::tarball::{EntryType, Header};

pub const EPOCH: u64 = 1_700_000_000;
pub const ARCH: &str = "x86_64";

/// The `apk` binary under test (`ALPINIST_APK_BIN` when the suite runs from a copy).
pub fn apk_bin() -> PathBuf {
    std::env::var_os("ALPINIST_APK_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_apk")))
}

/// Runs `apk ARGS…`; returns success, stdout and stderr.
pub fn apk(args: &[&str]) -> (bool, String, String) {
    apk_with(Command::new(apk_bin()).args(args))
}

pub fn apk_with(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd.output().expect("run apk");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A key pair: the signer and a directory holding only the public key.
pub fn keys(dir: &Path, name: &str, seed: u64) -> (Signer, PathBuf) {
    let k = sign::keygen(name, 1024, seed).unwrap();
    let keys = dir.join(format!("keys-{name}"));
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::write(keys.join(&k.public_file), &k.public_pem).unwrap();
    let signer = Signer {
        key: PrivateKey::from_pem(&k.private_pem).unwrap(),
        key_name: k.public_file.clone(),
        alg: SigAlg::Sha1,
    };
    (signer, keys)
}

pub fn info(name: &str, version: &str) -> PkgInfo {
    PkgInfo {
        pkgname: name.into(),
        pkgver: version.into(),
        pkgdesc: format!("{name} test package"),
        arch: ARCH.into(),
        origin: name.into(),
        builddate: EPOCH,
        license: "MIT".into(),
        ..PkgInfo::default()
    }
}

pub fn header(path: &str, t: EntryType, mode: u32) -> Header {
    let mut h = Header::new(path, t);
    h.mode = mode;
    h.uname = "root".into();
    h.gname = "root".into();
    h.mtime = EPOCH;
    h
}

pub fn dir(path: &str) -> (Header, Vec<u8>) {
    (header(path, EntryType::Directory, 0o755), Vec::new())
}

pub fn file(path: &str, data: &[u8]) -> (Header, Vec<u8>) {
    let mut h = header(path, EntryType::Regular, 0o644);
    h.size = data.len() as u64;
    (h, data.to_vec())
}

pub fn symlink(path: &str, target: &str) -> (Header, Vec<u8>) {
    let mut h = header(path, EntryType::Symlink, 0o777);
    h.link_name = target.into();
    (h, Vec::new())
}

pub fn hardlink(path: &str, target: &str) -> (Header, Vec<u8>) {
    let mut h = header(path, EntryType::Hardlink, 0o644);
    h.link_name = target.into();
    (h, Vec::new())
}

pub fn special(path: &str, t: EntryType) -> (Header, Vec<u8>) {
    (header(path, t, 0o644), Vec::new())
}

/// A package of `entries` (in the order given), signed by `signer` when given.
pub fn package(info: PkgInfo, entries: Vec<(Header, Vec<u8>)>, signer: Option<&Signer>) -> Vec<u8> {
    let mut b = PackageBuilder::new(info, EPOCH);
    for (h, d) in entries {
        b.push_entry(h, d);
    }
    b.build(signer).unwrap()
}

/// The index record of a package.
pub fn record(bytes: &[u8]) -> PackageInfo {
    index::package_info(&Package::parse(bytes).unwrap(), None)
}

/// Writes packages as `<repo>/x86_64/<name>-<version>.apk` with an index of `records`
/// (signed by `signer` when given). Returns the repository directory.
pub fn repository(
    repo: &Path,
    files: &[(String, Vec<u8>)],
    records: Vec<PackageInfo>,
    signer: Option<&Signer>,
) -> PathBuf {
    let arch_dir = repo.join(ARCH);
    std::fs::create_dir_all(&arch_dir).unwrap();
    for (name, bytes) in files {
        std::fs::write(arch_dir.join(name), bytes).unwrap();
    }
    let idx = ApkIndex::new(Some("test".into()), records);
    std::fs::write(
        arch_dir.join("APKINDEX.tar.gz"),
        idx.to_bytes(EPOCH, signer).unwrap(),
    )
    .unwrap();
    repo.to_path_buf()
}

/// Everything about a tree that an install could change: for each path (not following
/// symlinks), its type, mode, owner, mtime and content or link target.
pub type Snapshot = BTreeMap<String, (char, u32, u32, u32, i64, Vec<u8>)>;

pub fn snapshot(root: &Path) -> Snapshot {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let md = std::fs::symlink_metadata(&p).unwrap();
            let ft = md.file_type();
            let (kind, content) = if ft.is_symlink() {
                let t = std::fs::read_link(&p).unwrap();
                ('l', t.into_os_string().into_encoded_bytes())
            } else if ft.is_dir() {
                stack.push(p.clone());
                ('d', Vec::new())
            } else if ft.is_file() {
                ('f', std::fs::read(&p).unwrap())
            } else {
                ('?', Vec::new())
            };
            let mtime = if kind == 'd' { 0 } else { md.mtime() };
            out.insert(rel, (kind, md.mode(), md.uid(), md.gid(), mtime, content));
        }
    }
    out
}
