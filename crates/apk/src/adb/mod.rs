//! apk v3 ("ADB") packages and indexes: read, check, verify, write and sign them.
//!
//! Placeholder module doc, completed below.

pub mod build;
pub mod container;
pub mod encode;
pub mod index;
pub mod package;
pub mod schema;
pub mod sig;
pub mod wire;
pub mod write;

use std::io;

/// Why an ADB file was refused. Each message is one line that starts with the part that is
/// bad: the container (`format`), a value of the ADB block (`ADB: <where>`), the signature,
/// or a file's data.
#[derive(Debug, thiserror::Error)]
pub enum AdbError {
    #[error("format: {0}")]
    Format(String),
    #[error("limit: {0}")]
    Limit(String),
    /// A value of the ADB block; `at` is where (`paths[2].files[1].name`), empty for the
    /// root.
    #[error("ADB: {at}{}{what}", if at.is_empty() { "" } else { ": " })]
    Schema { at: String, what: String },
    #[error("signature: not signed")]
    Unsigned,
    #[error("signature: no trusted key for key id {}", ids.join(", "))]
    Untrusted { ids: Vec<String> },
    #[error("signature: the signature by {key} is damaged or was made with another key")]
    BadSignature { key: String },
    #[error("signature: the ADB block does not match its intact signature by {key} (signed over other bytes)")]
    Modified { key: String },
    #[error("identity: the ADB block's SHA-256 {actual} does not match the index's {expected}")]
    IdentityMismatch { expected: String, actual: String },
    #[error("data: file {}: {what}", crate::package::shown(path))]
    File { path: String, what: String },
    #[error("read: {0}")]
    Read(io::Error),
    #[error("{}: {error}", crate::package::shown(path))]
    Io { path: String, error: io::Error },
    #[error("{}: {error}", crate::package::shown(path))]
    InFile { path: String, error: Box<AdbError> },
    #[error("cannot write: {0}")]
    Write(String),
}
