//! `cargo xtask verify-native`: each aport built by alpinist (cross) and by Alpine's
//! abuild natively in the build root, every package compared.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::commands::ArchArgs;
use crate::context::Context;
use crate::stages::native::{self, Options};

#[derive(Args)]
pub struct VerifyNativeArgs {
    #[command(flatten)]
    pub arch: ArchArgs,
    /// An aports checkout [default: a clone at the ref pinned in stages/bootstrap.toml]
    #[arg(long, value_name = "PATH")]
    pub aports: Option<PathBuf>,
    /// The set whose settings the cross builds use, as its bootstrap built them
    #[arg(long, default_value = "base")]
    pub set: String,
    /// The build root to build in [default: the newest build/<arch>/alpine-buildroot-*.tar.gz]
    #[arg(long)]
    pub tarball: Option<PathBuf>,
    /// Aport names in the checkout (main/<name> or community/<name>)
    #[arg(required = true, value_name = "APORT")]
    pub names: Vec<String>,
}

pub fn run(cx: &mut Context, a: VerifyNativeArgs) -> Result<()> {
    let keep_going = cx.engine.keep_going;
    native::run(
        cx,
        &Options {
            arch: a.arch.arch,
            aports: a.aports,
            set: a.set,
            names: a.names,
            tarball: a.tarball,
            keep_going,
        },
    )?;
    Ok(())
}
