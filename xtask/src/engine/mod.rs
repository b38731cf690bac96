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
//! - [`step`]: the [`Step`] trait and what a running step gets ([`StepRun`]);
//! - [`graph`]: steps and the steps they use;
//! - [`plan`]: keys and statuses without side effects, and why a step is not cached;
//! - [`schedule`]: running the plan in parallel, dependencies first;
//! - [`store`]: one step under its lock, into the store; manifests; build trees.

pub mod graph;
pub mod inputs;
pub mod plan;
pub mod schedule;
pub mod step;
pub mod store;

pub use graph::Graph;
pub use inputs::{Input, InputKind, Inputs};
pub use plan::{plan, render_plan, Planned, Status};
pub use schedule::{execute, print_summary, run_graph, Outcome, Report};
pub use step::{Step, StepRun};
pub use store::{finish_cleanup, remove_dir_all_writable, set_last, Manifest, MANIFEST};
