//! `cargo xtask status`: one table of every arch — the stage 1 toolchain (built with the
//! current inputs, or not), the last bootstrap's base set N/M, the minirootfs check and
//! the self-hosting check — read from the store and `build/<arch>/report.json`.

use anyhow::{bail, Context as _, Result};
use clap::Args;

use crate::config::arch::Arch;
use crate::context::Context;
use crate::engine::{self, Status};
use crate::stages::bootstrap::report::Summary;
use crate::stages::toolchain;

#[derive(Args)]
pub struct StatusArgs {
    /// Print a Markdown table (the README's arch matrix)
    #[arg(long)]
    pub markdown: bool,
    /// Rewrite the arch matrix in README.md (between `<!-- status:begin -->` and
    /// `<!-- status:end -->`) with this table
    #[arg(long, conflicts_with = "markdown")]
    pub readme: bool,
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub arch: String,
    pub triple: String,
    /// "built" (with the key), "stale" or "not built".
    pub toolchain: String,
    pub base_set: String,
    pub minirootfs: String,
    pub selfhost: String,
    pub aports: String,
}

pub fn run(cx: &Context, a: StatusArgs) -> Result<()> {
    let mut rows = Vec::new();
    for arch in cx.arches.arches.values() {
        rows.push(row(cx, arch)?);
    }
    if a.readme {
        let readme = cx.layout.repo.join("README.md");
        let text = std::fs::read_to_string(&readme)
            .with_context(|| format!("reading {}", readme.display()))?;
        let new = replace_block(&text, &markdown(&rows)).with_context(|| {
            format!(
                "{}: no `<!-- status:begin -->` … `<!-- status:end -->` block to rewrite",
                readme.display()
            )
        })?;
        std::fs::write(&readme, new)?;
        eprintln!("rewrote the arch matrix in {}", readme.display());
    } else if a.markdown {
        print!("{}", markdown(&rows));
    } else {
        print!("{}", plain(&rows));
    }
    Ok(())
}

fn row(cx: &Context, arch: &Arch) -> Result<Row> {
    let (g, _) = toolchain::graph(cx, arch)?;
    let planned = engine::plan(cx, &g)?;
    let last = planned.last().context("the toolchain graph has steps")?;
    let current = last.key.clone();
    let toolchain = match &last.status {
        Status::Cached => format!("built {}", short(&current)),
        Status::Changed(_) => "stale (inputs changed)".to_string(),
        Status::NeverBuilt => "not built".to_string(),
    };
    let report = cx.layout.build.join(&arch.name).join("report.json");
    let mut r = Row {
        arch: arch.name.clone(),
        triple: arch.triple.clone(),
        toolchain,
        base_set: "-".into(),
        minirootfs: "-".into(),
        selfhost: "-".into(),
        aports: "-".into(),
    };
    if !report.exists() {
        return Ok(r);
    }
    let s = Summary::read(&report)?;
    let (built, total) = s.built();
    let older = s.toolchain.get(&last.name).is_some_and(|k| *k != current);
    r.base_set = format!(
        "{built}/{total} ({}){}",
        s.set,
        if older { ", older toolchain" } else { "" }
    );
    r.minirootfs = yes_no(s.verified, "verified", "FAILED");
    r.selfhost = yes_no(s.selfhost, "passed", "FAILED");
    r.aports = s
        .aports
        .and_then(|a| a.commit)
        .map(|c| c.chars().take(11).collect())
        .unwrap_or_else(|| "-".into());
    if s.arch != arch.name {
        bail!("{}: report is for arch {}", report.display(), s.arch);
    }
    Ok(r)
}

fn short(key: &str) -> String {
    key.chars().take(12).collect()
}

fn yes_no(v: Option<bool>, yes: &str, no: &str) -> String {
    match v {
        Some(true) => yes.into(),
        Some(false) => no.into(),
        None => "not run".into(),
    }
}

const HEADER: [&str; 7] = [
    "arch",
    "triple",
    "stage 1 toolchain",
    "base set built",
    "minirootfs",
    "self-hosting",
    "aports",
];

fn cells(r: &Row) -> [&str; 7] {
    [
        &r.arch,
        &r.triple,
        &r.toolchain,
        &r.base_set,
        &r.minirootfs,
        &r.selfhost,
        &r.aports,
    ]
}

pub fn plain(rows: &[Row]) -> String {
    let mut w = HEADER.map(str::len);
    for r in rows {
        for (i, c) in cells(r).iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |c: [&str; 7]| {
        let mut s = String::new();
        for (i, x) in c.iter().enumerate() {
            s.push_str(&format!("{:w$}  ", x, w = w[i]));
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(HEADER);
    for r in rows {
        out.push_str(&line(cells(r)));
    }
    out
}

pub fn markdown(rows: &[Row]) -> String {
    let mut out = format!("| {} |\n", HEADER.join(" | "));
    out.push_str(&format!("|{}\n", "---|".repeat(HEADER.len())));
    for r in rows {
        out.push_str(&format!("| {} |\n", cells(r).join(" | ")));
    }
    out
}

const BEGIN: &str = "<!-- status:begin -->";
const END: &str = "<!-- status:end -->";

/// `text` with the lines between the markers replaced by `table`.
pub fn replace_block(text: &str, table: &str) -> Option<String> {
    let b = text.find(BEGIN)? + BEGIN.len();
    let e = text[b..].find(END)? + b;
    Some(format!("{}\n{}{}", &text[..b], table, &text[e..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_block_is_replaced_and_nothing_else() {
        let text = "# x\n<!-- status:begin -->\nold\n<!-- status:end -->\ntail\n";
        let new = replace_block(text, "| new |\n").unwrap();
        assert_eq!(
            new,
            "# x\n<!-- status:begin -->\n| new |\n<!-- status:end -->\ntail\n"
        );
        assert!(replace_block("no markers", "t").is_none());
    }

    #[test]
    fn a_report_counts_built_and_cached_against_the_aports_for_the_arch() {
        let json = r#"{"arch": "riscv64", "set": "base", "toolchain": {},
            "packages": [{"aport": "a", "result": "built"}, {"aport": "b", "result": "cached"},
                         {"aport": "c", "result": "failed"}, {"aport": "d", "result": "not-for-arch"},
                         {"aport": "e", "result": "skipped"}],
            "verified": true, "selfhost": null}"#;
        let s: Summary = serde_json::from_str(json).unwrap();
        assert_eq!(s.built(), (2, 4));
        let rows = [Row {
            arch: "riscv64".into(),
            triple: "riscv64-alpine-linux-musl".into(),
            toolchain: "built 0123".into(),
            base_set: "2/4 (base)".into(),
            minirootfs: yes_no(s.verified, "verified", "FAILED"),
            selfhost: yes_no(s.selfhost, "passed", "FAILED"),
            aports: "-".into(),
        }];
        assert!(markdown(&rows).contains("| riscv64 | riscv64-alpine-linux-musl | built 0123 | 2/4 (base) | verified | not run | - |"));
    }
}
