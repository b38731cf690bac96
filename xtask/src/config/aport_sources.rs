//! `toolchains/sources.toml` (and the files a set or `--sources` adds): where aports'
//! source files can be had besides their URLs. [`crate::sources::substitute`] uses it.

use serde::Deserialize;

use crate::config::source::{DebianOrigin, GitArchive, GitFile};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourcesFile {
    #[serde(default)]
    pub source: Vec<IdenticalEntry>,
    #[serde(default)]
    pub substitute: Vec<AportSubstitute>,
    #[serde(default)]
    pub unobtainable: Vec<Unobtainable>,
}

/// A recipe's source that no origin here has: what was searched, for the error.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unobtainable {
    pub file: String,
    pub searched: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdenticalEntry {
    pub file: String,
    #[serde(default)]
    pub debian: Option<DebianOrigin>,
    #[serde(default)]
    pub git: Option<GitArchive>,
    #[serde(default)]
    pub git_file: Option<GitFile>,
}

/// One documented substitute for one recipe source file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AportSubstitute {
    /// The recipe's source file name this stands in for.
    #[serde(rename = "for")]
    pub for_file: String,
    /// The recipe's sha512 for it: a recipe that moves to another file (a new version, a
    /// new checksum) no longer matches, and its own file is required again.
    pub for_sha512: String,
    /// The substitute's own file name, as it is kept in the distfiles (it must differ
    /// from the recipe's, so neither is ever taken for the other).
    pub file: String,
    pub sha512: String,
    /// Why it is acceptable and how its contents differ from the recipe's file.
    pub why: String,
    #[serde(default)]
    pub urls: Vec<String>,
    #[serde(default)]
    pub debian: Option<DebianOrigin>,
    #[serde(default)]
    pub git: Option<GitArchive>,
    /// A file of a git repository at a commit (`git cat-file blob <commit>:<path>`).
    #[serde(default)]
    pub git_file: Option<GitFile>,
    /// A file of alpinist's checkout (path relative to it) that is the substitute.
    #[serde(default)]
    pub local: Option<String>,
    /// The top directory the recipe expects, when the substitute's differs.
    #[serde(default)]
    pub top: Option<String>,
    /// A directory of patches (relative to the checkout) applied to the substitute's tree
    /// before it is repacked: what its contents need to build as the recipe's file does.
    #[serde(default)]
    pub patches: Option<String>,
    /// Shell commands run in the substitute's tree after the patches, before it is
    /// repacked: what the release process adds that the substitute lacks (generated
    /// `configure` scripts, a version file). Host tools, no network.
    #[serde(default)]
    pub run: Vec<String>,
    /// Variables the recipe's build gets when this substitute is used.
    #[serde(default)]
    pub env: Vec<String>,
    /// Shell commands run in the build's copy of the aport (never the checkout) when
    /// this substitute is used, after the recipe's files were checked: what the recipe
    /// needs to build from it (e.g. dropping the hunks of its patches that change
    /// documentation the substitute does not have).
    #[serde(default)]
    pub recipe_run: Vec<String>,
}
