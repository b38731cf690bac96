//! `cargo xtask rootfs`: stage 3 from the local repositories.

use anyhow::Result;
use clap::Args;

use crate::commands::ArchArgs;
use crate::config::stages::Stages;
use crate::context::Context;
use crate::stages::rootfs::Profile;

#[derive(Args)]
pub struct RootfsArgs {
    #[command(flatten)]
    pub arch: ArchArgs,
    /// Packages to install [default: the `rootfs` list of a set in
    /// stages/bootstrap.toml: Alpine's minirootfs profile for `base`]
    #[arg(long, value_delimiter = ',')]
    pub packages: Vec<String>,
    /// The set of stages/bootstrap.toml: its repositories, and its default package list
    #[arg(long, default_value = "base")]
    pub set: String,
    /// Which root: Alpine's minirootfs, or the build root (compiler, abuild, apk)
    #[arg(long, value_enum, default_value = "minirootfs")]
    pub profile: Profile,
}

pub fn run(cx: &mut Context, r: RootfsArgs) -> Result<()> {
    let a = cx.arches.get(&r.arch.arch)?.clone();
    let stages = Stages::load(&cx.layout)?;
    let set = stages.set(&r.set)?;
    cx.use_repodest(set);
    let packages = if !r.packages.is_empty() {
        r.packages
    } else if r.profile == Profile::Buildroot {
        set.buildroot.clone()
    } else {
        set.rootfs.clone()
    };
    crate::stages::rootfs::rootfs(cx, &a, &packages, r.profile).map(|_| ())
}
