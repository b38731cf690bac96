//! Every source a bootstrap of a set needs, obtained and verified before anything is
//! built (`cargo xtask fetch`): stage 1's components, each aport's remote sources (its
//! own files, identical copies, documented substitutes made and adapted) and the
//! self-hosting check's aport. One line per source; what cannot be had is named with
//! everything that was tried, so a 40-minute run never stops on a missing file.

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::{bail, Result};

use crate::config::stages::Stages;
use crate::context::Context;
use crate::stages::bootstrap::checkout;
use crate::stages::bootstrap::report::AportResult;
use crate::stages::bootstrap::select::Selection;
use crate::stages::packages::fetch::resolve_remote;
use crate::stages::packages::{evaluate, BuildSettings};

/// What `fetch` is asked for.
pub struct FetchOptions {
    pub arch: String,
    pub aports: Option<PathBuf>,
    pub set: String,
    /// Only these aports of the checkout instead of the set's list.
    pub packages: Vec<String>,
}

/// How one source was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// The file itself (or a byte-identical copy), from `origin`.
    Identical { origin: String },
    /// A documented substitute `file`, from `origin`, adapted to the recipe's name.
    Substitute { file: String, origin: String },
    /// Nothing had it: what was tried, on one line.
    Unobtainable { tried: String },
}

/// One source of the set.
#[derive(Debug, Clone)]
pub struct SourceLine {
    /// The aport (or `toolchain`, or `selfhost`) that needs it.
    pub who: String,
    pub file: String,
    pub found: Found,
}

/// Obtains every source of the set for `arch`; prints a line for each and fails naming
/// the missing ones.
pub fn fetch(cx: &mut Context, o: &FetchOptions) -> Result<Vec<SourceLine>> {
    let stages = Stages::load(&cx.layout)?;
    let set = stages.set(&o.set)?;
    let env = super::use_set(cx, set, &o.set)?;
    // Every aport is evaluated and fetched, whatever fails: the list is the point.
    cx.engine.keep_going = true;
    let cx: &Context = cx;
    let arch = cx.arches.get(&o.arch)?.clone();
    let mut lines = Vec::new();

    for (name, c) in &cx.components.map {
        let say = |m: &str| eprintln!("  {m}");
        let found = match cx.resolver(&say).resolve(&c.source) {
            Ok(r) if r.substitute => Found::Substitute {
                file: c
                    .source
                    .substitute
                    .as_ref()
                    .map(|s| s.file.clone())
                    .unwrap_or_default(),
                origin: r.origin,
            },
            Ok(r) => Found::Identical { origin: r.origin },
            Err(e) => Found::Unobtainable {
                tried: one_line(&e),
            },
        };
        lines.push(print(SourceLine {
            who: format!("toolchain ({name})"),
            file: c.source.file.clone(),
            found,
        }));
    }

    let checkout = checkout(cx, o.aports.as_deref(), &stages.aports)?;
    let names = if o.packages.is_empty() {
        set.packages.clone()
    } else {
        o.packages.clone()
    };
    let extra: Vec<PathBuf> = set.sources.iter().map(|f| cx.layout.repo.join(f)).collect();
    let mut settings = BuildSettings::new(cx, set.bootstrap.clone(), env, &extra)?;
    // Alpine's build settings come from the abuild aport's source tarball: fetched too.
    let abuild = crate::stages::bootstrap::locate(&checkout, &stages.aports.repos, "abuild");
    settings.use_abuild_aport(cx, &arch, abuild.as_deref())?;
    let sel = Selection::evaluate(cx, &arch, &stages.aports, &checkout, &names, &settings)?;
    let mut failed_aports = Vec::new();
    for e in &sel.entries {
        if matches!(e.result, AportResult::Failed | AportResult::Missing) {
            failed_aports.push(format!(
                "{}: {}",
                e.aport,
                e.reason.as_deref().unwrap_or("could not be evaluated")
            ));
        }
    }
    let mut seen = BTreeSet::new();
    for a in &sel.aports {
        for s in &a.recipe.sources {
            let Some(url) = &s.url else { continue };
            if !seen.insert((s.name.clone(), s.sha512.clone())) {
                continue;
            }
            let say = |m: &str| eprintln!("  {m}");
            let found = match resolve_remote(cx, &settings, &a.recipe.path, s, url, &say) {
                Ok(got) => match got.used.substitute {
                    Some(sub) => Found::Substitute {
                        file: sub.file,
                        origin: got.used.origin,
                    },
                    None => Found::Identical {
                        origin: got.used.origin,
                    },
                },
                Err(e) => Found::Unobtainable {
                    tried: one_line(&e),
                },
            };
            lines.push(print(SourceLine {
                who: a.name(),
                file: s.name.clone(),
                found,
            }));
        }
    }

    // The self-hosting check's aport: abuild inside the root checks the recipe's own
    // file, so no substitute.
    let selfhost_dir = checkout.join(&stages.selfhost.aport);
    let plain = BuildSettings::new(cx, None, Vec::new(), &[])?;
    match evaluate(cx, &arch, &selfhost_dir, &plain) {
        Ok(a) => {
            for s in &a.recipe.sources {
                let Some(url) = &s.url else { continue };
                let spec = plain.sources.spec(&s.name, url, &s.sha512, false);
                let say = |m: &str| eprintln!("  {m}");
                let found = match cx.resolver(&say).resolve(&spec) {
                    Ok(r) => Found::Identical { origin: r.origin },
                    Err(e) => Found::Unobtainable {
                        tried: one_line(&e),
                    },
                };
                lines.push(print(SourceLine {
                    who: format!("selfhost ({})", a.name()),
                    file: s.name.clone(),
                    found,
                }));
            }
        }
        Err(e) => failed_aports.push(format!("selfhost {}: {e:#}", stages.selfhost.aport)),
    }

    summarize(cx, &lines, &failed_aports)?;
    Ok(lines)
}

/// The last lines: counts, and an error naming what is missing.
fn summarize(cx: &Context, lines: &[SourceLine], failed_aports: &[String]) -> Result<()> {
    let count = |f: fn(&Found) -> bool| lines.iter().filter(|l| f(&l.found)).count();
    let identical = count(|f| matches!(f, Found::Identical { .. }));
    let substitute = count(|f| matches!(f, Found::Substitute { .. }));
    let missing: Vec<&SourceLine> = lines
        .iter()
        .filter(|l| matches!(l.found, Found::Unobtainable { .. }))
        .collect();
    eprintln!(
        "{} sources: {identical} identical, {substitute} documented substitutes, {} unobtainable; verified in {}",
        lines.len(),
        missing.len(),
        cx.layout.distfiles.display()
    );
    for f in failed_aports {
        eprintln!("not evaluated: {f}");
    }
    if missing.is_empty() && failed_aports.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = missing
        .iter()
        .map(|l| format!("{} ({})", l.file, l.who))
        .chain(failed_aports.iter().cloned())
        .collect();
    bail!(
        "{} missing: {}; a bootstrap builds everything that does not need them (--keep-going)",
        names.len(),
        names.join(", ")
    )
}

/// Prints the line and hands it back.
fn print(l: SourceLine) -> SourceLine {
    let (what, detail) = match &l.found {
        Found::Identical { origin } => ("identical", origin.clone()),
        Found::Substitute { file, origin } => ("substitute", format!("{file} from {origin}")),
        Found::Unobtainable { tried } => ("UNOBTAINABLE", tried.clone()),
    };
    println!("{:<24} {:<40} {what:<12} {detail}", l.who, l.file);
    l
}

/// An error's chain and its "tried" list on one line.
fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}
