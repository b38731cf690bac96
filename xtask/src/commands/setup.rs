//! `cargo xtask setup`: the host packages, deb-src lines and rustup targets, and a qemu-user
//! new enough for the arches named.

use anyhow::Result;
use clap::Args;

use crate::config::arch::ArchTable;
use crate::layout::Layout;

#[derive(Args)]
pub struct SetupArgs {
    /// Only print what would be done
    #[arg(long)]
    pub dry_run: bool,
    /// Also make sure qemu-user runs these arches' programs (some need a newer qemu than
    /// the distribution's, e.g. loongarch64: then it comes from Debian's backports)
    #[arg(long = "arch", value_name = "ARCH", value_delimiter = ',')]
    pub arches: Vec<String>,
}

pub fn run(a: SetupArgs) -> Result<()> {
    let layout = Layout::new(Layout::repo_root(), None, None, None);
    crate::host::setup(&layout, a.dry_run)?;
    if a.dry_run || a.arches.is_empty() {
        return Ok(());
    }
    let table = ArchTable::load(&layout.toolchains_data().join("arch"))?;
    for name in &a.arches {
        crate::host::qemu::ensure(table.get(name)?)?;
    }
    Ok(())
}
