//! `cargo xtask verify-native`: Alpine's own abuild, running natively (under qemu-user)
//! in the build root, is the judge of what alpinist's cross build should make. Each aport
//! is built both ways from the same recipe and the same source bytes, and every package
//! is compared member by member ([`compare`]); what differs is either a bug of the
//! runner or a difference explained in `stages/verify-native.toml`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context as _, Result};
use serde::{Deserialize, Serialize};

use crate::config::arch::Arch;
use crate::config::stages::Stages;
use crate::context::Context;
use crate::stages::bootstrap::{checkout, locate};
use crate::stages::packages::{self, evaluate, Aport, BuildSettings};
use crate::stages::rootfs::binfmt::ensure_binfmt;
use crate::stages::rootfs::scripts::in_root;
use crate::stages::rootfs::tarball::unpack;
use crate::stages::rootfs::{repo_binds, Profile};

pub mod compare;

pub use compare::Difference;

/// What `verify-native` is asked for.
pub struct Options {
    pub arch: String,
    pub aports: Option<PathBuf>,
    /// The set whose settings the cross builds use (as its bootstrap built them).
    pub set: String,
    /// The aports to compare [default: the set's].
    pub names: Vec<String>,
    /// The build root to build in [default: the newest of build/<arch>/].
    pub tarball: Option<PathBuf>,
    pub keep_going: bool,
}

/// One explained difference (`stages/verify-native.toml`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Explained {
    /// A package name, or `*` for every package.
    pub package: String,
    /// `member`, `content`, `pkginfo` or `elf`.
    pub kind: String,
    /// The key, or a prefix of it ending in `*`.
    pub key: String,
    pub why: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExplainedFile {
    #[serde(default)]
    explained: Vec<Explained>,
}

impl Explained {
    fn matches(&self, d: &Difference) -> bool {
        let key = match self.key.strip_suffix('*') {
            Some(prefix) => d.key.starts_with(prefix),
            None => d.key == self.key,
        };
        (self.package == "*" || self.package == d.package) && self.kind == d.kind && key
    }
}

/// One package as both builds made it.
#[derive(Debug, Clone, Serialize)]
pub struct PackageResult {
    pub package: String,
    /// Made by only one side: `cross` or `native`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub only: Option<String>,
    /// Every member's bytes, the `.PKGINFO` fields and the scripts are the same.
    pub identical: bool,
    pub unexplained: Vec<Difference>,
    /// Each with the reason from `stages/verify-native.toml`.
    pub explained: Vec<(Difference, String)>,
}

/// One aport.
#[derive(Debug, Clone, Serialize)]
pub struct AportResult {
    pub aport: String,
    pub native_seconds: f64,
    pub packages: Vec<PackageResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What the native side was given differently (a substitute's adapted source).
    pub notes: Vec<String>,
}

/// Builds each aport both ways and compares; writes `build/<arch>/verify-native.json`
/// and fails when a difference is not explained.
pub fn run(cx: &mut Context, o: &Options) -> Result<Vec<AportResult>> {
    let stages = Stages::load(&cx.layout)?;
    let set = stages.set(&o.set)?;
    let env = crate::stages::bootstrap::use_set(cx, set, &o.set)?;
    cx.engine.keep_going = o.keep_going;
    let cx: &Context = cx;
    let arch = cx.arches.get(&o.arch)?.clone();
    let checkout = checkout(cx, o.aports.as_deref(), &stages.aports)?;
    let extra: Vec<PathBuf> = set.sources.iter().map(|f| cx.layout.repo.join(f)).collect();
    let mut settings = BuildSettings::new(cx, set.bootstrap.clone(), env, &extra)?;
    let abuild = locate(&checkout, &stages.aports.repos, "abuild");
    settings.use_abuild_aport(cx, &arch, abuild.as_deref())?;
    let explained = load_explained(cx)?;
    let tarball = match &o.tarball {
        Some(t) => t.clone(),
        None => Profile::Buildroot.newest_tarball(cx, &arch)?,
    };
    ensure_binfmt(&arch)?;
    let mut results = Vec::new();
    let names = if o.names.is_empty() {
        set.packages.clone()
    } else {
        o.names.clone()
    };
    for name in &names {
        let dir = locate(&checkout, &stages.aports.repos, name)
            .with_context(|| format!("no aport {name} in {}", checkout.display()))?;
        let r = one_aport(cx, &arch, &dir, &settings, &tarball, &explained);
        let r = r.unwrap_or_else(|e| AportResult {
            aport: name.clone(),
            native_seconds: 0.0,
            packages: Vec::new(),
            error: Some(format!("{e:#}")),
            notes: Vec::new(),
        });
        print_aport(&r);
        let failed = r.error.is_some();
        results.push(r);
        if failed && !o.keep_going {
            break;
        }
    }
    let report = cx.layout.build.join(&arch.name).join("verify-native.json");
    std::fs::create_dir_all(report.parent().expect("under build/"))?;
    std::fs::write(&report, serde_json::to_vec_pretty(&results)?)?;
    summarize(&results, &report)?;
    Ok(results)
}

fn load_explained(cx: &Context) -> Result<Vec<Explained>> {
    let p = cx.layout.stages_data().join("verify-native.toml");
    let f: ExplainedFile = crate::config::load(&p)?;
    Ok(f.explained)
}

/// One aport: the cross build (cached when the bootstrap made it), the native build in
/// a fresh copy of the build root, and the comparison of every package.
fn one_aport(
    cx: &Context,
    arch: &Arch,
    dir: &Path,
    settings: &BuildSettings,
    tarball: &Path,
    explained: &[Explained],
) -> Result<AportResult> {
    let a = evaluate(cx, arch, dir, settings)?;
    let name = a.name();
    eprintln!("{name}: the cross build (alpinist)");
    let outs = packages::build_aport_outputs(cx, &arch.name, &[dir.to_path_buf()], settings)?;
    let cross = apks_in(&outs)?;
    eprintln!("{name}: the native build (abuild in the build root)");
    let work = cx.layout.build.join(&arch.name).join("native").join(&name);
    if work.exists() {
        crate::fsutil::remove_dir_all_writable(&work)?;
    }
    let root = work.join("root");
    std::fs::create_dir_all(&root)?;
    unpack(tarball, &root)?;
    let notes = stage(cx, &a, settings, &root)?;
    let t = Instant::now();
    native_build(cx, arch, &a, &root, &work.join("abuild.log"))?;
    let native_seconds = t.elapsed().as_secs_f64();
    let native = apks_in(&[root.join("root/packages")])?;
    let mut packages = Vec::new();
    let names: BTreeSet<&String> = cross.keys().chain(native.keys()).collect();
    for p in names {
        packages.push(match (cross.get(p), native.get(p)) {
            (Some(c), Some(n)) => {
                let diffs = compare::compare(p, &std::fs::read(c)?, &std::fs::read(n)?)?;
                let identical = diffs.is_empty();
                let (mut unexplained, mut why) = (Vec::new(), Vec::new());
                for d in diffs {
                    match explained.iter().find(|e| e.matches(&d)) {
                        Some(e) => why.push((d, e.why.clone())),
                        None => unexplained.push(d),
                    }
                }
                PackageResult {
                    package: p.clone(),
                    only: None,
                    identical,
                    unexplained,
                    explained: why,
                }
            }
            (c, _) => PackageResult {
                package: p.clone(),
                only: Some(if c.is_some() { "cross" } else { "native" }.into()),
                identical: false,
                unexplained: Vec::new(),
                explained: Vec::new(),
            },
        });
    }
    Ok(AportResult {
        aport: name,
        native_seconds,
        packages,
        error: None,
        notes,
    })
}

/// The aport's copy (as alpinist built it: patched, or at its pinned revision) into the
/// root's `/root/aports/<repo>/<name>`, and the source files alpinist built from into the
/// root's distfiles. Where a documented substitute stood in, the native build gets the
/// same adapted file and the copy's sha512sums names its checksum: both builds start
/// from the same bytes.
fn stage(cx: &Context, a: &Aport, settings: &BuildSettings, root: &Path) -> Result<Vec<String>> {
    let dest = root.join("root/aports").join(&a.repo).join(a.name());
    std::fs::create_dir_all(&dest)?;
    crate::fsutil::copy_tree(&a.dir, &dest)?;
    let distfiles = root.join("var/cache/distfiles");
    std::fs::create_dir_all(&distfiles)?;
    let mut apkbuild = std::fs::read_to_string(dest.join("APKBUILD"))?;
    let mut notes = Vec::new();
    let say = |m: &str| eprintln!("  {m}");
    for s in &a.recipe.sources {
        let Some(url) = &s.url else { continue };
        let got = packages::fetch::resolve_remote(cx, settings, &a.recipe.path, s, url, &say)?;
        std::fs::copy(&got.path, distfiles.join(&s.name))?;
        if let Some(sub) = &got.used.substitute {
            apkbuild = apkbuild.replace(&s.sha512, &sub.adapted_sha512);
            notes.push(format!(
                "{}: the adapted substitute {} for both builds (its sha512 in the native copy's sha512sums)",
                s.name, sub.file
            ));
        }
    }
    std::fs::write(dest.join("APKBUILD"), apkbuild)?;
    Ok(notes)
}

/// `abuild -F -r` of the staged aport in the root, natively (under qemu-user where the
/// machine does not run the arch), with the cross build's SOURCE_DATE_EPOCH.
fn native_build(cx: &Context, arch: &Arch, a: &Aport, root: &Path, log: &Path) -> Result<()> {
    let binds = repo_binds(cx, arch)?;
    let jobs = cx.jobs;
    let script = format!(
        "export USER=root LOGNAME=root SRCDEST=/var/cache/distfiles REPODEST=/root/packages JOBS={jobs} MAKEFLAGS=-j{jobs} SUDO= SUDO_APK=apk SOURCE_DATE_EPOCH={epoch}; abuild-keygen -a -i -n >/dev/null 2>&1 && cd /root/aports/{repo}/{name} && abuild -F -r",
        epoch = a.source_date_epoch,
        repo = a.repo,
        name = a.name()
    );
    let out = in_root(arch, root, &binds, true, &["/bin/sh", "-c", &script])
        .output()
        .with_context(|| format!("running abuild in {}", root.display()))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(log, &text)?;
    if !out.status.success() {
        bail!(
            "abuild -F -r of {} failed in the build root ({}; log {}):\n{}",
            a.name(),
            out.status,
            log.display(),
            crate::exec::tail_str(&text, 15)
        );
    }
    Ok(())
}

/// Every `.apk` under `dirs`, by package name.
fn apks_in(dirs: &[PathBuf]) -> Result<std::collections::BTreeMap<String, PathBuf>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack: Vec<PathBuf> = dirs.to_vec();
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).with_context(|| d.display().to_string())? {
            let p = e?.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "apk") {
                let bytes = std::fs::read(&p)?;
                let pkg = alpinist_apk::package::Package::parse(&bytes)
                    .with_context(|| p.display().to_string())?;
                out.insert(pkg.pkginfo.pkgname.clone(), p);
            }
        }
    }
    Ok(out)
}

fn print_aport(r: &AportResult) {
    if let Some(e) = &r.error {
        println!("{:<16} FAILED  {}", r.aport, e.lines().next().unwrap_or(""));
        return;
    }
    println!(
        "{:<16} native build {}",
        r.aport,
        crate::exec::progress::hms(std::time::Duration::from_secs_f64(r.native_seconds))
    );
    for p in &r.packages {
        let state = match (&p.only, p.identical) {
            (Some(side), _) => format!("only in the {side} build"),
            (None, true) => "identical".into(),
            (None, false) if p.unexplained.is_empty() => {
                format!("{} explained differences", p.explained.len())
            }
            (None, false) => format!(
                "{} UNEXPLAINED, {} explained",
                p.unexplained.len(),
                p.explained.len()
            ),
        };
        println!("  {:<24} {state}", p.package);
        for d in &p.unexplained {
            println!(
                "    {} {}: cross {:?}, native {:?}",
                d.kind, d.key, d.cross, d.native
            );
        }
    }
}

/// The totals; an error when an aport failed or a difference is not explained.
fn summarize(results: &[AportResult], report: &Path) -> Result<()> {
    let pkgs: Vec<&PackageResult> = results.iter().flat_map(|r| &r.packages).collect();
    let identical = pkgs.iter().filter(|p| p.identical).count();
    let unexplained: usize = pkgs.iter().map(|p| p.unexplained.len()).sum();
    let only = pkgs.iter().filter(|p| p.only.is_some()).count();
    let failed = results.iter().filter(|r| r.error.is_some()).count();
    println!(
        "{} packages of {} aports: {identical} byte-identical, {} with differences ({unexplained} unexplained), {only} made by one side only; {failed} aports failed; report {}",
        pkgs.len(),
        results.len(),
        pkgs.len() - identical - only,
        report.display()
    );
    if failed > 0 || unexplained > 0 || only > 0 {
        bail!("verify-native: {failed} aports failed, {unexplained} differences unexplained, {only} packages made by one side only");
    }
    Ok(())
}
