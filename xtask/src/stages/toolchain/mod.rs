//! Stage 1: musl cross toolchains (binutils, gcc C/C++, musl, Linux headers).
//!
//! One gcc build tree per arch, not two: configure once, `all-gcc`, install musl's
//! headers into a build sysroot, build a static libgcc, build musl against it, then
//! finish gcc (libgcc_s, libstdc++, libatomic, libgomp) in the same tree. The steps are
//! added by [`add_steps`]; flags come from `toolchains/`.
//!
//! - [`source`]: unpacking a component and applying its patches;
//! - [`binutils`], [`linux_headers`], [`gcc`]: the three compiling steps;
//! - [`assemble`]: the relocatable prefix, with [`cross_files`] for CMake and Meson.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use crate::config::arch::Arch;
use crate::config::host::Purpose;
use crate::config::toolchain::ToolchainConfig;
use crate::context::Context;
use crate::engine::{Graph, Inputs, StepRef, StepRun};
use crate::exec::{Cmd, Sandbox};

pub mod assemble;
pub mod binutils;
pub mod cross_files;
pub mod gcc;
pub mod linux_headers;
pub mod source;

pub use assemble::{target_lib_dir, Assemble};
pub use binutils::Binutils;
pub use gcc::Gcc;
pub use linux_headers::LinuxHeaders;

/// Host tools the toolchain steps run; their versions are part of the keys.
const HOST_TOOLS: &[&str] = &["gcc", "g++", "make"];
/// Host libraries gcc links against.
pub(crate) const HOST_LIBS: &[&str] = &["libgmp-dev", "libmpfr-dev", "libmpc-dev", "zlib1g-dev"];

/// Bumped when the Rust code of a step changes what it produces.
pub(crate) const RECIPE: &str = "2";

/// Where the binutils and gcc steps' commands (and every recipe, in stage 2) see their
/// build tree: one path for every build, whatever the checkout or the cache directory,
/// since gcc records its configure line and its source files' paths in the programs and
/// libraries it installs.
pub const BUILD_DIR: &str = "/build";

/// `host`, a path in the step's work tree, as its commands see it (under [`BUILD_DIR`]).
pub(crate) fn inside(run: &StepRun, host: &Path) -> PathBuf {
    match host.strip_prefix(&run.work) {
        Ok(rel) => Path::new(BUILD_DIR).join(rel),
        Err(_) => host.to_path_buf(),
    }
}

/// `cmd` in the stage 1 sandbox: the host read-only with a private /tmp, no network, the
/// step's work tree writable at [`BUILD_DIR`], its output writable and the directories
/// `also` read-only at their own paths.
pub(crate) fn sandboxed(run: &StepRun, also: &[&Path], cmd: Cmd) -> Result<Cmd> {
    std::fs::create_dir_all(&run.out)?;
    let mut sb = Sandbox::host()
        .no_net()
        .bind_at(&run.work, BUILD_DIR)
        .bind(&run.out);
    for p in also {
        sb = sb.ro_bind(p, &p.display().to_string());
    }
    Ok(sb.around(cmd))
}

/// The stage 1 steps of one arch.
#[derive(Debug, Clone, Copy)]
pub struct ToolchainSteps {
    pub binutils: StepRef<Binutils>,
    pub gcc: StepRef<Gcc>,
    pub headers: StepRef<LinuxHeaders>,
    /// The finished prefix.
    pub toolchain: StepRef<Assemble>,
}

impl ToolchainSteps {
    /// Their places in the graph.
    pub fn indices(&self) -> Vec<usize> {
        vec![
            self.binutils.index(),
            self.gcc.index(),
            self.headers.index(),
            self.toolchain.index(),
        ]
    }
}

/// The stage 1 graph for one arch.
pub fn graph(cx: &Context, arch: &Arch) -> Result<(Graph<Context>, ToolchainSteps)> {
    let mut g = Graph::new();
    let steps = add_steps(cx, arch, &mut g)?;
    Ok((g, steps))
}

/// Adds the stage 1 steps for `arch` to a graph. binutils and the Linux headers need
/// nothing; gcc uses binutils, but only from `all-gcc` on, so it starts once binutils
/// has (unpacking its 1.2 GiB source, its top-level configure and the host libraries
/// overlap binutils' build); the toolchain step assembles the three. When slots are
/// short (two at a time on two cores) steps start in the order they are added, so the
/// long gcc step comes before the headers.
pub fn add_steps(cx: &Context, arch: &Arch, g: &mut Graph<Context>) -> Result<ToolchainSteps> {
    let config = ToolchainConfig::load(&cx.layout)?;
    let binutils = g.add(Binutils {
        arch: arch.clone(),
        config: config.clone(),
    });
    let gcc = g.add(Gcc {
        arch: arch.clone(),
        config,
        binutils,
    });
    let headers = g.add(LinuxHeaders { arch: arch.clone() });
    let toolchain = g.add(Assemble {
        arch: arch.clone(),
        binutils,
        headers,
        gcc,
    });
    Ok(ToolchainSteps {
        binutils,
        gcc,
        headers,
        toolchain,
    })
}

pub(crate) fn host_inputs(cx: &Context, inputs: &mut Inputs) {
    for t in HOST_TOOLS {
        inputs.tool(*t, cx.host_tool_version(t));
    }
}

pub(crate) fn path_with(dir: &Path) -> String {
    let old = std::env::var("PATH").unwrap_or_default();
    format!("{}:{old}", dir.display())
}

/// Builds (or finds cached) the toolchain for an arch and links build/toolchains/<arch>.
pub fn build(cx: &Context, arch_name: &str) -> Result<PathBuf> {
    let arch = cx.arches.get(arch_name)?.clone();
    cx.layout.ensure()?;
    crate::host::require(&cx.layout, Purpose::Toolchain)?;
    let (g, steps) = graph(cx, &arch)?;
    let reports = crate::engine::run_graph(cx, &g)?;
    let tc = &reports[steps.toolchain.index()];
    let link = cx.layout.toolchain_link(&arch.name);
    std::fs::create_dir_all(link.parent().expect("has parent"))?;
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&tc.out, &link)
        .with_context(|| format!("linking {}", link.display()))?;
    eprintln!(
        "\ntoolchain for {} ({}) is ready: {}\n  e.g. {}/bin/{}-gcc hello.c",
        arch.name,
        arch.triple,
        link.display(),
        link.display(),
        arch.triple
    );
    Ok(link)
}
