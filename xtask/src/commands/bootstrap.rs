//! `cargo xtask bootstrap`: stages 1–3.

use anyhow::Result;
use clap::Args;

use crate::commands::{ArchArgs, SetArgs};
use crate::context::Context;
use crate::stages::bootstrap::{self, Options};

#[derive(Args)]
pub struct BootstrapArgs {
    #[command(flatten)]
    pub arch: ArchArgs,
    #[command(flatten)]
    pub set: SetArgs,
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
            aports: b.set.aports,
            set: b.set.set,
            packages: b.set.packages,
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
