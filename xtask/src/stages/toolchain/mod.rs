//! Stage 1: musl cross toolchains (binutils, gcc C/C++, musl, Linux headers).
//!
//! One gcc build tree per arch, not two: configure once, `all-gcc`, install musl's
//! headers into a build sysroot, build a static libgcc, build musl against it, then
//! finish gcc (libgcc_s, libstdc++, libatomic, libgomp) in the same tree. The steps and
//! their order come from `stages/toolchain.toml`; flags from `toolchains/`.
//!
//! - [`source`]: unpacking a component and applying its patches;
//! - [`binutils`], [`linux_headers`], [`gcc`]: the three compiling steps;
//! - [`assemble`]: the relocatable prefix, with [`cross_files`] for CMake and Meson.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};

use crate::config::arch::Arch;
use crate::config::toolchain::{StageFile, ToolchainConfig};
use crate::context::Context;
use crate::engine::{Graph, Inputs};

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
pub(crate) const RECIPE: &str = "1";

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
    let stage: StageFile = crate::config::load(&path)?;
    let config = ToolchainConfig::load(&cx.layout)?;
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
    crate::host::require(&cx.layout, "toolchain")?;
    let g = graph(cx, &arch)?;
    let reports = crate::engine::run_graph(cx, &g)?;
    let tc = reports
        .iter()
        .find(|r| r.name == format!("toolchain-{}", arch.name))
        .context("the toolchain graph has no toolchain step")?;
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
