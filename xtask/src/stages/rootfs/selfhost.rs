//! The self-hosting check: Alpine building Alpine on the target.
//!
//! Inside the build root (`alpine-buildroot-<version>-<arch>.tar.gz`), under qemu-user
//! through binfmt_misc, with no network: `abuild-keygen -a -i -n`, `abuild -F -r` on a
//! small real aport copied in (its sources put into the root's distfiles, checked on the
//! host first), the package it made installed with the root's own `apk` from the root's
//! own repository, and its program run; then C and C++ hello compiled with the root's
//! own gcc and g++ and run. Each step is timed.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, Result};

use crate::config::arch::Arch;
use crate::context::Context;
use crate::stages::rootfs::binfmt::ensure_binfmt;
use crate::stages::rootfs::scripts::in_root;
use crate::stages::rootfs::tarball::unpack;
use crate::stages::rootfs::{repo_binds, Profile};

/// One step of the check, as printed and recorded in report.json.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CheckStep {
    pub what: String,
    pub ok: bool,
    pub seconds: f64,
    /// The last lines of its output.
    pub output: String,
}

/// What the check builds: an aport directory of an aports checkout.
pub struct Options<'a> {
    pub tarball: Option<PathBuf>,
    pub aport: &'a Path,
    /// The command that shows the aport's program works, run in the root after it is
    /// installed: it must print `expect`.
    pub run: &'a str,
    pub expect: &'a str,
}

const HELLO_C: &str = r#"#include <stdio.h>
int main(void) { printf("hello from C\n"); return 0; }
"#;

const HELLO_CXX: &str = r#"#include <iostream>
#include <stdexcept>
#include <string>
int main() {
    try { throw std::runtime_error("C++"); }
    catch (const std::exception &e) { std::cout << "hello from " << e.what() << std::endl; }
    return 0;
}
"#;

/// Runs the check; the steps come back whether they passed or not, the error says how
/// many failed.
pub fn check(cx: &Context, arch: &Arch, o: &Options) -> Result<Vec<CheckStep>> {
    let tarball = match &o.tarball {
        Some(t) => t.clone(),
        None => Profile::Buildroot.newest_tarball(cx, arch)?,
    };
    ensure_binfmt(arch)?;
    let dir = cx.layout.build.join(&arch.name);
    let root = dir.join("selfhost-root");
    if root.exists() {
        crate::fsutil::remove_dir_all_writable(&root)?;
    }
    std::fs::create_dir_all(&root)?;
    unpack(&tarball, &root)?;
    let name = stage_aport(cx, arch, o.aport, &root)?;
    for (file, text) in [("hello.c", HELLO_C), ("hello.cpp", HELLO_CXX)] {
        std::fs::write(root.join("root").join(file), text)?;
    }
    let binds = repo_binds(cx, arch)?;
    let jobs = cx.jobs;
    let steps: Vec<(String, String, Option<&str>)> = vec![
        (
            "abuild-keygen -a -i -n".into(),
            "abuild-keygen -a -i -n".into(),
            None,
        ),
        (
            format!(
                "abuild -F -r ({name}, built natively{})",
                if arch.runs_directly() {
                    ""
                } else {
                    " under qemu-user"
                }
            ),
            format!("cd /root/aports/main/{name} && abuild -F -r"),
            None,
        ),
        (
            format!("apk add {name} (from the root's own repository)"),
            format!("apk add --repository /root/packages/main {name}"),
            None,
        ),
        (format!("{name} runs"), o.run.to_string(), Some(o.expect)),
        (
            "gcc hello.c, run".into(),
            "gcc -O2 -o /root/hello-c /root/hello.c && /root/hello-c".into(),
            Some("hello from C"),
        ),
        (
            "g++ hello.cpp, run".into(),
            "g++ -O2 -o /root/hello-cxx /root/hello.cpp && /root/hello-cxx".into(),
            Some("hello from C++"),
        ),
    ];
    let log_path = cx.layout.logs().join(format!("selfhost-{}.log", arch.name));
    std::fs::create_dir_all(cx.layout.logs())?;
    let mut log = String::new();
    let mut done: Vec<CheckStep> = Vec::new();
    for (what, script, expect) in steps {
        // A step after a failed one would only fail for the same reason.
        if done.iter().any(|s| !s.ok) {
            break;
        }
        let sh = format!(
            "export USER=root LOGNAME=root SRCDEST=/var/cache/distfiles REPODEST=/root/packages JOBS={jobs} MAKEFLAGS=-j{jobs} SUDO= SUDO_APK=apk; {script}"
        );
        let t = Instant::now();
        let out = in_root(arch, &root, &binds, true, &["/bin/sh", "-c", &sh])
            .output()
            .with_context(|| format!("running {what} in {}", root.display()))?;
        let seconds = t.elapsed().as_secs_f64();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        log.push_str(&format!(
            "### {what} ({seconds:.1} s, {})\n$ {script}\n{text}\n",
            out.status
        ));
        let ok = out.status.success() && expect.is_none_or(|e| text.contains(e));
        done.push(CheckStep {
            what,
            ok,
            seconds,
            output: crate::exec::tail_str(&text, 12),
        });
    }
    std::fs::write(&log_path, &log)?;
    for s in &done {
        println!(
            "{} {:62} {}",
            if s.ok { "ok  " } else { "FAIL" },
            s.what,
            crate::exec::progress::hms(std::time::Duration::from_secs_f64(s.seconds))
        );
        if !s.ok {
            for l in s.output.lines() {
                println!("       {l}");
            }
        }
    }
    println!("log: {}", log_path.display());
    Ok(done)
}

/// Copies the aport into `/root/aports/main/<name>` of the root and its remote sources
/// into the root's distfiles, each checked against the recipe's checksum here first (so
/// abuild inside finds them, with no network). Returns the aport's name.
fn stage_aport(cx: &Context, arch: &Arch, aport: &Path, root: &Path) -> Result<String> {
    let name = aport
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .context("aport directory has no name")?;
    let dest = root.join("root/aports/main").join(&name);
    std::fs::create_dir_all(&dest)?;
    crate::fsutil::copy_tree(aport, &dest)?;
    let settings = crate::stages::packages::BuildSettings::new(cx, None, Vec::new(), &[])?;
    let a = crate::stages::packages::evaluate(cx, arch, aport, &settings)?;
    let distfiles = root.join("var/cache/distfiles");
    std::fs::create_dir_all(&distfiles)?;
    let say = |m: &str| eprintln!("  {m}");
    for s in &a.recipe.sources {
        let Some(url) = &s.url else { continue };
        // Only the recipe's own file: abuild inside checks the recipe's checksum.
        let spec = settings.sources.spec(&s.name, url, &s.sha512, false);
        let r = cx
            .resolver(&say)
            .resolve(&spec)
            .with_context(|| format!("{}: source {}", a.recipe.path.display(), s.name))?;
        std::fs::copy(&r.path, distfiles.join(&s.name))?;
    }
    Ok(name)
}
