//! `cargo xtask report diff OLD.json NEW.json`: which packages two bootstraps built
//! differently, and for each the inputs whose change explains it — a source checksum, a
//! patch, the recipe, a substitute, a flag, or a step it uses (followed down to what
//! changed in that step).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Subcommand;

use crate::context::Context;
use crate::engine::{diff_inputs, read_manifest, InputKind};
use crate::stages::bootstrap::report::{Summary, SummaryEntry};

#[derive(Subcommand)]
pub enum ReportCommand {
    /// Compare two bootstrap reports (build/<arch>/report.json): the packages whose build
    /// changed, and why
    Diff {
        old: PathBuf,
        new: PathBuf,
        /// Print the result as JSON
        #[arg(long)]
        json: bool,
    },
}

/// One aport whose build differs between the reports.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    pub aport: String,
    pub old_version: Option<String>,
    pub new_version: Option<String>,
    /// Why, one line per changed input (nested steps indented).
    pub why: Vec<String>,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ReportDiff {
    pub changed: Vec<Change>,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub unchanged: usize,
}

pub fn run(cx: &Context, c: ReportCommand) -> Result<()> {
    let ReportCommand::Diff { old, new, json } = c;
    let d = diff(
        &Summary::read(&old)?,
        &Summary::read(&new)?,
        &cx.layout.store(),
    );
    if json {
        println!("{}", serde_json::to_string_pretty(&d)?);
    } else {
        print!("{}", render(&d));
    }
    Ok(())
}

/// Compares two reports; reasons come from the step manifests still in `store`.
pub fn diff(old: &Summary, new: &Summary, store: &Path) -> ReportDiff {
    let index = |s: &Summary| -> BTreeMap<String, SummaryEntry> {
        s.packages
            .iter()
            .map(|e| (e.aport.clone(), e.clone()))
            .collect()
    };
    let (o, n) = (index(old), index(new));
    let mut d = ReportDiff::default();
    for (name, ne) in &n {
        let Some(oe) = o.get(name) else {
            d.added.push(name.clone());
            continue;
        };
        if oe.key == ne.key {
            d.unchanged += 1;
            continue;
        }
        d.changed.push(Change {
            aport: name.clone(),
            old_version: oe.version.clone(),
            new_version: ne.version.clone(),
            why: explain(store, oe, ne),
        });
    }
    d.removed = o.keys().filter(|k| !n.contains_key(*k)).cloned().collect();
    d
}

fn explain(store: &Path, o: &SummaryEntry, n: &SummaryEntry) -> Vec<String> {
    match (&o.step, &o.key, &n.step, &n.key) {
        (Some(os), Some(ok), Some(ns), Some(nk)) => why_step(store, os, ok, ns, nk, 0),
        (_, None, _, _) => vec!["not built in the old report".into()],
        (_, _, _, None) => vec!["not built in the new report".into()],
        _ => vec!["the report does not name the build step".into()],
    }
}

/// Why step output `old_key` became `new_key`: the inputs that differ, and for a step
/// input, why that step changed, down to `MAX_DEPTH`.
fn why_step(
    store: &Path,
    old_step: &str,
    old_key: &str,
    new_step: &str,
    new_key: &str,
    depth: usize,
) -> Vec<String> {
    const MAX_DEPTH: usize = 4;
    let (Some(om), Some(nm)) = (
        read_manifest(store, old_step, old_key),
        read_manifest(store, new_step, new_key),
    ) else {
        return vec![format!(
            "{new_step}: key {old_key} -> {new_key} (the old output is no longer in the store, so not why)"
        )];
    };
    let indent = "  ".repeat(depth);
    let mut out = Vec::new();
    let old_steps: BTreeMap<&str, &str> = om
        .inputs
        .iter()
        .filter(|i| i.kind == InputKind::Step)
        .map(|i| (i.name.as_str(), i.value.as_str()))
        .collect();
    for line in diff_inputs(&om.inputs, &nm.inputs) {
        out.push(format!("{indent}{}", label(&line)));
        // "step NAME changed": follow it.
        let Some(dep) = line
            .strip_prefix("step ")
            .and_then(|r| r.strip_suffix(" changed"))
        else {
            continue;
        };
        let new_dep_key = nm
            .inputs
            .iter()
            .find(|i| i.kind == InputKind::Step && i.name == dep)
            .map(|i| i.value.as_str());
        if let (Some(ok), Some(nk)) = (old_steps.get(dep), new_dep_key) {
            if depth < MAX_DEPTH {
                out.extend(why_step(store, dep, ok, dep, nk, depth + 1));
            }
        }
    }
    out
}

/// Names what kind of input a reason is about, in the words of a CI log.
fn label(line: &str) -> String {
    if let Some(rest) = line.strip_prefix("config aport/") {
        let file = rest.split(' ').next().unwrap_or_default();
        let what = if file == "APKBUILD" {
            "recipe"
        } else if file.ends_with(".patch") || file.ends_with(".diff") {
            "patch"
        } else {
            "recipe file"
        };
        return format!("{what} {rest}");
    }
    if let Some(rest) = line.strip_prefix("source ") {
        if rest.contains(" substitute ") {
            return format!("substitute for source {rest}");
        }
        return format!("source {rest}");
    }
    let kinds = [
        ("flag ", "setting "),
        ("step toolchain-", "toolchain step toolchain-"),
        ("step runtime-", "toolchain runtime step runtime-"),
        ("step ", "build of "),
    ];
    for (from, to) in kinds {
        if let Some(rest) = line.strip_prefix(from) {
            return format!("{to}{rest}");
        }
    }
    line.to_string()
}

pub fn render(d: &ReportDiff) -> String {
    let mut s = String::new();
    for c in &d.changed {
        let v = match (&c.old_version, &c.new_version) {
            (Some(a), Some(b)) if a != b => format!(" ({a} -> {b})"),
            (_, Some(b)) => format!(" ({b})"),
            _ => String::new(),
        };
        s.push_str(&format!("changed {}{v}, because:\n", c.aport));
        for w in &c.why {
            s.push_str(&format!("    {w}\n"));
        }
    }
    for a in &d.added {
        s.push_str(&format!("new     {a}\n"));
    }
    for r in &d.removed {
        s.push_str(&format!("gone    {r}\n"));
    }
    s.push_str(&format!(
        "{} changed, {} new, {} gone, {} unchanged\n",
        d.changed.len(),
        d.added.len(),
        d.removed.len(),
        d.unchanged
    ));
    s
}
