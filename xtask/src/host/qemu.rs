//! qemu-user new enough for an arch: an arch file may name `qemu_min_version` (LoongArch's
//! la64v1.0 code uses LSX, which Debian 12's qemu 7.2 cannot run). When the installed
//! qemu is older, alpinist (as root, on Debian) installs qemu-user-static from the
//! release's backports suite; otherwise it says what to run.

use std::path::Path;

use anyhow::{bail, Context as _, Result};

use crate::config::arch::Arch;
use crate::exec::Cmd;

/// The apt sources file alpinist writes for `<codename>-backports`.
pub const BACKPORTS_FILE: &str = "/etc/apt/sources.list.d/alpinist-backports.sources";

/// `qemu-<x>-static --version`'s version ("7.2.22"), or None when it does not run.
pub fn installed_version(arch: &Arch) -> Option<String> {
    let o = Cmd::new(arch.qemu_binary())
        .arg("--version")
        .output_combined()
        .ok()?;
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    parse_version(&text)
}

/// The version in qemu's banner: `qemu-aarch64 version 7.2.22 (Debian …)`.
pub fn parse_version(banner: &str) -> Option<String> {
    let rest = banner.split(" version ").nth(1)?;
    let v: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    (!v.is_empty()).then_some(v)
}

/// `have >= want`, numerically by dot-separated parts ("10.0.2" >= "8.1").
pub fn at_least(have: &str, want: &str) -> bool {
    let parts = |s: &str| -> Vec<u64> { s.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
    let (h, w) = (parts(have), parts(want));
    for i in 0..h.len().max(w.len()) {
        let (a, b) = (
            h.get(i).copied().unwrap_or(0),
            w.get(i).copied().unwrap_or(0),
        );
        if a != b {
            return a > b;
        }
    }
    true
}

/// Makes sure qemu-user runs `arch`'s programs: present, and at least the arch file's
/// `qemu_min_version`. Installs a newer one (root, Debian: from backports) or says how.
pub fn ensure(arch: &Arch) -> Result<()> {
    if arch.runs_directly() {
        return Ok(());
    }
    let Some(min) = arch.qemu_min_version.as_deref() else {
        return Ok(());
    };
    let bin = arch.qemu_binary();
    let why = match installed_version(arch) {
        Some(v) if at_least(&v, min) => return Ok(()),
        Some(v) => format!("{bin} is qemu {v}; {} needs qemu {min} or newer", arch.name),
        None => format!(
            "{bin} does not run; {} needs qemu {min} or newer",
            arch.name
        ),
    };
    if !super::can_install() {
        bail!(
            "{why} (toolchains/arch/{}.toml, qemu_min_version). As root, \
             `cargo xtask setup --arch {}` installs it (Debian: qemu-user-static from \
             <release>-backports)",
            arch.name,
            arch.name
        );
    }
    eprintln!("{why}: installing a newer qemu-user-static");
    install_newer()?;
    match installed_version(arch) {
        Some(v) if at_least(&v, min) => {
            eprintln!("{bin} is now qemu {v}");
            reregister(arch)
        }
        v => bail!(
            "{bin} is still {} after installing qemu-user-static from backports; install \
             qemu {min} or newer by hand",
            v.unwrap_or_else(|| "missing".into())
        ),
    }
}

/// Debian: enables `<codename>-backports` and installs qemu-user-static from it. Elsewhere
/// (Ubuntu): the release's own newest qemu-user-static.
fn install_newer() -> Result<()> {
    let os = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let field = |k: &str| {
        os.lines()
            .find_map(|l| l.strip_prefix(k))
            .unwrap_or("")
            .trim_matches('"')
            .to_string()
    };
    let (id, codename) = (field("ID="), field("VERSION_CODENAME="));
    if id == "debian" && !codename.is_empty() {
        let text = format!(
            "# Written by alpinist: a qemu-user new enough for every arch file.\n\
             Types: deb\nURIs: http://deb.debian.org/debian\nSuites: {codename}-backports\n\
             Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
        );
        std::fs::write(BACKPORTS_FILE, text)
            .with_context(|| format!("writing {BACKPORTS_FILE}"))?;
        eprintln!("wrote {BACKPORTS_FILE} ({codename}-backports)");
        super::apt(&["update"])?;
        let suite = format!("{codename}-backports");
        super::apt(&[
            "install",
            "-y",
            "--no-install-recommends",
            "-t",
            &suite,
            "qemu-user-static",
        ])
    } else {
        super::apt(&["update"])?;
        super::apt(&[
            "install",
            "-y",
            "--no-install-recommends",
            "qemu-user-static",
        ])
    }
}

/// A binfmt_misc entry registered before the upgrade may hold the old interpreter open
/// (flag F); it is removed so that the next use registers the new one.
fn reregister(arch: &Arch) -> Result<()> {
    let entry = Path::new("/proc/sys/fs/binfmt_misc").join(format!("qemu-{}", arch.qemu));
    if entry.exists() {
        std::fs::write(&entry, "-1")
            .with_context(|| format!("removing the old binfmt_misc entry {}", entry.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        let b = "qemu-loongarch64 version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\nCopyright";
        assert_eq!(parse_version(b).as_deref(), Some("7.2.22"));
        assert_eq!(parse_version("nonsense"), None);
        assert!(!at_least("7.2.22", "8.1"));
        assert!(at_least("10.0.2", "8.1"));
        assert!(at_least("8.1", "8.1.0"));
        assert!(!at_least("8.0.9", "8.1"));
    }
}
