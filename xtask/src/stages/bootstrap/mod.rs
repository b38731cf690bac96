//! `cargo xtask bootstrap --arch A`: stages 1–3 in one command. The stage 1 toolchain,
//! then the aports of a set from `stages/bootstrap.toml` (ordered by their own
//! dependencies, built in parallel, `--keep-going` builds everything that does not
//! depend on a failure), then the root filesystem and its check. Ends with a table and
//! `build/<arch>/report.json`.
//!
//! - [`checkout`]: the aports checkout;
//! - [`select`]: the set's aports found, evaluated, and those that cannot build here
//!   set aside with everything that needs them;
//! - [`stage3`]: the root filesystem, the build root and their checks;
//! - [`report`]: the table and `report.json`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, Result};

use crate::config::arch::Arch;
use crate::config::stages::{Set, Stages};
use crate::context::Context;
use crate::engine::{self, Outcome};
use crate::keys::SigningKey;
use crate::stages::bootstrap::report::AportResult;
use crate::stages::bootstrap::select::Selection;
use crate::stages::packages::{self, BuildSettings};
use crate::stages::rootfs::selfhost::{self, CheckStep};

pub mod checkout;
pub mod report;
pub mod select;
pub mod sources;
pub mod stage3;

pub use checkout::{checkout, locate};

pub struct Options {
    pub arch: String,
    pub aports: Option<PathBuf>,
    pub set: String,
    pub packages: Vec<String>,
    pub rootfs: bool,
    pub verify: bool,
    /// Make the OCI image: yes, no, or (None) where podman or skopeo can check it.
    pub image: Option<bool>,
}

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

pub fn run(cx: &mut Context, o: &Options) -> Result<()> {
    let stages = Stages::load(&cx.layout)?;
    let set = stages.set(&o.set)?;
    let env = use_set(cx, set, &o.set)?;
    let cx: &Context = cx;
    let arch: Arch = cx.arches.get(&o.arch)?.clone();
    let names: Vec<String> = if o.packages.is_empty() {
        set.packages.clone()
    } else {
        o.packages.clone()
    };
    let mut times = Times::new();
    let checkout = checkout(cx, o.aports.as_deref(), &stages.aports)?;
    eprintln!(
        "bootstrap {} ({}): set {:?} from {}, {} aports",
        arch.name,
        arch.triple,
        o.set,
        checkout.display(),
        names.len()
    );

    // Everything the three stages run on the build machine, installed before stage 1
    // starts (as root) or named at once (otherwise); what single recipes need follows
    // when they are evaluated.
    crate::host::require(&cx.layout, crate::config::host::Purpose::Build)?;
    crate::host::require(&cx.layout, crate::config::host::Purpose::Check)?;

    // Stage 1.
    let t = Instant::now();
    crate::stages::toolchain::build(cx, &arch.name)?;
    times.insert("toolchain", t.elapsed().as_secs_f64());

    // Stage 2: find and evaluate the recipes; what cannot even be evaluated is a failure
    // of its own, not of the run (with --keep-going).
    let t = Instant::now();
    let extra_sources: Vec<PathBuf> = set.sources.iter().map(|f| cx.layout.repo.join(f)).collect();
    let mut settings = BuildSettings::new(cx, set.bootstrap.clone(), env, &extra_sources)?;
    let abuild = locate(&checkout, &stages.aports.repos, "abuild");
    settings.use_abuild_aport(cx, &arch, abuild.as_deref())?;
    let mut sel = Selection::evaluate(cx, &arch, &stages.aports, &checkout, &names, &settings)?;
    sel.exclude_unbuildable(cx)?;
    let toolchain_keys = build_packages(cx, &arch, &mut sel, &settings)?;
    times.insert("packages", t.elapsed().as_secs_f64());

    // Stage 3, when what it installs was built.
    let run = Run {
        cx,
        arch: &arch,
        o,
        stages: &stages,
        set,
        checkout: &checkout,
    };
    let s3 = stage3::run(&run, &sel.built_names(), &mut times);
    report::finish(&run, &sel.entries, toolchain_keys, times, s3)
}

/// Wall time per stage, for the table and the report.
pub type Times = BTreeMap<&'static str, f64>;

/// What one bootstrap works from, for stage 3 and the report.
pub struct Run<'a> {
    pub cx: &'a Context,
    pub arch: &'a Arch,
    pub o: &'a Options,
    pub stages: &'a Stages,
    pub set: &'a Set,
    /// The aports checkout.
    pub checkout: &'a Path,
}

/// Takes on the set's mirrors and repositories; returns its recipe environment.
pub(crate) fn use_set(cx: &mut Context, set: &Set, name: &str) -> Result<Vec<(String, String)>> {
    for m in &set.mirrors {
        let m = expand(cx, m);
        cx.mirrors.push(m);
    }
    cx.use_repodest(set);
    let mut env = Vec::new();
    for kv in &set.env {
        let (k, v) = kv.split_once('=').with_context(|| {
            format!("stages/bootstrap.toml [set.{name}] env {kv:?}: expected KEY=VALUE")
        })?;
        env.push((k.to_string(), expand(cx, v)));
    }
    Ok(env)
}

fn expand(cx: &Context, s: &str) -> String {
    s.replace(
        "${ALPINIST_CHECKOUT}",
        &packages::aport::alpinist_checkout().display().to_string(),
    )
    .replace(
        "${ALPINIST_KEYS}",
        &SigningKey::dir(cx).display().to_string(),
    )
}

/// Builds the selected aports (and stage 1's runtime packages), records each outcome in
/// its entry, and publishes what was built. Returns the keys of the steps that are not
/// aports (the toolchain's and the runtime packages').
fn build_packages(
    cx: &Context,
    arch: &Arch,
    sel: &mut Selection,
    settings: &BuildSettings,
) -> Result<BTreeMap<String, String>> {
    let to_build: Vec<packages::Aport> = sel.kept.iter().map(|&i| sel.aports[i].clone()).collect();
    let key = SigningKey::ensure(cx)?;
    let bg = packages::graph(cx, arch, &to_build, settings, &key)?;
    let planned = engine::plan(cx, &bg.graph)?;
    let reports = engine::execute(cx, &bg.graph, &planned)?;
    let toolchain_keys: BTreeMap<String, String> = bg
        .base_steps()
        .into_iter()
        .map(|i| (reports[i].name.clone(), reports[i].key.clone()))
        .collect();
    let mut done: Vec<PathBuf> = Vec::new();
    let runtime = &reports[bg.runtime.index()];
    if matches!(runtime.outcome, Outcome::Built | Outcome::Cached) {
        done.push(runtime.out.clone());
    }
    for (n, &i) in sel.kept.iter().enumerate() {
        let r = &reports[bg.aports[n].index()];
        let e = &mut sel.entries[sel.entry_of[i]];
        e.step = Some(r.name.clone());
        e.key = Some(r.key.clone());
        e.seconds = r.seconds;
        e.log = Some(cx.engine.log_path(&r.name, &r.key));
        match &r.outcome {
            Outcome::Built => e.result = AportResult::Built,
            Outcome::Cached => e.result = AportResult::Cached,
            Outcome::Failed(msg) => {
                e.result = AportResult::Failed;
                e.reason = Some(msg.clone());
            }
            Outcome::Skipped(why) => {
                e.result = AportResult::Skipped;
                e.reason = Some(format!("needs {why}"));
            }
        }
        if matches!(r.outcome, Outcome::Built | Outcome::Cached) {
            report::record_sources(e, &r.out);
            done.push(r.out.clone());
        }
    }
    if !done.is_empty() {
        packages::publish(cx, arch, &done, &key)?;
    }
    Ok(toolchain_keys)
}
