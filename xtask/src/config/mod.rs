//! The data files, typed: every TOML schema alpinist reads, and the one loader.
//!
//! - `toolchains/arch/<arch>.toml`: [`arch`];
//! - `toolchains/components.toml`: [`components`], with [`source`] for each pinned file;
//! - `toolchains/toolchain.toml`: [`toolchain`];
//! - `toolchains/host.toml`: [`host`];
//! - `toolchains/build-deps.toml`: [`build_deps`];
//! - `toolchains/sources.toml`: [`crate::sources::substitute`];
//! - `stages/bootstrap.toml`: [`stages`];
//! - `stages/aports.toml`: [`aports`].

use std::path::Path;

use anyhow::{Context as _, Result};
use serde::de::DeserializeOwned;

pub mod aports;
pub mod arch;
pub mod build_deps;
pub mod components;
pub mod host;
pub mod source;
pub mod stages;
pub mod toolchain;

/// Reads and parses one TOML file; errors name the file.
pub fn load<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}
