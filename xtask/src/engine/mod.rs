//! The step engine: content-addressed, resumable, lock-protected build steps.
//!
//! A step is a small value implementing [`Step`]. Its key is the SHA-256 of everything
//! that can change its output (its [`Inputs`], which include the keys of the steps it
//! uses). The output is built in a temporary directory in the store and renamed to
//! `<store>/<key>-<name>/` only when the step succeeded, so a killed build never leaves
//! a half-written output behind: the rerun finds no output, removes the stale temporary
//! directory and builds that step again. A file lock per key makes a second process wait
//! for the first instead of building the same thing twice.
//!
//! - [`inputs`]: what a step depends on, and the key made of it;
//! - [`handle`]: the typed handles steps refer to each other by ([`StepRef`], [`Use`]);
//! - [`outcome`]: how a step ended, and the board running steps wait on;
//! - [`step`]: the [`Step`] trait and what a running step gets ([`StepRun`]);
//! - [`graph`]: steps and the steps they use;
//! - [`manifest`]: what the store records of each output, and the newest of each step;
//! - [`plan`]: keys and statuses without side effects, and why a step is not cached;
//! - [`store`]: one step under its lock, into the store; build trees;
//! - [`schedule`]: running the plan in parallel, dependencies first.
//!
//! Each of these imports only those listed before it.

use std::path::PathBuf;

use crate::exec::progress::Progress;

pub mod graph;
pub mod handle;
pub mod inputs;
pub mod manifest;
pub mod outcome;
pub mod plan;
pub mod schedule;
pub mod step;
pub mod store;

pub use graph::Graph;
pub use handle::{StepRef, Use};
pub use inputs::{Input, InputKind, Inputs};
pub use manifest::{read_manifest, set_last, Manifest, MANIFEST};
pub use outcome::Outcome;
pub use plan::{diff_inputs, plan, render_plan, Planned, Status};
pub use schedule::{execute, print_summary, run_graph, Report};
pub use step::{Step, StepRun};
pub use store::finish_cleanup;

/// Where the engine keeps outputs, build trees and logs, and how it runs steps.
pub struct Engine {
    /// Finished outputs: `<store>/<key>-<name>/`.
    pub store: PathBuf,
    /// Build trees: `<work>/<name>-<key>/`, kept when a step fails.
    pub work: PathBuf,
    /// Step logs: `<logs>/<name>-<first 12 digits of the key>.log`.
    pub logs: PathBuf,
    /// Steps that may run at the same time.
    pub parallel: usize,
    /// After a failure, go on with every step that does not need the failed one.
    pub keep_going: bool,
    /// The one make jobserver every step's commands share.
    pub jobserver: Option<jobserver::Client>,
    pub progress: Progress,
}

impl Engine {
    /// The build tree of the step `name` with key `key`.
    pub fn work_tree(&self, name: &str, key: &str) -> PathBuf {
        self.work.join(format!("{name}-{key}"))
    }
    /// The log of the step `name` with key `key`.
    pub fn log_path(&self, name: &str, key: &str) -> PathBuf {
        self.logs.join(format!("{name}-{}.log", &key[..12]))
    }
}

/// What the engine needs from the context steps run in.
pub trait StepContext: Sync {
    fn engine(&self) -> &Engine;
}
