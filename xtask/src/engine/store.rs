//! The store: one step built under its lock into a temporary directory and renamed into
//! `<store>/<key>-<name>/`; manifests, the `.last` pointers, and build trees.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};

use crate::context::Context;
use crate::engine::inputs::Input;
use crate::engine::plan::Planned;
use crate::engine::schedule::Board;
use crate::engine::step::{Step, StepRun, FAILED_MARKER};
use crate::exec::progress::RunProgress;
use crate::exec::StepLog;

/// The manifest written next to every finished output.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub name: String,
    pub key: String,
    pub inputs: Vec<Input>,
    pub duration_secs: f64,
    pub finished_unix: u64,
    pub log: PathBuf,
    #[serde(default)]
    pub notes: Vec<String>,
}

pub const MANIFEST: &str = ".alpinist-manifest.json";

fn last_pointer(store: &Path, name: &str) -> PathBuf {
    store.join(".last").join(name)
}

/// Records `key` as the newest output of step `name` (what `plan` compares against).
pub fn set_last(store: &Path, name: &str, key: &str) -> Result<()> {
    std::fs::create_dir_all(store.join(".last"))?;
    std::fs::write(last_pointer(store, name), key)?;
    Ok(())
}

pub(crate) fn last_manifest(store: &Path, name: &str) -> Option<Manifest> {
    let key = std::fs::read_to_string(last_pointer(store, name)).ok()?;
    let path = store.join(format!("{}-{name}", key.trim())).join(MANIFEST);
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}
/// Builds one step under its lock. Returns the wall time in seconds (0 when another
/// process finished it while we waited).
pub(crate) fn build_one(
    cx: &Context,
    step: &dyn Step,
    p: &Planned,
    deps: BTreeMap<String, PathBuf>,
    later: Option<(Arc<Board>, BTreeMap<String, usize>)>,
    progress: &RunProgress,
) -> Result<f64> {
    let store = cx.layout.store();
    let locks = store.join(".locks");
    let tmp_root = store.join(".tmp");
    std::fs::create_dir_all(&locks)?;
    std::fs::create_dir_all(&tmp_root)?;
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
    if p.out.is_dir() {
        progress.message(&format!("{}: finished by another process", p.name));
        return Ok(0.0);
    }
    // Anything left by an interrupted run of this very step goes now; we hold its lock.
    let prefix = format!("{}-{}.", p.key, p.name);
    for e in std::fs::read_dir(&tmp_root)?.flatten() {
        if e.file_name().to_string_lossy().starts_with(&prefix) {
            remove_dir_all_writable(&e.path())?;
        }
    }
    let tmp = tmp_root.join(format!("{prefix}{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let work = cx.layout.work().join(format!("{}-{}", p.name, p.key));
    let resuming = step.resumable() && work.join(FAILED_MARKER).exists();
    if work.exists() && !resuming {
        remove_dir_all_writable(&work)?;
    }
    let _ = std::fs::remove_file(work.join(FAILED_MARKER));
    std::fs::create_dir_all(&work)?;
    let log_path = cx
        .layout
        .logs()
        .join(format!("{}-{}.log", p.name, &p.key[..12]));
    let bar = progress.start_step(&p.name);
    let log = StepLog::create(&log_path, &p.name, bar.clone(), cx.jobserver.clone())?;
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
        later,
        log,
        notes: Vec::new(),
    };
    let t0 = Instant::now();
    let result = step.run(cx, &mut run);
    let secs = t0.elapsed().as_secs_f64();
    if let Err(e) = result {
        // A step stopped by a signal was killed, not failed: its tree may hold a
        // half-written file, so it must not be resumed (no marker, so it is removed).
        if !crate::exec::signals::stopping() {
            let _ = std::fs::write(work.join(FAILED_MARKER), format!("{e:#}"));
        }
        bar.finish_failed(&p.name, Duration::from_secs_f64(secs));
        let _ = run.log.line(&format!("FAILED: {e:#}"));
        // Keep the work tree for `shell`/debugging; the partial output goes.
        let _ = remove_dir_all_writable(&tmp);
        return Err(e.context(format!(
            "step {} failed after {}; its build tree is kept in {}",
            p.name,
            crate::exec::progress::hms(Duration::from_secs_f64(secs)),
            work.display()
        )));
    }
    let manifest = Manifest {
        name: p.name.clone(),
        key: p.key.clone(),
        inputs: p.inputs.clone(),
        duration_secs: secs,
        finished_unix: SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        log: log_path.clone(),
        notes: run.notes.clone(),
    };
    std::fs::write(tmp.join(MANIFEST), serde_json::to_vec_pretty(&manifest)?)?;
    let _ = std::fs::copy(&log_path, tmp.join(".alpinist-log.txt"));
    std::fs::rename(&tmp, &p.out)
        .with_context(|| format!("moving {} into place as {}", tmp.display(), p.out.display()))?;
    set_last(&store, &p.name, &p.key)?;
    discard_tree(cx, &work);
    bar.finish_ok(&p.name, Duration::from_secs_f64(secs));
    Ok(secs)
}

/// Where finished build trees wait to be deleted.
fn trash_dir(cx: &Context) -> PathBuf {
    cx.layout.work().join(".trash")
}

/// Removes a finished build tree without making anyone wait: it is renamed into the
/// trash (instant) and deleted by a background thread. Deleting gcc's 2 GiB tree takes
/// longer than assembling the toolchain that waits for the gcc step. If the process
/// ends first, the next run finishes the job ([`empty_trash`]).
fn discard_tree(cx: &Context, tree: &Path) {
    let trash = trash_dir(cx);
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
pub(crate) fn empty_trash(cx: &Context) {
    let trash = trash_dir(cx);
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

/// `remove_dir_all` that also copes with read-only directories left by builds.
pub fn remove_dir_all_writable(path: &Path) -> Result<()> {
    if std::fs::remove_dir_all(path).is_ok() || !path.exists() {
        return Ok(());
    }
    let _ = duct::cmd!("chmod", "-R", "u+rwX", path)
        .stdout_null()
        .stderr_null()
        .run();
    std::fs::remove_dir_all(path).with_context(|| format!("removing {}", path.display()))
}
