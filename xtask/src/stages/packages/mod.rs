//! Stage 2: building aports (directories with an APKBUILD) into signed `.apk` files.
//!
//! abuild reimplemented for a non-Alpine host: the recipe runs in bash with alpinist's
//! own APKBUILD environment (`crates/apkbuild/sh/abuild.sh`) inside a bubblewrap sandbox;
//! `package()` and the split functions run under fakeroot; Rust does the rest: sources
//! through the verified resolver, the per-arch sysroot through the apk installer, strip,
//! postcheck, dependency tracing, `.PKGINFO`, signed packages and the signed index.
//!
//! - [`aport`]: finding and evaluating an aport (patched copy, metadata, key files);
//! - [`env`]: the environment a recipe sees;
//! - [`order`]: what each aport needs built first, from the recipes;
//! - [`runtime`]: the stage 1 runtime as bootstrap packages;
//! - [`graph`]: the steps of one build;
//! - [`build`]: one aport built in the sandbox ([`sandbox`]), then [`package`]d;
//! - [`publish`]: the packages into the local repositories with a signed index;
//! - [`shell`]: a shell in a failed build's tree; [`repro`]: build twice and compare.

use std::path::PathBuf;

use anyhow::Result;

use crate::config::arch::Arch;
use crate::config::host::Purpose;
use crate::context::Context;
use crate::engine::{self, Outcome};
use crate::host;
use crate::keys::SigningKey;

pub mod accounts;
pub mod aport;
pub mod build;
pub mod defaults;
pub mod env;
pub mod fetch;
pub mod graph;
pub mod order;
pub mod package;
pub mod publish;
pub mod repro;
pub mod runtime;
pub mod sandbox;
pub mod sbom;
pub mod settings;
pub mod shell;
pub mod sysroot;

pub use aport::{evaluate, Aport};
pub use graph::graph;
pub use publish::publish;
pub use runtime::{output_epoch, BOOTSTRAP_EPOCH};
pub use settings::{parse_env, BuildSettings};

/// Bumped when the Rust side of a package build changes what it produces.
pub(crate) const RECIPE: &str = "6";

/// Builds aports for an arch (stage 1 first, cached), publishes the packages into
/// `build/repo/<repo>/<arch>/` with a signed index. Returns the repository directories.
pub fn build_aports(
    cx: &Context,
    arch_name: &str,
    dirs: &[PathBuf],
    settings: &BuildSettings,
) -> Result<Vec<PathBuf>> {
    let arch = cx.arches.get(arch_name)?.clone();
    let key = SigningKey::ensure(cx)?;
    let built = run_aports(cx, &arch, dirs, settings, &key)?;
    let mut outs: Vec<PathBuf> = built.runtime.into_iter().collect();
    outs.extend(built.aports);
    let repos = publish(cx, &arch, &outs, &key)?;
    for r in &repos {
        eprintln!(
            "repository: {} (signed with {})",
            r.display(),
            key.public_name
        );
    }
    if let Some(msg) = built.failure {
        anyhow::bail!("{msg}");
    }
    Ok(repos)
}

/// Builds aports without publishing; returns the store outputs of the aport steps.
pub fn build_aport_outputs(
    cx: &Context,
    arch_name: &str,
    dirs: &[PathBuf],
    settings: &BuildSettings,
) -> Result<Vec<PathBuf>> {
    let (outputs, failure) = build_aport_outputs_partly(cx, arch_name, dirs, settings)?;
    if let Some(msg) = failure {
        anyhow::bail!("{msg}");
    }
    Ok(outputs)
}

/// As [`build_aport_outputs`], but a failed step (with --keep-going, the others go on)
/// is returned beside the outputs of those that were built.
pub fn build_aport_outputs_partly(
    cx: &Context,
    arch_name: &str,
    dirs: &[PathBuf],
    settings: &BuildSettings,
) -> Result<(Vec<PathBuf>, Option<String>)> {
    let arch = cx.arches.get(arch_name)?.clone();
    let key = SigningKey::ensure(cx)?;
    let built = run_aports(cx, &arch, dirs, settings, &key)?;
    Ok((built.aports, built.failure))
}

/// What a build made: the store outputs of the steps that succeeded (or were cached).
struct Built {
    runtime: Option<PathBuf>,
    aports: Vec<PathBuf>,
    /// The first failure, if a step failed.
    failure: Option<String>,
}

fn run_aports(
    cx: &Context,
    arch: &Arch,
    dirs: &[PathBuf],
    settings: &BuildSettings,
    key: &SigningKey,
) -> Result<Built> {
    cx.layout.ensure()?;
    host::require(&cx.layout, Purpose::Toolchain)?;
    host::require(&cx.layout, Purpose::Build)?;
    host::sandbox_preflight()?;
    let mut aports = Vec::new();
    for d in dirs {
        let a = evaluate(cx, arch, d, settings)?;
        // As abuild: a recipe whose arch= excludes the target is not built, and that is
        // not an error.
        if !a.recipe.builds_for(&arch.name) {
            eprintln!(
                "{}: not built for {}: arch=\"{}\" does not include it",
                a.recipe.path.display(),
                arch.name,
                a.recipe.words("arch").join(" ")
            );
            continue;
        }
        aports.push(a);
    }
    let bg = graph(cx, arch, &aports, settings, key)?;
    let planned = engine::plan(cx, &bg.graph)?;
    let reports = engine::execute(cx, &bg.graph, &planned)?;
    engine::print_summary(&reports);
    let done = |i: usize| {
        let r = &reports[i];
        matches!(r.outcome, Outcome::Built | Outcome::Cached).then(|| r.out.clone())
    };
    Ok(Built {
        runtime: done(bg.runtime.index()),
        aports: bg.aports.iter().filter_map(|s| done(s.index())).collect(),
        failure: reports.iter().find_map(|r| match &r.outcome {
            Outcome::Failed(msg) => Some(msg.clone()),
            _ => None,
        }),
    })
}
