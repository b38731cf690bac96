//! What the store records of each output: its manifest, and the `.last` pointer to the
//! newest output of each step name (what [`plan`](crate::engine::plan()) compares against).

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::engine::inputs::Input;

/// The manifest written next to every finished output.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub name: String,
    pub key: String,
    pub inputs: Vec<Input>,
    pub duration_secs: f64,
    pub finished_unix: u64,
    pub log: PathBuf,
    #[serde(default)]
    pub notes: Vec<String>,
}

pub const MANIFEST: &str = ".alpinist-manifest.json";

fn last_pointer(store: &Path, name: &str) -> PathBuf {
    store.join(".last").join(name)
}

/// Records `key` as the newest output of step `name` (what `plan` compares against).
pub fn set_last(store: &Path, name: &str, key: &str) -> Result<()> {
    std::fs::create_dir_all(store.join(".last"))?;
    std::fs::write(last_pointer(store, name), key)?;
    Ok(())
}

/// The manifest of the output `<store>/<key>-<name>/`, if it is still in the store.
pub fn read_manifest(store: &Path, name: &str, key: &str) -> Option<Manifest> {
    let path = store.join(format!("{key}-{name}")).join(MANIFEST);
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

pub(crate) fn last_manifest(store: &Path, name: &str) -> Option<Manifest> {
    let key = std::fs::read_to_string(last_pointer(store, name)).ok()?;
    let path = store.join(format!("{}-{name}", key.trim())).join(MANIFEST);
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}
