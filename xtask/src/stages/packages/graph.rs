//! The steps of one build: stage 1, the runtime packages, and one step per aport,
//! ordered by what each needs from the others.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Result};

use crate::config::arch::Arch;
use crate::context::Context;
use crate::engine::{Graph, StepRef};
use crate::keys::SigningKey;
use crate::stages::packages::build::AportBuild;
use crate::stages::packages::order::{
    dep_name, missing_tools_message, needs, provide_host_tools, providers, split_deps, topo_order,
    RUNTIME_NAMES,
};
use crate::stages::packages::runtime::RuntimePackages;
use crate::stages::packages::{Aport, BuildSettings};
use crate::stages::toolchain::ToolchainSteps;

/// The steps of one build, and the handles of those its callers look at.
pub struct BuildGraph {
    pub graph: Graph<Context>,
    /// Stage 1.
    pub toolchain: ToolchainSteps,
    /// The stage 1 runtime as bootstrap packages.
    pub runtime: StepRef<RuntimePackages>,
    /// One step per aport, in the order the aports were given.
    pub aports: Vec<StepRef<AportBuild>>,
}

impl BuildGraph {
    /// The steps that are not aports: the toolchain's and the runtime packages'.
    pub fn base_steps(&self) -> Vec<usize> {
        let mut v = self.toolchain.indices();
        v.push(self.runtime.index());
        v
    }
}

/// The graph for building `aports` for `arch`: stage 1, the runtime packages, and one
/// step per aport, ordered by what each needs from the others.
pub fn graph(
    cx: &Context,
    arch: &Arch,
    aports: &[Aport],
    settings: &BuildSettings,
    key: &SigningKey,
) -> Result<BuildGraph> {
    let mut g = Graph::new();
    let tc = crate::stages::toolchain::add_steps(cx, arch, &mut g)?;
    let runtime = g.add(RuntimePackages {
        arch: arch.clone(),
        key: key.into(),
        gcc: tc.gcc,
        headers: tc.headers,
    });
    let provider = providers(aports);
    let missing_tools = provide_host_tools(cx, aports, &provider)?;
    if !missing_tools.is_empty() {
        bail!("{}", missing_tools_message(&missing_tools));
    }
    let needs = needs(aports, &provider);
    let order = topo_order(aports, &needs)?;
    let mut step_of: BTreeMap<usize, StepRef<AportBuild>> = BTreeMap::new();
    for i in order {
        let a = &aports[i];
        let needed = needs[i]
            .iter()
            .map(|j| {
                step_of
                    .get(j)
                    .copied()
                    .ok_or_else(|| anyhow!("internal: order"))
            })
            .collect::<Result<Vec<_>>>()?;
        let s = g.add(AportBuild {
            arch: arch.clone(),
            aport: a.clone(),
            settings: settings.for_aport(&a.name()),
            key: key.into(),
            sysroot_deps: sysroot_deps(a, &provider),
            toolchain: tc.toolchain,
            runtime,
            needs: needed,
        });
        step_of.insert(i, s);
    }
    Ok(BuildGraph {
        graph: g,
        toolchain: tc,
        runtime,
        aports: (0..aports.len()).map(|i| step_of[&i]).collect(),
    })
}

/// What goes into an aport's sysroot: the target runtime, its `makedepends_host`, and
/// those of its build-side names that are packages rather than tools (abuild would
/// install them on the build machine; for a cross build they are only useful in the
/// sysroot).
fn sysroot_deps(a: &Aport, provider: &BTreeMap<String, usize>) -> Vec<String> {
    let (host_side, build_side) = split_deps(&a.recipe);
    let mut deps: Vec<String> = vec!["musl-dev".into(), "libgcc".into(), "libstdc++".into()];
    let mut want = host_side;
    for b in &build_side {
        let n = dep_name(b);
        if provider.contains_key(&n) || RUNTIME_NAMES.contains(&n.as_str()) {
            want.push(b.clone());
        }
    }
    for w in want {
        if !deps.contains(&w) {
            deps.push(w);
        }
    }
    deps
}
