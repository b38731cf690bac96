//! `cargo xtask verify-repro`: build twice, compare the packages.

use anyhow::{bail, Result};

use crate::commands::build::BuildArgs;
use crate::context::Context;

pub fn run(cx: &Context, b: &BuildArgs) -> Result<()> {
    let settings = b.settings(cx)?;
    let diffs = crate::stages::packages::repro::verify(cx, &b.arch.arch, &b.aports, &settings)?;
    let mut bad = 0;
    for d in &diffs {
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
    if bad > 0 {
        bail!("{bad} packages are not reproducible");
    }
    Ok(())
}
