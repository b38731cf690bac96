//! `stages/aports.toml`: settings for single aports, for every set and `build`.

use std::collections::BTreeMap;

use serde::Deserialize;

/// `stages/aports.toml`: settings for single aports, for every set and `build`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AportsFile {
    #[serde(default)]
    pub aport: BTreeMap<String, AportSettings>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AportSettings {
    /// Variables the recipe reads from its environment, `KEY=VALUE`.
    pub env: Vec<String>,
    /// Why (documentation; required).
    #[allow(dead_code)]
    pub why: String,
}
