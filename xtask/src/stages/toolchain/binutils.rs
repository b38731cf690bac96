//! binutils (as, ld, ar, …) for the target.

use anyhow::Result;

use crate::config::arch::Arch;
use crate::config::toolchain::ToolchainConfig;
use crate::context::Context;
use crate::engine::{Inputs, Step, StepRun};
use crate::exec::Cmd;
use crate::stages::toolchain::source::{patch_inputs, unpack};
use crate::stages::toolchain::{host_inputs, inside, sandboxed, RECIPE};

pub struct Binutils {
    pub arch: Arch,
    pub config: ToolchainConfig,
}

impl Step<Context> for Binutils {
    fn name(&self) -> String {
        format!("binutils-{}", self.arch.name)
    }
    fn inputs(&self, cx: &Context) -> Result<Inputs> {
        let comp = cx.components.get("binutils")?;
        let mut i = Inputs::new();
        i.flag("recipe", RECIPE);
        i.source("binutils", comp.source.key_value());
        i.flag("triple", &self.arch.triple);
        i.flag("binutils.configure", self.configure().join(" "));
        i.flag(
            "binutils.make_targets",
            self.config.binutils.make_targets.join(" "),
        );
        i.flag("host_cflags", &self.config.host_cflags);
        i.flag("host_ldflags", &self.config.host_ldflags);
        patch_inputs(
            cx,
            &mut i,
            "binutils",
            &comp.version,
            &self.arch.binutils.patch_sets,
        )?;
        host_inputs(cx, &mut i);
        Ok(i)
    }
    fn run(&self, cx: &Context, run: &mut StepRun) -> Result<()> {
        let src = unpack(cx, run, "binutils", &[], &self.arch.binutils.patch_sets)?;
        let obj = run.work.join("obj");
        std::fs::create_dir_all(&obj)?;
        // The commands run in the sandbox, where the tree is at one fixed path.
        let (src, obj) = (inside(run, &src), inside(run, &obj));
        let c = &self.config;
        run.log.status("configure");
        let configure = Cmd::new(src.join("configure").display().to_string())
            .dir(&obj)
            .arg(format!("--target={}", self.arch.triple))
            .arg("--prefix=")
            .arg("--with-sysroot=/sysroot")
            .args(self.configure())
            .arg(format!("CFLAGS={}", c.host_cflags))
            .arg(format!("CXXFLAGS={}", c.host_cflags))
            .arg(format!("LDFLAGS={}", c.host_ldflags));
        run.log.run(&sandboxed(run, &[], configure)?)?;
        run.log.status("make");
        let make = Cmd::new("make")
            .dir(&obj)
            .arg("MAKEINFO=true")
            .args(&c.binutils.make_targets)
            .jobserver();
        run.log.run(&sandboxed(run, &[], make)?)?;
        run.log.status("install");
        let install = Cmd::new("make")
            .dir(&obj)
            .arg("MAKEINFO=true")
            .arg(format!("DESTDIR={}", run.out.display()))
            .args(&c.binutils.install_targets);
        run.log.run(&sandboxed(run, &[], install)?)?;
        let _ = std::fs::remove_dir_all(run.out.join("share"));
        Ok(())
    }
}

impl Binutils {
    fn configure(&self) -> Vec<String> {
        let mut v = self.config.binutils.configure.clone();
        v.extend(self.arch.binutils.configure.iter().cloned());
        v
    }
}
