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
    let tools = python_tools(cx)?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // The tests that need the toolchain and root are #[ignore]d for a plain `cargo test`;
    // here everything they need is set up, so they run, and fail if something is missing.
    let mut args = cargo_args.clone();
    if !args.iter().any(|a| a == "--") {
        args.push("--".into());
    }
    args.push("--include-ignored".into());
    let st = Cmd::new(cargo)
        .args(["test", "--workspace"])
        .args(&args)
        .env("ALPINIST_REQUIRE_TOOLCHAIN", arches.join(","))
        .env("ALPINIST_SPDX_VALIDATOR", tools.join("pyspdxtools"))
        .env("ALPINIST_WORKFLOW_LINTER", tools.join("check-jsonschema"))
        .dir(&cx.layout.repo)
        .run_foreground(None)?;
    if !st.success() {
        bail!("cargo test failed ({st})");
    }
    Ok(())
}

/// The checkers the tests run, from PyPI, pinned, in a venv under build/: spdx-tools
/// (the SPDX validator for every SBOM alpinist writes) and check-jsonschema (the GitHub
/// workflow linter: SchemaStore's workflow schema). Installs python3-venv (as root) when
/// venv is missing. Returns the venv's bin/.
fn python_tools(cx: &Context) -> Result<std::path::PathBuf> {
    let venv = cx.layout.build.join("venv-tools");
    let bin = venv.join("bin");
    let pin = PYTHON_TOOLS.join(" ");
    let stamp = venv.join(".alpinist-pin");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(pin.as_str()) {
        return Ok(bin);
    }
    let make = || {
        Cmd::new("python3")
            .args(["-m", "venv", "--clear"])
            .arg(&venv)
            .status_quiet()
    };
    if !make().is_ok_and(|s| s.success()) {
        if !crate::host::can_install() {
            bail!(
                "python3 -m venv failed: install python3-venv (sudo apt-get install python3-venv)"
            );
        }
        crate::host::apt_install(&["python3-venv".to_string()])?;
        if !make().is_ok_and(|s| s.success()) {
            bail!("python3 -m venv {} failed", venv.display());
        }
    }
    let st = Cmd::new(venv.join("bin/pip").display().to_string())
        .args(["install", "--quiet", "--disable-pip-version-check"])
        .args(PYTHON_TOOLS)
        .run_foreground(None)?;
    if !st.success() {
        bail!("pip install {pin} failed ({st}); PyPI must be reachable");
    }
    std::fs::write(&stamp, &pin)?;
    Ok(bin)
}

/// The checkers' releases the tests run.
const PYTHON_TOOLS: &[&str] = &["spdx-tools==0.8.5", "check-jsonschema==0.39.0"];
