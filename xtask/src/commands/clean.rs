//! `cargo xtask clean`: removes only what is named.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;

use crate::context::Context;
use crate::engine;
use crate::stages::toolchain;

#[derive(Args)]
pub struct CleanArgs {
    /// Build trees kept from failed steps (build/work)
    #[arg(long)]
    pub work: bool,
    /// Step logs (build/logs)
    #[arg(long)]
    pub logs: bool,
    /// The link build/toolchains/<ARCH> and the toolchain steps' outputs for it in the store
    #[arg(long, value_name = "ARCH")]
    pub toolchain: Vec<String>,
    /// Everything in the shared store (all finished steps, for every checkout)
    #[arg(long)]
    pub store: bool,
    /// Downloaded source files (build/distfiles)
    #[arg(long)]
    pub distfiles: bool,
}

pub fn run(cx: &Context, c: CleanArgs) -> Result<()> {
    let mut did = false;
    let mut rm = |p: PathBuf| -> Result<()> {
        if std::fs::symlink_metadata(&p).is_ok() {
            eprintln!("removing {}", p.display());
            if std::fs::symlink_metadata(&p)?.is_dir() {
                engine::remove_dir_all_writable(&p)?;
            } else {
                std::fs::remove_file(&p)?;
            }
        }
        did = true;
        Ok(())
    };
    if c.work {
        rm(cx.layout.work())?;
    }
    if c.logs {
        rm(cx.layout.logs())?;
    }
    if c.distfiles {
        rm(cx.layout.distfiles.clone())?;
    }
    for a in &c.toolchain {
        let arch = cx.arches.get(a)?.clone();
        rm(cx.layout.toolchain_link(&arch.name))?;
        let g = toolchain::graph(cx, &arch)?;
        for p in engine::plan(cx, &g)? {
            rm(p.out)?;
        }
    }
    if c.store {
        rm(cx.layout.store())?;
    }
    if !did {
        bail!("nothing to clean: name what to remove (see `cargo xtask clean --help`)");
    }
    Ok(())
}
