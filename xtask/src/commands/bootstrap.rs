//! `cargo xtask bootstrap`: stages 1–3.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::commands::ArchArgs;
use crate::context::Context;
use crate::stages::bootstrap::{self, Options};

#[derive(Args)]
pub struct BootstrapArgs {
    #[command(flatten)]
    pub arch: ArchArgs,
    /// An aports checkout [default: a clone at the ref pinned in stages/bootstrap.toml,
    /// which needs the network]
    #[arg(long, value_name = "PATH")]
    pub aports: Option<PathBuf>,
    /// Which list of aports to build (a [set.NAME] of stages/bootstrap.toml: base, fixtures)
    #[arg(long, default_value = "base")]
    pub set: String,
    /// Build only these aports (names in the checkout) instead of the set's list
    #[arg(long, value_delimiter = ',', value_name = "APORT,...")]
    pub packages: Vec<String>,
    /// Stop after the packages (no root filesystem)
    #[arg(long)]
    pub no_rootfs: bool,
    /// Do not run verify-rootfs on the new root filesystem
    #[arg(long)]
    pub no_verify: bool,
    /// Make the OCI image of the root filesystem (build/images/) [default: when podman or
    /// skopeo is installed to check it; podman then runs apk and cat in it]
    #[arg(long, conflicts_with = "no_image")]
    pub image: bool,
    /// Do not make the OCI image
    #[arg(long)]
    pub no_image: bool,
}

pub fn run(cx: &mut Context, b: BootstrapArgs) -> Result<()> {
    bootstrap::run(
        cx,
        &Options {
            arch: b.arch.arch,
            aports: b.aports,
            set: b.set,
            packages: b.packages,
            rootfs: !b.no_rootfs,
            verify: !b.no_verify,
            image: match (b.image, b.no_image) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            },
        },
    )
}
