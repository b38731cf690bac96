//! Installing v3 packages from a v3 index (`Packages.adb`) into an empty root, checked
//! against what apk-tools 3.0.6 made of the same repository (`tests/data/v3/install`,
//! recorded by hand: docs/apk-format.md), and the repository forms `apk add` reads.

mod common;

use std::path::{Path, PathBuf};

use alpinist_apk::adb::build::PackageV3Builder;
use alpinist_apk::adb::container::Compression;
use alpinist_apk::adb::index::IndexV3Builder;
use alpinist_apk::add::{add, AddError, AddOptions};
use alpinist_apk::install::{self, Transaction, Trust};
use common::v3::{v3_key, v3_keys, V3_SDE};
use common::v3repo::*;

fn expected(name: &str) -> String {
    let p = common::v3::data().join("v3/install").join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn add_to(
    root: &Path,
    repo: &Path,
    keys: &Path,
    initdb: bool,
    deps: &[&str],
) -> Result<String, AddError> {
    let deps: Vec<String> = deps.iter().map(|d| d.to_string()).collect();
    add(&AddOptions {
        root,
        arch: ARCH,
        initdb,
        repositories: &[repo.to_path_buf()],
        keys_dir: Some(keys),
        simulate: false,
        allow_untrusted: false,
        deps: &deps,
    })
}

/// The oracle's two steps: `v3base` into an empty root with `--initdb`, then `v3hello`
/// and `v2tool`.
fn install_oracle_set(root: &Path, repo: &Path, keys: &Path) -> (String, String) {
    let one = add_to(root, repo, keys, true, &["v3base"]).unwrap();
    let two = add_to(root, repo, keys, false, &["v3hello", "v2tool"]).unwrap();
    (one, two)
}

fn read(root: &Path, rel: &str) -> String {
    std::fs::read_to_string(root.join(rel)).unwrap()
}

/// With `V3_INSTALL_KEEP=DIR`, the repository and keys are also written to DIR, for
/// `tests/data/v3/install/oracle.sh`; once that has installed them with apk-tools into
/// `DIR/root-apk`, a second run lists that root into `DIR/tree`.
fn keep_for_the_oracle() {
    let Some(keep) = std::env::var_os("V3_INSTALL_KEEP") else {
        return;
    };
    let keep = Path::new(&keep);
    oracle_repo(&keep.join("repo"));
    keys_dir(keep);
    if keep.join("root-apk").is_dir() {
        std::fs::write(keep.join("tree"), listing(&keep.join("root-apk"), true)).unwrap();
    }
}

#[test]
fn installs_a_v3_repository_as_apk_tools_does() {
    keep_for_the_oracle();
    let t = tempfile::tempdir().unwrap();
    let index = oracle_repo(&t.path().join("repo"));
    let keys = keys_dir(t.path());
    let root = t.path().join("root");
    let (one, two) = install_oracle_set(&root, &index, &keys);
    assert_eq!(one + &two, expected("output"));
    // What apk-tools wrote, byte for byte: the database (every owner, mode and digest,
    // `f:S`, the v2 package's SHA-1 `C:` and `Z:`), triggers and world.
    assert_eq!(read(&root, "lib/apk/db/installed"), expected("installed"));
    assert_eq!(read(&root, "lib/apk/db/triggers"), expected("triggers"));
    assert_eq!(read(&root, "etc/apk/world"), expected("world"));
    // The same tree: types, modes, link counts (a hard link), sizes, mtimes, contents,
    // symlink targets, and, when the test may chown, owners (a name from the root's
    // etc/passwd, and 65534 for a name it lacks).
    let as_root = install::running_as_root();
    let tree = expected("tree");
    let want = if as_root {
        tree
    } else {
        tree.lines()
            .map(|l| {
                let mut w: Vec<&str> = l.split(' ').collect();
                w.remove(3);
                format!("{}\n", w.join(" "))
            })
            .collect()
    };
    assert_eq!(listing(&root, as_root), want);
    // The repository is recorded as its index, the line apk-tools 3 reads it from.
    assert_eq!(
        read(&root, "etc/apk/repositories"),
        format!("{}\n", index.display())
    );
    assert_eq!(
        std::fs::read(root.join("etc/apk/keys").join(common::v3::KEY_NAME)).unwrap(),
        std::fs::read(keys.join(common::v3::KEY_NAME)).unwrap()
    );
}

#[test]
fn a_repository_directory_with_a_packages_adb_is_a_v3_repository() {
    let t = tempfile::tempdir().unwrap();
    let repo = t.path().join("repo");
    let index = oracle_repo(&repo);
    let keys = keys_dir(t.path());
    // By the directory above the arch, and by the arch directory itself.
    for (n, given) in [repo.clone(), repo.join(ARCH)].iter().enumerate() {
        let root = t.path().join(format!("root{n}"));
        install_oracle_set(&root, given, &keys);
        assert_eq!(read(&root, "lib/apk/db/installed"), expected("installed"));
        assert_eq!(
            read(&root, "etc/apk/repositories"),
            format!("{}\n", index.display())
        );
    }
    // An index named `*.tar.gz` is read by its first bytes, as apk-tools reads one.
    let renamed = repo.join(ARCH).join("index.tar.gz");
    std::fs::copy(&index, &renamed).unwrap();
    let root = t.path().join("root-tgz");
    install_oracle_set(&root, &renamed, &keys);
    assert_eq!(read(&root, "lib/apk/db/installed"), expected("installed"));
    // Beside an APKINDEX.tar.gz, the directory is read as apk-tools reads a repository
    // line without a type: the v2 index (here a damaged one, so the choice shows).
    std::fs::write(repo.join(ARCH).join("APKINDEX.tar.gz"), b"not an index").unwrap();
    let e = add_to(&t.path().join("root-v2"), &repo, &keys, true, &["v3base"]).unwrap_err();
    assert!(e.to_string().starts_with("index: gzip: "), "{e}");
    assert!(!t.path().join("root-v2").exists());
}

/// An index of `packages` (signed when `signed`) in `<dir>/x86_64/`.
fn repo_of(dir: &Path, packages: &[PackageV3Builder], signed: bool) -> PathBuf {
    let arch = dir.join(ARCH);
    std::fs::create_dir_all(&arch).unwrap();
    let key = v3_key();
    let mut idx = IndexV3Builder::new("test");
    for b in packages {
        let bytes = b.build(Some(&key), Compression::None).unwrap();
        let f = arch.join(format!("{}-{}.apk", b.info.name, b.info.version));
        std::fs::write(&f, &bytes).unwrap();
        idx.add_package_files(&[&f], None).unwrap();
    }
    let bytes = idx
        .build(signed.then_some(&key), Compression::None)
        .unwrap();
    std::fs::write(arch.join("Packages.adb"), bytes).unwrap();
    arch.join("Packages.adb")
}

#[test]
fn an_untrusted_index_is_refused_unless_allowed() {
    let t = tempfile::tempdir().unwrap();
    let index = repo_of(&t.path().join("repo"), &[v3lib()], false);
    let keys = keys_dir(t.path());
    let root = t.path().join("root");
    let e = add_to(&root, &index, &keys, true, &["v3lib"]).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("Packages.adb: signature: not signed")
            && msg.contains("--allow-untrusted")
            && !msg.contains('\n'),
        "{msg}"
    );
    assert!(!root.exists());
    let deps = vec!["v3lib".to_string()];
    add(&AddOptions {
        root: &root,
        arch: ARCH,
        initdb: true,
        repositories: &[index],
        keys_dir: Some(&keys),
        simulate: false,
        allow_untrusted: true,
        deps: &deps,
    })
    .unwrap();
    assert!(read(&root, "lib/apk/db/installed").contains("P:v3lib\n"));
}

#[test]
fn an_upgrade_from_a_v3_index_removes_what_the_new_version_lacks() {
    let t = tempfile::tempdir().unwrap();
    let keys = keys_dir(t.path());
    let root = t.path().join("root");
    let old = repo_of(&t.path().join("old"), &[v3base(), v3lib(), v3hello()], true);
    add_to(&root, &old, &keys, true, &["v3hello"]).unwrap();
    let mut new = v3hello();
    new.info.version = "1.1-r0".into();
    let mut fresh = PackageV3Builder::new(new.info.clone());
    fresh.push_file("usr/bin/hello", root_acl(), V3_SDE, b"new\n".to_vec());
    let index = repo_of(&t.path().join("new"), &[v3base(), v3lib(), fresh], true);
    let out = add_to(&root, &index, &keys, false, &["v3hello=1.1-r0"]).unwrap();
    assert!(
        out.contains("Upgrading v3hello (1.0-r0 -> 1.1-r0)"),
        "{out}"
    );
    assert_eq!(std::fs::read(root.join("usr/bin/hello")).unwrap(), b"new\n");
    for gone in ["usr/bin/hi", "usr/bin/hello-again", "etc/hello/hello.conf"] {
        assert!(
            std::fs::symlink_metadata(root.join(gone)).is_err(),
            "{gone}"
        );
    }
    let db = read(&root, "lib/apk/db/installed");
    assert!(db.contains("V:1.1-r0\n") && !db.contains("R:hi\n"), "{db}");
}

fn root_acl() -> alpinist_apk::adb::schema::AclV3 {
    alpinist_apk::adb::schema::AclV3::root(0o755)
}

/// A v3 package file trusted by its own signature (as `apk add ./file.apk`), and refused
/// when signed by no trusted key or when its index record names other bytes.
#[test]
fn a_v3_package_is_trusted_by_its_signature_or_its_record() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("root");
    std::fs::create_dir(&root).unwrap();
    install::init_root(&root, ARCH).unwrap();
    let signed = v3lib()
        .build(Some(&v3_key()), Compression::Deflate)
        .unwrap();
    let unsigned = v3lib().build(None, Compression::Deflate).unwrap();
    let keys = v3_keys();
    let mut tx = Transaction::open(&root).unwrap();
    let e = tx
        .add_bytes("v3lib.apk", &unsigned, Trust::Keys(&keys))
        .unwrap_err();
    assert_eq!(e.to_string(), "v3lib.apk: signature: not signed");
    let p = tx
        .add_bytes("v3lib.apk", &signed, Trust::Keys(&keys))
        .unwrap();
    assert_eq!(p.info.size, signed.len() as u64);
    assert!(p.sha256_160);
    // A record whose hash is another package's: refused before anything is decoded.
    let mut other = v3lib();
    other.info.description = "other".into();
    let other = other.build(None, Compression::None).unwrap();
    let mut idx = IndexV3Builder::new("x");
    let head = alpinist_apk::adb::package::UnverifiedPackageV3::new(other.as_slice()).unwrap();
    idx.add_package(head.adb().to_vec(), other.len() as u64)
        .unwrap();
    let i = alpinist_apk::adb::index::IndexV3::parse(
        &idx.build(None, Compression::None).unwrap(),
        None,
    )
    .unwrap();
    let record = alpinist_apk::adb::repo::package_info(&i.meta.packages[0]);
    let e = tx
        .add_bytes("v3lib.apk", &unsigned, Trust::Index(&record))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("v3lib.apk: identity: the ADB block's SHA-256"),
        "{e}"
    );
    tx.add_bytes("other.apk", &other, Trust::Index(&record))
        .unwrap();
    tx.commit().unwrap();
    assert_eq!(
        std::fs::read(root.join("usr/lib/libv3.so.1")).unwrap(),
        b"\x7fELF not really\n"
    );
}

/// A top-level name starting with a dot is a file like any other in a v3 package
/// (apk-tools skips those only in v2 packages, where they are the control files); the
/// installer's staging name is still refused.
#[test]
fn top_level_dot_names_of_a_v3_package() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("root");
    std::fs::create_dir(&root).unwrap();
    install::init_root(&root, ARCH).unwrap();
    let keys = v3_keys();
    let mut dot = PackageV3Builder::new(info("dot", "1.0-r0", ARCH));
    dot.push_file(".hidden", root_acl(), V3_SDE, b"h\n".to_vec());
    let dot = dot.build(Some(&v3_key()), Compression::None).unwrap();
    let mut tx = Transaction::open(&root).unwrap();
    tx.add_bytes("dot.apk", &dot, Trust::Keys(&keys)).unwrap();
    tx.commit().unwrap();
    assert_eq!(std::fs::read(root.join(".hidden")).unwrap(), b"h\n");
    let mut stage = PackageV3Builder::new(info("stage", "1.0-r0", ARCH));
    stage.push_dir(".alpinist-stage-0", root_acl());
    let stage = stage.build(Some(&v3_key()), Compression::None).unwrap();
    let before = listing(&root, true);
    let mut tx = Transaction::open(&root).unwrap();
    let e = tx
        .add_bytes("stage.apk", &stage, Trust::Keys(&keys))
        .unwrap_err()
        .to_string();
    assert!(e.contains("staging directory"), "{e}");
    drop(tx);
    assert_eq!(listing(&root, true), before);
}

/// A package installed from its v2 file, upgraded to a v3 version (as a root will be when
/// Alpine switches): the v2 record's files the v3 version lacks are removed, the record
/// becomes a v3 one.
#[test]
fn a_v2_package_upgrades_to_its_v3_version() {
    let t = tempfile::tempdir().unwrap();
    let keys = keys_dir(t.path());
    let root = t.path().join("root");
    let old = oracle_repo(&t.path().join("old"));
    add_to(&root, &old, &keys, true, &["v2tool"]).unwrap();
    assert!(root.join("usr/bin/v2tool").is_file());
    let mut i = info("v2tool", "3.1-r0", ARCH);
    i.depends = common::v3::deps("v3base");
    let mut new = PackageV3Builder::new(i);
    new.push_file("usr/bin/v3tool", root_acl(), V3_SDE, b"v3\n".to_vec());
    let index = repo_of(&t.path().join("new"), &[v3base(), new], true);
    let out = add_to(&root, &index, &keys, false, &["v2tool=3.1-r0"]).unwrap();
    assert!(out.contains("Upgrading v2tool (3.0-r0 -> 3.1-r0)"), "{out}");
    assert!(std::fs::symlink_metadata(root.join("usr/bin/v2tool")).is_err());
    assert_eq!(std::fs::read(root.join("usr/bin/v3tool")).unwrap(), b"v3\n");
    let db = read(&root, "lib/apk/db/installed");
    let rec = db.split("\n\n").find(|r| r.contains("P:v2tool\n")).unwrap();
    assert!(
        rec.contains("V:3.1-r0\nA:x86_64\n") && rec.contains("\nf:S\n"),
        "{rec}"
    );
    assert!(
        rec.contains("R:v3tool\n") && !rec.contains("R:v2tool\n"),
        "{rec}"
    );
}
