//! Pinned component versions (`toolchains/components.toml`).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{anyhow, Context as _, Result};
use serde::{Deserialize, Serialize};

use crate::sources::SourceSpec;

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
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let map: BTreeMap<String, Component> =
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
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
