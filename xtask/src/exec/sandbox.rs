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
    /// `/` is bubblewrap's own and is made read-only after every mount is in place.
    read_only_root: bool,
    /// Run under the 32-bit personality (`setarch linux32`): `uname -m` says i686 (or
    /// armv8l), as on the 32-bit arch's own machines.
    linux32: bool,
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

impl Sandbox {
    /// The host's directories at their own paths, read-only, with its own /dev, /proc
    /// and an empty /tmp, and its own pid, IPC and host-name namespaces; ends with
    /// alpinist.
    ///
    /// `/` itself is bubblewrap's own (read-only once the command starts, see
    /// [`Sandbox::command`]) with the host's top-level directories, files and links in it,
    /// so [`Sandbox::bind_at`] can add directories the host does not have (a build tree
    /// at one fixed path, whatever the checkout or cache directory).
    pub fn host() -> Sandbox {
        let mut args: Vec<String> = [
            "--die-with-parent",
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-uts",
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        args.extend(host_top_level(Path::new("/")));
        let rest = ["--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"];
        args.extend(rest.iter().map(|a| a.to_string()));
        Sandbox {
            args,
            read_only_root: true,
            linux32: false,
        }
    }

    /// A root filesystem as `/`, writable, with its own /dev, /proc and /run, and its own
    /// pid namespace (and no network when `no_net`); ends with alpinist.
    pub fn root(root: &Path, no_net: bool) -> Sandbox {
        let mut sb = Sandbox {
            args: vec!["--bind".into(), s(root), "/".into()],
            read_only_root: false,
            linux32: false,
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
    /// `from` visible and writable at `to`.
    pub fn bind_at(self, from: &Path, to: &str) -> Sandbox {
        self.push(&["--bind", &s(from), to])
    }
    /// Runs as uid and gid `id` inside (a user namespace of its own).
    pub fn user(self, id: &str) -> Sandbox {
        self.push(&["--unshare-user", "--uid", id, "--gid", id])
    }
    /// The host name inside (the sandbox has its own UTS namespace).
    pub fn hostname(mut self, name: &str) -> Sandbox {
        self.args
            .extend(["--hostname".to_string(), name.to_string()]);
        self
    }
    /// The directory the command starts in.
    pub fn chdir(self, dir: &str) -> Sandbox {
        self.push(&["--chdir", dir])
    }
    /// None of alpinist's environment: only the variables set with [`Sandbox::setenv`].
    pub fn clear_env(self) -> Sandbox {
        self.push(&["--clearenv"])
    }
    /// Everything inside runs under the 32-bit personality (`setarch linux32`), for a
    /// 32-bit arch whose programs a 64-bit kernel runs directly ([`Arch::wants_linux32`]).
    ///
    /// [`Arch::wants_linux32`]: crate::config::arch::Arch::wants_linux32
    pub fn linux32(mut self, on: bool) -> Sandbox {
        self.linux32 = on;
        self
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

    /// `cmd` run inside the sandbox: its directory, environment, standard input,
    /// jobserver share and label kept (the environment passes through bubblewrap).
    pub fn around(self, cmd: Cmd) -> Cmd {
        let mut sb = self;
        if let Some(d) = &cmd.dir {
            sb = sb.chdir(&s(d));
        }
        let mut argv = vec![cmd.program.clone()];
        argv.extend(cmd.args.iter().cloned());
        let label = cmd.label.clone().unwrap_or_else(|| cmd.display());
        let mut out = sb.command(&argv).label(format!("{label} (in the sandbox)"));
        out.env = cmd.env;
        out.clear_env = cmd.clear_env;
        out.stdin = cmd.stdin;
        out.jobserver = cmd.jobserver;
        out
    }

    /// The command `argv` inside the sandbox.
    pub fn command<S: AsRef<str>>(mut self, argv: &[S]) -> Cmd {
        if self.read_only_root {
            self = self.push(&["--remount-ro", "/"]);
        }
        let cmd = if self.linux32 {
            Cmd::new("setarch").args(["linux32", "bwrap"])
        } else {
            Cmd::new("bwrap")
        };
        cmd.args(self.args)
            .arg("--")
            .args(argv.iter().map(|a| a.as_ref()))
    }
}

/// bubblewrap options that show `root`'s top-level entries at the same paths in the
/// sandbox's own `/`: directories and files bound read-only, symbolic links made again
/// (`/bin -> usr/bin`). /dev, /proc and /tmp are the sandbox's own; anything else
/// (sockets, entries that vanish meanwhile) is left out.
fn host_top_level(root: &Path) -> Vec<String> {
    let mut entries: Vec<_> = std::fs::read_dir(root)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    entries.sort();
    let mut args = Vec::new();
    for name in entries {
        let name = name.to_string_lossy().into_owned();
        if ["dev", "proc", "tmp"].contains(&name.as_str()) {
            continue;
        }
        let host = root.join(&name);
        let inside = format!("/{name}");
        let Ok(meta) = std::fs::symlink_metadata(&host) else {
            continue;
        };
        let ft = meta.file_type();
        if ft.is_symlink() {
            if let Ok(target) = std::fs::read_link(&host) {
                args.extend(["--symlink".to_string(), s(&target), inside]);
            }
        } else if ft.is_dir() || ft.is_file() {
            args.extend(["--ro-bind".to_string(), s(&host), inside]);
        }
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What x86 roots run under on an x86_64 machine: `uname -m` as on x86's own.
    #[test]
    fn linux32_is_the_32_bit_personality() {
        if std::env::consts::ARCH != "x86_64" {
            return;
        }
        let machine = |on: bool| {
            let out = Sandbox::host()
                .linux32(on)
                .command(&["uname", "-m"])
                .output()
                .unwrap();
            assert!(out.status.success(), "{out:?}");
            String::from_utf8(out.stdout).unwrap().trim().to_string()
        };
        assert_eq!(machine(true), "i686");
        assert_eq!(machine(false), "x86_64");
    }

    #[test]
    fn the_hosts_top_level_is_bound_and_linked_again() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("usr")).unwrap();
        std::fs::create_dir(d.path().join("proc")).unwrap();
        std::fs::write(d.path().join("marker"), "").unwrap();
        std::os::unix::fs::symlink("usr/bin", d.path().join("bin")).unwrap();
        let args = host_top_level(d.path());
        let usr = d.path().join("usr").display().to_string();
        let marker = d.path().join("marker").display().to_string();
        assert_eq!(
            args,
            [
                "--symlink",
                "usr/bin",
                "/bin",
                "--ro-bind",
                &marker,
                "/marker",
                "--ro-bind",
                &usr,
                "/usr"
            ]
        );
    }

    #[test]
    fn a_command_keeps_its_directory_environment_and_jobserver_share_inside() {
        let cmd = Cmd::new("make")
            .dir("/build/obj")
            .env("PATH", "/x/bin")
            .arg("all")
            .jobserver();
        let c = Sandbox::host().no_net().around(cmd);
        assert_eq!(c.program, "bwrap");
        let n = c.args.len();
        assert_eq!(
            c.args[n - 7..],
            [
                "--chdir",
                "/build/obj",
                "--remount-ro",
                "/",
                "--",
                "make",
                "all"
            ]
        );
        assert_eq!(c.env, [("PATH".to_string(), "/x/bin".to_string())]);
        assert!(c.jobserver);
        assert!(c.dir.is_none());
    }
}
