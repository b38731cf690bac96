//! alpinist's library: the pieces the `cargo xtask` commands are made of.

pub mod arch;
pub mod bench;
pub mod bench_apk;
pub mod bootstrap;
pub mod build;
pub mod cmd_apk;
pub mod components;
pub mod context;
pub mod host;
pub mod keys;
pub mod layout;
pub mod progress;
pub mod repro;
pub mod rootfs;
pub mod runner;
pub mod selfhost;
pub mod sources;
pub mod step;
pub mod substitute;
pub mod toolchain;

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::Args;

use crate::context::Context;

#[derive(Args, Clone)]
pub struct ArchArgs {
    /// Alpine arch name (x86, x86_64, armhf, armv7, aarch64, ppc64le, s390x, riscv64, loongarch64)
    #[arg(long, value_name = "ARCH")]
    pub arch: String,
}

pub fn fetch_toolchain_sources(cx: &Context) -> Result<()> {
    for (name, c) in &cx.components.map {
        eprintln!("{name} {}:", c.version);
        let r = cx.fetch(&c.source)?;
        eprintln!(
            "  ok {} ({}{})",
            r.path.display(),
            r.origin,
            if r.substitute {
                ", documented substitute"
            } else {
                ""
            }
        );
    }
    eprintln!(
        "all sources are verified in {}",
        cx.layout.distfiles.display()
    );
    Ok(())
}

/// Builds (or finds cached) the toolchain for an arch and links build/toolchains/<arch>.
pub fn build_toolchain(cx: &Context, arch_name: &str) -> Result<PathBuf> {
    let arch = cx.arches.get(arch_name)?.clone();
    cx.layout.ensure()?;
    host::require(&cx.layout, "toolchain")?;
    let g = toolchain::graph(cx, &arch)?;
    let reports = step::run_graph(cx, &g)?;
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

/// Builds aports for an arch (stage 1 first, cached), publishes the packages into
/// `build/repo/<repo>/<arch>/` with a signed index. Returns the repository directories.
pub fn build_aports(
    cx: &Context,
    arch_name: &str,
    dirs: &[PathBuf],
    settings: &build::BuildSettings,
) -> Result<Vec<PathBuf>> {
    let arch = cx.arches.get(arch_name)?.clone();
    let key = keys::SigningKey::ensure(cx)?;
    let (done, failure) = run_aports(cx, &arch, dirs, settings, &key)?;
    let repos = build::publish(cx, &arch, &done, &key)?;
    for r in &repos {
        eprintln!(
            "repository: {} (signed with {})",
            r.display(),
            key.public_name
        );
    }
    if let Some(msg) = failure {
        anyhow::bail!("{msg}");
    }
    Ok(repos)
}

/// Builds aports without publishing; returns the store outputs of the aport steps.
pub fn build_aport_outputs(
    cx: &Context,
    arch_name: &str,
    dirs: &[PathBuf],
    settings: &build::BuildSettings,
) -> Result<Vec<PathBuf>> {
    let arch = cx.arches.get(arch_name)?.clone();
    let key = keys::SigningKey::ensure(cx)?;
    let (done, failure) = run_aports(cx, &arch, dirs, settings, &key)?;
    if let Some(msg) = failure {
        anyhow::bail!("{msg}");
    }
    // The runtime packages are not the aports'.
    Ok(done.into_iter().skip(1).collect())
}

fn run_aports(
    cx: &Context,
    arch: &arch::Arch,
    dirs: &[PathBuf],
    settings: &build::BuildSettings,
    key: &keys::SigningKey,
) -> Result<(Vec<PathBuf>, Option<String>)> {
    cx.layout.ensure()?;
    host::require(&cx.layout, "toolchain")?;
    host::require(&cx.layout, "build")?;
    host::sandbox_preflight()?;
    let mut aports = Vec::new();
    for d in dirs {
        let a = build::evaluate(cx, arch, d, settings)?;
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
    let (g, aport_steps) = build::graph(cx, arch, &aports, settings, key)?;
    let planned = step::plan(cx, &g)?;
    let reports = step::execute(cx, &g, &planned)?;
    step::print_summary(&reports);
    let done: Vec<PathBuf> = aport_steps
        .iter()
        .filter(|&&i| {
            matches!(
                reports[i].outcome,
                step::Outcome::Built | step::Outcome::Cached
            )
        })
        .map(|&i| reports[i].out.clone())
        .collect();
    let failure = reports.iter().find_map(|r| match &r.outcome {
        step::Outcome::Failed(msg) => Some(msg.clone()),
        _ => None,
    });
    Ok((done, failure))
}
