//! `toolchains/debian-sources.toml`: the Debian source packages that carry recipes'
//! source files.

use anyhow::Result;
use serde::Deserialize;

use crate::config::source::DebianOrigin;
use crate::layout::Layout;

#[derive(Debug, Deserialize)]
struct DebianSources {
    #[serde(default)]
    source: Vec<DebianSourceEntry>,
}

#[derive(Debug, Deserialize)]
struct DebianSourceEntry {
    file: String,
    debian: DebianOrigin,
}

/// The Debian source package that carries a recipe's source file, if known.
pub fn origin_of(layout: &Layout, file: &str) -> Result<Option<DebianOrigin>> {
    let f: DebianSources = super::load(&layout.toolchains_data().join("debian-sources.toml"))?;
    Ok(f.source
        .into_iter()
        .find(|e| e.file == file)
        .map(|e| e.debian))
}
