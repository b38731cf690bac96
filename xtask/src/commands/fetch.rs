//! `cargo xtask fetch`: every source a bootstrap needs, verified in the distfiles, so
//! that `bootstrap --offline` afterwards needs nothing else.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::commands::ArchArgs;
use crate::config::host::Purpose;
use crate::context::Context;
use crate::stages::bootstrap::sources::{self, FetchOptions};

#[derive(Args)]
pub struct FetchArgs {
    #[command(flatten)]
    pub arch: ArchArgs,
    /// An aports checkout [default: a clone at the ref pinned in stages/bootstrap.toml,
    /// which needs the network]
    #[arg(long, value_name = "PATH")]
    pub aports: Option<PathBuf>,
    /// The set whose sources to fetch (a [set.NAME] of stages/bootstrap.toml)
    #[arg(long, default_value = "base")]
    pub set: String,
    /// Only these aports (names in the checkout) instead of the set's list
    #[arg(long, value_delimiter = ',', value_name = "APORT,...")]
    pub packages: Vec<String>,
}

pub fn run(cx: &mut Context, a: FetchArgs) -> Result<()> {
    cx.arches.get(&a.arch.arch)?;
    cx.layout.ensure()?;
    crate::host::require(&cx.layout, Purpose::Fetch)?;
    sources::fetch(
        cx,
        &FetchOptions {
            arch: a.arch.arch,
            aports: a.aports,
            set: a.set,
            packages: a.packages,
        },
    )?;
    Ok(())
}
