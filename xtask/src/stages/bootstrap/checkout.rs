//! The aports checkout a bootstrap builds from: given, or cloned at the pinned ref.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};

use crate::config::stages::AportsPin;
use crate::context::Context;
use crate::exec::Cmd;

/// Finds (or, online, clones) the aports checkout.
pub fn checkout(cx: &Context, given: Option<&Path>, pin: &AportsPin) -> Result<PathBuf> {
    if let Some(p) = given {
        let p = std::fs::canonicalize(p)
            .with_context(|| format!("--aports {}: no such directory", p.display()))?;
        if !pin.repos.iter().any(|r| p.join(r).is_dir()) {
            bail!(
                "--aports {}: not an aports checkout (none of {} is in it)",
                p.display(),
                pin.repos.join(", ")
            );
        }
        return Ok(p);
    }
    let dir = cx.layout.build.join("aports-checkout").join(&pin.git_ref);
    if dir.join(".git").is_dir() {
        return Ok(dir);
    }
    let advice = format!(
        "pass --aports PATH to an aports checkout (git clone {} && git -C aports checkout {})",
        pin.url, pin.git_ref
    );
    if cx.offline {
        bail!("no aports checkout and --offline: {advice}");
    }
    eprintln!(
        "cloning {} at {} into {}",
        pin.url,
        pin.git_ref,
        dir.display()
    );
    let tmp = dir.with_extension("tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)?;
    let git = |args: &[&str]| -> Result<()> {
        let st = Cmd::new("git")
            .args(args)
            .dir(&tmp)
            .run_foreground(None)
            .context("running git")?;
        if !st.success() {
            bail!("git {} failed; {advice}", args.join(" "));
        }
        Ok(())
    };
    git(&["init", "-q"])?;
    git(&["fetch", "-q", "--depth", "1", &pin.url, &pin.git_ref])?;
    git(&["checkout", "-q", "FETCH_HEAD"])?;
    std::fs::rename(&tmp, &dir)?;
    Ok(dir)
}

/// The aport directory of a name: `<checkout>/<repo>/<name>` for the first repo that has it.
pub fn locate(checkout: &Path, repos: &[String], name: &str) -> Option<PathBuf> {
    repos
        .iter()
        .map(|r| checkout.join(r).join(name))
        .find(|d| d.join("APKBUILD").is_file())
}

pub(crate) fn git_head(dir: &Path) -> Option<String> {
    let out = Cmd::new("git")
        .args(["rev-parse", "HEAD"])
        .dir(dir)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}
