//! Running a plan: every step that is not cached, dependencies first, up to
//! [`Engine::parallel`] at once.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::Duration;

use anyhow::{bail, Result};
use serde::Serialize;

use crate::engine::graph::Graph;
use crate::engine::outcome::{Board, Outcome};
use crate::engine::plan::{plan, Planned, Status};
use crate::engine::step::Dep;
use crate::engine::store::{build_one, empty_trash};
use crate::engine::{Engine, StepContext};

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub name: String,
    pub key: String,
    pub outcome: Outcome,
    pub seconds: f64,
    pub out: PathBuf,
}

/// Runs every step of the plan that is not cached, dependencies first, up to
/// `parallel` at once. Returns one report per step, in plan order.
pub fn execute<C: StepContext>(
    cx: &C,
    graph: &Graph<C>,
    planned: &[Planned],
) -> Result<Vec<Report>> {
    let engine = cx.engine();
    let total = planned
        .iter()
        .filter(|p| p.status != Status::Cached)
        .count();
    let progress = engine.progress.start_run(total);
    empty_trash(engine);
    let mut s = State::new(planned.len());
    let (tx, rx) = mpsc::channel::<(usize, Result<f64>)>();
    let board = Arc::new(Board {
        outcomes: Mutex::new(vec![None; planned.len()]),
        changed: Condvar::new(),
    });
    std::thread::scope(|scope| loop {
        s.settle(planned);
        while let Some(i) = s.next_ready(planned, engine) {
            s.started[i] = true;
            s.running += 1;
            let (tx, board, progress) = (tx.clone(), board.clone(), progress.clone());
            let step = graph.nodes[i].step.clone();
            let p = planned[i].clone();
            let deps = deps_of(planned, i);
            scope.spawn(move || {
                let r = build_one(cx, step.as_ref(), &p, deps, board, &progress);
                let _ = tx.send((i, r));
            });
        }
        board.publish(&s.outcome);
        if s.running == 0 {
            break;
        }
        let (i, r) = rx.recv().expect("a step thread always reports");
        s.finished(i, r);
    });
    progress.finish();
    Ok(s.reports(planned))
}

/// The steps step `i` uses, as it sees them while it runs.
fn deps_of(planned: &[Planned], i: usize) -> BTreeMap<usize, Dep> {
    planned[i]
        .deps
        .iter()
        .map(|&d| {
            let dep = Dep {
                name: planned[d].name.clone(),
                out: planned[d].out.clone(),
                later: planned[i].later.contains(&d),
            };
            (d, dep)
        })
        .collect()
}

/// Where an [`execute`] run is.
struct State {
    outcome: Vec<Option<Outcome>>,
    seconds: Vec<f64>,
    started: Vec<bool>,
    running: usize,
    failed_any: bool,
}

impl State {
    fn new(n: usize) -> State {
        State {
            outcome: vec![None; n],
            seconds: vec![0.0; n],
            started: vec![false; n],
            running: 0,
            failed_any: false,
        }
    }

    /// Settles the steps whose fate is known without running them: skipped after a
    /// failed dependency, or cached once their dependencies are settled.
    fn settle(&mut self, planned: &[Planned]) {
        for (i, p) in planned.iter().enumerate() {
            if self.started[i] {
                continue;
            }
            let bad = p.deps.iter().find(|&&d| {
                matches!(
                    self.outcome[d],
                    Some(Outcome::Failed(_)) | Some(Outcome::Skipped(_))
                )
            });
            if let Some(&bad) = bad {
                self.started[i] = true;
                self.outcome[i] = Some(Outcome::Skipped(planned[bad].name.clone()));
                continue;
            }
            if p.out.is_dir() && p.deps.iter().all(|&d| self.outcome[d].is_some()) {
                self.started[i] = true;
                self.outcome[i] = Some(Outcome::Cached);
            }
        }
    }

    /// The first step that may start now, if a slot is free.
    fn next_ready(&self, planned: &[Planned], engine: &Engine) -> Option<usize> {
        let may_start = !self.failed_any || engine.keep_going;
        if self.running >= engine.parallel.max(1) || !may_start {
            return None;
        }
        (0..planned.len()).find(|&i| {
            let p = &planned[i];
            // "later" dependencies must have started, so that a waiting step can never
            // hold the slot its dependency needs.
            !self.started[i]
                && p.deps.iter().all(|&d| {
                    matches!(
                        self.outcome[d],
                        Some(Outcome::Built) | Some(Outcome::Cached)
                    ) || (p.later.contains(&d) && self.started[d])
                })
        })
    }

    fn finished(&mut self, i: usize, r: Result<f64>) {
        self.running -= 1;
        match r {
            Ok(secs) => {
                self.seconds[i] = secs;
                self.outcome[i] = Some(Outcome::Built);
            }
            Err(e) => {
                self.failed_any = true;
                self.outcome[i] = Some(Outcome::Failed(format!("{e:#}")));
            }
        }
    }

    fn reports(self, planned: &[Planned]) -> Vec<Report> {
        planned
            .iter()
            .enumerate()
            .map(|(i, p)| Report {
                name: p.name.clone(),
                key: p.key.clone(),
                outcome: self.outcome[i].clone().unwrap_or(Outcome::Skipped(
                    "an earlier step failed (use --keep-going to build everything possible)".into(),
                )),
                seconds: self.seconds[i],
                out: p.out.clone(),
            })
            .collect()
    }
}

/// Runs a graph: plans, executes, prints the summary, and fails if any step failed.
pub fn run_graph<C: StepContext>(cx: &C, graph: &Graph<C>) -> Result<Vec<Report>> {
    let planned = plan(cx, graph)?;
    let reports = execute(cx, graph, &planned)?;
    print_summary(&reports);
    let failed: Vec<&Report> = reports
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Failed(_)))
        .collect();
    if let Some(first) = failed.first() {
        if let Outcome::Failed(msg) = &first.outcome {
            bail!("{msg}");
        }
    }
    Ok(reports)
}

pub fn print_summary(reports: &[Report]) {
    let w = reports
        .iter()
        .map(|r| r.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    eprintln!("\n{:w$}  {:8}  {:>9}  output", "step", "result", "time");
    for r in reports {
        let (what, extra) = match &r.outcome {
            Outcome::Cached => ("cached", String::new()),
            Outcome::Built => ("built", String::new()),
            Outcome::Failed(_) => ("FAILED", String::new()),
            Outcome::Skipped(why) => ("skipped", format!(" (needs {why})")),
        };
        eprintln!(
            "{:w$}  {:8}  {:>9}  {}{}",
            r.name,
            what,
            if r.seconds > 0.0 {
                crate::exec::progress::hms(Duration::from_secs_f64(r.seconds))
            } else {
                "-".into()
            },
            r.out.display(),
            extra
        );
    }
}
