//! `cargo xtask shell`: a shell in a failed build's kept tree.

use anyhow::{bail, Result};

use crate::commands::build::BuildArgs;
use crate::context::Context;

pub fn run(cx: &Context, b: &BuildArgs) -> Result<()> {
    let arch = cx.arches.get(&b.arch.arch)?.clone();
    let settings = b.settings(cx)?;
    let [dir] = b.aports.as_slice() else {
        bail!("shell takes exactly one aport directory");
    };
    crate::stages::packages::shell::shell(cx, &arch, dir, &settings)
}
