//! `cargo xtask arches`: the arch table.

use anyhow::Result;

use crate::context::Context;

pub fn run(cx: &Context) -> Result<()> {
    println!(
        "{:12} {:34} {:12} {:8} loader",
        "arch", "triple", "qemu", "kernel"
    );
    for a in cx.arches.arches.values() {
        println!(
            "{:12} {:34} {:12} {:8} /lib/{}",
            a.name,
            a.triple,
            a.qemu_binary(),
            a.kernel_arch,
            a.loader
        );
    }
    Ok(())
}
