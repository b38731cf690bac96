//! One unit of cached work, and what it gets while it runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Result};

use crate::context::Context;
use crate::engine::inputs::Inputs;
use crate::engine::schedule::{Board, Outcome};
use crate::exec::StepLog;

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
    pub(crate) later: Option<(Arc<Board>, BTreeMap<String, usize>)>,
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
