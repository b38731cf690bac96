//! The `apk` binary with v3 packages: `index --format v3`, `verify`, and `add` from a v3
//! repository, named by its directory, by its index, or read back from the root's
//! `etc/apk/repositories`.

mod common;

use std::path::{Path, PathBuf};

use alpinist_apk::adb::build::PackageV3Builder;
use alpinist_apk::adb::container::Compression;
use alpinist_apk::adb::index::IndexV3;
use alpinist_apk::adb::schema::{AclV3, PkgInfoV3};
use alpinist_apk::dep::Dependency;
use alpinist_apk::package::Signer;
use common::*;

fn v3(name: &str, depends: &str, signer: &Signer) -> Vec<u8> {
    let mut b = PackageV3Builder::new(PkgInfoV3 {
        name: name.into(),
        version: "1.0-r0".into(),
        arch: ARCH.into(),
        description: format!("{name} test package"),
        depends: depends
            .split_whitespace()
            .map(|d| Dependency::parse_metadata(d).unwrap())
            .collect(),
        ..PkgInfoV3::default()
    });
    let path = format!("usr/share/{name}/{name}.txt");
    b.push_file(
        &path,
        AclV3::root(0o644),
        EPOCH,
        format!("{name}\n").into_bytes(),
    );
    b.build(Some(&signer.key), Compression::Deflate).unwrap()
}

/// `a` (needs `b`) and `b`, signed, in `<dir>/repo/x86_64` with a `Packages.adb` the
/// binary wrote (not signed); returns the repository, the keys and the index.
fn setup(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let (signer, keys) = keys(dir, "v3", 0x6400_0000);
    let repo = dir.join("repo");
    let arch = repo.join(ARCH);
    std::fs::create_dir_all(&arch).unwrap();
    let mut args = vec!["index".to_string(), "--format".into(), "v3".into()];
    for (name, deps) in [("a", "b"), ("b", "")] {
        let f = arch.join(format!("{name}-1.0-r0.apk"));
        std::fs::write(&f, v3(name, deps, &signer)).unwrap();
        args.push(f.display().to_string());
    }
    let index = arch.join("Packages.adb");
    args.extend([
        "-o".into(),
        index.display().to_string(),
        "-d".into(),
        "v3 repo".into(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, out, err) = apk(&args);
    assert!(ok, "{out}{err}");
    (repo, keys, index)
}

#[test]
fn index_format_v3_writes_a_packages_adb() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, _, index) = setup(tmp.path());
    let i = IndexV3::parse(&std::fs::read(&index).unwrap(), None).unwrap();
    assert_eq!(i.meta.description, "v3 repo");
    let names: Vec<&str> = i.meta.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    assert!(i.signatures.is_empty());
    // v2 options are refused for a v3 index, and the other way round.
    let out = tmp.path().join("x.adb");
    let (ok, _, err) = apk(&[
        "index",
        "--format",
        "v3",
        "--rewrite-arch",
        "aarch64",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(
        !ok && err.contains("--pkgname-spec 'aarch64/${name}-${version}.apk'"),
        "{err}"
    );
    let (ok, _, err) = apk(&["index", "--pkgname-spec", "x", "-o", out.to_str().unwrap()]);
    assert!(!ok && err.contains("--format v3"), "{err}");
}

#[test]
fn verify_checks_v3_packages() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, keys, _) = setup(tmp.path());
    let a = repo.join(ARCH).join("a-1.0-r0.apk");
    let keys = keys.to_str().unwrap();
    let (ok, out, err) = apk(&["--keys-dir", keys, "verify", a.to_str().unwrap()]);
    assert!(ok, "{out}{err}");
    assert!(
        out.ends_with("a-1.0-r0.apk: OK (v3, v3-64000000.rsa.pub)\n"),
        "{out}"
    );
    // Unsigned: no trusted key; damaged: its signature no longer matches.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let (ok, out, _) = apk(&[
        "--keys-dir",
        empty.to_str().unwrap(),
        "verify",
        a.to_str().unwrap(),
    ]);
    assert!(
        !ok && out.contains("signature: no trusted key for key id"),
        "{out}"
    );
    let mut bytes = std::fs::read(&a).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x40;
    let bad = tmp.path().join("bad.apk");
    std::fs::write(&bad, bytes).unwrap();
    let (ok, out, _) = apk(&["--keys-dir", keys, "verify", bad.to_str().unwrap()]);
    assert!(!ok && out.lines().count() == 1, "{out}");
}

#[test]
fn add_installs_from_a_v3_repository_and_reads_it_back_from_the_root() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, keys, index) = setup(tmp.path());
    let root = tmp.path().join("root");
    let (r, k) = (root.to_str().unwrap(), keys.to_str().unwrap());
    let base = ["--root", r, "--initdb", "--arch", ARCH, "--keys-dir", k];
    // The binary's index is not signed: refused, then used with --allow-untrusted.
    let mut args = base.to_vec();
    args.extend(["-X", repo.to_str().unwrap(), "add", "b"]);
    let (ok, _, err) = apk(&args);
    assert!(!ok && err.contains("signature: not signed"), "{err}");
    assert!(!root.exists());
    args.insert(0, "--allow-untrusted");
    let (ok, out, err) = apk(&args);
    assert!(ok, "{out}{err}");
    assert_eq!(out, "(1/1) Installing b (1.0-r0)\nOK: 2 B in 1 packages\n");
    assert_eq!(
        std::fs::read_to_string(root.join("etc/apk/repositories")).unwrap(),
        format!("{}\n", index.display())
    );
    // The next add reads the repository from the root: the index's path.
    let (ok, out, err) = apk(&["--root", r, "--allow-untrusted", "add", "a"]);
    assert!(ok, "{out}{err}");
    assert_eq!(out, "(1/1) Installing a (1.0-r0)\nOK: 4 B in 2 packages\n");
    assert_eq!(
        std::fs::read(root.join("usr/share/a/a.txt")).unwrap(),
        b"a\n"
    );
    let (ok, out, _) = apk(&["--root", r, "info", "-v"]);
    assert!(ok && out == "a-1.0-r0\nb-1.0-r0\n", "{out}");
    let db = std::fs::read_to_string(root.join("lib/apk/db/installed")).unwrap();
    assert_eq!(db.matches("f:S\n").count(), 2, "{db}");
}

#[test]
fn repository_lines_with_types() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, keys, index) = setup(tmp.path());
    let root = tmp.path().join("root");
    let (r, k) = (root.to_str().unwrap(), keys.to_str().unwrap());
    let (ok, out, err) = apk(&[
        "--root",
        r,
        "--initdb",
        "--arch",
        ARCH,
        "--keys-dir",
        k,
        "--allow-untrusted",
        "-X",
        index.to_str().unwrap(),
        "add",
        "b",
    ]);
    assert!(ok, "{out}{err}");
    let lines = root.join("etc/apk/repositories");
    // `ndx PATH` and `@tag PATH` name the index as the bare path does.
    for line in [
        format!("ndx {}", index.display()),
        format!("@v3 {}", index.display()),
    ] {
        std::fs::write(&lines, format!("# comment\n{line}\n")).unwrap();
        let (ok, out, err) = apk(&["--root", r, "--allow-untrusted", "add", "--simulate", "a"]);
        assert!(
            ok && out.contains("Installing a (1.0-r0)"),
            "{line}: {out}{err}"
        );
    }
    // `v3 DIR` (packages at DIR/<their arch>/…) is not read; the line is named.
    std::fs::write(&lines, format!("v3 {}\n", repo.display())).unwrap();
    let (ok, _, err) = apk(&["--root", r, "--allow-untrusted", "add", "a"]);
    assert!(
        !ok && err.contains("repositories:1: 'v3' repository lines"),
        "{err}"
    );
}

#[test]
fn info_prints_a_v3_package() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, _, _) = setup(tmp.path());
    let a = repo.join(ARCH).join("a-1.0-r0.apk");
    let (ok, out, err) = apk(&["info", a.to_str().unwrap()]);
    assert!(ok, "{out}{err}");
    for line in [
        "name: a\n",
        "version: 1.0-r0\n",
        "description: a test package\n",
        "depends: b\n",
        "installed-size: 2\n",
        "signature: key id ",
        "files:\n",
        "d 0755 root/root         0 usr/share/a/\n",
        "- 0644 root/root         2 usr/share/a/a.txt\n",
    ] {
        assert!(out.contains(line), "{line:?} in {out}");
    }
}
