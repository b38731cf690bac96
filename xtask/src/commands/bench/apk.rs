//! `cargo xtask bench apk-index`: how fast the `alpinist-apk` library writes an index
//! (`apk-install` is in [`super::apk_install`]).
//!
//! It generates small but real packages with
//! [`PackageBuilder`](alpinist_apk::package::PackageBuilder) (signed, with directories,
//! files, dependencies and provides) into `--dir` (default `build/bench/`, the file system
//! the project builds on), removed afterwards unless `--keep`, or indexes the real packages
//! of `--packages-dir`, and times `apk index --sign`: read and check every package, write
//! and sign `APKINDEX.tar.gz`. With `--apk APK` it also times `cargo xtask apk index` and
//! apk-tools' `apk index` side by side, as processes on the same files.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use clap::Args;

use alpinist_apk::index::ApkIndex;
use alpinist_apk::package::Signer;
use alpinist_apk::pkginfo::PkgInfo;
use alpinist_apk::tarball::Header;

use crate::commands::bench::apk_data::{
    binary, build, dir, file, finish, human, ms, scratch_dir, signer, text, Rng, Stats, EPOCH,
    WORDS,
};
use crate::commands::bench::measure::self_cpu;
use crate::context::Context;
use crate::exec::Cmd;

/// The arch of every generated package.
pub(super) const ARCH: &str = "x86_64";

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

/// Runs `cmd` and returns how long it took; fails unless it succeeds.
fn timed(cmd: &Cmd) -> Result<Duration> {
    let t = Instant::now();
    let out = cmd.output()?;
    let d = t.elapsed();
    if !out.status.success() {
        bail!(
            "`{}` failed ({}): {}",
            cmd.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim_end()
        );
    }
    Ok(d)
}

/// The records of an index as (C:, P:, V:), sorted.
fn records(p: &Path) -> Result<Vec<(String, String, String)>> {
    let mut v: Vec<_> = ApkIndex::read(p)?
        .packages
        .into_iter()
        .map(|r| (r.checksum, r.name, r.version))
        .collect();
    v.sort();
    Ok(v)
}

/// `cargo xtask apk index` (this binary) and apk-tools' `apk index`, as processes on the
/// same files, alternating; both indexes must list the same records (C:, P:, V:).
fn side_by_side(apk: &Path, files: &[PathBuf], dir: &Path, runs: usize) -> Result<()> {
    let ours_out = dir.join("alpinist.APKINDEX.tar.gz");
    let theirs_out = dir.join("apk-tools.APKINDEX.tar.gz");
    let me = std::env::current_exe()?;
    let apk = apk.display().to_string();
    let version = Cmd::new(&apk).arg("--version").output()?;
    let ours_cmd = Cmd::new(me.display().to_string())
        .args(["apk", "index", "-o"])
        .arg(&ours_out)
        .args(files);
    let theirs_cmd = Cmd::new(&apk)
        .args(["index", "--allow-untrusted", "-o"])
        .arg(&theirs_out)
        .args(files);
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        ours.push(timed(&ours_cmd)?);
        theirs.push(timed(&theirs_cmd)?);
    }
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
pub(super) fn version(i: usize) -> String {
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
