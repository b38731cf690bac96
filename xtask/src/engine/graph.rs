//! Steps and the steps they use, and the typed handles steps refer to each other by.

use std::marker::PhantomData;
use std::sync::Arc;

use crate::engine::step::Step;

/// A step of a [`Graph`], as [`Graph::add`] returns it: how a later step names the
/// steps it uses ([`Step::uses`]) and asks for their outputs ([`crate::engine::StepRun::output`]),
/// and how a caller finds its [`crate::engine::Report`]. The type says which step it is.
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

/// Steps, in the order they were added (a step only uses steps added before it). `C` is
/// what steps get to compute their inputs and run (alpinist's `Context`).
pub struct Graph<C> {
    pub(crate) nodes: Vec<Node<C>>,
}

pub(crate) struct Node<C> {
    pub(crate) step: Arc<dyn Step<C>>,
    /// The steps it uses, in the order its [`Step::uses`] lists them.
    pub(crate) deps: Vec<usize>,
    /// The subset of `deps` it may start without.
    pub(crate) later: Vec<usize>,
}

impl<C> Default for Graph<C> {
    fn default() -> Self {
        Graph { nodes: Vec::new() }
    }
}

impl<C> Graph<C> {
    pub fn new() -> Graph<C> {
        Graph::default()
    }

    /// Adds a step after the steps it uses ([`Step::uses`]); returns its handle.
    pub fn add<S: Step<C> + 'static>(&mut self, step: S) -> StepRef<S> {
        let uses = step.uses();
        let index = self.nodes.len();
        for u in &uses {
            assert!(
                u.index < index,
                "step {} uses a step that is not in its graph",
                step.name()
            );
        }
        self.nodes.push(Node {
            deps: uses.iter().map(|u| u.index).collect(),
            later: uses.iter().filter(|u| u.later).map(|u| u.index).collect(),
            step: Arc::new(step),
        });
        StepRef {
            index,
            step: PhantomData,
        }
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}
