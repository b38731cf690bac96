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
                // As abuild links it (`$startdir/$s`), at the path the recipe sees in the
                // sandbox: the host's path of the work tree is not there when the build
                // directory is under /tmp, which the sandbox mounts afresh.
                std::os::unix::fs::symlink(Tree::inside().startdir.join(&s.name), &dest)?;
            }
            Some(url) => {
                let got = fetch_remote(cx, run, r, settings, s, url)?;
                recipe_run.extend(got.recipe_run);
                out.used.push(got.used);
                out.env.extend(got.env);
                // A copy (hard link when possible), not a symlink: the sandbox sees
                // only the work tree, and the distfiles may live under /tmp.
                link_or_copy(&got.path, &dest)?;
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

/// A recipe's remote source resolved and verified: the file the recipe unpacks (a
/// documented substitute adapted to the recipe's name), where it came from, and what
/// the substitute asks of the build.
pub(crate) struct RemoteSource {
    pub path: std::path::PathBuf,
    pub used: SourceUse,
    /// Variables the substitute asks the recipe's build to get.
    pub env: Vec<(String, String)>,
    /// What the substitute changes in the build's copy of the aport.
    pub recipe_run: Vec<String>,
}

/// A remote source of the recipe at `recipe` (for messages), resolved and verified; a
/// documented substitute adapted to the recipe's file name. `say` gets progress lines.
pub(crate) fn resolve_remote(
    cx: &Context,
    settings: &BuildSettings,
    recipe: &Path,
    s: &alpinist_apkbuild::recipe::SourceEntry,
    url: &str,
    say: &(dyn Fn(&str) + Sync),
) -> Result<RemoteSource> {
    let sources = &settings.sources;
    let sub = sources.substitute(&s.name, &s.sha512);
    let spec = sources.spec(&s.name, url, &s.sha512, true);
    let resolved = cx.resolver(say).resolve(&spec).with_context(|| {
        let searched = sources
            .searched(&s.name)
            .map(|w| format!(" (also searched: {w})"))
            .unwrap_or_default();
        format!("{}: source {}{searched}", recipe.display(), s.name)
    })?;
    let mut out = RemoteSource {
        path: resolved.path.clone(),
        used: SourceUse {
            file: s.name.clone(),
            sha512: s.sha512.clone(),
            origin: resolved.origin.clone(),
            substitute: None,
        },
        env: Vec::new(),
        recipe_run: Vec::new(),
    };
    let (true, Some(sub)) = (resolved.substitute, sub) else {
        return Ok(out);
    };
    out.path = crate::sources::substitute::adapt(
        sub,
        &resolved.path,
        &cx.layout.distfiles,
        &alpinist_checkout(),
    )?;
    let adapted = Checksum::Sha512(String::new());
    out.used.substitute = Some(SubstituteUse {
        file: sub.file.clone(),
        sha512: sub.sha512.clone(),
        adapted_sha512: adapted.compute(&out.path)?,
        why: sub.why.clone(),
    });
    out.env = sub
        .env
        .iter()
        .map(|kv| parse_env(kv, &sub.for_file))
        .collect::<Result<Vec<_>>>()?;
    out.recipe_run = sub.recipe_run.clone();
    Ok(out)
}

/// [`resolve_remote`] for a build: progress and the substitute's use in the step's log.
fn fetch_remote(
    cx: &Context,
    run: &mut StepRun,
    r: &Recipe,
    settings: &BuildSettings,
    s: &alpinist_apkbuild::recipe::SourceEntry,
    url: &str,
) -> Result<RemoteSource> {
    let say = |m: &str| {
        let _ = run.log.line(m);
    };
    let got = resolve_remote(cx, settings, &r.path, s, url, &say)?;
    if let Some(sub) = &got.used.substitute {
        let note = format!(
            "{}: used the documented substitute {} from {} ({})",
            s.name, sub.file, got.used.origin, sub.why
        );
        run.log.line(&note)?;
        run.notes.push(note);
    }
    Ok(got)
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
