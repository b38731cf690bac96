//! `cargo xtask bench …`: measurements, not tests.
//!
//! `bench toolchain` builds a toolchain cold, in an empty temporary store (sources come
//! from the distfiles directories as usual), and reports wall time per step and in total,
//! CPU utilisation of the build processes, peak disk use and the installed size. Since
//! keys do not depend on where the store is, the finished outputs are then moved into
//! the real store, so a benchmark run is never wasted work.

//!
//! [`toolchain`]: `bench toolchain` and `bench noop`; [`apk`] and [`apk_install`]: the apk
//! library's index and install; [`measure`]: CPU time and disk use.

use anyhow::Result;
use clap::Subcommand;

use crate::commands::ArchArgs;
use crate::context::Context;

pub mod apk;
mod apk_data;
pub mod apk_install;
pub mod measure;
pub mod toolchain;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Build the toolchain for an arch from nothing (sources aside) and measure it
    Toolchain(ArchArgs),
    /// Time a fully cached rerun of `toolchain --arch ARCH` (plan, check, link)
    Noop {
        #[command(flatten)]
        arch: ArchArgs,
        /// How many reruns to time
        #[arg(long, default_value_t = 10)]
        runs: usize,
    },
    /// Time writing a signed APKINDEX.tar.gz for N generated packages (apk index --sign)
    ApkIndex(apk::IndexArgs),
    /// Time `apk add --initdb` of N generated packages into a fresh root, against `cp -r`
    ApkInstall(apk_install::InstallArgs),
}

pub fn run(cx: &Context, what: BenchCommand) -> Result<()> {
    match what {
        BenchCommand::Toolchain(a) => toolchain::toolchain_cold(cx, &a.arch),
        BenchCommand::Noop { arch, runs } => toolchain::noop(cx, &arch.arch, runs),
        BenchCommand::ApkIndex(a) => apk::index(cx, &a),
        BenchCommand::ApkInstall(a) => apk_install::install(cx, &a),
    }
}
