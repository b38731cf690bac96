//! `toolchains/build-deps.toml`: Alpine build-side dependency names → host commands.

use anyhow::Result;
use serde::Deserialize;

use crate::layout::Layout;

#[derive(Debug, Deserialize)]
struct BuildDeps {
    #[serde(default)]
    map: Vec<BuildDep>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildDep {
    pub alpine: String,
    #[serde(default)]
    pub command: Option<String>,
    /// The Debian/Ubuntu package that provides `command`.
    #[serde(default)]
    pub debian: Option<String>,
    /// How a name without a Debian package is met.
    #[serde(default)]
    pub note: Option<String>,
}

pub fn load(layout: &Layout) -> Result<Vec<BuildDep>> {
    let f: BuildDeps = super::load(&layout.toolchains_data().join("build-deps.toml"))?;
    Ok(f.map)
}
