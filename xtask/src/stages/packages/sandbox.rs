//! The recipe's sandbox: the host read-only, the work tree writable, no network unless
//! the recipe asks for it. `cargo xtask shell` opens its shell in the same one.

use std::path::Path;

use crate::exec::{Cmd, Sandbox};

/// The host name recipes see, and the setting (`--env`) that changes it.
pub const HOSTNAME: &str = "alpinist-build";
pub const HOSTNAME_VAR: &str = "ALPINIST_SANDBOX_HOSTNAME";

/// The setting (`--env`) that runs the recipe's build phase as another uid and gid (in a
/// user namespace); its package phase runs under fakeroot as always.
pub const UID_VAR: &str = "ALPINIST_SANDBOX_UID";
/// The setting (`--env`) that shows the recipe its build tree through disorderfs, every
/// directory listing in a new order (`shuffle`).
pub const FILE_ORDER_VAR: &str = "ALPINIST_SANDBOX_FILE_ORDER";

/// The value of setting `k` in the recipe environment `env`, if set.
pub(crate) fn setting<'a>(env: &'a [(String, String)], k: &str) -> Option<&'a str> {
    env.iter()
        .rev()
        .find(|(x, _)| x == k)
        .map(|(_, v)| v.as_str())
}

/// Where every recipe finds its build tree, whatever the checkout, the cache directory
/// or the step key: no host path can reach a package (the same path as stage 1's).
pub use crate::stages::toolchain::BUILD_DIR;
/// Where every recipe finds the stage 1 toolchain (its sysroot is the build's).
pub const TOOLCHAIN_DIR: &str = "/toolchain";

/// The recipe's command inside bubblewrap: the host read-only, the work tree `work`
/// writable at [`BUILD_DIR`], the toolchain at [`TOOLCHAIN_DIR`], a private /tmp, no
/// network unless `net`. `env` and `argv` name the paths as the sandbox shows them.
/// `as_user`: the [`UID_VAR`] setting applies (the build phase; not under fakeroot, which
/// cannot change owners to ids a user namespace does not map).
pub(crate) fn sandbox(
    work: &Path,
    toolchain: &Path,
    env: &[(String, String)],
    net: bool,
    as_user: bool,
    argv: &[String],
) -> Cmd {
    let tc = std::fs::canonicalize(toolchain).unwrap_or_else(|_| toolchain.to_path_buf());
    let mut sb = Sandbox::host()
        .ro_bind(&tc, TOOLCHAIN_DIR)
        .bind_at(work, BUILD_DIR);
    // Mounted again after the private /tmp, in case they live under /tmp.
    for p in tmp_paths_in(env) {
        sb = sb.ro_bind(Path::new(&p), &p);
    }
    // A fixed host name, so the build machine's never reaches a package; verify-repro's
    // variations give the second build another.
    let host = setting(env, HOSTNAME_VAR).unwrap_or(HOSTNAME);
    sb = sb.hostname(host).chdir(BUILD_DIR).clear_env();
    if let Some(id) = setting(env, UID_VAR).filter(|_| as_user) {
        sb = sb.user(id);
    }
    // The build's sysroot is the compiler's default sysroot too, as CBUILDROOT is for
    // Alpine's cross gcc (--with-sysroot): links that lose the --sysroot flag (old
    // libtool drops it, as binutils' does) still find the build's libraries.
    let sysroot = work.join("sysroot");
    if sysroot.is_dir() {
        sb = sb.ro_bind(&sysroot, &format!("{TOOLCHAIN_DIR}/sysroot"));
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
fn tmp_paths_in(env: &[(String, String)]) -> Vec<String> {
    let mut v: Vec<String> = env
        .iter()
        .map(|(_, val)| val.as_str())
        .filter(|val| val.starts_with("/tmp/") && Path::new(val).is_dir())
        .map(String::from)
        .collect();
    v.sort();
    v.dedup();
    v
}
