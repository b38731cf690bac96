//! `toolchains/toolchain.toml` (flags every arch shares) and `stages/toolchain.toml` (the
//! stage 1 steps).

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::layout::Layout;

/// `toolchains/toolchain.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolchainConfig {
    pub host_cflags: String,
    pub host_ldflags: String,
    pub target_cflags: String,
    pub binutils: BinutilsConfig,
    pub gcc: GccConfig,
    pub musl: MuslConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BinutilsConfig {
    pub configure: Vec<String>,
    pub make_targets: Vec<String>,
    pub install_targets: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GccConfig {
    pub configure: Vec<String>,
    #[serde(default)]
    pub env: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MuslConfig {
    pub configure: Vec<String>,
}

impl ToolchainConfig {
    pub fn load(layout: &Layout) -> Result<ToolchainConfig> {
        super::load(&layout.toolchains_data().join("toolchain.toml"))
    }
}

/// `stages/toolchain.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageFile {
    pub step: Vec<StageStep>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageStep {
    pub name: String,
    #[allow(dead_code)]
    about: String,
    #[serde(default)]
    pub uses: Vec<String>,
    /// Steps of `uses` this one may start without: it waits for them when it needs them.
    #[serde(default)]
    pub uses_later: Vec<String>,
}
