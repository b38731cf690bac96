//! `cargo xtask bootstrap` end to end on the fixture aports (aarch64): toolchain →
//! packages → root filesystem → verify-rootfs, the report it leaves, and a build killed
//! in the middle of a package that resumes at that package.
//!
//! Needs the aarch64 toolchain (`cargo xtask test` builds it) and root (binfmt_misc).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::xtask;

/// Both tests write build/aarch64/report.json: one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// What these tests need: the aarch64 toolchain and root (see `common::require_toolchain`).
fn ready() {
    common::require_toolchain("aarch64");
    common::require_root();
}

fn report(arch: &str) -> serde_json::Value {
    let p = common::out().join(arch).join("report.json");
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

fn result_of<'a>(r: &'a serde_json::Value, aport: &str) -> &'a str {
    r["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["aport"] == aport)
        .unwrap_or_else(|| panic!("{aport} not in the report"))["result"]
        .as_str()
        .unwrap()
}

#[test]
#[ignore = "needs the aarch64 toolchain and root: `cargo xtask test` sets them up and runs it"]
fn bootstrap_fixtures_makes_a_root_filesystem_that_verifies() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    ready();
    let out = xtask()
        .args([
            "bootstrap",
            "--arch",
            "aarch64",
            "--aports",
            "tests/fixtures/aports",
            "--set",
            "fixtures",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    // verify-rootfs ran the root's own tools: cat, apk (version, info, verify, add), busybox.
    for check in [
        "ok   cat /etc/alpine-release: 3.23.0-alpinist",
        "ok   apk --version: alpinist-apk",
        "ok   apk info",
        "ok   apk verify",
        "ok   busybox applet (uname -m): aarch64",
        "ok   apk add",
    ] {
        assert!(stdout.contains(check), "missing {check:?} in\n{stdout}");
    }
    let r = report("aarch64");
    assert_eq!(r["set"], "fixtures");
    assert_eq!(r["verified"], true);
    let tarball = PathBuf::from(r["rootfs"].as_str().unwrap());
    assert!(tarball.is_file());
    for e in r["packages"].as_array().unwrap() {
        let res = e["result"].as_str().unwrap();
        assert!(res == "built" || res == "cached", "{e}");
        assert!(e["key"].as_str().unwrap().len() >= 20, "{e}");
    }
    assert!(r["toolchain"]["toolchain-aarch64"].is_string(), "{r}");
    for stage in ["toolchain", "packages", "rootfs", "verify-rootfs"] {
        assert!(r["stages"][stage].is_number(), "stage {stage}: {r}");
    }
    // subst-hello's upstream tarball is not on the fixture mirror: the report records
    // the documented substitute that stood in for it, where it came from, and why.
    let subst = r["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["aport"] == "subst-hello")
        .unwrap_or_else(|| panic!("subst-hello not in the report: {r}"));
    let src = &subst["sources"][0];
    assert_eq!(src["file"], "subst-hello-1.0.tar.gz", "{subst}");
    assert_eq!(
        src["substitute"]["file"], "subst-hello_1.0.orig.tar.xz",
        "{subst}"
    );
    assert!(
        src["substitute"]["why"].as_str().unwrap().len() > 10,
        "{subst}"
    );
    assert!(src["origin"].is_string(), "{subst}");
    assert!(
        subst["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("substitute")),
        "{subst}"
    );
    sboms_validate_and_mark_the_substitute(&r);
    the_image_runs_and_rebuilds_identically(&r);
    // The table names every aport of the set.
    for n in ["fixture-base", "alpinist-apk", "busybox", "foo-utils"] {
        assert!(
            stderr.lines().any(|l| l.starts_with(n)),
            "{n} not in the table:\n{stderr}"
        );
    }
}

/// spdx-tools' validator: `cargo xtask test` installs it and names it in
/// ALPINIST_SPDX_VALIDATOR; elsewhere `pyspdxtools` on PATH, or none.
fn spdx_validator() -> Option<PathBuf> {
    if let Ok(v) = std::env::var("ALPINIST_SPDX_VALIDATOR") {
        return Some(PathBuf::from(v));
    }
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("pyspdxtools"))
            .find(|f| f.is_file())
    })
}

/// A fixture package's published SBOM.
fn fixture_sbom(file: &str) -> serde_json::Value {
    let p = common::out()
        .join("repo-fixtures/main/aarch64/sbom")
        .join(file);
    serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap()
}

/// Every package's SBOM and the root filesystem's pass spdx-tools' validator, and
/// subst-hello's names the substitute that stood in for its source.
fn sboms_validate_and_mark_the_substitute(r: &serde_json::Value) {
    let rootfs_sbom = PathBuf::from(r["sbom"].as_str().expect("report names the SBOM"));
    let mut docs = vec![rootfs_sbom];
    for repo in ["bootstrap", "main"] {
        let dir = common::out()
            .join("repo-fixtures")
            .join(repo)
            .join("aarch64/sbom");
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            docs.push(e.path());
        }
    }
    assert!(docs.len() > 15, "{docs:?}");
    let subst = fixture_sbom("subst-hello-1.0-r0.spdx.json");
    let src = subst["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "subst-hello-1.0.tar.gz")
        .unwrap_or_else(|| panic!("no source element in {subst}"));
    assert!(
        src["sourceInfo"].as_str().unwrap_or_default().contains(
            "alpinist substitute: the recipe's file could not be had; subst-hello_1.0.orig.tar.xz"
        ),
        "{src}"
    );
    // A source fetched as the recipe names it is not marked.
    let busybox = fixture_sbom("busybox-1.37.0-r0.spdx.json");
    assert!(
        !busybox.to_string().contains("alpinist substitute"),
        "{busybox}"
    );
    let validator = spdx_validator().expect(
        "no SPDX validator: `cargo xtask test` installs spdx-tools (ALPINIST_SPDX_VALIDATOR)",
    );
    for d in &docs {
        let out = Command::new(&validator).arg("-i").arg(d).output().unwrap();
        assert!(
            out.status.success(),
            "{} is not valid SPDX: {}{}",
            d.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The bootstrap's image: podman ran apk and cat in it (where podman is installed), and
/// `cargo xtask image` rebuilds it with the same digest.
fn the_image_runs_and_rebuilds_identically(r: &serde_json::Value) {
    let on_path = |c: &str| {
        Command::new("sh")
            .args(["-c", &format!("command -v {c}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    assert!(
        on_path("podman") && on_path("skopeo"),
        "podman and skopeo check the image: `cargo xtask test` installs them (toolchains/host.toml)"
    );
    let img = &r["image"];
    let digest = img["index_digest"].as_str().expect("an image digest");
    if on_path("podman") {
        let out = img["podman"].as_str().expect("podman ran the image");
        assert!(out.contains("alpinist-apk"), "{out}");
        assert!(out.contains("3.23.0-alpinist"), "{out}");
    }
    let out = xtask()
        .args(["image", "--arch", "aarch64", "--set", "fixtures"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("index digest: {digest}")),
        "rebuilt image differs from {digest}:\n{stdout}"
    );
    if on_path("skopeo") {
        let archive = img["archive"].as_str().unwrap();
        let out = Command::new("skopeo")
            .args(["inspect", "--raw", &format!("oci-archive:{archive}")])
            .output()
            .unwrap();
        let index: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("skopeo inspect --raw: {e}: {out:?}"));
        assert_eq!(
            index["manifests"][0]["platform"]["architecture"], "arm64",
            "{index}"
        );
        assert_eq!(
            index["manifests"][0]["platform"]["variant"], "v8",
            "{index}"
        );
    }
}

/// A checkout of two aports written here: `resume-base`, and `resume-demo` (needs it),
/// whose build waits until the time `until` (seconds since the epoch). A clock, not a
/// file: the recipe's sandbox has a private /tmp, and the checkout may be under /tmp.
/// The time also makes the recipes new on every run of the test.
fn gated_checkout(dir: &Path, until: u64) {
    let base = dir.join("main/resume-base");
    let demo = dir.join("main/resume-demo");
    std::fs::create_dir_all(&base).unwrap();
    std::fs::create_dir_all(&demo).unwrap();
    let header = "# Maintainer: Alpinist Tests <tests@alpinist.invalid>\n";
    std::fs::write(
        base.join("APKBUILD"),
        format!(
            "{header}pkgname=resume-base\npkgver=1.0\npkgrel=0\npkgdesc=\"resume test: a dependency\"\nurl=\"https://alpinist.invalid\"\narch=\"noarch\"\nlicense=\"MIT\"\noptions=\"!check\"\n# until {until}\npackage() {{\n\tmkdir -p \"$pkgdir\"/usr/share/resume\n\techo base > \"$pkgdir\"/usr/share/resume/base\n}}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        demo.join("APKBUILD"),
        format!(
            "{header}pkgname=resume-demo\npkgver=1.0\npkgrel=0\npkgdesc=\"resume test: a slow build\"\nurl=\"https://alpinist.invalid\"\narch=\"noarch\"\nlicense=\"MIT\"\nmakedepends_host=\"resume-base\"\noptions=\"!check\"\n_until={until}\nbuild() {{\n\techo \"resume-demo: building\"\n\twhile [ \"$(date +%s)\" -lt \"$_until\" ]; do sleep 0.2; done\n}}\npackage() {{\n\tmkdir -p \"$pkgdir\"/usr/share/resume\n\techo demo > \"$pkgdir\"/usr/share/resume/demo\n}}\n"
        ),
    )
    .unwrap();
}

fn bootstrap_cmd(checkout: &Path) -> Command {
    let mut c = xtask();
    c.args([
        "bootstrap",
        "--arch",
        "aarch64",
        "--set",
        "fixtures",
        "--packages",
        "resume-base,resume-demo",
        "--no-rootfs",
        "--aports",
    ])
    .arg(checkout);
    c
}

#[test]
#[ignore = "needs the aarch64 toolchain and root: `cargo xtask test` sets them up and runs it"]
fn a_killed_bootstrap_resumes_at_the_package_it_was_building() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    ready();
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let tmp = common::repo()
        .join("build/tests")
        .join(format!("resume-{stamp}"));
    let checkout = tmp.join("aports");
    // Long enough for the first run to get there even on a loaded machine.
    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 45;
    gated_checkout(&checkout, until);

    // First run: killed (with everything it started) while resume-demo builds.
    let mut child = {
        use std::os::unix::process::CommandExt as _;
        bootstrap_cmd(&checkout)
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let logs = common::out().join("logs");
    let started = Instant::now();
    // Logs of earlier runs of this test are still there: only this run's count.
    let since = std::time::SystemTime::now() - Duration::from_secs(1);
    let building = loop {
        let found = std::fs::read_dir(&logs).ok().and_then(|d| {
            d.flatten().map(|e| e.path()).find(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("pkg-aarch64-resume-demo-"))
                    && std::fs::metadata(p)
                        .and_then(|m| m.modified())
                        .is_ok_and(|t| t >= since)
                    && std::fs::read_to_string(p).is_ok_and(|t| t.contains("resume-demo: building"))
            })
        });
        if let Some(f) = found {
            break f;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "resume-demo never started building"
        );
        assert!(child.try_wait().unwrap().is_none(), "bootstrap ended early");
        std::thread::sleep(Duration::from_millis(200));
    };
    let pgid = child.id().to_string();
    // resume-base was finished before resume-demo could start.
    Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .status()
        .unwrap();
    child.wait().unwrap();
    eprintln!("killed while building ({})", building.display());

    // Second run: resume-base is cached, resume-demo builds again from the start.
    // The rerun's build no longer waits once the time has passed.
    while std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        <= until
    {
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = bootstrap_cmd(&checkout).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = report("aarch64");
    assert_eq!(result_of(&r, "resume-base"), "cached", "{r}");
    assert_eq!(result_of(&r, "resume-demo"), "built", "{r}");
    // Its package is in the store exactly once, and nothing half-built is left over.
    // Where alpinist keeps it: ALPINIST_CACHE_DIR, else $XDG_CACHE_HOME/alpinist, else
    // ~/.cache/alpinist (a CI run given a fresh XDG_CACHE_HOME has it there).
    let store = xtask::layout::Layout::new(
        common::repo(),
        None,
        std::env::var_os("ALPINIST_CACHE_DIR").map(PathBuf::from),
        None,
    )
    .store();
    let key = r["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["aport"] == "resume-demo")
        .unwrap()["key"]
        .as_str()
        .unwrap()
        .to_string();
    let out_dir = store.join(format!("{key}-pkg-aarch64-resume-demo"));
    assert!(
        std::fs::read_dir(&out_dir).unwrap().flatten().any(|e| e
            .file_name()
            .to_string_lossy()
            .starts_with("resume-demo-1.0-r0")),
        "{}",
        out_dir.display()
    );
    let tmp_store = store.join(".tmp");
    if let Ok(d) = std::fs::read_dir(&tmp_store) {
        for e in d.flatten() {
            assert!(
                !e.file_name().to_string_lossy().contains(&key),
                "left over: {}",
                e.path().display()
            );
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn without_a_checkout_offline_the_error_says_to_pass_aports() {
    let out = xtask()
        .args(["--offline", "bootstrap", "--arch", "aarch64"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("--aports PATH") && err.contains("git clone"),
        "{err}"
    );
}

#[test]
fn an_unknown_set_lists_the_known_ones() {
    let out = xtask()
        .args([
            "bootstrap",
            "--arch",
            "aarch64",
            "--set",
            "nope",
            "--aports",
            "tests/fixtures/aports",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("no set \"nope\"") && err.contains("base, fixtures"),
        "{err}"
    );
}

/// sha512 of a file, as APKBUILDs list it.
fn sha512_of(p: &Path) -> String {
    let out = Command::new("sha512sum").arg(p).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// Replaces `old`'s checksum line for `file` in `apkbuild` with `new`, keeping its mtime
/// (the mtime is the recipe's SOURCE_DATE_EPOCH outside git).
fn set_checksum(apkbuild: &Path, file: &str, new: &str) {
    let text = std::fs::read_to_string(apkbuild).unwrap();
    let out: Vec<String> = text
        .lines()
        .map(|l| {
            if l.ends_with(&format!("  {file}")) {
                format!("{new}  {file}")
            } else {
                l.to_string()
            }
        })
        .collect();
    let mtime = std::fs::metadata(apkbuild).unwrap().modified().unwrap();
    std::fs::write(apkbuild, out.join("\n") + "\n").unwrap();
    std::fs::File::options()
        .write(true)
        .open(apkbuild)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
}

#[test]
#[ignore = "needs the aarch64 toolchain and root: `cargo xtask test` sets them up and runs it"]
fn report_diff_names_the_packages_a_changed_source_and_patch_explain() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    ready();
    let tmp = tempfile::tempdir().unwrap();
    let aports = tmp.path().join("aports");
    run_ok(
        Command::new("cp")
            .args(["-a"])
            .arg(common::repo().join("tests/fixtures/aports"))
            .arg(&aports),
    );
    let boot = |aports: &Path, distfiles: &Path| {
        let out = xtask()
            .arg("--distfiles")
            .arg(distfiles)
            .args([
                "bootstrap",
                "--arch",
                "aarch64",
                "--set",
                "fixtures",
                "--no-rootfs",
            ])
            .args(["--packages", "libfoo,foo-utils,patched-hello,hello-scripts"])
            .arg("--aports")
            .arg(aports)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::read(common::out().join("aarch64/report.json")).unwrap()
    };
    let distfiles = tmp.path().join("distfiles");
    std::fs::create_dir_all(&distfiles).unwrap();
    let old = tmp.path().join("old.json");
    std::fs::write(&old, boot(&aports, &distfiles)).unwrap();

    // One source changes (libfoo's tarball: a file inside it), one patch (patched-hello's
    // description text), each with its checksum in the recipe.
    let src = tmp.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    run_ok(
        Command::new("cp")
            .arg("-a")
            .arg(common::repo().join("tests/fixtures/distfiles-src/libfoo-1.2.3"))
            .arg(&src),
    );
    let readme = src.join("libfoo-1.2.3/CHANGES");
    std::fs::write(&readme, "a change that makes a new tarball\n").unwrap();
    let tarball = distfiles.join("libfoo-1.2.3.tar.gz");
    run_ok(Command::new("sh").arg("-c").arg(format!(
        "cd {} && tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - libfoo-1.2.3 | gzip -n -9 > {}",
        src.display(),
        tarball.display()
    )));
    set_checksum(
        &aports.join("main/libfoo/APKBUILD"),
        "libfoo-1.2.3.tar.gz",
        &sha512_of(&tarball),
    );
    let patch = aports.join("main/patched-hello/fix-greeting.patch");
    let text = std::fs::read_to_string(&patch).unwrap();
    std::fs::write(&patch, format!("A note before the patch.\n{text}")).unwrap();
    set_checksum(
        &aports.join("main/patched-hello/APKBUILD"),
        "fix-greeting.patch",
        &sha512_of(&patch),
    );
    let new = tmp.path().join("new.json");
    std::fs::write(&new, boot(&aports, &distfiles)).unwrap();

    let out = xtask()
        .args(["report", "diff", "--json"])
        .arg(&old)
        .arg(&new)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let changed: std::collections::BTreeMap<String, Vec<String>> = d["changed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["aport"].as_str().unwrap().to_string(),
                c["why"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|w| w.as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect();
    // Exactly libfoo (its source), foo-utils (built against libfoo) and patched-hello (its
    // patch); hello-scripts is untouched.
    assert_eq!(
        changed.keys().cloned().collect::<Vec<_>>(),
        ["foo-utils", "libfoo", "patched-hello"],
        "{d:#}"
    );
    assert!(
        changed["libfoo"]
            .iter()
            .any(|w| w.starts_with("source libfoo-1.2.3.tar.gz changed")),
        "{d:#}"
    );
    assert!(
        changed["patched-hello"]
            .iter()
            .any(|w| w.starts_with("patch fix-greeting.patch changed")),
        "{d:#}"
    );
    let fu = &changed["foo-utils"];
    assert!(
        fu.iter()
            .any(|w| w.starts_with("build of pkg-aarch64-libfoo changed")),
        "{d:#}"
    );
    assert!(
        fu.iter().any(|w| w
            .trim_start()
            .starts_with("source libfoo-1.2.3.tar.gz changed")),
        "{d:#}"
    );
    assert_eq!(d["unchanged"], 1, "{d:#}");
}

fn run_ok(c: &mut Command) {
    let st = c.status().unwrap();
    assert!(st.success(), "{c:?}");
}
