//! `cargo xtask shell`: a shell in a failed build's kept tree, in the sandbox and with
//! the environment its recipe ran with (as the build recorded it).

use std::path::Path;

use anyhow::{bail, Result};

use crate::config::arch::Arch;
use crate::context::Context;
use crate::engine::plan;
use crate::keys::SigningKey;
use crate::stages::packages::build::{read_env, set_var, Tree};
use crate::stages::packages::sandbox::sandbox;
use crate::stages::packages::{evaluate, graph, BuildSettings};

/// `cargo xtask shell`: an interactive shell in the kept build tree of an aport, in the
/// same sandbox and environment the recipe ran in.
pub fn shell(cx: &Context, arch: &Arch, dir: &Path, settings: &BuildSettings) -> Result<()> {
    let key = SigningKey::find(cx)?.unwrap_or_else(|| SigningKey::not_yet(cx));
    let aport = evaluate(cx, arch, dir, settings)?;
    let bg = graph(cx, arch, std::slice::from_ref(&aport), settings, &key)?;
    let planned = plan(cx, &bg.graph)?;
    let p = &planned[bg.aports[0].index()];
    let work = cx.engine.work_tree(&p.name, &p.key);
    if !work.is_dir() {
        bail!(
            "no kept build tree for {} at {}\n  a failed `cargo xtask build` keeps its tree; a successful one removes it",
            aport.recipe.pkgname,
            work.display()
        );
    }
    let tc = &planned[bg.toolchain.toolchain.index()].out;
    let t = Tree::inside();
    let mut env = read_env(&work)?;
    // This process's jobserver, not the build's.
    let makeflags = cx
        .jobserver_makeflags()
        .unwrap_or_else(|| format!("-j{}", cx.jobs));
    set_var(&mut env, "MAKEFLAGS", &makeflags);
    let term = std::env::var("TERM").unwrap_or_else(|_| "dumb".into());
    set_var(&mut env, "TERM", &term);
    let net = aport.recipe.option(&aport.recipe.pkgname, "net");
    let argv = [
        "bash".to_string(),
        t.abuild_sh.display().to_string(),
        "env".into(),
        t.startdir.join("APKBUILD").display().to_string(),
    ];
    let st =
        sandbox(&work, tc, &env, net, true, &argv).run_foreground(cx.engine.jobserver.as_ref())?;
    if !st.success() {
        bail!("the shell ended with {st}");
    }
    Ok(())
}
