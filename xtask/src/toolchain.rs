//! Stage 1: musl cross toolchains (binutils, gcc C/C++, musl, Linux headers).
//!
//! One gcc build tree per arch, not two: configure once, `all-gcc`, install musl's
//! headers into a build sysroot, build a static libgcc, build musl against it, then
//! finish gcc (libgcc_s, libstdc++, libatomic, libgomp) in the same tree. The steps and
//! their order come from `stages/toolchain.toml`; flags from `toolchains/`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use serde::{Deserialize, Serialize};

use crate::arch::Arch;
use crate::context::Context;
use crate::runner::Cmd;
use crate::step::{Graph, InputKind, Inputs, Step, StepRun};

/// `toolchains/toolchain.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolchainConfig {
    pub host_cflags: String,
    pub host_ldflags: String,
    pub target_cflags: String,
    pub binutils: BinutilsConfig,
    pub gcc: GccConfig,
    pub musl: MuslConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BinutilsConfig {
    pub configure: Vec<String>,
    pub make_targets: Vec<String>,
    pub install_targets: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GccConfig {
    pub configure: Vec<String>,
    #[serde(default)]
    pub env: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MuslConfig {
    pub configure: Vec<String>,
}

impl ToolchainConfig {
    pub fn load(cx: &Context) -> Result<ToolchainConfig> {
        let path = cx.layout.toolchains_data().join("toolchain.toml");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }
}

/// `stages/toolchain.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StageFile {
    step: Vec<StageStep>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StageStep {
    name: String,
    #[allow(dead_code)]
    about: String,
    #[serde(default)]
    uses: Vec<String>,
    /// Steps of `uses` this one may start without: it waits for them when it needs them.
    #[serde(default)]
    uses_later: Vec<String>,
}

/// Host tools the toolchain steps run; their versions are part of the keys.
const HOST_TOOLS: &[&str] = &["gcc", "g++", "make"];
/// Host libraries gcc links against.
const HOST_LIBS: &[&str] = &["libgmp-dev", "libmpfr-dev", "libmpc-dev", "zlib1g-dev"];

/// Bumped when the Rust code of a step changes what it produces.
const RECIPE: &str = "1";
/// gcc's own, bumped when the gcc step's commands change.
const GCC_RECIPE: &str = "2";
/// The assemble step has its own, so that fixing it does not rebuild the compilers.
const ASSEMBLE_RECIPE: &str = "3";

/// The stage 1 graph for one arch.
pub fn graph(cx: &Context, arch: &Arch) -> Result<Graph> {
    let mut g = Graph::new();
    add_steps(cx, arch, &mut g)?;
    Ok(g)
}

/// Adds the stage 1 steps for `arch` to a graph; returns the index of each by stage
/// step name (`binutils`, `gcc`, `toolchain`, …).
pub fn add_steps(cx: &Context, arch: &Arch, g: &mut Graph) -> Result<Vec<(String, usize)>> {
    let path = cx.layout.stages_data().join("toolchain.toml");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let stage: StageFile =
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let config = ToolchainConfig::load(cx)?;
    let mut index: Vec<(String, usize)> = Vec::new();
    for s in &stage.step {
        let mut deps = Vec::new();
        for u in &s.uses {
            let Some((_, i)) = index.iter().find(|(n, _)| n == u) else {
                bail!(
                    "{}: step {} uses {u}, which is not declared before it",
                    path.display(),
                    s.name
                );
            };
            deps.push(*i);
        }
        let mut later = Vec::new();
        for u in &s.uses_later {
            let Some(pos) = s.uses.iter().position(|x| x == u) else {
                bail!(
                    "{}: step {} lists {u} in uses_later but not in uses",
                    path.display(),
                    s.name
                );
            };
            later.push(deps[pos]);
        }
        let arch = arch.clone();
        let config = config.clone();
        let i = match s.name.as_str() {
            "binutils" => g.add_later(Binutils { arch, config }, &deps, &later),
            "linux-headers" => g.add_later(LinuxHeaders { arch }, &deps, &later),
            "gcc" => g.add_later(Gcc { arch, config }, &deps, &later),
            "toolchain" => g.add_later(Assemble { arch }, &deps, &later),
            other => bail!(
                "{}: unknown step {other:?} (known: binutils, linux-headers, gcc, toolchain)",
                path.display()
            ),
        };
        index.push((s.name.clone(), i));
    }
    Ok(index)
}

fn host_inputs(cx: &Context, inputs: &mut Inputs) {
    for t in HOST_TOOLS {
        inputs.tool(*t, cx.host_tool_version(t));
    }
}

/// Patches are inputs whether or not the substitute is used: the key must be known
/// before the source is resolved. `sets` are the arch's extra patch sets.
fn patch_inputs(
    cx: &Context,
    inputs: &mut Inputs,
    component: &str,
    version: &str,
    sets: &[String],
) -> Result<()> {
    let mut all = Vec::new();
    for dir in [version.to_string(), format!("{version}-substitute")] {
        all.extend(patches(cx, component, &dir)?);
    }
    for set in sets {
        all.extend(patch_set(cx, component, version, set)?);
    }
    for p in all {
        inputs.file(InputKind::Patch, &cx.layout.repo, &p)?;
    }
    Ok(())
}

/// `patches/<component>/<dir>/*.patch`, in name order. `<dir>` is the version, or
/// `<version>-substitute` for patches that only the documented substitute source needs.
fn patches(cx: &Context, component: &str, version: &str) -> Result<Vec<PathBuf>> {
    let dir = cx.layout.patches().join(component).join(version);
    let mut v = Vec::new();
    if let Ok(rd) = std::fs::read_dir(&dir) {
        for e in rd {
            let p = e?.path();
            if p.extension().and_then(|x| x.to_str()) == Some("patch") {
                v.push(p);
            }
        }
    }
    v.sort();
    Ok(v)
}

/// An arch's extra patch set, `patches/<component>/<version>/<set>/*.patch`; a set named
/// in an arch file must exist and hold patches.
fn patch_set(cx: &Context, component: &str, version: &str, set: &str) -> Result<Vec<PathBuf>> {
    let v = patches(cx, component, &format!("{version}/{set}"))?;
    if v.is_empty() {
        bail!(
            "patch set {set:?} for {component} {version} has no patches: expected {}/*.patch",
            cx.layout
                .patches()
                .join(component)
                .join(version)
                .join(set)
                .display()
        );
    }
    Ok(v)
}

/// Fetches and unpacks a component's source into `run.work`; applies its patches.
fn unpack(
    cx: &Context,
    run: &mut StepRun,
    component: &str,
    members: &[&str],
    patch_sets: &[String],
) -> Result<PathBuf> {
    let comp = cx.components.get(component)?;
    run.log
        .status(&format!("fetching {component} {}", comp.version));
    let say = |m: &str| {
        let _ = run.log.line(m);
    };
    let resolved = cx.resolver(&say).resolve(&comp.source)?;
    if resolved.substitute {
        let why = comp
            .source
            .substitute
            .as_ref()
            .map(|s| s.why.clone())
            .unwrap_or_default();
        run.notes.push(format!(
            "{component}: used the documented substitute {} from {} ({why})",
            resolved.path.display(),
            resolved.origin
        ));
    }
    run.log.status(&format!("unpacking {component}"));
    let dest = run.work.join(format!("src-{component}"));
    std::fs::create_dir_all(&dest)?;
    run.log.run(
        &Cmd::new("tar")
            .arg("-xf")
            .arg(&resolved.path)
            .arg("-C")
            .arg(&dest)
            .args(members),
    )?;
    let top = single_subdir(&dest)?;
    let mut to_apply = patches(cx, component, &comp.version)?;
    if resolved.substitute {
        to_apply.extend(patches(
            cx,
            component,
            &format!("{}-substitute", comp.version),
        )?);
    }
    for set in patch_sets {
        to_apply.extend(patch_set(cx, component, &comp.version, set)?);
    }
    for p in to_apply {
        run.log
            .status(&format!("patching {component}: {}", p.display()));
        run.log.run(
            &Cmd::new("patch")
                .args(["-p1", "-N", "-i"])
                .arg(&p)
                .dir(&top),
        )?;
    }
    Ok(top)
}

fn single_subdir(dir: &Path) -> Result<PathBuf> {
    let mut subdirs = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.path());
    match (subdirs.next(), subdirs.next()) {
        (Some(d), None) => Ok(d),
        _ => bail!(
            "{} should hold exactly one directory after unpacking",
            dir.display()
        ),
    }
}

fn path_with(dir: &Path) -> String {
    let old = std::env::var("PATH").unwrap_or_default();
    format!("{}:{old}", dir.display())
}

// ---------------------------------------------------------------------------------

pub struct Binutils {
    arch: Arch,
    config: ToolchainConfig,
}

impl Step for Binutils {
    fn name(&self) -> String {
        format!("binutils-{}", self.arch.name)
    }
    fn inputs(&self, cx: &Context) -> Result<Inputs> {
        let comp = cx.components.get("binutils")?;
        let mut i = Inputs::new();
        i.flag("recipe", RECIPE);
        i.source("binutils", comp.source.key_value());
        i.flag("triple", &self.arch.triple);
        i.flag("binutils.configure", self.configure().join(" "));
        i.flag(
            "binutils.make_targets",
            self.config.binutils.make_targets.join(" "),
        );
        i.flag("host_cflags", &self.config.host_cflags);
        i.flag("host_ldflags", &self.config.host_ldflags);
        patch_inputs(
            cx,
            &mut i,
            "binutils",
            &comp.version,
            &self.arch.binutils.patch_sets,
        )?;
        host_inputs(cx, &mut i);
        Ok(i)
    }
    fn run(&self, cx: &Context, run: &mut StepRun) -> Result<()> {
        let src = unpack(cx, run, "binutils", &[], &self.arch.binutils.patch_sets)?;
        let obj = run.work.join("obj");
        std::fs::create_dir_all(&obj)?;
        let c = &self.config;
        run.log.status("configure");
        run.log.run(
            &Cmd::new(src.join("configure").display().to_string())
                .dir(&obj)
                .arg(format!("--target={}", self.arch.triple))
                .arg("--prefix=")
                .arg("--with-sysroot=/sysroot")
                .args(self.configure())
                .arg(format!("CFLAGS={}", c.host_cflags))
                .arg(format!("CXXFLAGS={}", c.host_cflags))
                .arg(format!("LDFLAGS={}", c.host_ldflags)),
        )?;
        run.log.status("make");
        run.log.run(
            &Cmd::new("make")
                .dir(&obj)
                .arg("MAKEINFO=true")
                .args(&c.binutils.make_targets)
                .jobserver(),
        )?;
        run.log.status("install");
        run.log.run(
            &Cmd::new("make")
                .dir(&obj)
                .arg("MAKEINFO=true")
                .arg(format!("DESTDIR={}", run.out.display()))
                .args(&c.binutils.install_targets),
        )?;
        let _ = std::fs::remove_dir_all(run.out.join("share"));
        Ok(())
    }
}

impl Binutils {
    fn configure(&self) -> Vec<String> {
        let mut v = self.config.binutils.configure.clone();
        v.extend(self.arch.binutils.configure.iter().cloned());
        v
    }
}

// ---------------------------------------------------------------------------------

pub struct LinuxHeaders {
    arch: Arch,
}

impl Step for LinuxHeaders {
    /// Named by kernel ARCH: armhf and armv7 (or x86 and x86_64) share one output.
    fn name(&self) -> String {
        format!("linux-headers-{}", self.arch.kernel_arch)
    }
    fn inputs(&self, cx: &Context) -> Result<Inputs> {
        let comp = cx.components.get("linux")?;
        let mut i = Inputs::new();
        i.flag("recipe", RECIPE);
        i.source("linux", comp.source.key_value());
        i.flag("kernel_arch", &self.arch.kernel_arch);
        patch_inputs(cx, &mut i, "linux", &comp.version, &[])?;
        i.tool("make", cx.host_tool_version("make"));
        i.tool("gcc", cx.host_tool_version("gcc"));
        Ok(i)
    }
    fn run(&self, cx: &Context, run: &mut StepRun) -> Result<()> {
        let comp = cx.components.get("linux")?;
        // Only what headers_install reads: a tenth of the tree.
        let top = format!("linux-{}", comp.version);
        let members: Vec<String> = [
            "Makefile",
            "Kbuild",
            "Kconfig",
            "scripts",
            "include",
            "usr",
            "tools/include",
        ]
        .iter()
        .map(|m| format!("{top}/{m}"))
        .chain(std::iter::once(format!(
            "{top}/arch/{}",
            self.arch.kernel_arch
        )))
        .collect();
        let members: Vec<&str> = members.iter().map(|s| s.as_str()).collect();
        let src = unpack(cx, run, "linux", &members, &[])?;
        run.log.status("make headers_install");
        run.log.run(
            &Cmd::new("make")
                .dir(&src)
                .arg(format!("ARCH={}", self.arch.kernel_arch))
                .arg("HOSTCC=gcc")
                .arg(format!(
                    "INSTALL_HDR_PATH={}",
                    run.out.join("usr").display()
                ))
                .arg("headers_install")
                .jobserver(),
        )?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------

pub struct Gcc {
    arch: Arch,
    config: ToolchainConfig,
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
                let _ = crate::step::remove_dir_all_writable(&run.work.join(d));
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
                let _ = crate::step::remove_dir_all_writable(d);
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

// ---------------------------------------------------------------------------------

/// Runtime libraries copied into the sysroot's /usr/lib so target programs find them.
const RUNTIME_LIBS: &[&str] = &["libgcc_s.so", "libstdc++.so", "libatomic.so", "libgomp.so"];

pub struct Assemble {
    arch: Arch,
}

impl Step for Assemble {
    fn name(&self) -> String {
        format!("toolchain-{}", self.arch.name)
    }
    fn inputs(&self, _cx: &Context) -> Result<Inputs> {
        let mut i = Inputs::new();
        i.flag("recipe", ASSEMBLE_RECIPE);
        i.flag("triple", &self.arch.triple);
        i.flag("loader", &self.arch.loader);
        i.flag("libc_soname", self.arch.libc_soname());
        i.flag("qemu", &self.arch.qemu);
        i.flag("kernel_arch", &self.arch.kernel_arch);
        Ok(i)
    }
    fn run(&self, _cx: &Context, run: &mut StepRun) -> Result<()> {
        let a = &self.arch;
        let t = &a.triple;
        let out = run.out.clone();
        run.log.status("assembling the prefix");
        for dep in [format!("binutils-{}", a.name), format!("gcc-{}", a.name)] {
            copy_tree(run.dep(&dep)?, &out)?;
        }
        let sysroot = out.join("sysroot");
        copy_tree(
            run.dep(&format!("linux-headers-{}", a.kernel_arch))?,
            &sysroot,
        )?;
        for junk in [crate::step::MANIFEST, ".alpinist-log.txt"] {
            let _ = std::fs::remove_file(out.join(junk));
            let _ = std::fs::remove_file(sysroot.join(junk));
        }

        // Alpine's musl layout: the loader is the real file in /lib, the soname link
        // next to it, and /usr/lib/libc.so a relative link (qemu -L needs relative).
        run.log.status("Alpine sysroot layout");
        let lib = sysroot.join("lib");
        let usrlib = sysroot.join("usr/lib");
        std::fs::create_dir_all(&lib)?;
        let loader = lib.join(&a.loader);
        let libc = usrlib.join("libc.so");
        if std::fs::symlink_metadata(&libc)?.file_type().is_file() {
            let _ = std::fs::remove_file(&loader);
            std::fs::rename(&libc, &loader)?;
        }
        let _ = std::fs::remove_file(&libc);
        std::os::unix::fs::symlink(format!("../../lib/{}", a.loader), &libc)?;
        let soname = lib.join(a.libc_soname());
        let _ = std::fs::remove_file(&soname);
        std::os::unix::fs::symlink(&a.loader, &soname)?;

        // Target runtime libraries, for running dynamic programs from the sysroot.
        let target_lib = target_lib_dir(&out, t)?;
        for e in std::fs::read_dir(&target_lib)
            .with_context(|| format!("reading {}", target_lib.display()))?
        {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            if RUNTIME_LIBS
                .iter()
                .any(|l| name.starts_with(&format!("{l}.")))
                && !name.ends_with(".py")
            {
                let dest = usrlib.join(&name);
                let _ = std::fs::remove_file(&dest);
                let ft = std::fs::symlink_metadata(e.path())?.file_type();
                if ft.is_symlink() {
                    std::os::unix::fs::symlink(std::fs::read_link(e.path())?, &dest)?;
                } else {
                    std::fs::copy(e.path(), &dest)?;
                }
            }
        }

        // The LTO plugin where binutils' ar/nm/ranlib look for plugins, so static
        // archives of LTO objects get a symbol index (as Alpine's gcc package links it).
        let libexec = out.join("libexec/gcc").join(t);
        if let Some(ver) = std::fs::read_dir(&libexec)
            .ok()
            .and_then(|mut rd| rd.next())
            .and_then(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
        {
            let plugins = out.join("lib/bfd-plugins");
            std::fs::create_dir_all(&plugins)?;
            let link = plugins.join("liblto_plugin.so");
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(
                format!("../../libexec/gcc/{t}/{ver}/liblto_plugin.so"),
                &link,
            )?;
        }

        // cc/c++ names, as Alpine's cross gcc has them.
        for (alias, real) in [("cc", "gcc"), ("c++", "g++")] {
            let l = out.join("bin").join(format!("{t}-{alias}"));
            if std::fs::symlink_metadata(&l).is_err() {
                std::os::unix::fs::symlink(format!("{t}-{real}"), &l)?;
            }
        }
        write_cmake(&out, a)?;
        write_meson(&out, a)?;
        std::fs::write(
            out.join("alpinist-toolchain.toml"),
            toml::to_string(a).context("serialising the arch")?,
        )?;
        Ok(())
    }
}

/// Where gcc installed the target libraries: `<triple>/lib`, or `<triple>/lib64` on
/// targets whose multilib directory name gcc keeps even with --disable-multilib.
pub fn target_lib_dir(prefix: &Path, triple: &str) -> Result<PathBuf> {
    for d in ["lib", "lib64"] {
        let p = prefix.join(triple).join(d);
        if p.join("libgcc_s.so.1").exists() {
            return Ok(p);
        }
    }
    bail!(
        "no libgcc_s.so.1 under {}/{triple}/lib or lib64",
        prefix.display()
    )
}

fn write_cmake(out: &Path, a: &Arch) -> Result<()> {
    let processor = match a.name.as_str() {
        "x86" => "i686",
        "armhf" | "armv7" => "arm",
        "ppc64le" => "ppc64le",
        _ => a.name.as_str(),
    };
    let t = &a.triple;
    let text = format!(
        r#"# CMake toolchain file for {t}, written by alpinist. Paths are relative to this file,
# so the toolchain keeps working after the whole directory is moved.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR {processor})
get_filename_component(_ALPINIST_TC "${{CMAKE_CURRENT_LIST_DIR}}" ABSOLUTE)
set(CMAKE_SYSROOT "${{_ALPINIST_TC}}/sysroot")
set(CMAKE_C_COMPILER "${{_ALPINIST_TC}}/bin/{t}-gcc")
set(CMAKE_CXX_COMPILER "${{_ALPINIST_TC}}/bin/{t}-g++")
set(CMAKE_AR "${{_ALPINIST_TC}}/bin/{t}-ar" CACHE FILEPATH "")
set(CMAKE_RANLIB "${{_ALPINIST_TC}}/bin/{t}-ranlib" CACHE FILEPATH "")
set(CMAKE_STRIP "${{_ALPINIST_TC}}/bin/{t}-strip" CACHE FILEPATH "")
set(CMAKE_CROSSCOMPILING_EMULATOR {qemu};-L;${{CMAKE_SYSROOT}})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
"#,
        qemu = a.qemu_binary()
    );
    std::fs::write(out.join("toolchain.cmake"), text)?;
    Ok(())
}

fn write_meson(out: &Path, a: &Arch) -> Result<()> {
    let (family, cpu) = match a.name.as_str() {
        "x86" => ("x86", "i586"),
        "x86_64" => ("x86_64", "x86_64"),
        "armhf" => ("arm", "armv6"),
        "armv7" => ("arm", "armv7"),
        "aarch64" => ("aarch64", "aarch64"),
        "ppc64le" => ("ppc64", "ppc64le"),
        "s390x" => ("s390x", "s390x"),
        "riscv64" => ("riscv64", "riscv64"),
        "loongarch64" => ("loongarch64", "loongarch64"),
        other => (other, other),
    };
    let t = &a.triple;
    let text = format!(
        r#"# Meson cross file for {t}, written by alpinist. @DIRNAME@ is this file's directory,
# so the toolchain keeps working after the whole directory is moved.
[constants]
tc = '@DIRNAME@'

[binaries]
c = tc / 'bin/{t}-gcc'
cpp = tc / 'bin/{t}-g++'
ar = tc / 'bin/{t}-ar'
strip = tc / 'bin/{t}-strip'
pkg-config = 'pkg-config'
exe_wrapper = ['{qemu}', '-L', tc / 'sysroot']

[properties]
sys_root = tc / 'sysroot'
pkg_config_libdir = tc / 'sysroot/usr/lib/pkgconfig'

[host_machine]
system = 'linux'
cpu_family = '{family}'
cpu = '{cpu}'
endian = '{endian}'
"#,
        qemu = a.qemu_binary(),
        endian = a.elf.endian
    );
    std::fs::write(out.join("meson-cross.ini"), text)?;
    Ok(())
}

/// Copies a tree into `dest`, hard-linking regular files (store outputs are immutable)
/// and keeping symlinks as they are.
pub fn copy_tree(src: &Path, dest: &Path) -> Result<()> {
    std::fs::create_dir_all(dest)?;
    for e in std::fs::read_dir(src).with_context(|| format!("reading {}", src.display()))? {
        let e = e?;
        let from = e.path();
        let to = dest.join(e.file_name());
        let ft = std::fs::symlink_metadata(&from)?.file_type();
        if ft.is_dir() {
            copy_tree(&from, &to)?;
        } else if ft.is_symlink() {
            let _ = std::fs::remove_file(&to);
            std::os::unix::fs::symlink(std::fs::read_link(&from)?, &to)?;
        } else {
            let _ = std::fs::remove_file(&to);
            if std::fs::hard_link(&from, &to).is_err() {
                std::fs::copy(&from, &to)
                    .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
            }
        }
    }
    Ok(())
}
