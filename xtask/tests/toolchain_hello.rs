//! For every toolchain in build/toolchains: C and C++ hello, static and dynamic, built,
//! checked (ELF machine, class, endianness, interpreter) and run under qemu-user (or
//! natively); and a moved copy of the toolchain still compiles and links.
//!
//! `cargo xtask test` builds the aarch64 toolchain first (and those `--arch` names, in
//! ALPINIST_REQUIRE_TOOLCHAIN) and runs these ignored tests; a plain `cargo test`
//! counts them as ignored.

mod common;

use common::run;

use std::path::{Path, PathBuf};
use std::process::Command;

use goblin::elf::Elf;
use xtask::config::arch::{Arch, ArchTable};

/// aarch64's always (`common::require_toolchain`), every other one that is built, and
/// those ALPINIST_REQUIRE_TOOLCHAIN names must be.
fn toolchains() -> Vec<(Arch, PathBuf)> {
    common::require_toolchain("aarch64");
    let table = ArchTable::load(&common::repo().join("toolchains/arch")).unwrap();
    let dir = common::repo().join("build/toolchains");
    let found: Vec<(Arch, PathBuf)> = table
        .arches
        .values()
        .filter_map(|a| {
            let p = dir.join(&a.name);
            p.join("bin")
                .join(format!("{}-gcc", a.triple))
                .exists()
                .then(|| (a.clone(), p))
        })
        .collect();
    if let Ok(want) = std::env::var("ALPINIST_REQUIRE_TOOLCHAIN") {
        for w in want.split(',').filter(|w| !w.is_empty()) {
            assert!(
                found.iter().any(|(a, _)| a.name == w),
                "toolchain {w} is required but not in {}",
                dir.display()
            );
        }
    }
    found
}

/// A command, run with `hide` made invisible (an empty tmpfs over it) when given.
fn command(prog: impl AsRef<std::ffi::OsStr>, hide: Option<&Path>) -> Command {
    match hide {
        None => Command::new(prog),
        Some(h) => {
            let mut c = Command::new("bwrap");
            c.args(["--dev-bind", "/", "/", "--tmpfs"]).arg(h).arg(prog);
            c
        }
    }
}

fn compile(
    tc: &Path,
    a: &Arch,
    src: &Path,
    out: &Path,
    cxx: bool,
    static_: bool,
    hide: Option<&Path>,
) {
    let cc = tc
        .join("bin")
        .join(format!("{}-{}", a.triple, if cxx { "g++" } else { "gcc" }));
    let mut c = command(cc, hide);
    c.arg("-O2").arg("-o").arg(out).arg(src);
    if static_ {
        c.arg("-static");
    }
    if cxx {
        c.arg("-pthread");
    }
    run(&mut c);
}

fn check_elf(a: &Arch, bin: &Path, static_: bool) {
    let bytes = std::fs::read(bin).unwrap();
    let elf = Elf::parse(&bytes).unwrap();
    assert_eq!(
        elf.header.e_machine,
        a.elf.machine,
        "{}: e_machine",
        bin.display()
    );
    assert_eq!(
        if elf.is_64 { 64 } else { 32 },
        a.elf.class,
        "{}: class",
        bin.display()
    );
    assert_eq!(
        if elf.little_endian { "little" } else { "big" },
        a.elf.endian,
        "{}: endianness",
        bin.display()
    );
    let interp = elf.interpreter.map(|s| s.to_string());
    if static_ {
        assert_eq!(interp, None, "{} is static: no interpreter", bin.display());
    } else {
        assert_eq!(
            interp,
            Some(format!("/lib/{}", a.loader)),
            "{}",
            bin.display()
        );
        assert!(
            elf.libraries.contains(&a.libc_soname().as_str()),
            "{} needs {} (Alpine's musl soname), has {:?}",
            bin.display(),
            a.libc_soname(),
            elf.libraries
        );
    }
}

fn execute(a: &Arch, tc: &Path, bin: &Path, static_: bool, hide: Option<&Path>) -> String {
    let sysroot = tc.join("sysroot");
    if a.is_native() {
        if static_ {
            return run(&mut command(bin, hide));
        }
        // The loader is not at /lib on this host: run it by path.
        return run(command(sysroot.join("lib").join(&a.loader), hide)
            .arg("--library-path")
            .arg(sysroot.join("usr/lib"))
            .arg(bin));
    }
    if let Some(min) = &a.qemu_min_version {
        let have = xtask::host::qemu::installed_version(a).unwrap_or_else(|| "none".into());
        assert!(
            xtask::host::qemu::at_least(&have, min),
            "{}: {} is qemu {have}, older than {min} that this arch needs; run \
             `sudo cargo xtask setup --arch {}` (or `cargo xtask test --arch {}` as root)",
            a.name,
            a.qemu_binary(),
            a.name,
            a.name
        );
    }
    run(command(a.qemu_binary(), hide)
        .arg("-L")
        .arg(&sysroot)
        .arg(bin))
}

fn hello_all(a: &Arch, tc: &Path, tmp: &Path, hide: Option<&Path>) {
    let srcs = common::repo().join("tests/toolchain");
    for (src, cxx, expect) in [
        ("hello.c", false, "hello from C, 1 args\n"),
        (
            "hello.cpp",
            true,
            "hello from C++, thread says 42, caught boom\n",
        ),
    ] {
        for static_ in [false, true] {
            let out = tmp.join(format!(
                "{}-{src}-{}",
                a.name,
                if static_ { "static" } else { "dynamic" }
            ));
            compile(tc, a, &srcs.join(src), &out, cxx, static_, hide);
            check_elf(a, &out, static_);
            assert_eq!(
                execute(a, tc, &out, static_, hide),
                expect,
                "{}",
                out.display()
            );
        }
    }
}

#[test]
#[ignore = "needs the aarch64 toolchain: `cargo xtask test` builds it and runs it"]
fn hello_c_and_cxx_for_every_toolchain() {
    for (a, tc) in toolchains() {
        let tmp = tempfile::tempdir().unwrap();
        hello_all(&a, &tc, tmp.path(), None);
        eprintln!("{}: C and C++ hello, static and dynamic: ok", a.name);
    }
}

#[test]
#[ignore = "needs the aarch64 toolchain: `cargo xtask test` builds it and runs it"]
fn a_moved_toolchain_still_compiles_and_links() {
    for (a, tc) in toolchains() {
        let tmp = tempfile::tempdir().unwrap();
        let real = std::fs::canonicalize(&tc).unwrap();
        let moved = tmp.path().join("somewhere/else");
        std::fs::create_dir_all(moved.parent().unwrap()).unwrap();
        // A hard-linked copy: a different path, without copying 300 MB.
        run(Command::new("cp").arg("-al").arg(&real).arg(&moved));
        let work = tmp.path().join("work");
        std::fs::create_dir_all(&work).unwrap();
        // The original location is hidden while the moved copy works, so nothing can
        // quietly fall back to it.
        let hide = real.parent().unwrap().to_path_buf();
        assert!(!moved.starts_with(&hide));
        hello_all(&a, &moved, &work, Some(&hide));
        eprintln!(
            "{}: moved toolchain works with {} hidden",
            a.name,
            hide.display()
        );
    }
}

#[test]
#[ignore = "needs the aarch64 toolchain: `cargo xtask test` builds it and runs it"]
fn libraries_go_to_lib_as_on_alpine() {
    // Alpine keeps 64-bit libraries in /usr/lib: its gcc answers ../lib (or .) where
    // upstream's answers ../lib64, and libiberty and gcc's target libraries install
    // where it says.
    for (a, tc) in toolchains() {
        let gcc = tc.join("bin").join(format!("{}-gcc", a.triple));
        let out = Command::new(&gcc)
            .arg("-print-multi-os-directory")
            .output()
            .unwrap();
        let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(
            dir == "../lib" || dir == ".",
            "{}: -print-multi-os-directory says {dir}",
            a.name
        );
    }
}

#[test]
#[ignore = "needs the aarch64 toolchain: `cargo xtask test` builds it and runs it"]
fn lto_objects_are_the_same_from_two_compiles() {
    // GCC draws a random seed per compile unless given -frandom-seed, and LTO objects
    // carry it; the toolchain's specs file gives each compile one made of its input's
    // name. Two compiles of the same file must give the same bytes, and the compile must
    // show the seed.
    for (a, tc) in toolchains() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("lto.c");
        std::fs::write(
            &src,
            "static int twice(int x) { return 2 * x; }\nint f(int x) { return twice(x) + 1; }\n",
        )
        .unwrap();
        let gcc = tc.join("bin").join(format!("{}-gcc", a.triple));
        let mut objects = Vec::new();
        for n in ["1", "2"] {
            let o = tmp.path().join(format!("lto{n}.o"));
            let out = Command::new(&gcc)
                .current_dir(tmp.path())
                .args(["-v", "-O2", "-flto", "-c", "lto.c", "-o"])
                .arg(&o)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}: {}",
                a.name,
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                String::from_utf8_lossy(&out.stderr).contains("-frandom-seed=lto.c"),
                "{}: the compile was given no -frandom-seed made of its input",
                a.name
            );
            objects.push(std::fs::read(&o).unwrap());
        }
        assert!(
            objects[0] == objects[1],
            "{}: two LTO compiles of one file differ",
            a.name
        );
        // And the object links (lto1 runs again at link time, with no input name).
        let out = Command::new(&gcc)
            .current_dir(tmp.path())
            .args([
                "-O2",
                "-flto",
                "-shared",
                "-fPIC",
                "-o",
                "liblto.so",
                "lto1.o",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: LTO link: {}",
            a.name,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
#[ignore = "needs the aarch64 toolchain: `cargo xtask test` builds it and runs it"]
fn no_build_or_cache_path_is_in_a_toolchain() {
    // binutils and gcc build at one fixed path in a sandbox (/build), so neither the
    // checkout's build tree nor the cache directory reaches the installed files (gcc
    // records its configure line and source paths): two toolchains built in different
    // checkouts and caches can be identical.
    let repo = std::fs::canonicalize(common::repo()).unwrap();
    for (a, tc) in toolchains() {
        let real = std::fs::canonicalize(&tc).unwrap();
        let store = real.parent().unwrap().display().to_string();
        let work = repo.join("build/work").display().to_string();
        let files = Command::new("find")
            .arg(&real)
            .args(["-type", "f"])
            .output()
            .unwrap();
        let n = files.stdout.iter().filter(|&&b| b == b'\n').count();
        assert!(
            n > 500,
            "{}: only {n} files under {}",
            a.name,
            real.display()
        );
        let out = Command::new("grep")
            .args(["-rlF", "-e", &work, "-e", &store])
            .arg(&real)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}: files that name {work} or {store}:\n{}{}",
            a.name,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
#[ignore = "needs the aarch64 toolchain: `cargo xtask test` builds it and runs it"]
fn format_warnings_are_on_by_default_as_in_alpines_gcc() {
    // Alpine's gcc turns on -Wformat -Wformat-security by default, and recipes rely on it
    // (musl's keeps -Werror=format-security after dropping -Wformat from $CFLAGS).
    for (a, tc) in toolchains() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("ok.c"), "int f(void) { return 0; }\n").unwrap();
        std::fs::write(
            tmp.path().join("bad.c"),
            "#include <stdio.h>\nvoid f(const char *s) { printf(s); }\n",
        )
        .unwrap();
        let gcc = tc.join("bin").join(format!("{}-gcc", a.triple));
        let cc = |file: &str, flags: &[&str]| {
            Command::new(&gcc)
                .current_dir(tmp.path())
                .args(flags)
                .args(["-c", file, "-o", "out.o"])
                .output()
                .unwrap()
        };
        let ok = cc("ok.c", &["-Werror=format-security"]);
        assert!(
            ok.status.success(),
            "{}: {}",
            a.name,
            String::from_utf8_lossy(&ok.stderr)
        );
        let bad = cc("bad.c", &["-Werror=format-security"]);
        assert!(
            !bad.status.success(),
            "{}: printf(s) passed -Werror=format-security",
            a.name
        );
        let off = cc("bad.c", &["-Wno-format", "-Werror"]);
        assert!(
            off.status.success(),
            "{}: -Wno-format: {}",
            a.name,
            String::from_utf8_lossy(&off.stderr)
        );
    }
}
