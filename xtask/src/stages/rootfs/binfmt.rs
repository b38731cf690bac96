//! Target programs through qemu-user: binfmt_misc registration.

use std::io::Write as _;
use std::path::Path;

use anyhow::{bail, Context as _, Result};

use crate::config::arch::Arch;
use crate::exec::Cmd;

/// Makes sure the kernel runs `arch`'s programs through qemu-user (binfmt_misc).
pub fn ensure_binfmt(arch: &Arch) -> Result<()> {
    if arch.runs_directly() {
        return Ok(());
    }
    crate::host::qemu::ensure(arch)?;
    let misc = Path::new("/proc/sys/fs/binfmt_misc");
    if !misc.join("register").exists() {
        let st = Cmd::new("mount")
            .args(["-t", "binfmt_misc", "binfmt_misc"])
            .arg(misc)
            .status_quiet();
        if !matches!(st, Ok(s) if s.success()) || !misc.join("register").exists() {
            bail!(
                "binfmt_misc is not mounted and could not be mounted; as root run\n  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc"
            );
        }
    }
    let name = format!("qemu-{}", arch.qemu);
    if misc.join(&name).exists() {
        return Ok(());
    }
    let conf = Path::new("/usr/lib/binfmt.d").join(format!("{name}.conf"));
    let line = std::fs::read_to_string(&conf).with_context(|| {
        format!(
            "{}: missing; install qemu-user-static (`sudo cargo xtask setup`)",
            conf.display()
        )
    })?;
    std::fs::OpenOptions::new()
        .write(true)
        .open(misc.join("register"))
        .and_then(|mut f| f.write_all(line.trim().as_bytes()))
        .with_context(|| {
            format!(
                "registering {name} with binfmt_misc (needs root; or run `sudo update-binfmts --enable {name}`)"
            )
        })?;
    Ok(())
}
