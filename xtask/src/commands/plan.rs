//! `cargo xtask plan`: what a command would build, what is cached, and why the rest is
//! not.

use anyhow::Result;
use clap::Subcommand;

use crate::commands::build::BuildArgs;
use crate::commands::ArchArgs;
use crate::context::Context;
use crate::engine;
use crate::keys::SigningKey;
use crate::stages::{packages, toolchain};

#[derive(Subcommand)]
pub enum Plannable {
    /// The stage 1 toolchain for an arch
    Toolchain(ArchArgs),
    /// Building aports for an arch
    Build(BuildArgs),
}

pub fn run(cx: &Context, what: &Plannable) -> Result<()> {
    let g = match what {
        Plannable::Toolchain(a) => {
            let arch = cx.arches.get(&a.arch)?;
            toolchain::graph(cx, arch)?
        }
        Plannable::Build(b) => {
            let arch = cx.arches.get(&b.arch.arch)?.clone();
            let settings = b.settings(cx)?;
            let key = SigningKey::find(cx)?.unwrap_or_else(|| SigningKey::not_yet(cx));
            let mut aports = Vec::new();
            for d in &b.aports {
                aports.push(packages::evaluate(cx, &arch, d, &settings)?);
            }
            packages::graph(cx, &arch, &aports, &settings, &key)?.0
        }
    };
    let planned = engine::plan(cx, &g)?;
    print!("{}", engine::render_plan(&planned, &cx.layout.store()));
    Ok(())
}
