//! Running a plan: every step that is not cached, dependencies first, up to
//! `cx.parallel` at once.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::Duration;

use anyhow::{bail, Result};
use serde::Serialize;

use crate::context::Context;
use crate::engine::graph::Graph;
use crate::engine::plan::{plan, Planned, Status};
use crate::engine::store::{build_one, empty_trash};

/// Step outcomes shared with running steps that wait for a "later" dependency.
pub(crate) struct Board {
    pub(crate) outcomes: Mutex<Vec<Option<Outcome>>>,
    pub(crate) changed: Condvar,
}

/// How one step ended in an [`execute`] run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Cached,
    Built,
    Failed(String),
    /// Not run because a step it uses failed.
    Skipped(String),
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub name: String,
    pub key: String,
    pub outcome: Outcome,
    pub seconds: f64,
    pub out: PathBuf,
}

/// Runs every step of the plan that is not cached, dependencies first, up to
/// `cx.parallel` at once. Returns one report per step, in plan order.
pub fn execute(cx: &Context, graph: &Graph, planned: &[Planned]) -> Result<Vec<Report>> {
    let n = planned.len();
    let mut outcome: Vec<Option<Outcome>> = vec![None; n];
    let mut seconds = vec![0.0f64; n];
    let total = planned
        .iter()
        .filter(|p| p.status != Status::Cached)
        .count();
    let progress = cx.progress.start_run(total);
    empty_trash(cx);
    let mut started = vec![false; n];
    let mut running = 0usize;
    let mut failed_any = false;
    let (tx, rx) = mpsc::channel::<(usize, Result<f64>)>();
    let board = Arc::new(Board {
        outcomes: Mutex::new(vec![None; n]),
        changed: Condvar::new(),
    });
    let publish = |outcome: &[Option<Outcome>]| {
        let mut o = board.outcomes.lock().expect("board lock");
        o.clone_from_slice(outcome);
        board.changed.notify_all();
    };

    std::thread::scope(|scope| -> Result<()> {
        loop {
            // Settle steps whose fate is known without running them.
            for i in 0..n {
                if started[i] {
                    continue;
                }
                let p = &planned[i];
                if let Some(bad) = p.deps.iter().find(|&&d| {
                    matches!(
                        outcome[d],
                        Some(Outcome::Failed(_)) | Some(Outcome::Skipped(_))
                    )
                }) {
                    started[i] = true;
                    outcome[i] = Some(Outcome::Skipped(planned[*bad].name.clone()));
                    continue;
                }
                if p.out.is_dir() && p.deps.iter().all(|&d| outcome[d].is_some()) {
                    started[i] = true;
                    outcome[i] = Some(Outcome::Cached);
                }
            }
            let may_start = !failed_any || cx.keep_going;
            for i in 0..n {
                if running >= cx.parallel.max(1) || !may_start {
                    break;
                }
                if started[i] {
                    continue;
                }
                let p = &planned[i];
                // "later" dependencies must have started, so that a waiting step can
                // never hold the slot its dependency needs.
                let ready = p.deps.iter().all(|&d| {
                    matches!(outcome[d], Some(Outcome::Built) | Some(Outcome::Cached))
                        || (p.later.contains(&d) && started[d])
                });
                if !ready {
                    continue;
                }
                started[i] = true;
                running += 1;
                let tx = tx.clone();
                let step = graph.nodes[i].step.clone();
                let p = planned[i].clone();
                let deps: BTreeMap<String, PathBuf> = planned[i]
                    .deps
                    .iter()
                    .map(|&d| (planned[d].name.clone(), planned[d].out.clone()))
                    .collect();
                let later: BTreeMap<String, usize> = planned[i]
                    .later
                    .iter()
                    .map(|&d| (planned[d].name.clone(), d))
                    .collect();
                let later = (!later.is_empty()).then(|| (board.clone(), later));
                let progress = progress.clone();
                scope.spawn(move || {
                    let r = build_one(cx, step.as_ref(), &p, deps, later, &progress);
                    let _ = tx.send((i, r));
                });
            }
            publish(&outcome);
            if running == 0 {
                break;
            }
            let (i, r) = rx.recv().expect("a step thread always reports");
            running -= 1;
            match r {
                Ok(secs) => {
                    seconds[i] = secs;
                    outcome[i] = Some(Outcome::Built);
                }
                Err(e) => {
                    failed_any = true;
                    outcome[i] = Some(Outcome::Failed(format!("{e:#}")));
                }
            }
        }
        Ok(())
    })?;
    progress.finish();
    Ok(planned
        .iter()
        .enumerate()
        .map(|(i, p)| Report {
            name: p.name.clone(),
            key: p.key.clone(),
            outcome: outcome[i].clone().unwrap_or(Outcome::Skipped(
                "an earlier step failed (use --keep-going to build everything possible)".into(),
            )),
            seconds: seconds[i],
            out: p.out.clone(),
        })
        .collect())
}

/// Runs a graph: plans, executes, prints the summary, and fails if any step failed.
pub fn run_graph(cx: &Context, graph: &Graph) -> Result<Vec<Report>> {
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
