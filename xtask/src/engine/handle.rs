//! The typed handles steps refer to each other by: a step of a graph ([`StepRef`]) and one
//! step's use of another ([`Use`]).

use std::marker::PhantomData;

/// A step of a [`Graph`](crate::engine::Graph), as `Graph::add` returns it: how a later
/// step names the steps it uses ([`Step::uses`](crate::engine::Step::uses)) and asks for
/// their outputs ([`crate::engine::StepRun::output`]), and how a caller finds its
/// [`crate::engine::Report`]. The type says which step it is.
pub struct StepRef<S> {
    pub(crate) index: usize,
    step: PhantomData<fn() -> S>,
}

impl<S> Clone for StepRef<S> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<S> Copy for StepRef<S> {}

impl<S> std::fmt::Debug for StepRef<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StepRef({})", self.index)
    }
}

impl<S> StepRef<S> {
    /// The handle of the step at `index` of its graph.
    pub(crate) fn new(index: usize) -> StepRef<S> {
        StepRef {
            index,
            step: PhantomData,
        }
    }
    /// The position of the step in its graph, as in the plan and the reports.
    pub fn index(self) -> usize {
        self.index
    }
    /// A use of this step that the using step may start without: it waits for it when it
    /// asks for its output (gcc unpacks its source while binutils is still building).
    pub fn later(self) -> Use {
        Use {
            index: self.index,
            later: true,
        }
    }
}

/// One step used by another: its key is part of the user's key, and the user runs after
/// it (or, for a `later` use, once it has started).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Use {
    pub(crate) index: usize,
    pub(crate) later: bool,
}

impl<S> From<StepRef<S>> for Use {
    fn from(r: StepRef<S>) -> Use {
        Use {
            index: r.index,
            later: false,
        }
    }
}
