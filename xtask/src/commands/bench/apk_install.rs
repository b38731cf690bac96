//! `cargo xtask bench apk-install`: how fast the `alpinist-apk` library installs, and in
//! how much memory.
//!
//! It generates small but real packages with [`PackageBuilder`] (signed, with directories,
//! files, symlinks, a hard link, dependencies and provides; with `--big-file-mib N` also
//! one package holding an N MiB file) and their index into `--dir` (default
//! `build/bench/`), removed afterwards unless `--keep`. It times `apk add --initdb` of one
//! world entry that pulls in every package (open and verify the index, solve, check and
//! plan each package, write the root and the database), then `cp -r` of the installed tree
//! as the file-system baseline. CPU time is split into user (the library) and system (the
//! kernel's file-system work); time spent waiting for a CPU (other processes, such as a
//! concurrent build) is reported apart from time blocked on I/O. The peak resident set
//! size of each install is reported too.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use clap::Args;

use alpinist_apk::db::ScriptKind;
use alpinist_apk::index::{ApkIndex, Repository};
use alpinist_apk::install::{self, Transaction, Trust};
use alpinist_apk::package::{PackageBuilder, Signer};
use alpinist_apk::pkginfo::PkgInfo;
use alpinist_apk::sign::Keyring;
use alpinist_apk::solver::{self, Action, Solver};
use alpinist_apk::tarball::{EntryType, Header};

use crate::commands::bench::apk::{version, ARCH};
use crate::commands::bench::apk_data::{
    binary, dir, file, finish, hardlink, header, human, ms, reset_peak_rss, scratch_dir, self_io,
    self_runq, signer, status_kib, symlink, syncfs, text, tree_size, Rng, Stats, Tree, EPOCH,
    WORDS,
};
use crate::commands::bench::measure::{self_cpu, Cpu};
use crate::context::Context;
use crate::exec::Cmd;

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
    generate_repo(a, &dir, &arch_dir, &signer)?;
    let mut runs = Vec::new();
    for k in 0..a.runs.max(1) {
        let root = dir.join(format!("root-{k}"));
        syncfs(&dir);
        let r = install_once(&root, &repo_dir, &keys_dir, a.packages, a.big_file_mib > 0)?;
        runs.push(r);
    }
    let root0 = dir.join("root-0");
    let tree = tree_size(&root0);
    let cps = time_cp(a, &dir, &root0)?;
    print_runs(&runs, &tree);
    print_summary(a, &runs, &cps, &tree);
    finish(&dir, a.keep)
}

/// The signed packages of the benchmark and their index, in `arch_dir` (`dir` holds the
/// sparse file of `--big-file-mib` while its package is written).
fn generate_repo(a: &InstallArgs, dir: &Path, arch_dir: &Path, signer: &Signer) -> Result<()> {
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
        let pkg = b.build(Some(signer))?;
        apk_bytes += pkg.len() as u64;
        let path = arch_dir.join(format!("{name}.apk"));
        std::fs::write(&path, pkg).with_context(|| path.display().to_string())?;
        files.push(path);
    }
    if a.big_file_mib > 0 {
        let path = big_file_package(dir, arch_dir, a.big_file_mib << 20, signer)?;
        apk_bytes += std::fs::metadata(&path)?.len();
        files.push(path);
    }
    let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let idx = ApkIndex::from_package_files(Some("bench".into()), &paths, None)?;
    std::fs::write(
        arch_dir.join("APKINDEX.tar.gz"),
        idx.to_bytes(EPOCH, Some(signer))?,
    )?;
    println!(
        "generate + index: {} signed packages ({}) in {:.2} s",
        files.len(),
        human(apk_bytes),
        t0.elapsed().as_secs_f64()
    );

    Ok(())
}

/// `cp -r` of the installed tree, as often as the installs ran: (wall, CPU of cp, the
/// flush after it).
fn time_cp(a: &InstallArgs, dir: &Path, root0: &Path) -> Result<Vec<(Duration, f64, Duration)>> {
    let mut cps = Vec::new();
    for k in 0..a.runs.max(1) {
        let dest = dir.join(format!("cp-{k}"));
        syncfs(dir);
        let c0 = self_cpu();
        let t = Instant::now();
        let st = Cmd::new("cp")
            .arg("-r")
            .arg(root0)
            .arg(&dest)
            .status_quiet()?;
        let wall = t.elapsed();
        if !st.success() {
            bail!("cp -r failed ({st})");
        }
        let c = self_cpu() - c0;
        let t = Instant::now();
        syncfs(&dest);
        cps.push((wall, c.child_user + c.child_sys, t.elapsed()));
    }

    Ok(cps)
}

/// One line per install run.
fn print_runs(runs: &[InstallRun], tree: &Tree) {
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
}

/// The medians, `cp -r` beside them, and where the time went.
fn print_summary(
    a: &InstallArgs,
    runs: &[InstallRun],
    cps: &[(Duration, f64, Duration)],
    tree: &Tree,
) {
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
