//! apk v3 packages and indexes against the vectors apk-tools 3.0.6 made
//! (`tests/data/v3`, `make-vectors.sh`): alpinist reads and verifies what `apk mkpkg` and
//! `apk mkndx` write, and writes the same bytes for the same inputs; and round trips.
//!
//! With `V3_KEEP=DIR`, the packages and index alpinist writes here are also kept in DIR for
//! `tests/data/v3/oracle.sh`, which checks them with apk-tools (docs/apk-format.md).

mod common;

use std::io::Read;

use alpinist_apk::adb::build::PackageV3Builder;
use alpinist_apk::adb::container::Compression;
use alpinist_apk::adb::index::{IndexV3, IndexV3Builder};
use alpinist_apk::adb::package::{PackageV3, UnverifiedPackageV3};
use alpinist_apk::adb::schema::{AclV3, PkgInfoV3, TargetV3, S_IFCHR, S_IFIFO};
use alpinist_apk::adb::AdbError;
use alpinist_apk::db::ScriptKind;
use alpinist_apk::package::MtimePolicy;
use common::v3::*;

fn inflate(bytes: &[u8]) -> Vec<u8> {
    assert_eq!(&bytes[..4], b"ADBd");
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(&bytes[4..])
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn keep(name: &str, bytes: &[u8]) {
    if let Some(dir) = std::env::var_os("V3_KEEP") {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(std::path::Path::new(&dir).join(name), bytes).unwrap();
    }
}

#[test]
fn writes_the_bytes_apk_mkpkg_writes() {
    let tmp = tempfile::tempdir().unwrap();
    hello_tree(tmp.path());
    let b = hello_builder(tmp.path());
    let key = v3_key();
    assert_eq!(
        b.build(None, Compression::None).unwrap(),
        vector("hello-1.0-r0.none.apk"),
        "unsigned, not compressed"
    );
    let signed = b.build(Some(&key), Compression::None).unwrap();
    assert_eq!(signed, vector("hello-1.0-r0.signed.apk"), "signed");
    // apk-tools deflates with zlib, alpinist with miniz_oxide: the streams differ, what they
    // hold does not.
    let deflated = b.build(Some(&key), Compression::Deflate).unwrap();
    assert_eq!(inflate(&deflated), signed);
    assert_eq!(inflate(&vector("hello-1.0-r0.apk")), signed);
    keep("hello-1.0-r0.apk", &deflated);
    keep("hello-1.0-r0.none.apk", &signed);

    let w = tempfile::tempdir().unwrap();
    let world = world_builder(w.path())
        .build(Some(&key), Compression::Deflate)
        .unwrap();
    assert_eq!(inflate(&world), inflate(&vector("world-2.0-r1.apk")));
    keep("world-2.0-r1.apk", &world);
}

#[test]
fn reads_and_verifies_what_apk_mkpkg_writes() {
    let tmp = tempfile::tempdir().unwrap();
    hello_tree(tmp.path());
    let keys = v3_keys();
    let mut seen = Vec::new();
    for (file, compression) in [
        ("hello-1.0-r0.signed.apk", Compression::None),
        ("hello-1.0-r0.apk", Compression::Deflate),
        ("hello-1.0-r0.zstd.apk", Compression::Zstd),
    ] {
        let (pkg, contents) = read_all(&vector(file), Some(&keys)).unwrap();
        assert_eq!(pkg.compression, compression, "{file}");
        let mut info = pkg.meta.info.clone();
        assert_eq!(info.hashes.len(), 20, "the unique id");
        assert_eq!(info.installed_size, Some(21 + 21 + 15 + 300));
        info.hashes.clear();
        info.installed_size = None;
        assert_eq!(info, as_written(hello_info()), "{file}");
        assert_eq!(pkg.meta.replaces_priority, Some(5));
        assert_eq!(pkg.meta.triggers, ["/usr/share/doc/*", "/etc/hello"]);
        let kinds: Vec<_> = pkg.meta.scripts.iter().map(|s| s.0).collect();
        assert_eq!(kinds, [ScriptKind::PostInstall, ScriptKind::PreDeinstall]);
        let f = |p: &str| contents[p].clone();
        assert_eq!(
            f("usr/bin/hello"),
            ('f', 0o755, b"#!/bin/sh\necho hello\n".to_vec())
        );
        assert_eq!(
            f("usr/bin/hello-again"),
            ('h', 0o755, b"usr/bin/hello".to_vec())
        );
        assert_eq!(f("usr/bin/hello-suid").1, 0o4755);
        assert_eq!(f("usr/bin/hi"), ('l', 0o777, b"hello".to_vec()));
        assert_eq!(f("etc/hello/empty"), ('f', 0o644, Vec::new()));
        assert_eq!(f("etc/hello/hello.conf").1, 0o640);
        assert_eq!(f("usr/share/doc/hello/README").2, readme().into_bytes());
        assert_eq!(f("var/empty"), ('d', 0o700, Vec::new()));
        assert_eq!(
            contents.len(),
            16,
            "9 directories and 7 files: {contents:?}"
        );
        seen.push(pkg.identity());
    }
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "one ADB block");

    let (world, contents) = read_all(&vector("world-2.0-r1.apk"), Some(&keys)).unwrap();
    assert_eq!(world.meta.info.arch, "noarch");
    assert_eq!(contents["usr/share/world/a"].2, b"a\n");
}

#[test]
fn an_unsigned_package_is_not_trusted() {
    let bytes = vector("hello-1.0-r0.none.apk");
    let e = PackageV3::parse(&bytes, Some(&v3_keys())).unwrap_err();
    assert!(matches!(e, AdbError::Unsigned), "{e}");
    assert_eq!(e.to_string(), "signature: not signed");
    // By the index's hash instead of a signature.
    let signed = vector("hello-1.0-r0.signed.apk");
    let index = IndexV3::parse(&vector("Packages.adb"), Some(&v3_keys())).unwrap();
    let record = index.find("hello").next().unwrap();
    let head = UnverifiedPackageV3::new(signed.as_slice()).unwrap();
    assert_eq!(head.identity().to_vec(), record.hashes);
    head.verify_identity(&record.hashes)
        .unwrap()
        .finish()
        .unwrap();
    // The unsigned package has the same ADB block: the index vouches for it too.
    let head = UnverifiedPackageV3::new(bytes.as_slice()).unwrap();
    head.verify_identity(&record.hashes)
        .unwrap()
        .finish()
        .unwrap();
    let world = vector("world-2.0-r1.apk");
    let head = UnverifiedPackageV3::new(world.as_slice()).unwrap();
    let e = head.verify_identity(&record.hashes).err().unwrap();
    assert!(e.to_string().starts_with("identity: "), "{e}");
}

#[test]
fn writes_the_bytes_apk_mkndx_writes() {
    let dir = data().join("v3");
    let mut b = IndexV3Builder::new("alpinist v3 test vectors");
    b.add_package_files(
        &[&dir.join("hello-1.0-r0.apk"), &dir.join("world-2.0-r1.apk")],
        Some(&v3_keys()),
    )
    .unwrap();
    let ours = b.build(Some(&v3_key()), Compression::None).unwrap();
    assert_eq!(ours, vector("Packages.none.adb"));
    let deflated = b.build(Some(&v3_key()), Compression::Deflate).unwrap();
    assert_eq!(inflate(&deflated), inflate(&vector("Packages.adb")));
}

#[test]
fn indexes_v2_packages_as_apk_mkndx_does() {
    // The input alpinist's v2 writer made is still what it makes.
    assert_eq!(v2_package(), vector("v2/v2pkg-2.1.3-r4.apk"));
    let dir = data().join("v3/v2");
    let mut b = IndexV3Builder::new("v2 packages");
    b.add_package_files(
        &[
            &dir.join("alpine-base-3.11.6-r0.apk"),
            &dir.join("alpine-base-3.12.0-r0.apk"),
            &dir.join("v2pkg-2.1.3-r4.apk"),
        ],
        None,
    )
    .unwrap();
    assert_eq!(
        b.build(None, Compression::None).unwrap(),
        vector("Packages.v2.adb")
    );
    let i = IndexV3::parse(&vector("Packages.v2.adb"), None).unwrap();
    let base = i.find("alpine-base").next().unwrap();
    // A v2 package's identity: the SHA-1 of its control member, its C: in APKINDEX.
    let v2 =
        alpinist_apk::package::Package::parse(&vector("v2/alpine-base-3.11.6-r0.apk")).unwrap();
    assert_eq!(
        alpinist_apk::package::q1(&base.hashes),
        v2.identity(),
        "C:Q1dz7FvdDBrS686IEdT/Ia/DslMSM="
    );
    let v2pkg = i.find("v2pkg").next().unwrap();
    assert_eq!(v2pkg.provider_priority, Some(100));
    assert_eq!(v2pkg.install_if, deps("docs v2-base"));
    assert_eq!(
        v2pkg.depends,
        deps("musl>=1.2 so:libc.musl-x86_64.so.1 !v2-conflict")
    );
    // A `.PKGINFO` apk mkndx would refuse.
    let mut bad = IndexV3Builder::new("");
    let mut pkg = v2;
    pkg.pkginfo_raw.extend_from_slice(b"pkgname = again\n");
    let e = bad.add_v2_package(&pkg).unwrap_err().to_string();
    assert_eq!(e, "ADB: .PKGINFO pkgname: given twice");
}

#[test]
fn reads_and_verifies_what_apk_mkndx_writes() {
    let keys = v3_keys();
    for file in ["Packages.adb", "Packages.none.adb"] {
        let i = IndexV3::parse(&vector(file), Some(&keys)).unwrap();
        assert_eq!(i.trusted_by.as_deref(), Some(KEY_NAME));
        assert_eq!(i.meta.description, "alpinist v3 test vectors");
        let names: Vec<_> = i.meta.packages.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["hello", "world"]);
        let hello = i.find("hello").next().unwrap();
        let pkg = PackageV3::parse(&vector("hello-1.0-r0.apk"), Some(&keys)).unwrap();
        assert_eq!(hello.hashes, pkg.identity().to_vec());
        assert_eq!(
            hello.file_size,
            Some(vector("hello-1.0-r0.apk").len() as u64)
        );
        assert_eq!(hello.depends, as_written(hello_info()).depends);
        assert_eq!(i.package_path(hello).unwrap(), "hello-1.0-r0.apk");
    }
    let e = IndexV3::parse(&vector("Packages.adb"), Some(&Default::default())).unwrap_err();
    assert!(matches!(e, AdbError::Untrusted { .. }), "{e}");
}

/// A package with what the vectors lack: large and many files, long fields, xattrs, a
/// device, a hard link declared before its target, every script.
fn big_builder() -> PackageV3Builder {
    let mut info = hello_info();
    info.name = "big".into();
    info.description = "d".repeat(70_000);
    info.url = "u".repeat(300);
    info.build_time = Some(1 << 40);
    let mut b = PackageV3Builder::new(info);
    b.scripts = alpinist_apk::adb::schema::SCRIPT_FIELDS
        .iter()
        .map(|k| (*k, format!("#!/bin/sh\necho {}\n", k.as_str()).into_bytes()))
        .collect();
    let acl = |mode| AclV3::root(mode);
    let mut x = acl(0o644);
    x.xattrs = vec![
        ("user.b".into(), b"2".to_vec()),
        ("user.a".into(), vec![0, 1, 2]),
    ];
    let mut seed = 1u64;
    let big: Vec<u8> = (0..300_000)
        .map(|_| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 56) as u8
        })
        .collect();
    b.push_file("usr/lib/big.bin", x, 5, big);
    b.push_hardlink("usr/lib/a-link", acl(0o644), 5, "usr/lib/big.bin");
    for i in 0..300 {
        b.push_file(
            &format!("usr/share/many/f{i:03}"),
            acl(0o644),
            7,
            vec![b'x'; i],
        );
    }
    b.push_dir(
        "usr/share/many",
        AclV3 {
            mode: 0o2775,
            user: "u".into(),
            group: "g".into(),
            xattrs: Vec::new(),
        },
    );
    b.push_device("dev/null", acl(0o666), 0, S_IFCHR, (1 << 8) | 3);
    b.push_symlink("lib", acl(0o777), 0, "usr/lib");
    b.push_device("run/fifo", acl(0o600), 0, S_IFIFO, 0);
    b
}

#[test]
fn round_trips() {
    let keys = v3_keys();
    let key = v3_key();
    let b = big_builder();
    let bytes = b.build(Some(&key), Compression::Deflate).unwrap();
    keep("big-1.0-r0.apk", &bytes);
    let (pkg, contents) = read_all(&bytes, Some(&keys)).unwrap();
    let mut info = pkg.meta.info.clone();
    assert_eq!(info.installed_size, Some(300_000 + (0..300).sum::<u64>()));
    info.hashes.clear();
    info.installed_size = None;
    assert_eq!(info, as_written(b.info.clone()));
    assert_eq!(pkg.meta.scripts, b.scripts);
    // The first file of the pair in the package's order holds the data, as with mkpkg.
    assert_eq!(contents["usr/lib/a-link"].2.len(), 300_000);
    assert_eq!(contents["usr/lib/big.bin"].2, b"usr/lib/a-link");
    assert_eq!(contents["usr/share/many/f299"].2, vec![b'x'; 299]);
    assert_eq!(contents["usr/share/many"].1, 0o2775);
    assert_eq!(contents["dev/null"], ('c', 0o666, b"20000:259".to_vec()));
    assert_eq!(contents["lib"].2, b"usr/lib");
    assert_eq!(contents["run/fifo"], ('c', 0o600, b"10000:0".to_vec()));
    let big = pkg.meta.paths.iter().find(|d| d.name == "usr/lib").unwrap();
    let f = big.files.iter().find(|f| f.name == "big.bin").unwrap();
    assert_eq!(
        f.acl.xattrs[0],
        ("user.a".to_string(), vec![0, 1, 2]),
        "sorted"
    );
    assert_eq!(f.target, Some(TargetV3::Hardlink("usr/lib/a-link".into())));
    // Written again from what was read: the same ADB block.
    let again = b.build(None, Compression::None).unwrap();
    assert_eq!(PackageV3::parse(&again, None).unwrap().adb, pkg.adb);

    // An index of alpinist's packages, read back.
    let dir = tempfile::tempdir().unwrap();
    let tree = tempfile::tempdir().unwrap();
    hello_tree(tree.path());
    let hello = hello_builder(tree.path())
        .build(Some(&key), Compression::Deflate)
        .unwrap();
    let w = tempfile::tempdir().unwrap();
    let world = world_builder(w.path())
        .build(Some(&key), Compression::None)
        .unwrap();
    let mut files = Vec::new();
    for (name, data) in [
        ("big-1.0-r0.apk", &bytes),
        ("hello-1.0-r0.apk", &hello),
        ("world-2.0-r1.apk", &world),
    ] {
        std::fs::write(dir.path().join(name), data).unwrap();
        files.push(dir.path().join(name));
    }
    let mut ib = IndexV3Builder::new("alpinist round trip");
    ib.pkgname_spec = Some("${arch}/${name}-${version}.apk".into());
    ib.add_package_files(
        &files.iter().map(|p| p.as_path()).collect::<Vec<_>>(),
        Some(&keys),
    )
    .unwrap();
    let index = ib.build(Some(&key), Compression::Deflate).unwrap();
    keep("Packages.adb", &index);
    let i = IndexV3::parse(&index, Some(&keys)).unwrap();
    let names: Vec<_> = i.meta.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["big", "hello", "world"]);
    for (p, (f, data)) in i
        .meta
        .packages
        .iter()
        .zip(files.iter().zip([&bytes, &hello, &world]))
    {
        let pkg = PackageV3::parse(data, Some(&keys)).unwrap();
        assert_eq!(p.hashes, pkg.identity().to_vec());
        assert_eq!(p.file_size, Some(std::fs::metadata(f).unwrap().len()));
        let mut want: PkgInfoV3 = pkg.meta.info.clone();
        want.hashes = p.hashes.clone();
        want.file_size = p.file_size;
        assert_eq!(*p, want);
    }
    assert_eq!(
        i.package_path(&i.meta.packages[2]).unwrap(),
        "noarch/world-2.0-r1.apk"
    );
}

#[test]
fn add_tree_clamps_mtimes() {
    let tmp = tempfile::tempdir().unwrap();
    hello_tree(tmp.path());
    let mut b = PackageV3Builder::new(hello_info());
    b.add_tree(tmp.path(), &Default::default(), MtimePolicy::Clamp, 1000)
        .unwrap();
    let pkg = PackageV3::parse(&b.build(None, Compression::None).unwrap(), None).unwrap();
    assert!(pkg
        .meta
        .paths
        .iter()
        .flat_map(|d| &d.files)
        .all(|f| f.mtime == 1000));
}
