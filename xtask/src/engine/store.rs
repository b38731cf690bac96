//! The store: one step built under its lock into a temporary directory and renamed into
//! `<store>/<key>-<name>/` with its manifest; build trees.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use anyhow::{Context as _, Result};

use crate::engine::manifest::{set_last, Manifest, MANIFEST};
use crate::engine::outcome::Board;
use crate::engine::plan::Planned;
use crate::engine::step::{Dep, Step, StepRun, FAILED_MARKER};
use crate::engine::{Engine, StepContext};
use crate::exec::progress::RunProgress;
use crate::exec::StepLog;
use crate::fsutil::remove_dir_all_writable;

/// Builds one step under its lock. Returns the wall time in seconds (0 when another
/// process finished it while we waited).
pub(crate) fn build_one<C: StepContext>(
    cx: &C,
    step: &dyn Step<C>,
    p: &Planned,
    deps: BTreeMap<usize, Dep>,
    board: Arc<Board>,
    progress: &RunProgress,
) -> Result<f64> {
    let engine = cx.engine();
    let _lock = lock(engine, p, progress)?;
    if p.out.is_dir() {
        progress.message(&format!("{}: finished by another process", p.name));
        return Ok(0.0);
    }
    let (tmp, work, resuming) = fresh_dirs(engine, step.resumable(), p)?;
    let log_path = engine.log_path(&p.name, &p.key);
    let bar = progress.start_step(&p.name);
    let log = StepLog::create(&log_path, &p.name, bar.clone(), engine.jobserver.clone())?;
    log.header(
        &p.key,
        p.inputs
            .iter()
            .map(|i| format!("{} {} = {}", i.kind, i.name, i.value)),
    )?;
    if resuming {
        progress.message(&format!(
            "{}: continuing in the build tree of the earlier failed attempt ({})",
            p.name,
            work.display()
        ));
    }
    let mut run = StepRun {
        name: p.name.clone(),
        out: tmp.clone(),
        work: work.clone(),
        deps,
        board,
        log,
        notes: Vec::new(),
    };
    let t0 = Instant::now();
    let result = step.run(cx, &mut run);
    let took = t0.elapsed();
    if let Err(e) = result {
        // A step stopped by a signal was killed, not failed: its tree may hold a
        // half-written file, so it must not be resumed (no marker, so it is removed).
        if !crate::exec::signals::stopping() {
            let _ = std::fs::write(work.join(FAILED_MARKER), format!("{e:#}"));
        }
        bar.finish_failed(&p.name, took);
        let _ = run.log.line(&format!("FAILED: {e:#}"));
        // Keep the work tree for `shell`/debugging; the partial output goes.
        let _ = remove_dir_all_writable(&tmp);
        return Err(e.context(format!(
            "step {} failed after {}; its build tree is kept in {}",
            p.name,
            crate::exec::progress::hms(took),
            work.display()
        )));
    }
    let secs = took.as_secs_f64();
    commit(engine, p, &tmp, &log_path, secs, run.notes)?;
    discard_tree(engine, &work);
    bar.finish_ok(&p.name, took);
    Ok(secs)
}

/// Takes the step's lock, waiting (and saying so) while another process holds it.
fn lock(engine: &Engine, p: &Planned, progress: &RunProgress) -> Result<File> {
    let store = &engine.store;
    let locks = store.join(".locks");
    std::fs::create_dir_all(&locks)?;
    std::fs::create_dir_all(store.join(".tmp"))?;
    std::fs::create_dir_all(store.join(".last"))?;
    let lock_path = locks.join(format!("{}-{}.lock", p.key, p.name));
    let lock = File::create(&lock_path)
        .with_context(|| format!("creating lock {}", lock_path.display()))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            progress.message(&format!(
                "{}: waiting for another alpinist process that is building it (lock {})",
                p.name,
                lock_path.display()
            ));
            lock.lock()
                .with_context(|| format!("waiting for lock {}", lock_path.display()))?;
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("locking {}", lock_path.display()))
        }
    }
    Ok(lock)
}

/// The temporary output directory and the build tree of a step about to run (under its
/// lock), and whether it continues in the tree of an earlier failed attempt.
fn fresh_dirs(engine: &Engine, resumable: bool, p: &Planned) -> Result<(PathBuf, PathBuf, bool)> {
    // Anything left by an interrupted run of this very step goes now; we hold its lock.
    let tmp_root = engine.store.join(".tmp");
    let prefix = format!("{}-{}.", p.key, p.name);
    for e in std::fs::read_dir(&tmp_root)?.flatten() {
        if e.file_name().to_string_lossy().starts_with(&prefix) {
            remove_dir_all_writable(&e.path())?;
        }
    }
    let tmp = tmp_root.join(format!("{prefix}{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let work = engine.work_tree(&p.name, &p.key);
    let resuming = resumable && work.join(FAILED_MARKER).exists();
    if work.exists() && !resuming {
        remove_dir_all_writable(&work)?;
    }
    let _ = std::fs::remove_file(work.join(FAILED_MARKER));
    std::fs::create_dir_all(&work)?;
    Ok((tmp, work, resuming))
}

/// Writes the manifest and a copy of the log into the finished output and renames it
/// into the store.
fn commit(
    engine: &Engine,
    p: &Planned,
    tmp: &Path,
    log_path: &Path,
    secs: f64,
    notes: Vec<String>,
) -> Result<()> {
    let manifest = Manifest {
        name: p.name.clone(),
        key: p.key.clone(),
        inputs: p.inputs.clone(),
        duration_secs: secs,
        finished_unix: SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        log: log_path.to_path_buf(),
        notes,
    };
    std::fs::write(tmp.join(MANIFEST), serde_json::to_vec_pretty(&manifest)?)?;
    let _ = std::fs::copy(log_path, tmp.join(".alpinist-log.txt"));
    std::fs::rename(tmp, &p.out)
        .with_context(|| format!("moving {} into place as {}", tmp.display(), p.out.display()))?;
    set_last(&engine.store, &p.name, &p.key)
}

/// Where finished build trees wait to be deleted.
fn trash_dir(engine: &Engine) -> PathBuf {
    engine.work.join(".trash")
}

/// Removes a finished build tree without making anyone wait: it is renamed into the
/// trash (instant) and deleted by a background thread. Deleting gcc's 2 GiB tree takes
/// longer than assembling the toolchain that waits for the gcc step. If the process
/// ends first, the next run finishes the job ([`empty_trash`]).
fn discard_tree(engine: &Engine, tree: &Path) {
    let trash = trash_dir(engine);
    let name = format!(
        "{}-{}",
        tree.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    );
    let dest = trash.join(name);
    if std::fs::create_dir_all(&trash).is_ok() && std::fs::rename(tree, &dest).is_ok() {
        let h = std::thread::spawn(move || {
            let _ = remove_dir_all_writable(&dest);
        });
        CLEANERS.lock().expect("cleaners").push(h);
    } else {
        let _ = remove_dir_all_writable(tree);
    }
}

/// Deletes, in the background, trees an earlier process left in the trash.
pub(crate) fn empty_trash(engine: &Engine) {
    let trash = trash_dir(engine);
    let Ok(rd) = std::fs::read_dir(&trash) else {
        return;
    };
    let me = format!("-{}", std::process::id());
    let old: Vec<PathBuf> = rd
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().ends_with(&me))
        .map(|e| e.path())
        .collect();
    if !old.is_empty() {
        let h = std::thread::spawn(move || {
            for d in old {
                let _ = remove_dir_all_writable(&d);
            }
        });
        CLEANERS.lock().expect("cleaners").push(h);
    }
}

static CLEANERS: Mutex<Vec<std::thread::JoinHandle<()>>> = Mutex::new(Vec::new());

/// Waits for the background deletions of finished build trees; the command line calls
/// it after printing its summary, so the user has the result first.
pub fn finish_cleanup() {
    let handles: Vec<_> = std::mem::take(&mut *CLEANERS.lock().expect("cleaners"));
    for h in handles {
        let _ = h.join();
    }
}
