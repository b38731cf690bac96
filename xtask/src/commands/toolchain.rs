//! `cargo xtask toolchain`: stage 1 for one arch.

use anyhow::Result;

use crate::commands::ArchArgs;
use crate::context::Context;

pub fn run(cx: &Context, a: &ArchArgs) -> Result<()> {
    crate::stages::toolchain::build(cx, &a.arch).map(|_| ())
}
