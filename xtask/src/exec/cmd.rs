//! A command to run: program, arguments, directory, environment. How it runs (into a
//! step's log, captured, in the foreground) is [`crate::exec::run`]'s business.

use std::path::PathBuf;

/// A command to run: program, arguments, directory, environment.
#[derive(Debug, Clone)]
pub struct Cmd {
    pub program: String,
    pub args: Vec<String>,
    pub dir: Option<PathBuf>,
    pub env: Vec<(String, String)>,
    /// Start from an empty environment: `env` is all the command gets.
    pub clear_env: bool,
    /// A file the command reads as its standard input (otherwise it reads nothing).
    pub stdin: Option<PathBuf>,
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
            clear_env: false,
            stdin: None,
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
    /// Sets several variables (after those set so far).
    pub fn envs<I, K, V>(mut self, vars: I) -> Cmd
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: AsRef<std::ffi::OsStr>,
    {
        for (k, v) in vars {
            self = self.env(k, v);
        }
        self
    }
    /// Only the variables set with [`Cmd::env`]/[`Cmd::envs`], none of alpinist's.
    pub fn env_clear(mut self) -> Cmd {
        self.clear_env = true;
        self
    }
    /// Standard input from a file.
    pub fn stdin_file(mut self, p: impl Into<PathBuf>) -> Cmd {
        self.stdin = Some(p.into());
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
