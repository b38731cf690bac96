//! gcc (C, C++) and musl in one build tree: all-gcc, musl headers, static libgcc, musl,
//! then the target libraries.

use std::path::Path;

use anyhow::{bail, Result};

use crate::config::arch::Arch;
use crate::config::toolchain::ToolchainConfig;
use crate::context::Context;
use crate::engine::{Inputs, Step, StepRun};
use crate::exec::Cmd;
use crate::stages::toolchain::source::{patch_inputs, unpack};
use crate::stages::toolchain::{host_inputs, path_with, HOST_LIBS};

/// gcc's own, bumped when the gcc step's commands change.
const GCC_RECIPE: &str = "2";

pub struct Gcc {
    pub arch: Arch,
    pub config: ToolchainConfig,
}

impl Gcc {
    fn configure(&self) -> Vec<String> {
        let mut v = self.config.gcc.configure.clone();
        v.extend(self.arch.gcc.configure.iter().cloned());
        v
    }
    fn musl_configure(&self) -> Vec<String> {
        let mut v = self.config.musl.configure.clone();
        v.extend(self.arch.musl.configure.iter().cloned());
        v
    }
}

impl Step for Gcc {
    fn name(&self) -> String {
        format!("gcc-{}", self.arch.name)
    }
    fn inputs(&self, cx: &Context) -> Result<Inputs> {
        let gcc = cx.components.get("gcc")?;
        let musl = cx.components.get("musl")?;
        let c = &self.config;
        let mut i = Inputs::new();
        i.flag("recipe", GCC_RECIPE);
        i.source("gcc", gcc.source.key_value());
        i.source("musl", musl.source.key_value());
        i.flag("triple", &self.arch.triple);
        i.flag("libc_soname", self.arch.libc_soname());
        i.flag("gcc.configure", self.configure().join(" "));
        i.flag("gcc.env", c.gcc.env.join(" "));
        i.flag("musl.configure", self.musl_configure().join(" "));
        i.flag("host_cflags", &c.host_cflags);
        i.flag("host_ldflags", &c.host_ldflags);
        i.flag("target_cflags", &c.target_cflags);
        i.flag("pkgversion", pkgversion(&gcc.version));
        patch_inputs(cx, &mut i, "gcc", &gcc.version, &self.arch.gcc.patch_sets)?;
        patch_inputs(cx, &mut i, "musl", &musl.version, &[])?;
        // Only arches that need it carry the flag, so the others' keys do not move.
        if self.arch.musl.libssp_nonshared {
            i.flag("musl.libssp_nonshared", "yes");
        }
        host_inputs(cx, &mut i);
        for l in HOST_LIBS {
            i.tool(*l, cx.host_package_version(l));
        }
        Ok(i)
    }
    fn resumable(&self) -> bool {
        true
    }
    fn run(&self, cx: &Context, run: &mut StepRun) -> Result<()> {
        let c = &self.config;
        let t = self.arch.triple.clone();
        let gcc_src = run
            .work
            .join("src-gcc")
            .join(format!("gcc-{}", cx.components.get("gcc")?.version));
        let musl_src = run
            .work
            .join("src-musl")
            .join(format!("musl-{}", cx.components.get("musl")?.version));
        run.phase("unpack", |run| {
            for d in ["src-gcc", "src-musl"] {
                let _ = crate::engine::remove_dir_all_writable(&run.work.join(d));
            }
            let g = unpack(cx, run, "gcc", &[], &self.arch.gcc.patch_sets)?;
            let m = unpack(cx, run, "musl", &[], &[])?;
            if g != gcc_src || m != musl_src {
                bail!(
                    "unexpected source directories {} and {}",
                    g.display(),
                    m.display()
                );
            }
            Ok(())
        })?;
        let obj = run.work.join("obj-gcc");
        let mobj = run.work.join("obj-musl");
        let bsys = run.work.join("build-sysroot");
        let gcc_env = |mut cmd: Cmd, path: Option<&str>| -> Cmd {
            if let Some(p) = path {
                cmd = cmd.env("PATH", p);
            }
            for kv in &c.gcc.env {
                if let Some((k, v)) = kv.split_once('=') {
                    cmd = cmd.env(k, v);
                }
            }
            cmd
        };

        run.phase("configure", |run| {
            for d in [&obj, &mobj, &bsys] {
                let _ = crate::engine::remove_dir_all_writable(d);
                std::fs::create_dir_all(d)?;
            }
            // musl's headers go into the build sysroot before gcc is configured: gcc's
            // own limits.h chains to the libc's only if it finds one then, and
            // fixincludes looks at them. Installing headers needs no compiler (it is how
            // Alpine's BOOTSTRAP=nocc musl works).
            run.log.status("musl headers into the build sysroot");
            run.log.run(
                &Cmd::new("make")
                    .dir(&musl_src)
                    .arg(format!("ARCH={}", self.arch.musl_arch))
                    .arg("prefix=/usr")
                    .arg(format!("DESTDIR={}", bsys.display()))
                    .arg("install-headers"),
            )?;
            // binutils may still be building: gcc's top level only records the target
            // tools' names (`<triple>-as`, …), found on PATH later; its Makefile and
            // config.status are the same with or without them on PATH (checked).
            run.log.status("configure gcc");
            run.log.run(&gcc_env(
                Cmd::new(gcc_src.join("configure").display().to_string())
                    .dir(&obj)
                    .arg(format!("--target={t}"))
                    .arg("--prefix=")
                    .arg("--libdir=/lib")
                    .arg("--with-sysroot=/sysroot")
                    .arg(format!("--with-build-sysroot={}", bsys.display()))
                    .arg(format!(
                        "--with-pkgversion={}",
                        pkgversion(&cx.components.get("gcc")?.version)
                    ))
                    .args(self.configure())
                    .arg(format!("CFLAGS={}", c.host_cflags))
                    .arg(format!("CXXFLAGS={}", c.host_cflags))
                    .arg(format!("LDFLAGS={}", c.host_ldflags))
                    .arg(format!("CFLAGS_FOR_TARGET={}", c.target_cflags))
                    .arg(format!("CXXFLAGS_FOR_TARGET={}", c.target_cflags)),
                None,
            ))
        })?;

        // What all-gcc needs that runs on the build machine only (libiberty, libcpp,
        // libdecnumber, libbacktrace, libcody, the lto plugin, fixincludes): built while
        // binutils may still be building. gcc's own directory, whose configure probes
        // the target assembler and linker, comes after.
        run.phase("host-libraries", |run| {
            run.log
                .status("make the host libraries gcc needs (binutils not needed yet)");
            run.log.run(&gcc_env(
                Cmd::new("make")
                    .dir(&obj)
                    .arg("MAKEINFO=true")
                    .args(HOST_PREREQUISITES)
                    .jobserver(),
                None,
            ))
        })?;

        let binutils = run
            .dep(&format!("binutils-{}", self.arch.name))?
            .to_path_buf();
        let path = path_with(&binutils.join("bin"));
        let with_env = |cmd: Cmd| -> Cmd { gcc_env(cmd, Some(&path)) };

        run.phase("all-gcc", |run| {
            run.log.status("make all-gcc (the compilers)");
            run.log.run(&with_env(
                Cmd::new("make")
                    .dir(&obj)
                    .arg("MAKEINFO=true")
                    .arg("all-gcc")
                    .jobserver(),
            ))
        })?;

        run.phase("musl-configure", |run| {
            run.log.status("configure musl");
            let xgcc = format!(
                "{} -B {}",
                obj.join("gcc/xgcc").display(),
                obj.join("gcc").display()
            );
            run.log.run(&with_env(
                Cmd::new(musl_src.join("configure").display().to_string())
                    .dir(&mobj)
                    .env("CC", &xgcc)
                    .env(
                        "LIBCC",
                        obj.join(format!("{t}/libgcc/libgcc.a"))
                            .display()
                            .to_string(),
                    )
                    .env("CROSS_COMPILE", format!("{t}-"))
                    .env("CFLAGS", &c.target_cflags)
                    .env(
                        "LDFLAGS",
                        format!("-Wl,-soname,{}", self.arch.libc_soname()),
                    )
                    .arg(format!("--host={t}"))
                    .args(self.musl_configure()),
            ))
        })?;

        run.phase("libgcc-static", |run| {
            run.log.status("make all-target-libgcc (static)");
            run.log.run(&with_env(
                Cmd::new("make")
                    .dir(&obj)
                    .arg("MAKEINFO=true")
                    // gcc's top level does not pass command-line variables on to the
                    // target library makes, but it does use $(MAKE): carry it in there.
                    .arg("MAKE=make enable_shared=no")
                    .arg("all-target-libgcc")
                    .jobserver(),
            ))
        })?;

        let ssp = self.arch.musl.libssp_nonshared;
        run.phase("musl", |run| {
            run.log.status("make musl");
            run.log
                .run(&with_env(Cmd::new("make").dir(&mobj).jobserver()))?;
            run.log.run(&with_env(
                Cmd::new("make")
                    .dir(&mobj)
                    .arg(format!("DESTDIR={}", bsys.display()))
                    .arg("install"),
            ))?;
            if ssp {
                build_ssp_nonshared(run, &obj, &t, &c.target_cflags, &mobj, &path)?;
                std::fs::copy(
                    mobj.join("libssp_nonshared.a"),
                    bsys.join("usr/lib/libssp_nonshared.a"),
                )?;
            }
            Ok(())
        })?;

        run.phase("target-libraries", |run| {
            run.log
                .status("make (libgcc_s, libstdc++, libatomic, libgomp)");
            run.log.run(&with_env(
                Cmd::new("make").dir(&obj).arg("MAKEINFO=true").jobserver(),
            ))
        })?;

        // Installing is not a phase: the output directory is new on every attempt.
        run.log.status("install");
        run.log.run(&with_env(
            Cmd::new("make")
                .dir(&obj)
                .arg("MAKEINFO=true")
                .arg(format!("DESTDIR={}", run.out.display()))
                .arg("install-strip"),
        ))?;
        run.log.run(&with_env(
            Cmd::new("make")
                .dir(&mobj)
                .arg(format!("DESTDIR={}", run.out.join("sysroot").display()))
                .arg("install"),
        ))?;
        if ssp {
            std::fs::copy(
                mobj.join("libssp_nonshared.a"),
                run.out.join("sysroot/usr/lib/libssp_nonshared.a"),
            )?;
        }
        let _ = std::fs::remove_dir_all(run.out.join("share"));
        Ok(())
    }
}

/// `libssp_nonshared.a`: the hidden `__stack_chk_fail_local` that i386 PIC code with
/// the stack protector calls, forwarding to musl's `__stack_chk_fail` (what Alpine's
/// musl-dev ships). Built with the new compiler into musl's build directory.
fn build_ssp_nonshared(
    run: &mut StepRun,
    gcc_obj: &Path,
    triple: &str,
    cflags: &str,
    dir: &Path,
    path: &str,
) -> Result<()> {
    run.log.status("libssp_nonshared.a");
    let src = dir.join("ssp_nonshared.c");
    std::fs::write(
        &src,
        "extern void __stack_chk_fail(void);\n\
         __attribute__((visibility(\"hidden\"))) void __stack_chk_fail_local(void)\n\
         {\n\t__stack_chk_fail();\n}\n",
    )?;
    let gcc_dir = gcc_obj.join("gcc");
    run.log.run(
        &Cmd::new(gcc_dir.join("xgcc").display().to_string())
            .dir(dir)
            .env("PATH", path)
            .arg("-B")
            .arg(&gcc_dir)
            .args(cflags.split_whitespace())
            .args(["-fPIC", "-fno-stack-protector", "-c", "ssp_nonshared.c"]),
    )?;
    run.log.run(
        &Cmd::new(format!("{triple}-ar"))
            .dir(dir)
            .env("PATH", path)
            .args(["rcD", "libssp_nonshared.a", "ssp_nonshared.o"]),
    )?;
    Ok(())
}

/// The top-level targets `all-gcc` depends on that build programs and libraries for the
/// build machine (gcc 15's Makefile.in: the `all-gcc`/`configure-gcc` prerequisites,
/// less those for in-tree binutils, gmp/mpfr/mpc/isl and gettext, which are not here).
const HOST_PREREQUISITES: &[&str] = &[
    "all-libiberty",
    "all-libcpp",
    "all-libdecnumber",
    "all-libbacktrace",
    "all-libcody",
    "maybe-all-lto-plugin",
    "maybe-all-fixincludes",
    "maybe-all-build-libiberty",
    "maybe-all-build-libcpp",
    "maybe-all-build-fixincludes",
];

fn pkgversion(gcc_version: &str) -> String {
    format!("Alpine {gcc_version} (alpinist cross)")
}
