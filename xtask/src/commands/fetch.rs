//! `cargo xtask fetch`: every source a bootstrap needs, verified in the distfiles, so
//! that `bootstrap --offline` afterwards needs nothing else.

use anyhow::Result;
use clap::Args;

use crate::commands::{ArchArgs, SetArgs};
use crate::config::host::Purpose;
use crate::context::Context;
use crate::stages::bootstrap::sources::{self, FetchOptions};

#[derive(Args)]
pub struct FetchArgs {
    #[command(flatten)]
    pub arch: ArchArgs,
    #[command(flatten)]
    pub set: SetArgs,
}

pub fn run(cx: &mut Context, a: FetchArgs) -> Result<()> {
    cx.arches.get(&a.arch.arch)?;
    cx.layout.ensure()?;
    crate::host::require(&cx.layout, Purpose::Fetch)?;
    sources::fetch(
        cx,
        &FetchOptions {
            arch: a.arch.arch,
            aports: a.set.aports,
            set: a.set.set,
            packages: a.set.packages,
        },
    )?;
    Ok(())
}
