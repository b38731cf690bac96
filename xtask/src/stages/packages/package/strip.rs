//! Step 2: ELF programs and libraries stripped with the target's `strip` (not in
//! `noarch` packages, not with `options="!strip"`, not debug files, not firmware).

use std::path::Path;

use alpinist_apkbuild::trace::{self, ElfFile};
use anyhow::Result;

use crate::engine::StepRun;
use crate::exec::Cmd;
use crate::stages::packages::package::Packaging;

/// Strips the package's ELF files; returns them as they are now.
pub(crate) fn strip(
    pk: &Packaging,
    run: &StepRun,
    name: &str,
    arch: &str,
    dir: &Path,
) -> Result<Vec<ElfFile>> {
    let r = pk.recipe();
    let elves = trace::scan_elf(dir);
    if arch == "noarch" || r.option(name, "!strip") || elves.is_empty() {
        return Ok(elves);
    }
    let triple = &pk.build.arch.triple;
    let strip = pk.toolchain.join("bin").join(format!("{triple}-strip"));
    for e in elves
        .iter()
        .filter(|e| e.is_exec_or_dyn() && !e.path.starts_with("usr/lib/debug/"))
        // Firmware (ELF OSABI STANDALONE) is left as it is, as abuild does.
        .filter(|e| e.osabi != 255)
    {
        let f = dir.join(&e.path);
        let tmp = dir.join(format!("{}.alpinist-strip", e.path));
        run.log.run(
            &Cmd::new(strip.display().to_string())
                .arg("-o")
                .arg(&tmp)
                .arg(&f),
        )?;
        std::fs::write(&f, std::fs::read(&tmp)?)?;
        std::fs::remove_file(&tmp)?;
    }
    Ok(trace::scan_elf(dir))
}
