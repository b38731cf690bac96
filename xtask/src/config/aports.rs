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
    #[serde(default)]
    pub env: Vec<String>,
    /// Build the aport as it was at this commit of the aports checkout (its directory
    /// from `git archive`): a documented version override, for when the current
    /// version's source cannot be had but an older one's can.
    #[serde(default)]
    pub revision: Option<String>,
    /// Why (documentation; required).
    #[allow(dead_code)]
    pub why: String,
}
