//! `cargo xtask build`: stage 2 for aport directories.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;

use crate::commands::ArchArgs;
use crate::context::Context;
use crate::stages::packages::{self, BuildSettings};

/// The arguments of `build`, `shell`, `verify-repro` and `plan build`.
#[derive(Args, Clone)]
pub struct BuildArgs {
    #[command(flatten)]
    pub arch: ArchArgs,
    /// BOOTSTRAP value passed to the recipes (nocc, nolibc, nobase, bootimage)
    #[arg(long, value_name = "VALUE")]
    pub bootstrap: Option<String>,
    /// Extra environment for the recipes; repeatable
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Aport directories (each holds an APKBUILD, as aports' main/<name>/)
    #[arg(required = true, value_name = "APORT")]
    pub aports: Vec<PathBuf>,
}

impl BuildArgs {
    pub fn settings(&self) -> Result<BuildSettings> {
        let mut env = Vec::new();
        for kv in &self.env {
            let Some((k, v)) = kv.split_once('=') else {
                bail!("--env {kv:?}: expected KEY=VALUE");
            };
            env.push((k.to_string(), v.to_string()));
        }
        Ok(BuildSettings {
            bootstrap: self.bootstrap.clone(),
            env,
        })
    }
}

pub fn run(cx: &Context, b: &BuildArgs) -> Result<()> {
    let settings = b.settings()?;
    packages::build_aports(cx, &b.arch.arch, &b.aports, &settings).map(|_| ())
}
