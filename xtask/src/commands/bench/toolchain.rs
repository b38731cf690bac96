//! `bench toolchain` (a cold build in an empty store) and `bench noop` (a cached rerun).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::commands::bench::measure::{disk_usage, fs_used, machine_cpu, mib};
use crate::context::{Context, Settings};
use crate::engine::{self as step, Outcome};
use crate::exec::progress::hms;
use crate::layout::Layout;

pub fn toolchain_cold(cx: &Context, arch: &str) -> Result<()> {
    cx.arches.get(arch)?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let tmp_cache = cx.layout.build.join("bench").join(format!("cache-{stamp}"));
    let layout = Layout::new(
        cx.layout.repo.clone(),
        Some(cx.layout.build.clone()),
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
    // Machine-wide: the builds run in sandboxes whose CPU our own child times miss.
    let cpu0 = machine_cpu();
    let t0 = Instant::now();
    let result = crate::stages::toolchain::build(&bcx, arch);
    let wall = t0.elapsed();
    let cpu = machine_cpu() - cpu0;
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    let link = result?;
    let installed = disk_usage(&std::fs::canonicalize(&link)?);

    let (g, _) = crate::stages::toolchain::graph(&bcx, bcx.arches.get(arch)?)?;
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
        "CPU (machine-wide user+sys): {:.0} s = {:.0} % of one core over the wall time",
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
    crate::fsutil::remove_dir_all_writable(&tmp_cache)?;
    crate::stages::toolchain::build(cx, arch)?;
    Ok(())
}

pub fn noop(cx: &Context, arch: &str, runs: usize) -> Result<()> {
    let arch = cx.arches.get(arch)?.clone();
    let (g, _) = crate::stages::toolchain::graph(cx, &arch)?;
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
        let (g, _) = crate::stages::toolchain::graph(cx, &arch)?;
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
