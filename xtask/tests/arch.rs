//! The arch table in toolchains/arch.

mod common;

use xtask::config::arch::{Arch, ArchTable};

#[test]
fn all_nine_arches_round_trip() {
    let t = ArchTable::load(&common::repo().join("toolchains/arch")).unwrap();
    let names: Vec<&str> = t.arches.keys().map(|s| s.as_str()).collect();
    assert_eq!(
        names,
        [
            "aarch64",
            "armhf",
            "armv7",
            "loongarch64",
            "ppc64le",
            "riscv64",
            "s390x",
            "x86",
            "x86_64"
        ]
    );
    for a in t.arches.values() {
        let text = toml::to_string(a).unwrap();
        let back: Arch = toml::from_str(&text).unwrap();
        assert_eq!(&back, a, "{} does not round-trip", a.name);
    }
    let expect = [
        (
            "x86",
            "i586-alpine-linux-musl",
            "ld-musl-i386.so.1",
            3,
            32,
            "little",
        ),
        (
            "x86_64",
            "x86_64-alpine-linux-musl",
            "ld-musl-x86_64.so.1",
            62,
            64,
            "little",
        ),
        (
            "armhf",
            "armv6-alpine-linux-musleabihf",
            "ld-musl-armhf.so.1",
            40,
            32,
            "little",
        ),
        (
            "armv7",
            "armv7-alpine-linux-musleabihf",
            "ld-musl-armhf.so.1",
            40,
            32,
            "little",
        ),
        (
            "aarch64",
            "aarch64-alpine-linux-musl",
            "ld-musl-aarch64.so.1",
            183,
            64,
            "little",
        ),
        (
            "ppc64le",
            "powerpc64le-alpine-linux-musl",
            "ld-musl-powerpc64le.so.1",
            21,
            64,
            "little",
        ),
        (
            "s390x",
            "s390x-alpine-linux-musl",
            "ld-musl-s390x.so.1",
            22,
            64,
            "big",
        ),
        (
            "riscv64",
            "riscv64-alpine-linux-musl",
            "ld-musl-riscv64.so.1",
            243,
            64,
            "little",
        ),
        (
            "loongarch64",
            "loongarch64-alpine-linux-musl",
            "ld-musl-loongarch64.so.1",
            258,
            64,
            "little",
        ),
    ];
    for (name, triple, loader, machine, class, endian) in expect {
        let a = t.get(name).unwrap();
        assert_eq!(
            (
                a.triple.as_str(),
                a.loader.as_str(),
                a.elf.machine,
                a.elf.class,
                a.elf.endian.as_str()
            ),
            (triple, loader, machine, class, endian),
            "{name}"
        );
        assert_eq!(a.libc_soname(), format!("libc.musl-{name}.so.1"));
    }
}

#[test]
fn unknown_arch_lists_the_known_ones() {
    let t = ArchTable::load(&common::repo().join("toolchains/arch")).unwrap();
    let e = t.get("nope").unwrap_err().to_string();
    assert!(e.contains("unknown arch \"nope\""), "{e}");
    assert!(
        e.contains("aarch64, armhf, armv7, loongarch64, ppc64le, riscv64, s390x, x86, x86_64"),
        "{e}"
    );
}

#[test]
fn a_wrong_arch_file_is_refused_with_its_name() {
    let tmp = tempfile::tempdir().unwrap();
    let src = std::fs::read_to_string(common::repo().join("toolchains/arch/s390x.toml")).unwrap();
    std::fs::write(
        tmp.path().join("s390x.toml"),
        src.replace("\"big\"", "\"little\""),
    )
    .unwrap();
    let e = format!("{:#}", ArchTable::load(tmp.path()).unwrap_err());
    assert!(e.contains("s390x.toml"), "{e}");
    assert!(e.contains("big-endian"), "{e}");
}

/// Which arches need qemu-user depends on the build machine: its own arch never, and
/// x86 not on x86_64 either (the kernel runs i386 programs; Debian registers no
/// qemu-i386 there, so asking for one failed x86's root filesystem on x86_64 hosts).
#[test]
fn what_runs_without_qemu_on_each_build_machine() {
    let t = ArchTable::load(&common::repo().join("toolchains/arch")).unwrap();
    let names = |keep: &dyn Fn(&Arch) -> bool| -> Vec<&str> {
        t.arches
            .values()
            .filter(|a| keep(a))
            .map(|a| a.name.as_str())
            .collect()
    };
    let direct = |host: &str| names(&|a| a.runs_directly_on(host));
    assert_eq!(direct("x86_64"), ["x86", "x86_64"]);
    assert_eq!(direct("x86"), ["x86"]);
    assert_eq!(direct("aarch64"), ["aarch64"]);
    assert_eq!(direct("riscv64"), ["riscv64"]);
    let linux32 = |host: &str| names(&|a| a.wants_linux32_on(host));
    assert_eq!(linux32("x86_64"), ["x86"]);
    assert!(linux32("x86").is_empty());
    assert!(linux32("aarch64").is_empty());
}

#[test]
fn runs_on_must_name_a_build_machine_an_arch_file_knows() {
    let tmp = tempfile::tempdir().unwrap();
    for name in ["x86", "x86_64"] {
        let src =
            std::fs::read_to_string(common::repo().join(format!("toolchains/arch/{name}.toml")))
                .unwrap();
        std::fs::write(
            tmp.path().join(format!("{name}.toml")),
            src.replace("runs_on = [\"x86_64\"]", "runs_on = [\"amd64\"]"),
        )
        .unwrap();
    }
    let e = format!("{:#}", ArchTable::load(tmp.path()).unwrap_err());
    assert!(e.contains("x86.toml"), "{e}");
    assert!(e.contains("\"amd64\""), "{e}");
    assert!(e.contains("known: x86, x86_64"), "{e}");
}

/// Porting is data: a checkout whose `toolchains/arch/` lacks riscv64 (or loongarch64)
/// does not know the arch, and the arch file alone — no code, no other data — makes
/// alpinist plan its toolchain and a package for it. With the tidy test that no arch
/// name appears in code, this is what "a new arch is one file" means.
#[test]
fn a_new_arch_is_one_file() {
    let repo = common::repo();
    for name in ["riscv64", "loongarch64"] {
        let tmp = tempfile::tempdir().unwrap();
        let t = tmp.path();
        std::fs::create_dir_all(t.join("toolchains/arch")).unwrap();
        for e in std::fs::read_dir(repo.join("toolchains"))
            .unwrap()
            .flatten()
        {
            if e.path().is_file() {
                std::fs::copy(e.path(), t.join("toolchains").join(e.file_name())).unwrap();
            }
        }
        for e in std::fs::read_dir(repo.join("toolchains/arch"))
            .unwrap()
            .flatten()
        {
            if e.file_name() != format!("{name}.toml").as_str() {
                std::fs::copy(e.path(), t.join("toolchains/arch").join(e.file_name())).unwrap();
            }
        }
        for d in ["stages", "patches"] {
            std::os::unix::fs::symlink(repo.join(d), t.join(d)).unwrap();
        }
        let plan = |what: &[&str]| {
            common::xtask()
                .env("ALPINIST_REPO", t)
                .env("ALPINIST_BUILD_DIR", t.join("build"))
                .arg("--cache-dir")
                .arg(t.join("cache"))
                .args(["--offline", "plan"])
                .args(what)
                .args(["--arch", name])
                .output()
                .unwrap()
        };
        let busybox = repo.join("tests/fixtures/aports/main/busybox");
        let busybox = busybox.to_str().unwrap();
        let out = plan(&["toolchain"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "{name} known without its file: {err}"
        );
        assert!(err.contains(&format!("unknown arch \"{name}\"")), "{err}");

        std::fs::copy(
            repo.join("toolchains/arch").join(format!("{name}.toml")),
            t.join("toolchains/arch").join(format!("{name}.toml")),
        )
        .unwrap();
        for what in [&["toolchain"][..], &["build", busybox][..]] {
            let out = plan(what);
            let text = String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "plan {what:?} for {name}: {text}");
            for step in [format!("gcc-{name}"), format!("toolchain-{name}")] {
                assert!(text.contains(&step), "{step} not planned: {text}");
            }
            if what[0] == "build" {
                assert!(text.contains(&format!("pkg-{name}-busybox")), "{text}");
            }
        }
    }
}
