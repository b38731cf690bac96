//! `cargo xtask build`: stage 2 for aport directories.

use std::path::PathBuf;

use anyhow::Result;
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
    /// More identical copies and substitutes of source files, besides
    /// toolchains/sources.toml; repeatable
    #[arg(long = "sources", value_name = "FILE")]
    pub sources: Vec<PathBuf>,
    /// Aport directories (each holds an APKBUILD, as aports' main/<name>/)
    #[arg(required = true, value_name = "APORT")]
    pub aports: Vec<PathBuf>,
}

impl BuildArgs {
    pub fn settings(&self, cx: &Context) -> Result<BuildSettings> {
        let env = self
            .env
            .iter()
            .map(|kv| packages::parse_env(kv, "--env"))
            .collect::<Result<Vec<_>>>()?;
        let mut s = BuildSettings::new(cx, self.bootstrap.clone(), env, &self.sources)?;
        // Alpine's build settings from the abuild aport of the aports' checkout, if any.
        let abuild = self
            .aports
            .iter()
            .find_map(|d| packages::defaults::abuild_aport_near(d));
        s.use_abuild_aport(cx, cx.arches.get(&self.arch.arch)?, abuild.as_deref())?;
        Ok(s)
    }
}

pub fn run(cx: &Context, b: &BuildArgs) -> Result<()> {
    let settings = b.settings(cx)?;
    packages::build_aports(cx, &b.arch.arch, &b.aports, &settings).map(|_| ())
}
