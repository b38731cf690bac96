//! Step 3: what must hold before a package is written: its ELF files are for the
//! target's machine, a `noarch` package has none, and abuild's postcheck passes.

use std::path::Path;

use alpinist_apkbuild::postcheck;
use alpinist_apkbuild::trace::ElfFile;

use crate::engine::StepRun;
use crate::stages::packages::package::Packaging;

/// The errors found in package `name` (warnings go to the log).
pub(crate) fn check(
    pk: &Packaging,
    run: &StepRun,
    name: &str,
    arch: &str,
    dir: &Path,
    elves: &[ElfFile],
) -> Vec<String> {
    let r = pk.recipe();
    let a = &pk.build.arch;
    let mut errors = Vec::new();
    if arch == "noarch" {
        if let Some(e) = elves.first() {
            errors.push(format!(
                "{name}: noarch package contains an ELF file: /{}",
                e.path
            ));
        }
    }
    for e in elves.iter().filter(|e| e.machine != a.elf.machine) {
        errors.push(format!(
            "{name}: /{} is for ELF machine {} but {} is {} ({})",
            e.path, e.machine, a.name, a.elf.machine, a.elf.machine_name
        ));
    }
    errors.extend(archcheck(name, arch, dir, elves));
    if arch != "noarch" && !elves.is_empty() {
        for rp in alpinist_apkbuild::trace::rpath_dirs(elves) {
            if rp.starts_with("home/") || rp == "home" {
                errors.push(format!("{name}: an rpath points into /{rp}"));
            } else if rp == "usr/lib" {
                let _ = run
                    .log
                    .line(&format!(">>> WARNING: {name}: an rpath names /usr/lib"));
            }
        }
    }
    let has_binaries = !elves.is_empty() || has_static_archive(dir);
    if arch != "noarch" && !has_binaries && !name.ends_with("-dev") && !name.ends_with("-static") {
        let _ = run.log.line(&format!(
            ">>> WARNING: {name}: no arch-specific binaries found; arch=\"noarch\" may suit it"
        ));
    }
    let opt = |o: &str| r.option(name, o);
    let f = postcheck::postcheck(dir, name, elves, &opt);
    for w in &f.warnings {
        let _ = run.log.line(&format!(">>> WARNING: {w}"));
    }
    errors.extend(f.errors);
    errors
}

/// abuild's `archcheck` for `noarch`: no static archive and no compiled Lua either.
fn archcheck(name: &str, arch: &str, dir: &Path, elves: &[ElfFile]) -> Vec<String> {
    if arch != "noarch" || !elves.is_empty() {
        return Vec::new();
    }
    let mut errors = Vec::new();
    for (rel, full) in alpinist_apkbuild::trace::files(dir) {
        let lua = (rel.ends_with(".lua") || rel.ends_with(".luac"))
            && std::fs::read(&full)
                .is_ok_and(|b| b.starts_with(b"\x1bLua") || b.starts_with(b"\x1bLJ"));
        if rel.ends_with(".a") || lua {
            errors.push(format!(
                "{name}: noarch package contains an arch-specific file: /{rel}"
            ));
        }
    }
    errors
}

fn has_static_archive(dir: &Path) -> bool {
    alpinist_apkbuild::trace::files(dir)
        .iter()
        .any(|(rel, _)| rel.ends_with(".a"))
}
