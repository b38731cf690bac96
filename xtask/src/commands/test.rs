//! `cargo xtask test`: the toolchains the integration tests need, then `cargo test`.

use anyhow::{bail, Result};
use clap::Args;

use crate::config::host::Purpose;
use crate::context::Context;
use crate::exec::Cmd;

#[derive(Args)]
pub struct TestArgs {
    /// Toolchains the integration tests must exercise (built if missing)
    #[arg(long = "arch", value_name = "ARCH", default_value = "aarch64")]
    pub arches: Vec<String>,
    /// Extra arguments for `cargo test` (after `--`)
    #[arg(last = true)]
    pub cargo_args: Vec<String>,
}

pub fn run(cx: &Context, t: TestArgs) -> Result<()> {
    let TestArgs { arches, cargo_args } = t;
    crate::host::require(&cx.layout, Purpose::Check)?;
    for a in &arches {
        crate::stages::toolchain::build(cx, a)?;
        crate::host::qemu::ensure(cx.arches.get(a)?)?;
    }
    // The fixture root's apk is Rust, cross-compiled for the tested arches.
    let targets: Vec<String> = arches
        .iter()
        .filter_map(|a| cx.arches.get(a).ok().map(|a| a.rust_target()))
        .collect();
    crate::host::add_rust_targets(&targets);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let st = Cmd::new(cargo)
        .args(["test", "--workspace"])
        .args(&cargo_args)
        .env("ALPINIST_REQUIRE_TOOLCHAIN", arches.join(","))
        .dir(&cx.layout.repo)
        .run_foreground(None)?;
    if !st.success() {
        bail!("cargo test failed ({st})");
    }
    Ok(())
}
