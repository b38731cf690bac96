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
    let opt = |o: &str| r.option(name, o);
    let f = postcheck::postcheck(dir, name, elves, &opt);
    for w in &f.warnings {
        let _ = run.log.line(&format!(">>> WARNING: {w}"));
    }
    errors.extend(f.errors);
    errors
}
