//! `cargo xtask sbom`: the SPDX 2.3 documents of a package or of a root filesystem.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;

use crate::commands::ArchArgs;
use crate::config::stages::Stages;
use crate::context::Context;
use crate::stages::packages::sbom;
use crate::stages::rootfs::{local_arch_dirs, Profile};

#[derive(Args)]
pub struct SbomArgs {
    #[command(flatten)]
    pub arch: ArchArgs,
    /// Print this package's document (from the local repositories' sbom/ directories)
    #[arg(long, value_name = "NAME")]
    pub package: Option<String>,
    /// The root filesystem tarball [default: the newest build/<arch>/alpine-minirootfs-*.tar.gz]
    #[arg(long, conflicts_with = "package")]
    pub tarball: Option<PathBuf>,
    /// Print the document instead of writing it beside the tarball
    #[arg(long)]
    pub stdout: bool,
    /// The set of stages/bootstrap.toml whose repositories hold the packages
    #[arg(long, default_value = "base")]
    pub set: String,
}

pub fn run(cx: &mut Context, a: SbomArgs) -> Result<()> {
    cx.use_repodest(Stages::load(&cx.layout)?.set(&a.set)?);
    let cx = &*cx;
    let arch = cx.arches.get(&a.arch.arch)?;
    let repos = local_arch_dirs(cx, arch)?;
    if let Some(name) = &a.package {
        let prefix = format!("{name}-");
        let mut found: Vec<PathBuf> = repos
            .iter()
            .flat_map(|r| std::fs::read_dir(r.join(sbom::DIR)).into_iter().flatten())
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name().is_some_and(|f| {
                    let f = f.to_string_lossy();
                    // `name-<version>`: the version starts with a digit.
                    f.strip_prefix(&prefix)
                        .is_some_and(|v| v.starts_with(|c: char| c.is_ascii_digit()))
                        && f.ends_with(sbom::SUFFIX)
                })
            })
            .collect();
        found.sort();
        let Some(f) = found.pop() else {
            bail!(
                "no SBOM for package {name} in {}; build it first (`cargo xtask build`)",
                repos
                    .iter()
                    .map(|r| r.join(sbom::DIR).display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        };
        print!("{}", std::fs::read_to_string(f)?);
        return Ok(());
    }
    let tarball = match a.tarball {
        Some(t) => t,
        None => Profile::Minirootfs.newest_tarball(cx, arch)?,
    };
    let doc = sbom::for_tarball(
        &tarball,
        &arch.name,
        &repos,
        crate::stages::packages::output_epoch(),
    )?;
    let text = serde_json::to_string_pretty(&doc)?;
    if a.stdout {
        println!("{text}");
    } else {
        let out = sbom::beside(&tarball);
        std::fs::write(&out, text)?;
        println!("{}", out.display());
    }
    Ok(())
}
