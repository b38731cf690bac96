//! `cargo xtask verify-native`: each aport built by alpinist (cross) and by Alpine's
//! abuild natively in the build root, every package compared.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::commands::{ArchArgs, SetArgs};
use crate::context::Context;
use crate::stages::native::{self, Options};

#[derive(Args)]
pub struct VerifyNativeArgs {
    #[command(flatten)]
    pub arch: ArchArgs,
    /// The checkout and the set whose settings the cross builds use (as its bootstrap
    /// built them); `--packages` names the aports to compare [default: the set's]
    #[command(flatten)]
    pub set: SetArgs,
    /// The build root to build in [default: the newest build/<arch>/alpine-buildroot-*.tar.gz]
    #[arg(long)]
    pub tarball: Option<PathBuf>,
}

pub fn run(cx: &mut Context, a: VerifyNativeArgs) -> Result<()> {
    let keep_going = cx.engine.keep_going;
    native::run(
        cx,
        &Options {
            arch: a.arch.arch,
            aports: a.set.aports,
            set: a.set.set,
            names: a.set.packages,
            tarball: a.tarball,
            keep_going,
        },
    )?;
    Ok(())
}
