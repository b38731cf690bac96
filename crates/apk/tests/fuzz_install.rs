//! Generated packages (10,000 per run: 5,000 cases of two packages each, each package v2
//! or v3 at random, so about 5,000 of each and cases that mix them) parsed and installed
//! into a temporary root, beside a canary directory outside it. Paths, types, link targets
//! (into the canary, up and out, absolute), owners, modes, names and fields are drawn from
//! hostile pools; some packages are then damaged (a flipped byte, a cut, junk after the
//! end). For every package:
//!
//! - nothing panics;
//! - nothing outside the root changes (the canary is compared after every case);
//! - a refused install leaves the root exactly as it was;
//! - the root stays readable by the project's own database parser, and every file the
//!   database lists is in the root.
//!
//! `PROPTEST_CASES` does not apply; the count is fixed so that CI always runs 10,000. As
//! root, 1,000 more cases run as `nobody`, with the component walk instead of `openat2`,
//! as the hostile suites run.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use alpinist_apk::adb::build::PackageV3Builder;
use alpinist_apk::adb::container::Compression;
use alpinist_apk::adb::schema::{AclV3, PkgInfoV3, S_IFIFO};
use alpinist_apk::db::ScriptKind;
use alpinist_apk::dep::Dependency;
use alpinist_apk::install::{self, Transaction, Trust};
use alpinist_apk::package::{PackageBuilder, Signer};
use alpinist_apk::pkginfo::PkgInfo;
use alpinist_apk::rootdir::RootDir;
use alpinist_apk::sign::{self, Keyring, PrivateKey, PublicKey, SigAlg};
use alpinist_apk::tarball::{EntryType, Header, PAX_CHECKSUM_SHA1};
use common::snapshot;
use proptest::prelude::*;

/// Two packages per case.
const CASES: u32 = 5000;

/// A 1024-bit key (signing with the 4096-bit test key would dominate the run).
fn key() -> &'static (Signer, Keyring) {
    static K: OnceLock<(Signer, Keyring)> = OnceLock::new();
    K.get_or_init(|| {
        let k = sign::keygen("fuzz", 1024, 0x6300_0000).unwrap();
        let mut keys = Keyring::new();
        keys.insert(&k.public_file, PublicKey::from_pem(&k.public_pem).unwrap());
        let signer = Signer {
            key: PrivateKey::from_pem(&k.private_pem).unwrap(),
            key_name: k.public_file,
            alg: SigAlg::Sha1,
        };
        (signer, keys)
    })
}

/// A symlink or hard link target, made concrete once the case's directories exist.
#[derive(Debug, Clone)]
enum Target {
    CanaryAbs,
    CanaryRel,
    /// The path of an earlier entry (the n-th, modulo their number).
    Earlier(usize),
    Path(String),
}

#[derive(Debug, Clone)]
struct Entry {
    path: String,
    kind: EntryType,
    mode: u32,
    owner: &'static str,
    data: Vec<u8>,
    target: Target,
    bad_checksum: bool,
}

#[derive(Debug, Clone)]
enum Damage {
    None,
    Flip(usize, u8),
    Cut(usize),
    Junk,
}

#[derive(Debug, Clone)]
struct Spec {
    name: String,
    version: &'static str,
    desc_len: usize,
    depends: Vec<&'static str>,
    replaces: Vec<&'static str>,
    script: bool,
    parents: bool,
    entries: Vec<Entry>,
    signed: bool,
    damage: Damage,
    /// A v3 package (deflated when `deflate`), else a v2 one.
    v3: bool,
    deflate: bool,
}

fn component() -> impl Strategy<Value = String> {
    prop_oneof![
        40 => prop::sample::select(vec!["etc", "usr", "bin", "lib", "apk", "db", "x", "y", "tmp", "var", "keys"]).prop_map(str::to_string),
        1 => prop::sample::select(vec!["..", ".", "", "a b", "a\nb", "installed", "world", "arch", "repositories", "installed.new", ".hidden", ".alpinist-stage-0", "lock"]).prop_map(str::to_string),
        1 => "[a-z]{250,260}",
    ]
}

fn path() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(component(), 1..5),
        prop::bool::weighted(0.03),
    )
        .prop_map(|(c, abs)| format!("{}{}", if abs { "/" } else { "" }, c.join("/")))
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        1 => Just(Target::CanaryAbs),
        1 => Just(Target::CanaryRel),
        3 => any::<usize>().prop_map(Target::Earlier),
        1 => prop::sample::select(vec!["/", "/etc", "..", "../..", "../../../../../..", "x", "../x", "/usr/lib", "etc/apk"]).prop_map(|s| Target::Path(s.to_string())),
        2 => path().prop_map(Target::Path),
    ]
}

fn entry() -> impl Strategy<Value = Entry> {
    let kind = prop::sample::select(vec![
        EntryType::Directory,
        EntryType::Directory,
        EntryType::Directory,
        EntryType::Regular,
        EntryType::Regular,
        EntryType::Regular,
        EntryType::Symlink,
        EntryType::Symlink,
        EntryType::Hardlink,
        EntryType::Fifo,
    ]);
    let mode = prop::sample::select(vec![0o644, 0o755, 0o4755, 0o000, 0o555, 0o1777, 0o700]);
    let owner = prop::sample::select(vec!["root", "root", "nobody", "", "\u{1b}x"]);
    (
        path(),
        kind,
        mode,
        owner,
        prop::collection::vec(any::<u8>(), 0..48),
        target(),
        prop::bool::weighted(0.03),
    )
        .prop_map(
            |(path, kind, mode, owner, data, target, bad_checksum)| Entry {
                path,
                kind,
                mode,
                owner,
                data,
                target,
                bad_checksum,
            },
        )
}

fn spec() -> impl Strategy<Value = Spec> {
    let name = prop_oneof![
        6 => prop::sample::select(vec!["a", "b", "c"]).prop_map(str::to_string),
        1 => prop::sample::select(vec!["evil\u{1b}[31m", "a/b", "..", "x y"]).prop_map(str::to_string),
    ];
    let version = prop::sample::select(vec!["1-r0", "2-r0", "1.0_rc1-r3"]);
    let desc = prop_oneof![
        30 => Just(5usize),
        1 => Just(1000),
        1 => Just(2100),
        1 => Just(140_000),
    ];
    let depends = prop::collection::vec(
        prop::sample::select(vec!["!z", "a", "/bin/sh", "so:libc.so"]),
        0..3,
    );
    let replaces = prop::collection::vec(prop::sample::select(vec!["a", "b", "c"]), 0..2);
    let damage = prop_oneof![
        12 => Just(Damage::None),
        2 => (any::<usize>(), 1u8..=255).prop_map(|(p, x)| Damage::Flip(p, x)),
        1 => any::<usize>().prop_map(Damage::Cut),
        1 => Just(Damage::Junk),
    ];
    (
        (
            name,
            version,
            desc,
            depends,
            replaces,
            prop::bool::weighted(0.2),
        ),
        (
            prop::bool::weighted(0.85),
            prop::collection::vec(entry(), 0..10),
            prop::bool::weighted(0.5),
            damage,
            any::<bool>(),
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                (name, version, desc_len, depends, replaces, script),
                (parents, entries, signed, damage, v3, deflate),
            )| Spec {
                name,
                version,
                desc_len,
                depends,
                replaces,
                script,
                parents,
                entries,
                signed,
                damage,
                v3,
                deflate,
            },
        )
}

/// `entries` with a directory entry for every parent before it, as apk requires.
fn with_parents(entries: &[Entry]) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for e in entries {
        let parts: Vec<&str> = e.path.split('/').collect();
        for i in 1..parts.len() {
            let p = parts[..i].join("/");
            if !p.is_empty() && seen.insert(p.clone()) {
                out.push(Entry {
                    path: p,
                    kind: EntryType::Directory,
                    mode: 0o755,
                    owner: "root",
                    data: Vec::new(),
                    target: Target::Path(String::new()),
                    bad_checksum: false,
                });
            }
        }
        out.push(e.clone());
    }
    out
}

/// An entry's mode; in the run as `nobody`, with the owner's read, write and search bits
/// added: an unprivileged installer cannot write under a read-only directory it made
/// earlier (root can), and the test must read back every file it compares.
fn mode_of(e: &Entry) -> u32 {
    match std::env::var_os("ALPINIST_FUZZ_CHILD") {
        Some(_) => e.mode | 0o700,
        None => e.mode,
    }
}

/// A link target made concrete: the canary, or the path of the entry it names.
fn link_target(t: &Target, i: usize, paths: &[String], canary: &Path, depth: usize) -> String {
    match t {
        Target::CanaryAbs => canary.join("file").display().to_string(),
        Target::CanaryRel => format!(
            "{}{}",
            "../".repeat(depth + 4),
            canary.display().to_string().trim_start_matches('/')
        ),
        Target::Earlier(n) if i > 0 => paths[n % i].clone(),
        Target::Earlier(_) => String::new(),
        Target::Path(p) => p.clone(),
    }
}

fn damage(spec: &Spec, mut bytes: Vec<u8>) -> Vec<u8> {
    match spec.damage {
        Damage::None => {}
        Damage::Flip(p, x) if !bytes.is_empty() => {
            let at = p % bytes.len();
            bytes[at] ^= x;
        }
        Damage::Cut(p) => bytes.truncate(p % (bytes.len() + 1)),
        Damage::Junk => bytes.extend_from_slice(b"junk"),
        _ => {}
    }
    bytes
}

/// The spec as a v3 package, written by alpinist's writer (which writes what it is given).
fn build_v3(spec: &Spec, canary: &Path, depth: usize) -> Vec<u8> {
    let deps = |l: &[&str]| -> Vec<Dependency> {
        l.iter()
            .filter_map(|d| Dependency::parse_metadata(d).ok())
            .collect()
    };
    let mut b = PackageV3Builder::new(PkgInfoV3 {
        name: spec.name.clone(),
        version: spec.version.into(),
        description: "d".repeat(spec.desc_len),
        arch: "x86_64".into(),
        origin: spec.name.clone(),
        depends: deps(&spec.depends),
        replaces: deps(&spec.replaces),
        ..PkgInfoV3::default()
    });
    if spec.script {
        b.scripts
            .push((ScriptKind::PostInstall, b"#!/bin/sh\n".to_vec()));
    }
    let paths: Vec<String> = spec.entries.iter().map(|e| e.path.clone()).collect();
    for (i, e) in spec.entries.iter().enumerate() {
        let acl = AclV3 {
            mode: mode_of(e),
            user: e.owner.into(),
            group: e.owner.into(),
            xattrs: Vec::new(),
        };
        let (p, t) = (&e.path, 1_600_000_000);
        let link = || link_target(&e.target, i, &paths, canary, depth);
        match e.kind {
            EntryType::Directory => b.push_dir(p, acl),
            EntryType::Symlink => b.push_symlink(p, acl, t, &link()),
            EntryType::Hardlink => b.push_hardlink(p, acl, t, &link()),
            EntryType::Fifo => b.push_device(p, acl, t, S_IFIFO, 0),
            _ => b.push_file(p, acl, t, e.data.clone()),
        }
    }
    let key = spec.signed.then(|| &key().0.key);
    let compression = match spec.deflate {
        true => Compression::Deflate,
        false => Compression::None,
    };
    match b.build(key, compression) {
        Ok(bytes) => damage(spec, bytes),
        // The writer refuses some of what the pools hold (invalid names, hard links to
        // what is not a file): nothing to install, the empty file is refused.
        Err(_) => Vec::new(),
    }
}

fn build(spec: &Spec, canary: &Path, depth: usize) -> Vec<u8> {
    if spec.v3 {
        return build_v3(spec, canary, depth);
    }
    let info = PkgInfo {
        pkgname: spec.name.clone(),
        pkgver: spec.version.into(),
        pkgdesc: "d".repeat(spec.desc_len),
        arch: "x86_64".into(),
        origin: spec.name.clone(),
        depends: spec.depends.iter().map(|s| s.to_string()).collect(),
        replaces: spec.replaces.iter().map(|s| s.to_string()).collect(),
        ..PkgInfo::default()
    };
    let mut b = PackageBuilder::new(info, 1_700_000_000);
    if spec.script {
        b.scripts
            .push((ScriptKind::PostInstall, b"#!/bin/sh\n".to_vec()));
    }
    let entries = if spec.parents {
        with_parents(&spec.entries)
    } else {
        spec.entries.clone()
    };
    let paths: Vec<String> = entries.iter().map(|e| e.path.clone()).collect();
    for (i, e) in entries.into_iter().enumerate() {
        let mut h = Header::new(e.path.clone(), e.kind);
        h.mode = mode_of(&e);
        h.uname = e.owner.into();
        h.gname = e.owner.into();
        h.mtime = 1_600_000_000;
        h.link_name = link_target(&e.target, i, &paths, canary, depth);
        let data = if e.kind == EntryType::Regular {
            e.data.clone()
        } else {
            Vec::new()
        };
        if !matches!(e.kind, EntryType::Symlink | EntryType::Hardlink) {
            h.link_name.clear();
        }
        h.size = data.len() as u64;
        if e.bad_checksum {
            h.pax.push((PAX_CHECKSUM_SHA1.into(), vec![b'f'; 40]));
        }
        b.push_entry(h, data);
    }
    let signer = spec.signed.then(|| &key().0);
    match b.build(signer) {
        Ok(bytes) => damage(spec, bytes),
        Err(_) => Vec::new(),
    }
}

/// The database and world read back, and every file the database lists is in the root
/// (where its path leads inside the root, symlinks followed as in a chroot).
fn database_matches_tree(root: &Path) -> Result<(), String> {
    let db = install::read_database(root).map_err(|e| format!("unreadable database: {e}"))?;
    install::read_world(root).map_err(|e| format!("unreadable world: {e}"))?;
    let r = RootDir::open(root).unwrap();
    for p in &db.packages {
        for f in p.file_paths() {
            let at = r.resolve(&f, false).map_err(|e| format!("{f}: {e}"))?;
            if r.lstat(&at).map_err(|e| format!("{f}: {e}"))?.is_none() {
                return Err(format!("{f} is in the database but not in the root ({at})"));
            }
        }
    }
    Ok(())
}

fn install(root: &Path, packages: &[Vec<u8>], signed: &[bool]) -> Result<(), String> {
    let mut tx = Transaction::open(root).map_err(|e| e.to_string())?;
    for (i, (bytes, s)) in packages.iter().zip(signed).enumerate() {
        let trust = if *s {
            Trust::Keys(&key().1)
        } else {
            Trust::Untrusted(None)
        };
        tx.add_bytes(&format!("p{i}.apk"), bytes, trust)
            .map_err(|e| e.to_string())?;
    }
    tx.commit().map(drop).map_err(|e| e.to_string())
}

fn check_case(specs: &[Spec], together: bool) -> Result<(), TestCaseError> {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let canary = tmp.path().join("canary");
    std::fs::create_dir_all(canary.join("sub")).unwrap();
    std::fs::write(canary.join("file"), b"canary").unwrap();
    std::fs::create_dir_all(&root).unwrap();
    install::init_root(&root, "x86_64").unwrap();
    let depth = root.components().count();
    let packages: Vec<Vec<u8>> = specs.iter().map(|s| build(s, &canary, depth)).collect();
    let signed: Vec<bool> = specs.iter().map(|s| s.signed).collect();
    let canary_before = snapshot(&canary);
    // Both packages in one transaction, or one after the other.
    let groups: &[(usize, usize)] = if together {
        &[(0, 2)]
    } else {
        &[(0, 1), (1, 2)]
    };
    for &(from, to) in groups {
        let before: BTreeMap<_, _> = snapshot(&root);
        let r = install(&root, &packages[from..to], &signed[from..to]);
        if std::env::var_os("FUZZ_STATS").is_some() {
            eprintln!("FUZZ {r:?}");
        }
        if let Err(e) = &r {
            prop_assert!(!e.contains('\n'), "a message of more than one line: {e:?}");
            // Everything is checked before the root changes: an I/O error is a check missed.
            prop_assert!(!e.contains("(os error"), "an unplanned failure: {e}");
            prop_assert_eq!(
                snapshot(&root),
                before,
                "a refused install changed the root: {}",
                e
            );
        }
        prop_assert_eq!(
            snapshot(&canary),
            canary_before.clone(),
            "the canary changed"
        );
        if let Err(e) = database_matches_tree(&root) {
            return Err(TestCaseError::fail(e));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("FUZZ_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(CASES),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn generated_packages_install_inside_the_root_or_not_at_all(
        specs in prop::collection::vec(spec(), 2..=2),
        together in any::<bool>(),
    ) {
        check_case(&specs, together)?;
    }
}

/// Found by the generator: a package's symlink `bin` points at a 300-byte name; its next
/// version makes `bin` a directory, which resolves through the link to that name. The
/// installer must refuse (or do) that before writing, not fail with ENAMETOOLONG.
#[test]
fn a_symlink_to_a_name_longer_than_name_max_is_planned_for() {
    for v3 in [false, true] {
        symlink_to_a_long_name(v3);
    }
}

fn symlink_to_a_long_name(v3: bool) {
    let spec = |kind: EntryType, target: Target| Spec {
        name: "a".into(),
        version: "1-r0",
        desc_len: 5,
        depends: vec![],
        replaces: vec![],
        script: false,
        parents: true,
        entries: vec![Entry {
            path: "bin".into(),
            kind,
            mode: 0o644,
            owner: "root",
            data: vec![],
            target,
            bad_checksum: false,
        }],
        signed: false,
        damage: Damage::None,
        v3,
        deflate: false,
    };
    let specs = [
        spec(EntryType::Symlink, Target::Path("a".repeat(300))),
        spec(EntryType::Directory, Target::CanaryAbs),
    ];
    for together in [false, true] {
        check_case(&specs, together).unwrap();
    }
}

/// As root: 1,000 cases again as `nobody` (`setpriv`, util-linux), from a copy of this test
/// binary anyone can run, with the component walk instead of `openat2`
/// (`ALPINIST_NO_OPENAT2`) and no `chown`; modes keep the owner's bits there (`mode_of`).
/// Not as root, the run above was the unprivileged one.
#[test]
fn generated_packages_as_an_unprivileged_user() {
    use std::os::unix::fs::PermissionsExt;
    if std::env::var_os("ALPINIST_FUZZ_CHILD").is_some() {
        return;
    }
    if !install::running_as_root() {
        eprintln!("not root: the suite already ran unprivileged");
        return;
    }
    let bin = tempfile::tempdir().unwrap();
    std::fs::set_permissions(bin.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let copy = bin.path().join("fuzz_install");
    std::fs::copy(std::env::current_exe().unwrap(), &copy).unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
    let test = "generated_packages_install_inside_the_root_or_not_at_all";
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(&copy)
        .args(["--exact", test])
        .current_dir("/")
        .env("ALPINIST_FUZZ_CHILD", "1")
        .env("ALPINIST_NO_OPENAT2", "1")
        .env("FUZZ_CASES", "1000")
        .env("TMPDIR", "/tmp")
        .output()
        .expect("setpriv (util-linux)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "as nobody:\n{text}");
    assert!(text.contains("test result: ok. 1 passed"), "{text}");
}
