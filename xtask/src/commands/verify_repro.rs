//! `cargo xtask verify-repro`: build twice, compare the packages.

use anyhow::{bail, Result};
use clap::Args;

use crate::commands::build::BuildArgs;
use crate::context::Context;
use crate::stages::packages::repro::Variation;

#[derive(Args)]
pub struct VerifyReproArgs {
    #[command(flatten)]
    pub build: BuildArgs,
    /// What else the second build changes besides its directory and time
    /// (comma-separated; `all` for every one)
    #[arg(long, value_enum, value_delimiter = ',')]
    pub variations: Vec<Variation>,
}

pub fn run(cx: &Context, a: &VerifyReproArgs) -> Result<()> {
    let b = &a.build;
    let settings = b.settings(cx)?;
    let verified = crate::stages::packages::repro::verify(
        cx,
        &b.arch.arch,
        &b.aports,
        &settings,
        &a.variations,
    )?;
    if !a.variations.is_empty() {
        println!(
            "second build varied: {}",
            crate::stages::packages::repro::SecondBuild::new(&a.variations).describe()
        );
    }
    let diffs = &verified.differences;
    let mut bad = 0;
    for d in diffs {
        if d.what.is_empty() {
            println!("{}: identical", d.package);
        } else {
            bad += 1;
            println!("{}: DIFFERS", d.package);
            for w in &d.what {
                println!("  {w}");
            }
        }
    }
    println!(
        "{} packages, {} identical, {} differ",
        diffs.len(),
        diffs.len() - bad,
        bad
    );
    for f in &verified.failures {
        println!("FAILED: {f}");
    }
    if bad > 0 {
        bail!("{bad} packages are not reproducible");
    }
    if !verified.failures.is_empty() {
        bail!(
            "{} builds failed (see above); their packages were not compared",
            verified.failures.len()
        );
    }
    Ok(())
}
