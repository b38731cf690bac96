//! Pinned component versions (`toolchains/components.toml`).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{anyhow, Context as _, Result};
use serde::{Deserialize, Serialize};

use crate::config::source::SourceSpec;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Component {
    pub version: String,
    /// Which Alpine release ships this version (documentation, shown by `fetch`).
    #[serde(default)]
    pub alpine: Option<String>,
    pub source: SourceSpec,
}

#[derive(Debug, Clone)]
pub struct Components {
    pub map: BTreeMap<String, Component>,
}

impl Components {
    pub fn load(path: &Path) -> Result<Components> {
        let map: BTreeMap<String, Component> = super::load(path)?;
        for (name, c) in &map {
            c.source
                .checksum()
                .with_context(|| format!("{}: component {name}", path.display()))?;
        }
        Ok(Components { map })
    }

    pub fn get(&self, name: &str) -> Result<&Component> {
        self.map
            .get(name)
            .ok_or_else(|| anyhow!("toolchains/components.toml has no component {name:?}"))
    }
}
