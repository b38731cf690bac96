//! `cargo xtask bench …`: measurements, not tests.
//!
//! `bench toolchain` builds a toolchain cold, in an empty temporary store (sources come
//! from the distfiles directories as usual), and reports wall time per step and in total,
//! CPU utilisation of the build processes, peak disk use and the installed size. Since
//! keys do not depend on where the store is, the finished outputs are then moved into
//! the real store, so a benchmark run is never wasted work.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::Subcommand;

use crate::context::{Context, Settings};
use crate::layout::Layout;
use crate::progress::hms;
use crate::step::{self, Outcome};
use crate::ArchArgs;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Build the toolchain for an arch from nothing (sources aside) and measure it
    Toolchain(ArchArgs),
    /// Time a fully cached rerun of `toolchain --arch ARCH` (plan, check, link)
    Noop {
        #[command(flatten)]
        arch: ArchArgs,
        /// How many reruns to time
        #[arg(long, default_value_t = 10)]
        runs: usize,
    },
    /// Time writing a signed APKINDEX.tar.gz for N generated packages (apk index --sign)
    ApkIndex(crate::bench_apk::IndexArgs),
    /// Time `apk add --initdb` of N generated packages into a fresh root, against `cp -r`
    ApkInstall(crate::bench_apk::InstallArgs),
}

pub fn run(cx: &Context, what: BenchCommand) -> Result<()> {
    match what {
        BenchCommand::Toolchain(a) => toolchain_cold(cx, &a.arch),
        BenchCommand::Noop { arch, runs } => noop(cx, &arch.arch, runs),
        BenchCommand::ApkIndex(a) => crate::bench_apk::index(cx, &a),
        BenchCommand::ApkInstall(a) => crate::bench_apk::install(cx, &a),
    }
}

fn toolchain_cold(cx: &Context, arch: &str) -> Result<()> {
    cx.arches.get(arch)?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let tmp_cache = cx.layout.build.join("bench").join(format!("cache-{stamp}"));
    let layout = Layout::new(
        cx.layout.repo.clone(),
        Some(tmp_cache.clone()),
        Some(cx.layout.distfiles.clone()),
    );
    // Sources are not part of what is measured: make sure they are all here first.
    for c in cx.components.map.values() {
        cx.fetch(&c.source)?;
    }
    let bcx = Context::new(
        layout.clone(),
        Settings {
            jobs: Some(cx.jobs),
            keep_going: false,
            offline: true,
            mirrors: vec![],
            quiet: false,
        },
    )?;
    bcx.layout.ensure()?;
    let stop = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (stop, peak) = (stop.clone(), peak.clone());
        // statvfs, not a walk of the trees: walking gcc's 100,000 files every few
        // seconds cost a tenth of a core, slowing the very build it measured. The
        // file system's used space minus what was used at the start is this build's
        // (the machine should be otherwise idle, as for any benchmark).
        let dirs = [tmp_cache.clone(), layout.work()];
        let before = fs_used(&dirs);
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let used = fs_used(&dirs).saturating_sub(before);
                peak.fetch_max(used, Ordering::Relaxed);
                std::thread::sleep(Duration::from_secs(1));
            }
        })
    };
    let cpu0 = self_cpu();
    let t0 = Instant::now();
    let result = crate::build_toolchain(&bcx, arch);
    let wall = t0.elapsed();
    let d = self_cpu() - cpu0;
    let cpu = d.child_user + d.child_sys;
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    let link = result?;
    let installed = disk_usage(&std::fs::canonicalize(&link)?);

    let g = crate::toolchain::graph(&bcx, bcx.arches.get(arch)?)?;
    let planned = step::plan(&bcx, &g)?;
    println!(
        "\nbench toolchain --arch {arch} (cold, {} make jobs)",
        cx.jobs
    );
    println!("{:28} {:>10}", "step", "wall");
    for p in &planned {
        let m: Option<step::Manifest> = std::fs::read(p.out.join(step::MANIFEST))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        let secs = m.map(|m| m.duration_secs).unwrap_or(0.0);
        println!("{:28} {:>10}", p.name, hms(Duration::from_secs_f64(secs)));
    }
    println!("{:28} {:>10}", "total", hms(wall));
    println!(
        "CPU: user+sys {:.0} s = {:.0} % of one core over the wall time",
        cpu,
        100.0 * cpu / wall.as_secs_f64()
    );
    println!(
        "peak disk (store + build trees): {}",
        mib(peak.load(Ordering::Relaxed))
    );
    println!("installed toolchain: {}", mib(installed));

    // Keep the work: move finished outputs into the real store.
    let store = cx.layout.store();
    std::fs::create_dir_all(&store)?;
    for p in &planned {
        let dest = store.join(p.out.file_name().expect("named"));
        if !dest.exists() && p.out.is_dir() {
            std::fs::rename(&p.out, &dest)?;
            step::set_last(&store, &p.name, &p.key)?;
        }
    }
    step::remove_dir_all_writable(&tmp_cache)?;
    crate::build_toolchain(cx, arch)?;
    Ok(())
}

fn noop(cx: &Context, arch: &str, runs: usize) -> Result<()> {
    let arch = cx.arches.get(arch)?.clone();
    let g = crate::toolchain::graph(cx, &arch)?;
    let planned = step::plan(cx, &g)?;
    if planned.iter().any(|p| p.status != step::Status::Cached) {
        anyhow::bail!(
            "the toolchain for {} is not fully cached; run `cargo xtask toolchain --arch {}` first",
            arch.name,
            arch.name
        );
    }
    let mut times = Vec::new();
    for _ in 0..runs.max(1) {
        let t0 = Instant::now();
        let g = crate::toolchain::graph(cx, &arch)?;
        let planned = step::plan(cx, &g)?;
        let reports = step::execute(cx, &g, &planned)?;
        assert!(reports.iter().all(|r| r.outcome == Outcome::Cached));
        times.push(t0.elapsed());
    }
    times.sort();
    println!(
        "bench noop toolchain --arch {}: {} runs, min {:.1} ms, median {:.1} ms, max {:.1} ms",
        arch.name,
        times.len(),
        times[0].as_secs_f64() * 1e3,
        times[times.len() / 2].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3
    );
    Ok(())
}

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Cpu {
    pub user: f64,
    pub sys: f64,
    pub child_user: f64,
    pub child_sys: f64,
}

impl std::ops::Sub for Cpu {
    type Output = Cpu;
    fn sub(self, o: Cpu) -> Cpu {
        Cpu {
            user: self.user - o.user,
            sys: self.sys - o.sys,
            child_user: self.child_user - o.child_user,
            child_sys: self.child_sys - o.child_sys,
        }
    }
}

/// CPU seconds of this process and of its waited-for children, from /proc/self/stat.
pub(crate) fn self_cpu() -> Cpu {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    // Fields after the command name start at field 3: utime 14, stime 15, cutime 16, cstime 17.
    let get = |n: usize| {
        f.get(n - 3)
            .and_then(|x| x.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 100.0
    };
    Cpu {
        user: get(14),
        sys: get(15),
        child_user: get(16),
        child_sys: get(17),
    }
}

/// Used bytes of the file systems holding `dirs` (each file system counted once).
fn fs_used(dirs: &[PathBuf]) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut seen = std::collections::BTreeSet::new();
    let mut total = 0u64;
    for d in dirs {
        let Ok(m) = std::fs::metadata(d) else {
            continue;
        };
        if !seen.insert(m.dev()) {
            continue;
        }
        let Ok(c) = std::ffi::CString::new(d.as_os_str().as_encoded_bytes()) else {
            continue;
        };
        // SAFETY: statvfs fills the zeroed struct we pass; the path is NUL-terminated.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        if unsafe { libc::statvfs(c.as_ptr(), &mut st) } == 0 {
            total += (st.f_blocks - st.f_bfree) as u64 * st.f_frsize as u64;
        }
    }
    total
}

/// Bytes allocated on disk under a directory (hard links counted once per walk).
pub fn disk_usage(dir: &Path) -> u64 {
    use std::collections::HashSet;
    use std::os::unix::fs::MetadataExt;
    let mut seen: HashSet<(u64, u64)> = HashSet::new();
    let mut total = 0u64;
    let mut stack: Vec<PathBuf> = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                stack.push(e.path());
            }
            if m.nlink() > 1 && !m.is_dir() && !seen.insert((m.dev(), m.ino())) {
                continue;
            }
            total += m.blocks() * 512;
        }
    }
    total
}

fn mib(b: u64) -> String {
    if b >= 1 << 30 {
        format!("{:.2} GiB", b as f64 / (1u64 << 30) as f64)
    } else {
        format!("{:.0} MiB", b as f64 / (1u64 << 20) as f64)
    }
}
