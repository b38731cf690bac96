//! The recipe's sandbox (bubblewrap).

use std::path::Path;

use crate::exec::Cmd;

/// The recipe's command inside bubblewrap: the host read-only, only `work` writable, a
/// private /tmp, no network unless `net`.
pub(crate) fn sandbox(
    work: &Path,
    toolchain: &Path,
    env: &[(String, String)],
    net: bool,
    argv: &[String],
) -> Cmd {
    let w = work.display().to_string();
    let tc = std::fs::canonicalize(toolchain)
        .unwrap_or_else(|_| toolchain.to_path_buf())
        .display()
        .to_string();
    let mut c = Cmd::new("bwrap")
        .args([
            "--die-with-parent",
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-uts",
        ])
        .args([
            "--ro-bind",
            "/",
            "/",
            "--dev",
            "/dev",
            "--proc",
            "/proc",
            "--tmpfs",
            "/tmp",
        ])
        // Mounted again after the private /tmp, in case they live under /tmp.
        .args(["--ro-bind", &tc, &tc])
        .args(["--bind", &w, &w])
        .args(
            tmp_paths_in(env, &w)
                .into_iter()
                .flat_map(|p| ["--ro-bind".to_string(), p.clone(), p]),
        )
        .args(["--chdir", &w])
        .arg("--clearenv");
    // The build's sysroot is the compiler's default sysroot too, as CBUILDROOT is for
    // Alpine's cross gcc (--with-sysroot): links that lose the --sysroot flag (old
    // libtool drops it, as binutils' does) still find the build's libraries.
    let sysroot = work.join("sysroot");
    if sysroot.is_dir() {
        let s = sysroot.display().to_string();
        c = c.args(["--ro-bind", &s, &format!("{tc}/sysroot")]);
    }
    // The recipe's own users and groups, when it has any (`write_accounts`).
    for f in ["passwd", "group"] {
        let p = work.join("etc").join(f);
        if p.is_file() {
            c = c.args(["--ro-bind", &p.display().to_string(), &format!("/etc/{f}")]);
        }
    }
    if !net {
        c = c.arg("--unshare-net");
    }
    for (k, v) in env {
        c = c.args(["--setenv", k, v]);
    }
    let inner = argv.join(" ");
    c.arg("--")
        .args(argv)
        .label(format!("{inner} (in the sandbox)"))
        .jobserver()
}

/// Directories under /tmp that the recipe environment names (e.g. `ALPINIST_KEYS_DIR`
/// of a cache under /tmp): visible, read-only, behind the sandbox's private /tmp.
fn tmp_paths_in(env: &[(String, String)], work: &str) -> Vec<String> {
    let mut v: Vec<String> = env
        .iter()
        .map(|(_, val)| val.as_str())
        .filter(|val| val.starts_with("/tmp/") && !val.starts_with(work) && Path::new(val).is_dir())
        .map(String::from)
        .collect();
    v.sort();
    v.dedup();
    v
}
