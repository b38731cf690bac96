//! Shared helpers for the integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use alpinist_apk::package::{MtimePolicy, Owner, OwnerMap, PackageBuilder, Signer};
use alpinist_apk::pkginfo::PkgInfo;
use alpinist_apk::sign::{Keyring, PrivateKey, PublicKey, SigAlg};

pub const SDE: u64 = 1_700_000_000;
pub const TEST_KEY_NAME: &str = "testkey-62a9ada3.rsa.pub";

/// `shared/testdata/alpine`, which sits beside the repository.
pub fn alpine_testdata() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/testdata/alpine"
    ))
}

pub fn real_packages() -> Vec<PathBuf> {
    ["alpine-base-3.11.6-r0.apk", "alpine-base-3.12.0-r0.apk"]
        .iter()
        .map(|f| alpine_testdata().join(f))
        .collect()
}

pub fn alpine_keyring() -> Keyring {
    let mut k = Keyring::new();
    let name = "alpine-devel@lists.alpinelinux.org-58199dcc.rsa.pub";
    let pem = std::fs::read_to_string(alpine_testdata().join(name)).unwrap();
    k.insert(name, PublicKey::from_pem(&pem).unwrap());
    k
}

pub fn test_keyring() -> Keyring {
    let mut k = Keyring::new();
    let pem = std::fs::read_to_string(alpine_testdata().join(TEST_KEY_NAME)).unwrap();
    k.insert(TEST_KEY_NAME, PublicKey::from_pem(&pem).unwrap());
    k
}

pub fn test_signer(alg: SigAlg) -> Signer {
    let pem = std::fs::read_to_string(alpine_testdata().join("testkey-62a9ada3.rsa")).unwrap();
    Signer {
        key: PrivateKey::from_pem(&pem).unwrap(),
        key_name: TEST_KEY_NAME.to_string(),
        alg,
    }
}

pub fn pkginfo(name: &str, version: &str) -> PkgInfo {
    PkgInfo {
        generator: Some("alpinist test".into()),
        pkgname: name.into(),
        pkgver: version.into(),
        pkgdesc: format!("{name} test package"),
        url: "https://example.org".into(),
        builddate: SDE,
        packager: "Unknown".into(),
        arch: "x86_64".into(),
        origin: name.into(),
        commit: Some(String::new()),
        license: "MIT".into(),
        ..PkgInfo::default()
    }
}

/// A tree with a directory, files (one suid, one owned by a pkguser), a symlink and a
/// hard link.
pub fn sample_tree(dir: &Path) -> OwnerMap {
    let w = |p: &str, data: &[u8], mode: u32| {
        let full = dir.join(p);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(&full, data).unwrap();
        std::fs::set_permissions(&full, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    w("usr/bin/hello", b"#!/bin/sh\necho hello\n", 0o755);
    w("usr/bin/su-thing", b"suid binary\n", 0o4755);
    w("etc/hello/conf", b"x=1\n", 0o600);
    w("usr/share/hello/a.txt", b"shared text\n", 0o644);
    std::fs::hard_link(
        dir.join("usr/share/hello/a.txt"),
        dir.join("usr/share/hello/hard.txt"),
    )
    .unwrap();
    std::os::unix::fs::symlink("a.txt", dir.join("usr/share/hello/link")).unwrap();
    std::fs::create_dir_all(dir.join("var/lib/hello")).unwrap();
    let mut owners = BTreeMap::new();
    owners.insert(
        "var/lib/hello".to_string(),
        Owner {
            uid: 0,
            gid: 0,
            uname: "hello".into(),
            gname: "hello".into(),
        },
    );
    owners
}

/// Builds the sample package (signed with the test key unless `signer` is `None`).
pub fn sample_package(signer: Option<&Signer>) -> Vec<u8> {
    let tmp = tempfile::tempdir().unwrap();
    let owners = sample_tree(tmp.path());
    let mut info = pkginfo("hello", "1.0-r0");
    info.depends = vec!["/bin/sh".into()];
    info.provides = vec!["cmd:hello=1.0-r0".into()];
    let mut b = PackageBuilder::new(info, SDE);
    b.add_tree(tmp.path(), &owners, MtimePolicy::Clamp).unwrap();
    b.build(signer).unwrap()
}

/// Every gzip member of a file as (start, end).
pub fn members(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < bytes.len() {
        let (_, r) = alpinist_apk::tarball::inflate_member(bytes, start, u64::MAX).unwrap();
        out.push((r.start, r.end));
        start = r.end;
    }
    out
}

/// A snapshot of a directory tree: path → (kind, mode, content or link target).
pub fn snapshot(root: &Path) -> BTreeMap<String, (char, u32, Vec<u8>)> {
    use std::os::unix::fs::MetadataExt;
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let md = std::fs::symlink_metadata(&p).unwrap();
            let v = if md.file_type().is_symlink() {
                (
                    'l',
                    0,
                    std::fs::read_link(&p)
                        .unwrap()
                        .into_os_string()
                        .into_encoded_bytes(),
                )
            } else if md.is_dir() {
                stack.push(p.clone());
                ('d', md.mode() & 0o7777, Vec::new())
            } else {
                ('f', md.mode() & 0o7777, std::fs::read(&p).unwrap())
            };
            out.insert(rel, v);
        }
    }
    out
}
pub mod v3;
pub mod v3repo;
