//! The step engine: content-addressed, resumable, lock-protected build steps.
//!
//! A step is a small value implementing [`Step`]. Its key is the SHA-256 of everything
//! that can change its output (its [`Inputs`], which include the keys of the steps it
//! uses). The output is built in a temporary directory in the store and renamed to
//! `<store>/<key>-<name>/` only when the step succeeded, so a killed build never leaves
//! a half-written output behind: the rerun finds no output, removes the stale temporary
//! directory and builds that step again. A file lock per key makes a second process wait
//! for the first instead of building the same thing twice.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{anyhow, bail, Context as _, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::context::Context;
use crate::runner::StepLog;

/// What kind of thing an input is; used for messages ("why is this not cached?").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InputKind {
    /// A source file, by checksum.
    Source,
    /// A patch file, by content hash.
    Patch,
    /// A flag or setting (configure arguments, versions, …).
    Flag,
    /// A data/config file or script, by content hash.
    Config,
    /// Another step this one uses, by key.
    Step,
    /// A host tool this step runs, by version.
    Tool,
}

impl fmt::Display for InputKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InputKind::Source => "source",
            InputKind::Patch => "patch",
            InputKind::Flag => "flag",
            InputKind::Config => "config",
            InputKind::Step => "step",
            InputKind::Tool => "host tool",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Input {
    pub kind: InputKind,
    pub name: String,
    pub value: String,
}

/// Everything a step's output depends on.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Inputs(pub Vec<Input>);

impl Inputs {
    pub fn new() -> Inputs {
        Inputs::default()
    }
    pub fn add(&mut self, kind: InputKind, name: impl Into<String>, value: impl Into<String>) {
        self.0.push(Input {
            kind,
            name: name.into(),
            value: value.into(),
        });
    }
    pub fn flag(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.add(InputKind::Flag, name, value)
    }
    pub fn tool(&mut self, name: impl Into<String>, version: impl Into<String>) {
        self.add(InputKind::Tool, name, version)
    }
    pub fn source(&mut self, name: impl Into<String>, checksum: impl Into<String>) {
        self.add(InputKind::Source, name, checksum)
    }
    /// A file whose content matters (a patch or a config file), by SHA-256.
    pub fn file(&mut self, kind: InputKind, repo: &Path, path: &Path) -> Result<()> {
        let bytes =
            std::fs::read(path).with_context(|| format!("reading input {}", path.display()))?;
        let name = path
            .strip_prefix(repo)
            .unwrap_or(path)
            .display()
            .to_string();
        self.add(kind, name, hex::encode(Sha256::digest(&bytes)));
        Ok(())
    }
    fn sorted(&self) -> Vec<Input> {
        let mut v = self.0.clone();
        v.sort();
        v
    }
}

/// One unit of cached work.
pub trait Step: Send + Sync {
    /// Stable, human-readable name, unique within a graph: `gcc-aarch64`.
    fn name(&self) -> String;
    /// Everything that can change the output, except the keys of the steps it uses
    /// (the engine adds those).
    fn inputs(&self, cx: &Context) -> Result<Inputs>;
    /// Build the output into `run.out`.
    fn run(&self, cx: &Context, run: &mut StepRun) -> Result<()>;
    /// True when `run` can continue in the build tree of an earlier attempt with the same
    /// key that failed cleanly (see [`StepRun::phase`]). A tree left by a killed process
    /// is never reused.
    fn resumable(&self) -> bool {
        false
    }
}

/// What a running step gets: where to write, where its dependencies are, a log.
pub struct StepRun {
    pub name: String,
    /// The (temporary) output directory; renamed into the store on success.
    pub out: PathBuf,
    /// A scratch directory for build trees; removed on success, kept on failure.
    pub work: PathBuf,
    /// Outputs of the steps this one uses, by step name (finished, except "later" ones:
    /// see [`Graph::add_later`]; [`StepRun::dep`] waits for those).
    pub deps: BTreeMap<String, PathBuf>,
    /// Outcomes of the whole graph, for waiting on "later" dependencies.
    later: Option<(Arc<Board>, BTreeMap<String, usize>)>,
    pub log: StepLog,
    /// Notes recorded in the manifest (e.g. that a documented substitute source was used).
    pub notes: Vec<String>,
}

/// Written into a work tree when `run` returned an error (not when the process died).
const FAILED_MARKER: &str = ".alpinist-failed";

impl StepRun {
    /// Runs one phase of a resumable step, unless an earlier attempt with the same key
    /// finished it (a stamp in the work tree says so).
    pub fn phase(&mut self, name: &str, f: impl FnOnce(&mut StepRun) -> Result<()>) -> Result<()> {
        let stamp = self.work.join(format!(".alpinist-phase-{name}"));
        if stamp.exists() {
            self.log
                .status(&format!("{name}: done in an earlier attempt"));
            return Ok(());
        }
        f(self)?;
        std::fs::write(&stamp, b"")?;
        Ok(())
    }

    /// The output of a step this one uses. For a dependency declared "later", waits
    /// (logging that it does) until that step has finished; fails if it failed.
    pub fn dep(&self, name: &str) -> Result<&Path> {
        if let Some((board, later)) = &self.later {
            if let Some(&i) = later.get(name) {
                let mut first = true;
                let (lock, cv) = (&board.outcomes, &board.changed);
                let mut o = lock.lock().expect("board lock");
                loop {
                    match &o[i] {
                        Some(Outcome::Built) | Some(Outcome::Cached) => break,
                        Some(Outcome::Failed(_)) | Some(Outcome::Skipped(_)) => {
                            bail!("{} needs {name}, which did not build", self.name)
                        }
                        None => {
                            if first {
                                self.log.status(&format!("waiting for {name}"));
                                first = false;
                            }
                            o = cv.wait(o).expect("board lock");
                        }
                    }
                }
            }
        }
        self.deps
            .get(name)
            .map(|p| p.as_path())
            .ok_or_else(|| anyhow!("internal: step {} has no dependency {name}", self.name))
    }
}

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

/// Steps and the steps they use.
#[derive(Default)]
pub struct Graph {
    nodes: Vec<Node>,
}

struct Node {
    step: Arc<dyn Step>,
    deps: Vec<usize>,
    later: Vec<usize>,
}

/// Step outcomes shared with running steps that wait for a "later" dependency.
struct Board {
    outcomes: Mutex<Vec<Option<Outcome>>>,
    changed: Condvar,
}

impl Graph {
    pub fn new() -> Graph {
        Graph::default()
    }
    /// Adds a step using the given earlier steps; returns its index.
    pub fn add(&mut self, step: impl Step + 'static, deps: &[usize]) -> usize {
        self.add_later(step, deps, &[])
    }
    /// Like [`Graph::add`], but the step may start once the dependencies not in `later`
    /// are done and those in `later` have started: it asks for them with
    /// [`StepRun::dep`], which waits. Their keys are part of this step's key all the same.
    /// (gcc unpacks its source while binutils is still building.)
    pub fn add_later(
        &mut self,
        step: impl Step + 'static,
        deps: &[usize],
        later: &[usize],
    ) -> usize {
        debug_assert!(later.iter().all(|l| deps.contains(l)));
        self.nodes.push(Node {
            step: Arc::new(step),
            deps: deps.to_vec(),
            later: later.to_vec(),
        });
        self.nodes.len() - 1
    }
}

/// Why a step must run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Status {
    /// Its output is in the store.
    Cached,
    /// It was never built with any inputs (no earlier output of the same name).
    NeverBuilt,
    /// An earlier output exists with different inputs; the differences.
    Changed(Vec<String>),
}

#[derive(Debug, Clone, Serialize)]
pub struct Planned {
    pub name: String,
    pub key: String,
    pub status: Status,
    pub out: PathBuf,
    #[serde(skip)]
    pub inputs: Vec<Input>,
    #[serde(skip)]
    pub deps: Vec<usize>,
    /// The subset of `deps` the step may start without (see [`Graph::add_later`]).
    #[serde(skip)]
    pub later: Vec<usize>,
}

/// Computes keys and statuses without side effects.
pub fn plan(cx: &Context, graph: &Graph) -> Result<Vec<Planned>> {
    let store = cx.layout.store();
    let mut out: Vec<Planned> = Vec::with_capacity(graph.nodes.len());
    for node in &graph.nodes {
        let name = node.step.name();
        let mut inputs = node
            .step
            .inputs(cx)
            .with_context(|| format!("collecting the inputs of step {name}"))?;
        for &d in &node.deps {
            let dep = &out[d];
            inputs.add(InputKind::Step, dep.name.clone(), dep.key.clone());
        }
        let sorted = inputs.sorted();
        let key = key_of(&name, &sorted);
        let dir = store.join(format!("{key}-{name}"));
        let status = if dir.is_dir() {
            Status::Cached
        } else {
            match last_manifest(&store, &name) {
                None => Status::NeverBuilt,
                Some(m) => Status::Changed(diff_inputs(&m.inputs, &sorted)),
            }
        };
        out.push(Planned {
            name,
            key,
            status,
            out: dir,
            inputs: sorted,
            deps: node.deps.clone(),
            later: node.later.clone(),
        });
    }
    Ok(out)
}

fn key_of(name: &str, inputs: &[Input]) -> String {
    let mut h = Sha256::new();
    h.update(b"alpinist-step-v1\0");
    h.update(name.as_bytes());
    h.update(b"\0");
    for i in inputs {
        h.update(format!("{}\0{}\0{}\0", i.kind, i.name, i.value).as_bytes());
    }
    hex::encode(h.finalize())[..20].to_string()
}

fn last_pointer(store: &Path, name: &str) -> PathBuf {
    store.join(".last").join(name)
}

/// Records `key` as the newest output of step `name` (what `plan` compares against).
pub fn set_last(store: &Path, name: &str, key: &str) -> Result<()> {
    std::fs::create_dir_all(store.join(".last"))?;
    std::fs::write(last_pointer(store, name), key)?;
    Ok(())
}

fn last_manifest(store: &Path, name: &str) -> Option<Manifest> {
    let key = std::fs::read_to_string(last_pointer(store, name)).ok()?;
    let path = store.join(format!("{}-{name}", key.trim())).join(MANIFEST);
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

fn diff_inputs(old: &[Input], new: &[Input]) -> Vec<String> {
    let index = |v: &[Input]| -> BTreeMap<(InputKind, String), String> {
        v.iter()
            .map(|i| ((i.kind, i.name.clone()), i.value.clone()))
            .collect()
    };
    let (o, n) = (index(old), index(new));
    let mut why = Vec::new();
    for ((kind, name), nv) in &n {
        match o.get(&(*kind, name.clone())) {
            None => why.push(format!("{kind} {name} is new ({})", short(nv))),
            Some(ov) if ov != nv => match kind {
                InputKind::Step => why.push(format!("step {name} changed")),
                _ => why.push(format!(
                    "{kind} {name} changed: {}",
                    describe_change(ov, nv)
                )),
            },
            _ => {}
        }
    }
    for (kind, name) in o.keys() {
        if !n.contains_key(&(*kind, name.clone())) {
            why.push(format!("{kind} {name} was removed"));
        }
    }
    if why.is_empty() {
        why.push("the earlier output was removed from the store".into());
    }
    why
}

/// `a -> b` for short values; for long word lists, which words went and came.
fn describe_change(old: &str, new: &str) -> String {
    if old.len() + new.len() <= 100 || !old.contains(' ') {
        return format!("{} -> {}", short(old), short(new));
    }
    let (o, n): (Vec<&str>, Vec<&str>) = (old.split(' ').collect(), new.split(' ').collect());
    let gone: Vec<&str> = o.iter().filter(|w| !n.contains(w)).copied().collect();
    let came: Vec<&str> = n.iter().filter(|w| !o.contains(w)).copied().collect();
    let mut parts = Vec::new();
    if !gone.is_empty() {
        parts.push(format!("removed {}", gone.join(" ")));
    }
    if !came.is_empty() {
        parts.push(format!("added {}", came.join(" ")));
    }
    if parts.is_empty() {
        parts.push("same words in a different order".into());
    }
    parts.join(", ")
}

fn short(v: &str) -> String {
    if v.len() > 72 {
        format!(
            "{}…",
            &v[..v.char_indices().nth(71).map(|(i, _)| i).unwrap_or(v.len())]
        )
    } else {
        v.to_string()
    }
}

/// How one step ended in an [`execute`] run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Cached,
    Built,
    Failed(String),
    /// Not run because a step it uses failed.
    Skipped(String),
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub name: String,
    pub key: String,
    pub outcome: Outcome,
    pub seconds: f64,
    pub out: PathBuf,
}

/// Runs every step of the plan that is not cached, dependencies first, up to
/// `cx.parallel` at once. Returns one report per step, in plan order.
pub fn execute(cx: &Context, graph: &Graph, planned: &[Planned]) -> Result<Vec<Report>> {
    let n = planned.len();
    let mut outcome: Vec<Option<Outcome>> = vec![None; n];
    let mut seconds = vec![0.0f64; n];
    let total = planned
        .iter()
        .filter(|p| p.status != Status::Cached)
        .count();
    let progress = cx.progress.start_run(total);
    empty_trash(cx);
    let mut started = vec![false; n];
    let mut running = 0usize;
    let mut failed_any = false;
    let (tx, rx) = mpsc::channel::<(usize, Result<f64>)>();
    let board = Arc::new(Board {
        outcomes: Mutex::new(vec![None; n]),
        changed: Condvar::new(),
    });
    let publish = |outcome: &[Option<Outcome>]| {
        let mut o = board.outcomes.lock().expect("board lock");
        o.clone_from_slice(outcome);
        board.changed.notify_all();
    };

    std::thread::scope(|scope| -> Result<()> {
        loop {
            // Settle steps whose fate is known without running them.
            for i in 0..n {
                if started[i] {
                    continue;
                }
                let p = &planned[i];
                if let Some(bad) = p.deps.iter().find(|&&d| {
                    matches!(
                        outcome[d],
                        Some(Outcome::Failed(_)) | Some(Outcome::Skipped(_))
                    )
                }) {
                    started[i] = true;
                    outcome[i] = Some(Outcome::Skipped(planned[*bad].name.clone()));
                    continue;
                }
                if p.out.is_dir() && p.deps.iter().all(|&d| outcome[d].is_some()) {
                    started[i] = true;
                    outcome[i] = Some(Outcome::Cached);
                }
            }
            let may_start = !failed_any || cx.keep_going;
            for i in 0..n {
                if running >= cx.parallel.max(1) || !may_start {
                    break;
                }
                if started[i] {
                    continue;
                }
                let p = &planned[i];
                // "later" dependencies must have started, so that a waiting step can
                // never hold the slot its dependency needs.
                let ready = p.deps.iter().all(|&d| {
                    matches!(outcome[d], Some(Outcome::Built) | Some(Outcome::Cached))
                        || (p.later.contains(&d) && started[d])
                });
                if !ready {
                    continue;
                }
                started[i] = true;
                running += 1;
                let tx = tx.clone();
                let step = graph.nodes[i].step.clone();
                let p = planned[i].clone();
                let deps: BTreeMap<String, PathBuf> = planned[i]
                    .deps
                    .iter()
                    .map(|&d| (planned[d].name.clone(), planned[d].out.clone()))
                    .collect();
                let later: BTreeMap<String, usize> = planned[i]
                    .later
                    .iter()
                    .map(|&d| (planned[d].name.clone(), d))
                    .collect();
                let later = (!later.is_empty()).then(|| (board.clone(), later));
                let progress = progress.clone();
                scope.spawn(move || {
                    let r = build_one(cx, step.as_ref(), &p, deps, later, &progress);
                    let _ = tx.send((i, r));
                });
            }
            publish(&outcome);
            if running == 0 {
                break;
            }
            let (i, r) = rx.recv().expect("a step thread always reports");
            running -= 1;
            match r {
                Ok(secs) => {
                    seconds[i] = secs;
                    outcome[i] = Some(Outcome::Built);
                }
                Err(e) => {
                    failed_any = true;
                    outcome[i] = Some(Outcome::Failed(format!("{e:#}")));
                }
            }
        }
        Ok(())
    })?;
    progress.finish();
    Ok(planned
        .iter()
        .enumerate()
        .map(|(i, p)| Report {
            name: p.name.clone(),
            key: p.key.clone(),
            outcome: outcome[i].clone().unwrap_or(Outcome::Skipped(
                "an earlier step failed (use --keep-going to build everything possible)".into(),
            )),
            seconds: seconds[i],
            out: p.out.clone(),
        })
        .collect())
}

/// Builds one step under its lock. Returns the wall time in seconds (0 when another
/// process finished it while we waited).
fn build_one(
    cx: &Context,
    step: &dyn Step,
    p: &Planned,
    deps: BTreeMap<String, PathBuf>,
    later: Option<(Arc<Board>, BTreeMap<String, usize>)>,
    progress: &crate::progress::RunProgress,
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
    log.header(&p.key, &p.inputs)?;
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
        if !crate::runner::children::stopping() {
            let _ = std::fs::write(work.join(FAILED_MARKER), format!("{e:#}"));
        }
        bar.finish_failed(&p.name, Duration::from_secs_f64(secs));
        let _ = run.log.line(&format!("FAILED: {e:#}"));
        // Keep the work tree for `shell`/debugging; the partial output goes.
        let _ = remove_dir_all_writable(&tmp);
        return Err(e.context(format!(
            "step {} failed after {}; its build tree is kept in {}",
            p.name,
            crate::progress::hms(Duration::from_secs_f64(secs)),
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
fn empty_trash(cx: &Context) {
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

/// Runs a graph: plans, executes, prints the summary, and fails if any step failed.
pub fn run_graph(cx: &Context, graph: &Graph) -> Result<Vec<Report>> {
    let planned = plan(cx, graph)?;
    let reports = execute(cx, graph, &planned)?;
    print_summary(&reports);
    let failed: Vec<&Report> = reports
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Failed(_)))
        .collect();
    if let Some(first) = failed.first() {
        if let Outcome::Failed(msg) = &first.outcome {
            bail!("{msg}");
        }
    }
    Ok(reports)
}

pub fn print_summary(reports: &[Report]) {
    let w = reports
        .iter()
        .map(|r| r.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    eprintln!("\n{:w$}  {:8}  {:>9}  output", "step", "result", "time");
    for r in reports {
        let (what, extra) = match &r.outcome {
            Outcome::Cached => ("cached", String::new()),
            Outcome::Built => ("built", String::new()),
            Outcome::Failed(_) => ("FAILED", String::new()),
            Outcome::Skipped(why) => ("skipped", format!(" (needs {why})")),
        };
        eprintln!(
            "{:w$}  {:8}  {:>9}  {}{}",
            r.name,
            what,
            if r.seconds > 0.0 {
                crate::progress::hms(Duration::from_secs_f64(r.seconds))
            } else {
                "-".into()
            },
            r.out.display(),
            extra
        );
    }
}

/// Prints a plan: what would run, what is cached and why the rest is not.
pub fn render_plan(planned: &[Planned], store: &Path) -> String {
    let mut s = String::new();
    let to_run = planned
        .iter()
        .filter(|p| p.status != Status::Cached)
        .count();
    s.push_str(&format!(
        "{} steps: {} to run, {} cached\n",
        planned.len(),
        to_run,
        planned.len() - to_run
    ));
    for p in planned {
        let rel = p.out.strip_prefix(store).unwrap_or(&p.out);
        match &p.status {
            Status::Cached => s.push_str(&format!("  cached  {}  ({})\n", p.name, rel.display())),
            Status::NeverBuilt => s.push_str(&format!("  run     {}  (never built)\n", p.name)),
            Status::Changed(why) => {
                s.push_str(&format!("  run     {}  (inputs changed)\n", p.name));
                for w in why {
                    s.push_str(&format!("            - {w}\n"));
                }
            }
        }
    }
    s
}
