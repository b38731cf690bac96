//! `cargo xtask fetch`: every source verified in the distfiles, so the rest works offline.

use anyhow::Result;

use crate::commands::ArchArgs;
use crate::context::Context;

pub fn run(cx: &Context, a: &ArchArgs) -> Result<()> {
    cx.arches.get(&a.arch)?;
    cx.layout.ensure()?;
    crate::host::require(&cx.layout, "fetch")?;
    fetch_toolchain_sources(cx)
}

pub fn fetch_toolchain_sources(cx: &Context) -> Result<()> {
    for (name, c) in &cx.components.map {
        eprintln!("{name} {}:", c.version);
        let r = cx.fetch(&c.source)?;
        eprintln!(
            "  ok {} ({}{})",
            r.path.display(),
            r.origin,
            if r.substitute {
                ", documented substitute"
            } else {
                ""
            }
        );
    }
    eprintln!(
        "all sources are verified in {}",
        cx.layout.distfiles.display()
    );
    Ok(())
}
