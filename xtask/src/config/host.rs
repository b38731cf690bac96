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
    /// The commands that need it.
    #[serde(rename = "for")]
    pub for_: Vec<Purpose>,
}

/// Every need of `toolchains/host.toml`.
pub fn load(layout: &Layout) -> Result<Vec<Need>> {
    let f: HostFile = super::load(&layout.toolchains_data().join("host.toml"))?;
    Ok(f.need)
}

/// What a host tool is needed for (`for = [...]` in `toolchains/host.toml`); a command
/// checks the needs of its purpose before it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Purpose {
    /// Building the stage 1 toolchain.
    Toolchain,
    /// Building aports (the sandbox, fakeroot, …).
    Build,
    /// Downloading and verifying sources.
    Fetch,
    /// The test suite (`cargo xtask test`).
    Check,
    /// Tools recipes commonly run; installed by `setup`, checked by each recipe's own
    /// build-side dependencies (`toolchains/build-deps.toml`).
    Recipes,
}

impl std::fmt::Display for Purpose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Purpose::Toolchain => "toolchain",
            Purpose::Build => "build",
            Purpose::Fetch => "fetch",
            Purpose::Check => "check",
            Purpose::Recipes => "recipes",
        })
    }
}
