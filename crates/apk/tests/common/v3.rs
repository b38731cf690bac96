//! Shared helpers for the apk v3 tests: the vectors in `tests/data/v3` and the trees and
//! metadata they were made from (`tests/data/v3/make-vectors.sh`).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use alpinist_apk::adb::build::PackageV3Builder;
use alpinist_apk::adb::package::{PackageV3, UnverifiedPackageV3};
use alpinist_apk::adb::schema::{PkgInfoV3, TargetV3};
use alpinist_apk::db::ScriptKind;
use alpinist_apk::dep::Dependency;
use alpinist_apk::package::{MtimePolicy, OwnerMap};
use alpinist_apk::sign::{Keyring, PrivateKey, PublicKey};

/// `SOURCE_DATE_EPOCH` of the vectors.
pub const V3_SDE: u64 = 1_700_000_000;
pub const KEY_NAME: &str = "testkey-62a9ada3.rsa.pub";

pub fn data() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data"))
}

pub fn vector(name: &str) -> Vec<u8> {
    std::fs::read(data().join("v3").join(name)).unwrap()
}

pub fn v3_keys() -> Keyring {
    let mut k = Keyring::new();
    let pem = std::fs::read_to_string(data().join("keys").join(KEY_NAME)).unwrap();
    k.insert(KEY_NAME, PublicKey::from_pem(&pem).unwrap());
    k
}

pub fn v3_key() -> PrivateKey {
    let pem = std::fs::read_to_string(data().join("keys/testkey-62a9ada3.rsa")).unwrap();
    PrivateKey::from_pem(&pem).unwrap()
}

fn write(dir: &Path, p: &str, data: &[u8], mode: u32) {
    let full = dir.join(p);
    std::fs::create_dir_all(full.parent().unwrap()).unwrap();
    std::fs::write(&full, data).unwrap();
    std::fs::set_permissions(&full, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The `hello` tree of `make-vectors.sh`.
pub fn hello_tree(t: &Path) {
    for d in ["etc/hello", "usr/bin", "usr/share/doc/hello", "var/empty"] {
        std::fs::create_dir_all(t.join(d)).unwrap();
    }
    for d in [
        "",
        "etc",
        "etc/hello",
        "usr",
        "usr/bin",
        "usr/share",
        "usr/share/doc",
    ] {
        std::fs::set_permissions(t.join(d), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::set_permissions(
        t.join("usr/share/doc/hello"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::fs::set_permissions(t.join("var"), std::fs::Permissions::from_mode(0o755)).unwrap();
    write(t, "usr/bin/hello", b"#!/bin/sh\necho hello\n", 0o755);
    std::fs::hard_link(t.join("usr/bin/hello"), t.join("usr/bin/hello-again")).unwrap();
    write(t, "usr/bin/hello-suid", b"#!/bin/sh\necho hello\n", 0o4755);
    std::os::unix::fs::symlink("hello", t.join("usr/bin/hi")).unwrap();
    write(t, "etc/hello/hello.conf", b"greeting=hello\n", 0o640);
    write(t, "etc/hello/empty", b"", 0o644);
    write(t, "usr/share/doc/hello/README", readme().as_bytes(), 0o644);
    std::fs::set_permissions(t.join("var/empty"), std::fs::Permissions::from_mode(0o700)).unwrap();
}

pub fn readme() -> String {
    (0..30).map(|i| format!("line {i:04}\n")).collect()
}

pub fn deps(s: &str) -> Vec<Dependency> {
    s.split_whitespace()
        .map(|d| Dependency::parse_metadata(d).unwrap())
        .collect()
}

/// The `-I` values of `hello` in `make-vectors.sh`.
pub fn hello_info() -> PkgInfoV3 {
    PkgInfoV3 {
        name: "hello".into(),
        version: "1.0-r0".into(),
        arch: "x86_64".into(),
        description: "alpinist v3 test vector".into(),
        license: "MIT".into(),
        origin: "hello".into(),
        maintainer: "Alpinist <alpinist@example.org>".into(),
        url: "https://example.org/hello".into(),
        repo_commit: hex::decode("0123456789abcdef0123456789abcdef01234567").unwrap(),
        build_time: Some(V3_SDE),
        provider_priority: Some(10),
        depends: deps("so:libc.musl-x86_64.so.1 !hello-old bar>=1.2 baz<2 qux~1.2"),
        provides: deps("cmd:hello=1.0-r0 so:libhello.so.1=1.0.0 hello-any"),
        replaces: deps("hello-old"),
        install_if: deps("hello-base docs"),
        recommends: deps("hello-doc"),
        layer: Some(1),
        tags: vec!["test".into(), "vector".into()],
        ..PkgInfoV3::default()
    }
}

/// `hello` as `make-vectors.sh` makes it, from a tree made by [`hello_tree`].
pub fn hello_builder(tree: &Path) -> PackageV3Builder {
    let mut b = PackageV3Builder::new(hello_info());
    b.replaces_priority = Some(5);
    b.scripts = vec![
        (
            ScriptKind::PostInstall,
            b"#!/bin/sh\necho installed\n".to_vec(),
        ),
        (
            ScriptKind::PreDeinstall,
            b"#!/bin/sh\necho removing\n".to_vec(),
        ),
    ];
    b.triggers = vec!["/usr/share/doc/*".into(), "/etc/hello".into()];
    b.add_tree(tree, &OwnerMap::new(), MtimePolicy::Fixed, V3_SDE)
        .unwrap();
    b
}

/// `world` as `make-vectors.sh` makes it.
pub fn world_builder(tree: &Path) -> PackageV3Builder {
    std::fs::set_permissions(tree, std::fs::Permissions::from_mode(0o755)).unwrap();
    for d in ["usr", "usr/share", "usr/share/world"] {
        std::fs::create_dir_all(tree.join(d)).unwrap();
        std::fs::set_permissions(tree.join(d), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    write(tree, "usr/share/world/a", b"a\n", 0o644);
    let mut b = PackageV3Builder::new(PkgInfoV3 {
        name: "world".into(),
        version: "2.0-r1".into(),
        arch: "noarch".into(),
        ..PkgInfoV3::default()
    });
    b.add_tree(tree, &OwnerMap::new(), MtimePolicy::Fixed, V3_SDE)
        .unwrap();
    b
}

/// What a package holds, as its reader hands it out: path → (`d`, `f`, `l`, `h`, `c`…,
/// mode, content or link target).
pub type Contents = BTreeMap<String, (char, u32, Vec<u8>)>;

/// Reads a package through [`UnverifiedPackageV3`], trusting it with `keys` (or not
/// checking trust), and collects its entries and contents.
pub fn read_all(bytes: &[u8], keys: Option<&Keyring>) -> Result<(PackageV3, Contents), String> {
    let head = UnverifiedPackageV3::new(bytes).map_err(|e| e.to_string())?;
    let mut r = match keys {
        Some(k) => head.verify(k).map_err(|e| e.to_string())?.0,
        None => head.allow_untrusted().map_err(|e| e.to_string())?,
    };
    let mut out = Contents::new();
    while let Some(e) = r.next_entry().map_err(|e| e.to_string())? {
        let d = &r.package().meta.paths[e.dir];
        let v = match e.file {
            None => ('d', d.acl.mode, Vec::new()),
            Some(f) => {
                let f = d.files[f].clone();
                match &f.target {
                    None => {
                        let mut data = Vec::new();
                        r.copy_content(|c| {
                            data.extend_from_slice(c);
                            Ok(())
                        })
                        .map_err(|e| e.to_string())?
                        .unwrap();
                        ('f', f.acl.mode, data)
                    }
                    Some(TargetV3::Symlink(t)) => ('l', f.acl.mode, t.clone().into_bytes()),
                    Some(TargetV3::Hardlink(t)) => ('h', f.acl.mode, t.clone().into_bytes()),
                    Some(TargetV3::Device { kind, dev }) => {
                        ('c', f.acl.mode, format!("{kind:o}:{dev}").into_bytes())
                    }
                }
            }
        };
        out.insert(e.path, v);
    }
    let pkg = r.finish().map_err(|e| e.to_string())?;
    Ok((pkg, out))
}

/// Metadata as it reads back: dependency lists sorted and without duplicates, as
/// apk-tools writes them.
pub fn as_written(mut p: PkgInfoV3) -> PkgInfoV3 {
    for list in [
        &mut p.depends,
        &mut p.provides,
        &mut p.replaces,
        &mut p.install_if,
        &mut p.recommends,
    ] {
        list.sort_by(alpinist_apk::adb::schema::dependency_cmp);
        list.dedup();
    }
    p
}

/// The v2 package of `tests/data/v3/v2/`, written by alpinist's v2 writer: the fields an
/// Alpine package has, and `provides`, `install_if`, `provider_priority`, `triggers`.
pub fn v2_package() -> Vec<u8> {
    use alpinist_apk::package::{PackageBuilder, Signer};
    use alpinist_apk::pkginfo::PkgInfo;
    use alpinist_apk::sign::SigAlg;
    use alpinist_apk::tarball::{EntryType, Header};
    let info = PkgInfo {
        generator: Some("alpinist test".into()),
        pkgname: "v2pkg".into(),
        pkgver: "2.1.3-r4".into(),
        pkgdesc: "a v2 package in a v3 index".into(),
        url: "https://example.org/v2pkg".into(),
        builddate: V3_SDE,
        packager: "Alpinist <alpinist@example.org>".into(),
        arch: "x86_64".into(),
        origin: "v2".into(),
        commit: Some("fedcba9876543210fedcba9876543210fedcba98".into()),
        maintainer: Some("Alpinist <alpinist@example.org>".into()),
        provider_priority: Some(100),
        license: "MIT AND GPL-2.0-only".into(),
        replaces: vec!["v2-old".into()],
        depends: vec!["musl>=1.2".into(), "!v2-conflict".into()],
        provides: vec!["cmd:v2=2.1.3-r4".into(), "v2-virtual".into()],
        triggers: vec!["/usr/share/v2".into()],
        install_if: vec!["v2-base".into(), "docs".into()],
        auto_depends: vec!["so:libc.musl-x86_64.so.1".into()],
        ..PkgInfo::default()
    };
    let mut b = PackageBuilder::new(info, V3_SDE);
    let mut dir = Header::new("usr", EntryType::Directory);
    dir.mode = 0o755;
    dir.uname = "root".into();
    dir.gname = "root".into();
    dir.mtime = V3_SDE;
    b.push_entry(dir.clone(), Vec::new());
    let mut file = dir.clone();
    file.path = "usr/v2".into();
    file.entry_type = EntryType::Regular;
    file.mode = 0o644;
    file.size = 3;
    b.push_entry(file, b"v2\n".to_vec());
    let pem = std::fs::read_to_string(data().join("keys/testkey-62a9ada3.rsa")).unwrap();
    let signer = Signer {
        key: PrivateKey::from_pem(&pem).unwrap(),
        key_name: KEY_NAME.into(),
        alg: SigAlg::Sha1,
    };
    b.build(Some(&signer)).unwrap()
}
