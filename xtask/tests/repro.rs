//! `cargo xtask verify-repro --variations all` on the fixture set: every package
//! identical across two builds that differ in directory, time, alpinist's TZ, locale and
//! umask, make jobs, the sandbox's host name, the recipe's uid and gid, the order
//! directories list their files in (disorderfs), the checkout and the cache directory;
//! and a fixture that records its build time is caught, with the file and the first
//! differing bytes named.
//!
//! Needs the aarch64 toolchain (`cargo xtask test` builds it) and root (the sandbox).

mod common;

use std::process::Output;

/// The fixture set's aports that build something (the meta packages aside).
const FIXTURES: &[&str] = &[
    "libfoo",
    "foo-utils",
    "hello-scripts",
    "fixture-data",
    "split-demo",
    "cxx-hello",
    "nostrip-tool",
    "patched-hello",
    "subst-hello",
    "busybox",
    "alpinist-apk",
];

fn ready() {
    common::require_toolchain("aarch64");
}

fn verify_repro(dirs: &[std::path::PathBuf]) -> Output {
    verify_repro_with(&[], dirs)
}

fn verify_repro_with(global: &[&str], dirs: &[std::path::PathBuf]) -> Output {
    let repo = common::repo();
    common::xtask()
        .args(global)
        .arg("--mirror")
        .arg(format!(
            "file://{}/tests/fixtures/distfiles",
            repo.display()
        ))
        .args(["verify-repro", "--arch", "aarch64", "--variations", "all"])
        .arg("--sources")
        .arg(repo.join("tests/fixtures/sources.toml"))
        .args(dirs)
        .output()
        .unwrap()
}

#[test]
#[ignore = "needs the aarch64 toolchain: `cargo xtask test` builds it and runs it"]
fn the_fixture_set_is_identical_under_every_variation() {
    ready();
    let dirs: Vec<_> = FIXTURES
        .iter()
        .map(|a| common::repo().join("tests/fixtures/aports/main").join(a))
        .collect();
    let out = verify_repro(&dirs);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("TZ=Pacific/Chatham")
            && stdout.contains("LC_ALL=fr_FR.UTF-8")
            && stdout.contains("make -j1")
            && stdout.contains("umask 0077")
            && stdout.contains("ALPINIST_SANDBOX_HOSTNAME=")
            && stdout.contains("uid/gid 4242")
            && stdout.contains("file order: shuffle (disorderfs)")
            && stdout.contains("checkout: a copy elsewhere")
            && stdout.contains("cache directory: another"),
        "{stdout}"
    );
    let last = stdout.lines().last().unwrap_or_default();
    let n: usize = last.split(' ').next().unwrap().parse().unwrap();
    assert!(n >= 14, "{stdout}");
    assert_eq!(last, format!("{n} packages, {n} identical, 0 differ"));
}

#[test]
#[ignore = "needs the aarch64 toolchain: `cargo xtask test` builds it and runs it"]
fn a_package_that_records_its_build_time_is_caught() {
    ready();
    let out = verify_repro(&[common::repo().join("tests/fixtures/bad-aports/main/unrepro-date")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stdout.contains("unrepro-date-1.0-r0.apk: DIFFERS"),
        "{stdout}"
    );
    assert!(
        stdout.contains("data: /usr/share/unrepro-date/built-at content differs at byte"),
        "{stdout}"
    );
    // A text file: the line too, with both builds' dates.
    assert!(stdout.contains("; line 1: `20"), "{stdout}");
    assert!(
        !stdout.contains("/usr/share/unrepro-date/constant"),
        "{stdout}"
    );
    assert!(
        stdout.contains("1 packages, 0 identical, 1 differ"),
        "{stdout}"
    );
}

#[test]
#[ignore = "needs the aarch64 toolchain: `cargo xtask test` builds it and runs it"]
fn with_keep_going_a_failed_build_is_named_and_the_rest_compared() {
    ready();
    let repo = common::repo();
    let out = verify_repro_with(
        &["--keep-going"],
        &[
            repo.join("tests/fixtures/aports/main/patched-hello"),
            repo.join("tests/fixtures/bad-aports/main/bad-checksum"),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stdout.contains("patched-hello-1.0-r0.apk: identical"),
        "{stdout}"
    );
    assert!(
        stdout.contains("FAILED: first build: step pkg-aarch64-bad-checksum failed"),
        "{stdout}"
    );
    assert!(
        stdout.contains("FAILED: second build: step pkg-aarch64-bad-checksum failed"),
        "{stdout}"
    );
}
