//! A step's log, and the runner every command of a step goes through.
//!
//! Each step has a log file (`build/logs/<step>-<key>.log`) that records, for every
//! command, the directory, the environment it changed and the command line, followed by
//! the command's output. A failing command becomes an error that names the step, the
//! command and its exit status, and shows the last 30 lines of the log and its path.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context as _, Result};

use crate::exec::cmd::Cmd;
use crate::exec::progress::StepBar;
use crate::exec::signals;

/// A step's log file, plus its progress line.
#[derive(Clone)]
pub struct StepLog {
    path: PathBuf,
    step: String,
    file: Arc<Mutex<File>>,
    bar: StepBar,
    jobserver: Option<jobserver::Client>,
}

impl StepLog {
    pub fn create(
        path: &Path,
        step: &str,
        bar: StepBar,
        jobserver: Option<jobserver::Client>,
    ) -> Result<StepLog> {
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(path)
            .with_context(|| format!("creating log {}", path.display()))?;
        Ok(StepLog {
            path: path.to_path_buf(),
            step: step.to_string(),
            file: Arc::new(Mutex::new(file)),
            bar,
            jobserver,
        })
    }

    /// The step's key and inputs (`kind name = value`, one each), then the environment
    /// alpinist runs in.
    pub fn header(&self, key: &str, inputs: impl IntoIterator<Item = String>) -> Result<()> {
        let mut f = self.file.lock().expect("log lock");
        writeln!(f, "# alpinist step {} (key {key})", self.step)?;
        for i in inputs {
            writeln!(f, "# input {i}")?;
        }
        writeln!(f, "# environment:")?;
        let mut vars: Vec<(String, String)> =
            std::env::vars().filter(|(k, _)| !looks_secret(k)).collect();
        vars.sort();
        for (k, v) in vars {
            writeln!(f, "#   {k}={v}")?;
        }
        Ok(())
    }

    pub fn line(&self, s: &str) -> Result<()> {
        let mut f = self.file.lock().expect("log lock");
        writeln!(f, "{s}")?;
        Ok(())
    }

    /// Tells the progress display (and the log) what the step does now.
    pub fn status(&self, msg: &str) {
        self.bar.set_message(&self.step, msg);
        let _ = self.line(&format!("### {msg}"));
    }

    /// Runs a command with its output appended to the log; fails with the log's tail.
    pub fn run(&self, cmd: &Cmd) -> Result<()> {
        {
            let mut f = self.file.lock().expect("log lock");
            writeln!(
                f,
                "\n$ cd {}",
                cmd.dir.as_deref().unwrap_or(Path::new(".")).display()
            )?;
            for (k, v) in &cmd.env {
                writeln!(f, "$ export {k}={v}")?;
            }
            writeln!(f, "$ {}", cmd.display())?;
            f.flush()?;
        }
        let out = self.file.lock().expect("log lock").try_clone()?;
        let mut expr = duct::cmd(&cmd.program, &cmd.args)
            .stdin_null()
            .stderr_to_stdout()
            .stdout_file(out)
            .unchecked();
        if let Some(d) = &cmd.dir {
            expr = expr.dir(d);
        }
        for (k, v) in &cmd.env {
            expr = expr.env(k, v);
        }
        if cmd.jobserver {
            if let Some(client) = self.jobserver.clone() {
                expr = expr.before_spawn(move |c| {
                    client.configure_make(c);
                    Ok(())
                });
            }
        }
        // Each command gets its own process group, so that everything it starts (make's
        // compilers, a recipe's shell) can be stopped together when alpinist is.
        expr = expr.before_spawn(|c| {
            use std::os::unix::process::CommandExt;
            c.process_group(0);
            Ok(())
        });
        let could_not_start = || {
            format!(
                "step {}: could not start `{}` (is it installed? see `cargo xtask setup`)",
                self.step, cmd.program
            )
        };
        let handle = expr.start().with_context(could_not_start)?;
        let groups: Vec<u32> = handle.pids();
        signals::register(&groups);
        let output = handle.wait().cloned();
        signals::unregister(&groups);
        let output = output.with_context(could_not_start)?;
        if output.status.success() {
            return Ok(());
        }
        let code = match output.status.code() {
            Some(c) => format!("exit code {c}"),
            None => "killed by a signal".to_string(),
        };
        bail!(
            "step {} failed: `{}` ended with {code}\n--- last 30 lines of {} ---\n{}\n--- full log: {} ---",
            self.step,
            cmd.label.clone().unwrap_or_else(|| cmd.display()),
            self.path.display(),
            tail(&self.path, 30),
            self.path.display()
        )
    }
}

fn looks_secret(k: &str) -> bool {
    let k = k.to_ascii_uppercase();
    [
        "TOKEN", "SECRET", "PASSWORD", "PASSWD", "API_KEY", "PRIVATE",
    ]
    .iter()
    .any(|s| k.contains(s))
}

/// The last `n` lines of a file.
pub fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read(path).unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The last `n` lines of a string.
pub fn tail_str(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
