//! What a step's output depends on, and the key made of it.

use std::fmt;
use std::path::Path;

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What kind of thing an input is; used for messages ("why is this not cached?").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InputKind {
    /// A source file, by checksum.
    Source,
    /// A patch file, by content hash.
    Patch,
    /// A flag or setting (configure arguments, versions, …).
    Flag,
    /// A data/config file or script, by content hash.
    Config,
    /// Another step this one uses, by key.
    Step,
    /// A host tool this step runs, by version.
    Tool,
}

impl fmt::Display for InputKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InputKind::Source => "source",
            InputKind::Patch => "patch",
            InputKind::Flag => "flag",
            InputKind::Config => "config",
            InputKind::Step => "step",
            InputKind::Tool => "host tool",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Input {
    pub kind: InputKind,
    pub name: String,
    pub value: String,
}

/// Everything a step's output depends on.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Inputs(pub Vec<Input>);

impl Inputs {
    pub fn new() -> Inputs {
        Inputs::default()
    }
    pub fn add(&mut self, kind: InputKind, name: impl Into<String>, value: impl Into<String>) {
        self.0.push(Input {
            kind,
            name: name.into(),
            value: value.into(),
        });
    }
    pub fn flag(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.add(InputKind::Flag, name, value)
    }
    pub fn tool(&mut self, name: impl Into<String>, version: impl Into<String>) {
        self.add(InputKind::Tool, name, version)
    }
    pub fn source(&mut self, name: impl Into<String>, checksum: impl Into<String>) {
        self.add(InputKind::Source, name, checksum)
    }
    /// A file whose content matters (a patch or a config file), by SHA-256.
    pub fn file(&mut self, kind: InputKind, repo: &Path, path: &Path) -> Result<()> {
        let bytes =
            std::fs::read(path).with_context(|| format!("reading input {}", path.display()))?;
        let name = path
            .strip_prefix(repo)
            .unwrap_or(path)
            .display()
            .to_string();
        self.add(kind, name, hex::encode(Sha256::digest(&bytes)));
        Ok(())
    }
    pub(crate) fn sorted(&self) -> Vec<Input> {
        let mut v = self.0.clone();
        v.sort();
        v
    }
}

/// The key of a step: SHA-256 over its name and its sorted inputs, 20 hex digits.
pub(crate) fn key_of(name: &str, inputs: &[Input]) -> String {
    let mut h = Sha256::new();
    h.update(b"alpinist-step-v1\0");
    h.update(name.as_bytes());
    h.update(b"\0");
    for i in inputs {
        h.update(format!("{}\0{}\0{}\0", i.kind, i.name, i.value).as_bytes());
    }
    hex::encode(h.finalize())[..20].to_string()
}
