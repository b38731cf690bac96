//! A signed v3 repository for the install tests, the one installed by hand with apk-tools
//! 3.0.6 as an oracle (docs/apk-format.md): `v3base` (users and groups), `v3lib`
//! (noarch, a shared library), `v3hello` (every kind of entry, owners, modes, scripts,
//! triggers) and `v2tool` (a v2 package in the v3 index, as `apk mkndx` indexes one).
//! Everything is deterministic: the same bytes on every run.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use alpinist_apk::adb::build::PackageV3Builder;
use alpinist_apk::adb::container::Compression;
use alpinist_apk::adb::index::IndexV3Builder;
use alpinist_apk::adb::schema::{AclV3, PkgInfoV3};
use alpinist_apk::db::ScriptKind;
use alpinist_apk::package::{PackageBuilder, Signer};
use alpinist_apk::pkginfo::PkgInfo;
use alpinist_apk::sign::SigAlg;
use alpinist_apk::tarball::{EntryType, Header};

use super::v3::{deps, v3_key, v3_keys, KEY_NAME, V3_SDE};

pub const ARCH: &str = "x86_64";
pub const PASSWD: &str =
    "root:x:0:0:root:/root:/bin/sh\nalpinist:x:1234:2345::/home/alpinist:/bin/sh\n";
pub const GROUP: &str = "root:x:0:\nalpgrp:x:2345:\n";
pub const HELLO: &[u8] = b"#!/bin/sh\necho hello\n";

pub fn acl(mode: u32, user: &str, group: &str) -> AclV3 {
    AclV3 {
        mode,
        user: user.into(),
        group: group.into(),
        xattrs: Vec::new(),
    }
}

pub fn root(mode: u32) -> AclV3 {
    AclV3::root(mode)
}

pub fn info(name: &str, version: &str, arch: &str) -> PkgInfoV3 {
    PkgInfoV3 {
        name: name.into(),
        version: version.into(),
        arch: arch.into(),
        description: format!("{name}, an alpinist v3 install test"),
        license: "MIT".into(),
        origin: name.into(),
        url: "https://example.org/alpinist".into(),
        build_time: Some(V3_SDE),
        ..PkgInfoV3::default()
    }
}

/// 200 KiB that do not repeat in any short period (more than one 128 KiB chunk).
pub fn big() -> Vec<u8> {
    let mut x: u32 = 0x1234_5678;
    (0..200 << 10)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

pub fn v3base() -> PackageV3Builder {
    let mut b = PackageV3Builder::new(info("v3base", "1.0-r0", ARCH));
    b.push_dir("etc", root(0o755));
    b.push_file("etc/passwd", root(0o644), V3_SDE, PASSWD.into());
    b.push_file("etc/group", root(0o644), V3_SDE, GROUP.into());
    b.push_dir("usr", root(0o755));
    b.push_dir("usr/lib", root(0o755));
    b.push_symlink("lib", root(0o777), V3_SDE, "usr/lib");
    b
}

pub fn v3lib() -> PackageV3Builder {
    let mut i = info("v3lib", "2.0-r1", "noarch");
    i.provides = deps("so:libv3.so.1=1.0.0");
    let mut b = PackageV3Builder::new(i);
    b.push_file(
        "usr/lib/libv3.so.1",
        root(0o755),
        V3_SDE,
        b"\x7fELF not really\n".to_vec(),
    );
    b
}

pub fn v3hello() -> PackageV3Builder {
    let mut i = info("v3hello", "1.0-r0", ARCH);
    i.depends = deps("so:libv3.so.1 v3base");
    i.provides = deps("cmd:hello=1.0-r0");
    i.replaces = deps("oldhello");
    i.maintainer = "Alpinist <alpinist@example.org>".into();
    i.repo_commit = hex::decode("0123456789abcdef0123456789abcdef01234567").unwrap();
    let mut b = PackageV3Builder::new(i);
    b.replaces_priority = Some(5);
    b.scripts = vec![(
        ScriptKind::PostInstall,
        b"#!/bin/sh\necho installed\n".to_vec(),
    )];
    b.triggers = vec!["/usr/share/doc/*".into()];
    b.push_dir("etc/hello", acl(0o750, "alpinist", "alpgrp"));
    b.push_file(
        "etc/hello/hello.conf",
        acl(0o640, "alpinist", "alpgrp"),
        V3_SDE,
        b"greeting=hello\n".to_vec(),
    );
    b.push_file("etc/hello/empty", root(0o644), V3_SDE, Vec::new());
    b.push_file("usr/bin/hello", root(0o755), V3_SDE, HELLO.to_vec());
    b.push_hardlink("usr/bin/hello-again", root(0o755), V3_SDE, "usr/bin/hello");
    b.push_file("usr/bin/hello-suid", root(0o4755), V3_SDE, HELLO.to_vec());
    b.push_symlink("usr/bin/hi", root(0o777), V3_SDE, "hello");
    b.push_symlink("usr/bin/hello-abs", root(0o777), V3_SDE, "/usr/bin/hello");
    let readme: String = (0..30).map(|i| format!("line {i:04}\n")).collect();
    b.push_file(
        "usr/share/doc/v3hello/README",
        root(0o644),
        V3_SDE,
        readme.into(),
    );
    b.push_file("usr/share/v3hello/big.bin", root(0o600), V3_SDE + 1, big());
    b.push_dir("var/empty", root(0o700));
    b.push_file(
        "var/lib/ghost",
        acl(0o644, "ghost", "ghost"),
        V3_SDE,
        b"boo\n".to_vec(),
    );
    b
}

/// A signed v2 package (SHA-1 signature, as abuild signs).
pub fn v2tool() -> Vec<u8> {
    let info = PkgInfo {
        pkgname: "v2tool".into(),
        pkgver: "3.0-r0".into(),
        pkgdesc: "a v2 package in a v3 index".into(),
        url: "https://example.org/alpinist".into(),
        builddate: V3_SDE,
        arch: ARCH.into(),
        origin: "v2tool".into(),
        license: "MIT".into(),
        depends: vec!["v3base".into()],
        ..PkgInfo::default()
    };
    let mut b = PackageBuilder::new(info, V3_SDE);
    let header = |path: &str, t: EntryType, mode: u32, size: u64| {
        let mut h = Header::new(path, t);
        h.mode = mode;
        h.uname = "root".into();
        h.gname = "root".into();
        h.mtime = V3_SDE;
        h.size = size;
        h
    };
    b.push_entry(header("usr", EntryType::Directory, 0o755, 0), Vec::new());
    b.push_entry(
        header("usr/bin", EntryType::Directory, 0o755, 0),
        Vec::new(),
    );
    let data = b"#!/bin/sh\necho v2\n".to_vec();
    let size = data.len() as u64;
    b.push_entry(
        header("usr/bin/v2tool", EntryType::Regular, 0o755, size),
        data,
    );
    let signer = Signer {
        key: v3_key(),
        key_name: KEY_NAME.into(),
        alg: SigAlg::Sha1,
    };
    b.build(Some(&signer)).unwrap()
}

/// Writes the packages (signed, deflated) and their signed `Packages.adb` into
/// `<repo>/x86_64/`; returns the index's path.
pub fn oracle_repo(repo: &Path) -> PathBuf {
    let dir = repo.join(ARCH);
    std::fs::create_dir_all(&dir).unwrap();
    let key = v3_key();
    let mut files = Vec::new();
    for b in [v3base(), v3lib(), v3hello()] {
        let f = dir.join(format!("{}-{}.apk", b.info.name, b.info.version));
        std::fs::write(&f, b.build(Some(&key), Compression::Deflate).unwrap()).unwrap();
        files.push(f);
    }
    let f = dir.join("v2tool-3.0-r0.apk");
    std::fs::write(&f, v2tool()).unwrap();
    files.push(f);
    let mut idx = IndexV3Builder::new("alpinist v3 install test");
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    idx.add_package_files(&refs, Some(&v3_keys())).unwrap();
    let index = dir.join("Packages.adb");
    let bytes = idx.build(Some(&key), Compression::Deflate).unwrap();
    std::fs::write(&index, bytes).unwrap();
    index
}

/// A directory holding only the test's public key.
pub fn keys_dir(at: &Path) -> PathBuf {
    let keys = at.join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::copy(
        super::v3::data().join("keys").join(KEY_NAME),
        keys.join(KEY_NAME),
    )
    .unwrap();
    keys
}

/// Whether a path of a root listing belongs to the installer (its database, keys, world,
/// cache and log), which the listing leaves out.
fn installer_path(rel: &str) -> bool {
    ["etc/apk", "lib/apk", "usr/lib/apk", "var/cache", "var/log"]
        .iter()
        .any(|p| rel == *p || rel.starts_with(&format!("{p}/")))
}

/// Every path of a root but the installer's, one line each: type, mode, owner (when
/// `owners`), and for a file its link count, size, mtime and the start of its SHA-256,
/// for a symlink its target.
pub fn listing(root: &Path, owners: bool) -> String {
    use sha2::Digest;
    use std::os::unix::fs::MetadataExt;
    let mut lines = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if installer_path(&rel) {
                continue;
            }
            let md = std::fs::symlink_metadata(&p).unwrap();
            let owner = if owners {
                format!(" {}:{}", md.uid(), md.gid())
            } else {
                String::new()
            };
            let mode = md.mode() & 0o7777;
            let ft = md.file_type();
            let what = if ft.is_dir() {
                stack.push(p.clone());
                format!("d {mode:o}{owner}")
            } else if ft.is_symlink() {
                let t = std::fs::read_link(&p).unwrap();
                format!("l {mode:o}{owner} -> {}", t.display())
            } else {
                let sum = hex::encode(&sha2::Sha256::digest(std::fs::read(&p).unwrap())[..8]);
                let (n, size, t) = (md.nlink(), md.size(), md.mtime());
                format!("f {mode:o}{owner} n{n} {size} @{t} {sum}")
            };
            lines.push(format!("{rel}: {what}"));
        }
    }
    lines.sort();
    lines.iter().map(|l| format!("{l}\n")).collect()
}
