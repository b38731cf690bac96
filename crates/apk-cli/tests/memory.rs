//! Memory does not grow with the size of a package's files: `verify`, `info` and `add` of
//! a package holding a 2 GiB file run under a 256 MiB address-space limit
//! (`prlimit --as`, util-linux), as apk-tools does; `verify` and `add` of a v3 one too.

mod common;

use std::os::unix::fs::MetadataExt;
use std::process::Command;

use alpinist_apk::adb::build::PackageV3Builder;
use alpinist_apk::adb::container::Compression;
use alpinist_apk::adb::index::IndexV3Builder;
use alpinist_apk::adb::schema::{AclV3, PkgInfoV3};
use alpinist_apk::package::PackageBuilder;
use alpinist_apk::tarball::EntryType;
use common::*;

const BIG: u64 = 2 << 30;
const LIMIT: u64 = 256 << 20;

/// `apk ARGS…` under `prlimit --as=LIMIT`.
fn limited(args: &[&str]) -> (bool, String, String) {
    apk_with(
        Command::new("prlimit")
            .arg(format!("--as={LIMIT}"))
            .arg("--")
            .arg(apk_bin())
            .args(args),
    )
}

#[test]
fn two_gib_file_under_a_256_mib_address_space() {
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let work = tmp.path();
    let (signer, keys) = keys(work, "big", 0x6000_0000);
    // A sparse 2 GiB file: zeros, streamed into the package by the builder.
    let zeros = work.join("zeros");
    std::fs::File::create(&zeros).unwrap().set_len(BIG).unwrap();
    let mut b = PackageBuilder::new(info("big", "1.0-r0"), EPOCH);
    let (h, d) = dir("usr");
    b.push_entry(h, d);
    let mut h = header("usr/zeros", EntryType::Regular, 0o644);
    h.size = BIG;
    b.push_file(h, zeros.clone());
    let bytes = b.build(Some(&signer)).unwrap();
    std::fs::remove_file(&zeros).unwrap();
    assert!(bytes.len() < 8 << 20, "{} bytes", bytes.len());
    let repo = repository(
        &work.join("repo"),
        &[("big-1.0-r0.apk".into(), bytes.clone())],
        vec![record(&bytes)],
        Some(&signer),
    );
    let apk_file = repo.join("x86_64/big-1.0-r0.apk");
    let (k, f) = (keys.to_str().unwrap(), apk_file.to_str().unwrap());

    // Without streaming, each of these needs more than 2 GiB.
    let (ok, out, err) = limited(&["--keys-dir", k, "verify", f]);
    assert!(ok && out.contains(": OK (RSA, "), "{out}{err}");
    let (ok, out, err) = limited(&["info", f]);
    assert!(
        ok && out.contains(&format!("{BIG} usr/zeros")),
        "{out}{err}"
    );
    let root = work.join("root");
    let (ok, out, err) = limited(&[
        "--root",
        root.to_str().unwrap(),
        "--initdb",
        "--arch",
        ARCH,
        "--keys-dir",
        k,
        "-X",
        repo.to_str().unwrap(),
        "add",
        "big",
    ]);
    assert!(ok, "{out}{err}");
    let md = std::fs::metadata(root.join("usr/zeros")).unwrap();
    assert_eq!(md.size(), BIG);
    // The staging directory is gone, the database records the file.
    let top: Vec<_> = std::fs::read_dir(&root).unwrap().flatten().collect();
    assert!(top
        .iter()
        .all(|e| !e.file_name().to_string_lossy().starts_with('.')));
    let db = std::fs::read_to_string(root.join("lib/apk/db/installed")).unwrap();
    assert!(db.contains("F:usr\nR:zeros\n"), "{db}");
}

#[test]
fn two_gib_file_of_a_v3_package_under_a_256_mib_address_space() {
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let work = tmp.path();
    let (signer, keys) = keys(work, "big3", 0x6600_0000);
    let zeros = work.join("zeros");
    std::fs::File::create(&zeros).unwrap().set_len(BIG).unwrap();
    let mut b = PackageV3Builder::new(PkgInfoV3 {
        name: "big".into(),
        version: "1.0-r0".into(),
        arch: ARCH.into(),
        ..PkgInfoV3::default()
    });
    b.push_file_from("usr/zeros", AclV3::root(0o644), EPOCH, zeros.clone(), BIG);
    let arch = work.join("repo").join(ARCH);
    std::fs::create_dir_all(&arch).unwrap();
    let apk_file = arch.join("big-1.0-r0.apk");
    let out = std::fs::File::create(&apk_file).unwrap();
    b.write_to(out, Some(&signer.key), Compression::Deflate)
        .unwrap();
    std::fs::remove_file(&zeros).unwrap();
    let size = std::fs::metadata(&apk_file).unwrap().size();
    assert!(size < 8 << 20, "{size} bytes");
    let mut idx = IndexV3Builder::new("big");
    idx.add_package_files(&[&apk_file], None).unwrap();
    let index = arch.join("Packages.adb");
    let bytes = idx.build(Some(&signer.key), Compression::None).unwrap();
    std::fs::write(&index, bytes).unwrap();
    let (k, f) = (keys.to_str().unwrap(), apk_file.to_str().unwrap());

    let (ok, out, err) = limited(&["--keys-dir", k, "verify", f]);
    assert!(ok && out.contains(": OK (v3, "), "{out}{err}");
    let root = work.join("root");
    let (ok, out, err) = limited(&[
        "--root",
        root.to_str().unwrap(),
        "--initdb",
        "--arch",
        ARCH,
        "--keys-dir",
        k,
        "-X",
        index.to_str().unwrap(),
        "add",
        "big",
    ]);
    assert!(ok, "{out}{err}");
    assert_eq!(
        std::fs::metadata(root.join("usr/zeros")).unwrap().size(),
        BIG
    );
    let db = std::fs::read_to_string(root.join("lib/apk/db/installed")).unwrap();
    assert!(db.contains("F:usr\nR:zeros\n"), "{db}");
}
