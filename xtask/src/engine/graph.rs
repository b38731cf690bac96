//! Steps and the steps they use.

use std::sync::Arc;

use crate::engine::handle::StepRef;
use crate::engine::step::Step;

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
        StepRef::new(index)
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}
