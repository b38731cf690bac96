//! The runner: how every child process of alpinist is started and waited for.
//!
//! A command runs in a process group of its own, registered while it runs, so that a
//! signal that stops alpinist stops it and everything it started ([`super::signals`]);
//! its standard input is empty unless it is given a file. The ways to run one:
//! into a step's log ([`super::StepLog::run`]), with its output captured
//! ([`Cmd::output`], [`Cmd::output_combined`]), silently ([`Cmd::status_quiet`]), into a
//! file ([`Cmd::run_to_file`]); and, for what a person uses at the terminal (a shell,
//! `cargo test`, apt-get), in the foreground ([`Cmd::run_foreground`]).

use std::path::Path;
use std::process::{ExitStatus, Output};

use anyhow::{bail, Context as _, Result};

use crate::exec::cmd::Cmd;
use crate::exec::signals;

impl Cmd {
    /// The command as a duct expression: program, arguments, directory, environment,
    /// standard input, and the jobserver's descriptors when asked for.
    fn expression(&self, jobserver: Option<&jobserver::Client>) -> duct::Expression {
        let mut expr = duct::cmd(&self.program, &self.args).unchecked();
        if let Some(d) = &self.dir {
            expr = expr.dir(d);
        }
        if self.clear_env {
            expr = expr.full_env(self.env.iter().cloned());
        } else {
            for (k, v) in &self.env {
                expr = expr.env(k, v);
            }
        }
        if let Some(client) = jobserver.filter(|_| self.jobserver).cloned() {
            expr = expr.before_spawn(move |c| {
                client.configure_make(c);
                Ok(())
            });
        }
        expr
    }

    /// The expression for a command that runs in its own process group, reading its
    /// standard input from its file or from nothing.
    pub(crate) fn background(&self, jobserver: Option<&jobserver::Client>) -> duct::Expression {
        let expr = self.expression(jobserver);
        let expr = match &self.stdin {
            Some(p) => expr.stdin_path(p),
            None => expr.stdin_null(),
        };
        // Each command gets its own process group, so that everything it starts (make's
        // compilers, a recipe's shell) can be stopped together when alpinist is.
        expr.before_spawn(|c| {
            use std::os::unix::process::CommandExt;
            c.process_group(0);
            Ok(())
        })
    }

    fn could_not_start(&self) -> String {
        format!(
            "could not start `{}` (is it installed? see `cargo xtask setup`)",
            self.program
        )
    }

    /// Runs it with standard output and error captured apart; any exit status.
    pub fn output(&self) -> Result<Output> {
        let expr = self.background(None).stdout_capture().stderr_capture();
        wait_registered(expr).with_context(|| self.could_not_start())
    }

    /// Runs it with standard error joined to standard output, captured; any exit status.
    pub fn output_combined(&self) -> Result<Output> {
        let expr = self.background(None).stderr_to_stdout().stdout_capture();
        wait_registered(expr).with_context(|| self.could_not_start())
    }

    /// Runs it with its output thrown away; any exit status.
    pub fn status_quiet(&self) -> Result<ExitStatus> {
        let expr = self.background(None).stdout_null().stderr_null();
        Ok(wait_registered(expr)
            .with_context(|| self.could_not_start())?
            .status)
    }

    /// Runs it with standard output written to `path`; fails unless it succeeds, with
    /// its standard error in the message (kept out of the progress display otherwise:
    /// `git archive` warns about unrelated damage in a checkout's index and succeeds).
    pub fn run_to_file(&self, path: &Path) -> Result<()> {
        let expr = self.background(None).stdout_path(path).stderr_capture();
        let out = wait_registered(expr).with_context(|| self.could_not_start())?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            let err = err.trim();
            if err.is_empty() {
                bail!("`{}` failed ({})", self.display(), out.status);
            }
            bail!("`{}` failed ({}): {err}", self.display(), out.status);
        }
        Ok(())
    }

    /// Runs it in the foreground: the terminal's standard input, output and error, and
    /// alpinist's process group, so a person can use it (a shell, `cargo test`). The
    /// jobserver's descriptors go with it when it asks for them. Any exit status.
    pub fn run_foreground(&self, jobserver: Option<&jobserver::Client>) -> Result<ExitStatus> {
        let expr = self.expression(jobserver);
        Ok(expr.run().with_context(|| self.could_not_start())?.status)
    }
}

/// Starts `expr` (whose processes lead groups of their own), registers the groups while
/// they run, and waits.
pub(crate) fn wait_registered(expr: duct::Expression) -> std::io::Result<Output> {
    let handle = expr.start()?;
    let groups: Vec<u32> = handle.pids();
    signals::register(&groups);
    let output = handle.wait().cloned();
    signals::unregister(&groups);
    output
}

/// `MAKEFLAGS` that hand out jobs from `client` (for a command whose environment is set
/// explicitly; it must also be marked [`Cmd::jobserver`] so the descriptors are
/// inherited).
pub fn jobserver_makeflags(client: &jobserver::Client) -> Option<String> {
    let mut probe = std::process::Command::new("true");
    client.configure_make(&mut probe);
    probe
        .get_envs()
        .find(|(k, _)| *k == "MAKEFLAGS")
        .and_then(|(_, v)| v)
        .map(|v| v.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_to_file_keeps_stderr_for_the_error_only() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("out");
        Cmd::new("sh")
            .args(["-c", "echo out; echo noise >&2"])
            .run_to_file(&f)
            .unwrap();
        assert_eq!(std::fs::read_to_string(&f).unwrap(), "out\n");
        let e = Cmd::new("sh")
            .args(["-c", "echo why >&2; exit 3"])
            .run_to_file(&f)
            .unwrap_err();
        let msg = format!("{e:#}");
        assert!(msg.contains("why"), "{msg}");
    }
}
