//! The shared operations (`add`, `verify_files`, `info_text`) and the `apk` binary against
//! a root made here: `add` with the root's own repositories, keys and arch, `info`,
//! `verify` (good and corrupted), `--version`.

use std::path::{Path, PathBuf};
use std::process::Command;

use alpinist_apk::add::{add, AddOptions};
use alpinist_apk::index::ApkIndex;
use alpinist_apk::install;
use alpinist_apk::package::Package;
use alpinist_apk::package::{PackageBuilder, Signer};
use alpinist_apk::pkginfo::PkgInfo;
use alpinist_apk::sign::Keyring;
use alpinist_apk::sign::{self, PrivateKey, SigAlg};
use alpinist_apk::tarball::{EntryType, Header};
use alpinist_apk_cli::{info_text, load_keys, verify_files};

fn pkg(name: &str, ver: &str, depends: &[&str], arch: &str, signer: &Signer) -> Vec<u8> {
    let info = PkgInfo {
        pkgname: name.into(),
        pkgver: ver.into(),
        arch: arch.into(),
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

/// A signed repository for `arch` with a (depends on b>=2) and b, and a key directory
/// holding only the public key.
fn repo(dir: &Path, arch: &str) -> (PathBuf, PathBuf) {
    let k = sign::keygen("test", 1024, 0x5f5e100).unwrap();
    let keys = dir.join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::write(keys.join(&k.public_file), &k.public_pem).unwrap();
    let signer = Signer {
        key: PrivateKey::from_pem(&k.private_pem).unwrap(),
        key_name: k.public_file.clone(),
        alg: SigAlg::Sha1,
    };
    let repo = dir.join("repo");
    let arch_dir = repo.join(arch);
    std::fs::create_dir_all(&arch_dir).unwrap();
    let a = arch_dir.join("a-1-r0.apk");
    let b = arch_dir.join("b-2-r0.apk");
    std::fs::write(&a, pkg("a", "1-r0", &["b>=2"], arch, &signer)).unwrap();
    std::fs::write(&b, pkg("b", "2-r0", &[], arch, &signer)).unwrap();
    let idx = ApkIndex::from_package_files(Some("test".into()), &[a.as_path(), b.as_path()], None)
        .unwrap();
    std::fs::write(
        arch_dir.join("APKINDEX.tar.gz"),
        idx.to_bytes(1, Some(&signer)).unwrap(),
    )
    .unwrap();
    (repo, keys)
}

/// The aarch64 repository and a root with b installed, set up as `rootfs` leaves one:
/// keys, arch and repositories in its /etc/apk.
fn setup(dir: &Path) -> (PathBuf, PathBuf) {
    let (repo, keys) = repo(dir, "aarch64");
    let root = dir.join("root");
    add(&AddOptions {
        root: &root,
        arch: "aarch64",
        initdb: true,
        repositories: std::slice::from_ref(&repo),
        keys_dir: Some(&keys),
        simulate: false,
        allow_untrusted: false,
        deps: &["b".to_string()],
    })
    .unwrap();
    (root, repo.join("aarch64/a-1-r0.apk"))
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

#[test]
fn add_simulate_then_install() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, keys) = repo(tmp.path(), "x86_64");
    let root = tmp.path().join("root");
    let repos = [repo.clone()];
    let deps = ["a".to_string()];
    let mut o = AddOptions {
        root: &root,
        arch: "x86_64",
        initdb: true,
        repositories: &repos,
        keys_dir: Some(&keys),
        simulate: true,
        allow_untrusted: false,
        deps: &deps,
    };
    let out = add(&o).unwrap();
    assert!(
        out.starts_with("(1/2) Installing b (2-r0)\n(2/2) Installing a (1-r0)\nOK: "),
        "{out}"
    );
    assert!(!root.exists(), "simulate wrote something");

    o.simulate = false;
    let out = add(&o).unwrap();
    assert!(out.starts_with("(1/2) Installing b (2-r0)\n"), "{out}");
    assert!(
        out.contains("\nOK: ") && out.ends_with(" 2 packages\n"),
        "{out}"
    );
    assert_eq!(std::fs::read(root.join("etc/a.conf")).unwrap(), b"a");
    assert_eq!(std::fs::read(root.join("etc/b.conf")).unwrap(), b"b");
    assert_eq!(
        std::fs::read_to_string(root.join("etc/apk/world")).unwrap(),
        "a\n"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("etc/apk/arch")).unwrap(),
        "x86_64\n"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("etc/apk/repositories")).unwrap(),
        format!("{}\n", repo.display())
    );
    assert!(root.join("etc/apk/keys/test-5f5e100.rsa.pub").is_file());
    let db = install::read_database(&root).unwrap();
    assert_eq!(db.packages.len(), 2);
    // Installing again is a no-op.
    o.initdb = false;
    let out = add(&o).unwrap();
    assert!(
        out.starts_with("OK: ") && out.ends_with(" 2 packages\n"),
        "{out}"
    );
    // A missing package is apk's error.
    let missing = ["nosuch".to_string()];
    o.deps = &missing;
    let err = add(&o).unwrap_err().to_string();
    assert!(err.contains("unable to select packages"), "{err}");
}

#[test]
fn verify_and_info() {
    let tmp = tempfile::tempdir().unwrap();
    let (repo, keys) = repo(tmp.path(), "x86_64");
    let a = repo.join("x86_64/a-1-r0.apk");
    let keyring = load_keys(&keys).unwrap();
    let (report, bad) = verify_files(std::slice::from_ref(&a), &keyring);
    assert_eq!(bad, 0, "{report}");
    assert!(
        report.contains(": OK (RSA, test-5f5e100.rsa.pub)"),
        "{report}"
    );
    let (report, bad) = verify_files(std::slice::from_ref(&a), &Keyring::new());
    assert_eq!(bad, 1);
    assert!(report.contains("signature: no trusted key"), "{report}");
    let info = info_text(&Package::read(&a).unwrap());
    assert!(info.contains("pkgname = a\n"), "{info}");
    assert!(info.contains("depend = b>=2\n"), "{info}");
    assert!(info.contains("- 0644 / "), "{info}");
    assert!(info.contains("d 0755 / "), "{info}");
}

/// `verify` refuses what apk-tools 3 cannot read (a `.PKGINFO` line over its 128 KiB
/// buffer), and accepts what `apk verify` accepts even when `apk add` would refuse it (a
/// 4 KiB description: too long for apk's database record, which `add` checks).
#[test]
fn verify_applies_apk_tools_line_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let k = sign::keygen("lim", 1024, 0x5f5e200).unwrap();
    let keys = tmp.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::write(keys.join(&k.public_file), &k.public_pem).unwrap();
    let signer = Signer {
        key: PrivateKey::from_pem(&k.private_pem).unwrap(),
        key_name: k.public_file.clone(),
        alg: SigAlg::Sha1,
    };
    let with_desc = |len: usize| {
        let info = PkgInfo {
            pkgname: "lim".into(),
            pkgver: "1-r0".into(),
            pkgdesc: "d".repeat(len),
            ..PkgInfo::default()
        };
        let file = tmp.path().join(format!("lim-{len}.apk"));
        std::fs::write(
            &file,
            PackageBuilder::new(info, 1).build(Some(&signer)).unwrap(),
        )
        .unwrap();
        file
    };
    let keyring = load_keys(&keys).unwrap();
    // apk 3.0.6 reads a line of up to 131,064-131,071 bytes, depending on where it falls in
    // its buffer (realigned to 8 bytes; it verified a 131,065-byte pkgdesc line and refused
    // 131,066 in the layout tried by hand); alpinist allows the least, 131,064.
    for (len, ok) in [
        (4096, true),
        (131_054, true),
        (131_055, false),
        (1 << 20, false),
    ] {
        let (report, bad) = verify_files(&[with_desc(len)], &keyring);
        assert_eq!(bad == 0, ok, "{len}: {report}");
        if !ok {
            assert!(report.contains("more than apk reads (131064)"), "{report}");
        }
    }
}
