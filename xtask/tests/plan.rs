//! `plan` output for a few command lines, pinned with insta. Keys depend on the host's
//! tool versions, so they are redacted.

mod common;

use std::path::Path;

use xtask::engine::{self, Manifest, Status};

fn copy_data(to: &Path) {
    for d in ["toolchains", "stages", "patches"] {
        let from = common::repo().join(d);
        if from.exists() {
            copy_dir(&from, &to.join(d));
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

fn plan_text(cx: &xtask::context::Context, arch: &str) -> (String, Vec<engine::Planned>) {
    let a = cx.arches.get(arch).unwrap().clone();
    let (g, _) = xtask::stages::toolchain::graph(cx, &a).unwrap();
    let planned = engine::plan(cx, &g).unwrap();
    (engine::render_plan(&planned, &cx.layout.store()), planned)
}

/// Pretends every planned step was built (an empty output with its manifest).
fn mark_built(cx: &xtask::context::Context, planned: &[engine::Planned]) {
    for p in planned {
        std::fs::create_dir_all(&p.out).unwrap();
        let m = Manifest {
            name: p.name.clone(),
            key: p.key.clone(),
            inputs: p.inputs.clone(),
            duration_secs: 1.0,
            finished_unix: 0,
            log: "log".into(),
            notes: vec![],
        };
        std::fs::write(
            p.out.join(engine::MANIFEST),
            serde_json::to_vec(&m).unwrap(),
        )
        .unwrap();
        engine::set_last(&cx.layout.store(), &p.name, &p.key).unwrap();
    }
}

macro_rules! snap {
    ($name:expr, $text:expr) => {
        insta::with_settings!({filters => vec![(r"[0-9a-f]{20}", "[key]")]}, {
            insta::assert_snapshot!($name, $text);
        });
    };
}

#[test]
fn plan_toolchain_aarch64_from_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let cx = common::context(tmp.path());
    let (text, _) = plan_text(&cx, "aarch64");
    snap!("toolchain_aarch64_cold", text);
}

#[test]
fn plan_toolchain_x86_64_from_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let cx = common::context(tmp.path());
    let (text, _) = plan_text(&cx, "x86_64");
    snap!("toolchain_x86_64_cold", text);
}

#[test]
fn plan_toolchain_when_everything_is_cached() {
    let tmp = tempfile::tempdir().unwrap();
    let cx = common::context(tmp.path());
    let (_, planned) = plan_text(&cx, "armv7");
    mark_built(&cx, &planned);
    let (text, planned) = plan_text(&cx, "armv7");
    assert!(planned.iter().all(|p| p.status == Status::Cached));
    snap!("toolchain_armv7_cached", text);
}

/// Changing one gcc flag in the arch file rebuilds gcc and what uses it, not binutils.
#[test]
fn plan_after_changing_one_gcc_flag() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    copy_data(&repo);
    let cx = common::context_in(tmp.path(), &repo);
    let (_, planned) = plan_text(&cx, "aarch64");
    mark_built(&cx, &planned);
    let f = repo.join("toolchains/arch/aarch64.toml");
    let text = std::fs::read_to_string(&f).unwrap();
    assert!(text.contains("--with-arch=armv8-a"));
    std::fs::write(
        &f,
        text.replace("--with-arch=armv8-a", "--with-arch=armv8.2-a"),
    )
    .unwrap();
    let cx = common::context_in(tmp.path(), &repo);
    let (text, planned) = plan_text(&cx, "aarch64");
    let status: Vec<(&str, bool)> = planned
        .iter()
        .map(|p| (p.name.as_str(), p.status == Status::Cached))
        .collect();
    assert_eq!(
        status,
        [
            ("binutils-aarch64", true),
            ("gcc-aarch64", false),
            ("linux-headers-arm64", true),
            ("toolchain-aarch64", false)
        ]
    );
    snap!("toolchain_aarch64_gcc_flag_changed", text);
}

/// What describes build machines (`rust.runs_on`) is not an input of the toolchain:
/// without it x86's toolchain key stays (so no package rebuilds), while a fact the
/// toolchain is made of (CMake's processor name) changes it.
#[test]
fn a_build_machine_fact_is_not_a_build_input() {
    let tmp = tempfile::tempdir().unwrap();
    let cx = common::context(tmp.path());
    let x86 = cx.arches.get("x86").unwrap().clone();
    assert_eq!(x86.rust.runs_on, ["x86_64"]);
    let key = |a: &xtask::config::arch::Arch| {
        let (g, _) = xtask::stages::toolchain::graph(&cx, a).unwrap();
        let planned = engine::plan(&cx, &g).unwrap();
        let p = planned.iter().find(|p| p.name == "toolchain-x86").unwrap();
        p.key.clone()
    };
    let mut without = x86.clone();
    without.rust.runs_on.clear();
    assert_eq!(key(&x86), key(&without), "rust.runs_on changed the key");
    let mut other_cpu = x86.clone();
    other_cpu.cmake.system_processor = "i586".into();
    assert_ne!(key(&x86), key(&other_cpu), "cmake.system_processor did not");
}

#[test]
fn plan_with_an_unknown_arch_fails_listing_the_known_ones() {
    let out = common::xtask()
        .args(["plan", "toolchain", "--arch", "nope"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown arch \"nope\""), "{err}");
    assert!(err.contains("known arches: aarch64, armhf, armv7"), "{err}");
}
