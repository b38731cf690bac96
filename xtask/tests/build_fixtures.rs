//! Stage 2 on the fixture aports: every fixture builds for each arch whose toolchain is
//! present (`cargo xtask test` makes sure aarch64 is), the packages install into an empty
//! root with alpinist's apk installer, and the fixture programs run under qemu-user (or
//! natively) and print what tests/fixtures/aports/expected-outputs.txt says. The traced
//! metadata is checked, and each fixture's .PKGINFO is pinned by a snapshot (aarch64).

mod common;

use common::run;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use alpinist_apk::package::Package;
use xtask::config::arch::{Arch, ArchTable};

use common::xtask;

fn arches() -> Vec<Arch> {
    let table = ArchTable::load(&common::repo().join("toolchains/arch")).unwrap();
    let want =
        std::env::var("ALPINIST_FIXTURE_ARCHES").unwrap_or_else(|_| "aarch64,armv7,x86_64".into());
    want.split(',')
        .filter(|a| !a.is_empty())
        .map(|a| table.get(a).unwrap().clone())
        .filter(|a| {
            common::repo()
                .join("build/toolchains")
                .join(&a.name)
                .join("bin")
                .join(format!("{}-gcc", a.triple))
                .exists()
        })
        .collect()
}

/// aarch64, whose toolchain `cargo xtask test` builds (see `common::require_toolchain`).
fn aarch64() -> Arch {
    common::require_toolchain("aarch64");
    ArchTable::load(&common::repo().join("toolchains/arch"))
        .unwrap()
        .get("aarch64")
        .unwrap()
        .clone()
}

fn fixtures() -> Vec<PathBuf> {
    let dir = common::repo().join("tests/fixtures/aports/main");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    v.sort();
    v
}

/// Whether rustup has the target's standard library (alpinist-apk needs it; rustup's
/// server does not offer every target to this machine).
fn rust_std_installed(arch: &Arch) -> bool {
    let out = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output();
    let ok = out.is_ok_and(|o| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .any(|l| l.trim() == arch.rust_target())
    });
    if !ok {
        eprintln!(
            "{}: no Rust standard library for {}; alpinist-apk not built",
            arch.name,
            arch.rust_target()
        );
    }
    ok
}

fn keys_dir() -> PathBuf {
    // Where alpinist keeps its cache (ALPINIST_CACHE_DIR, $XDG_CACHE_HOME/alpinist, ~/.cache).
    xtask::layout::Layout::new(
        common::repo(),
        None,
        std::env::var_os("ALPINIST_CACHE_DIR").map(PathBuf::from),
        None,
    )
    .cache
    .join("keys")
}

fn build(arch: &Arch, extra: &[&str], aports: &[PathBuf]) {
    let mirror = format!(
        "file://{}",
        common::repo().join("tests/fixtures/distfiles").display()
    );
    let mut c = xtask();
    c.args([
        "build", "--quiet", "--arch", &arch.name, "--mirror", &mirror,
    ]);
    c.arg("--env")
        .arg(format!("ALPINIST_KEYS_DIR={}", keys_dir().display()));
    c.arg("--sources")
        .arg(common::repo().join("tests/fixtures/sources.toml"));
    c.args(extra).args(aports);
    run(&mut c);
}

fn expected() -> Vec<(String, String, String)> {
    let text =
        std::fs::read_to_string(common::repo().join("tests/fixtures/aports/expected-outputs.txt"))
            .unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut it = l.splitn(3, ' ');
            (
                it.next().unwrap().into(),
                it.next().unwrap().into(),
                it.next().unwrap().into(),
            )
        })
        .collect()
}

fn repo_dir(arch: &Arch, repo: &str) -> PathBuf {
    common::out().join("repo").join(repo).join(&arch.name)
}

fn pkginfo(arch: &Arch, name: &str) -> alpinist_apk::pkginfo::PkgInfo {
    let dir = repo_dir(arch, "main");
    let f = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            n.strip_prefix(&format!("{name}-"))
                .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
        })
        .unwrap_or_else(|| panic!("no package {name} in {}", dir.display()));
    Package::read(&f).unwrap().pkginfo
}

/// A path inside the root with its symlinks followed inside the root.
fn resolve_in_root(root: &Path, path: &str) -> PathBuf {
    let mut p = PathBuf::from(path.trim_start_matches('/'));
    for _ in 0..40 {
        let full = root.join(&p);
        match std::fs::read_link(&full) {
            Ok(t) if t.is_absolute() => p = t.strip_prefix("/").unwrap().to_path_buf(),
            Ok(t) => p = p.parent().unwrap_or(Path::new("")).join(t),
            Err(_) => return full,
        }
    }
    root.join(p)
}

fn run_in_root(arch: &Arch, root: &Path, prog: &str) -> String {
    let bin = root.join(prog.trim_start_matches('/'));
    // A script runs through its interpreter from the root (busybox sh).
    let head = std::fs::read(&bin).unwrap_or_default();
    if head.starts_with(b"#!") {
        let text = String::from_utf8_lossy(&head);
        let first = text.lines().next().unwrap_or("");
        let interp = first
            .trim_start_matches("#!")
            .split_whitespace()
            .next()
            .unwrap();
        let exe = resolve_in_root(root, interp);
        let mut args: Vec<String> = Vec::new();
        if exe.file_name().is_some_and(|n| n == "busybox") {
            args.push(interp.rsplit('/').next().unwrap().to_string());
        }
        args.push(bin.display().to_string());
        return run_elf(arch, root, &exe, &args);
    }
    run_elf(arch, root, &bin, &[])
}

fn run_elf(arch: &Arch, root: &Path, bin: &Path, args: &[String]) -> String {
    if arch.is_native() {
        return run(Command::new(root.join("lib").join(&arch.loader))
            .arg("--library-path")
            .arg(format!(
                "{}:{}",
                root.join("usr/lib").display(),
                root.join("lib").display()
            ))
            .arg(bin)
            .args(args));
    }
    run(Command::new(arch.qemu_binary())
        .arg("-L")
        .arg(root)
        .arg(bin)
        .args(args))
}

#[test]
#[ignore = "needs the aarch64 toolchain and root: `cargo xtask test` sets them up and runs it"]
fn fixtures_build_install_and_run() {
    // aarch64 always (with alpinist-apk: `cargo xtask test` adds rustup's target);
    // armv7 and x86_64 too where their toolchains are built.
    assert!(
        rust_std_installed(&aarch64()),
        "cargo xtask test adds rustup's aarch64 target"
    );
    let arches = arches();
    for arch in &arches {
        let all: Vec<PathBuf> = fixtures()
            .into_iter()
            .filter(|d| !d.ends_with("alpinist-apk") || rust_std_installed(arch))
            .collect();
        build(arch, &[], &all);
        build(
            arch,
            &["--bootstrap", "nolibc"],
            &[common::repo().join("tests/fixtures/aports/main/bootstrap-demo")],
        );
        let tmp = tempfile::tempdir().unwrap();
        install_and_run(arch, tmp.path());
        install_pass1(arch, tmp.path());
        check_traced_metadata(arch);
        if arch.name == "aarch64" {
            snapshot_pkginfo(arch);
        }
    }
}

/// `cargo xtask apk add` of `pkgs` into a new root from the fixture repositories.
fn apk_add(arch: &Arch, root: &Path, pkgs: &[String]) -> String {
    let mut c = xtask();
    c.args(["apk", "add", "--root"])
        .arg(root)
        .args(["--arch", &arch.name, "--initdb"]);
    c.arg("--repository")
        .arg(repo_dir(arch, "main").parent().unwrap());
    c.arg("--repository")
        .arg(repo_dir(arch, "bootstrap").parent().unwrap());
    c.arg("--keys-dir").arg(keys_dir());
    c.args(pkgs);
    run(&mut c)
}

/// Installs every program's package into an empty root and runs it.
fn install_and_run(arch: &Arch, tmp: &Path) {
    let root = tmp.join("root");
    let exp = expected();
    let mut pkgs: Vec<String> = exp
        .iter()
        .map(|(p, _, _)| p.clone())
        .filter(|p| p != "bootstrap-demo-pass1")
        .collect();
    pkgs.extend([
        "fixture-data".into(),
        "split-demo-extras".into(),
        "libfoo-doc".into(),
    ]);
    pkgs.dedup();
    let out = apk_add(arch, &root, &pkgs);
    assert!(out.contains("Installing foo-utils"), "{out}");
    for (pkg, prog, line) in &exp {
        if pkg == "bootstrap-demo-pass1" {
            continue;
        }
        assert_eq!(
            run_in_root(arch, &root, prog),
            format!("{line}\n"),
            "{}: {prog}",
            arch.name
        );
    }
    assert!(root.join("usr/share/fixture-data").is_dir());
    assert!(root.join("usr/share/split-demo/extras").exists());
    assert!(
        root.join("usr/share/man/man3/foo.3.gz").exists(),
        "man pages are gzipped by default_doc"
    );
}

/// The pass1 variant of the BOOTSTRAP-dependent recipe.
fn install_pass1(arch: &Arch, tmp: &Path) {
    let root1 = tmp.join("root1");
    apk_add(arch, &root1, &["bootstrap-demo-pass1".to_string()]);
    assert_eq!(
        run_in_root(arch, &root1, "/usr/bin/bootstrap-demo"),
        "bootstrap-demo: pass1\n"
    );
}

/// Traced metadata.
fn check_traced_metadata(arch: &Arch) {
    let libc = format!("so:{}", arch.libc_soname());
    let fu = pkginfo(arch, "foo-utils");
    assert!(
        fu.auto_depends.contains(&"so:libfoo.so.1".to_string()),
        "{:?}",
        fu.auto_depends
    );
    assert!(fu.auto_depends.contains(&libc), "{:?}", fu.auto_depends);
    assert!(
        fu.auto_provides
            .contains(&"cmd:fooctl=1.0.0-r0".to_string()),
        "{:?}",
        fu.auto_provides
    );
    let lib = pkginfo(arch, "libfoo");
    assert!(
        lib.auto_provides
            .contains(&"so:libfoo.so.1=1.2.3".to_string()),
        "{:?}",
        lib.auto_provides
    );
    let dev = pkginfo(arch, "libfoo-dev");
    assert!(
        dev.auto_provides.contains(&"pc:foo=1.2.3".to_string()),
        "{:?}",
        dev.auto_provides
    );
    assert!(
        dev.auto_depends.contains(&"libfoo=1.2.3-r0".to_string()),
        "{:?}",
        dev.auto_depends
    );
    let doc = pkginfo(arch, "libfoo-doc");
    assert_eq!(doc.arch, "noarch");
    assert_eq!(
        doc.install_if,
        vec!["docs".to_string(), "libfoo=1.2.3-r0".to_string()]
    );
    let hs = pkginfo(arch, "hello-scripts");
    assert!(
        hs.depends.contains(&"/bin/sh".to_string()),
        "{:?}",
        hs.depends
    );
    assert!(!hs.triggers.is_empty());
    assert_eq!(pkginfo(arch, "fixture-data").arch, "noarch");
}

/// The fixtures' `.PKGINFO`s, pinned.
fn snapshot_pkginfo(arch: &Arch) {
    let mut names: Vec<String> = std::fs::read_dir(repo_dir(arch, "main"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".apk"))
        .collect();
    names.sort();
    let fixture_names: Vec<String> = fixtures()
        .iter()
        .map(|d| d.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let mut all = BTreeMap::new();
    for n in names {
        let p = Package::read(&repo_dir(arch, "main").join(&n)).unwrap();
        // Only the fixtures' packages (the repository may also hold real aports and
        // the bootstrap test's recipes). Not alpinist-apk: its size follows every
        // change of the apk library.
        let origin = p.pkginfo.origin.clone();
        if p.pkginfo.maintainer.as_deref() != Some("Alpinist Fixtures <fixtures@alpinist.invalid>")
            || !fixture_names.contains(&origin)
            || origin == "alpinist-apk"
        {
            continue;
        }
        all.insert(n, p.pkginfo.to_text());
    }
    for (n, text) in all {
        insta::with_settings!({filters => vec![
            (r"builddate = \d+", "builddate = [time]"),
            (r"commit = \S*", "commit = [commit]"),
            (r"datahash = [0-9a-f]+", "datahash = [hash]"),
        ]}, {
            insta::assert_snapshot!(format!("pkginfo_{}", n.trim_end_matches(".apk")), text);
        });
    }
}

fn bad(name: &str) -> PathBuf {
    common::repo()
        .join("tests/fixtures/bad-aports/main")
        .join(name)
}

fn build_fails(arch: &str, aport: &Path) -> String {
    let before = std::fs::read_dir(common::out().join("repo/main"))
        .map(|rd| rd.count())
        .unwrap_or(0);
    let out = xtask()
        .args(["build", "--quiet", "--arch", arch])
        .arg(aport)
        .output()
        .unwrap();
    assert!(!out.status.success(), "{} must fail", aport.display());
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let name = aport.file_name().unwrap().to_string_lossy().into_owned();
    let repo = common::out().join("repo/main");
    let leaked = std::fs::read_dir(&repo)
        .map(|rd| {
            rd.flatten()
                .flat_map(|d| std::fs::read_dir(d.path()).into_iter().flatten().flatten())
                .any(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .starts_with(&format!("{name}-"))
                })
        })
        .unwrap_or(false);
    assert!(!leaked, "nothing of {name} may reach the repository");
    let _ = before;
    err
}

#[test]
fn a_shell_syntax_error_names_the_file_and_line() {
    let err = build_fails("aarch64", &bad("syntax-error"));
    assert!(err.contains("syntax-error/APKBUILD"), "{err}");
    assert!(err.contains("line 11: syntax error"), "{err}");
}

#[test]
fn a_missing_pkgver_names_the_file() {
    let err = build_fails("aarch64", &bad("no-pkgver"));
    assert!(
        err.contains("no-pkgver/APKBUILD: pkgver is not set"),
        "{err}"
    );
}

#[test]
#[ignore = "needs the aarch64 toolchain: `cargo xtask test` builds it and runs it"]
fn a_wrong_checksum_names_the_file_and_both_sums() {
    aarch64();
    let err = build_fails("aarch64", &bad("bad-checksum"));
    assert!(
        err.contains("bad-checksum/APKBUILD: checksum mismatch for local source data.txt"),
        "{err}"
    );
    assert!(err.contains("expected sha512 0000"), "{err}");
}

#[test]
#[ignore = "needs the aarch64 toolchain: `cargo xtask test` builds it and runs it"]
fn a_patch_that_does_not_apply_names_the_file() {
    aarch64();
    let err = build_fails("aarch64", &bad("bad-patch"));
    assert!(
        err.contains("bad-patch/APKBUILD: the recipe failed"),
        "{err}"
    );
    assert!(err.contains("nope.patch"), "{err}");
}

/// Stage 3 on the fixtures: install into a fresh root, run the install scripts and the
/// trigger inside it under qemu-user (binfmt_misc; needs root), write the tarball.
#[test]
#[ignore = "needs the aarch64 toolchain and root: `cargo xtask test` sets them up and runs it"]
fn fixture_rootfs_runs_scripts_and_triggers_in_the_root() {
    let arch = aarch64();
    common::require_root();
    build(&arch, &[], &fixtures());
    let out = run(xtask().args([
        "rootfs",
        "--arch",
        "aarch64",
        "--packages",
        "fixture-base,hello-scripts,busybox",
    ]));
    let _ = out;
    let root = common::out().join("aarch64/rootfs");
    let marker = |f: &str| std::fs::read_to_string(root.join("var/lib/hello-scripts").join(f));
    assert!(
        marker("pre-install").is_ok(),
        "pre-install ran inside the root"
    );
    assert!(
        marker("installed").is_ok(),
        "post-install ran inside the root"
    );
    assert!(
        marker("triggered").is_ok(),
        "the trigger ran inside the root"
    );
    assert!(common::out()
        .join("aarch64/alpine-minirootfs-3.23.0-alpinist-aarch64.tar.gz")
        .is_file());
}

/// A copy of the subst-hello fixture whose source is stored under a name of this run
/// (`subst-hello-<tag>.tar.gz`), with a sources file naming the fixture's substitute
/// for it: the shared distfiles cache never holds that name from another run, so the
/// test sees only what it put there.
fn unique_subst_hello(dir: &Path, tag: &str) -> (PathBuf, PathBuf, String) {
    let fixtures = common::repo().join("tests/fixtures");
    let file = format!("subst-hello-{tag}.tar.gz");
    let aport = dir.join("main/subst-hello");
    std::fs::create_dir_all(&aport).unwrap();
    let text = std::fs::read_to_string(fixtures.join("aports/main/subst-hello/APKBUILD"))
        .unwrap()
        .replace("source=\"https://", &format!("source=\"{file}::https://"))
        .replace("  subst-hello-1.0.tar.gz", &format!("  {file}"));
    std::fs::write(aport.join("APKBUILD"), text).unwrap();
    let sources = std::fs::read_to_string(fixtures.join("sources.toml"))
        .unwrap()
        .replace(
            "for = \"subst-hello-1.0.tar.gz\"",
            &format!("for = \"{file}\""),
        );
    let sources_file = dir.join("sources.toml");
    std::fs::write(&sources_file, sources).unwrap();
    (aport, sources_file, file)
}

/// The `.alpinist-sources.json` entry for `file` in the store outputs of subst-hello.
fn source_use(file: &str) -> serde_json::Value {
    let store = keys_dir().parent().unwrap().join("store");
    for e in std::fs::read_dir(&store).unwrap().flatten() {
        if !e
            .file_name()
            .to_string_lossy()
            .ends_with("-pkg-aarch64-subst-hello")
        {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(e.path().join(".alpinist-sources.json")) else {
            continue;
        };
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        if let Some(u) = v.as_array().unwrap().iter().find(|u| u["file"] == file) {
            return u.clone();
        }
    }
    panic!("no store output of subst-hello records {file}");
}

#[test]
#[ignore = "needs the aarch64 toolchain: `cargo xtask test` builds it and runs it"]
fn a_substitute_is_used_only_when_the_recipes_own_file_cannot_be_had() {
    let arch = aarch64();
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let tmp = common::repo()
        .join("build/tests")
        .join(format!("subst-{stamp}"));
    let upstream = common::repo().join("tests/fixtures/upstream/subst-hello-1.0.tar.gz");

    // The recipe's own file in --distfiles: used as it is, no substitute.
    let own_tag = format!("{stamp}-own");
    let (aport, sources, file) = unique_subst_hello(&tmp.join("own"), &own_tag);
    let distfiles = tmp.join("distfiles");
    std::fs::create_dir_all(&distfiles).unwrap();
    std::fs::copy(&upstream, distfiles.join(&file)).unwrap();
    let mut c = xtask();
    c.args(["--distfiles"]).arg(&distfiles);
    c.args(["build", "--quiet", "--arch", &arch.name, "--sources"])
        .arg(&sources)
        .arg(&aport);
    run(&mut c);
    let used = source_use(&file);
    assert!(used["substitute"].is_null(), "{used}");
    assert_eq!(used["origin"], distfiles.display().to_string(), "{used}");

    // Without it: the fixture's substitute, from the mirror, adapted (top directory,
    // compression, the patch that puts VERSION back), and recorded.
    let sub_tag = format!("{stamp}-sub");
    let (aport, sources, file) = unique_subst_hello(&tmp.join("sub"), &sub_tag);
    build(&arch, &["--sources", sources.to_str().unwrap()], &[aport]);
    let used = source_use(&file);
    assert_eq!(
        used["substitute"]["file"], "subst-hello_1.0.orig.tar.xz",
        "{used}"
    );
    assert_eq!(
        used["substitute"]["sha512"],
        "99c65e76e2c8f44ea0ad8f90f4294f538f3bde555fb247dd7de1bdf75fcd99ecd629ea73adc3513b21e870bd81ab1edab0da3c1f7a8bdfe70feaf7dc8420c199",
        "{used}"
    );
    // (That the adapted file unpacks as the recipe expects, with VERSION back, shows in
    // fixtures_build_install_and_run: subst-hello prints its version.)
    assert_eq!(
        used["substitute"]["adapted_sha512"].as_str().unwrap().len(),
        128,
        "{used}"
    );
    let _ = std::fs::remove_dir_all(&tmp);
}
