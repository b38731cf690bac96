//! The `apk` binary against a root made here: `add` with the root's own repositories,
//! keys and arch, `info`, `verify` (good and corrupted), `--version`.

use std::path::{Path, PathBuf};
use std::process::Command;

use alpinist_apk::index::ApkIndex;
use alpinist_apk::package::{PackageBuilder, Signer};
use alpinist_apk::pkginfo::PkgInfo;
use alpinist_apk::sign::{self, PrivateKey, SigAlg};
use alpinist_apk::tarball::{EntryType, Header};
use alpinist_apk_cli::{add, AddOptions};

fn pkg(name: &str, ver: &str, depends: &[&str], signer: &Signer) -> Vec<u8> {
    let info = PkgInfo {
        pkgname: name.into(),
        pkgver: ver.into(),
        arch: "aarch64".into(),
        origin: name.into(),
        builddate: 1_700_000_000,
        depends: depends.iter().map(|s| s.to_string()).collect(),
        ..PkgInfo::default()
    };
    let mut b = PackageBuilder::new(info, 1_700_000_000);
    let mut d = Header::new("etc", EntryType::Directory);
    d.mode = 0o755;
    b.push_entry(d, Vec::new());
    let mut f = Header::new(format!("etc/{name}.conf"), EntryType::Regular);
    f.mode = 0o644;
    f.size = name.len() as u64;
    b.push_entry(f, name.as_bytes().to_vec());
    b.build(Some(signer)).unwrap()
}

/// A signed repository (a needs b) and a root with b installed, set up as
/// `rootfs` leaves one: keys, arch and repositories in its /etc/apk.
fn setup(dir: &Path) -> (PathBuf, PathBuf) {
    let k = sign::keygen("cli", 1024, 0x5f5e100).unwrap();
    let keys = dir.join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::write(keys.join(&k.public_file), &k.public_pem).unwrap();
    let signer = Signer {
        key: PrivateKey::from_pem(&k.private_pem).unwrap(),
        key_name: k.public_file.clone(),
        alg: SigAlg::Sha1,
    };
    let repo = dir.join("repo");
    let arch_dir = repo.join("aarch64");
    std::fs::create_dir_all(&arch_dir).unwrap();
    let a = arch_dir.join("a-1-r0.apk");
    let b = arch_dir.join("b-2-r0.apk");
    std::fs::write(&a, pkg("a", "1-r0", &["b"], &signer)).unwrap();
    std::fs::write(&b, pkg("b", "2-r0", &[], &signer)).unwrap();
    let idx =
        ApkIndex::from_package_files(Some("t".into()), &[a.as_path(), b.as_path()], None).unwrap();
    std::fs::write(
        arch_dir.join("APKINDEX.tar.gz"),
        idx.to_bytes(1, Some(&signer)).unwrap(),
    )
    .unwrap();
    let root = dir.join("root");
    add(&AddOptions {
        root: &root,
        arch: "aarch64",
        initdb: true,
        repositories: std::slice::from_ref(&repo),
        keys_dir: Some(&keys),
        simulate: false,
        deps: &["b".to_string()],
    })
    .unwrap();
    (root, a)
}

fn apk(root: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_apk"))
        .arg("--root")
        .arg(root)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn add_info_verify_version() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, a) = setup(tmp.path());

    let (ok, out) = apk(&root, &["--version"]);
    assert!(ok && out.starts_with("alpinist-apk "), "{out}");

    let (ok, out) = apk(&root, &["info"]);
    assert!(ok && out == "b\n", "{out}");

    let (ok, out) = apk(&root, &["add", "a"]);
    assert!(ok, "{out}");
    assert!(out.contains("Installing a (1-r0)"), "{out}");
    assert_eq!(std::fs::read(root.join("etc/a.conf")).unwrap(), b"a");
    let (ok, out) = apk(&root, &["info", "-v"]);
    assert!(ok && out == "a-1-r0\nb-2-r0\n", "{out}");

    let a_str = a.to_str().unwrap();
    let (ok, out) = apk(&root, &["verify", a_str]);
    assert!(ok && out.contains(": OK ("), "{out}");
    let mut bytes = std::fs::read(&a).unwrap();
    let n = bytes.len();
    bytes[n - 30] ^= 0xff;
    let bad = tmp.path().join("bad.apk");
    std::fs::write(&bad, bytes).unwrap();
    let (ok, out) = apk(&root, &["verify", bad.to_str().unwrap()]);
    assert!(!ok, "a corrupted package verified: {out}");

    let (ok, out) = apk(&root, &["add", "nope"]);
    assert!(!ok && out.contains("nope"), "{out}");
}

#[test]
fn remote_repositories_are_refused_with_the_line() {
    let tmp = tempfile::tempdir().unwrap();
    let (root, _) = setup(tmp.path());
    std::fs::write(
        root.join("etc/apk/repositories"),
        "# comment\nhttps://dl-cdn.alpinelinux.org/alpine/edge/main\n",
    )
    .unwrap();
    let (ok, out) = apk(&root, &["add", "a"]);
    assert!(!ok && out.contains("repositories:2"), "{out}");
}
