//! A command to run: program, arguments, directory, environment.

use std::path::PathBuf;

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
