//! A newcomer's machine, kept by the project: the fixture set bootstrapped with an empty
//! `--cache-dir` and empty `--distfiles` under /tmp, every source obtained by alpinist
//! itself — the fixture mirror served over HTTPS on loopback with a certificate from a
//! CA named only through `SSL_CERT_FILE`, greet-hello's release made again from two git
//! repositories (its tag and its submodule's commit), busybox from Debian's archive —
//! nothing placed by hand.
//!
//! The one thing the empty cache is given is the stage 1 toolchain's steps, linked from
//! the suite's store: `cargo xtask test` built them from an empty cache itself (in CI,
//! minutes before), and building them again here would double CI's time. The real
//! bootstrap's cold runs (docs/bootstrap.md) start with nothing at all.
//!
//! Needs the aarch64 toolchain (`cargo xtask test` builds it) and root (binfmt_misc).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::xtask;

/// The suite's stage 1 steps for aarch64 (`<key>-<name>` in its store), which the
/// bootstrap below would otherwise build again.
fn toolchain_steps() -> Vec<PathBuf> {
    let link = common::repo().join("build/toolchains/aarch64");
    let finished = std::fs::canonicalize(&link).unwrap_or_else(|e| {
        panic!(
            "{}: {e}: no aarch64 toolchain; `cargo xtask test` builds it",
            link.display()
        )
    });
    let store = finished.parent().unwrap().to_path_buf();
    let mut steps = vec![finished];
    for e in std::fs::read_dir(&store).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if ["-binutils-aarch64", "-gcc-aarch64", "-linux-headers-arm64"]
            .iter()
            .any(|s| name.ends_with(s))
        {
            steps.push(e.path());
        }
    }
    steps
}

/// An empty cache (but for the suite's stage 1 steps), empty distfiles and a build
/// directory, under `dir`.
fn empty_cache(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let (cache, distfiles, build) = (dir.join("cache"), dir.join("distfiles"), dir.join("build"));
    std::fs::create_dir_all(cache.join("store")).unwrap();
    std::fs::create_dir_all(&distfiles).unwrap();
    for step in toolchain_steps() {
        link_tree(&step, &cache.join("store").join(step.file_name().unwrap()));
    }
    (cache, distfiles, build)
}

/// `from` copied to `to` with hard links (the store's files are never written to).
fn link_tree(from: &Path, to: &Path) {
    let st = Command::new("cp")
        .arg("-al")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(st.success(), "cp -al {} {}", from.display(), to.display());
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
#[ignore = "needs the aarch64 toolchain and root: `cargo xtask test` sets them up and runs it"]
fn a_newcomer_s_fixture_bootstrap_obtains_every_source_itself() {
    common::require_toolchain("aarch64");
    common::require_root();
    // Under /tmp, as a clean clone's CI run and a user's scratch directory are: the
    // recipes' sandbox mounts a /tmp of its own.
    let tmp = tempfile::Builder::new()
        .prefix("alpinist-newcomer-")
        .tempdir_in("/tmp")
        .unwrap();
    let (cache, distfiles, build) = empty_cache(tmp.path());
    let server = common::https::serve(&common::repo().join("tests/fixtures/distfiles"));
    let mirror = format!("{}/fixtures", server.url);

    let out = xtask()
        .args([
            "bootstrap",
            "--arch",
            "aarch64",
            "--aports",
            "tests/fixtures/aports",
            "--set",
            "fixtures",
            "--no-image",
            "--mirror",
            &mirror,
        ])
        .arg("--cache-dir")
        .arg(&cache)
        .arg("--distfiles")
        .arg(&distfiles)
        .arg("--build-dir")
        .arg(&build)
        .env("SSL_CERT_FILE", &server.ca_pem)
        .env_remove("SSL_CERT_DIR")
        .env("no_proxy", "127.0.0.1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{stderr}");

    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(build.join("aarch64/report.json")).unwrap()).unwrap();
    assert_eq!(r["verified"], true, "{r}");
    let mut origins = Vec::new();
    for e in r["packages"].as_array().unwrap() {
        assert_eq!(
            e["result"], "built",
            "every aport built from an empty cache: {e}"
        );
        for s in e["sources"].as_array().unwrap() {
            if let Some(o) = s["origin"].as_str() {
                origins.push((e["aport"].as_str().unwrap().to_string(), o.to_string()));
            }
        }
    }
    // Every remote source came from the HTTPS mirror, git or Debian: none from the
    // fixture set's own file:// mirror, the distfiles or a cache.
    let origin_of = |aport: &str| -> String {
        origins
            .iter()
            .find(|(a, _)| a == aport)
            .unwrap_or_else(|| panic!("{aport} has no remote source in {origins:?}"))
            .1
            .clone()
    };
    for (aport, o) in &origins {
        assert!(
            o.starts_with(&mirror)
                || o.starts_with("git archive of ")
                || o.starts_with("Debian source package"),
            "{aport}: {o}"
        );
    }
    for aport in ["libfoo", "foo-utils", "subst-hello"] {
        assert!(
            origin_of(aport).starts_with(&mirror),
            "{aport}: {origins:?}"
        );
    }
    assert_eq!(
        origin_of("greet-hello"),
        "git archive of tag v1.0 of tests/fixtures/git/greet-hello.bundle + commit 13ac27ae1d334757f53845d8c485fa975cb636f4 of tests/fixtures/git/greet.bundle"
    );
    assert!(origin_of("busybox").starts_with("Debian source package busybox="));
    let served = server.requests.lock().unwrap().clone();
    for f in [
        "libfoo-1.2.3.tar.gz",
        "foo-utils-1.0.0.tar.gz",
        "subst-hello_1.0.orig.tar.xz",
    ] {
        assert!(
            served.iter().any(|s| s == &format!("200 /fixtures/{f}")),
            "{f} not served: {served:?}"
        );
    }
    // The files are in the empty directories now, verified, and in the cache for the
    // next checkout.
    let have = entries(&distfiles);
    for f in [
        "libfoo-1.2.3.tar.gz",
        "greet-hello-1.0.git-tag+greet.tar.gz",
    ] {
        assert!(have.iter().any(|h| h == f), "{f} not in {have:?}");
    }
    assert!(entries(&cache.join("distfiles"))
        .iter()
        .any(|h| h == "libfoo-1.2.3.tar.gz"));

    // greet-hello, made from the two repositories, runs: its version from the file the
    // substitute's `run` wrote, its greeting from the submodule's tree.
    let hello = run_in_root(&r, &build, tmp.path(), "greet-hello");
    assert_eq!(hello.trim(), "greet-hello 1.0: hello from the submodule");
}

/// The root filesystem of the report, with the fixture package `name` unpacked into it,
/// and `/usr/bin/<name>` run there under qemu; its output.
fn run_in_root(r: &serde_json::Value, build: &Path, scratch: &Path, name: &str) -> String {
    let root = scratch.join("root");
    std::fs::create_dir_all(&root).unwrap();
    let tarball = PathBuf::from(r["rootfs"].as_str().unwrap());
    common::run(
        Command::new("tar")
            .arg("-xzf")
            .arg(&tarball)
            .arg("-C")
            .arg(&root),
    );
    let apk = std::fs::read_dir(build.join("repo-fixtures/main/aarch64"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&format!("{name}-1.0-r0"))
        })
        .unwrap_or_else(|| panic!("{name}'s package"));
    common::run(
        Command::new("tar")
            .arg("-xzf")
            .arg(&apk)
            .arg("-C")
            .arg(&root),
    );
    common::run(
        Command::new("qemu-aarch64-static")
            .arg("-L")
            .arg(&root)
            .arg(root.join("usr/bin").join(name)),
    )
}
