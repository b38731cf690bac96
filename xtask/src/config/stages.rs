//! `stages/bootstrap.toml`: the pinned aports checkout and the sets of aports.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};
use serde::Deserialize;

use crate::layout::Layout;

#[derive(Debug, Deserialize)]
pub struct Stages {
    pub aports: AportsPin,
    pub set: BTreeMap<String, Set>,
    pub selfhost: SelfhostCheck,
}

/// `[selfhost]`: the aport the self-hosting check builds inside the build root, and how
/// its program shows it works.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelfhostCheck {
    /// Relative to the aports checkout (`main/bzip2`).
    pub aport: String,
    /// A shell command run in the root once the package is installed ...
    pub run: String,
    /// ... and what it must print.
    pub expect: String,
}

#[derive(Debug, Deserialize)]
pub struct AportsPin {
    pub url: String,
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub repos: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub struct Set {
    pub about: String,
    #[serde(default)]
    pub bootstrap: Option<String>,
    pub packages: Vec<String>,
    pub rootfs: Vec<String>,
    /// The build root: what building Alpine on the target needs (compiler, abuild, apk).
    #[serde(default)]
    pub buildroot: Vec<String>,
    /// Extra source mirrors (`${ALPINIST_CHECKOUT}` is alpinist's checkout).
    #[serde(default)]
    pub mirrors: Vec<String>,
    /// Extra recipe environment, `KEY=VALUE` (`${ALPINIST_KEYS}`: the signing key's
    /// directory).
    #[serde(default)]
    pub env: Vec<String>,
    /// More identical copies and substitutes of source files (paths in the checkout),
    /// besides toolchains/sources.toml.
    #[serde(default)]
    pub sources: Vec<String>,
    /// Where the set's packages are published (abuild's REPODEST), under build/
    /// [default: repo]; the root filesystem is made from these repositories only.
    #[serde(default)]
    pub repodest: Option<String>,
}

impl Stages {
    pub fn load(layout: &Layout) -> Result<Stages> {
        super::load(&layout.stages_data().join("bootstrap.toml"))
    }

    pub fn set(&self, name: &str) -> Result<&Set> {
        self.set.get(name).with_context(|| {
            format!(
                "no set {name:?} in stages/bootstrap.toml; known: {}",
                self.set.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        })
    }
}
