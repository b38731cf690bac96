//! The architecture table: one TOML file per Alpine arch in `toolchains/arch/`.
//!
//! Adding an arch is a data file (plus patches, if any). Every triple is parsed with
//! target-lexicon and cross-checked against the ELF facts in the same file, so a typo in
//! a new file is caught when it is loaded, not an hour into a gcc build.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

use anyhow::{bail, Context as _, Result};
use serde::{Deserialize, Serialize};
use target_lexicon::{Endianness, PointerWidth, Triple};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Arch {
    /// Alpine's name for the arch (`CARCH`): aarch64, armv7, x86, …
    pub name: String,
    /// Alpine's target triple (`CHOST`/`CTARGET`).
    pub triple: String,
    /// Suffix of the qemu-user binary (`qemu-<qemu>` / `qemu-<qemu>-static`).
    pub qemu: String,
    /// The oldest qemu-user that runs this arch's code, where older ones cannot.
    #[serde(default)]
    pub qemu_min_version: Option<String>,
    /// musl's `ARCH` (the directory under `arch/` in musl's tree).
    pub musl_arch: String,
    /// musl's dynamic loader file name in `/lib`.
    pub loader: String,
    /// Linux's `ARCH` for `make headers_install`.
    pub kernel_arch: String,
    pub elf: Elf,
    #[serde(default)]
    pub gcc: ComponentFlags,
    #[serde(default)]
    pub binutils: ComponentFlags,
    #[serde(default)]
    pub musl: MuslFlags,
    /// How CMake names the arch.
    pub cmake: CmakeNames,
    /// How Meson names the arch.
    pub meson: MesonNames,
    /// How Rust names the arch.
    pub rust: RustNames,
    /// How OCI images name the arch (the image config's and the index's platform).
    pub oci: OciNames,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OciNames {
    /// GOARCH-style `architecture`: arm64, amd64, 386, arm, ppc64le, s390x, riscv64, loong64.
    pub architecture: String,
    /// `variant` where the architecture has several (arm: v6, v7; arm64: v8).
    #[serde(default)]
    pub variant: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CmakeNames {
    /// `CMAKE_SYSTEM_PROCESSOR` in the toolchain file.
    pub system_processor: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MesonNames {
    /// `cpu_family` of `[host_machine]` (one of Meson's reference CPU families).
    pub cpu_family: String,
    /// `cpu` of `[host_machine]`.
    pub cpu: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RustNames {
    /// Rust's target triple (for recipes that build Rust code with rustup's standard
    /// library).
    pub target: String,
    /// `std::env::consts::ARCH` when alpinist itself runs on this arch, for the arch
    /// that is the build machine (`CBUILD`); at most one file may claim a value.
    #[serde(default)]
    pub host_arch: Option<String>,
    /// Other build machines (their `std::env::consts::ARCH`) whose kernel runs this
    /// arch's programs directly, as x86_64 Linux runs i386 programs: there no qemu-user
    /// is needed, and distributions do not register one (Debian's qemu-user-binfmt has
    /// no qemu-i386 entry on amd64).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs_on: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Elf {
    /// `e_machine` as a number, and its `EM_` name for messages.
    pub machine: u16,
    pub machine_name: String,
    /// 32 or 64.
    pub class: u8,
    /// "little" or "big".
    pub endian: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentFlags {
    /// Extra `configure` arguments for this arch.
    #[serde(default)]
    pub configure: Vec<String>,
    /// Extra patch sets for this arch only: `patches/<component>/<version>/<set>/*.patch`,
    /// applied after the version's own patches.
    #[serde(default)]
    pub patch_sets: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MuslFlags {
    /// Extra `configure` arguments for this arch.
    #[serde(default)]
    pub configure: Vec<String>,
    /// Build `libssp_nonshared.a` (the hidden `__stack_chk_fail_local`) into the
    /// sysroot, as Alpine's musl-dev ships it; for arches whose PIC stack-protector code
    /// calls that symbol (i386).
    #[serde(default)]
    pub libssp_nonshared: bool,
    /// Extra patch sets for this arch only: `patches/musl/<version>/<set>/*.patch`.
    #[serde(default)]
    pub patch_sets: Vec<String>,
}

impl Arch {
    /// The soname Alpine gives musl's libc: `libc.musl-<CARCH>.so.1`.
    pub fn libc_soname(&self) -> String {
        format!("libc.musl-{}.so.1", self.name)
    }

    pub fn qemu_binary(&self) -> String {
        format!("qemu-{}-static", self.qemu)
    }

    /// True when programs for this arch run directly on the machine alpinist runs on.
    pub fn is_native(&self) -> bool {
        self.is_native_on(std::env::consts::ARCH)
    }

    /// [`Arch::is_native`] on a build machine whose `std::env::consts::ARCH` is `host`.
    fn is_native_on(&self, host: &str) -> bool {
        self.rust.host_arch.as_deref() == Some(host)
    }

    /// True when the machine alpinist runs on executes this arch's programs without
    /// qemu-user: its own arch, or one its kernel runs as well (`rust.runs_on`).
    /// Unlike [`Arch::is_native`] this says nothing about `CBUILD`.
    pub fn runs_directly(&self) -> bool {
        self.runs_directly_on(std::env::consts::ARCH)
    }

    /// True when this 32-bit arch's programs run directly on a 64-bit build machine
    /// (x86 on x86_64): commands inside its roots then run under the 32-bit personality,
    /// so `uname -m` answers as the arch's own machines do (i686), not x86_64.
    pub fn wants_linux32(&self) -> bool {
        self.wants_linux32_on(std::env::consts::ARCH)
    }

    /// [`Arch::wants_linux32`] on a build machine whose `std::env::consts::ARCH` is `host`.
    pub fn wants_linux32_on(&self, host: &str) -> bool {
        !self.is_native_on(host) && self.runs_directly_on(host) && self.elf.class == 32
    }

    /// The arch as an input of what is built from it: without `rust.runs_on`, which
    /// describes build machines, not the toolchain or the packages (a change to it
    /// rebuilds nothing).
    pub fn as_build_input(&self) -> Arch {
        let mut a = self.clone();
        a.rust.runs_on.clear();
        a
    }

    /// [`Arch::runs_directly`] on a build machine whose `std::env::consts::ARCH` is `host`.
    pub fn runs_directly_on(&self, host: &str) -> bool {
        self.is_native_on(host) || self.rust.runs_on.iter().any(|h| h == host)
    }

    fn check(&self, file: &Path) -> Result<()> {
        let t = Triple::from_str(&self.triple).map_err(|e| {
            anyhow::anyhow!(
                "{}: triple {:?} is not valid: {e}",
                file.display(),
                self.triple
            )
        })?;
        let width = t
            .pointer_width()
            .map_err(|_| anyhow::anyhow!("{}: unknown pointer width", file.display()))?;
        let class = match width {
            PointerWidth::U16 => 16,
            PointerWidth::U32 => 32,
            PointerWidth::U64 => 64,
        };
        if class != self.elf.class {
            bail!(
                "{}: elf.class = {} but triple {} is {}-bit",
                file.display(),
                self.elf.class,
                self.triple,
                class
            );
        }
        let endian = match t.endianness() {
            Ok(Endianness::Little) => "little",
            Ok(Endianness::Big) => "big",
            Err(_) => bail!("{}: unknown endianness for {}", file.display(), self.triple),
        };
        if endian != self.elf.endian {
            bail!(
                "{}: elf.endian = {:?} but triple {} is {endian}-endian",
                file.display(),
                self.elf.endian,
                self.triple
            );
        }
        if !self.triple.contains("-alpine-linux-musl") {
            bail!(
                "{}: triple {:?} is not an Alpine musl triple (<cpu>-alpine-linux-musl*)",
                file.display(),
                self.triple
            );
        }
        if !self.rust.target.contains("-linux-musl") {
            bail!(
                "{}: rust.target {:?} is not a Rust musl target (<cpu>-unknown-linux-musl*)",
                file.display(),
                self.rust.target
            );
        }
        if !self.loader.starts_with("ld-musl-") || !self.loader.ends_with(".so.1") {
            bail!(
                "{}: loader {:?} is not ld-musl-<x>.so.1",
                file.display(),
                self.loader
            );
        }
        Ok(())
    }
}

impl Arch {
    /// Rust's name for the same target (`rust.target`).
    pub fn rust_target(&self) -> String {
        self.rust.target.clone()
    }
}

#[derive(Debug, Clone)]
pub struct ArchTable {
    pub arches: BTreeMap<String, Arch>,
}

impl ArchTable {
    pub fn load(dir: &Path) -> Result<ArchTable> {
        let mut arches = BTreeMap::new();
        let entries = std::fs::read_dir(dir)
            .with_context(|| format!("reading arch table {}", dir.display()))?;
        for e in entries {
            let path = e?.path();
            if path.extension().and_then(|x| x.to_str()) != Some("toml") {
                continue;
            }
            let arch: Arch = super::load(&path)?;
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default();
            if stem != arch.name {
                bail!(
                    "{}: name = {:?} but the file is named {stem}.toml; they must agree",
                    path.display(),
                    arch.name
                );
            }
            arch.check(&path)?;
            arches.insert(arch.name.clone(), arch);
        }
        if arches.is_empty() {
            bail!("no arch files (*.toml) in {}", dir.display());
        }
        let mut claimed: BTreeMap<&str, &str> = BTreeMap::new();
        for a in arches.values() {
            if let Some(h) = a.rust.host_arch.as_deref() {
                if let Some(other) = claimed.insert(h, &a.name) {
                    bail!(
                        "{}: rust.host_arch = {h:?} is also claimed by {other}.toml; \
                         give it to one arch only",
                        dir.join(format!("{}.toml", a.name)).display()
                    );
                }
            }
        }
        for a in arches.values() {
            for h in &a.rust.runs_on {
                if !claimed.contains_key(h.as_str()) {
                    bail!(
                        "{}: rust.runs_on names {h:?}, which no arch file has as its \
                         rust.host_arch (known: {})",
                        dir.join(format!("{}.toml", a.name)).display(),
                        claimed.keys().cloned().collect::<Vec<_>>().join(", ")
                    );
                }
            }
        }
        Ok(ArchTable { arches })
    }

    /// The arch alpinist itself runs on (its `rust.host_arch` is this program's
    /// `std::env::consts::ARCH`), if an arch file claims it.
    pub fn build_machine(&self) -> Option<&Arch> {
        self.arches.values().find(|a| a.is_native())
    }

    /// Every arch's Alpine name and triple, `name=triple` separated by spaces: abuild's
    /// `arch_to_hostspec`/`triplet_to_arch` table, handed to recipes.
    pub fn triplets(&self) -> String {
        self.arches
            .values()
            .map(|a| format!("{}={}", a.name, a.triple))
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn get(&self, name: &str) -> Result<&Arch> {
        self.arches.get(name).ok_or_else(|| {
            anyhow::anyhow!(
                "unknown arch {name:?}; known arches: {}",
                self.arches.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        })
    }
}
