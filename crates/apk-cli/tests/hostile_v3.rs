//! Hostile v3 packages and v3 repositories (`Packages.adb`) against the `apk` binary.
//!
//! As `hostile.rs` does for v2: every case builds its packages and index here, in a fresh
//! root made by `apk add --initdb` from a v3 repository with a benign base package, next to
//! a canary outside the root. A hostile `apk add` must exit non-zero with one line on
//! stderr that says what is wrong, and leave the root (database included) and the canary
//! exactly as they were. The suite runs as the user running the tests and, when that is
//! root, once more as `nobody` with the component walk instead of `openat2`.

mod common;

use std::path::{Path, PathBuf};

use alpinist_apk::adb::build::PackageV3Builder;
use alpinist_apk::adb::container::{self, Compression, FileWriter, BLOCK_ADB, BLOCK_SIG};
use alpinist_apk::adb::encode;
use alpinist_apk::adb::index::write_adb_file;
use alpinist_apk::adb::package::UnverifiedPackageV3;
use alpinist_apk::adb::schema::{
    pi, AclV3, PkgInfoV3, SCHEMA_INDEX, SCHEMA_PACKAGE, S_IFBLK, S_IFCHR, S_IFIFO,
};
use alpinist_apk::adb::sig;
use alpinist_apk::adb::write::AdbWriter;
use alpinist_apk::package::{decode_q1, Package};
use alpinist_apk::sign::PrivateKey;
use common::hostile::*;
use common::*;

const T: u64 = EPOCH;

fn key() -> &'static PrivateKey {
    &trusted().key
}

fn other_key() -> &'static PrivateKey {
    &signers().1.key
}

fn info3(name: &str, version: &str) -> PkgInfoV3 {
    PkgInfoV3 {
        name: name.into(),
        version: version.into(),
        arch: ARCH.into(),
        description: format!("{name} test package"),
        license: "MIT".into(),
        origin: name.into(),
        build_time: Some(T),
        ..PkgInfoV3::default()
    }
}

fn root_acl(mode: u32) -> AclV3 {
    AclV3::root(mode)
}

/// A package `evil 1.0-r0` (or `name`) made by `f`, signed by the trusted key, deflated.
fn pkg(name: &str, f: impl FnOnce(&mut PackageV3Builder)) -> Vec<u8> {
    build(
        PackageV3Builder::new(info3(name, "1.0-r0")),
        f,
        Compression::Deflate,
    )
}

fn build(
    mut b: PackageV3Builder,
    f: impl FnOnce(&mut PackageV3Builder),
    c: Compression,
) -> Vec<u8> {
    f(&mut b);
    b.build(Some(key()), c).unwrap()
}

/// The index record of a package (v3, or v2 in a v3 index), read without trusting it;
/// `None` when it cannot be read that far.
fn record(bytes: &[u8]) -> Option<PkgInfoV3> {
    if !bytes.starts_with(b"ADB") {
        let p = Package::parse(bytes).ok()?;
        let mut i = info3(&p.pkginfo.pkgname, &p.pkginfo.pkgver);
        i.hashes = decode_q1(&p.identity())?;
        i.installed_size = Some(p.pkginfo.size);
        i.file_size = Some(bytes.len() as u64);
        return Some(i);
    }
    let head = UnverifiedPackageV3::new(bytes).ok()?;
    let id = head.identity();
    let mut i = head.allow_untrusted().ok()?.package().meta.info.clone();
    i.hashes = id.to_vec();
    i.file_size = Some(bytes.len() as u64);
    Some(i)
}

/// The record of a package, or, when its ADB block does not decode, `evil 1.0-r0` with the
/// hash of that block.
fn evil_record(bytes: &[u8]) -> PkgInfoV3 {
    record(bytes).unwrap_or_else(|| PkgInfoV3 {
        hashes: UnverifiedPackageV3::new(bytes).unwrap().identity().to_vec(),
        file_size: Some(bytes.len() as u64),
        ..info3("evil", "1.0-r0")
    })
}

/// `Packages.adb` of `records`, with `spec` as its `pkgname-spec`, signed by `key`.
fn index(records: &[PkgInfoV3], spec: &str, key: Option<&PrivateKey>) -> Vec<u8> {
    let mut w = AdbWriter::new();
    let mut vals = Vec::new();
    for r in records {
        let mut s = encode::pkginfo_fields(&mut w, r);
        s[pi::HASHES - 1] = w.blob(&r.hashes);
        s[pi::FILE_SIZE - 1] = w.int(r.file_size.unwrap_or(0));
        s[pi::INSTALLED_SIZE - 1] = w.int(r.installed_size.unwrap_or(1));
        vals.push(w.object(&s));
    }
    let desc = w.blob(b"hostile");
    let packages = w.object(&vals);
    let spec = w.blob(spec.as_bytes());
    let root = w.object(&[desc, packages, spec]);
    w.set_root(root);
    let adb = w.finish().unwrap();
    write_adb_file(Vec::new(), SCHEMA_INDEX, &adb, key, Compression::None)
        .unwrap()
        .finish()
        .unwrap()
}

/// A repository `<dir>/x86_64/` of `files` (name, bytes) and `Packages.adb` of `records`;
/// returns the index's path.
fn repo3(dir: &Path, files: &[(String, Vec<u8>)], idx: Vec<u8>) -> PathBuf {
    let arch = dir.join(ARCH);
    std::fs::create_dir_all(&arch).unwrap();
    for (name, bytes) in files {
        std::fs::write(arch.join(name), bytes).unwrap();
    }
    std::fs::write(arch.join("Packages.adb"), idx).unwrap();
    arch.join("Packages.adb")
}

fn file_name(r: &PkgInfoV3) -> String {
    format!("{}-{}.apk", r.name, r.version)
}

/// A repository of packages with their own records, the index signed by `key`.
fn repo_of(dir: &Path, packages: &[Vec<u8>], key: Option<&PrivateKey>) -> PathBuf {
    let records: Vec<PkgInfoV3> = packages.iter().map(|b| record(b).unwrap()).collect();
    let files: Vec<(String, Vec<u8>)> = records
        .iter()
        .zip(packages)
        .map(|(r, b)| (file_name(r), b.clone()))
        .collect();
    repo3(dir, &files, index(&records, "", key))
}

/// A root with a v3 base package installed, and a directory for a case's repositories.
struct World<'a> {
    base: &'a Base,
    root: PathBuf,
    work: PathBuf,
}

impl<'a> World<'a> {
    fn new(base: &'a Base, n: usize) -> World<'a> {
        let w = World {
            base,
            root: base.dir.join(format!("root-{n}")),
            work: base.dir.join(format!("case-{n}")),
        };
        let b = pkg("base", |b| {
            b.push_dir("etc", root_acl(0o755));
            b.push_file("etc/base.conf", root_acl(0o644), T, b"base\n".to_vec());
            b.push_dir("tmp", root_acl(0o1777));
            b.push_file("usr/bin/tool", root_acl(0o755), T, b"#!/bin/sh\n".to_vec());
            b.push_dir("var", root_acl(0o755));
        });
        let index = repo_of(&w.work.join("base"), &[b], Some(key()));
        let (ok, out, err) = w.apk(&[
            "--initdb",
            "--arch",
            ARCH,
            "--keys-dir",
            base.keys.to_str().unwrap(),
            "-X",
            index.to_str().unwrap(),
            "add",
            "base",
        ]);
        assert!(ok, "setting up the root: {out}{err}");
        w
    }

    fn apk(&self, args: &[&str]) -> (bool, String, String) {
        let mut full = vec!["--root", self.root.to_str().unwrap()];
        full.extend_from_slice(args);
        apk(&full)
    }
}

/// What a case does: packages installed first (which must succeed), then the hostile
/// repository (its files and index) and what is added from it.
struct Case {
    name: String,
    first: Vec<Vec<u8>>,
    files: Vec<(String, Vec<u8>)>,
    index: Vec<u8>,
    add: Vec<String>,
    expect: Vec<String>,
}

impl Case {
    /// `packages` with their own records in an index signed by the trusted key; `evil`
    /// is added.
    fn new(name: &str, packages: Vec<Vec<u8>>, expect: &[&str]) -> Case {
        let records: Vec<PkgInfoV3> = packages.iter().map(|b| evil_record(b)).collect();
        let files = records
            .iter()
            .zip(&packages)
            .map(|(r, b)| (file_name(r), b.clone()))
            .collect();
        Case {
            name: name.into(),
            first: Vec::new(),
            files,
            index: index(&records, "", Some(key())),
            add: vec!["evil".into()],
            expect: expect.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// A package under `record`'s name, which it may not be.
    fn lying(name: &str, bytes: Vec<u8>, record: PkgInfoV3, expect: &[&str]) -> Case {
        let mut c = Case::new(name, Vec::new(), expect);
        c.files = vec![(file_name(&record), bytes)];
        c.index = index(std::slice::from_ref(&record), "", Some(key()));
        c.add = vec![record.name];
        c
    }

    fn first(mut self, first: Vec<Vec<u8>>) -> Case {
        self.first = first;
        self
    }

    fn adding(mut self, names: &[&str]) -> Case {
        self.add = names.iter().map(|s| s.to_string()).collect();
        self
    }
}

fn run(case: &Case, w: &World<'_>) -> Result<(), String> {
    if !case.first.is_empty() {
        let index = repo_of(&w.work.join("first"), &case.first, Some(key()));
        let names: Vec<String> = case.first.iter().map(|b| record(b).unwrap().name).collect();
        let mut args = vec!["-X", index.to_str().unwrap(), "add"];
        args.extend(names.iter().map(String::as_str));
        let (ok, out, err) = w.apk(&args);
        if !ok {
            return Err(format!("installing the first packages failed: {out}{err}"));
        }
    }
    let index = repo3(&w.work.join("hostile"), &case.files, case.index.clone());
    let mut args = vec!["-X", index.to_str().unwrap(), "add"];
    args.extend(case.add.iter().map(String::as_str));
    refused_cleanly(&case.name, &w.root, &w.base.canary, &args, &case.expect)
}

/// Symlinks at every name the installer writes (and the temporary names it used to).
fn installer_names(b: &Base) -> Vec<Case> {
    let only = "only the installer writes";
    let in_db = "only the installer writes in lib/apk/db";
    let names = [
        ("lib/apk/db/installed", only),
        ("lib/apk/db/triggers", only),
        ("lib/apk/db/scripts.tar", only),
        ("lib/apk/db/scripts.tar.gz", only),
        ("lib/apk/db/lock", only),
        ("lib/apk/db/installed.new", in_db),
        ("lib/apk/db/scripts.tar.new", in_db),
        ("lib/apk/db/triggers.new", in_db),
        ("etc/apk/world", only),
        ("etc/apk/world.new", "is a name only the installer uses"),
        ("etc/apk/arch", only),
        ("etc/apk/repositories", only),
        (
            "etc/apk/repositories.new",
            "is a name only the installer uses",
        ),
        ("var/log/apk.log", only),
        ("etc/apk/keys", "is a directory the installer writes into"),
    ];
    let mut cases = Vec::new();
    for (path, expect) in names {
        let depth = path.matches('/').count();
        for (how, target) in [
            ("absolute", b.canary_abs("file")),
            ("relative", b.canary_rel(depth, "file")),
        ] {
            let p = pkg("evil", |b| {
                b.push_symlink(path, root_acl(0o777), T, &target)
            });
            let name = format!("symlink at {path}, {how}");
            let at = format!("{path}: ");
            cases.push(Case::new(&name, vec![p], &["evil-1.0-r0 (", &at, expect]));
        }
    }
    cases
}

fn link(path: &str, target: &str) -> impl FnOnce(&mut PackageV3Builder) {
    let (path, target) = (path.to_string(), target.to_string());
    move |b| b.push_symlink(&path, root_acl(0o777), T, &target)
}

fn dir_through() -> impl FnOnce(&mut PackageV3Builder) {
    |b| {
        b.push_dir("usr/x", root_acl(0o755));
        b.push_file("usr/x/pwned", root_acl(0o644), T, b"gotcha".to_vec());
    }
}

/// Symlink-then-directory and symlink-then-file, in one package, across two, and in one
/// transaction; a v2 package's symlink with a v3 package's directory.
fn escapes(w: &Base) -> Vec<Case> {
    let (abs_dir, rel_dir) = (w.canary_abs("sub"), w.canary_rel(1, "sub"));
    let (abs_file, rel_file) = (w.canary_abs("file"), w.canary_rel(1, "file"));
    let leave = "would leave the root through symlink usr/x";
    let not_dir = "is not a directory in the root";
    let owned = "usr/x: already owned by plant";
    let mut cases = vec![
        Case::new(
            "symlink then dir, one package",
            vec![pkg("evil", |b| {
                link("usr/x", &rel_dir)(b);
                dir_through()(b);
            })],
            &["usr/x"],
        ),
        Case::new(
            "symlink then dir, two packages, relative",
            vec![pkg("evil", dir_through())],
            &[leave],
        )
        .first(vec![pkg("plant", link("usr/x", &rel_dir))]),
        Case::new(
            "symlink then dir, two packages, absolute",
            vec![pkg("evil", dir_through())],
            &[not_dir],
        )
        .first(vec![pkg("plant", link("usr/x", &abs_dir))]),
        Case::new(
            "symlink then file, two packages, absolute",
            vec![pkg("evil", |b| {
                b.push_file("usr/x", root_acl(0o644), T, b"gotcha".to_vec())
            })],
            &[owned],
        )
        .first(vec![pkg("plant", link("usr/x", &abs_file))]),
        Case::new(
            "symlink then file, two packages, relative",
            vec![pkg("evil", |b| {
                b.push_file("usr/x", root_acl(0o644), T, b"gotcha".to_vec())
            })],
            &[owned],
        )
        .first(vec![pkg("plant", link("usr/x", &rel_file))]),
        Case::new(
            "symlink then dir, one transaction, relative",
            vec![
                pkg("aplant", link("usr/x", &rel_dir)),
                pkg("evil", dir_through()),
            ],
            &[leave],
        )
        .adding(&["aplant", "evil"]),
        Case::new(
            "symlink then dir, one transaction, absolute",
            vec![
                pkg("aplant", link("usr/x", &abs_dir)),
                pkg("evil", dir_through()),
            ],
            &[not_dir],
        )
        .adding(&["aplant", "evil"]),
        Case::new(
            "symlink to a missing dir, then dir, two packages",
            vec![pkg("evil", |b| {
                b.push_file("lnk/f", root_acl(0o644), T, b"x".to_vec())
            })],
            &["lnk: its directory tmp/nowhere is not a directory in the root"],
        )
        .first(vec![pkg("plant", link("lnk", "/tmp/nowhere/x"))]),
    ];
    // A symlink in a v2 package of the v3 index, a directory through it in a v3 one.
    let v2 = package(
        info("aplant", "1.0-r0"),
        vec![dir("usr"), symlink("usr/x", &rel_dir)],
        Some(trusted()),
    );
    cases.push(
        Case::new(
            "v2 symlink then v3 dir, one transaction",
            vec![v2, pkg("evil", dir_through())],
            &[leave],
        )
        .adding(&["aplant", "evil"]),
    );
    let far = format!("{}{}", "../".repeat(40), abs_dir.trim_start_matches('/'));
    cases.push(
        Case::new(
            "dir through a symlink up the tree",
            vec![pkg("evil", |b| {
                b.push_dir("usr/up", root_acl(0o755));
                b.push_file("usr/up/pwned", root_acl(0o644), T, b"x".to_vec());
            })],
            &["would leave the root through symlink usr/up"],
        )
        .first(vec![pkg("plant", link("usr/up", &far))]),
    );
    cases
}

/// Hard links out, `..` and absolute paths, devices and fifos, a file over a directory,
/// control characters.
fn bad_entries(w: &Base) -> Vec<Case> {
    let out = "which is not an earlier regular file";
    // alpinist's writer makes hard links only to earlier files of the package: one to a
    // file whose path is as long as `to`, that path then replaced by `to`, and signed.
    let hard = |to: String| {
        let mut b = PackageV3Builder::new(info3("evil", "1.0-r0"));
        let own = format!("etc/{}", "a".repeat(to.len() - 4));
        b.push_file(&own, root_acl(0o644), T, b"x".to_vec());
        b.push_hardlink("etc/h", root_acl(0o644), T, &own);
        let unsigned = b.build(None, Compression::None).unwrap();
        let (_, mut adb, _) = split(&unsigned);
        let mut from = 0o100000u16.to_le_bytes().to_vec();
        from.extend_from_slice(own.as_bytes());
        let at = adb.windows(from.len()).position(|w| w == from).unwrap();
        adb[at + 2..at + from.len()].copy_from_slice(to.as_bytes());
        resigned(&unsigned, &adb)
    };
    let dev = |kind: u16| {
        pkg("evil", move |b| {
            b.push_device("etc/dev", root_acl(0o644), T, kind, 0x0103)
        })
    };
    let file = |path: &'static str| {
        pkg("evil", move |b| {
            b.push_file(path, root_acl(0o644), T, b"x".to_vec())
        })
    };
    vec![
        Case::new(
            "hard link to a host file",
            vec![hard("/etc/passwd".into())],
            &[out],
        ),
        Case::new(
            "hard link up and out",
            vec![hard(w.canary_rel(1, "file"))],
            &[out],
        ),
        Case::new(
            "hard link to a file of another package",
            vec![hard("etc/base.conf".into())],
            &[out],
        ),
        Case::new(
            "dot-dot path",
            vec![file("usr/../../pwned")],
            &["path contains '..'"],
        ),
        Case::new(
            "absolute path",
            vec![pkg("evil", |b| {
                b.push_file(&w.canary_abs("pwned"), root_acl(0o644), T, b"x".to_vec())
            })],
            &["absolute path"],
        ),
        Case::new(
            "character device",
            vec![dev(S_IFCHR)],
            &["etc/dev: device nodes and fifos"],
        ),
        Case::new(
            "block device",
            vec![dev(S_IFBLK)],
            &["etc/dev: device nodes and fifos"],
        ),
        Case::new(
            "fifo",
            vec![dev(S_IFIFO)],
            &["etc/dev: device nodes and fifos"],
        ),
        Case::new(
            "file over a directory of the root",
            vec![file("usr")],
            &["usr: is a directory in the root"],
        ),
        Case::new(
            "control character in a path",
            vec![file("etc/a\nb")],
            &["control character"],
        ),
        Case::new(
            "symlink with an empty target",
            vec![pkg("evil", link("etc/e", ""))],
            &["symlink target is empty"],
        ),
    ]
}

/// The blocks of an uncompressed package: the header, the ADB payload, the bytes after
/// the ADB block (SIG and DATA blocks).
fn split(bytes: &[u8]) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let word = u32::from_le_bytes(bytes[8..12].try_into().unwrap());
    let size = (word & 0x3fff_ffff) as usize;
    let end = 8 + size.div_ceil(8) * 8;
    (
        bytes[..8].to_vec(),
        bytes[12..8 + size].to_vec(),
        bytes[end..].to_vec(),
    )
}

/// The package's DATA blocks under another ADB block, signed by the trusted key, deflated.
fn resigned(unsigned: &[u8], adb: &[u8]) -> Vec<u8> {
    let (_, _, data) = split(unsigned);
    let mut f = FileWriter::new(Vec::new(), SCHEMA_PACKAGE, Compression::Deflate).unwrap();
    container::write_block(&mut f, BLOCK_ADB, adb).unwrap();
    let s = sig::sign(key(), SCHEMA_PACKAGE, adb).unwrap();
    container::write_block(&mut f, BLOCK_SIG, &s.to_bytes()).unwrap();
    std::io::Write::write_all(&mut f, &data).unwrap();
    f.finish().unwrap()
}

/// The 32-bit tag of an integer up to 2^28 as the ADB block stores it.
fn int_tag(v: u32) -> [u8; 4] {
    (0x1000_0000 | v).to_le_bytes()
}

/// Damaged contents, truncations, trailing bytes. (A signature over other bytes matters
/// only for a package trusted by its own signature, which `apk add` from an index is not:
/// `v3_hostile.rs` in the library has those.)
fn integrity() -> Vec<Case> {
    let plain = |byte: u8| {
        let f = move |b: &mut PackageV3Builder| {
            b.push_file("etc/x", root_acl(0o644), T, vec![byte; 5000])
        };
        build(
            PackageV3Builder::new(info3("evil", "1.0-r0")),
            f,
            Compression::None,
        )
    };
    let good = plain(7);
    let rec = record(&good).unwrap();
    let mut flipped = good.clone();
    let at = flipped.len() - 100;
    flipped[at] ^= 1;
    let mut cases = vec![Case::lying(
        "content not matching its hash",
        flipped,
        rec.clone(),
        &["etc/x: content does not match its hash"],
    )];
    let (_, _, rest) = split(&good);
    let adb_end = good.len() - rest.len();
    let ends = "format: file ends";
    let cuts = [
        ("in the ADB block", 40, ends),
        (
            "after the ADB block",
            adb_end,
            "etc/x: no DATA block for its content",
        ),
        ("in the SIG block", adb_end + 20, ends),
        ("in the data", good.len() - 2000, ends),
        (
            "one byte short",
            good.len() - 1,
            "file ends inside a block's padding",
        ),
    ];
    for (label, at, expect) in cuts {
        let name = format!("truncated {label}");
        cases.push(Case::lying(
            &name,
            good[..at].to_vec(),
            rec.clone(),
            &[expect],
        ));
    }
    // An ADB block claiming 512 MiB: refused from its header, before it is read.
    let mut bomb = b"ADB.pckg".to_vec();
    bomb.extend_from_slice(&container::block_header(BLOCK_ADB, 512 << 20));
    cases.push(Case::lying(
        "an ADB block of 512 MiB",
        bomb,
        rec.clone(),
        &["limit: "],
    ));
    let mut junk = good.clone();
    junk.extend_from_slice(b"junk");
    cases.push(Case::lying(
        "trailing bytes",
        junk,
        rec.clone(),
        &["format: "],
    ));
    cases
}

/// Fields apk-tools cannot read or write; content beyond the declared installed size.
fn limits() -> Vec<Case> {
    let with = |f: &dyn Fn(&mut PkgInfoV3)| {
        let mut i = info3("evil", "1.0-r0");
        f(&mut i);
        build(
            PackageV3Builder::new(i),
            |b| b.push_file("etc/x", root_acl(0o644), T, b"x".to_vec()),
            Compression::Deflate,
        )
    };
    let deps = |s: String| -> Vec<alpinist_apk::dep::Dependency> {
        s.split(' ')
            .map(|d| alpinist_apk::dep::Dependency::parse_metadata(d).unwrap())
            .collect()
    };
    // 64 MiB of zeros in two files, declared as 100 bytes installed.
    let zeros = |b: &mut PackageV3Builder| {
        b.push_file("etc/z1", root_acl(0o644), T, vec![0u8; 32 << 20]);
        b.push_file("etc/z2", root_acl(0o644), T, vec![0u8; 32 << 20]);
    };
    let mut bomb = PackageV3Builder::new(info3("evil", "1.0-r0"));
    zeros(&mut bomb);
    let unsigned = bomb.build(None, Compression::None).unwrap();
    let (_, mut adb, _) = split(&unsigned);
    let at = adb
        .windows(4)
        .position(|w| w == int_tag(64 << 20))
        .expect("the installed size");
    adb[at..at + 4].copy_from_slice(&int_tag(100));
    let bomb = resigned(&unsigned, &adb);
    vec![
        Case::new(
            "1 MiB description",
            vec![with(&|i| i.description = "d".repeat(1 << 20))],
            &["fields too long for apk's database"],
        ),
        Case::new(
            "300-byte dependency",
            vec![with(&|i| i.depends = deps(format!("!{}", "d".repeat(300))))],
            &["D: entry 0 is 301 bytes"],
        ),
        Case::new(
            "15000 dependencies",
            vec![with(&|i| {
                i.depends = deps(
                    (0..15000)
                        .map(|n| format!("!dep{n}"))
                        .collect::<Vec<_>>()
                        .join(" "),
                )
            })],
            &["D: line is"],
        ),
        Case::new(
            "1000 replaces",
            vec![with(&|i| {
                i.replaces = deps(
                    (0..1000)
                        .map(|n| format!("rep{n}"))
                        .collect::<Vec<_>>()
                        .join(" "),
                )
            })],
            &["database lines too long"],
        ),
        Case::new(
            "64 MiB declared as 100 bytes installed",
            vec![bomb],
            &["files hold more than the 100 bytes the package's installed-size declares"],
        ),
    ]
}

/// Unsigned, untrusted, lying and malformed indexes.
fn indexes(w: &Base) -> Vec<Case> {
    let evil = pkg("evilpkg", |b| {
        b.push_file("etc/x", root_acl(0o644), T, b"x".to_vec())
    });
    let rec = record(&evil).unwrap();
    let files = vec![(file_name(&rec), evil.clone())];
    let with_index = |name: &str, idx: Vec<u8>, expect: &[&str]| {
        let mut c = Case::new(name, Vec::new(), expect).adding(&["evilpkg"]);
        c.files = files.clone();
        c.index = idx;
        c
    };
    let mut good = rec.clone();
    good.name = "good".into();
    good.version = "9.9-r0".into();
    let mut other_hash = rec.clone();
    let other = pkg("evilpkg", |b| {
        b.push_file("etc/x", root_acl(0o644), T, b"other".to_vec())
    });
    other_hash.hashes = record(&other).unwrap().hashes;
    let mut modified = index(std::slice::from_ref(&rec), "", Some(key()));
    let at = modified.windows(7).position(|w| w == b"evilpkg").unwrap();
    modified[at] = b'E';
    let v2 = package(
        info("v2pkg", "1.0-r0"),
        vec![dir("etc"), file("etc/v2", b"x")],
        Some(trusted()),
    );
    let mut v2_rec = record(&v2).unwrap();
    v2_rec.hashes = rec.hashes.clone();
    let mut v2_case = Case::lying(
        "a v2 package under a v3 hash",
        v2,
        v2_rec,
        &["does not match the index's C:"],
    );
    v2_case.add = vec!["v2pkg".into()];
    let spec = format!("../../../{}", w.canary_abs("x").trim_start_matches('/'));
    vec![
        with_index(
            "unsigned index",
            index(std::slice::from_ref(&rec), "", None),
            &["signature: not signed", "--allow-untrusted"],
        ),
        with_index(
            "untrusted index",
            index(std::slice::from_ref(&rec), "", Some(other_key())),
            &["signature: no trusted key for key id"],
        ),
        with_index(
            "index modified after signing",
            modified,
            &["signature: the ADB block does not match its intact signature"],
        ),
        Case::lying(
            "index names another package",
            evil.clone(),
            good,
            &["the package is evilpkg-1.0-r0 but the index lists it as good-9.9-r0"],
        ),
        Case::lying(
            "index hash of another package",
            other,
            rec.clone(),
            &["identity: the ADB block's SHA-256"],
        ),
        v2_case,
        with_index(
            "pkgname-spec leaving the repository",
            index(std::slice::from_ref(&rec), &spec, Some(key())),
            &["pkgname-spec", "path contains '..'"],
        ),
        with_index(
            "pkgname-spec naming a URL",
            index(
                std::slice::from_ref(&rec),
                "https://example.org/${name}.apk",
                Some(key()),
            ),
            &["only local repositories"],
        ),
        with_index(
            "a package's signature on an index",
            {
                let mut i = index(std::slice::from_ref(&rec), "", None);
                let (_, adb, _) = split(&i);
                let s = sig::sign(key(), SCHEMA_PACKAGE, &adb).unwrap();
                container::write_block(&mut i, BLOCK_SIG, &s.to_bytes()).unwrap();
                i
            },
            &["signature: "],
        ),
        with_index(
            "not an index",
            evil.clone(),
            &["format: schema 'pckg', not 'indx'"],
        ),
    ]
}

fn all_cases(b: &Base) -> Vec<Case> {
    let mut cases = installer_names(b);
    cases.extend(escapes(b));
    cases.extend(bad_entries(b));
    cases.extend(integrity());
    cases.extend(limits());
    cases.extend(indexes(b));
    cases
}

#[test]
fn hostile_v3_packages_leave_the_root_and_the_host_unchanged() {
    let base = Base::new();
    let cases = all_cases(&base);
    let mut failures = Vec::new();
    for (n, case) in cases.iter().enumerate() {
        let w = World::new(&base, n);
        if let Err(e) = run(case, &w) {
            failures.push(format!("{}: {e}", case.name));
        }
        // What to add, for trying the same repositories with apk-tools by hand
        // (`apk_tools_compare_v3.sh`): the case, the hostile names, the first names.
        let first: Vec<String> = case.first.iter().map(|b| evil_record(b).name).collect();
        let what = format!(
            "{}\n{}\n{}\n",
            case.name,
            case.add.join(" "),
            first.join(" ")
        );
        std::fs::write(w.work.join("case.txt"), what).unwrap();
    }
    std::fs::write(base.dir.join("canary.txt"), base.canary_abs("")).unwrap();
    base.keep();
    assert!(cases.len() >= 60, "only {} cases", cases.len());
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// As root: the same suite as `nobody`, with the component walk instead of `openat2`.
#[test]
fn hostile_v3_packages_as_an_unprivileged_user() {
    run_as_nobody("hostile_v3", &["hostile_v3_packages_leave"]);
}
