//! Progress display: one line per running step with its elapsed time and a done/total
//! counter when stderr is a terminal; plain, timestamped lines otherwise (CI logs).

use std::io::IsTerminal;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Clone)]
pub struct Progress {
    fancy: bool,
}

impl Progress {
    pub fn new(quiet: bool) -> Progress {
        Progress {
            fancy: !quiet && std::io::stderr().is_terminal(),
        }
    }

    pub fn start_run(&self, total: usize) -> RunProgress {
        let multi = if self.fancy {
            Some(MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))
        } else {
            None
        };
        let overall = multi.as_ref().map(|m| {
            let b = m.add(ProgressBar::new(total as u64));
            b.set_style(
                ProgressStyle::with_template(
                    "{prefix:.bold} [{elapsed_precise}] {pos}/{len} steps",
                )
                .expect("valid template"),
            );
            b.set_prefix("alpinist");
            b.enable_steady_tick(Duration::from_millis(500));
            b
        });
        RunProgress(Arc::new(RunInner {
            multi,
            overall,
            total,
            done: AtomicUsize::new(0),
            t0: Instant::now(),
        }))
    }
}

struct RunInner {
    multi: Option<MultiProgress>,
    overall: Option<ProgressBar>,
    total: usize,
    done: AtomicUsize,
    t0: Instant,
}

#[derive(Clone)]
pub struct RunProgress(Arc<RunInner>);

impl RunProgress {
    pub fn start_step(&self, name: &str) -> StepBar {
        let bar = self.0.multi.as_ref().map(|m| {
            let b = m.insert_before(
                self.0.overall.as_ref().expect("overall bar with multi"),
                ProgressBar::new_spinner(),
            );
            b.set_style(
                ProgressStyle::with_template("  {spinner} {prefix:<24} {elapsed:>6}  {wide_msg}")
                    .expect("valid template"),
            );
            b.set_prefix(name.to_string());
            b.enable_steady_tick(Duration::from_millis(200));
            b
        });
        if bar.is_none() {
            self.plain(&format!("start {name}"));
        }
        StepBar {
            bar,
            run: self.clone(),
        }
    }

    pub fn message(&self, msg: &str) {
        match &self.0.multi {
            Some(m) => {
                let _ = m.println(msg);
            }
            None => self.plain(msg),
        }
    }

    fn plain(&self, msg: &str) {
        eprintln!("[{:>7}] {msg}", hms(self.0.t0.elapsed()));
    }

    fn step_done(&self) -> usize {
        if let Some(o) = &self.0.overall {
            o.inc(1);
        }
        self.0.done.fetch_add(1, Ordering::SeqCst) + 1
    }

    pub fn finish(&self) {
        if let Some(o) = &self.0.overall {
            o.finish_and_clear();
        }
    }
}

#[derive(Clone)]
pub struct StepBar {
    bar: Option<ProgressBar>,
    run: RunProgress,
}

impl StepBar {
    /// What the step is doing now (the command it runs).
    pub fn set_message(&self, name: &str, msg: &str) {
        match &self.bar {
            Some(b) => b.set_message(msg.to_string()),
            None => self.run.plain(&format!("{name}: {msg}")),
        }
    }
    pub fn finish_ok(&self, name: &str, took: Duration) {
        let n = self.run.step_done();
        let line = format!("[{n}/{}] built {name} in {}", self.run.0.total, hms(took));
        self.end(&line);
    }
    pub fn finish_failed(&self, name: &str, took: Duration) {
        let n = self.run.step_done();
        let line = format!(
            "[{n}/{}] FAILED {name} after {}",
            self.run.0.total,
            hms(took)
        );
        self.end(&line);
    }
    fn end(&self, line: &str) {
        match &self.bar {
            Some(b) => {
                b.finish_and_clear();
                self.run.message(line);
            }
            None => self.run.plain(line),
        }
    }
}

/// `1h02m03s`, `4m05s`, `6.2s`.
pub fn hms(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h{:02}m{:02}s", s / 3600, (s / 60) % 60, s % 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}
