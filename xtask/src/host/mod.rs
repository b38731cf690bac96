//! The build machine: what alpinist needs installed, checks for it, and `setup`.

use std::path::Path;

pub mod qemu;

use crate::config::host::{load, Need, Purpose};
use crate::exec::{Cmd, Sandbox};
use crate::layout::Layout;
use anyhow::{bail, Context as _, Result};

impl Need {
    fn met(&self) -> bool {
        if let Some(c) = &self.command {
            return on_path(c);
        }
        if let Some(f) = &self.file {
            return Path::new(f).exists();
        }
        if let Some(h) = &self.header {
            return header_exists(h);
        }
        true
    }
    fn what(&self) -> String {
        self.command
            .clone()
            .or_else(|| self.file.clone())
            .or_else(|| self.header.as_ref().map(|h| format!("<{h}>")))
            .unwrap_or_default()
    }
}

fn header_exists(h: &str) -> bool {
    let inc = Path::new("/usr/include");
    inc.join(h).exists()
        || std::fs::read_dir(inc)
            .map(|rd| rd.flatten().any(|e| e.path().join(h).exists()))
            .unwrap_or(false)
}

pub fn on_path(cmd: &str) -> bool {
    which(cmd).is_some()
}

/// The executable `cmd` found on PATH.
pub fn which(cmd: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(cmd)).find(|p| {
        p.is_file()
            && std::fs::metadata(p)
                .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o111 != 0)
                .unwrap_or(false)
    })
}

fn missing(layout: &Layout, purpose: Purpose) -> Result<Vec<Need>> {
    Ok(load(layout)?
        .into_iter()
        .filter(|n| n.for_.contains(&purpose) && !n.met())
        .collect())
}

/// Checks the host tools `purpose` needs. As root, missing ones are installed (the same
/// as `cargo xtask setup`); otherwise fails with the list and the command to run.
pub fn require(layout: &Layout, purpose: Purpose) -> Result<()> {
    let mut missing = missing(layout, purpose)?;
    if missing.is_empty() {
        return Ok(());
    }
    if can_install() {
        let names: Vec<&str> = missing.iter().map(|n| n.debian.as_str()).collect();
        eprintln!(
            "`{purpose}` needs host packages that are missing ({}); installing them as `cargo xtask setup` does",
            names.join(", ")
        );
        setup(layout, false)?;
        missing = self::missing(layout, purpose)?;
        if missing.is_empty() {
            return Ok(());
        }
    }
    let mut pkgs: Vec<&str> = missing.iter().map(|n| n.debian.as_str()).collect();
    pkgs.sort();
    pkgs.dedup();
    let list: Vec<String> = missing
        .iter()
        .map(|n| format!("  - {} (Debian/Ubuntu package {})", n.what(), n.debian))
        .collect();
    bail!(
        "`{purpose}` needs host tools that are missing:\n{}\ninstall them with:\n  sudo apt-get install {}\nor run `sudo cargo xtask setup`, which installs everything alpinist uses",
        list.join("\n"),
        pkgs.join(" ")
    )
}

/// Where `setup` writes its deb-src lines.
pub const DEB_SRC_FILE: &str = "/etc/apt/sources.list.d/alpinist-deb-src.sources";

/// Enables the deb-src lines (with the rest of `setup`) when running as root and they
/// are not there yet; used before asking apt for a source package.
pub fn ensure_deb_src(layout: &Layout) -> Result<()> {
    if !Path::new(DEB_SRC_FILE).exists() && effective_uid() == 0 && on_path("apt-get") {
        eprintln!("enabling Debian deb-src lines ({DEB_SRC_FILE}) as `cargo xtask setup` does");
        setup(layout, false)?;
    }
    Ok(())
}

/// Whether alpinist may install host packages itself: root, with apt-get.
pub fn can_install() -> bool {
    effective_uid() == 0 && on_path("apt-get")
}

/// `apt-get install` of `pkgs` (as root).
pub fn apt_install(pkgs: &[String]) -> Result<()> {
    let mut install = vec!["install", "-y", "--no-install-recommends"];
    install.extend(pkgs.iter().map(|s| s.as_str()));
    if apt(&install).is_err() {
        // A fresh machine may not have read the package lists yet.
        apt(&["update"])?;
        apt(&install)?;
    }
    Ok(())
}

/// Every Debian package the build machine may need: the tools of `toolchains/host.toml`
/// and those that stand in for the recipes' build-side dependencies
/// (`toolchains/build-deps.toml`).
fn all_packages(layout: &Layout) -> Result<Vec<String>> {
    let mut pkgs: Vec<String> = load(layout)?.into_iter().map(|n| n.debian).collect();
    pkgs.extend(
        crate::config::build_deps::load(layout)?
            .into_iter()
            .filter_map(|d| d.debian),
    );
    pkgs.sort();
    pkgs.dedup();
    Ok(pkgs)
}

/// Installs every package alpinist's steps and the recipes use and enables deb-src lines,
/// or, when not root, prints the commands that would.
pub fn setup(layout: &Layout, dry_run: bool) -> Result<()> {
    let pkgs = all_packages(layout)?;
    let sources = deb_src_file()?;
    let is_root = effective_uid() == 0;
    let src_path = DEB_SRC_FILE;
    if dry_run || !is_root {
        println!("# alpinist needs these host packages and Debian source lines.");
        if !is_root {
            println!("# Not running as root, so here are the commands to run:");
        }
        println!("sudo apt-get update");
        println!(
            "sudo apt-get install -y --no-install-recommends debian-archive-keyring {}",
            pkgs.join(" ")
        );
        println!("sudo tee {src_path} <<'EOF'\n{sources}EOF");
        println!("sudo apt-get update");
        return rust_targets(layout, true);
    }
    apt(&["update"])?;
    let mut install = vec![
        "install",
        "-y",
        "--no-install-recommends",
        "debian-archive-keyring",
    ];
    install.extend(pkgs.iter().map(|s| s.as_str()));
    apt(&install)?;
    // The deb-src lines go in after the keyring they name is installed.
    std::fs::write(src_path, &sources).with_context(|| format!("writing {src_path}"))?;
    eprintln!("wrote {src_path} (deb-src lines for Debian's source archive)");
    apt(&["update"])?;
    eprintln!("host set up: {} packages present", pkgs.len());
    rust_targets(layout, false)
}

/// Rust's standard library for every arch rustup offers one for (recipes that build Rust
/// code with cargo, such as the fixture root's `apk`, need the target's). Only with rustup;
/// a missing one is reported by the recipe that needs it.
pub fn rust_targets(layout: &Layout, dry_run: bool) -> Result<()> {
    if !on_path("rustup") {
        eprintln!("rustup not found: recipes that build Rust code need `rustup target add` for their arch");
        return Ok(());
    }
    let arches = crate::config::arch::ArchTable::load(&layout.toolchains_data().join("arch"))?;
    let out = Cmd::new("rustup")
        .args(["target", "list"])
        .output()
        .context("running rustup target list")?;
    let offered = String::from_utf8_lossy(&out.stdout).to_string();
    let mut want: Vec<String> = arches
        .arches
        .values()
        .map(|a| a.rust_target())
        .filter(|t| {
            offered
                .lines()
                .any(|l| l.split_whitespace().next() == Some(t))
        })
        .collect();
    want.sort();
    want.dedup();
    if dry_run {
        println!("rustup target add {}", want.join(" "));
        return Ok(());
    }
    add_rust_targets(&want);
    Ok(())
}

/// `rustup target add` for each target not installed yet; a failure is a note (rustup's
/// server may not offer every target to this machine), reported by the recipe that needs
/// it. One at a time: rustup rolls a whole command back when one download fails.
pub fn add_rust_targets(targets: &[String]) {
    if !on_path("rustup") {
        return;
    }
    let installed = Cmd::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
        .unwrap_or_default();
    let mut missing = Vec::new();
    for t in targets {
        if installed.lines().any(|l| l.trim() == t) {
            continue;
        }
        let ok = Cmd::new("rustup")
            .args(["target", "add", t])
            .env("RUST_BACKTRACE", "0")
            .status_quiet()
            .is_ok_and(|s| s.success());
        if !ok {
            missing.push(t.as_str());
        }
    }
    if !missing.is_empty() {
        eprintln!(
            "note: rustup could not add {}; recipes that build Rust code cannot build for those arches here",
            missing.join(" ")
        );
    }
}

/// deb-src lines: the host's own archive, plus, on Debian, the newer suites whose source
/// packages carry the pinned toolchain versions (gcc 15, binutils 2.46).
fn deb_src_file() -> Result<String> {
    let os = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let id = os
        .lines()
        .find_map(|l| l.strip_prefix("ID="))
        .unwrap_or("debian")
        .trim_matches('"')
        .to_string();
    let codename = os
        .lines()
        .find_map(|l| l.strip_prefix("VERSION_CODENAME="))
        .unwrap_or("")
        .trim_matches('"')
        .to_string();
    let mut s = String::from(
        "# Written by `cargo xtask setup`: source packages for alpinist's pinned sources.\n",
    );
    if id == "ubuntu" {
        s.push_str(&format!(
            "Types: deb-src\nURIs: http://archive.ubuntu.com/ubuntu\nSuites: {codename} {codename}-updates\nComponents: main universe\nSigned-By: /usr/share/keyrings/ubuntu-archive-keyring.gpg\n\n"
        ));
    }
    let mut suites = vec!["trixie", "sid"];
    if id == "debian" && !codename.is_empty() && !suites.contains(&codename.as_str()) {
        suites.insert(0, codename.as_str());
    }
    s.push_str(&format!(
        "Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: {}\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n",
        suites.join(" ")
    ));
    Ok(s)
}

fn apt(args: &[&str]) -> Result<()> {
    // In the foreground: apt-get's progress is for the person who ran alpinist.
    let st = Cmd::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .run_foreground(None)
        .with_context(|| format!("running apt-get {}", args.join(" ")))?;
    if !st.success() {
        bail!("`apt-get {}` failed ({st})", args.join(" "));
    }
    Ok(())
}

/// Whether alpinist runs as root.
pub(crate) fn is_root() -> bool {
    effective_uid() == 0
}

fn effective_uid() -> u32 {
    // The effective uid, read without libc: /proc/self/status "Uid: real effective …".
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|x| x.to_string()))
        })
        .and_then(|x| x.parse().ok())
        .unwrap_or(u32::MAX)
}

/// Checks that bubblewrap can create the sandbox here, and says how to allow it when
/// the host forbids unprivileged user namespaces (Ubuntu 24.04's AppArmor default).
pub fn sandbox_preflight() -> Result<()> {
    // The sandbox recipes build in, without the network, running `true`.
    let out = Sandbox::host()
        .no_net()
        .command(&["true"])
        .output()
        .context("running bwrap (install bubblewrap: `sudo cargo xtask setup`)")?;
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    bail!(
        "the build sandbox (bubblewrap) cannot start here: {}\n\
         bwrap needs unprivileged user namespaces. On Ubuntu 24.04 and later AppArmor\n\
         restricts them; allow them with\n  \
           sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0\n\
         (or add an AppArmor profile for /usr/bin/bwrap), and on older kernels with\n  \
           sudo sysctl -w kernel.unprivileged_userns_clone=1\n\
         Running alpinist as root also works.",
        err.trim()
    )
}
