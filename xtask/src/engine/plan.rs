//! Keys and statuses without side effects: what would run, and why it is not cached.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use serde::Serialize;

use crate::engine::graph::Graph;
use crate::engine::inputs::{key_of, Input, InputKind};
use crate::engine::manifest::last_manifest;
use crate::engine::StepContext;

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
    /// The subset of `deps` the step may start without (see [`crate::engine::StepRef::later`]).
    #[serde(skip)]
    pub later: Vec<usize>,
}

/// Computes keys and statuses without side effects.
pub fn plan<C: StepContext>(cx: &C, graph: &Graph<C>) -> Result<Vec<Planned>> {
    let store = &cx.engine().store;
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
            match last_manifest(store, &name) {
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

/// Why `new` differs from `old`, one line per input that changed, came or went.
pub fn diff_inputs(old: &[Input], new: &[Input]) -> Vec<String> {
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
