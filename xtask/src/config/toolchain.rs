//! `toolchains/toolchain.toml`: the flags every arch shares.

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
