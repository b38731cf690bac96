//! Generated v3 packages (10,000 per run), read and verified. Names, versions,
//! dependencies, paths, entry kinds, link targets and modes are drawn from hostile pools,
//! and the package is written by alpinist's own writer, which writes what it is given (it
//! checks only the metadata `apk mkpkg` checks); some packages are then damaged (a flipped
//! byte, a cut, junk after the end), some are deflated, some are not signed. For every
//! package:
//!
//! - nothing panics, and a refusal is one line;
//! - a package whose bytes changed (inflated, for a deflated one: what signatures and
//!   hashes cover) or that is not signed is never accepted;
//! - an accepted package has only safe, unique paths, hard links to earlier regular files
//!   of its own, and each regular file's content is the content it was written with;
//! - a package alpinist wrote and nobody damaged is refused only for what is inside its
//!   ADB block (`ADB: …`, a limit), never for its container or its signature.
//!
//! At least a tenth of the cases must be accepted and a tenth refused, so that the
//! generator keeps reaching the reader. `PROPTEST_CASES` does not apply; `FUZZ_CASES` can
//! change the count.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use alpinist_apk::adb::build::PackageV3Builder;
use alpinist_apk::adb::container::Compression;
use alpinist_apk::adb::schema::{AclV3, PkgInfoV3, TargetV3, S_IFBLK, S_IFCHR};
use alpinist_apk::dep::Dependency;
use alpinist_apk::package::unsafe_path_reason;
use alpinist_apk::sign::{self, Keyring, PrivateKey, PublicKey};
use common::v3::read_all;
use proptest::prelude::*;

const CASES: u32 = 10_000;

/// A 1024-bit key (signing with the 4096-bit test key would dominate the run).
fn key() -> &'static (PrivateKey, Keyring) {
    static K: OnceLock<(PrivateKey, Keyring)> = OnceLock::new();
    K.get_or_init(|| {
        let k = sign::keygen("fuzz", 1024, 0x6300_0000).unwrap();
        let mut keys = Keyring::new();
        keys.insert(&k.public_file, PublicKey::from_pem(&k.public_pem).unwrap());
        (PrivateKey::from_pem(&k.private_pem).unwrap(), keys)
    })
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    File,
    Dir,
    Symlink,
    Hardlink,
    Char,
    Block,
}

#[derive(Debug, Clone)]
struct Entry {
    path: String,
    kind: Kind,
    mode: u32,
    owner: &'static str,
    data: Vec<u8>,
    /// A symlink's target, or for a hard link the index of an earlier entry.
    target: String,
    link: usize,
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
    depends: Vec<&'static str>,
    description: usize,
    script: bool,
    entries: Vec<Entry>,
    signed: bool,
    deflate: bool,
    damage: Damage,
}

fn component() -> impl Strategy<Value = String> {
    prop_oneof![
        40 => prop::sample::select(vec!["etc", "usr", "bin", "lib", "apk", "x", "y", "var", "a.b"]).prop_map(str::to_string),
        1 => prop::sample::select(vec!["..", ".", "", "a\nb", "a\\b", "\u{e9}t\u{e9}", "-x", " "]).prop_map(str::to_string),
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

fn entry() -> impl Strategy<Value = Entry> {
    let kind = prop::sample::select(vec![
        Kind::File,
        Kind::File,
        Kind::File,
        Kind::Dir,
        Kind::Dir,
        Kind::Symlink,
        Kind::Hardlink,
        Kind::Char,
        Kind::Block,
    ]);
    let mode = prop_oneof![
        prop::sample::select(vec![0o644u32, 0o755, 0o4755, 0o2755, 0o1777, 0o600, 0]),
        0u32..=0o7777,
    ];
    let owner = prop::sample::select(vec!["root", "root", "nobody", "", "a\nb"]);
    let data = prop_oneof![
        3 => prop::collection::vec(any::<u8>(), 0..64),
        1 => prop::collection::vec(any::<u8>(), 0..5000),
    ];
    let target = prop_oneof![
        path(),
        prop::sample::select(vec!["/", "..", "../../../etc/passwd", "/etc/shadow", ""])
            .prop_map(str::to_string),
    ];
    (path(), kind, mode, owner, data, target, any::<usize>()).prop_map(
        |(path, kind, mode, owner, data, target, link)| Entry {
            path,
            kind,
            mode,
            owner,
            data,
            target,
            link,
        },
    )
}

fn spec() -> impl Strategy<Value = Spec> {
    let name = prop_oneof![
        30 => "[a-z][a-z0-9+._-]{0,12}",
        1 => prop::sample::select(vec!["", "-x", "a b", "a/b", "..", "\u{e9}"]).prop_map(str::to_string),
    ];
    let version = prop_oneof![
        30 => prop::sample::select(vec!["1.0-r0", "2.3_rc1-r5", "1.0"]),
        1 => prop::sample::select(vec!["x", "", "1.0-r"]),
    ];
    let dep = prop_oneof![
        30 => prop::sample::select(vec![
            "so:libc.musl-x86_64.so.1",
            "!other",
            "a>=1.0",
            "b<2",
            "c~1",
            "d=1.0-r0",
            "g><Q1abc=",
        ]),
        1 => prop::sample::select(vec!["e>x", "f@tag"]),
    ];
    let damage = prop_oneof![
        6 => Just(Damage::None),
        3 => (any::<usize>(), 1u8..=255).prop_map(|(p, x)| Damage::Flip(p, x)),
        1 => any::<usize>().prop_map(Damage::Cut),
        1 => Just(Damage::Junk),
    ];
    (
        (name, version, prop::collection::vec(dep, 0..4), 0usize..400),
        any::<bool>(),
        prop::collection::vec(entry(), 0..12),
        prop::bool::weighted(0.9),
        any::<bool>(),
        damage,
    )
        .prop_map(
            |((name, version, depends, description), script, entries, signed, deflate, damage)| {
                Spec {
                    name,
                    version,
                    depends,
                    description,
                    script,
                    entries,
                    signed,
                    deflate,
                    damage,
                }
            },
        )
}

/// What the hard link `entries[i]` points at: mostly an earlier regular file, sometimes
/// any earlier entry.
fn link_target(spec: &Spec, i: usize) -> &str {
    let e = &spec.entries[i];
    let files: Vec<&Entry> = spec.entries[..i]
        .iter()
        .filter(|e| e.kind == Kind::File)
        .collect();
    if files.is_empty() || e.link & 7 == 0 {
        &spec.entries[e.link % i].path
    } else {
        &files[e.link % files.len()].path
    }
}

/// Writes the package as the spec says; `None` when the writer refuses it.
fn build(spec: &Spec) -> Option<Vec<u8>> {
    let info = PkgInfoV3 {
        name: spec.name.clone(),
        version: spec.version.to_string(),
        description: "d".repeat(spec.description),
        arch: "x86_64".into(),
        depends: spec
            .depends
            .iter()
            .filter_map(|d| Dependency::parse_metadata(d).ok())
            .collect(),
        ..PkgInfoV3::default()
    };
    let mut b = PackageV3Builder::new(info);
    if spec.script {
        b.scripts = vec![(
            alpinist_apk::db::ScriptKind::PostInstall,
            b"#!/bin/sh\n".to_vec(),
        )];
    }
    for (i, e) in spec.entries.iter().enumerate() {
        let acl = AclV3 {
            mode: e.mode,
            user: e.owner.into(),
            group: e.owner.into(),
            xattrs: Vec::new(),
        };
        match e.kind {
            Kind::File => b.push_file(&e.path, acl, 1, e.data.clone()),
            Kind::Dir => b.push_dir(&e.path, acl),
            Kind::Symlink => b.push_symlink(&e.path, acl, 1, &e.target),
            Kind::Hardlink if i > 0 => b.push_hardlink(&e.path, acl, 1, link_target(spec, i)),
            Kind::Hardlink => b.push_file(&e.path, acl, 1, Vec::new()),
            Kind::Char => b.push_device(&e.path, acl, 1, S_IFCHR, 0x0103),
            Kind::Block => b.push_device(&e.path, acl, 1, S_IFBLK, 0x0801),
        }
    }
    let key = spec.signed.then(|| &key().0);
    let compression = if spec.deflate {
        Compression::Deflate
    } else {
        Compression::None
    };
    match b.build(key, compression) {
        Ok(bytes) => Some(bytes),
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.starts_with("cannot write: "), "{msg}");
            None
        }
    }
}

/// Whether a deflated file still inflates to the same bytes (what signatures and hashes
/// cover). Deflate has bits that change nothing: padding after the last block, and the
/// distance of a back-reference between two identical runs (an ADB block has many runs
/// of zeros), in apk-tools' zlib streams as in alpinist's.
fn harmless(spec: &Spec, before: &[u8], after: &[u8]) -> bool {
    use std::io::Read;
    let inflate = |b: &[u8]| {
        let mut out = Vec::new();
        flate2::read::DeflateDecoder::new(&b[4..])
            .read_to_end(&mut out)
            .ok()
            .map(|_| out)
    };
    spec.deflate && after.starts_with(b"ADBd") && inflate(before) == inflate(after)
}

/// Checks one case: `None` when the writer refused it, else whether it was accepted.
fn check(spec: &Spec) -> Result<Option<bool>, TestCaseError> {
    let Some(mut bytes) = build(spec) else {
        return Ok(None);
    };
    let altered = !matches!(spec.damage, Damage::None);
    let damaged = match spec.damage {
        Damage::None => false,
        Damage::Flip(p, x) => {
            let before = bytes.clone();
            let at = p % bytes.len();
            bytes[at] ^= x;
            !harmless(spec, &before, &bytes)
        }
        Damage::Cut(p) => {
            bytes.truncate(p % bytes.len());
            true
        }
        Damage::Junk => {
            bytes.extend_from_slice(b"\0junk");
            true
        }
    };
    let (pkg, contents) = match read_all(&bytes, Some(&key().1)) {
        Err(e) => {
            prop_assert!(!e.contains('\n') && !e.is_empty(), "{e:?}");
            if !altered && spec.signed {
                prop_assert!(
                    e.starts_with("ADB: ") || e.starts_with("limit: "),
                    "an intact package refused for its container: {e}"
                );
            }
            return Ok(Some(false));
        }
        Ok(r) => r,
    };
    prop_assert!(
        !damaged,
        "a damaged package was accepted: {:?} in {} bytes",
        spec.damage,
        bytes.len()
    );
    prop_assert!(spec.signed, "an unsigned package was accepted");
    // What the writer was given last for each path.
    let mut given: BTreeMap<&str, &Entry> = BTreeMap::new();
    for e in &spec.entries {
        given.insert(&e.path, e);
    }
    let linked: Vec<&str> = spec
        .entries
        .iter()
        .enumerate()
        .filter(|(i, e)| e.kind == Kind::Hardlink && *i > 0)
        .map(|(i, _)| link_target(spec, i))
        .collect();
    let mut regular = std::collections::HashSet::new();
    for d in &pkg.meta.paths {
        for f in &d.files {
            let path = pkg.path_of(d, f);
            prop_assert!(unsafe_path_reason(&path).is_none(), "{path:?} accepted");
            match &f.target {
                None => {
                    regular.insert(path);
                }
                Some(TargetV3::Hardlink(to)) => prop_assert!(regular.contains(to)),
                _ => {}
            }
        }
    }
    for (path, (kind, _, data)) in &contents {
        let Some(e) = given.get(path.as_str()) else {
            continue;
        };
        if *kind == 'f' && e.kind == Kind::File && !linked.contains(&path.as_str()) {
            prop_assert_eq!(data, &e.data, "content of {}", path);
        }
    }
    Ok(Some(true))
}

/// How the cases ended: not written, accepted, refused.
#[derive(Debug, Default)]
struct Outcomes {
    unwritten: AtomicUsize,
    accepted: AtomicUsize,
    refused: AtomicUsize,
}

#[test]
fn generated_v3_packages_are_refused_or_read_intact() {
    let cases = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(CASES);
    let config = ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let outcomes = Outcomes::default();
    let mut runner = proptest::test_runner::TestRunner::new(config);
    let result = runner.run(&spec(), |spec| {
        let r = check(&spec)?;
        let counter = match r {
            None => &outcomes.unwritten,
            Some(true) => &outcomes.accepted,
            Some(false) => &outcomes.refused,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    // The generator reaches the reader: most cases are written, many read back (about
    // 19% accepted, 62% refused, 20% not written with the default seed).
    let n = |c: &AtomicUsize| c.load(Ordering::Relaxed) as u32;
    eprintln!("{outcomes:?}");
    if cases >= 1000 {
        assert!(n(&outcomes.accepted) >= cases / 10, "{outcomes:?}");
        assert!(n(&outcomes.refused) >= cases / 10, "{outcomes:?}");
        assert!(n(&outcomes.unwritten) <= cases / 3, "{outcomes:?}");
    }
    assert_eq!(
        n(&outcomes.unwritten) + n(&outcomes.accepted) + n(&outcomes.refused),
        cases
    );
}
