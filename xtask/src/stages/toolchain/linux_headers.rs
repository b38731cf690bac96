//! The Linux UAPI headers (`make headers_install`), shared by arches with the same
//! kernel ARCH.

use anyhow::Result;

use crate::config::arch::Arch;
use crate::context::Context;
use crate::engine::{Inputs, Step, StepRun};
use crate::exec::Cmd;
use crate::stages::toolchain::source::{patch_inputs, unpack};
use crate::stages::toolchain::RECIPE;

pub struct LinuxHeaders {
    pub arch: Arch,
}

impl Step for LinuxHeaders {
    /// Named by kernel ARCH: armhf and armv7 (or x86 and x86_64) share one output.
    fn name(&self) -> String {
        format!("linux-headers-{}", self.arch.kernel_arch)
    }
    fn inputs(&self, cx: &Context) -> Result<Inputs> {
        let comp = cx.components.get("linux")?;
        let mut i = Inputs::new();
        i.flag("recipe", RECIPE);
        i.source("linux", comp.source.key_value());
        i.flag("kernel_arch", &self.arch.kernel_arch);
        patch_inputs(cx, &mut i, "linux", &comp.version, &[])?;
        i.tool("make", cx.host_tool_version("make"));
        i.tool("gcc", cx.host_tool_version("gcc"));
        Ok(i)
    }
    fn run(&self, cx: &Context, run: &mut StepRun) -> Result<()> {
        let comp = cx.components.get("linux")?;
        // Only what headers_install reads: a tenth of the tree.
        let top = format!("linux-{}", comp.version);
        let members: Vec<String> = [
            "Makefile",
            "Kbuild",
            "Kconfig",
            "scripts",
            "include",
            "usr",
            "tools/include",
        ]
        .iter()
        .map(|m| format!("{top}/{m}"))
        .chain(std::iter::once(format!(
            "{top}/arch/{}",
            self.arch.kernel_arch
        )))
        .collect();
        let members: Vec<&str> = members.iter().map(|s| s.as_str()).collect();
        let src = unpack(cx, run, "linux", &members, &[])?;
        run.log.status("make headers_install");
        run.log.run(
            &Cmd::new("make")
                .dir(&src)
                .arg(format!("ARCH={}", self.arch.kernel_arch))
                .arg("HOSTCC=gcc")
                .arg(format!(
                    "INSTALL_HDR_PATH={}",
                    run.out.join("usr").display()
                ))
                .arg("headers_install")
                .jobserver(),
        )?;
        Ok(())
    }
}
