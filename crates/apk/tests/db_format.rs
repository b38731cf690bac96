//! The record formats: `lib/apk/db/installed`, `APKINDEX` text, world and triggers.

use alpinist_apk::db::{
    self, Acl, DbError, InstalledDb, InstalledDir, InstalledFile, InstalledPackage, PackageInfo,
    ScriptKind,
};
use alpinist_apk::dep::Dependency;
use alpinist_apk::version::VersionOp;

const SOLVER_DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/testdata/apk-tools/solver"
);

/// The installed database of the spec's §7.1 example (apk 3 output), completed with the
/// header fields apk writes.
const INSTALLED: &str = "\
C:Q1GbrwRUtrkWxVxH0shpEtIwTgGQw=
P:hello
V:1.0-r0
A:x86_64
S:1496
I:23
T:test package
U:https://example.org
L:MIT
o:hello
t:1700000000
D:/bin/sh
p:cmd:hello=1.0-r0
r:oldhello
F:etc
F:etc/hello
R:conf
a:0:0:600
Z:Q1ddFVdxxninTO+M4pj5t1LMEMXXA=
F:usr
F:usr/bin
R:hello
a:0:0:755
Z:Q1srYsEBoVb18S3XGXz3rpQkFksRU=
F:usr/share
F:usr/share/hello
R:a.txt
Z:Q1xdhHNrpFF0fdXw650X4QTzaX70c=
R:hard.txt
Z:Q1xdhHNrpFF0fdXw650X4QTzaX70c=
R:link
a:0:0:777
Z:Q1G5fgg8Tln9KtgKA4irjc+mK5StQ=

";

/// Every optional field apk writes, in apk 3's order.
const FULL: &str = "\
C:Q1EyN5AdpAOBJWKMR89pp/C66o+OE=
P:a
V:1
S:1
I:1
T:
U:
L:

C:Q1La4irZmiPmPAKLBbjVfWy4zCpAU=
P:busybox
V:1.37.0-r23
A:aarch64
S:523456
I:1048576
T:Size optimized toolbox of many common UNIX utilities
U:https://busybox.net/
L:GPL-2.0-only
o:busybox
m:Sören Tempel <soeren+alpine@soeren-tempel.net>
t:1739212345
c:5f2c3ae1b0c1e2d3f4a5b6c7d8e9f0a1b2c3d4e5
k:100
D:so:libc.musl-aarch64.so.1 !busybox-extras<1.30
p:/bin/sh cmd:busybox=1.37.0-r23 cmd:sh=1.37.0-r23
i:busybox-binsh=1.37.0-r23 docs
g:tag1 tag2
r:busybox-initscripts
q:10
s:edge
f:fsxS
F:bin
M:0:0:755:Q1La4irZmiPmPAKLBbjVfWy4zCpAU=
R:busybox
a:0:0:4755
Z:Q1srYsEBoVb18S3XGXz3rpQkFksRU=
F:etc
M:0:0:700
R:securetty
Z:Q1xdhHNrpFF0fdXw650X4QTzaX70c=
F:var/empty
M:100:101:555

";

#[test]
fn installed_round_trip_is_byte_identical() {
    for text in [INSTALLED, FULL] {
        let db = InstalledDb::parse(text).unwrap();
        assert_eq!(db.to_text(), text);
    }
}

#[test]
fn installed_fields_are_read() {
    let db = InstalledDb::parse(FULL).unwrap();
    let bb = db.get("busybox").unwrap();
    assert_eq!(db.packages[0].info.name, "a");
    assert_eq!(bb.info.provider_priority, 100);
    assert_eq!(bb.info.build_time, 1739212345);
    assert_eq!(bb.info.depends.len(), 2);
    assert!(bb.info.depends[1].conflict);
    assert_eq!(bb.info.depends[1].op, VersionOp::LESS);
    assert_eq!(bb.info.provides[0], Dependency::new("/bin/sh"));
    assert_eq!(bb.info.install_if.len(), 2);
    assert_eq!(bb.tags, ["tag1", "tag2"]);
    assert_eq!(bb.replaces, [Dependency::new("busybox-initscripts")]);
    assert_eq!(bb.replaces_priority, 10);
    assert_eq!(bb.repository_tag.as_deref(), Some("edge"));
    assert!(bb.broken_files && bb.broken_script && bb.broken_xattr && bb.sha256_160);
    assert_eq!(bb.dirs.len(), 3);
    assert_eq!(
        bb.dirs[0].acl.xattr_digest.as_deref(),
        Some("Q1La4irZmiPmPAKLBbjVfWy4zCpAU=")
    );
    assert_eq!(bb.dirs[0].files[0].acl, Acl::new(0, 0, 0o4755));
    assert_eq!(bb.dirs[2].acl, Acl::new(100, 101, 0o555));
    assert_eq!(
        bb.file_paths().collect::<Vec<_>>(),
        ["bin/busybox", "etc/securetty"]
    );
    let stats = db.stats();
    assert_eq!(stats.packages, 2);
    assert_eq!(stats.files, 2);
    // bin, etc, var/empty, var and the root.
    assert_eq!(stats.dirs, 5);
    assert_eq!(stats.bytes, 1048577);
}

#[test]
fn packages_built_in_code_write_like_apk() {
    let mut info = PackageInfo::new("hello", "1.0-r0");
    info.checksum = "Q1GbrwRUtrkWxVxH0shpEtIwTgGQw=".into();
    info.arch = "x86_64".into();
    info.size = 1496;
    info.installed_size = 23;
    info.description = "test package".into();
    info.url = "https://example.org".into();
    info.license = "MIT".into();
    info.origin = "hello".into();
    info.build_time = 1700000000;
    info.depends.push(Dependency::new("/bin/sh"));
    info.provides.push(Dependency::versioned(
        "cmd:hello",
        VersionOp::EQUAL,
        "1.0-r0",
    ));
    let mut pkg = InstalledPackage::new(info);
    pkg.replaces.push(Dependency::new("oldhello"));
    pkg.dirs.push(InstalledDir::new("etc"));
    let conf = pkg.dir_mut("/etc/hello/");
    let mut file = InstalledFile::new("conf", Some("Q1ddFVdxxninTO+M4pj5t1LMEMXXA=".into()));
    file.acl = Acl::new(0, 0, 0o600);
    conf.files.push(file);
    pkg.dir_mut("usr");
    pkg.dir_mut("usr/bin").files.push(InstalledFile {
        name: "hello".into(),
        acl: Acl::new(0, 0, 0o755),
        digest: Some("Q1srYsEBoVb18S3XGXz3rpQkFksRU=".into()),
    });
    pkg.dir_mut("usr/share");
    let share = pkg.dir_mut("usr/share/hello");
    for (name, z) in [
        ("a.txt", "Q1xdhHNrpFF0fdXw650X4QTzaX70c="),
        ("hard.txt", "Q1xdhHNrpFF0fdXw650X4QTzaX70c="),
    ] {
        share.files.push(InstalledFile::new(name, Some(z.into())));
    }
    share.files.push(InstalledFile {
        name: "link".into(),
        acl: Acl::new(0, 0, 0o777),
        digest: Some("Q1G5fgg8Tln9KtgKA4irjc+mK5StQ=".into()),
    });
    let mut db = InstalledDb::default();
    db.insert(pkg);
    assert_eq!(db.to_text(), INSTALLED);
}

#[test]
fn installed_is_written_in_apk_order() {
    let mut db = InstalledDb::default();
    for (n, v) in [("zlib", "1"), ("B", "1"), ("a", "2"), ("b", "1")] {
        db.insert(InstalledPackage::new(PackageInfo::new(n, v)));
    }
    let names: Vec<&str> = db.sorted().iter().map(|p| p.info.name.as_str()).collect();
    assert_eq!(names, ["a", "B", "b", "zlib"]);
    assert!(db.to_text().starts_with("P:a\nV:2\n"));
    assert_eq!(db.remove("B").unwrap().info.name, "B");
    assert_eq!(db.packages.len(), 3);
}

#[test]
fn installed_errors() {
    assert!(matches!(
        InstalledDb::parse("P:a\nV:1\nR:orphan\n"),
        Err(DbError::Fdb { field: 'R', .. })
    ));
    assert!(matches!(
        InstalledDb::parse("P:a\nV:1\nX:new\n"),
        Err(DbError::UnknownField { field: 'X', .. })
    ));
    assert!(matches!(
        InstalledDb::parse("P:a\nV:1\nf:q\n"),
        Err(DbError::UnknownField { field: 'f', .. })
    ));
    assert!(matches!(
        InstalledDb::parse("P:a\n\n"),
        Err(DbError::Missing { field: 'V', .. })
    ));
    assert!(matches!(
        InstalledDb::parse("P:a\nV1\n"),
        Err(DbError::Syntax { line: 2, .. })
    ));
}

#[test]
fn index_records() {
    let text = "C:Q1x=\nP:a\nV:1\nD:b c>=2 x@tag d\np:so:liba.so.1=1 virt\ni:b c=1\nz:ignored\nQ:future\n\nP:b\nV:2\ni:e f@x\n";
    let pkgs = db::parse_index(text).unwrap();
    assert_eq!(pkgs.len(), 2);
    let a = &pkgs[0];
    // A word that is not a dependency ends the list and makes the package uninstallable.
    assert_eq!(a.depends.len(), 2);
    assert!(a.issues.bad_depends);
    assert_eq!(a.issues.unknown_fields, ['z', 'Q']);
    assert!(a.issues.uninstallable());
    assert_eq!(a.provides[1].version, None);
    // A bad install_if is dropped whole.
    assert!(pkgs[1].install_if.is_empty() && pkgs[1].issues.bad_install_if);
    assert!(!pkgs[1].issues.uninstallable());
}

/// Every index and installed database of the apk-tools solver suite reads and writes back
/// to the same packages.
#[test]
fn solver_fixtures_round_trip() {
    let mut files = 0;
    for entry in std::fs::read_dir(SOLVER_DATA).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        match path.extension().and_then(|e| e.to_str()) {
            Some("repo") => {
                let mut pkgs = db::parse_index(&text).unwrap();
                let written: String = pkgs.iter().map(PackageInfo::to_index_entry).collect();
                // What was wrong with a record is not written back.
                pkgs.iter_mut().for_each(|p| p.issues = Default::default());
                assert_eq!(db::parse_index(&written).unwrap(), pkgs, "{path:?}");
            }
            Some("installed") => {
                let db = InstalledDb::parse(&text).unwrap();
                let again = InstalledDb::parse(&db.to_text()).unwrap();
                assert_eq!(again.sorted(), db.sorted(), "{path:?}");
            }
            _ => continue,
        }
        files += 1;
    }
    assert!(files > 40, "{files} fixtures");
}

#[test]
fn world_file() {
    let world = db::parse_world("  zlib\nbusybox@edge>=1.36 !foo\n\nAlpine-base\n").unwrap();
    assert_eq!(world.len(), 4);
    assert_eq!(world[1].tag.as_deref(), Some("edge"));
    assert_eq!(
        db::write_world(&world),
        "Alpine-base\nbusybox@edge>=1.36\n!foo\nzlib\n"
    );
    assert_eq!(db::write_world(&[]), "\n");
    assert!(db::parse_world("foo=").is_err());
    assert!(db::parse_world("\n").unwrap().is_empty());
}

#[test]
fn triggers_file() {
    let mut db = InstalledDb::parse(FULL).unwrap();
    db.read_triggers(
        "Q1La4irZmiPmPAKLBbjVfWy4zCpAU= /usr/share/fonts/* +/etc/x\nQ1unknownpackageAAAAAAAAAAAAA= /x\n",
    )
    .unwrap();
    assert_eq!(
        db.get("busybox").unwrap().triggers,
        ["/usr/share/fonts/*", "+/etc/x"]
    );
    assert_eq!(
        db.triggers_text(),
        "Q1La4irZmiPmPAKLBbjVfWy4zCpAU= /usr/share/fonts/* +/etc/x\n"
    );
    assert!(db.read_triggers("garbage\n").is_err());
}

#[test]
fn script_names() {
    let db = InstalledDb::parse(INSTALLED).unwrap();
    let p = &db.packages[0];
    assert_eq!(
        p.script_entry_name(ScriptKind::PostInstall),
        "hello-1.0-r0.X119baf0454b6b916c55c47d2c86912d2304e0190c.post-install"
    );
    assert_eq!(
        ScriptKind::parse(".pre-upgrade"),
        Some(ScriptKind::PreUpgrade)
    );
    assert_eq!(ScriptKind::parse("trigger"), Some(ScriptKind::Trigger));
    assert_eq!(ScriptKind::parse("install"), None);
}
