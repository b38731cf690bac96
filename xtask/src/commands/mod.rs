//! One module per subcommand of `cargo xtask`: each turns its arguments into calls of the
//! stages. `main.rs` parses the command line and dispatches here.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::context::{Context, Settings};
use crate::layout::Layout;

pub mod apk;
pub mod arches;
pub mod bench;
pub mod bootstrap;
pub mod build;
pub mod clean;
pub mod fetch;
pub mod image;
pub mod plan;
pub mod report;
pub mod rootfs;
pub mod sbom;
pub mod selfhost;
pub mod setup;
pub mod shell;
pub mod status;
pub mod test;
pub mod toolchain;
pub mod verify_native;
pub mod verify_repro;
pub mod verify_rootfs;

/// Options every command takes.
#[derive(Args, Clone)]
pub struct Global {
    /// Where outputs, logs and scratch trees go: packages, root filesystems, reports
    /// [default: build/ in the checkout]
    #[arg(long, global = true, value_name = "DIR", env = "ALPINIST_BUILD_DIR")]
    pub build_dir: Option<PathBuf>,
    /// Shared cache for finished steps and verified sources [default: $XDG_CACHE_HOME/alpinist]
    #[arg(long, global = true, value_name = "DIR", env = "ALPINIST_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Directory searched first for source files [default: distfiles/ in the build directory]
    #[arg(long, global = true, value_name = "DIR")]
    pub distfiles: Option<PathBuf>,
    /// Extra download mirror (a URL prefix; the file name is appended); repeatable
    #[arg(long = "mirror", global = true, value_name = "URL")]
    pub mirrors: Vec<String>,
    /// Never download: use only files already in the distfiles directories
    #[arg(long, global = true)]
    pub offline: bool,
    /// Parallel make jobs in total, shared by all running steps [default: number of CPUs]
    #[arg(short, long, global = true, value_name = "N")]
    pub jobs: Option<usize>,
    /// After a failure, go on building everything that does not depend on it
    #[arg(long, global = true)]
    pub keep_going: bool,
    /// Plain line output even on a terminal
    #[arg(long, global = true)]
    pub quiet: bool,
}

impl Global {
    /// The context every command runs in.
    pub fn context(&self) -> Result<Context> {
        let layout = Layout::new(
            Layout::repo_root(),
            self.build_dir.clone(),
            self.cache_dir.clone(),
            self.distfiles.clone(),
        );
        Context::new(
            layout,
            Settings {
                jobs: self.jobs,
                keep_going: self.keep_going,
                offline: self.offline,
                mirrors: self.mirrors.clone(),
                quiet: self.quiet,
            },
        )
    }
}

/// The aports checkout, the set of stages/bootstrap.toml and the aports of it a command
/// works on (`bootstrap`, `fetch`, `verify-native`).
#[derive(Args, Clone)]
pub struct SetArgs {
    /// An aports checkout [default: a clone at the ref pinned in stages/bootstrap.toml,
    /// which needs the network]
    #[arg(long, value_name = "PATH")]
    pub aports: Option<PathBuf>,
    /// Which list of aports (a [set.NAME] of stages/bootstrap.toml: base, fixtures)
    #[arg(long, default_value = "base")]
    pub set: String,
    /// Only these aports (names in the checkout) instead of the set's list
    #[arg(long, value_delimiter = ',', value_name = "APORT,...")]
    pub packages: Vec<String>,
}

#[derive(Args, Clone)]
pub struct ArchArgs {
    /// Alpine arch name: one of toolchains/arch/*.toml (`cargo xtask arches` lists them)
    #[arg(long, value_name = "ARCH")]
    pub arch: String,
}
