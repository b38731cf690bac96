//! One unit of cached work, and what it gets while it runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Result};

use crate::engine::handle::{StepRef, Use};
use crate::engine::inputs::Inputs;
use crate::engine::outcome::{Board, Outcome};
use crate::exec::StepLog;

/// One unit of cached work. `C` is the context steps compute their inputs and run in.
pub trait Step<C>: Send + Sync {
    /// Stable, human-readable name, unique within a graph: `gcc-aarch64`.
    fn name(&self) -> String;
    /// The steps this one uses (handles it holds), in the order failures are reported.
    /// Their keys are part of this step's key; their outputs are [`StepRun::output`].
    fn uses(&self) -> Vec<Use> {
        Vec::new()
    }
    /// Everything that can change the output, except the keys of the steps it uses
    /// (the engine adds those).
    fn inputs(&self, cx: &C) -> Result<Inputs>;
    /// Build the output into `run.out`.
    fn run(&self, cx: &C, run: &mut StepRun) -> Result<()>;
    /// True when `run` can continue in the build tree of an earlier attempt with the same
    /// key that failed cleanly (see [`StepRun::phase`]). A tree left by a killed process
    /// is never reused.
    fn resumable(&self) -> bool {
        false
    }
}

/// A used step, as a running step sees it.
pub(crate) struct Dep {
    pub(crate) name: String,
    pub(crate) out: PathBuf,
    /// Used "later" ([`StepRef::later`]): it may still be running.
    pub(crate) later: bool,
}

/// What a running step gets: where to write, where its dependencies are, a log.
pub struct StepRun {
    pub name: String,
    /// The (temporary) output directory; renamed into the store on success.
    pub out: PathBuf,
    /// A scratch directory for build trees; removed on success, kept on failure.
    pub work: PathBuf,
    /// The steps this one uses, by graph index.
    pub(crate) deps: BTreeMap<usize, Dep>,
    /// Outcomes of the whole graph, for waiting on "later" dependencies.
    pub(crate) board: Arc<Board>,
    pub log: StepLog,
    /// Notes recorded in the manifest (e.g. that a documented substitute source was used).
    pub notes: Vec<String>,
}

/// Written into a work tree when `run` returned an error (not when the process died).
pub(crate) const FAILED_MARKER: &str = ".alpinist-failed";

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

    /// The output of a step this one uses. For a step used "later", waits (logging that
    /// it does) until that step has finished; fails if it failed.
    pub fn output<S>(&self, step: StepRef<S>) -> Result<&Path> {
        let i = step.index();
        let dep = self.deps.get(&i).ok_or_else(|| {
            anyhow!(
                "internal: step {} does not list step #{i} in its uses",
                self.name
            )
        })?;
        if dep.later {
            self.wait_for(i, &dep.name)?;
        }
        Ok(&dep.out)
    }

    fn wait_for(&self, i: usize, name: &str) -> Result<()> {
        let mut first = true;
        let (lock, cv) = (&self.board.outcomes, &self.board.changed);
        let mut o = lock.lock().expect("board lock");
        loop {
            match &o[i] {
                Some(Outcome::Built) | Some(Outcome::Cached) => return Ok(()),
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
