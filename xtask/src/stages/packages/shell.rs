//! `cargo xtask shell`: a shell in a failed build's kept tree.

use std::path::Path;

use anyhow::{anyhow, bail, Result};

use crate::config::arch::Arch;
use crate::context::Context;
use crate::keys::SigningKey;
use crate::stages::packages::env::recipe_env;
use crate::stages::packages::sandbox::sandbox;
use crate::stages::packages::{evaluate, graph, BuildSettings};

/// `cargo xtask shell`: an interactive shell in the kept build tree of an aport, in the
/// same sandbox and environment the recipe ran in.
pub fn shell(cx: &Context, arch: &Arch, dir: &Path, settings: &BuildSettings) -> Result<()> {
    let key = SigningKey::find(cx)?.unwrap_or_else(|| SigningKey::not_yet(cx));
    let aport = evaluate(cx, arch, dir, settings)?;
    let (g, steps) = graph(cx, arch, std::slice::from_ref(&aport), settings, &key)?;
    let planned = crate::engine::plan(cx, &g)?;
    let p = &planned[*steps.last().expect("aport step")];
    let work = cx.layout.work().join(format!("{}-{}", p.name, p.key));
    if !work.is_dir() {
        bail!(
            "no kept build tree for {} at {}\n  a failed `cargo xtask build` keeps its tree; a successful one removes it",
            aport.recipe.pkgname,
            work.display()
        );
    }
    let tc = planned
        .iter()
        .find(|q| q.name == format!("toolchain-{}", arch.name))
        .map(|q| q.out.clone())
        .ok_or_else(|| anyhow!("no toolchain step"))?;
    let sh = work.join("abuild.sh");
    let mut env = recipe_env(
        arch,
        &tc,
        &work.join("sysroot"),
        &settings.for_aport(&aport.name()),
        cx.jobs,
    );
    env.extend([
        ("HOME".into(), work.join("home").display().to_string()),
        ("srcdir".into(), work.join("src").display().to_string()),
        ("pkgbasedir".into(), work.join("pkg").display().to_string()),
        ("tmpdir".into(), work.join("tmp").display().to_string()),
        (
            "SOURCE_DATE_EPOCH".into(),
            aport.source_date_epoch.to_string(),
        ),
        ("ALPINIST_ABUILD_SH".into(), sh.display().to_string()),
        (
            "TERM".into(),
            std::env::var("TERM").unwrap_or_else(|_| "dumb".into()),
        ),
    ]);
    let cmd = sandbox(
        &work,
        &tc,
        &env,
        aport.recipe.option(&aport.recipe.pkgname, "net"),
        &[
            "bash".into(),
            sh.display().to_string(),
            "env".into(),
            work.join("aport/APKBUILD").display().to_string(),
        ],
    );
    let st = std::process::Command::new(&cmd.program)
        .args(&cmd.args)
        .status()?;
    if !st.success() {
        bail!("the shell ended with {st}");
    }
    Ok(())
}
