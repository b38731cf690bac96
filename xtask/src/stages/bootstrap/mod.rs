//! `cargo xtask bootstrap --arch A`: stages 1–3 in one command. The stage 1 toolchain,
//! then the aports of a set from `stages/bootstrap.toml` (ordered by their own
//! dependencies, built in parallel, `--keep-going` builds everything that does not
//! depend on a failure), then the root filesystem and its check. Ends with a table and
//! `build/<arch>/report.json`.
//!
//! [`report`] holds the table and `report.json`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context as _, Result};

use crate::config::arch::Arch;
use crate::config::stages::{AportsPin, Stages};
use crate::context::Context;
use crate::engine::{self as step, Outcome};
use crate::stages::bootstrap::report::{entry, print_table, AportsRef, Entry, Report, SourceRef};
use crate::stages::packages::{self as build, Aport, BuildSettings};
use crate::stages::rootfs::selfhost::{self, CheckStep};
use crate::stages::rootfs::{self, Profile};

pub mod report;

/// The self-hosting check of `stages`' `[selfhost]` aport from `checkout`.
pub fn selfhost(
    cx: &Context,
    arch: &Arch,
    stages: &Stages,
    checkout: &Path,
    tarball: Option<PathBuf>,
) -> Result<Vec<CheckStep>> {
    let c = &stages.selfhost;
    selfhost::check(
        cx,
        arch,
        &selfhost::Options {
            tarball,
            aport: &checkout.join(&c.aport),
            run: &c.run,
            expect: &c.expect,
        },
    )
}

pub struct Options {
    pub arch: String,
    pub aports: Option<PathBuf>,
    pub set: String,
    pub packages: Vec<String>,
    pub rootfs: bool,
    pub verify: bool,
}

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
        let st = std::process::Command::new("git")
            .args(args)
            .current_dir(&tmp)
            .status()
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

fn git_head(dir: &Path) -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(dir)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn expand(cx: &Context, s: &str) -> String {
    s.replace(
        "${ALPINIST_CHECKOUT}",
        &build::aport::alpinist_checkout().display().to_string(),
    )
    .replace(
        "${ALPINIST_KEYS}",
        &crate::keys::SigningKey::dir(cx).display().to_string(),
    )
}

pub fn run(cx: &mut Context, o: &Options) -> Result<()> {
    let stages = Stages::load(&cx.layout)?;
    let set = stages.set(&o.set)?;
    for m in &set.mirrors {
        let m = expand(cx, m);
        cx.mirrors.push(m);
    }
    cx.use_repodest(set);
    let cx: &Context = cx;
    let mut env = Vec::new();
    for kv in &set.env {
        let (k, v) = kv.split_once('=').with_context(|| {
            format!(
                "stages/bootstrap.toml [set.{}] env {kv:?}: expected KEY=VALUE",
                o.set
            )
        })?;
        env.push((k.to_string(), expand(cx, v)));
    }
    let arch: Arch = cx.arches.get(&o.arch)?.clone();
    let names: Vec<String> = if o.packages.is_empty() {
        set.packages.clone()
    } else {
        o.packages.clone()
    };
    let mut times: BTreeMap<&'static str, f64> = BTreeMap::new();
    let checkout = checkout(cx, o.aports.as_deref(), &stages.aports)?;
    eprintln!(
        "bootstrap {} ({}): set {:?} from {}, {} aports",
        arch.name,
        arch.triple,
        o.set,
        checkout.display(),
        names.len()
    );

    // Stage 1.
    let t = Instant::now();
    crate::stages::toolchain::build(cx, &arch.name)?;
    times.insert("toolchain", t.elapsed().as_secs_f64());

    // Stage 2: find and evaluate the recipes; what cannot even be evaluated is a failure
    // of its own, not of the run (with --keep-going).
    let t = Instant::now();
    let extra_sources: Vec<PathBuf> = set.sources.iter().map(|f| cx.layout.repo.join(f)).collect();
    let settings = BuildSettings::new(cx, set.bootstrap.clone(), env, &extra_sources)?;
    let mut entries: Vec<Entry> = Vec::new();
    let mut aports: Vec<Aport> = Vec::new();
    let mut entry_of: Vec<usize> = Vec::new();
    for n in &names {
        let Some(dir) = locate(&checkout, &stages.aports.repos, n) else {
            entries.push(entry(
                n,
                "missing",
                Some(format!(
                    "no {}/{n}/APKBUILD in {}",
                    stages.aports.repos.join("|"),
                    checkout.display()
                )),
            ));
            continue;
        };
        match build::evaluate(cx, &arch, &dir, &settings) {
            Ok(a) if !a.recipe.builds_for(&arch.name) => {
                let mut e = entry(
                    n,
                    "not-for-arch",
                    Some(format!(
                        "arch=\"{}\" does not include {}",
                        a.recipe.words("arch").join(" "),
                        arch.name
                    )),
                );
                e.dir = Some(dir);
                entries.push(e);
            }
            Ok(a) => {
                let mut e = entry(n, "pending", None);
                e.dir = Some(dir);
                e.version = Some(format!("{}-r{}", a.recipe.pkgver, a.recipe.pkgrel));
                e.notes = a.overrides.clone();
                e.sources = a
                    .recipe
                    .sources
                    .iter()
                    .map(|s| SourceRef {
                        file: s.name.clone(),
                        sha512: s.sha512.clone(),
                        origin: None,
                        substitute: None,
                    })
                    .collect();
                entry_of.push(entries.len());
                entries.push(e);
                aports.push(a);
            }
            Err(err) => {
                let mut e = entry(n, "failed", Some(format!("{err:#}")));
                e.dir = Some(dir);
                entries.push(e);
            }
        }
    }
    let hard_failures = entries
        .iter()
        .filter(|e| e.result == "failed" || e.result == "missing")
        .count();
    if hard_failures > 0 && !cx.keep_going {
        print_table(&entries);
        bail!("{hard_failures} aports could not be found or evaluated (see above); --keep-going builds the rest");
    }

    // Aports that cannot build here (missing host tools), and everything that needs them.
    let provider = build::order::providers(&aports);
    let mut excluded: BTreeMap<usize, (String, String)> = BTreeMap::new();
    let missing_tools = build::order::provide_host_tools(cx, &aports, &provider)?;
    if !missing_tools.is_empty() {
        if !cx.keep_going {
            bail!(
                "{}\n--keep-going builds the rest",
                build::order::missing_tools_message(&missing_tools)
            );
        }
        eprintln!("{}", build::order::missing_tools_message(&missing_tools));
    }
    for m in missing_tools {
        excluded
            .entry(m.aport)
            .or_insert_with(|| ("failed".into(), format!("host tool missing: {}", m.message)));
    }
    // What an excluded aport provides is missing for the aports that need it, except the
    // target runtime, which stage 1 provides as well.
    loop {
        let before = excluded.len();
        for (i, a) in aports.iter().enumerate() {
            if excluded.contains_key(&i) {
                continue;
            }
            let (h, b) = build::order::split_deps(&a.recipe);
            let lost = h.iter().chain(b.iter()).find_map(|d| {
                let n = build::order::dep_name(d);
                let j = *provider.get(&n)?;
                (j != i
                    && excluded.contains_key(&j)
                    && !build::order::RUNTIME_NAMES.contains(&n.as_str())
                    && !d.starts_with('!'))
                .then(|| format!("needs {n} from {} (not built)", aports[j].recipe.pkgname))
            });
            if let Some(why) = lost {
                excluded.insert(i, ("skipped".into(), why));
            }
        }
        if excluded.len() == before {
            break;
        }
    }
    let kept: Vec<usize> = (0..aports.len())
        .filter(|i| !excluded.contains_key(i))
        .collect();
    for (i, (result, why)) in &excluded {
        let e = &mut entries[entry_of[*i]];
        e.result = result.clone();
        e.reason = Some(why.clone());
    }
    let to_build: Vec<Aport> = kept.iter().map(|&i| aports[i].clone()).collect();
    let key = crate::keys::SigningKey::ensure(cx)?;
    let (g, aport_steps) = build::graph(cx, &arch, &to_build, &settings, &key)?;
    let planned = step::plan(cx, &g)?;
    let reports = step::execute(cx, &g, &planned)?;
    let toolchain_keys: BTreeMap<String, String> = reports
        .iter()
        .filter(|r| !r.name.starts_with("pkg-"))
        .map(|r| (r.name.clone(), r.key.clone()))
        .collect();
    let mut done: Vec<PathBuf> = Vec::new();
    for (n, &i) in kept.iter().enumerate() {
        let r = &reports[aport_steps[n + 1]];
        let e = &mut entries[entry_of[i]];
        e.step = Some(r.name.clone());
        e.key = Some(r.key.clone());
        e.seconds = r.seconds;
        e.log = Some(
            cx.layout
                .logs()
                .join(format!("{}-{}.log", r.name, &r.key[..12])),
        );
        match &r.outcome {
            Outcome::Built => e.result = "built".into(),
            Outcome::Cached => e.result = "cached".into(),
            Outcome::Failed(msg) => {
                e.result = "failed".into();
                e.reason = Some(msg.clone());
            }
            Outcome::Skipped(why) => {
                e.result = "skipped".into();
                e.reason = Some(format!("needs {why}"));
            }
        }
        if matches!(r.outcome, Outcome::Built | Outcome::Cached) {
            record_sources(e, &r.out);
            done.push(r.out.clone());
        }
    }
    let runtime = &reports[aport_steps[0]];
    if matches!(runtime.outcome, Outcome::Built | Outcome::Cached) {
        done.insert(0, runtime.out.clone());
    }
    if !done.is_empty() {
        build::publish(cx, &arch, &done, &key)?;
    }
    times.insert("packages", t.elapsed().as_secs_f64());
    let failed = entries
        .iter()
        .filter(|e| !matches!(e.result.as_str(), "built" | "cached" | "not-for-arch"))
        .count();

    // Stage 3, when what it installs was built.
    let mut tarball = None;
    let mut verified = None;
    let built: BTreeSet<String> = kept
        .iter()
        .filter(|&&i| matches!(entries[entry_of[i]].result.as_str(), "built" | "cached"))
        .flat_map(|&i| {
            let r = &aports[i].recipe;
            r.package_names().into_iter().chain(
                r.words("provides")
                    .into_iter()
                    .map(|p| build::order::dep_name(&p)),
            )
        })
        .collect();
    let rootfs_missing: Vec<&String> = set.rootfs.iter().filter(|p| !built.contains(*p)).collect();
    let mut stage3_error = None;
    if o.rootfs {
        if rootfs_missing.is_empty() {
            let t = Instant::now();
            match rootfs::rootfs(cx, &arch, &set.rootfs, Profile::Minirootfs) {
                Ok(p) => tarball = Some(p),
                Err(e) => stage3_error = Some(format!("rootfs: {e:#}")),
            }
            times.insert("rootfs", t.elapsed().as_secs_f64());
            if let (Some(tb), true) = (&tarball, o.verify) {
                let t = Instant::now();
                let r = rootfs::verify(cx, &arch, Some(tb.clone()));
                verified = Some(r.is_ok());
                if let Err(e) = r {
                    stage3_error = Some(format!("verify-rootfs: {e:#}"));
                }
                times.insert("verify-rootfs", t.elapsed().as_secs_f64());
            }
        } else {
            stage3_error = Some(format!(
                "root filesystem not made: {} not built",
                rootfs_missing
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    // The build root and the self-hosting check, for sets that have one.
    let mut buildroot = None;
    let mut selfhost_steps = None;
    if o.rootfs && !set.buildroot.is_empty() {
        let missing: Vec<&str> = set
            .buildroot
            .iter()
            .filter(|p| !built.contains(*p))
            .map(|s| s.as_str())
            .collect();
        if !missing.is_empty() {
            stage3_error.get_or_insert(format!(
                "build root not made: {} not built",
                missing.join(", ")
            ));
        } else {
            let t = Instant::now();
            match rootfs::rootfs(cx, &arch, &set.buildroot, Profile::Buildroot) {
                Ok(p) => buildroot = Some(p),
                Err(e) => {
                    stage3_error.get_or_insert(format!("build root: {e:#}"));
                }
            }
            times.insert("buildroot", t.elapsed().as_secs_f64());
            if let (Some(tb), true) = (&buildroot, o.verify) {
                let t = Instant::now();
                eprintln!("\nself-hosting check in {}", tb.display());
                match selfhost(cx, &arch, &stages, &checkout, Some(tb.clone())) {
                    Ok(steps) => {
                        if steps.iter().any(|s| !s.ok) {
                            stage3_error.get_or_insert("the self-hosting check failed".into());
                        }
                        selfhost_steps = Some(steps);
                    }
                    Err(e) => {
                        stage3_error.get_or_insert(format!("self-hosting check: {e:#}"));
                    }
                }
                times.insert("selfhost", t.elapsed().as_secs_f64());
            }
        }
    }

    print_table(&entries);
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
            commit: git_head(&checkout),
            path: checkout.clone(),
        },
        toolchain: toolchain_keys,
        stages: times,
        packages: &entries,
        rootfs: tarball.clone(),
        verified,
        selfhost: selfhost_steps
            .as_ref()
            .map(|steps| steps.iter().all(|s| s.ok) && !steps.is_empty()),
        buildroot: buildroot.clone(),
        selfhost_steps,
    };
    let report_path = dir.join("report.json");
    std::fs::write(&report_path, serde_json::to_string_pretty(&report)?)?;
    eprintln!("report: {}", report_path.display());
    if let Some(t) = &tarball {
        eprintln!("root filesystem: {}", t.display());
    }
    if failed > 0 {
        bail!(
            "{failed} of {} aports were not built (see the table and {}){}",
            entries.len(),
            report_path.display(),
            stage3_error.map(|e| format!("; {e}")).unwrap_or_default()
        );
    }
    if let Some(e) = stage3_error {
        bail!("{e}");
    }
    Ok(())
}

/// Where a built aport's remote sources came from, and which were substituted (from
/// the list the build step keeps in its output).
fn record_sources(e: &mut Entry, out: &Path) {
    let Ok(text) = std::fs::read_to_string(out.join(build::build::SOURCES_JSON)) else {
        return;
    };
    let Ok(used) = serde_json::from_str::<Vec<build::build::SourceUse>>(&text) else {
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
