//! The one bubblewrap command line: recipes build in it, `cargo xtask shell` opens a
//! shell in the same one, and a root filesystem's scripts and checks run in another made
//! the same way.
//!
//! Options are kept in the order they are given: bubblewrap mounts in that order, so a
//! later mount (a directory under /tmp) shows through an earlier one (the private /tmp).

use std::path::Path;

use crate::exec::cmd::Cmd;

/// A bubblewrap sandbox being described; [`Sandbox::command`] makes it a [`Cmd`].
#[derive(Debug, Clone)]
pub struct Sandbox {
    args: Vec<String>,
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

impl Sandbox {
    /// The host as `/`, read-only, with its own /dev, /proc and an empty /tmp, and its
    /// own pid, IPC and host-name namespaces; ends with alpinist.
    pub fn host() -> Sandbox {
        let args = [
            "--die-with-parent",
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-uts",
            "--ro-bind",
            "/",
            "/",
            "--dev",
            "/dev",
            "--proc",
            "/proc",
            "--tmpfs",
            "/tmp",
        ];
        Sandbox {
            args: args.iter().map(|a| a.to_string()).collect(),
        }
    }

    /// A root filesystem as `/`, writable, with its own /dev, /proc and /run, and its own
    /// pid namespace (and no network when `no_net`); ends with alpinist.
    pub fn root(root: &Path, no_net: bool) -> Sandbox {
        let mut sb = Sandbox {
            args: vec!["--bind".into(), s(root), "/".into()],
        };
        if no_net {
            sb = sb.no_net();
        }
        let rest = [
            "--dev",
            "/dev",
            "--proc",
            "/proc",
            "--tmpfs",
            "/run",
            "--unshare-pid",
            "--die-with-parent",
        ];
        sb.args.extend(rest.iter().map(|a| a.to_string()));
        sb
    }

    fn push(mut self, args: &[&str]) -> Sandbox {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    /// `from` visible read-only at `to`.
    pub fn ro_bind(self, from: &Path, to: &str) -> Sandbox {
        self.push(&["--ro-bind", &s(from), to])
    }
    /// `dir` visible and writable at the same path.
    pub fn bind(self, dir: &Path) -> Sandbox {
        let d = s(dir);
        self.push(&["--bind", &d, &d])
    }
    /// The directory the command starts in.
    /// The host name inside (the sandbox has its own UTS namespace).
    pub fn hostname(mut self, name: &str) -> Sandbox {
        self.args
            .extend(["--hostname".to_string(), name.to_string()]);
        self
    }

    pub fn chdir(self, dir: &str) -> Sandbox {
        self.push(&["--chdir", dir])
    }
    /// None of alpinist's environment: only the variables set with [`Sandbox::setenv`].
    pub fn clear_env(self) -> Sandbox {
        self.push(&["--clearenv"])
    }
    /// No network.
    pub fn no_net(self) -> Sandbox {
        self.push(&["--unshare-net"])
    }
    pub fn setenv(self, k: &str, v: &str) -> Sandbox {
        self.push(&["--setenv", k, v])
    }
    pub fn setenvs(self, env: &[(String, String)]) -> Sandbox {
        env.iter().fold(self, |sb, (k, v)| sb.setenv(k, v))
    }

    /// The command `argv` inside the sandbox.
    pub fn command<S: AsRef<str>>(self, argv: &[S]) -> Cmd {
        Cmd::new("bwrap")
            .args(self.args)
            .arg("--")
            .args(argv.iter().map(|a| a.as_ref()))
    }
}
