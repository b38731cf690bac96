//! Hostile packages and repositories against the `apk` binary.
//!
//! Every case builds its packages here (nothing is committed as a binary), in a fresh root
//! made by `apk add --initdb` with a benign base package, next to a canary directory
//! outside the root. A hostile `apk add` must exit non-zero with one line on stderr that
//! says what is wrong, and leave the root (database included) and the canary exactly as
//! they were: the same paths, types, modes, owners, file mtimes and contents.
//!
//! The suite runs as the user running the tests, and, when that is root, once more as
//! `nobody` (`setpriv` from util-linux), from copies of the binaries, with the kernel's
//! `openat2` turned off (`ALPINIST_NO_OPENAT2`) so that the component-by-component walk
//! is what is tested there.

mod common;
#[path = "hostile/harness.rs"]
mod harness;

use alpinist_apk::pkginfo::PkgInfo;
use alpinist_apk::tarball::{self, EntryType, PAX_CHECKSUM_SHA1};
use common::hostile::*;
use common::*;
use harness::*;

/// Symlinks at every name the installer writes (and the temporary names it used to).
fn installer_names(b: &Base) -> Vec<Case> {
    let only = "only the installer writes";
    let names = [
        ("installed", "lib/apk/db/installed", only),
        ("triggers", "lib/apk/db/triggers", only),
        ("scripts.tar", "lib/apk/db/scripts.tar", only),
        ("scripts.tar.gz", "lib/apk/db/scripts.tar.gz", only),
        ("lock", "lib/apk/db/lock", only),
        (
            "installed.new",
            "lib/apk/db/installed.new",
            "only the installer writes in lib/apk/db",
        ),
        (
            "scripts.tar.new",
            "lib/apk/db/scripts.tar.new",
            "only the installer writes in lib/apk/db",
        ),
        (
            "triggers.new",
            "lib/apk/db/triggers.new",
            "only the installer writes in lib/apk/db",
        ),
        ("world", "etc/apk/world", only),
        (
            "world.new",
            "etc/apk/world.new",
            "etc/apk/world.new is a name only the installer uses",
        ),
        ("arch", "etc/apk/arch", only),
        ("repositories", "etc/apk/repositories", only),
        (
            "repositories.new",
            "etc/apk/repositories.new",
            "is a name only the installer uses",
        ),
        ("apk.log", "var/log/apk.log", only),
        (
            "keys dir",
            "etc/apk/keys",
            "is a directory the installer writes into",
        ),
    ];
    let mut cases = Vec::new();
    for (label, path, expect) in names {
        let depth = path.matches('/').count();
        for (how, target) in [
            ("absolute", b.canary_abs("file")),
            ("relative", b.canary_rel(depth, "file")),
        ] {
            let p = pkg("evil", under(path, symlink(path, &target)));
            let name = Box::leak(format!("symlink at {label}, {how}").into_boxed_str());
            cases.push(
                Case::new(name, vec![p], &["evil"], "evil-1.0-r0 (")
                    .expecting(&format!("{path}: "))
                    .expecting(expect),
            );
        }
    }
    cases
}

/// Symlink-then-directory and symlink-then-file in one package.
fn escapes(w: &Base) -> Vec<Case> {
    let (abs_dir, rel_dir) = (w.canary_abs("sub"), w.canary_rel(1, "sub"));
    let (abs_file, rel_file) = (w.canary_abs("file"), w.canary_rel(1, "file"));
    let link_then_dir = |t: &str| {
        vec![
            dir("usr"),
            symlink("usr/x", t),
            dir("usr/x"),
            file("usr/x/pwned", b"gotcha"),
        ]
    };
    let dup = "usr/x: appears more than once in the package";
    vec![
        Case::new(
            "symlink then dir, one package, absolute",
            vec![pkg("evil", link_then_dir(&abs_dir))],
            &["evil"],
            dup,
        ),
        Case::new(
            "symlink then dir, one package, relative",
            vec![pkg("evil", link_then_dir(&rel_dir))],
            &["evil"],
            dup,
        ),
        Case::new(
            "symlink then file, one package, absolute",
            vec![pkg(
                "evil",
                vec![
                    dir("usr"),
                    symlink("usr/x", &abs_file),
                    file("usr/x", b"gotcha"),
                ],
            )],
            &["evil"],
            dup,
        ),
        Case::new(
            "symlink then file, one package, relative",
            vec![pkg(
                "evil",
                vec![
                    dir("usr"),
                    symlink("usr/x", &rel_file),
                    file("usr/x", b"gotcha"),
                ],
            )],
            &["evil"],
            dup,
        ),
    ]
}

/// Symlink-then-directory and symlink-then-file across two packages, installed one after
/// the other or in one transaction, and through a symlink already in the root.
fn escapes_across(w: &Base) -> Vec<Case> {
    let (abs_dir, rel_dir) = (w.canary_abs("sub"), w.canary_rel(1, "sub"));
    let (abs_file, rel_file) = (w.canary_abs("file"), w.canary_rel(1, "file"));
    let dir_through = || vec![dir("usr"), dir("usr/x"), file("usr/x/pwned", b"gotcha")];
    let mut cases = vec![
        Case::new(
            "symlink then dir, two packages, relative",
            vec![pkg("evil", dir_through())],
            &["evil"],
            "would leave the root through symlink usr/x",
        )
        .first(vec![pkg(
            "plant",
            vec![dir("usr"), symlink("usr/x", &rel_dir)],
        )]),
        Case::new(
            "symlink then dir, two packages, absolute",
            vec![pkg("evil", dir_through())],
            &["evil"],
            "is not a directory in the root",
        )
        .first(vec![pkg(
            "plant",
            vec![dir("usr"), symlink("usr/x", &abs_dir)],
        )]),
        Case::new(
            "symlink then file, two packages, absolute",
            vec![pkg("evil", vec![dir("usr"), file("usr/x", b"gotcha")])],
            &["evil"],
            "usr/x: already owned by plant",
        )
        .first(vec![pkg(
            "plant",
            vec![dir("usr"), symlink("usr/x", &abs_file)],
        )]),
        Case::new(
            "symlink then file, two packages, relative",
            vec![pkg("evil", vec![dir("usr"), file("usr/x", b"gotcha")])],
            &["evil"],
            "usr/x: already owned by plant",
        )
        .first(vec![pkg(
            "plant",
            vec![dir("usr"), symlink("usr/x", &rel_file)],
        )]),
        Case::new(
            "symlink then dir, one transaction, relative",
            vec![
                pkg("aplant", vec![dir("usr"), symlink("usr/x", &rel_dir)]),
                pkg("evil", dir_through()),
            ],
            &["aplant", "evil"],
            "would leave the root through symlink usr/x",
        ),
        Case::new(
            "symlink then dir, one transaction, absolute",
            vec![
                pkg("aplant", vec![dir("usr"), symlink("usr/x", &abs_dir)]),
                pkg("evil", dir_through()),
            ],
            &["aplant", "evil"],
            "is not a directory in the root",
        ),
        Case::new(
            "symlink to a missing dir, then dir (issue 12.5)",
            vec![pkg(
                "evil",
                vec![
                    symlink("lnk", "/tmp/nowhere/x"),
                    dir("lnk"),
                    file("lnk/f", b"x"),
                ],
            )],
            &["evil"],
            "lnk: appears more than once",
        ),
        Case::new(
            "symlink to a missing dir, then dir, two packages",
            vec![pkg("evil", vec![dir("lnk"), file("lnk/f", b"x")])],
            &["evil"],
            "lnk: its directory tmp/nowhere is not a directory in the root",
        )
        .first(vec![pkg("plant", vec![symlink("lnk", "/tmp/nowhere/x")])]),
    ];
    // A symlink that climbs far past the root (apk-tools follows it to the host's /).
    let far = format!("{}{}", "../".repeat(40), abs_dir.trim_start_matches('/'));
    cases.push(
        Case::new(
            "dir through a symlink up the tree",
            vec![pkg(
                "evil",
                vec![dir("usr"), dir("usr/up"), file("usr/up/pwned", b"x")],
            )],
            &["evil"],
            "would leave the root through symlink usr/up",
        )
        .first(vec![pkg(
            "plant",
            vec![dir("usr"), symlink("usr/up", &far)],
        )]),
    );
    cases
}

/// Hard links out, `..` and absolute paths, devices and fifos, duplicates.
fn bad_entries(w: &Base) -> Vec<Case> {
    let out = "is not an earlier file of the package";
    vec![
        Case::new(
            "hard link to a host file",
            vec![pkg(
                "evil",
                vec![dir("etc"), hardlink("etc/h", "/etc/passwd")],
            )],
            &["evil"],
            out,
        ),
        Case::new(
            "hard link up and out",
            vec![pkg(
                "evil",
                vec![dir("etc"), hardlink("etc/h", &w.canary_rel(1, "file"))],
            )],
            &["evil"],
            out,
        ),
        Case::new(
            "hard link to a file of another package",
            vec![pkg(
                "evil",
                vec![dir("etc"), hardlink("etc/h", "etc/base.conf")],
            )],
            &["evil"],
            out,
        ),
        Case::new(
            "dot-dot path",
            vec![pkg("evil", vec![dir("usr"), file("usr/../../pwned", b"x")])],
            &["evil"],
            "path contains '..'",
        ),
        Case::new(
            "absolute path",
            vec![pkg("evil", vec![file(&w.canary_abs("pwned"), b"x")])],
            &["evil"],
            "absolute path",
        ),
        Case::new(
            "character device",
            vec![pkg(
                "evil",
                vec![dir("etc"), special("etc/null", EntryType::Char)],
            )],
            &["evil"],
            "device nodes and fifos",
        ),
        Case::new(
            "block device",
            vec![pkg(
                "evil",
                vec![dir("etc"), special("etc/sda", EntryType::Block)],
            )],
            &["evil"],
            "device nodes and fifos",
        ),
        Case::new(
            "fifo",
            vec![pkg(
                "evil",
                vec![dir("etc"), special("etc/fifo", EntryType::Fifo)],
            )],
            &["evil"],
            "device nodes and fifos",
        ),
        Case::new(
            "file, symlink, file at one path",
            vec![pkg(
                "evil",
                vec![
                    dir("etc"),
                    file("etc/x", b"1"),
                    symlink("etc/x", "y"),
                    file("etc/x", b"2"),
                ],
            )],
            &["evil"],
            "etc/x: appears more than once",
        ),
        Case::new(
            "directory twice",
            vec![pkg("evil", vec![dir("etc"), dir("etc")])],
            &["evil"],
            "etc: appears more than once",
        ),
        Case::new(
            "file over a directory of the root",
            vec![pkg("evil", vec![file("usr", b"x")])],
            &["evil"],
            "usr: is a directory in the root",
        ),
        Case::new(
            "control character in a path",
            vec![pkg("evil", vec![dir("etc"), file("etc/a\nb", b"x")])],
            &["evil"],
            "etc/a\\nb: control character",
        ),
    ]
}

/// A package whose file checksum record is wrong.
fn wrong_file_checksum() -> Vec<u8> {
    let (mut h, d) = file("etc/x", b"hello");
    h.pax.push((PAX_CHECKSUM_SHA1.into(), vec![b'0'; 40]));
    pkg("evil", vec![dir("etc"), (h, d)])
}

/// The signature and control of one package with the data of another.
fn wrong_datahash() -> Vec<u8> {
    let a = pkg("evil", vec![dir("etc"), file("etc/x", b"a")]);
    let b = pkg("evil", vec![dir("etc"), file("etc/x", b"b")]);
    let (ma, mb) = (members(&a), members(&b));
    let mut out = a[..ma[1].1].to_vec();
    out.extend_from_slice(&b[mb[2].0..]);
    out
}

fn members(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < bytes.len() {
        let (_, r) = tarball::inflate_member(bytes, start, u64::MAX).unwrap();
        out.push((r.start, r.end));
        start = r.end;
    }
    out
}

/// Wrong checksums, truncation at every member boundary, no checksum record.
fn integrity() -> Vec<Case> {
    let mut cases = vec![
        Case::new(
            "wrong file checksum",
            vec![wrong_file_checksum()],
            &["evil"],
            "etc/x: content does not match",
        ),
        Case::new(
            "wrong data checksum",
            vec![wrong_datahash()],
            &["evil"],
            "does not match datahash",
        ),
    ];
    let (mut h, d) = file("etc/x", b"hello");
    h.pax.push((PAX_CHECKSUM_SHA1.into(), Vec::new()));
    cases.push(Case::new(
        "malformed checksum record",
        vec![pkg("evil", vec![dir("etc"), (h, d)])],
        &["evil"],
        "malformed APK-TOOLS.checksum.SHA1",
    ));
    let good = pkg("evil", vec![dir("etc"), file("etc/x", &[7u8; 5000])]);
    let m = members(&good);
    let cuts = [
        ("in the signature", m[0].1 / 2, "evil-1.0-r0.apk"),
        ("after the signature", m[0].1, "file ends after signature"),
        ("in the control", (m[1].0 + m[1].1) / 2, "evil-1.0-r0.apk"),
        ("after the control", m[1].1, "file ends after control"),
        ("in the data", (m[2].0 + m[2].1) / 2, "data: "),
        ("before the data trailer", m[2].1 - 8, "data: "),
        ("one byte short", m[2].1 - 1, "data: "),
    ];
    for (label, at, expect) in cuts {
        let mut case = Case::new(
            Box::leak(format!("truncated {label}").into_boxed_str()),
            vec![good[..at].to_vec()],
            &["evil"],
            expect,
        );
        case.records = Some(vec![raw_record(&good)]);
        cases.push(case);
    }
    cases
}

/// Fields apk-tools cannot read or write, and gzip bombs.
fn limits() -> Vec<Case> {
    let with = |f: &dyn Fn(&mut PkgInfo)| {
        let mut i = info("evil", "1.0-r0");
        f(&mut i);
        package(i, vec![dir("etc"), file("etc/x", b"x")], Some(trusted()))
    };
    let mut bomb = alpinist_apk::package::PackageBuilder::new(info("evil", "1.0-r0"), EPOCH);
    bomb.compute_size = false;
    bomb.pkginfo.size = 100;
    let (h, d) = dir("etc");
    bomb.push_entry(h, d);
    let (h, d) = file("etc/zeros", &vec![0u8; 64 << 20]);
    bomb.push_entry(h, d);
    let bomb = bomb.build(Some(trusted())).unwrap();
    let mut control_bomb =
        alpinist_apk::package::PackageBuilder::new(info("evil", "1.0-r0"), EPOCH);
    control_bomb.scripts.push((
        alpinist_apk::db::ScriptKind::PostInstall,
        vec![b'#'; 17 << 20],
    ));
    let control_bomb = control_bomb.build(Some(trusted())).unwrap();
    vec![
        Case::new(
            "1 MiB pkgdesc",
            vec![with(&|i| i.pkgdesc = "d".repeat(1 << 20))],
            &["evil"],
            "more than apk reads",
        ),
        Case::new(
            "4 KiB pkgdesc",
            vec![with(&|i| i.pkgdesc = "d".repeat(4096))],
            &["evil"],
            "fields too long for apk's database",
        ),
        Case::new(
            "300-byte dependency",
            vec![with(&|i| i.depends = vec![format!("!{}", "d".repeat(300))])],
            &["evil"],
            "D: entry 0 is 301 bytes",
        ),
        Case::new(
            "15000 dependencies",
            vec![with(&|i| {
                i.depends = (0..15000).map(|n| format!("!dep{n}")).collect()
            })],
            &["evil"],
            "D: line is",
        ),
        Case::new(
            "1000 replaces",
            vec![with(&|i| {
                i.replaces = (0..1000).map(|n| format!("rep{n}")).collect()
            })],
            &["evil"],
            "database lines too long",
        ),
        Case::new(
            "gzip bomb in the data",
            vec![bomb],
            &["evil"],
            "files hold more than the 100 bytes .PKGINFO declares",
        ),
        Case::new(
            "gzip bomb in the control",
            vec![control_bomb],
            &["evil"],
            "member inflates to more than",
        ),
    ]
}

/// Unsigned, untrusted and lying indexes.
fn indexes() -> Vec<Case> {
    let evil = pkg("evilpkg", vec![dir("etc"), file("etc/x", b"x")]);
    let mut unsigned = Case::new(
        "unsigned index",
        vec![evil.clone()],
        &["evilpkg"],
        "index is not signed",
    );
    unsigned.index_signer = None;
    let mut untrusted = Case::new(
        "untrusted index",
        vec![evil.clone()],
        &["evilpkg"],
        "no trusted key",
    );
    untrusted.index_signer = Some(&signers().1);
    // The index says `good 9.9-r0`; the file at good-9.9-r0.apk is evilpkg.
    let mut lying = Case::new(
        "index names another package",
        vec![evil.clone()],
        &["good"],
        "the package is evilpkg-1.0-r0 but the index lists it as good-9.9-r0",
    );
    let mut r = raw_record(&evil);
    r.name = "good".into();
    r.version = "9.9-r0".into();
    lying.records = Some(vec![r]);
    let other = pkg("evilpkg", vec![dir("etc"), file("etc/x", b"other")]);
    let mut wrong_c = Case::new(
        "index C: of another package",
        vec![other],
        &["evilpkg"],
        "does not match the index's C:",
    );
    wrong_c.records = Some(vec![raw_record(&evil)]);
    let mut name_ctl = info("evil\u{1b}[31mred", "1.0-r0");
    name_ctl.origin = "x".into();
    let ctl = package(
        name_ctl,
        vec![dir("etc"), file("etc/base.conf", b"x")],
        Some(trusted()),
    );
    vec![
        unsigned,
        untrusted,
        lying,
        wrong_c,
        Case::new(
            "control characters in a name",
            vec![ctl],
            &["evil\u{1b}[31mred"],
            "record evil\\u{1b}[31mred-1.0-r0.apk: a name or version that is not a plain file name",
        ),
    ]
}

fn all_cases(b: &Base) -> Vec<Case> {
    let mut cases = installer_names(b);
    cases.extend(escapes(b));
    cases.extend(escapes_across(b));
    cases.extend(bad_entries(b));
    cases.extend(integrity());
    cases.extend(limits());
    cases.extend(indexes());
    cases
}

#[test]
fn hostile_packages_leave_the_root_and_the_host_unchanged() {
    let base = Base::new();
    let cases = all_cases(&base);
    let mut failures = Vec::new();
    for (n, case) in cases.iter().enumerate() {
        let w = World::new(&base, n);
        if let Err(e) = run(case, &w) {
            failures.push(format!("{}: {e}", case.name));
        }
        // What to add, for trying the same repositories with apk-tools by hand.
        let what = format!("{}\n{}\n", case.name, case.add.join(" "));
        std::fs::write(w.work.join("case.txt"), what).unwrap();
    }
    base.keep();
    assert!(cases.len() >= 70, "only {} cases", cases.len());
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// What is hostile to a naive installer but fine here: names the installer no longer uses,
/// top-level dot names (apk skips them), replacing a symlink that points out of the root.
#[test]
fn inert_names_and_replaced_symlinks_stay_inside_the_root() {
    let base = Base::new();
    let w = World::new(&base, 0);
    let target = base.canary_abs("file");
    let canary = snapshot(&base.canary);
    let key_new = format!("etc/apk/keys/{}.new", trusted().key_name);
    let plant = pkg(
        "plant",
        vec![
            dir("etc"),
            dir("etc/apk"),
            dir("etc/apk/keys"),
            symlink(&key_new, &target),
            symlink(".alpinist-stage-0", &target),
            symlink("etc/link", &target),
        ],
    );
    let repo = w.repo("plant", &[plant], Some(trusted()));
    let (ok, out, err) = w.apk(&["-X", repo.to_str().unwrap(), "add", "plant"]);
    assert!(ok, "{out}{err}");
    assert!(!w.root.join(".alpinist-stage-0").exists());
    assert!(std::fs::symlink_metadata(w.root.join(&key_new))
        .unwrap()
        .is_symlink());
    // Keys copied again, world and repositories rewritten, and a package replacing the
    // symlink with a file: nothing reaches the canary.
    let mut i = info("fix", "1.0-r0");
    i.replaces = vec!["plant".into()];
    let fix = package(
        i,
        vec![dir("etc"), file("etc/link", b"inside")],
        Some(trusted()),
    );
    let repo = w.repo("fix", &[fix], Some(trusted()));
    let keys = base.keys.to_str().unwrap();
    let (ok, out, err) = w.apk(&[
        "--keys-dir",
        keys,
        "-X",
        repo.to_str().unwrap(),
        "add",
        "fix",
    ]);
    assert!(ok, "{out}{err}");
    assert_eq!(std::fs::read(w.root.join("etc/link")).unwrap(), b"inside");
    assert_eq!(snapshot(&base.canary), canary);
    // --allow-untrusted uses an unsigned index.
    let free = pkg("free", vec![dir("etc"), file("etc/free", b"x")]);
    let repo = w.repo("free", &[free], None);
    let (ok, _, err) = w.apk(&["-X", repo.to_str().unwrap(), "add", "free"]);
    assert!(!ok && err.contains("index is not signed"), "{err}");
    let (ok, out, err) = w.apk(&[
        "--allow-untrusted",
        "-X",
        repo.to_str().unwrap(),
        "add",
        "free",
    ]);
    assert!(ok, "{out}{err}");
    assert_eq!(snapshot(&base.canary), canary);
}

/// As root: the same suite as `nobody`, from copies of the binaries anyone can run, with
/// the component walk instead of `openat2`.
#[test]
fn hostile_packages_as_an_unprivileged_user() {
    run_as_nobody("hostile", &["hostile_packages_leave", "inert_names"]);
}
