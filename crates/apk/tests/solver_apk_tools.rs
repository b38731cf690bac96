//! Runs apk-tools' solver test suite (`test/solver/*.test`) through our solver and compares
//! the output with what `apk --simulate` printed when the cases were written.
//!
//! A case is `@ARGS` (the apk command line), `@REPO [@tag] FILE` (an APKINDEX in text form),
//! `@INSTALLED FILE`, `@WORLD DEPS`, `@CACHE FILE` (a cache `installed` index) and
//! `@EXPECT` followed by the expected output.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use alpinist_apk::db::{self, InstalledDb};
use alpinist_apk::solver::{
    AddOptions, DelOptions, FixOptions, Options, Repository, Solver, UpgradeOptions,
};

const DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/testdata/apk-tools/solver"
);

/// Cases known to differ from apk, each with the reason. Every other case must pass.
const KNOWN_FAILURES: &[(&str, &str)] = &[];

struct Case {
    args: Vec<String>,
    repos: Vec<(Option<String>, String)>,
    installed: Option<String>,
    world: Option<String>,
    cache: Option<String>,
    expect: String,
}

fn parse_case(text: &str) -> Case {
    let mut case = Case {
        args: Vec::new(),
        repos: Vec::new(),
        installed: None,
        world: None,
        cache: None,
        expect: String::new(),
    };
    let mut expecting = false;
    for line in text.lines() {
        if expecting {
            case.expect.push_str(line);
            case.expect.push('\n');
        } else if let Some(a) = line.strip_prefix("@ARGS ") {
            case.args.extend(a.split_whitespace().map(str::to_string));
        } else if let Some(w) = line.strip_prefix("@WORLD ") {
            case.world = Some(w.to_string());
        } else if let Some(f) = line.strip_prefix("@INSTALLED ") {
            case.installed = Some(f.trim().to_string());
        } else if let Some(r) = line.strip_prefix("@REPO ") {
            let r = r.trim();
            match r.split_once(' ') {
                Some((tag, file)) if tag.starts_with('@') => case
                    .repos
                    .push((Some(tag[1..].to_string()), file.trim().to_string())),
                _ => case.repos.push((None, r.to_string())),
            }
        } else if let Some(f) = line.strip_prefix("@CACHE ") {
            case.cache = Some(f.trim().to_string());
        } else if line == "@EXPECT" {
            expecting = true;
        }
    }
    case
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// Runs one case as `apk --simulate --root-tmpfs=no [--no-cache] ARGS` would.
fn run_case(dir: &Path, case: &Case) -> String {
    let mut opts = Options {
        arches: vec!["x86_64".to_string()],
        ..Options::default()
    };
    let mut root_tmpfs = false;
    let mut applet: Option<String> = None;
    let mut names: Vec<String> = Vec::new();
    let mut add = AddOptions::default();
    let mut del = DelOptions::default();
    let mut upgrade = UpgradeOptions::default();
    let mut fix = FixOptions::default();
    let mut it = case.args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--force-broken-world" => opts.force_broken_world = true,
            "--no-network" => opts.no_network = true,
            "--root-tmpfs=yes" => root_tmpfs = true,
            "--root-tmpfs=no" => root_tmpfs = false,
            "-v" | "--verbose" => opts.verbosity += 1,
            "-q" | "--quiet" => opts.verbosity -= 1,
            "--preupgrade-depends" => upgrade
                .preupgrade_depends
                .push(it.next().cloned().unwrap_or_default()),
            "-u" | "--upgrade" if applet.as_deref() == Some("add") => add.upgrade = true,
            "-u" | "--upgrade" if applet.as_deref() == Some("fix") => fix.upgrade = true,
            "-l" | "--latest" if applet.as_deref() == Some("add") => add.latest = true,
            "-l" | "--latest" => upgrade.latest = true,
            "-t" | "--virtual" => add.virtual_pkg = it.next().cloned(),
            "-r" | "--rdepends" if applet.as_deref() == Some("del") => del.rdepends = true,
            "-r" | "--reinstall" => fix.reinstall = true,
            "-d" | "--depends" => fix.depends = true,
            "-x" | "--xattr" => fix.xattr = true,
            "-a" | "--available" => upgrade.available = true,
            "--ignore" => upgrade.ignore = true,
            "--prune" => upgrade.prune = true,
            "--self-upgrade-only" | "--preupgrade-only" => upgrade.preupgrade_only = true,
            s if applet.is_none() => applet = Some(s.to_string()),
            s => names.push(s.to_string()),
        }
    }

    let installed = case
        .installed
        .as_ref()
        .map(|f| InstalledDb::parse(&read(dir, f)).unwrap_or_else(|e| panic!("{f}: {e}")))
        .unwrap_or_default();
    let world = case
        .world
        .as_ref()
        .map(|w| db::parse_world(w).unwrap_or_else(|e| panic!("world: {e}")))
        .unwrap_or_default();
    let repos = case
        .repos
        .iter()
        .map(|(tag, file)| Repository {
            url: file.clone(),
            tag: tag.clone(),
            packages: db::parse_index(&read(dir, file)).unwrap_or_else(|e| panic!("{file}: {e}")),
            remote: true,
        })
        .collect();
    if let (Some(f), true) = (&case.cache, root_tmpfs) {
        opts.cached = db::parse_index(&read(dir, f)).unwrap_or_else(|e| panic!("{f}: {e}"));
    }
    let solver = Solver::with_options(repos, &installed, &world, opts);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let result = match applet.as_deref() {
        Some("add") => solver.add_args(&names, &add),
        Some("del") => solver.del(&names, &del),
        Some("upgrade") => solver.upgrade(&names, &upgrade),
        Some("fix") => solver.fix(&names, &fix),
        other => panic!("unsupported applet {other:?}"),
    };
    match result {
        Ok(plan) => plan.output().to_string(),
        Err(e) => e.output().to_string(),
    }
}

fn cases() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(DIR)
        .unwrap_or_else(|e| panic!("{DIR}: {e}"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "test"))
        .collect();
    v.sort();
    v
}

#[test]
fn apk_tools_solver_suite() {
    let dir = Path::new(DIR);
    let mut results: BTreeMap<String, (String, bool, String, String)> = BTreeMap::new();
    for path in cases() {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let case = parse_case(&read(dir, &path.file_name().unwrap().to_string_lossy()));
        let applet = case
            .args
            .iter()
            .find(|a| ["add", "del", "upgrade", "fix"].contains(&a.as_str()))
            .cloned()
            .unwrap_or_default();
        let got = std::panic::catch_unwind(|| run_case(dir, &case))
            .unwrap_or_else(|_| "<panic>\n".to_string());
        let ok = got == case.expect;
        results.insert(name, (applet, ok, case.expect, got));
    }

    let total = results.len();
    let passed = results.values().filter(|r| r.1).count();
    let mut by_applet: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (applet, ok, ..) in results.values() {
        let e = by_applet.entry(applet.as_str()).or_default();
        e.1 += 1;
        e.0 += usize::from(*ok);
    }
    println!("solver suite: {passed} of {total} cases pass");
    for (applet, (p, t)) in &by_applet {
        println!("  {applet}: {p} of {t}");
    }

    let mut unexpected = Vec::new();
    for (name, (_, ok, expect, got)) in &results {
        let known = KNOWN_FAILURES.iter().any(|(n, _)| n == name);
        if !ok && !known {
            unexpected.push(format!("{name}:\n--- expected\n{expect}--- got\n{got}"));
        }
        if *ok && known {
            println!("  {name} is listed as a known failure but passes");
        }
    }
    for (name, reason) in KNOWN_FAILURES {
        assert!(
            results.contains_key(*name),
            "unknown case {name} in KNOWN_FAILURES"
        );
        println!("  known failure {name}: {reason}");
    }
    assert!(total >= 100, "only {total} cases found in {DIR}");
    assert!(
        unexpected.is_empty(),
        "{} cases fail:\n{}",
        unexpected.len(),
        unexpected.join("\n")
    );
}
