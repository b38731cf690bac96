//! Steps and the steps they use.

use std::sync::Arc;

use crate::engine::step::Step;

/// Steps and the steps they use.
#[derive(Default)]
pub struct Graph {
    pub(crate) nodes: Vec<Node>,
}

pub(crate) struct Node {
    pub(crate) step: Arc<dyn Step>,
    pub(crate) deps: Vec<usize>,
    pub(crate) later: Vec<usize>,
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
