//! Writing packages: determinism, read-after-write, and the real openssl accepting our
//! signatures.

mod common;

use std::process::Command;

use alpinist_apk::package::{self, Package, PackageBuilder};
use alpinist_apk::sign::SigAlg;
use alpinist_apk::tarball::{EntryType, TarReader};
use common::*;
use sha1::Digest;

#[test]
fn signature_verifies_with_real_openssl() {
    let bytes = sample_package(Some(&test_signer(SigAlg::Sha1)));
    let pkg = Package::parse(&bytes).unwrap();
    assert_eq!(pkg.signatures.len(), 1);
    let sig = &pkg.signatures[0];
    assert_eq!(sig.name, ".SIGN.RSA.testkey-62a9ada3.rsa.pub");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("SIG"), &sig.signature).unwrap();
    std::fs::write(dir.path().join("control.tar.gz"), &pkg.control_gz).unwrap();
    let out = Command::new("openssl")
        .args(["dgst", "-sha1", "-verify"])
        .arg(alpine_testdata().join(TEST_KEY_NAME))
        .arg("-signature")
        .arg(dir.path().join("SIG"))
        .arg(dir.path().join("control.tar.gz"))
        .output()
        .expect("openssl is installed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.trim(), "Verified OK");
    // And our own verifier agrees.
    let (_, alg, key) = package::verify(&bytes, &test_keyring()).unwrap();
    assert_eq!((alg, key.as_str()), (SigAlg::Sha1, TEST_KEY_NAME));
}

#[test]
fn sha256_and_sha512_signatures() {
    for (alg, flag, prefix) in [
        (SigAlg::Sha256, "-sha256", ".SIGN.RSA256."),
        (SigAlg::Sha512, "-sha512", ".SIGN.RSA512."),
    ] {
        let bytes = sample_package(Some(&test_signer(alg)));
        let pkg = Package::parse(&bytes).unwrap();
        assert!(pkg.signatures[0].name.starts_with(prefix));
        pkg.verify_signature(&test_keyring()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("SIG"), &pkg.signatures[0].signature).unwrap();
        std::fs::write(dir.path().join("c"), &pkg.control_gz).unwrap();
        let out = Command::new("openssl")
            .args(["dgst", flag, "-verify"])
            .arg(alpine_testdata().join(TEST_KEY_NAME))
            .arg("-signature")
            .arg(dir.path().join("SIG"))
            .arg(dir.path().join("c"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{alg}");
    }
}

#[test]
fn writing_twice_gives_identical_bytes() {
    let signer = test_signer(SigAlg::Sha1);
    let a = sample_package(Some(&signer));
    let b = sample_package(Some(&signer));
    assert_eq!(a, b);
    assert_eq!(sample_package(None), sample_package(None));
}

#[test]
fn read_after_write_gives_same_metadata_and_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let owners = sample_tree(tmp.path());
    let mut info = pkginfo("hello", "1.0-r0");
    info.depends = vec!["/bin/sh".into(), "so:libc.musl-x86_64.so.1".into()];
    info.replaces = vec!["oldhello".into()];
    info.triggers = vec!["/usr/share/hello/*".into()];
    info.install_if = vec!["hello-base".into(), "docs".into()];
    info.provider_priority = Some(5);
    info.maintainer = Some("A <a@example.org>".into());
    let mut b = PackageBuilder::new(info.clone(), SDE);
    b.add_tree(tmp.path(), &owners, package::MtimePolicy::Clamp)
        .unwrap();
    b.scripts.push((
        alpinist_apk::db::ScriptKind::PostInstall,
        b"#!/bin/sh\ntrue\n".to_vec(),
    ));
    b.scripts.push((
        alpinist_apk::db::ScriptKind::Trigger,
        b"#!/bin/sh\n".to_vec(),
    ));
    let bytes = b.build(Some(&test_signer(SigAlg::Sha1))).unwrap();
    let pkg = Package::parse(&bytes).unwrap();

    // Metadata: what we gave plus size and datahash.
    let mut want = info.clone();
    want.size = b.installed_size();
    want.datahash = pkg.pkginfo.datahash.clone();
    assert_eq!(pkg.pkginfo, want);
    // Shared file counted once (hard link), symlinks and dirs 0.
    let expected_size: u64 = [
        "#!/bin/sh\necho hello\n".len(),
        "suid binary\n".len(),
        "x=1\n".len(),
        "shared text\n".len(),
    ]
    .iter()
    .map(|&n| n as u64)
    .sum();
    assert_eq!(pkg.pkginfo.size, expected_size);
    assert_eq!(
        pkg.scripts.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
        [
            alpinist_apk::db::ScriptKind::PostInstall,
            alpinist_apk::db::ScriptKind::Trigger
        ]
    );

    // Tree: same entries in the same (byte-sorted) order with the same metadata.
    let written: Vec<_> = b.entries().cloned().collect();
    let read: Vec<_> = pkg.entries.iter().map(|e| e.header.clone()).collect();
    assert_eq!(read.len(), written.len());
    for (r, w) in read.iter().zip(&written) {
        let mut r = r.clone();
        r.pax
            .retain(|(k, _)| k != alpinist_apk::tarball::PAX_CHECKSUM_SHA1);
        assert_eq!(&r, w);
    }
    let paths: Vec<&str> = read.iter().map(|h| h.path.as_str()).collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted);
    let tree = pkg.tree();
    assert_eq!(tree["usr/bin/su-thing"].header.mode, 0o4755);
    assert_eq!(tree["etc/hello/conf"].header.mode, 0o600);
    assert_eq!(
        tree["usr/share/hello/link"].header.entry_type,
        EntryType::Symlink
    );
    assert_eq!(tree["usr/share/hello/link"].header.link_name, "a.txt");
    let hard = &tree["usr/share/hello/hard.txt"].header;
    assert_eq!(hard.entry_type, EntryType::Hardlink);
    assert_eq!(hard.link_name, "usr/share/hello/a.txt");
    assert_eq!(tree["var/lib/hello"].header.uname, "hello");
    assert_eq!(tree["usr/bin/hello"].header.uname, "root");
    assert!(pkg
        .entries
        .iter()
        .all(|e| e.header.mtime <= SDE && e.header.uid == 0));
    // Checksums: content for files, target for symlinks.
    assert_eq!(
        tree["usr/bin/hello"].sha1.unwrap().as_slice(),
        sha1::Sha1::digest(b"#!/bin/sh\necho hello\n").as_slice()
    );
    assert_eq!(
        tree["usr/share/hello/link"].sha1.unwrap().as_slice(),
        sha1::Sha1::digest(b"a.txt").as_slice()
    );
}

#[test]
fn layout_matches_abuild() {
    let bytes = sample_package(Some(&test_signer(SigAlg::Sha1)));
    let m = members(&bytes);
    assert_eq!(m.len(), 3);
    for (s, _) in &m {
        // gzip -n -9: no mtime, no name, XFL 2, OS 3.
        assert_eq!(&bytes[*s..*s + 10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3]);
    }
    let inflate = |i: usize| {
        alpinist_apk::tarball::inflate_member(&bytes, m[i].0, u64::MAX)
            .unwrap()
            .0
    };
    let (sig, control, data) = (inflate(0), inflate(1), inflate(2));
    // Signature and control are cut; data keeps its end blocks, padded to 10240.
    assert_ne!(&sig[sig.len() - 512..], &[0u8; 512][..]);
    assert_ne!(&control[control.len() - 512..], &[0u8; 512][..]);
    assert_eq!(data.len() % 10240, 0);
    assert_eq!(&data[data.len() - 1024..], &[0u8; 1024][..]);
    // Control starts with the pax header of .PKGINFO, then .PKGINFO.
    assert!(control.starts_with(b"./PaxHeaders/.PKGINFO\0"));
    assert_eq!(&control[1024..1033], b".PKGINFO\0");
    assert_eq!(&control[1024 + 257..1024 + 265], b"ustar\x0000");
    // Every regular file's pax header carries the checksum record.
    let text = String::from_utf8_lossy(&data);
    assert!(text.contains("68 APK-TOOLS.checksum.SHA1="));
    // The whole thing is one tar stream another reader understands.
    let mut all = sig.clone();
    all.extend(&control);
    all.extend(&data);
    let mut ar = tar::Archive::new(all.as_slice());
    let names: Vec<String> = ar
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names[0], ".SIGN.RSA.testkey-62a9ada3.rsa.pub");
    assert_eq!(names[1], ".PKGINFO");
    assert!(names.contains(&"usr/share/hello/link".to_string()));
    // And so does our reader, as one stream.
    let mut r = TarReader::new(all.as_slice());
    let mut n = 0;
    while r.next_entry().unwrap().is_some() {
        n += 1;
    }
    assert_eq!(n, names.len());
}

#[test]
fn gnu_tar_lists_the_data_member() {
    let bytes = sample_package(None);
    let m = members(&bytes);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data.tar.gz");
    std::fs::write(&data, &bytes[m[1].0..]).unwrap();
    let out = Command::new("tar")
        .args(["-tvzf"])
        .arg(&data)
        .output()
        .expect("tar");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(listing.contains("-rwsr-xr-x root/root"), "{listing}");
    assert!(
        listing.contains("usr/share/hello/link -> a.txt"),
        "{listing}"
    );
    assert!(
        listing.contains("usr/share/hello/hard.txt link to usr/share/hello/a.txt"),
        "{listing}"
    );
}

#[test]
fn size_rules() {
    // Empty package: 0; a script only: 1; one empty file: 1.
    let b = PackageBuilder::new(pkginfo("e", "1-r0"), SDE);
    assert_eq!(b.installed_size(), 0);
    let mut s = PackageBuilder::new(pkginfo("s", "1-r0"), SDE);
    s.scripts.push((
        alpinist_apk::db::ScriptKind::PostInstall,
        b"#!/bin/sh\n".to_vec(),
    ));
    assert_eq!(s.installed_size(), 1);
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("empty"), b"").unwrap();
    let mut f = PackageBuilder::new(pkginfo("f", "1-r0"), SDE);
    f.add_tree(tmp.path(), &Default::default(), package::MtimePolicy::Fixed)
        .unwrap();
    assert_eq!(f.installed_size(), 1);
    let bytes = f.build(None).unwrap();
    let pkg = Package::parse(&bytes).unwrap();
    assert_eq!(pkg.pkginfo.size, 1);
    assert_eq!(pkg.entries[0].header.mtime, SDE);
    assert!(matches!(
        pkg.verify_signature(&test_keyring()),
        Err(package::PackageError::Unsigned)
    ));
}
