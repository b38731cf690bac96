//! `cargo xtask bench apk-index|apk-install`: throughput of the `alpinist-apk` library.
//!
//! Both generate small but real packages with [`PackageBuilder`] (signed, with directories,
//! files, symlinks, a hard link, dependencies and provides) into `--dir` (default
//! `build/bench/`, the file system the project builds on), removed afterwards unless `--keep`.
//!
//! - `apk-index` times `apk index --sign`: read and check every package, write and sign
//!   `APKINDEX.tar.gz`.
//! - `apk-install` times `apk add --initdb` of one world entry that pulls in every package
//!   (open and verify the index, solve, check and plan each package, write the root and the
//!   database), then `cp -r` of the installed tree as the file-system baseline. CPU time is
//!   split into user (the library) and system (the kernel's file-system work); time spent
//!   waiting for a CPU (other processes, such as a concurrent build) is reported apart from
//!   time blocked on I/O.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use clap::Args;

use alpinist_apk::db::ScriptKind;
use alpinist_apk::index::{ApkIndex, Repository};
use alpinist_apk::install::{self, Transaction, Trust};
use alpinist_apk::package::{PackageBuilder, Signer};
use alpinist_apk::pkginfo::PkgInfo;
use alpinist_apk::sign::{self, Keyring, PrivateKey, SigAlg};
use alpinist_apk::solver::{self, Action, Solver};
use alpinist_apk::tarball::{EntryType, Header};

use crate::bench::{self_cpu, Cpu};
use crate::context::Context;

/// The key the library's tests use; a fresh one is generated when it is absent.
const TEST_KEY: &str = "/work/shared/testdata/alpine/testkey-62a9ada3.rsa";
/// `SOURCE_DATE_EPOCH` of every generated package and of the index.
const EPOCH: u64 = 1_700_000_000;
const ARCH: &str = "x86_64";

#[derive(Args, Debug, Clone)]
pub struct IndexArgs {
    /// How many packages to index
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub packages: usize,
    /// How many times to write the index
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub runs: usize,
    /// Keep the generated packages (<DIR>/apk-index-*)
    #[arg(long)]
    pub keep: bool,
    /// Where to work [default: build/bench]
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Index the .apk files in DIR (real packages) instead of generated ones
    #[arg(long, value_name = "DIR")]
    pub packages_dir: Option<PathBuf>,
    /// Also time this apk-tools binary (`APK index --allow-untrusted -o OUT FILES`) side by
    /// side with `cargo xtask apk index -o OUT FILES`, both as processes
    #[arg(long, value_name = "APK")]
    pub apk: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct InstallArgs {
    /// How many packages to install (all pulled in by one world entry)
    #[arg(long, value_name = "N", default_value_t = 200)]
    pub packages: usize,
    /// How many fresh roots to install into (and `cp -r` baselines to take)
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub runs: usize,
    /// Keep the repository and the roots (<DIR>/apk-install-*)
    #[arg(long)]
    pub keep: bool,
    /// Where to work (e.g. /dev/shm to take the disk out) [default: build/bench]
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Add a package holding one file of N MiB of zeros (streamed, never in memory)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub big_file_mib: u64,
}

// ---------------------------------------------------------------------------------------------
// apk-index
// ---------------------------------------------------------------------------------------------

pub fn index(cx: &Context, a: &IndexArgs) -> Result<()> {
    if a.packages == 0 {
        bail!("--packages must be at least 1");
    }
    let dir = scratch_dir(cx, a.dir.as_deref(), "apk-index")?;
    let repo = dir.join(ARCH);
    std::fs::create_dir_all(&repo)?;
    let (signer, keys) = signer(&dir)?;
    println!(
        "bench apk-index: key {}, in {}",
        signer.key_name,
        dir.display()
    );

    let files = match &a.packages_dir {
        Some(d) => existing_packages(d)?,
        None => generate_index_packages(a.packages, &repo, &signer)?,
    };
    let n_packages = files.len();

    let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let out = repo.join("APKINDEX.tar.gz");
    let mut times = Vec::new();
    let mut phases = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let cpu0 = self_cpu();
    for _ in 0..a.runs.max(1) {
        let t = Instant::now();
        let idx = ApkIndex::from_package_files(Some("bench".into()), &paths, None)?;
        let read = t.elapsed();
        let bytes = idx.to_bytes(EPOCH, Some(&signer))?;
        let write = t.elapsed();
        std::fs::write(&out, &bytes).with_context(|| out.display().to_string())?;
        let total = t.elapsed();
        phases.0 += read;
        phases.1 += write - read;
        phases.2 += total - write;
        times.push(total);
    }
    let cpu = self_cpu() - cpu0;
    let wall: Duration = times.iter().sum();

    // The result must be a good, signed index of every package.
    let idx = ApkIndex::read(&out)?;
    idx.verify_signature(&keys)?;
    if idx.packages.len() != n_packages {
        bail!(
            "the index has {} records, not {}",
            idx.packages.len(),
            n_packages
        );
    }

    let s = Stats::new(&mut times);
    let n = n_packages as f64;
    println!(
        "index --sign: {} runs, min {:.1} ms, median {:.1} ms, max {:.1} ms",
        times.len(),
        ms(s.min),
        ms(s.median),
        ms(s.max)
    );
    println!(
        "  = {:.0} packages/s (median), {:.0} packages/s (best); {} index",
        n / s.median.as_secs_f64(),
        n / s.min.as_secs_f64(),
        human(std::fs::metadata(&out)?.len())
    );
    let runs = times.len() as f64;
    println!(
        "  per run: read+check packages {:.1} ms, text+gzip+sign {:.1} ms, write {:.1} ms",
        ms(phases.0) / runs,
        ms(phases.1) / runs,
        ms(phases.2) / runs
    );
    println!(
        "  CPU {:.2} s (user {:.2} s, sys {:.2} s) over {:.2} s wall",
        cpu.user + cpu.sys,
        cpu.user,
        cpu.sys,
        wall.as_secs_f64()
    );
    if let Some(apk) = &a.apk {
        side_by_side(apk, &files, &dir, a.runs.max(5))?;
    }
    finish(&dir, a.keep)
}

/// The `.apk` files directly in `dir`, sorted.
fn existing_packages(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| dir.display().to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "apk"))
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("{}: no .apk files", dir.display());
    }
    let bytes: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    println!(
        "{} packages ({}) from {}",
        files.len(),
        human(bytes),
        dir.display()
    );
    Ok(files)
}

fn generate_index_packages(n: usize, repo: &Path, signer: &Signer) -> Result<Vec<PathBuf>> {
    let t0 = Instant::now();
    let mut files = Vec::with_capacity(n);
    let mut bytes = 0u64;
    for i in 0..n {
        let (name, info, entries) = index_package(i);
        let pkg = build(info, entries, signer)?;
        bytes += pkg.len() as u64;
        let path = repo.join(format!("{name}.apk"));
        std::fs::write(&path, pkg).with_context(|| path.display().to_string())?;
        files.push(path);
    }
    let gen = t0.elapsed();
    println!(
        "generate: {n} signed packages ({}) in {:.2} s = {:.0} packages/s",
        human(bytes),
        gen.as_secs_f64(),
        n as f64 / gen.as_secs_f64()
    );
    Ok(files)
}

/// `cargo xtask apk index` (this binary) and apk-tools' `apk index`, as processes on the
/// same files, alternating; both indexes must list the same records (C:, P:, V:).
fn side_by_side(apk: &Path, files: &[PathBuf], dir: &Path, runs: usize) -> Result<()> {
    let ours_out = dir.join("alpinist.APKINDEX.tar.gz");
    let theirs_out = dir.join("apk-tools.APKINDEX.tar.gz");
    let me = std::env::current_exe()?;
    let version = Command::new(apk).arg("--version").output()?;
    let timed = |cmd: &mut Command| -> Result<Duration> {
        let t = Instant::now();
        let out = cmd.output().with_context(|| format!("{cmd:?}"))?;
        let d = t.elapsed();
        if !out.status.success() {
            bail!(
                "{cmd:?}: {}",
                String::from_utf8_lossy(&out.stderr).trim_end()
            );
        }
        Ok(d)
    };
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        ours.push(timed(
            Command::new(&me)
                .args(["apk", "index", "-o"])
                .arg(&ours_out)
                .args(files),
        )?);
        theirs.push(timed(
            Command::new(apk)
                .args(["index", "--allow-untrusted", "-o"])
                .arg(&theirs_out)
                .args(files),
        )?);
    }
    let records = |p: &Path| -> Result<Vec<(String, String, String)>> {
        let mut v: Vec<_> = ApkIndex::read(p)?
            .packages
            .into_iter()
            .map(|r| (r.checksum, r.name, r.version))
            .collect();
        v.sort();
        Ok(v)
    };
    if records(&ours_out)? != records(&theirs_out)? {
        bail!("the two indexes list different packages");
    }
    let (o, t) = (Stats::new(&mut ours), Stats::new(&mut theirs));
    println!(
        "side by side, {} packages, {runs} runs each (processes; apk-tools: {}):",
        files.len(),
        String::from_utf8_lossy(&version.stdout).trim()
    );
    println!(
        "  alpinist  (cargo xtask apk index):              min {:.1} ms, median {:.1} ms",
        ms(o.min),
        ms(o.median)
    );
    println!(
        "  apk-tools (apk index --allow-untrusted):        min {:.1} ms, median {:.1} ms",
        ms(t.min),
        ms(t.median)
    );
    println!(
        "  alpinist / apk-tools: {:.2}x (median), {:.2}x (min); both list the same {} records",
        o.median.as_secs_f64() / t.median.as_secs_f64(),
        o.min.as_secs_f64() / t.min.as_secs_f64(),
        files.len()
    );
    Ok(())
}

/// A package for the index benchmark: a few small files, varied names and versions,
/// dependencies on earlier packages (names, versions, `so:` and `cmd:`), and provides.
fn index_package(i: usize) -> (String, PkgInfo, Vec<(Header, Vec<u8>)>) {
    let (name, so, cmd) = index_names(i);
    let version = version(i);
    let mut rng = Rng::new(i as u64);
    let mut depends = Vec::new();
    if i > 0 {
        for k in 0..(i % 4) {
            let j = rng.below(i as u64) as usize;
            let (dep, dep_so, dep_cmd) = index_names(j);
            depends.push(match k {
                0 => dep,
                1 => format!("{dep}>=0.1"),
                2 => dep_so,
                _ => dep_cmd,
            });
        }
    }
    if i % 11 == 5 {
        depends.push("!conflicting-thing".into());
    }
    let info = PkgInfo {
        generator: Some("abuild 3.12.0-r0".into()),
        pkgname: name.clone(),
        pkgver: version.clone(),
        pkgdesc: format!("{} for {} benchmarks", WORDS[i % WORDS.len()], name),
        url: format!("https://example.org/{name}"),
        builddate: EPOCH - i as u64,
        packager: "Bench <bench@example.org>".into(),
        arch: ARCH.into(),
        origin: SUFFIX
            .iter()
            .filter(|s| !s.is_empty())
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(&name)
            .into(),
        commit: Some(format!("{:040x}", rng.next() as u128 * 0x1_0000_0001)),
        maintainer: Some("Bench <bench@example.org>".into()),
        license: ["MIT", "GPL-2.0-or-later", "BSD-3-Clause", "Apache-2.0"][i % 4].into(),
        depends,
        provides: vec![format!("{so}={version}"), format!("{cmd}={version}")],
        ..PkgInfo::default()
    };
    let doc = format!("usr/share/doc/{name}");
    let mut entries = vec![
        dir("etc"),
        dir("usr"),
        dir("usr/bin"),
        dir("usr/share"),
        dir("usr/share/doc"),
        dir(&doc),
        file(&format!("etc/{name}.conf"), 0o644, text(&mut rng, 200)),
        file(&format!("usr/bin/{name}"), 0o755, binary(&mut rng, 2048)),
        file(&format!("{doc}/README"), 0o644, text(&mut rng, 600)),
    ];
    entries.sort_by(|a, b| a.0.path.as_bytes().cmp(b.0.path.as_bytes()));
    (format!("{name}-{version}"), info, entries)
}

const PREFIX: [&str; 6] = ["", "lib", "py3-", "perl-", "lua5.4-", "ruby-"];
const SUFFIX: [&str; 5] = ["", "-dev", "-doc", "-libs", "-openrc"];

/// The name, `so:` and `cmd:` provides of package `i` of the index benchmark. Every 20th
/// package is a second version of the previous name.
fn index_names(i: usize) -> (String, String, String) {
    let base = if i % 20 == 19 { i - 1 } else { i };
    let name = format!(
        "{}{}{}{}",
        PREFIX[base % PREFIX.len()],
        WORDS[(base / 3) % WORDS.len()],
        base,
        SUFFIX[(base / 7) % SUFFIX.len()]
    );
    let so = format!("so:lib{}.so.{}", name, i % 3 + 1);
    let cmd = format!("cmd:{name}");
    (name, so, cmd)
}

/// Varied apk versions: suffixes, letters, several release numbers.
fn version(i: usize) -> String {
    const SUF: [&str; 6] = ["", "_rc1", "_p2", "a", "_git20240101", "_beta3"];
    format!(
        "{}.{}.{}{}-r{}",
        i % 7,
        (i / 7) % 13,
        i % 23,
        SUF[i % SUF.len()],
        i % 4
    )
}

// ---------------------------------------------------------------------------------------------
// apk-install
// ---------------------------------------------------------------------------------------------

pub fn install(cx: &Context, a: &InstallArgs) -> Result<()> {
    if a.packages == 0 {
        bail!("--packages must be at least 1");
    }
    let dir = scratch_dir(cx, a.dir.as_deref(), "apk-install")?;
    let repo_dir = dir.join("repo");
    let arch_dir = repo_dir.join(ARCH);
    let keys_dir = dir.join("keys");
    std::fs::create_dir_all(&arch_dir)?;
    std::fs::create_dir_all(&keys_dir)?;
    let (signer, _) = signer(&keys_dir)?;
    println!(
        "bench apk-install: {} packages, key {}, in {}",
        a.packages,
        signer.key_name,
        dir.display()
    );

    let t0 = Instant::now();
    let mut files = Vec::with_capacity(a.packages);
    let mut apk_bytes = 0u64;
    for i in 0..a.packages {
        let (name, info, entries) = install_package(i, a.packages);
        let mut b = PackageBuilder::new(info, EPOCH);
        if i % 10 == 9 {
            b.scripts.push((
                ScriptKind::PostInstall,
                format!("#!/bin/sh\necho {name}\n").into_bytes(),
            ));
        }
        for (h, d) in entries {
            b.push_entry(h, d);
        }
        let pkg = b.build(Some(&signer))?;
        apk_bytes += pkg.len() as u64;
        let path = arch_dir.join(format!("{name}.apk"));
        std::fs::write(&path, pkg).with_context(|| path.display().to_string())?;
        files.push(path);
    }
    if a.big_file_mib > 0 {
        let path = big_file_package(&dir, &arch_dir, a.big_file_mib << 20, &signer)?;
        apk_bytes += std::fs::metadata(&path)?.len();
        files.push(path);
    }
    let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let idx = ApkIndex::from_package_files(Some("bench".into()), &paths, None)?;
    std::fs::write(
        arch_dir.join("APKINDEX.tar.gz"),
        idx.to_bytes(EPOCH, Some(&signer))?,
    )?;
    println!(
        "generate + index: {} signed packages ({}) in {:.2} s",
        files.len(),
        human(apk_bytes),
        t0.elapsed().as_secs_f64()
    );

    let mut runs = Vec::new();
    for k in 0..a.runs.max(1) {
        let root = dir.join(format!("root-{k}"));
        syncfs(&dir);
        let r = install_once(&root, &repo_dir, &keys_dir, a.packages, a.big_file_mib > 0)?;
        runs.push(r);
    }
    let root0 = dir.join("root-0");
    let tree = tree_size(&root0);
    let mut cps = Vec::new();
    for k in 0..a.runs.max(1) {
        let dest = dir.join(format!("cp-{k}"));
        syncfs(&dir);
        let c0 = self_cpu();
        let t = Instant::now();
        let st = Command::new("cp")
            .arg("-r")
            .arg(&root0)
            .arg(&dest)
            .status()?;
        let wall = t.elapsed();
        if !st.success() {
            bail!("cp -r failed ({st})");
        }
        let c = self_cpu() - c0;
        let t = Instant::now();
        syncfs(&dest);
        cps.push((wall, c.child_user + c.child_sys, t.elapsed()));
    }

    println!(
        "installed tree: {} regular files ({} hard links), {} dirs, {} symlinks, {} in files",
        tree.files,
        tree.hardlinks,
        tree.dirs,
        tree.symlinks,
        human(tree.bytes)
    );
    println!(
        "{:>4} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>9} {:>7} {:>9}",
        "run",
        "open",
        "solve",
        "check",
        "commit",
        "wall",
        "user",
        "sys",
        "runq",
        "blocked",
        "written",
        "syncfs",
        "peak RSS"
    );
    let msf = |secs: f64| format!("{:.0}ms", secs * 1e3);
    for (k, r) in runs.iter().enumerate() {
        println!(
            "{:>4} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>9} {:>7} {:>9}",
            k,
            msf(r.open.as_secs_f64()),
            msf(r.solve.as_secs_f64()),
            msf(r.check.as_secs_f64()),
            msf(r.commit.as_secs_f64()),
            msf(r.wall.as_secs_f64()),
            msf(r.cpu.user),
            msf(r.cpu.sys),
            msf(r.runq),
            msf(r.blocked()),
            human(r.wchar),
            msf(r.flush.as_secs_f64()),
            human(r.peak_rss),
        );
    }
    let mut walls: Vec<Duration> = runs.iter().map(|r| r.wall).collect();
    let s = Stats::new(&mut walls);
    let best = runs.iter().min_by_key(|r| r.wall).expect("one run");
    let mb = tree.bytes as f64 / 1e6;
    println!(
        "install: min {:.0} ms, median {:.0} ms; {:.1} MB/s of file content ({:.0} packages/s, {:.0} files/s) at the median",
        ms(s.min),
        ms(s.median),
        mb / s.median.as_secs_f64(),
        a.packages as f64 / s.median.as_secs_f64(),
        tree.files as f64 / s.median.as_secs_f64()
    );
    println!(
        "  write() {}, storage-layer writes {} (best run)",
        human(best.wchar),
        human(best.write_bytes)
    );
    let peak = runs.iter().map(|r| r.peak_rss).max().unwrap_or(0);
    let base = runs.iter().map(|r| r.base_rss).max().unwrap_or(0);
    println!(
        "  peak RSS during install: {} (the process held {} before it){}",
        human(peak),
        human(base),
        if a.big_file_mib > 0 {
            format!(", with a {} MiB file in one package", a.big_file_mib)
        } else {
            String::new()
        }
    );
    let mut cp_walls: Vec<Duration> = cps.iter().map(|c| c.0).collect();
    let cs = Stats::new(&mut cp_walls);
    println!(
        "cp -r of the installed tree: min {:.0} ms, median {:.0} ms ({:.1} MB/s); cp CPU {:.0} ms; syncfs after {:.0} ms",
        ms(cs.min),
        ms(cs.median),
        mb / cs.median.as_secs_f64(),
        cps.iter().map(|c| c.1).fold(f64::INFINITY, f64::min) * 1e3,
        cps.iter().map(|c| ms(c.2)).fold(f64::INFINITY, f64::min),
    );
    // Shares of the time the run would take alone: the run-queue wait is other processes
    // (such as a concurrent build) holding the CPUs.
    // Best against best: the least disturbed by other processes on either side.
    let ratio = s.min.as_secs_f64() / cs.min.as_secs_f64();
    let alone = (best.wall.as_secs_f64() - best.runq).max(1e-9);
    let (user, sys, blocked) = (
        best.cpu.user / alone,
        best.cpu.sys / alone,
        best.blocked() / alone,
    );
    println!(
        "best run without its run-queue wait ({:.0} ms): library code (user) {:.0} %, kernel file-system work (sys) {:.0} %, blocked {:.0} %; install / cp -r (best runs) = {ratio:.1}x",
        best.runq * 1e3,
        100.0 * user,
        100.0 * sys,
        100.0 * blocked
    );
    println!(
        "=> {}",
        if ratio <= 1.5 {
            "bound by the file system: within 1.5x of cp -r of the same tree"
        } else if blocked >= 0.3 {
            "waiting on the disk"
        } else if user >= 0.5 {
            "CPU-bound in the library (its user time is most of the time)"
        } else {
            "CPU-bound, shared between the library (user) and the kernel's file-system work (sys)"
        }
    );
    finish(&dir, a.keep)
}

/// One measured `apk add --initdb` into a fresh root.
struct InstallRun {
    open: Duration,
    solve: Duration,
    check: Duration,
    commit: Duration,
    wall: Duration,
    flush: Duration,
    cpu: Cpu,
    /// Seconds spent runnable but waiting for a CPU.
    runq: f64,
    wchar: u64,
    write_bytes: u64,
    /// Resident set size when the install started, and its peak during the install.
    base_rss: u64,
    peak_rss: u64,
}

impl InstallRun {
    /// Seconds neither on a CPU nor waiting for one: blocked on I/O (or anything else).
    fn blocked(&self) -> f64 {
        (self.wall.as_secs_f64() - self.cpu.user - self.cpu.sys - self.runq).max(0.0)
    }
}

/// What `cargo xtask apk add --initdb --root ROOT --arch x86_64 --keys-dir KEYS -X REPO
/// bench-0` does, in phases.
fn install_once(
    root: &Path,
    repo: &Path,
    keys_dir: &Path,
    n: usize,
    big: bool,
) -> Result<InstallRun> {
    let base_rss = reset_peak_rss();
    let io0 = self_io();
    let runq0 = self_runq();
    let cpu0 = self_cpu();
    let t0 = Instant::now();
    std::fs::create_dir_all(root)?;
    install::init_root(root, ARCH)?;
    let mut keys = Keyring::new();
    keys.load_dir(keys_dir)?;
    let r = Repository::open(repo, ARCH, &keys)?;
    if !r.trusted {
        bail!("the benchmark index does not verify");
    }
    let open = t0.elapsed();

    let db = install::read_database(root)?;
    let world = install::read_world(root)?;
    let opts = solver::Options {
        arches: vec![ARCH.to_string()],
        ..solver::Options::default()
    };
    let repos = vec![solver::Repository::new(
        r.path.display().to_string(),
        r.index.packages.clone(),
    )];
    let solver = Solver::with_options(repos, &db, &world, opts);
    let first = install_names(0).0;
    let mut args = vec![first.as_str()];
    if big {
        args.push(BIG_PACKAGE);
    }
    let plan = solver
        .add_args(&args, &solver::AddOptions::default())
        .map_err(|e| anyhow::anyhow!("{}", e.output().trim_end()))?;
    let n = n + usize::from(big);
    if plan.changes.len() != n {
        bail!(
            "the solver planned {} changes, not {n}:\n{}",
            plan.changes.len(),
            plan.output()
        );
    }
    let solve = t0.elapsed() - open;

    let mut tx = Transaction::new(root, db)?;
    tx.install_keys(keys_dir)?;
    for change in &plan.changes {
        if change.action == Action::Remove {
            bail!("unexpected removal of {}", change.name);
        }
        let Some(new) = &change.new else { continue };
        tx.add_file(&r.package_path(new), Trust::Index(new))?;
    }
    let check = t0.elapsed() - open - solve;
    tx.set_world(&plan.world);
    tx.set_repositories(&[r.path.display().to_string()]);
    tx.commit()?;
    let wall = t0.elapsed();
    let commit = wall - open - solve - check;
    let cpu = self_cpu() - cpu0;
    let runq = self_runq() - runq0;
    let io = self_io();
    let t = Instant::now();
    syncfs(root);
    Ok(InstallRun {
        open,
        solve,
        check,
        commit,
        wall,
        flush: t.elapsed(),
        cpu,
        runq,
        wchar: io.0.saturating_sub(io0.0),
        write_bytes: io.1.saturating_sub(io0.1),
        base_rss,
        peak_rss: status_kib("VmHWM:") << 10,
    })
}

/// The name of the `--big-file-mib` package.
const BIG_PACKAGE: &str = "bench-bigfile";

/// A signed package holding `usr/share/bench-bigfile/zeros`, `size` bytes of zeros, built
/// from a sparse file without reading it into memory.
fn big_file_package(work: &Path, arch_dir: &Path, size: u64, signer: &Signer) -> Result<PathBuf> {
    let zeros = work.join("zeros");
    std::fs::File::create(&zeros)?.set_len(size)?;
    let info = PkgInfo {
        pkgname: BIG_PACKAGE.into(),
        pkgver: "1.0-r0".into(),
        pkgdesc: "one big file".into(),
        arch: ARCH.into(),
        origin: BIG_PACKAGE.into(),
        builddate: EPOCH,
        license: "MIT".into(),
        ..PkgInfo::default()
    };
    let mut b = PackageBuilder::new(info, EPOCH);
    for d in ["usr", "usr/share", "usr/share/bench-bigfile"] {
        let (h, data) = dir(d);
        b.push_entry(h, data);
    }
    let mut h = header("usr/share/bench-bigfile/zeros", EntryType::Regular, 0o644);
    h.size = size;
    b.push_file(h, zeros.clone());
    let path = arch_dir.join(format!("{BIG_PACKAGE}-1.0-r0.apk"));
    std::fs::write(&path, b.build(Some(signer))?)?;
    std::fs::remove_file(&zeros)?;
    Ok(path)
}

/// A field of /proc/self/status in KiB (`VmRSS:`, `VmHWM:`).
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

/// Resets the peak resident set size (`VmHWM`) to the current one (`echo 5 >
/// /proc/self/clear_refs`) and returns the current one, in bytes.
fn reset_peak_rss() -> u64 {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    status_kib("VmRSS:") << 10
}

/// The name and `so:` provide of package `i` of the install benchmark.
fn install_names(i: usize) -> (String, String) {
    let name = format!("bench-{}{i}", WORDS[i % WORDS.len()]);
    let so = format!("so:lib{name}.so.1");
    (name, so)
}

/// A package for the install benchmark: 20 regular files of 1-8 KiB (one of them also as a
/// hard link), two symlinks, eight directories (five shared with other packages). Package
/// `i` depends on `2i+1` (through its `so:` provide) and `2i+2` (by name and version), so
/// package 0 pulls in all `n`.
fn install_package(i: usize, n: usize) -> (String, PkgInfo, Vec<(Header, Vec<u8>)>) {
    let (name, so) = install_names(i);
    let version = version(i);
    let mut depends = Vec::new();
    if 2 * i + 1 < n {
        depends.push(install_names(2 * i + 1).1);
    }
    if 2 * i + 2 < n {
        depends.push(format!("{}>=0", install_names(2 * i + 2).0));
    }
    let info = PkgInfo {
        generator: Some("abuild 3.12.0-r0".into()),
        pkgname: name.clone(),
        pkgver: version.clone(),
        pkgdesc: format!("install benchmark package {i}"),
        url: "https://example.org/".into(),
        builddate: EPOCH,
        packager: "Bench <bench@example.org>".into(),
        arch: ARCH.into(),
        origin: name.clone(),
        commit: Some(String::new()),
        maintainer: Some("Bench <bench@example.org>".into()),
        license: "MIT".into(),
        depends,
        provides: vec![format!("{so}=1.0"), format!("cmd:{name}={version}")],
        ..PkgInfo::default()
    };
    let mut rng = Rng::new(0x5eed ^ i as u64);
    let share = format!("usr/share/{name}");
    let lib = format!("usr/lib/lib{name}.so.1");
    let mut entries = vec![
        dir("etc"),
        dir(&format!("etc/{name}")),
        dir("usr"),
        dir("usr/bin"),
        dir("usr/lib"),
        dir("usr/share"),
        dir(&share),
        dir(&format!("{share}/data")),
        file(&format!("usr/bin/{name}"), 0o755, binary(&mut rng, 8192)),
        file(&lib, 0o755, binary(&mut rng, 6144)),
        file(
            &format!("etc/{name}/{name}.conf"),
            0o644,
            text(&mut rng, 1024),
        ),
        file(&format!("{share}/README"), 0o644, text(&mut rng, 3072)),
        symlink(&format!("usr/lib/lib{name}.so"), &format!("lib{name}.so.1")),
        symlink(&format!("usr/bin/{name}-alias"), &name),
        hardlink(&format!("usr/bin/{name}-hard"), &format!("usr/bin/{name}")),
    ];
    for k in 0..16 {
        let size = 1024 + rng.below(7 * 1024) as usize;
        let body = if k % 4 == 3 {
            binary(&mut rng, size)
        } else {
            text(&mut rng, size)
        };
        entries.push(file(&format!("{share}/data/file{k:02}.txt"), 0o644, body));
    }
    // Archive order, with the hard link after its target.
    entries.sort_by(|a, b| a.0.path.as_bytes().cmp(b.0.path.as_bytes()));
    (format!("{name}-{version}"), info, entries)
}

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

/// `<DIR>/<what>-<unix time>`; by default `DIR` is `build/bench`, on the same filesystem as
/// the rest of build/.
fn scratch_dir(cx: &Context, dir: Option<&Path>, what: &str) -> Result<PathBuf> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let base = dir.map_or_else(|| cx.layout.build.join("bench"), Path::to_path_buf);
    let dir = base.join(format!("{what}-{stamp}"));
    std::fs::create_dir_all(&dir).with_context(|| dir.display().to_string())?;
    Ok(dir)
}

fn finish(dir: &Path, keep: bool) -> Result<()> {
    if keep {
        println!("kept {}", dir.display());
        Ok(())
    } else {
        crate::step::remove_dir_all_writable(dir)
    }
}

/// The test key (or a new key) as a SHA-1 signer, and a keyring trusting it; the public key
/// is written into `keys_dir`.
fn signer(keys_dir: &Path) -> Result<(Signer, Keyring)> {
    let (pem, name) = match std::fs::read_to_string(TEST_KEY) {
        Ok(pem) => (pem, "testkey-62a9ada3.rsa.pub".to_string()),
        Err(_) => {
            let k = sign::keygen("bench", sign::DEFAULT_KEY_BITS, 0x62a9ada3)?;
            (k.private_pem, k.public_file)
        }
    };
    let key = PrivateKey::from_pem(&pem)?;
    std::fs::create_dir_all(keys_dir)?;
    std::fs::write(keys_dir.join(&name), key.public_key().to_pem()?)?;
    let mut keys = Keyring::new();
    keys.insert(name.clone(), key.public_key());
    Ok((
        Signer {
            key,
            key_name: name,
            alg: SigAlg::Sha1,
        },
        keys,
    ))
}

fn build(info: PkgInfo, entries: Vec<(Header, Vec<u8>)>, signer: &Signer) -> Result<Vec<u8>> {
    let mut b = PackageBuilder::new(info, EPOCH);
    for (h, d) in entries {
        b.push_entry(h, d);
    }
    Ok(b.build(Some(signer))?)
}

fn header(path: &str, t: EntryType, mode: u32) -> Header {
    let mut h = Header::new(path, t);
    h.mode = mode;
    h.uname = "root".into();
    h.gname = "root".into();
    h.mtime = EPOCH;
    h
}

fn dir(path: &str) -> (Header, Vec<u8>) {
    (header(path, EntryType::Directory, 0o755), Vec::new())
}

fn file(path: &str, mode: u32, data: Vec<u8>) -> (Header, Vec<u8>) {
    let mut h = header(path, EntryType::Regular, mode);
    h.size = data.len() as u64;
    (h, data)
}

fn symlink(path: &str, target: &str) -> (Header, Vec<u8>) {
    let mut h = header(path, EntryType::Symlink, 0o777);
    h.link_name = target.into();
    (h, Vec::new())
}

fn hardlink(path: &str, target: &str) -> (Header, Vec<u8>) {
    let mut h = header(path, EntryType::Hardlink, 0o755);
    h.link_name = target.into();
    (h, Vec::new())
}

const WORDS: [&str; 32] = [
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
    "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango",
    "uniform", "victor", "whiskey", "xray", "yankee", "zulu", "zlib", "curl", "musl", "busybox",
    "openssl", "ncurses",
];

/// splitmix64: deterministic content without a dependency.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0xdead_beef)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Text-like content (compresses about 3:1 like documentation and configuration).
fn text(rng: &mut Rng, size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(size + 16);
    while out.len() < size {
        out.extend_from_slice(WORDS[rng.below(WORDS.len() as u64) as usize].as_bytes());
        match rng.below(12) {
            0 => out.push(b'\n'),
            1 => out.extend_from_slice(format!(" {} ", rng.below(100_000)).as_bytes()),
            _ => out.push(b' '),
        }
    }
    out.truncate(size);
    out
}

/// Binary-like content: random bytes mixed with runs of zeros and repeated chunks.
fn binary(rng: &mut Rng, size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(size + 64);
    while out.len() < size {
        let n = 8 + rng.below(56) as usize;
        match rng.below(3) {
            0 => out.extend(std::iter::repeat_n(0u8, n)),
            1 if out.len() > 64 => {
                let from = rng.below((out.len() - n.min(out.len())) as u64) as usize;
                let chunk: Vec<u8> = out[from..(from + n).min(out.len())].to_vec();
                out.extend_from_slice(&chunk);
            }
            _ => out.extend((0..n).map(|_| rng.next() as u8)),
        }
    }
    out.truncate(size);
    out
}

/// Seconds this (single-threaded) process has spent runnable but waiting for a CPU, from
/// /proc/self/schedstat (0 where the kernel does not keep it).
fn self_runq() -> f64 {
    std::fs::read_to_string("/proc/self/schedstat")
        .ok()
        .and_then(|t| t.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0.0, |ns| ns as f64 / 1e9)
}

/// `wchar` (bytes passed to write calls) and `write_bytes` (bytes dirtied for the storage
/// layer) of this process, from /proc/self/io.
fn self_io() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
    let get = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    (get("wchar:"), get("write_bytes:"))
}

/// Flushes the filesystem holding `path` (`sync -f`), so runs start without earlier
/// dirty data and the flush after a run can be timed.
fn syncfs(path: &Path) {
    let _ = Command::new("sync").arg("-f").arg(path).status();
}

#[derive(Default)]
struct Tree {
    files: u64,
    hardlinks: u64,
    dirs: u64,
    symlinks: u64,
    bytes: u64,
}

/// Counts a tree; `bytes` is the content of regular files, each inode once.
fn tree_size(dir: &Path) -> Tree {
    use std::os::unix::fs::MetadataExt;
    let mut t = Tree::default();
    let mut seen = std::collections::HashSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(m) = e.path().symlink_metadata() else {
                continue;
            };
            if m.is_dir() {
                t.dirs += 1;
                stack.push(e.path());
            } else if m.file_type().is_symlink() {
                t.symlinks += 1;
            } else if m.is_file() {
                t.files += 1;
                if seen.insert((m.dev(), m.ino())) {
                    t.bytes += m.len();
                } else {
                    t.hardlinks += 1;
                }
            }
        }
    }
    t
}

struct Stats {
    min: Duration,
    median: Duration,
    max: Duration,
}

impl Stats {
    fn new(v: &mut [Duration]) -> Stats {
        v.sort();
        Stats {
            min: v[0],
            median: v[v.len() / 2],
            max: v[v.len() - 1],
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn human(b: u64) -> String {
    if b >= 10 << 20 {
        format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64)
    } else {
        format!("{:.0} KiB", b as f64 / 1024.0)
    }
}
