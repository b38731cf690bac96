//! The steps of one build: stage 1, the runtime packages, and one step per aport,
//! ordered by what each needs from the others.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Result};

use crate::config::arch::Arch;
use crate::context::Context;
use crate::engine::Graph;
use crate::keys::SigningKey;
use crate::stages::packages::build::AportBuild;
use crate::stages::packages::order::{
    dep_name, missing_tools_message, needs, provide_host_tools, providers, split_deps, topo_order,
    RUNTIME_NAMES,
};
use crate::stages::packages::runtime::RuntimePackages;
use crate::stages::packages::{Aport, BuildSettings};

/// The graph for building `aports` for `arch`: stage 1, the runtime packages, and one
/// step per aport, ordered by what each needs from the others.
pub fn graph(
    cx: &Context,
    arch: &Arch,
    aports: &[Aport],
    settings: &BuildSettings,
    key: &SigningKey,
) -> Result<(Graph, Vec<usize>)> {
    let mut g = Graph::new();
    let tc = crate::stages::toolchain::add_steps(cx, arch, &mut g)?;
    let idx = |n: &str| {
        tc.iter()
            .find(|(x, _)| x == n)
            .map(|(_, i)| *i)
            .expect("stage 1 step")
    };
    let runtime = g.add(
        RuntimePackages {
            arch: arch.clone(),
            key: key.into(),
        },
        &[idx("gcc"), idx("linux-headers")],
    );
    let provider = providers(aports);
    let missing_tools = provide_host_tools(cx, aports, &provider)?;
    if !missing_tools.is_empty() {
        bail!("{}", missing_tools_message(&missing_tools));
    }
    let needs = needs(aports, &provider);
    let order = topo_order(aports, &needs)?;
    let mut step_of: BTreeMap<usize, usize> = BTreeMap::new();
    for i in order {
        let a = &aports[i];
        let (host_side, build_side) = split_deps(&a.recipe);
        let mut sysroot_deps: Vec<String> =
            vec!["musl-dev".into(), "libgcc".into(), "libstdc++".into()];
        let mut deps = vec![idx("toolchain"), runtime];
        let mut package_steps = vec![format!("runtime-{}", arch.name)];
        for &j in &needs[i] {
            deps.push(*step_of.get(&j).ok_or_else(|| anyhow!("internal: order"))?);
            package_steps.push(AportBuild::step_name(arch, &aports[j].recipe));
        }
        let mut want = host_side.clone();
        for b in &build_side {
            let n = dep_name(b);
            // A package, not a tool: abuild would install it on the build machine; for a
            // cross build it is only useful in the sysroot.
            if provider.contains_key(&n) || RUNTIME_NAMES.contains(&n.as_str()) {
                want.push(b.clone());
            }
        }
        for w in want {
            if !sysroot_deps.contains(&w) {
                sysroot_deps.push(w);
            }
        }
        let s = g.add(
            AportBuild {
                arch: arch.clone(),
                aport: a.clone(),
                settings: settings.for_aport(&a.name()),
                key: key.into(),
                sysroot_deps,
                package_steps,
            },
            &deps,
        );
        step_of.insert(i, s);
    }
    let mut aport_steps: Vec<usize> = vec![runtime];
    aport_steps.extend(aports.iter().enumerate().map(|(i, _)| step_of[&i]));
    Ok((g, aport_steps))
}
