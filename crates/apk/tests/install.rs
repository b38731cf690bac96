//! Installing into a root, and every refusal leaving the root exactly as it was.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use alpinist_apk::db::ScriptKind;
use alpinist_apk::index;
use alpinist_apk::install::{self, InstallError, Transaction, Trust};
use alpinist_apk::package::{Package, PackageBuilder, PackageError};
use alpinist_apk::pkginfo::PkgInfo;
use alpinist_apk::sign::SigAlg;
use alpinist_apk::tarball::{EntryType, Header, PAX_CHECKSUM_SHA1};
use common::*;
use sha1::Digest;

fn fresh_root() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    install::init_root(root.path(), "x86_64").unwrap();
    root
}

fn dir(path: &str) -> Header {
    let mut h = Header::new(path, EntryType::Directory);
    h.mode = 0o755;
    h.uname = "root".into();
    h.gname = "root".into();
    h
}

fn file(path: &str, data: &[u8]) -> (Header, Vec<u8>) {
    let mut h = Header::new(path, EntryType::Regular);
    h.mode = 0o644;
    h.uname = "root".into();
    h.gname = "root".into();
    h.size = data.len() as u64;
    (h, data.to_vec())
}

fn symlink(path: &str, target: &str) -> Header {
    let mut h = Header::new(path, EntryType::Symlink);
    h.mode = 0o777;
    h.link_name = target.into();
    h
}

/// A signed package of the given entries.
fn package(info: PkgInfo, entries: Vec<(Header, Vec<u8>)>) -> Vec<u8> {
    let mut b = PackageBuilder::new(info, SDE);
    for (h, d) in entries {
        b.push_entry(h, d);
    }
    b.build(Some(&test_signer(SigAlg::Sha1))).unwrap()
}

fn install_one(root: &Path, bytes: Vec<u8>, trust: Trust<'_>) -> Result<(), InstallError> {
    let db = install::read_database(root)?;
    let mut tx = Transaction::new(root, db)?;
    tx.add_bytes("test.apk", &bytes, trust)?;
    tx.commit()?;
    Ok(())
}

/// Runs `f` and checks that the root did not change at all.
fn assert_refused_unchanged(root: &Path, bytes: Vec<u8>, trust: Trust<'_>, expect: &str) {
    let before = snapshot(root);
    let err = install_one(root, bytes, trust).expect_err("install should be refused");
    assert!(err.to_string().contains(expect), "{err}");
    assert_eq!(snapshot(root), before, "root changed after: {err}");
}

#[test]
fn installs_files_dirs_links_and_database() {
    let root = fresh_root();
    let keys = test_keyring();
    let mut b = PackageBuilder::new(pkginfo("hello", "1.0-r0"), SDE);
    let tmp = tempfile::tempdir().unwrap();
    let owners = sample_tree(tmp.path());
    b.add_tree(
        tmp.path(),
        &owners,
        alpinist_apk::package::MtimePolicy::Clamp,
    )
    .unwrap();
    b.pkginfo.replaces = vec!["oldhello".into()];
    b.pkginfo.triggers = vec!["/usr/share/hello".into()];
    b.scripts
        .push((ScriptKind::PostInstall, b"#!/bin/sh\necho hi\n".to_vec()));
    let bytes = b.build(Some(&test_signer(SigAlg::Sha1))).unwrap();
    let pkg = Package::parse(&bytes).unwrap();
    let file_size = bytes.len();
    install_one(root.path(), bytes, Trust::Keys(&keys)).unwrap();

    let r = root.path();
    assert_eq!(
        std::fs::read(r.join("usr/bin/hello")).unwrap(),
        b"#!/bin/sh\necho hello\n"
    );
    let md = |p: &str| std::fs::symlink_metadata(r.join(p)).unwrap();
    assert_eq!(md("usr/bin/su-thing").mode() & 0o7777, 0o4755);
    assert_eq!(md("etc/hello/conf").mode() & 0o7777, 0o600);
    assert_eq!(
        md("usr/bin/hello").mtime() as u64,
        pkg.tree()["usr/bin/hello"].header.mtime
    );
    assert_eq!(
        std::fs::read_link(r.join("usr/share/hello/link")).unwrap(),
        Path::new("a.txt")
    );
    assert_eq!(
        md("usr/share/hello/hard.txt").ino(),
        md("usr/share/hello/a.txt").ino()
    );
    assert!(md("var/lib/hello").is_dir());
    // No temporary files left behind.
    assert!(snapshot(r).keys().all(|k| !k.contains(".apk.")));

    // The database, as apk writes it.
    let installed = std::fs::read_to_string(r.join(install::INSTALLED)).unwrap();
    let expected_tail =
        "r:oldhello\nF:etc\nF:etc/hello\nR:conf\na:0:0:600\nZ:Q1ddFVdxxninTO+M4pj5t1LMEMXXA=\n";
    assert!(installed.contains(&format!("C:{}\nP:hello\nV:1.0-r0\n", pkg.identity())));
    assert!(
        installed.contains(&format!("\nS:{file_size}\n")),
        "{installed}"
    );
    assert!(installed.contains(expected_tail), "{installed}");
    assert!(
        installed.contains("F:usr/bin\nR:hello\na:0:0:755\nZ:"),
        "{installed}"
    );
    assert!(
        installed.contains("R:su-thing\na:0:0:4755\n"),
        "{installed}"
    );
    let link_z = alpinist_apk::package::q1(&sha1::Sha1::digest(b"a.txt"));
    assert!(
        installed.contains(&format!("R:link\na:0:0:777\nZ:{link_z}\n")),
        "{installed}"
    );
    // The hard link has the digest of its target.
    let a_txt = installed
        .split("R:a.txt\n")
        .nth(1)
        .unwrap()
        .lines()
        .next()
        .unwrap();
    let hard = installed
        .split("R:hard.txt\n")
        .nth(1)
        .unwrap()
        .lines()
        .next()
        .unwrap();
    assert_eq!(a_txt, hard);
    assert!(installed.ends_with("\n\n"));
    let triggers = std::fs::read_to_string(r.join(install::TRIGGERS)).unwrap();
    assert_eq!(triggers, format!("{} /usr/share/hello\n", pkg.identity()));

    // Read back: the same database, scripts included.
    let db = install::read_database(r).unwrap();
    let hello = db.get("hello").unwrap();
    assert_eq!(hello.scripts.len(), 1);
    assert_eq!(hello.scripts[0].kind, ScriptKind::PostInstall);
    assert_eq!(hello.triggers, ["/usr/share/hello"]);
    assert_eq!(db.to_text(), installed);
}

#[test]
fn refuses_dotdot_path() {
    let root = fresh_root();
    let keys = test_keyring();
    let bytes = package(
        pkginfo("evil", "1-r0"),
        vec![(dir("usr"), vec![]), file("usr/../../escaped", b"gotcha")],
    );
    assert_refused_unchanged(root.path(), bytes, Trust::Keys(&keys), "..");
}

#[test]
fn refuses_write_through_symlink_in_root() {
    let root = fresh_root();
    let outside = tempfile::tempdir().unwrap();
    // A symlink already in the root that climbs out of it to a real directory.
    std::fs::create_dir_all(root.path().join("usr")).unwrap();
    let target = format!("{}{}", "../".repeat(20), outside.path().display());
    std::os::unix::fs::symlink(&target, root.path().join("usr/up")).unwrap();
    let keys = test_keyring();
    let bytes = package(
        pkginfo("evil", "1-r0"),
        vec![
            (dir("usr"), vec![]),
            (dir("usr/up"), vec![]),
            file("usr/up/pwned", b"gotcha"),
        ],
    );
    let outside_before = snapshot(outside.path());
    assert_refused_unchanged(root.path(), bytes, Trust::Keys(&keys), "leave the root");
    assert_eq!(snapshot(outside.path()), outside_before);
}

#[test]
fn refuses_write_through_symlink_in_package() {
    let root = fresh_root();
    let keys = test_keyring();
    let bytes = package(
        pkginfo("evil", "1-r0"),
        vec![
            (dir("etc"), vec![]),
            (symlink("etc/x", "../../../../../../../../tmp"), vec![]),
            (dir("etc/x"), vec![]),
            file("etc/x/pwned", b"gotcha"),
        ],
    );
    // The directory entry apk needs for etc/x/ makes etc/x appear twice.
    assert_refused_unchanged(
        root.path(),
        bytes,
        Trust::Keys(&keys),
        "etc/x: appears more than once in the package",
    );
}

#[test]
fn absolute_symlinks_stay_inside_the_root() {
    // `lib64 -> /usr/lib` in the root: a package's lib64/ lands in root/usr/lib, not the host's.
    let root = fresh_root();
    std::fs::create_dir_all(root.path().join("usr/lib")).unwrap();
    std::os::unix::fs::symlink("/usr/lib", root.path().join("lib64")).unwrap();
    let keys = test_keyring();
    let bytes = package(
        pkginfo("libfoo", "1-r0"),
        vec![(dir("lib64"), vec![]), file("lib64/libfoo.so.1", b"elf")],
    );
    install_one(root.path(), bytes, Trust::Keys(&keys)).unwrap();
    assert_eq!(
        std::fs::read(root.path().join("usr/lib/libfoo.so.1")).unwrap(),
        b"elf"
    );
    assert!(std::fs::symlink_metadata(root.path().join("lib64"))
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn refuses_checksum_mismatch() {
    let root = fresh_root();
    let keys = test_keyring();
    let (mut h, data) = file("etc/motd", b"hello");
    h.pax.push((
        PAX_CHECKSUM_SHA1.to_string(),
        b"0000000000000000000000000000000000000000".to_vec(),
    ));
    let bytes = package(
        pkginfo("bad", "1-r0"),
        vec![(dir("etc"), vec![]), (h, data)],
    );
    assert_refused_unchanged(root.path(), bytes, Trust::Keys(&keys), "checksum");
}

#[test]
fn refuses_unsigned_and_badly_signed() {
    let root = fresh_root();
    let keys = test_keyring();
    let mut b = PackageBuilder::new(pkginfo("plain", "1-r0"), SDE);
    let (h, d) = file("motd", b"hi");
    b.push_entry(h, d);
    let unsigned = b.build(None).unwrap();
    assert_refused_unchanged(
        root.path(),
        unsigned.clone(),
        Trust::Keys(&keys),
        "not signed",
    );
    // Signed by a key that is not trusted.
    let other = alpinist_apk::sign::keygen("other", 1024, 1).unwrap();
    let signer = alpinist_apk::package::Signer {
        key: alpinist_apk::sign::PrivateKey::from_pem(&other.private_pem).unwrap(),
        key_name: other.public_file.clone(),
        alg: SigAlg::Sha1,
    };
    let foreign = b.build(Some(&signer)).unwrap();
    assert_refused_unchanged(
        root.path(),
        foreign.clone(),
        Trust::Keys(&keys),
        "no trusted key",
    );
    // Signed with the right name but the wrong key.
    let forged = alpinist_apk::package::Signer {
        key_name: TEST_KEY_NAME.into(),
        ..signer
    };
    let forged = b.build(Some(&forged)).unwrap();
    assert_refused_unchanged(root.path(), forged, Trust::Keys(&keys), "signature");
    // Through an index whose C: does not match.
    let record = index::package_info(&Package::parse(&unsigned).unwrap(), None);
    let mut wrong = record.clone();
    wrong.checksum = Package::parse(&sample_package(None)).unwrap().identity();
    assert_refused_unchanged(
        root.path(),
        unsigned.clone(),
        Trust::Index(&wrong),
        "does not match",
    );
    // ...or whose name or version is another package's.
    let mut other = record.clone();
    other.name = "good".into();
    other.version = "9.9-r0".into();
    assert_refused_unchanged(
        root.path(),
        unsigned.clone(),
        Trust::Index(&other),
        "the package is plain-1-r0 but the index lists it as good-9.9-r0",
    );
    // ...and accepted when the signed index's record matches.
    install_one(root.path(), unsigned, Trust::Index(&record)).unwrap();
    assert_eq!(std::fs::read(root.path().join("motd")).unwrap(), b"hi");
}

#[test]
fn refuses_file_owned_by_another_package_without_replaces() {
    let root = fresh_root();
    let keys = test_keyring();
    let entries = || {
        vec![
            (dir("usr"), vec![]),
            (dir("usr/bin"), vec![]),
            file("usr/bin/tool", b"from a"),
        ]
    };
    install_one(
        root.path(),
        package(pkginfo("a", "1-r0"), entries()),
        Trust::Keys(&keys),
    )
    .unwrap();
    let mut b_entries = entries();
    b_entries[2] = file("usr/bin/tool", b"from b");
    b_entries.push(file("usr/bin/other", b"b only"));
    let b_bytes = package(pkginfo("b", "1-r0"), b_entries.clone());
    assert_refused_unchanged(root.path(), b_bytes, Trust::Keys(&keys), "owned by a");

    // With replaces it goes through and the file changes owner.
    let mut info = pkginfo("b", "1-r0");
    info.replaces = vec!["a".into()];
    install_one(root.path(), package(info, b_entries), Trust::Keys(&keys)).unwrap();
    assert_eq!(
        std::fs::read(root.path().join("usr/bin/tool")).unwrap(),
        b"from b"
    );
    let db = install::read_database(root.path()).unwrap();
    let owned = |name: &str| db.get(name).unwrap().file_paths().collect::<Vec<_>>();
    assert!(owned("a").is_empty());
    assert_eq!(owned("b"), ["usr/bin/tool", "usr/bin/other"]);
}

#[test]
fn refusal_in_a_transaction_writes_nothing() {
    // Two packages: the second conflicts with the first; nothing of either is written.
    let root = fresh_root();
    let keys = test_keyring();
    let entries = |data: &[u8]| vec![(dir("etc"), vec![]), file("etc/shared", data)];
    let before = snapshot(root.path());
    let mut tx = Transaction::open(root.path()).unwrap();
    tx.add_bytes(
        "one.apk",
        &package(pkginfo("one", "1-r0"), entries(b"1")),
        Trust::Keys(&keys),
    )
    .unwrap();
    let err = tx
        .add_bytes(
            "two.apk",
            &package(pkginfo("two", "1-r0"), entries(b"2")),
            Trust::Keys(&keys),
        )
        .unwrap_err();
    assert!(matches!(err, InstallError::Conflict { .. }), "{err}");
    drop(tx);
    assert_eq!(snapshot(root.path()), before);
}

#[test]
fn upgrade_removes_files_no_longer_shipped() {
    let root = fresh_root();
    let keys = test_keyring();
    let v1 = package(
        pkginfo("up", "1-r0"),
        vec![
            (dir("etc"), vec![]),
            file("etc/old", b"1"),
            file("etc/keep", b"1"),
        ],
    );
    let v2 = package(
        pkginfo("up", "2-r0"),
        vec![(dir("etc"), vec![]), file("etc/keep", b"2")],
    );
    install_one(root.path(), v1, Trust::Keys(&keys)).unwrap();
    install_one(root.path(), v2, Trust::Keys(&keys)).unwrap();
    assert!(!root.path().join("etc/old").exists());
    assert_eq!(std::fs::read(root.path().join("etc/keep")).unwrap(), b"2");
    let db = install::read_database(root.path()).unwrap();
    assert_eq!(db.packages.len(), 1);
    assert_eq!(db.get("up").unwrap().info.version, "2-r0");
}

#[test]
fn integrity_errors_name_the_part() {
    let root = fresh_root();
    let keys = test_keyring();
    let mut bytes = sample_package(Some(&test_signer(SigAlg::Sha1)));
    let n = bytes.len();
    bytes[n - 20] ^= 0xff;
    let before = snapshot(root.path());
    let err = install_one(root.path(), bytes, Trust::Keys(&keys)).unwrap_err();
    match &err {
        InstallError::Package { error, .. } => {
            assert!(matches!(error, PackageError::Corrupt { .. }), "{err}");
            assert!(error.to_string().starts_with("data: "), "{err}");
        }
        _ => panic!("{err}"),
    }
    assert_eq!(snapshot(root.path()), before);
}

#[test]
fn a_failure_during_commit_undoes_everything() {
    // v1 installed; v2 replaces a file, drops another, adds a directory, a file and a
    // symlink, and wants a directory `z`. Before commit, something else puts a symlink at
    // `z`: the commit fails there and everything it did before is undone.
    let root = fresh_root();
    let keys = test_keyring();
    let v1 = package(
        pkginfo("up", "1-r0"),
        vec![
            (dir("etc"), vec![]),
            file("etc/keep", b"1"),
            file("etc/old", b"1"),
        ],
    );
    install_one(root.path(), v1, Trust::Keys(&keys)).unwrap();
    let v2 = package(
        pkginfo("up", "2-r0"),
        vec![
            (dir("etc"), vec![]),
            file("etc/keep", b"2"),
            (symlink("etc/link", "keep"), vec![]),
            (dir("newdir"), vec![]),
            file("newdir/a", b"a"),
            (dir("z"), vec![]),
            file("z/f", b"f"),
        ],
    );
    let mut tx = Transaction::open(root.path()).unwrap();
    tx.add_bytes("up-2-r0.apk", &v2, Trust::Keys(&keys))
        .unwrap();
    std::os::unix::fs::symlink("etc", root.path().join("z")).unwrap();
    let mut before = snapshot(root.path());
    // The files staged so far go when the transaction does.
    before.retain(|k, _| !k.starts_with(".alpinist-stage-"));
    let err = tx.commit().unwrap_err();
    assert!(err.to_string().contains("/z: "), "{err}");
    assert_eq!(snapshot(root.path()), before);
    assert_eq!(std::fs::read(root.path().join("etc/old")).unwrap(), b"1");
    assert_eq!(
        install::read_database(root.path())
            .unwrap()
            .get("up")
            .unwrap()
            .info
            .version,
        "1-r0"
    );
}

#[test]
fn modes_of_new_directories_are_applied_after_their_contents() {
    // A directory without write permission still gets its files (even unprivileged),
    // and ends with its own mode.
    let root = fresh_root();
    let keys = test_keyring();
    let mut ro = dir("ro");
    ro.mode = 0o555;
    let bytes = package(
        pkginfo("ro", "1-r0"),
        vec![(ro, vec![]), file("ro/f", b"x")],
    );
    install_one(root.path(), bytes, Trust::Keys(&keys)).unwrap();
    let md = std::fs::metadata(root.path().join("ro")).unwrap();
    assert_eq!(md.mode() & 0o7777, 0o555);
    assert_eq!(std::fs::read(root.path().join("ro/f")).unwrap(), b"x");
    std::fs::set_permissions(
        root.path().join("ro"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
}

#[test]
fn an_upgrade_keeps_the_symlink_its_paths_go_through() {
    // v1 ships `bin -> etc/apk`; v2 ships `bin/` and `bin/etc`, which land in etc/apk
    // through the symlink. The symlink is no longer shipped, but removing it would leave
    // `bin/etc` of the database nowhere (found by fuzz_install.rs).
    let root = fresh_root();
    let keys = test_keyring();
    let v1 = package(
        pkginfo("a", "1-r0"),
        vec![(symlink("bin", "etc/apk"), vec![])],
    );
    let v2 = package(
        pkginfo("a", "2-r0"),
        vec![(dir("bin"), vec![]), file("bin/etc", b"x")],
    );
    install_one(root.path(), v1, Trust::Keys(&keys)).unwrap();
    install_one(root.path(), v2, Trust::Keys(&keys)).unwrap();
    let r = root.path();
    assert!(std::fs::symlink_metadata(r.join("bin"))
        .unwrap()
        .is_symlink());
    assert_eq!(std::fs::read(r.join("etc/apk/etc")).unwrap(), b"x");
    let db = install::read_database(r).unwrap();
    assert_eq!(
        db.get("a").unwrap().file_paths().collect::<Vec<_>>(),
        ["bin/etc"]
    );
}

/// `apk add --initdb --keys-dir K alpine-keys` in one transaction: the key the package
/// ships is the package's (as its database record says), the other keys are copied.
#[test]
fn keys_a_package_ships_are_left_to_it() {
    let root = tempfile::tempdir().unwrap();
    let keys = test_keyring();
    let keys_dir = tempfile::tempdir().unwrap();
    std::fs::write(keys_dir.path().join("shipped.rsa.pub"), b"from --keys-dir").unwrap();
    std::fs::write(keys_dir.path().join("other.rsa.pub"), b"other key").unwrap();
    let entries = vec![
        (dir("etc"), vec![]),
        (dir("etc/apk"), vec![]),
        (dir("etc/apk/keys"), vec![]),
        file("etc/apk/keys/shipped.rsa.pub", b"from the package"),
    ];
    let bytes = package(pkginfo("keys", "1-r0"), entries);

    let mut tx = Transaction::new(root.path(), Default::default()).unwrap();
    tx.init_root("x86_64");
    assert_eq!(tx.install_keys(keys_dir.path()).unwrap(), 2);
    tx.add_bytes("keys.apk", &bytes, Trust::Keys(&keys))
        .unwrap();
    tx.commit().unwrap();
    let key = |name: &str| std::fs::read(root.path().join("etc/apk/keys").join(name)).unwrap();
    assert_eq!(key("shipped.rsa.pub"), b"from the package");
    assert_eq!(key("other.rsa.pub"), b"other key");
    let db = install::read_database(root.path()).unwrap();
    let owned: Vec<_> = db.get("keys").unwrap().file_paths().collect();
    assert_eq!(owned, ["etc/apk/keys/shipped.rsa.pub"]);

    // Later, with the package installed, --keys-dir does not overwrite its file either.
    let db = install::read_database(root.path()).unwrap();
    let mut tx = Transaction::new(root.path(), db).unwrap();
    tx.install_keys(keys_dir.path()).unwrap();
    tx.commit().unwrap();
    assert_eq!(key("shipped.rsa.pub"), b"from the package");
}
