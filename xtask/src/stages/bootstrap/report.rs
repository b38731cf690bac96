//! The end of a bootstrap: one line per aport in a table, and `build/<arch>/report.json`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use crate::stages::bootstrap::checkout::git_head;
use crate::stages::bootstrap::stage3::{ImageRecord, Stage3};
use crate::stages::bootstrap::{Run, Times};
use crate::stages::packages::fetch::{SourceUse, SubstituteUse, SOURCES_JSON};
use crate::stages::rootfs::selfhost::CheckStep;

/// One line of the final table and of report.json.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub aport: String,
    pub dir: Option<PathBuf>,
    pub version: Option<String>,
    pub result: AportResult,
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
struct Report<'a> {
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
    /// The root filesystem's SPDX SBOM.
    pub(crate) sbom: Option<PathBuf>,
    pub(crate) image: Option<ImageRecord>,
}

#[derive(Debug, Serialize)]
struct AportsRef {
    pub(crate) path: PathBuf,
    pub(crate) commit: Option<String>,
}

/// What `cargo xtask status` reads back from a `report.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct Summary {
    pub arch: String,
    pub set: String,
    #[serde(default)]
    pub aports: Option<SummaryAports>,
    /// Step name → key of the toolchain the packages were built with.
    #[serde(default)]
    pub toolchain: BTreeMap<String, String>,
    pub packages: Vec<SummaryEntry>,
    pub verified: Option<bool>,
    pub selfhost: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SummaryAports {
    pub commit: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SummaryEntry {
    pub aport: String,
    pub result: AportResult,
    #[serde(default)]
    pub version: Option<String>,
    /// The aport's build step and its key.
    #[serde(default)]
    pub step: Option<String>,
    #[serde(default)]
    pub key: Option<String>,
}

impl Summary {
    pub fn read(path: &Path) -> Result<Summary> {
        let text = std::fs::read_to_string(path)?;
        serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }
    /// Aports of the set whose packages are in the store, and how many the set has for
    /// this arch (those whose `arch=` excludes it aside).
    pub fn built(&self) -> (usize, usize) {
        let for_arch = self
            .packages
            .iter()
            .filter(|e| e.result != AportResult::NotForArch);
        let total = for_arch.clone().count();
        (for_arch.filter(|e| e.result.is_built()).count(), total)
    }
}

/// What became of one aport of the set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AportResult {
    /// Evaluated, not built yet.
    Pending,
    Built,
    Cached,
    Failed,
    /// Not built because something it needs failed.
    Skipped,
    /// Not in the checkout.
    Missing,
    /// Its `arch=` excludes the target (as abuild, not an error).
    NotForArch,
}

impl AportResult {
    pub fn as_str(self) -> &'static str {
        match self {
            AportResult::Pending => "pending",
            AportResult::Built => "built",
            AportResult::Cached => "cached",
            AportResult::Failed => "failed",
            AportResult::Skipped => "skipped",
            AportResult::Missing => "missing",
            AportResult::NotForArch => "not-for-arch",
        }
    }
    /// Its packages are in the store.
    pub fn is_built(self) -> bool {
        matches!(self, AportResult::Built | AportResult::Cached)
    }
}

impl std::fmt::Display for AportResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

pub(crate) fn entry(aport: &str, result: AportResult, reason: Option<String>) -> Entry {
    Entry {
        aport: aport.to_string(),
        dir: None,
        version: None,
        result,
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
            (Some(r), Some(l)) if e.result == AportResult::Failed => {
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
    let count = |r: AportResult| entries.iter().filter(|e| e.result == r).count();
    eprintln!(
        "{} built, {} cached, {} failed, {} skipped (a dependency failed), {} missing, {} not for this arch",
        count(AportResult::Built),
        count(AportResult::Cached),
        count(AportResult::Failed),
        count(AportResult::Skipped),
        count(AportResult::Missing),
        count(AportResult::NotForArch)
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

/// Prints the table and the stage times, writes `build/<arch>/report.json`, and fails
/// when an aport was not built or stage 3 went wrong.
pub fn finish(
    r: &Run,
    entries: &[Entry],
    toolchain: BTreeMap<String, String>,
    times: Times,
    s3: Stage3,
) -> Result<()> {
    let (cx, arch, o, checkout) = (r.cx, r.arch, r.o, r.checkout);
    let failed = entries
        .iter()
        .filter(|e| !(e.result.is_built() || e.result == AportResult::NotForArch))
        .count();
    print_table(entries);
    eprintln!();
    for (stage, secs) in &times {
        eprintln!(
            "  {stage:14} {}",
            crate::exec::progress::hms(std::time::Duration::from_secs_f64(*secs))
        );
    }
    let dir = cx.layout.build.join(&arch.name);
    std::fs::create_dir_all(&dir)?;
    let report = Report {
        arch: &arch.name,
        set: &o.set,
        aports: AportsRef {
            commit: git_head(checkout),
            path: checkout.to_path_buf(),
        },
        toolchain,
        stages: times,
        packages: entries,
        rootfs: s3.tarball.clone(),
        verified: s3.verified,
        selfhost: s3
            .selfhost_steps
            .as_ref()
            .map(|steps| steps.iter().all(|s| s.ok) && !steps.is_empty()),
        buildroot: s3.buildroot.clone(),
        selfhost_steps: s3.selfhost_steps,
        sbom: s3.sbom.clone(),
        image: s3.image.clone(),
    };
    let report_path = dir.join("report.json");
    std::fs::write(&report_path, serde_json::to_string_pretty(&report)?)?;
    eprintln!("report: {}", report_path.display());
    if let Some(t) = &s3.tarball {
        eprintln!("root filesystem: {}", t.display());
    }
    if failed > 0 {
        bail!(
            "{failed} of {} aports were not built (see the table and {}){}",
            entries.len(),
            report_path.display(),
            s3.error.map(|e| format!("; {e}")).unwrap_or_default()
        );
    }
    if let Some(e) = s3.error {
        bail!("{e}");
    }
    Ok(())
}

/// Where a built aport's remote sources came from, and which were substituted (from
/// the list the build step keeps in its output).
pub(crate) fn record_sources(e: &mut Entry, out: &Path) {
    let Ok(text) = std::fs::read_to_string(out.join(SOURCES_JSON)) else {
        return;
    };
    let Ok(used) = serde_json::from_str::<Vec<SourceUse>>(&text) else {
        return;
    };
    for u in used {
        if let Some(s) = e.sources.iter_mut().find(|s| s.file == u.file) {
            if let Some(sub) = &u.substitute {
                e.notes
                    .push(format!("substitute {} for {}", sub.file, u.file));
            }
            s.origin = Some(u.origin);
            s.substitute = u.substitute;
        }
    }
}
