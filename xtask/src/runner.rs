//! The one wrapper every external command goes through.
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

use crate::progress::StepBar;
use crate::step::Input;

/// A command to run: program, arguments, directory, environment.
#[derive(Debug, Clone)]
pub struct Cmd {
    pub program: String,
    pub args: Vec<String>,
    pub dir: Option<PathBuf>,
    pub env: Vec<(String, String)>,
    /// Give the command a share of the global make jobserver.
    pub jobserver: bool,
    /// A short name for messages (the log always has the full command line).
    pub label: Option<String>,
}

impl Cmd {
    pub fn new(program: impl Into<String>) -> Cmd {
        Cmd {
            program: program.into(),
            args: Vec::new(),
            dir: None,
            env: Vec::new(),
            jobserver: false,
            label: None,
        }
    }
    pub fn label(mut self, l: impl Into<String>) -> Cmd {
        self.label = Some(l.into());
        self
    }
    pub fn arg(mut self, a: impl AsRef<std::ffi::OsStr>) -> Cmd {
        self.args.push(a.as_ref().to_string_lossy().into_owned());
        self
    }
    pub fn args<I, S>(mut self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        for a in args {
            self.args.push(a.as_ref().to_string_lossy().into_owned());
        }
        self
    }
    pub fn dir(mut self, d: impl Into<PathBuf>) -> Cmd {
        self.dir = Some(d.into());
        self
    }
    pub fn env(mut self, k: impl Into<String>, v: impl AsRef<std::ffi::OsStr>) -> Cmd {
        self.env
            .push((k.into(), v.as_ref().to_string_lossy().into_owned()));
        self
    }
    /// For `make`: share the machine's cores with every other running step.
    pub fn jobserver(mut self) -> Cmd {
        self.jobserver = true;
        self
    }
    pub fn display(&self) -> String {
        let mut s = self.program.clone();
        for a in &self.args {
            s.push(' ');
            if a.is_empty() || a.contains(|c: char| c.is_whitespace() || "'\"$`\\".contains(c)) {
                s.push('\'');
                s.push_str(&a.replace('\'', "'\\''"));
                s.push('\'');
            } else {
                s.push_str(a);
            }
        }
        s
    }
}

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

    /// The step's key and inputs, then the environment alpinist runs in.
    pub fn header(&self, key: &str, inputs: &[Input]) -> Result<()> {
        let mut f = self.file.lock().expect("log lock");
        writeln!(f, "# alpinist step {} (key {key})", self.step)?;
        for i in inputs {
            writeln!(f, "# input {} {} = {}", i.kind, i.name, i.value)?;
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
        children::register(&groups);
        let output = handle.wait().cloned();
        children::unregister(&groups);
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

/// The process groups of the commands running now, so that a signal that stops alpinist
/// stops them too ([`children::forward_signals`]). Commands run in their own groups, so a
/// terminal's Ctrl-C reaches only alpinist, which passes it on.
pub mod children {
    use std::collections::BTreeSet;
    use std::sync::atomic::{AtomicI32, Ordering};
    use std::sync::Mutex;

    static GROUPS: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());

    pub fn register(pids: &[u32]) {
        GROUPS.lock().expect("groups").extend(pids.iter().copied());
    }

    pub fn unregister(pids: &[u32]) {
        let mut g = GROUPS.lock().expect("groups");
        for p in pids {
            g.remove(p);
        }
    }

    /// Sends `sig` to every running command's process group.
    pub fn signal_all(sig: i32) -> usize {
        let g = GROUPS.lock().expect("groups");
        for &pgid in g.iter() {
            // SAFETY: kill(2) with a negative pid signals a process group; no memory is
            // involved.
            unsafe {
                libc::kill(-(pgid as i32), sig);
            }
        }
        g.len()
    }

    /// Installs a thread that, on SIGINT, SIGTERM or SIGHUP, stops every running command
    /// (SIGTERM, then SIGKILL after two seconds) and exits with 128 + the signal. What
    /// was built stays in the store; unfinished steps start over on the next run.
    pub fn forward_signals() {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
            return;
        };
        std::thread::spawn(move || {
            if let Some(sig) = signals.forever().next() {
                STOPPING.store(sig, Ordering::SeqCst);
                let n = signal_all(libc::SIGTERM);
                if n > 0 {
                    eprintln!(
                        "\nalpinist: stopping {n} running command(s); finished steps stay cached, \
                         unfinished ones start over next time"
                    );
                    // Commands leave the registry as they are reaped.
                    for _ in 0..20 {
                        if GROUPS.lock().expect("groups").is_empty() {
                            break;
                        }
                        std::thread::sleep(std::time::Duration::from_millis(100));
                    }
                    signal_all(libc::SIGKILL);
                }
                std::process::exit(128 + sig);
            }
        });
    }

    static STOPPING: AtomicI32 = AtomicI32::new(0);

    /// True once a stop signal arrived: commands failing now were killed, not broken.
    pub fn stopping() -> bool {
        STOPPING.load(Ordering::SeqCst) != 0
    }

    /// When a stop signal arrived, blocks until the signal thread ends the process (with
    /// 128 + the signal), so that the main thread, seeing its commands fail, does not
    /// exit first with another status.
    pub fn wait_if_stopping() {
        if stopping() {
            loop {
                std::thread::sleep(std::time::Duration::from_secs(1));
            }
        }
    }
}
