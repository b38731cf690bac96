//! The end of a bootstrap: one line per aport in a table, and `build/<arch>/report.json`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::stages::packages::build::SubstituteUse;
use crate::stages::rootfs::selfhost::CheckStep;

/// One line of the final table and of report.json.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub aport: String,
    pub dir: Option<PathBuf>,
    pub version: Option<String>,
    /// built, cached, failed, skipped, missing
    pub result: String,
    pub seconds: f64,
    pub step: Option<String>,
    pub key: Option<String>,
    pub reason: Option<String>,
    pub log: Option<PathBuf>,
    pub sources: Vec<SourceRef>,
    /// What differs from building Alpine's recipe as it is: a version override, aports
    /// patches, substituted sources.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SourceRef {
    pub file: String,
    pub sha512: String,
    /// Where the build took it from (once built).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// The documented substitute that stood in for the recipe's file, if one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub substitute: Option<SubstituteUse>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Report<'a> {
    pub(crate) arch: &'a str,
    pub(crate) set: &'a str,
    pub(crate) aports: AportsRef,
    pub(crate) toolchain: BTreeMap<String, String>,
    pub(crate) stages: BTreeMap<&'static str, f64>,
    pub(crate) packages: &'a [Entry],
    pub(crate) rootfs: Option<PathBuf>,
    pub(crate) verified: Option<bool>,
    pub(crate) buildroot: Option<PathBuf>,
    /// Whether the self-hosting check passed (absent: not run).
    pub(crate) selfhost: Option<bool>,
    pub(crate) selfhost_steps: Option<Vec<CheckStep>>,
}

#[derive(Debug, Serialize)]
pub(crate) struct AportsRef {
    pub(crate) path: PathBuf,
    pub(crate) commit: Option<String>,
}

pub(crate) fn entry(aport: &str, result: &str, reason: Option<String>) -> Entry {
    Entry {
        aport: aport.to_string(),
        dir: None,
        version: None,
        result: result.to_string(),
        seconds: 0.0,
        step: None,
        key: None,
        reason,
        log: None,
        sources: Vec::new(),
        notes: Vec::new(),
    }
}

/// The final table: one line per aport of the set.
pub fn print_table(entries: &[Entry]) {
    let w = entries
        .iter()
        .map(|e| e.aport.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let v = entries
        .iter()
        .map(|e| e.version.as_deref().unwrap_or("-").len())
        .max()
        .unwrap_or(7)
        .max(7);
    eprintln!(
        "\n{:w$}  {:v$}  {:8}  {:>9}  detail",
        "aport", "version", "result", "time"
    );
    for e in entries {
        let detail = match (&e.reason, &e.log) {
            (Some(r), Some(l)) if e.result == "failed" => {
                format!("{} (log: {})", first_line(r), l.display())
            }
            (Some(r), _) => first_line(r),
            _ => e.notes.join("; "),
        };
        eprintln!(
            "{:w$}  {:v$}  {:8}  {:>9}  {}",
            e.aport,
            e.version.as_deref().unwrap_or("-"),
            e.result,
            if e.seconds > 0.0 {
                crate::exec::progress::hms(std::time::Duration::from_secs_f64(e.seconds))
            } else {
                "-".into()
            },
            detail
        );
    }
    let count = |r: &str| entries.iter().filter(|e| e.result == r).count();
    eprintln!(
        "{} built, {} cached, {} failed, {} skipped (a dependency failed), {} missing, {} not for this arch",
        count("built"),
        count("cached"),
        count("failed"),
        count("skipped"),
        count("missing"),
        count("not-for-arch")
    );
}

/// The line of an error worth a table cell: the first one, without the engine's
/// "step … failed after …; its build tree is kept in DIR: " lead (the log path follows).
fn first_line(s: &str) -> String {
    let l = s.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let l = match l.find("; its build tree is kept in ") {
        Some(i) => l[i..].split_once(": ").map(|(_, rest)| rest).unwrap_or(l),
        None => l,
    };
    if l.chars().count() > 140 {
        format!("{}…", l.chars().take(140).collect::<String>())
    } else {
        l.to_string()
    }
}
