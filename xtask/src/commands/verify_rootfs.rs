//! `cargo xtask verify-rootfs`: run a root filesystem's own tools in it.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::commands::ArchArgs;
use crate::config::stages::Stages;
use crate::context::Context;

#[derive(Args)]
pub struct VerifyRootfsArgs {
    #[command(flatten)]
    pub arch: ArchArgs,
    /// The tarball [default: the newest build/<arch>/alpine-minirootfs-*.tar.gz]
    #[arg(long)]
    pub tarball: Option<PathBuf>,
    /// The set of stages/bootstrap.toml whose repositories `apk add` uses
    #[arg(long, default_value = "base")]
    pub set: String,
}

pub fn run(cx: &mut Context, v: VerifyRootfsArgs) -> Result<()> {
    cx.use_repodest(Stages::load(&cx.layout)?.set(&v.set)?);
    let a = cx.arches.get(&v.arch.arch)?.clone();
    crate::stages::rootfs::verify(cx, &a, v.tarball)
}
