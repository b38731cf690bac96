//! `cargo xtask setup`: the host packages, deb-src lines and rustup targets.

use anyhow::Result;
use clap::Args;

use crate::layout::Layout;

#[derive(Args)]
pub struct SetupArgs {
    /// Only print what would be done
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(a: SetupArgs) -> Result<()> {
    let layout = Layout::new(Layout::repo_root(), None, None);
    crate::host::setup(&layout, a.dry_run)
}
