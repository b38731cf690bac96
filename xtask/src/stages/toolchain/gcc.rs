//! gcc (C, C++) and musl in one build tree: all-gcc, musl headers, static libgcc, musl,
//! then the target libraries.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use crate::config::arch::Arch;
use crate::config::toolchain::ToolchainConfig;
use crate::context::Context;
use crate::engine::{Inputs, Step, StepRef, StepRun, Use};
use crate::exec::Cmd;
use crate::stages::toolchain::source::{patch_inputs, unpack};
use crate::stages::toolchain::Binutils;
use crate::stages::toolchain::{host_inputs, path_with, sandboxed, BUILD_DIR, HOST_LIBS};

/// gcc's own, bumped when the gcc step's commands change.
const GCC_RECIPE: &str = "3";

pub struct Gcc {
    pub arch: Arch,
    pub config: ToolchainConfig,
    /// Needed from `all-gcc` on; gcc starts while it is still building.
    pub binutils: StepRef<Binutils>,
}

impl Gcc {
    fn configure_args(&self) -> Vec<String> {
        let mut v = self.config.gcc.configure.clone();
        v.extend(self.arch.gcc.configure.iter().cloned());
        v
    }
    fn musl_configure_args(&self) -> Vec<String> {
        let mut v = self.config.musl.configure.clone();
        v.extend(self.arch.musl.configure.iter().cloned());
        v
    }
}

impl Step<Context> for Gcc {
    fn name(&self) -> String {
        format!("gcc-{}", self.arch.name)
    }
    fn uses(&self) -> Vec<Use> {
        vec![self.binutils.later()]
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
        i.flag("gcc.configure", self.configure_args().join(" "));
        i.flag("gcc.env", c.gcc.env.join(" "));
        i.flag("musl.configure", self.musl_configure_args().join(" "));
        i.flag("host_cflags", &c.host_cflags);
        i.flag("host_ldflags", &c.host_ldflags);
        i.flag("target_cflags", &c.target_cflags);
        i.flag("pkgversion", pkgversion(&gcc.version));
        patch_inputs(cx, &mut i, "gcc", &gcc.version, &self.arch.gcc.patch_sets)?;
        patch_inputs(
            cx,
            &mut i,
            "musl",
            &musl.version,
            &self.arch.musl.patch_sets,
        )?;
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
        let tr = GccTree::new(cx, &run.work)?;
        // The same tree as the commands see it in the sandbox.
        let it = GccTree::new(cx, Path::new(BUILD_DIR))?;
        run.phase("unpack", |run| self.unpack(cx, run, &tr))?;
        run.phase("configure", |run| self.configure(cx, run, &tr, &it))?;
        // What all-gcc needs that runs on the build machine only (libiberty, libcpp,
        // libdecnumber, libbacktrace, libcody, the lto plugin, fixincludes): built while
        // binutils may still be building. gcc's own directory, whose configure probes
        // the target assembler and linker, comes after.
        run.phase("host-libraries", |run| {
            run.log
                .status("make the host libraries gcc needs (binutils not needed yet)");
            let make = Cmd::new("make")
                .dir(&it.obj)
                .arg("MAKEINFO=true")
                .args(HOST_PREREQUISITES)
                .jobserver();
            run.log.run(&sandboxed(run, &[], self.env(make, None))?)
        })?;
        // From here on with binutils on PATH.
        let binutils = run.output(self.binutils)?.to_path_buf();
        let path = path_with(&binutils.join("bin"));
        let b = BinutilsOut(&binutils);
        run.phase("all-gcc", |run| {
            run.log.status("make all-gcc (the compilers)");
            let make = Cmd::new("make")
                .dir(&it.obj)
                .arg("MAKEINFO=true")
                .arg("all-gcc")
                .jobserver();
            run.log.run(&b.sandboxed(run, self.env(make, Some(&path)))?)
        })?;
        run.phase("musl-configure", |run| {
            self.musl_configure(run, &it, &path, &b)
        })?;
        run.phase("libgcc-static", |run| {
            run.log.status("make all-target-libgcc (static)");
            let make = Cmd::new("make")
                .dir(&it.obj)
                .arg("MAKEINFO=true")
                // gcc's top level does not pass command-line variables on to the
                // target library makes, but it does use $(MAKE): carry it in there.
                .arg("MAKE=make enable_shared=no")
                .arg("all-target-libgcc")
                .jobserver();
            run.log.run(&b.sandboxed(run, self.env(make, Some(&path)))?)
        })?;
        run.phase("musl", |run| self.musl(run, &tr, &it, &path, &b))?;
        run.phase("target-libraries", |run| {
            run.log
                .status("make (libgcc_s, libstdc++, libatomic, libgomp)");
            let make = Cmd::new("make")
                .dir(&it.obj)
                .arg("MAKEINFO=true")
                .jobserver();
            run.log.run(&b.sandboxed(run, self.env(make, Some(&path)))?)
        })?;
        // Installing is not a phase: the output directory is new on every attempt.
        self.install(run, &tr, &it, &path, &b)
    }
}

/// The gcc step's build tree: both sources, both object directories, and the build
/// sysroot musl's headers and libraries go into before gcc's target libraries build.
struct GccTree {
    gcc_src: PathBuf,
    musl_src: PathBuf,
    obj: PathBuf,
    mobj: PathBuf,
    bsys: PathBuf,
}

impl GccTree {
    fn new(cx: &Context, work: &Path) -> Result<GccTree> {
        Ok(GccTree {
            gcc_src: work
                .join("src-gcc")
                .join(format!("gcc-{}", cx.components.get("gcc")?.version)),
            musl_src: work
                .join("src-musl")
                .join(format!("musl-{}", cx.components.get("musl")?.version)),
            obj: work.join("obj-gcc"),
            mobj: work.join("obj-musl"),
            bsys: work.join("build-sysroot"),
        })
    }
}

impl Gcc {
    /// A command with gcc's environment (`gcc.env`), after `PATH` when given.
    fn env(&self, mut cmd: Cmd, path: Option<&str>) -> Cmd {
        if let Some(p) = path {
            cmd = cmd.env("PATH", p);
        }
        for kv in &self.config.gcc.env {
            if let Some((k, v)) = kv.split_once('=') {
                cmd = cmd.env(k, v);
            }
        }
        cmd
    }

    fn unpack(&self, cx: &Context, run: &mut StepRun, tr: &GccTree) -> Result<()> {
        for d in ["src-gcc", "src-musl"] {
            let _ = crate::fsutil::remove_dir_all_writable(&run.work.join(d));
        }
        let g = unpack(cx, run, "gcc", &[], &self.arch.gcc.patch_sets)?;
        let m = unpack(cx, run, "musl", &[], &self.arch.musl.patch_sets)?;
        if g != tr.gcc_src || m != tr.musl_src {
            bail!(
                "unexpected source directories {} and {}",
                g.display(),
                m.display()
            );
        }
        Ok(())
    }

    /// musl's headers into the build sysroot, then gcc's configure (`tr` on the host,
    /// `it` as the commands see it).
    fn configure(&self, cx: &Context, run: &mut StepRun, tr: &GccTree, it: &GccTree) -> Result<()> {
        let c = &self.config;
        let t = &self.arch.triple;
        for d in [&tr.obj, &tr.mobj, &tr.bsys] {
            let _ = crate::fsutil::remove_dir_all_writable(d);
            std::fs::create_dir_all(d)?;
        }
        // musl's headers go into the build sysroot before gcc is configured: gcc's
        // own limits.h chains to the libc's only if it finds one then, and
        // fixincludes looks at them. Installing headers needs no compiler (it is how
        // Alpine's BOOTSTRAP=nocc musl works).
        run.log.status("musl headers into the build sysroot");
        let headers = Cmd::new("make")
            .dir(&it.musl_src)
            .arg(format!("ARCH={}", self.arch.musl_arch))
            .arg("prefix=/usr")
            .arg(format!("DESTDIR={}", it.bsys.display()))
            .arg("install-headers");
        run.log.run(&sandboxed(run, &[], headers)?)?;
        // binutils may still be building: gcc's top level only records the target
        // tools' names (`<triple>-as`, …), found on PATH later; its Makefile and
        // config.status are the same with or without them on PATH (checked).
        run.log.status("configure gcc");
        let configure = Cmd::new(it.gcc_src.join("configure").display().to_string())
            .dir(&it.obj)
            .arg(format!("--target={t}"))
            .arg("--prefix=")
            .arg("--libdir=/lib")
            .arg("--with-sysroot=/sysroot")
            .arg(format!("--with-build-sysroot={}", it.bsys.display()))
            .arg(format!(
                "--with-pkgversion={}",
                pkgversion(&cx.components.get("gcc")?.version)
            ))
            .args(self.configure_args())
            .arg(format!("CFLAGS={}", c.host_cflags))
            .arg(format!("CXXFLAGS={}", c.host_cflags))
            .arg(format!("LDFLAGS={}", c.host_ldflags))
            .arg(format!("CFLAGS_FOR_TARGET={}", c.target_cflags))
            .arg(format!("CXXFLAGS_FOR_TARGET={}", c.target_cflags));
        run.log
            .run(&sandboxed(run, &[], self.env(configure, None))?)
    }

    /// musl's configure, with the new compiler and its static libgcc.
    fn musl_configure(
        &self,
        run: &mut StepRun,
        tr: &GccTree,
        path: &str,
        b: &BinutilsOut,
    ) -> Result<()> {
        let t = &self.arch.triple;
        run.log.status("configure musl");
        let xgcc = format!(
            "{} -B {}",
            tr.obj.join("gcc/xgcc").display(),
            tr.obj.join("gcc").display()
        );
        let configure = Cmd::new(tr.musl_src.join("configure").display().to_string())
            .dir(&tr.mobj)
            .env("CC", &xgcc)
            .env(
                "LIBCC",
                tr.obj
                    .join(format!("{t}/libgcc/libgcc.a"))
                    .display()
                    .to_string(),
            )
            .env("CROSS_COMPILE", format!("{t}-"))
            .env("CFLAGS", &self.config.target_cflags)
            .env(
                "LDFLAGS",
                format!("-Wl,-soname,{}", self.arch.libc_soname()),
            )
            .arg(format!("--host={t}"))
            .args(self.musl_configure_args());
        run.log
            .run(&b.sandboxed(run, self.env(configure, Some(path)))?)
    }

    /// musl built and installed into the build sysroot (with `libssp_nonshared.a` on
    /// arches that want it).
    fn musl(
        &self,
        run: &mut StepRun,
        tr: &GccTree,
        it: &GccTree,
        path: &str,
        b: &BinutilsOut,
    ) -> Result<()> {
        run.log.status("make musl");
        let make = Cmd::new("make").dir(&it.mobj).jobserver();
        run.log
            .run(&b.sandboxed(run, self.env(make, Some(path)))?)?;
        let install = Cmd::new("make")
            .dir(&it.mobj)
            .arg(format!("DESTDIR={}", it.bsys.display()))
            .arg("install");
        run.log
            .run(&b.sandboxed(run, self.env(install, Some(path)))?)?;
        if self.arch.musl.libssp_nonshared {
            let cflags = &self.config.target_cflags;
            std::fs::write(tr.mobj.join("ssp_nonshared.c"), SSP_NONSHARED_C)?;
            build_ssp_nonshared(run, &it.obj, &self.arch.triple, cflags, &it.mobj, path, b)?;
            std::fs::copy(
                tr.mobj.join("libssp_nonshared.a"),
                tr.bsys.join("usr/lib/libssp_nonshared.a"),
            )?;
        }
        Ok(())
    }

    /// gcc (stripped) and musl into the output.
    fn install(
        &self,
        run: &mut StepRun,
        tr: &GccTree,
        it: &GccTree,
        path: &str,
        b: &BinutilsOut,
    ) -> Result<()> {
        run.log.status("install");
        let gcc = Cmd::new("make")
            .dir(&it.obj)
            .arg("MAKEINFO=true")
            .arg(format!("DESTDIR={}", run.out.display()))
            .arg("install-strip");
        run.log.run(&b.sandboxed(run, self.env(gcc, Some(path)))?)?;
        let musl = Cmd::new("make")
            .dir(&it.mobj)
            .arg(format!("DESTDIR={}", run.out.join("sysroot").display()))
            .arg("install");
        run.log
            .run(&b.sandboxed(run, self.env(musl, Some(path)))?)?;
        if self.arch.musl.libssp_nonshared {
            std::fs::copy(
                tr.mobj.join("libssp_nonshared.a"),
                run.out.join("sysroot/usr/lib/libssp_nonshared.a"),
            )?;
        }
        let _ = std::fs::remove_dir_all(run.out.join("share"));
        Ok(())
    }
}

/// The source of `libssp_nonshared.a`.
const SSP_NONSHARED_C: &str = "extern void __stack_chk_fail(void);\n\
     __attribute__((visibility(\"hidden\"))) void __stack_chk_fail_local(void)\n\
     {\n\t__stack_chk_fail();\n}\n";

/// `libssp_nonshared.a`: the hidden `__stack_chk_fail_local` that i386 PIC code with
/// the stack protector calls, forwarding to musl's `__stack_chk_fail` (what Alpine's
/// musl-dev ships). Built with the new compiler in musl's build directory `dir` (paths
/// as the sandbox shows them), where [`SSP_NONSHARED_C`] was written.
fn build_ssp_nonshared(
    run: &mut StepRun,
    gcc_obj: &Path,
    triple: &str,
    cflags: &str,
    dir: &Path,
    path: &str,
    b: &BinutilsOut,
) -> Result<()> {
    run.log.status("libssp_nonshared.a");
    let gcc_dir = gcc_obj.join("gcc");
    let cc = Cmd::new(gcc_dir.join("xgcc").display().to_string())
        .dir(dir)
        .env("PATH", path)
        .arg("-B")
        .arg(&gcc_dir)
        .args(cflags.split_whitespace())
        .args(["-fPIC", "-fno-stack-protector", "-c", "ssp_nonshared.c"]);
    run.log.run(&b.sandboxed(run, cc)?)?;
    let ar = Cmd::new(format!("{triple}-ar"))
        .dir(dir)
        .env("PATH", path)
        .args(["rcD", "libssp_nonshared.a", "ssp_nonshared.o"]);
    run.log.run(&b.sandboxed(run, ar)?)?;
    Ok(())
}

/// The binutils step's output, which the gcc step's commands use from `all-gcc` on.
struct BinutilsOut<'a>(&'a Path);

impl BinutilsOut<'_> {
    /// `cmd` in the stage 1 sandbox with binutils visible.
    fn sandboxed(&self, run: &StepRun, cmd: Cmd) -> Result<Cmd> {
        sandboxed(run, &[self.0], cmd)
    }
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
