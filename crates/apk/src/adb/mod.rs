//! apk v3 ("ADB") packages and indexes: read, check, verify, write and sign them, with no
//! process spawned (apk-tools 3.0.6 `doc/apk-v3.5.scd`, `src/adb.c`, `src/apk_adb.c`).
//!
//! A v3 file is a header (`ADB.` and a schema: `pckg` for a package, `indx` for
//! `Packages.adb`), then one ADB block (a tree of tagged values: the metadata and, for a
//! package, the file list with each file's hash), SIG blocks (RSA signatures over the
//! SHA-512 of the ADB block, the key named by an id) and, in a package, one DATA block per
//! file content. The whole may be deflated (`ADBd`) or zstd-compressed (`ADBc`).
//!
//! - [`wire`]: values, read only through bounds-checked views; [`write`](mod@write): the ADB block
//!   laid out as apk-tools lays it out;
//! - [`container`]: the prefix, compression and blocks; [`sig`]: SIG blocks;
//! - [`schema`]: the typed package and index schemas and their schema-checked decoding;
//!   [`encode`]: writing them in apk-tools' order;
//! - [`package`]: reading a package as a stream, trusted before its ADB block is decoded;
//!   [`build`]: writing one as `apk mkpkg` does;
//! - [`index`]: `Packages.adb`, read as `apk` does and written as `apk mkndx` does;
//!   [`repo`]: a repository opened by its `Packages.adb` for `apk add`.
//!
//! Installing a v3 package is the installer's ([`crate::install`]), which tells v2 and v3
//! packages apart by their first bytes.
//!
//! The same RSA keys sign v2 and v3 files ([`crate::sign`]); a v3 signature finds its key
//! by [`crate::sign::PublicKey::adb_key_id`] in a [`crate::sign::Keyring`].

pub mod build;
pub mod container;
pub mod encode;
pub mod index;
pub mod package;
pub mod repo;
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
    /// An index signed by no trusted key, where only a trusted one is used.
    #[error("{0} (the index is not trusted; --allow-untrusted uses it anyway)")]
    NotTrusted(Box<AdbError>),
}
