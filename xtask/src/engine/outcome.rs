//! How steps end: each step's [`Outcome`], and the [`Board`] on which running steps see
//! the outcomes of the steps they wait for.

use std::sync::{Condvar, Mutex};

use serde::Serialize;

/// How one step ended in an [`execute`](crate::engine::execute) run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Cached,
    Built,
    Failed(String),
    /// Not run because a step it uses failed.
    Skipped(String),
}

/// Step outcomes shared with running steps that wait for a "later" dependency.
pub(crate) struct Board {
    pub(crate) outcomes: Mutex<Vec<Option<Outcome>>>,
    pub(crate) changed: Condvar,
}

impl Board {
    pub(crate) fn publish(&self, outcome: &[Option<Outcome>]) {
        let mut o = self.outcomes.lock().expect("board lock");
        o.clone_from_slice(outcome);
        self.changed.notify_all();
    }
}
