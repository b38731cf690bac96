//! An aport's sources: the local ones checked against the recipe's sums, the remote ones
//! through the verified resolver (distfiles, URLs, mirrors, Debian, a documented
//! substitute, adapted to the recipe's file name), put into `$srcdir`.

use std::path::Path;

use alpinist_apkbuild::recipe::Recipe;
use anyhow::{bail, Context as _, Result};

use crate::config::source::Checksum;
use crate::context::Context;
use crate::engine::StepRun;
use crate::exec::Cmd;
use crate::fsutil::link_or_copy;
use crate::stages::packages::aport::alpinist_checkout;
use crate::stages::packages::build::Tree;
use crate::stages::packages::{parse_env, BuildSettings};

/// What fetching an aport's sources found.
pub(crate) struct FetchedSources {
    /// Where each remote source came from.
    pub used: Vec<SourceUse>,
    /// Variables the substitutes it used ask the recipe's build to get.
    pub env: Vec<(String, String)>,
}

/// Puts every source of `r` into the tree's `$srcdir`, verified.
pub(crate) fn fetch_sources(
    cx: &Context,
    run: &mut StepRun,
    r: &Recipe,
    settings: &BuildSettings,
    t: &Tree,
) -> Result<FetchedSources> {
    let mut out = FetchedSources {
        used: Vec::new(),
        env: Vec::new(),
    };
    let mut recipe_run: Vec<String> = Vec::new();
    for s in &r.sources {
        let dest = t.srcdir.join(&s.name);
        match &s.url {
            None => {
                let p = t.startdir.join(&s.name);
                check_local(r, &s.name, &s.sha512, &p)?;
                std::os::unix::fs::symlink(&p, &dest)?;
            }
            Some(url) => {
                let (path, used, env) = fetch_remote(cx, run, r, settings, s, url)?;
                if used.substitute.is_some() {
                    if let Some(sub) = settings.sources.substitute(&s.name, &s.sha512) {
                        recipe_run.extend(sub.recipe_run.iter().cloned());
                    }
                }
                out.used.push(used);
                out.env.extend(env);
                // A copy (hard link when possible), not a symlink: the sandbox sees
                // only the work tree, and the distfiles may live under /tmp.
                link_or_copy(&path, &dest)?;
            }
        }
    }
    // What a substitute needs of the recipe, now that its own files were checked.
    for cmd in &recipe_run {
        run.log.status("adapting the recipe to a substitute");
        run.log
            .run(&Cmd::new("sh").args(["-c", cmd]).dir(&t.startdir))?;
        run.notes
            .push(format!("recipe adapted to a substitute: {cmd}"));
    }
    Ok(out)
}

/// A source in the aport directory, checked against the recipe's sha512.
fn check_local(r: &Recipe, name: &str, sha512: &str, p: &Path) -> Result<()> {
    let sum = Checksum::Sha512(sha512.to_string());
    let actual = sum
        .compute(p)
        .with_context(|| format!("{}: local source {name} is missing", r.path.display()))?;
    if actual != sha512 {
        bail!(
            "{}: checksum mismatch for local source {name}:\n  expected sha512 {sha512}\n  actual   sha512 {actual}\n  fix sha512sums (abuild checksum) or the file",
            r.path.display(),
        );
    }
    Ok(())
}

/// A remote source fetched: the file, where it came from, and what a substitute asks
/// the build's environment to get.
type Fetched = (std::path::PathBuf, SourceUse, Vec<(String, String)>);

/// A remote source, resolved and verified; a documented substitute adapted to the
/// recipe's file name. Returns the file, the record of where it came from, and what the
/// substitute asks the build's environment to get.
fn fetch_remote(
    cx: &Context,
    run: &mut StepRun,
    r: &Recipe,
    settings: &BuildSettings,
    s: &alpinist_apkbuild::recipe::SourceEntry,
    url: &str,
) -> Result<Fetched> {
    let sources = &settings.sources;
    let sub = sources.substitute(&s.name, &s.sha512);
    let spec = sources.spec(&s.name, url, &s.sha512, true);
    let say = |m: &str| {
        let _ = run.log.line(m);
    };
    let resolved = cx.resolver(&say).resolve(&spec).with_context(|| {
        let searched = sources
            .searched(&s.name)
            .map(|w| format!(" (also searched: {w})"))
            .unwrap_or_default();
        format!("{}: source {}{searched}", r.path.display(), s.name)
    })?;
    let mut used = SourceUse {
        file: s.name.clone(),
        sha512: s.sha512.clone(),
        origin: resolved.origin.clone(),
        substitute: None,
    };
    let (true, Some(sub)) = (resolved.substitute, sub) else {
        return Ok((resolved.path, used, Vec::new()));
    };
    let path = crate::sources::substitute::adapt(
        sub,
        &resolved.path,
        &cx.layout.distfiles,
        &alpinist_checkout(),
    )?;
    let adapted = Checksum::Sha512(String::new());
    used.substitute = Some(SubstituteUse {
        file: sub.file.clone(),
        sha512: sub.sha512.clone(),
        adapted_sha512: adapted.compute(&path)?,
        why: sub.why.clone(),
    });
    let env = sub
        .env
        .iter()
        .map(|kv| parse_env(kv, &sub.for_file))
        .collect::<Result<Vec<_>>>()?;
    let note = format!(
        "{}: used the documented substitute {} from {} ({})",
        s.name, sub.file, resolved.origin, sub.why
    );
    run.log.line(&note)?;
    run.notes.push(note);
    Ok((path, used, env))
}

/// Which file each remote source of a build came from: written into the step's output
/// (`SOURCES_JSON`) and read by the bootstrap report.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SourceUse {
    /// The recipe's file name and checksum.
    pub file: String,
    pub sha512: String,
    /// Where the file (or the substitute) came from.
    pub origin: String,
    /// Set when a documented substitute stood in for the recipe's file.
    #[serde(default)]
    pub substitute: Option<SubstituteUse>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SubstituteUse {
    /// The substitute's own file and checksum.
    pub file: String,
    pub sha512: String,
    /// The checksum of the file the recipe unpacked (adapted to its name and top
    /// directory).
    pub adapted_sha512: String,
    pub why: String,
}

/// The file in an aport step's output that lists its sources.
pub const SOURCES_JSON: &str = ".alpinist-sources.json";
