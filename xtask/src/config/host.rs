//! `toolchains/host.toml`: what alpinist needs on the build machine.

use anyhow::Result;
use serde::Deserialize;

use crate::layout::Layout;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HostFile {
    need: Vec<Need>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Need {
    #[serde(default)]
    pub command: Option<String>,
    #[serde(default)]
    pub file: Option<String>,
    /// A C header, looked for in /usr/include and its multiarch subdirectories.
    #[serde(default)]
    pub header: Option<String>,
    pub debian: String,
    #[serde(rename = "for")]
    pub for_: Vec<String>,
}

/// Every need of `toolchains/host.toml`.
pub fn load(layout: &Layout) -> Result<Vec<Need>> {
    let f: HostFile = super::load(&layout.toolchains_data().join("host.toml"))?;
    Ok(f.need)
}
