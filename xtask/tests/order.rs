//! Build order comes from the recipes: build dependencies, the runtime `depends` of the
//! packages those install, subpackages and `provides`; a cycle is reported with its members.

mod common;

use std::path::{Path, PathBuf};

use xtask::stages::packages::order::{needs, providers, topo_order};
use xtask::stages::packages::{self as build, Aport, BuildSettings};

fn aport(root: &Path, name: &str, extra: &str) -> PathBuf {
    let dir = root.join("main").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("APKBUILD"),
        format!(
            "# Maintainer: Alpinist Fixtures <fixtures@alpinist.invalid>\npkgname={name}\npkgver=1.0\npkgrel=0\npkgdesc=\"order test\"\nurl=\"https://alpinist.invalid\"\narch=\"noarch\"\nlicense=\"MIT\"\noptions=\"!check\"\n{extra}\npackage() {{\n\tmkdir -p \"$pkgdir\"\n}}\n"
        ),
    )
    .unwrap();
    dir
}

fn evaluate(tmp: &Path, dirs: &[PathBuf]) -> Vec<Aport> {
    let cx = common::context(tmp);
    let arch = cx.arches.get("aarch64").unwrap().clone();
    dirs.iter()
        .map(|d| build::evaluate(&cx, &arch, d, &BuildSettings::default()).unwrap())
        .collect()
}

fn names(aports: &[Aport], order: &[usize]) -> Vec<String> {
    order
        .iter()
        .map(|&i| aports[i].recipe.pkgname.clone())
        .collect()
}

#[test]
fn order_follows_build_deps_runtime_depends_and_provides() {
    let tmp = tempfile::tempdir().unwrap();
    let co = tmp.path().join("aports");
    // c builds against b's -dev subpackage; b's packages depend at runtime on what a
    // provides (so a must be built before c's sysroot can be made); d is unrelated.
    let dirs = vec![
        aport(&co, "c", "makedepends_host=\"b-dev\""),
        aport(&co, "d", ""),
        aport(
            &co,
            "b",
            "depends=\"so:liba.so.1\"\nsubpackages=\"$pkgname-dev\"",
        ),
        aport(&co, "a", "provides=\"so:liba.so.1=1\""),
    ];
    let aports = evaluate(tmp.path(), &dirs);
    let provider = providers(&aports);
    let needs = needs(&aports, &provider);
    let by_name = |n: &str| aports.iter().position(|a| a.recipe.pkgname == n).unwrap();
    let need_names = |n: &str| -> Vec<String> {
        needs[by_name(n)]
            .iter()
            .map(|&j| aports[j].recipe.pkgname.clone())
            .collect()
    };
    let mut c = need_names("c");
    c.sort();
    assert_eq!(
        c,
        ["a", "b"],
        "b-dev is b's; b's runtime so:liba.so.1 is a's"
    );
    assert!(
        need_names("b").is_empty(),
        "runtime depends alone order nothing"
    );
    assert!(need_names("d").is_empty());
    let order = names(&aports, &topo_order(&aports, &needs).unwrap());
    let pos = |n: &str| order.iter().position(|x| x == n).unwrap();
    assert!(pos("a") < pos("c") && pos("b") < pos("c"), "{order:?}");
}

#[test]
fn a_cycle_is_reported_with_its_members() {
    let tmp = tempfile::tempdir().unwrap();
    let co = tmp.path().join("aports");
    let dirs = vec![
        aport(&co, "x", "makedepends_host=\"y\""),
        aport(&co, "y", "makedepends_build=\"z\""),
        // Build-side: a host-side dependency of z would also be one of y's, through
        // z's libraries (x -> y -> x).
        aport(&co, "z", "makedepends_build=\"x\""),
    ];
    let aports = evaluate(tmp.path(), &dirs);
    let provider = providers(&aports);
    let needs = needs(&aports, &provider);
    let err = format!("{:#}", topo_order(&aports, &needs).unwrap_err());
    assert!(err.contains("dependency cycle"), "{err}");
    assert!(err.contains("x -> y -> z -> x"), "{err}");
}

#[test]
fn the_libraries_a_dependency_links_against_come_into_the_sysroot_too() {
    // tar needs acl-dev; acl-libs is linked against attr's libattr.so.1 (a traced so:
    // dependency its recipe never names), so attr must be built before tar too.
    let tmp = tempfile::tempdir().unwrap();
    let co = tmp.path().join("aports");
    let dirs = vec![
        aport(&co, "attr", "subpackages=\"attr-dev\""),
        aport(
            &co,
            "acl",
            "subpackages=\"acl-dev\"\nmakedepends_host=\"attr-dev\"",
        ),
        aport(&co, "tar", "makedepends_host=\"acl-dev\""),
    ];
    let aports = evaluate(tmp.path(), &dirs);
    let provider = providers(&aports);
    let needs = needs(&aports, &provider);
    let tar = aports
        .iter()
        .position(|a| a.recipe.pkgname == "tar")
        .unwrap();
    let mut names: Vec<&str> = needs[tar]
        .iter()
        .map(|&j| aports[j].recipe.pkgname.as_str())
        .collect();
    names.sort();
    assert_eq!(names, ["acl", "attr"]);
}

#[test]
fn a_revision_override_builds_the_aport_as_it_was_at_that_commit() {
    let tmp = tempfile::tempdir().unwrap();
    let co = tmp.path().join("aports");
    let git = |args: &[&str]| {
        let st = std::process::Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@t", "-C"])
            .arg(&co)
            .args(args)
            .status()
            .unwrap();
        assert!(st.success(), "git {args:?}");
    };
    let dir = aport(&co, "demo", "");
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "demo 1.0"]);
    let old = String::from_utf8(
        std::process::Command::new("git")
            .arg("-C")
            .arg(&co)
            .args(["rev-parse", "HEAD"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_string();
    let text = std::fs::read_to_string(dir.join("APKBUILD")).unwrap();
    std::fs::write(
        dir.join("APKBUILD"),
        text.replace("pkgver=1.0", "pkgver=2.0"),
    )
    .unwrap();
    git(&["commit", "-q", "-a", "-m", "demo 2.0"]);

    let cx = common::context(tmp.path());
    let arch = cx.arches.get("aarch64").unwrap().clone();
    let now = build::evaluate(&cx, &arch, &dir, &BuildSettings::default()).unwrap();
    assert_eq!(now.recipe.pkgver, "2.0");
    let mut settings = BuildSettings::default();
    settings
        .aport_revision
        .insert("demo".into(), old[..11].to_string());
    let then = build::evaluate(&cx, &arch, &dir, &settings).unwrap();
    assert_eq!(then.recipe.pkgver, "1.0");
    assert_eq!(then.commit, old, "the recipe's commit is the older one");
    assert!(
        then.overrides.iter().any(|o| o.contains(&old[..12])),
        "{:?}",
        then.overrides
    );
    // The user's checkout is untouched.
    assert!(std::fs::read_to_string(dir.join("APKBUILD"))
        .unwrap()
        .contains("pkgver=2.0"));
}
