//! Maintainer scripts and triggers, run inside the new root under bubblewrap.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use alpinist_apk::db::ScriptKind;
use anyhow::{bail, Context as _, Result};

use crate::config::arch::Arch;
use crate::exec::{Cmd, Sandbox};

/// A command inside `root` (a root of `arch`) as its `/` (with no network when
/// `no_net`), the local repositories `binds` visible read-only where
/// `/etc/apk/repositories` names them.
pub fn in_root(
    arch: &Arch,
    root: &Path,
    binds: &[(PathBuf, String)],
    no_net: bool,
    argv: &[&str],
) -> Cmd {
    let mut sb = Sandbox::root(root, no_net)
        .linux32(arch.wants_linux32())
        .chdir("/")
        .clear_env()
        .setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .setenv("HOME", "/root");
    for (from, to) in binds {
        sb = sb.ro_bind(from, to);
    }
    sb.command(argv)
}

pub(crate) fn run_script(
    arch: &Arch,
    root: &Path,
    pkg: &str,
    kind: ScriptKind,
    body: &[u8],
    args: &[String],
    log: &mut String,
) -> Result<()> {
    let path = root.join(".alpinist-script");
    std::fs::write(&path, body)?;
    // Executed as apk does (the kernel follows the #! line inside the root, e.g.
    // busybox's `#!/bin/busybox sh` before /bin/sh exists); /bin/sh only without one.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    let mut argv: Vec<&str> = if body.starts_with(b"#!") {
        vec!["/.alpinist-script"]
    } else {
        vec!["/bin/sh", "/.alpinist-script"]
    };
    argv.extend(args.iter().map(|s| s.as_str()));
    let out = in_root(arch, root, &[], false, &argv)
        .output()
        .context("running bwrap")?;
    let _ = std::fs::remove_file(&path);
    log.push_str(&format!(
        "{pkg}.{}: {}\n{}{}",
        kind.as_str(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ));
    if !out.status.success() && kind != ScriptKind::Trigger {
        bail!(
            "{pkg}.{} failed inside the root ({}):\n{}",
            kind.as_str(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim_end()
        );
    }
    Ok(())
}
