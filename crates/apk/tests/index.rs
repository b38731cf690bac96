//! APKINDEX.tar.gz: write, read back, sign, verify.

mod common;

use alpinist_apk::db::PackageInfo;
use alpinist_apk::index::{self, ApkIndex, IndexError};
use alpinist_apk::package::Package;
use alpinist_apk::sign::{Keyring, SigAlg};
use alpinist_apk::tarball::{self, TarReader};
use common::*;

fn sample_index() -> ApkIndex {
    let hello = Package::parse(&sample_package(None)).unwrap();
    let mut pkgs: Vec<PackageInfo> = real_packages()
        .iter()
        .map(|p| index::package_info(&Package::read(p).unwrap(), Some("x86_64")))
        .collect();
    pkgs.push(index::package_info(&hello, None));
    ApkIndex::new(Some("test repo v1".into()), pkgs)
}

#[test]
fn round_trip_unsigned() {
    let idx = sample_index();
    let bytes = idx.to_bytes(SDE, None).unwrap();
    let back = ApkIndex::parse(&bytes).unwrap();
    assert_eq!(back.description.as_deref(), Some("test repo v1"));
    assert!(back.signatures.is_empty());
    let mut want = idx.packages.clone();
    want.sort_by(|a, b| (&a.name, &a.version).cmp(&(&b.name, &b.version)));
    assert_eq!(back.packages, want);
    assert_eq!(back.text(), idx.text());
    assert!(matches!(
        back.verify_signature(&test_keyring()),
        Err(IndexError::Unsigned)
    ));
    // Deterministic.
    assert_eq!(bytes, idx.to_bytes(SDE, None).unwrap());
}

#[test]
fn record_fields_as_apk_writes_them() {
    let idx = sample_index();
    let text = idx.text();
    let hello = text.split("\n\n").find(|r| r.contains("P:hello")).unwrap();
    let hello_pkg = Package::parse(&sample_package(None)).unwrap();
    let expected = format!(
        "C:{}\nP:hello\nV:1.0-r0\nA:x86_64\nS:{}\nI:{}\nT:hello test package\n\
U:https://example.org\nL:MIT\no:hello\nt:{SDE}\nD:/bin/sh\np:cmd:hello=1.0-r0",
        hello_pkg.identity(),
        hello_pkg.file_size,
        hello_pkg.pkginfo.size
    );
    assert_eq!(hello, expected);
    // Real package: C: as computed in the spec, A: rewritten from noarch.
    assert!(text.contains(
        "C:Q1ebQ/f/pu/NxVsqodLO1pjLBYYPM=\nP:alpine-base\nV:3.12.0-r0\nA:x86_64\nS:1660\n"
    ));
    assert!(text.ends_with("\n\n"));
    // Records sorted by name then version.
    let a = text.find("V:3.11.6-r0").unwrap();
    let b = text.find("V:3.12.0-r0").unwrap();
    let h = text.find("P:hello").unwrap();
    assert!(a < b && b < h);
}

#[test]
fn tar_layout_like_apk_index() {
    let bytes = sample_index().to_bytes(SDE, None).unwrap();
    let (tar, _) = tarball::inflate_member(&bytes, 0, u64::MAX).unwrap();
    // DESCRIPTION, APKINDEX, two zero blocks, no record padding.
    assert_eq!(&tar[..12], b"DESCRIPTION\0");
    assert_eq!(&tar[257..265], b"ustar  \0");
    assert_eq!(&tar[124..136], b"000000000014"); // 12 digits, no NUL: "test repo v1" = 12 bytes
    assert_eq!(&tar[265..270], b"root\0");
    assert_eq!(&tar[tar.len() - 1024..], &[0u8; 1024][..]);
    assert_ne!(&tar[tar.len() - 1536..tar.len() - 1024], &[0u8; 512][..]);
    let mut r = TarReader::new(tar.as_slice());
    let mut names = Vec::new();
    while let Some(h) = r.next_entry().unwrap() {
        assert_eq!((h.mode, h.mtime), (0o644, SDE));
        names.push(h.path);
    }
    assert_eq!(names, ["DESCRIPTION", "APKINDEX"]);
    // The tar crate reads it too.
    let mut ar = tar::Archive::new(tar.as_slice());
    assert_eq!(ar.entries().unwrap().count(), 2);
}

#[test]
fn signed_round_trip_and_tamper() {
    let idx = sample_index();
    let bytes = idx.to_bytes(SDE, Some(&test_signer(SigAlg::Sha1))).unwrap();
    assert_eq!(members(&bytes).len(), 2);
    let back = ApkIndex::parse(&bytes).unwrap();
    let (alg, key) = back.verify_signature(&test_keyring()).unwrap();
    assert_eq!((alg, key.as_str()), (SigAlg::Sha1, TEST_KEY_NAME));
    assert!(matches!(
        back.verify_signature(&Keyring::new()),
        Err(IndexError::Untrusted { .. })
    ));
    assert_eq!(back.packages.len(), 3);

    // A byte flipped anywhere in the deflate data of a member is caught and blamed right.
    let m = members(&bytes);
    for (which, prefix) in [(0, "signature: "), (1, "index: ")] {
        for pos in (m[which].0 + 10..m[which].1 - 8).step_by(11) {
            let mut bad = bytes.clone();
            bad[pos] ^= 0x40;
            let err = ApkIndex::parse(&bad)
                .and_then(|i| i.verify_signature(&test_keyring()).map(|_| ()))
                .expect_err("tampered index accepted");
            assert!(err.to_string().starts_with(prefix), "{pos}: {err}");
        }
    }
}

#[test]
fn unsigned_index_is_not_signed() {
    let bytes = sample_index().to_bytes(SDE, None).unwrap();
    assert_eq!(members(&bytes).len(), 1);
}
