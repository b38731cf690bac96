//! `cargo xtask selfhost`: the self-hosting check in a build root.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;

use crate::commands::ArchArgs;
use crate::config::stages::Stages;
use crate::context::Context;

#[derive(Args)]
pub struct SelfhostArgs {
    #[command(flatten)]
    pub arch: ArchArgs,
    /// The build root tarball [default: the newest build/<arch>/alpine-buildroot-*.tar.gz]
    #[arg(long)]
    pub tarball: Option<PathBuf>,
    /// The aports checkout holding the aport to build ([selfhost] in
    /// stages/bootstrap.toml names it)
    #[arg(long, value_name = "PATH")]
    pub aports: PathBuf,
    /// The set of stages/bootstrap.toml whose repositories the root installs from
    #[arg(long, default_value = "base")]
    pub set: String,
}

pub fn run(cx: &mut Context, s: SelfhostArgs) -> Result<()> {
    let stages = Stages::load(&cx.layout)?;
    cx.use_repodest(stages.set(&s.set)?);
    let a = cx.arches.get(&s.arch.arch)?.clone();
    let steps = crate::stages::bootstrap::selfhost(cx, &a, &stages, &s.aports, s.tarball)?;
    let failed = steps.iter().filter(|s| !s.ok).count();
    if failed > 0 || steps.is_empty() {
        bail!("the self-hosting check failed (see above)");
    }
    Ok(())
}
