//! The recipe's sandbox: the host read-only, the work tree writable, no network unless
//! the recipe asks for it. `cargo xtask shell` opens its shell in the same one.

use std::path::Path;

use crate::exec::{Cmd, Sandbox};

/// The recipe's command inside bubblewrap: the host read-only, only `work` writable, a
/// private /tmp, no network unless `net`.
/// The host name recipes see, and the setting (`--env`) that changes it.
pub const HOSTNAME: &str = "alpinist-build";
pub const HOSTNAME_VAR: &str = "ALPINIST_SANDBOX_HOSTNAME";

pub(crate) fn sandbox(
    work: &Path,
    toolchain: &Path,
    env: &[(String, String)],
    net: bool,
    argv: &[String],
) -> Cmd {
    let w = work.display().to_string();
    let tc = std::fs::canonicalize(toolchain).unwrap_or_else(|_| toolchain.to_path_buf());
    // Mounted again after the private /tmp, in case they live under /tmp.
    let mut sb = Sandbox::host()
        .ro_bind(&tc, &tc.display().to_string())
        .bind(work);
    for p in tmp_paths_in(env, &w) {
        sb = sb.ro_bind(Path::new(&p), &p);
    }
    // A fixed host name, so the build machine's never reaches a package; verify-repro's
    // variations give the second build another.
    let host = env
        .iter()
        .rev()
        .find(|(k, _)| k == HOSTNAME_VAR)
        .map(|(_, v)| v.as_str())
        .unwrap_or(HOSTNAME);
    sb = sb.hostname(host).chdir(&w).clear_env();
    // The build's sysroot is the compiler's default sysroot too, as CBUILDROOT is for
    // Alpine's cross gcc (--with-sysroot): links that lose the --sysroot flag (old
    // libtool drops it, as binutils' does) still find the build's libraries.
    let sysroot = work.join("sysroot");
    if sysroot.is_dir() {
        sb = sb.ro_bind(&sysroot, &format!("{}/sysroot", tc.display()));
    }
    // The recipe's own users and groups, when it has any (`accounts::write`).
    for f in ["passwd", "group"] {
        let p = work.join("etc").join(f);
        if p.is_file() {
            sb = sb.ro_bind(&p, &format!("/etc/{f}"));
        }
    }
    if !net {
        sb = sb.no_net();
    }
    let inner = argv.join(" ");
    sb.setenvs(env)
        .command(argv)
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
