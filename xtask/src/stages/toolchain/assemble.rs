//! The relocatable prefix: binutils, gcc and the headers in one tree, an Alpine-layout
//! sysroot, runtime libraries for qemu, the CMake and Meson files.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};

use crate::config::arch::Arch;
use crate::context::Context;
use crate::engine::{Inputs, Step, StepRef, StepRun, Use};
use crate::exec::Cmd;
use crate::fsutil::copy_tree;
use crate::stages::toolchain::cross_files::{write_cmake, write_meson};
use crate::stages::toolchain::{Binutils, Gcc, LinuxHeaders};

/// The assemble step has its own, so that fixing it does not rebuild the compilers.
const ASSEMBLE_RECIPE: &str = "7";

/// What alpinist adds to gcc's `cpp_unique_options` spec: every compile of a C or C++
/// source that is not given a `-frandom-seed` gets one made of its input file's name.
/// GCC otherwise draws a random number per compile, and LTO objects carry it (section
/// and symbol names), so two builds of the same source differ; with the build tree at one
/// fixed path the name is the same in every build and different for every file. Not
/// `cc1_options`: lto1 uses that too, at link time, where there is no input name.
///
/// And `-Wformat -Wformat-security`, which Alpine's gcc turns on by default (aports
/// main/gcc, patch 0006): recipes rely on it — musl's drops every flag from `-O` to the
/// last space of `$CFLAGS`, keeping `-Werror=format-security` without `-Wformat`, which
/// another gcc rejects. They come before the compile's own options (those are in
/// `cc1_options`, after), so a recipe's `-Wno-format` still wins; with it, no
/// `-Wformat-security` either (as with Alpine's, where `-Wno-format` turns it off).
const SEED_SPEC: &str =
    " -Wformat %{!Wno-format:%{!Wformat=0:-Wformat-security}} %{!frandom-seed=*:-frandom-seed=%i}";

/// Runtime libraries copied into the sysroot's /usr/lib so target programs find them.
const RUNTIME_LIBS: &[&str] = &["libgcc_s.so", "libstdc++.so", "libatomic.so", "libgomp.so"];

pub struct Assemble {
    pub arch: Arch,
    pub binutils: StepRef<Binutils>,
    pub headers: StepRef<LinuxHeaders>,
    pub gcc: StepRef<Gcc>,
}

impl Step<Context> for Assemble {
    fn name(&self) -> String {
        format!("toolchain-{}", self.arch.name)
    }
    fn uses(&self) -> Vec<Use> {
        vec![self.binutils.into(), self.headers.into(), self.gcc.into()]
    }
    fn inputs(&self, _cx: &Context) -> Result<Inputs> {
        let mut i = Inputs::new();
        i.flag("recipe", ASSEMBLE_RECIPE);
        // The whole arch file, field by field: the cross files and alpinist-toolchain.toml
        // are made of it (all but what describes build machines: Arch::as_build_input).
        let value =
            toml::Value::try_from(self.arch.as_build_input()).context("serialising the arch")?;
        for (field, v) in flatten("arch", &value) {
            i.flag(field, v);
        }
        i.flag("libc_soname", self.arch.libc_soname());
        Ok(i)
    }
    fn run(&self, _cx: &Context, run: &mut StepRun) -> Result<()> {
        let a = &self.arch;
        let t = &a.triple;
        let out = run.out.clone();
        run.log.status("assembling the prefix");
        copy_tree(run.output(self.binutils)?, &out)?;
        copy_tree(run.output(self.gcc)?, &out)?;
        let sysroot = out.join("sysroot");
        copy_tree(run.output(self.headers)?, &sysroot)?;
        for junk in [crate::engine::MANIFEST, ".alpinist-log.txt"] {
            let _ = std::fs::remove_file(out.join(junk));
            let _ = std::fs::remove_file(sysroot.join(junk));
        }

        // Alpine's musl layout: the loader is the real file in /lib, the soname link
        // next to it, and /usr/lib/libc.so a relative link (qemu -L needs relative).
        run.log.status("Alpine sysroot layout");
        let lib = sysroot.join("lib");
        let usrlib = sysroot.join("usr/lib");
        std::fs::create_dir_all(&lib)?;
        let loader = lib.join(&a.loader);
        let libc = usrlib.join("libc.so");
        if std::fs::symlink_metadata(&libc)?.file_type().is_file() {
            let _ = std::fs::remove_file(&loader);
            std::fs::rename(&libc, &loader)?;
        }
        let _ = std::fs::remove_file(&libc);
        std::os::unix::fs::symlink(format!("../../lib/{}", a.loader), &libc)?;
        let soname = lib.join(a.libc_soname());
        let _ = std::fs::remove_file(&soname);
        std::os::unix::fs::symlink(&a.loader, &soname)?;

        // Target runtime libraries, for running dynamic programs from the sysroot.
        let target_lib = target_lib_dir(&out, t)?;
        for e in std::fs::read_dir(&target_lib)
            .with_context(|| format!("reading {}", target_lib.display()))?
        {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            if RUNTIME_LIBS
                .iter()
                .any(|l| name.starts_with(&format!("{l}.")))
                && !name.ends_with(".py")
            {
                let dest = usrlib.join(&name);
                let _ = std::fs::remove_file(&dest);
                let ft = std::fs::symlink_metadata(e.path())?.file_type();
                if ft.is_symlink() {
                    std::os::unix::fs::symlink(std::fs::read_link(e.path())?, &dest)?;
                } else {
                    std::fs::copy(e.path(), &dest)?;
                }
            }
        }

        // The LTO plugin where binutils' ar/nm/ranlib look for plugins, so static
        // archives of LTO objects get a symbol index (as Alpine's gcc package links it).
        let libexec = out.join("libexec/gcc").join(t);
        if let Some(ver) = std::fs::read_dir(&libexec)
            .ok()
            .and_then(|mut rd| rd.next())
            .and_then(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
        {
            let plugins = out.join("lib/bfd-plugins");
            std::fs::create_dir_all(&plugins)?;
            let link = plugins.join("liblto_plugin.so");
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(
                format!("../../libexec/gcc/{t}/{ver}/liblto_plugin.so"),
                &link,
            )?;
        }

        write_seed_specs(&out, t)?;

        // cc/c++ names, as Alpine's cross gcc has them.
        for (alias, real) in [("cc", "gcc"), ("c++", "g++")] {
            let l = out.join("bin").join(format!("{t}-{alias}"));
            if std::fs::symlink_metadata(&l).is_err() {
                std::os::unix::fs::symlink(format!("{t}-{real}"), &l)?;
            }
        }
        write_cmake(&out, a)?;
        write_meson(&out, a)?;
        std::fs::write(
            out.join("alpinist-toolchain.toml"),
            toml::to_string(&a.as_build_input()).context("serialising the arch")?,
        )?;
        Ok(())
    }
}

/// gcc's specs with [`SEED_SPEC`] added, as `lib/gcc/<triple>/<version>/specs`, which
/// the driver reads instead of its built-in specs (so the file holds all of them, as
/// `-dumpspecs` prints them).
fn write_seed_specs(prefix: &Path, triple: &str) -> Result<()> {
    let dir = prefix.join("lib/gcc").join(triple);
    let mut versions: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.join("libgcc.a").exists())
        .collect();
    let Some(v) = versions.pop() else {
        bail!(
            "no gcc version directory with libgcc.a under {}",
            dir.display()
        )
    };
    if !versions.is_empty() {
        bail!("more than one gcc version under {}", dir.display());
    }
    let specs = v.join("specs");
    if specs.exists() {
        bail!(
            "{} exists already: gcc installed a specs file, which alpinist would replace",
            specs.display()
        );
    }
    let gcc = prefix.join("bin").join(format!("{triple}-gcc"));
    let out = Cmd::new(gcc.display().to_string())
        .arg("-dumpspecs")
        .output()?;
    if !out.status.success() {
        bail!(
            "{} -dumpspecs failed: {}",
            gcc.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8(out.stdout).context("gcc -dumpspecs printed non-UTF-8")?;
    std::fs::write(&specs, add_seed_spec(&text)?)?;
    Ok(())
}

/// The spec [`SEED_SPEC`] goes at the end of.
const SEED_SPEC_NAME: &str = "cpp_unique_options";

/// `specs` (gcc -dumpspecs) with [`SEED_SPEC`] at the end of [`SEED_SPEC_NAME`].
fn add_seed_spec(specs: &str) -> Result<String> {
    let mut out = String::with_capacity(specs.len() + SEED_SPEC.len());
    let mut lines = specs.split_inclusive('\n');
    let mut found = false;
    while let Some(line) = lines.next() {
        out.push_str(line);
        if line.trim_end() == format!("*{SEED_SPEC_NAME}:") {
            let body = lines.next().unwrap_or_default();
            out.push_str(body.trim_end_matches('\n'));
            out.push_str(SEED_SPEC);
            out.push('\n');
            found = true;
        }
    }
    if !found {
        bail!("gcc -dumpspecs printed no {SEED_SPEC_NAME} spec");
    }
    Ok(out)
}

/// Where gcc installed the target libraries: `<triple>/lib`, or `<triple>/lib64` on
/// targets whose multilib directory name gcc keeps even with --disable-multilib.
pub fn target_lib_dir(prefix: &Path, triple: &str) -> Result<PathBuf> {
    for d in ["lib", "lib64"] {
        let p = prefix.join(triple).join(d);
        if p.join("libgcc_s.so.1").exists() {
            return Ok(p);
        }
    }
    bail!(
        "no libgcc_s.so.1 under {}/{triple}/lib or lib64",
        prefix.display()
    )
}

/// A TOML value as `(dotted.field, text)` pairs; arrays as space-separated words.
fn flatten(prefix: &str, v: &toml::Value) -> Vec<(String, String)> {
    match v {
        toml::Value::Table(t) => t
            .iter()
            .flat_map(|(k, v)| flatten(&format!("{prefix}.{k}"), v))
            .collect(),
        toml::Value::Array(a) => {
            let words: Vec<String> = a
                .iter()
                .map(|x| match x {
                    toml::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            vec![(prefix.to_string(), words.join(" "))]
        }
        toml::Value::String(s) => vec![(prefix.to_string(), s.clone())],
        other => vec![(prefix.to_string(), other.to_string())],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_goes_at_the_end_of_cpp_unique_options() {
        let specs = "*cc1_options:\n%{O*}\n\n*cpp_unique_options:\n%{C} %i\n\n*cpp:\n%{b}\n";
        let got = add_seed_spec(specs).unwrap();
        assert_eq!(
            got,
            "*cc1_options:\n%{O*}\n\n*cpp_unique_options:\n%{C} %i -Wformat %{!Wno-format:%{!Wformat=0:-Wformat-security}} %{!frandom-seed=*:-frandom-seed=%i}\n\n*cpp:\n%{b}\n"
        );
        assert!(add_seed_spec("*asm:\n%{a}\n").is_err());
    }
}
