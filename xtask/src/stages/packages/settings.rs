//! The settings of one build: `BOOTSTRAP`, recipe environment, where sources can be had
//! (`toolchains/sources.toml`), per-aport variables (`stages/aports.toml`), Alpine's
//! build settings (abuild's default.conf).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};

use crate::config::aports::AportsFile;
use crate::config::arch::Arch;
use crate::context::Context;
use crate::sources::substitute::AportSources;
use crate::stages::packages::defaults::AbuildDefaults;

/// Settings for one `build` invocation.
#[derive(Debug, Clone, Default)]
pub struct BuildSettings {
    /// `BOOTSTRAP=…` for the recipes (nocc, nolibc, nobase, bootimage).
    pub bootstrap: Option<String>,
    /// Extra environment for every recipe (`KEY=VALUE`).
    pub env: Vec<(String, String)>,
    /// Where sources can be had besides their URLs: identical copies and documented
    /// substitutes (`toolchains/sources.toml`, and the files a set adds).
    pub sources: AportSources,
    /// Per-aport environment (`stages/aports.toml`), by aport directory name.
    pub aport_env: BTreeMap<String, Vec<(String, String)>>,
    /// Per-aport older commits to build instead (`stages/aports.toml` `revision`).
    pub aport_revision: BTreeMap<String, String>,
    /// Alpine's build settings (CFLAGS, LDFLAGS, …) for the arch: from the checkout's
    /// abuild aport ([`BuildSettings::use_abuild_aport`]), else alpinist's data.
    pub defaults: AbuildDefaults,
}

/// `KEY=VALUE` → (KEY, VALUE), naming `what` in the error.
pub fn parse_env(kv: &str, what: &str) -> Result<(String, String)> {
    let (k, v) = kv
        .split_once('=')
        .ok_or_else(|| anyhow!("{what}: {kv:?} is not KEY=VALUE"))?;
    Ok((k.to_string(), v.to_string()))
}

impl BuildSettings {
    /// Settings with alpinist's data: `toolchains/sources.toml` plus `extra_sources`, and
    /// `stages/aports.toml`.
    pub fn new(
        cx: &Context,
        bootstrap: Option<String>,
        env: Vec<(String, String)>,
        extra_sources: &[PathBuf],
    ) -> Result<BuildSettings> {
        let mut files = vec![cx.layout.toolchains_data().join("sources.toml")];
        files.extend(extra_sources.iter().cloned());
        let sources = AportSources::load(&files)?;
        let p = cx.layout.stages_data().join("aports.toml");
        let f: AportsFile = crate::config::load(&p)?;
        let mut aport_env = BTreeMap::new();
        let mut aport_revision = BTreeMap::new();
        for (name, a) in f.aport {
            if let Some(rev) = a.revision {
                aport_revision.insert(name.clone(), rev);
            }
            let what = format!("{}: aport {name}", p.display());
            let vars = a
                .env
                .iter()
                .map(|kv| parse_env(kv, &what))
                .collect::<Result<Vec<_>>>()?;
            aport_env.insert(name, vars);
        }
        Ok(BuildSettings {
            bootstrap,
            env,
            sources,
            aport_env,
            aport_revision,
            defaults: AbuildDefaults::fallback(cx)?,
        })
    }

    /// Alpine's build settings for `arch` from the abuild aport at `dir`, when there is
    /// one (the checkout's `main/abuild`); says where they came from.
    pub fn use_abuild_aport(
        &mut self,
        cx: &Context,
        arch: &Arch,
        dir: Option<&Path>,
    ) -> Result<()> {
        if let Some(dir) = dir {
            self.defaults = AbuildDefaults::from_aport(cx, arch, dir, self)?;
        }
        eprintln!("build settings: {}", self.defaults.origin);
        Ok(())
    }

    /// The settings one aport builds with: its own variables after everyone's.
    pub fn for_aport(&self, name: &str) -> BuildSettings {
        let mut s = self.clone();
        if let Some(vars) = self.aport_env.get(name) {
            s.env.extend(vars.iter().cloned());
        }
        s
    }
}
