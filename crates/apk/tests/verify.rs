//! Reading and verifying real Alpine packages, and rejecting damaged ones.

mod common;

use alpinist_apk::package::{self, Package, PackageError, Part};
use alpinist_apk::sign::Keyring;
use common::*;

#[test]
fn real_packages_verify_with_alpine_key() {
    let keys = alpine_keyring();
    let expected = [
        (
            "3.11.6-r0",
            "Q1dz7FvdDBrS686IEdT/Ia/DslMSM=",
            "ba31aa614dd1138e2879c9b0c06723574a7b0cf1c2d50d4e731157f6ed2ed4d4",
            [407, 527, 697],
        ),
        (
            "3.12.0-r0",
            "Q1ebQ/f/pu/NxVsqodLO1pjLBYYPM=",
            "10ccc153c00df6365fc13d86e6b9748bf36c45e2abea88c34076962221641c9f",
            [408, 580, 672],
        ),
    ];
    for (path, (ver, id, datahash, sizes)) in real_packages().iter().zip(expected) {
        let bytes = std::fs::read(path).unwrap();
        let (pkg, _alg, key) = package::verify(&bytes, &keys).unwrap();
        assert_eq!(key, "alpine-devel@lists.alpinelinux.org-58199dcc.rsa.pub");
        assert_eq!(pkg.pkginfo.pkgname, "alpine-base");
        assert_eq!(pkg.pkginfo.pkgver, ver);
        assert_eq!(pkg.identity(), id);
        assert_eq!(pkg.pkginfo.datahash.as_deref(), Some(datahash));
        let m = members(&bytes);
        assert_eq!(m.iter().map(|(s, e)| e - s).collect::<Vec<_>>(), sizes);
        let paths: Vec<&str> = pkg.entries.iter().map(|e| e.path()).collect();
        assert!(paths.contains(&"etc/os-release"));
    }
    // The per-file checksum of 3.12.0 etc/issue quoted in the spec.
    let pkg = Package::read(&real_packages()[1]).unwrap();
    let issue = pkg
        .entries
        .iter()
        .find(|e| e.path() == "etc/issue")
        .unwrap();
    assert!(hex::encode(issue.sha1.unwrap()).starts_with("fd6e6bdb"));
}

#[test]
fn wrong_keyring_is_untrusted() {
    let bytes = std::fs::read(&real_packages()[0]).unwrap();
    let err = package::verify(&bytes, &Keyring::new()).unwrap_err();
    assert!(matches!(err, PackageError::Untrusted { .. }), "{err}");
    assert!(err.to_string().starts_with("signature: "), "{err}");
    let err = package::verify(&bytes, &test_keyring()).unwrap_err();
    assert!(matches!(err, PackageError::Untrusted { .. }), "{err}");
}

/// Flips the byte in the middle of member `which` and returns the verify error.
fn flip_in_member(which: usize) -> Vec<String> {
    let keys = alpine_keyring();
    let mut msgs = Vec::new();
    for path in real_packages() {
        let bytes = std::fs::read(&path).unwrap();
        let (s, e) = members(&bytes)[which];
        // Every position inside the deflate data of the member (past the 10-byte header,
        // before the 8-byte trailer) must be caught and blamed on that member.
        for pos in (s + 10..e - 8).step_by(7) {
            let mut bad = bytes.clone();
            bad[pos] ^= 0x01;
            let err = package::verify(&bad, &keys)
                .expect_err(&format!("{} byte {pos} flipped", path.display()));
            msgs.push(err.to_string());
        }
    }
    msgs
}

fn assert_blames(msgs: &[String], part: Part) {
    let prefix = format!("{part}: ");
    for m in msgs {
        assert!(m.starts_with(&prefix), "expected {prefix:?}, got {m:?}");
    }
}

#[test]
fn flipped_byte_in_signature_member_blames_signature() {
    assert_blames(&flip_in_member(0), Part::Signature);
}

#[test]
fn flipped_byte_in_control_member_blames_control() {
    assert_blames(&flip_in_member(1), Part::Control);
}

#[test]
fn flipped_byte_in_data_member_blames_data() {
    assert_blames(&flip_in_member(2), Part::Data);
}

#[test]
fn flipped_gzip_header_byte_still_caught() {
    // mtime bytes of the gzip header do not break inflation; the signature (control) or
    // datahash (data) still notice.
    let keys = alpine_keyring();
    let bytes = std::fs::read(&real_packages()[1]).unwrap();
    let m = members(&bytes);
    let mut bad = bytes.clone();
    bad[m[1].0 + 5] ^= 1;
    let err = package::verify(&bad, &keys).unwrap_err().to_string();
    assert!(err.starts_with("control: "), "{err}");
    let mut bad = bytes.clone();
    bad[m[2].0 + 5] ^= 1;
    let err = package::verify(&bad, &keys).unwrap_err().to_string();
    assert!(
        err.starts_with("data: ") && err.contains("datahash"),
        "{err}"
    );
}

#[test]
fn truncated_and_extended_files_fail() {
    let bytes = std::fs::read(&real_packages()[1]).unwrap();
    let err = Package::parse(&bytes[..bytes.len() - 1])
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("data: "), "{err}");
    let mut longer = bytes.clone();
    longer.extend_from_slice(&bytes[988..]);
    let err = Package::parse(&longer).unwrap_err().to_string();
    assert!(err.starts_with("data: "), "{err}");
}
