//! What goes wrong reading or writing tar and gzip.

use std::io;

/// Errors from the tar and gzip layer. Callers wrap them with which member was being read.
#[derive(Debug, thiserror::Error)]
pub enum TarError {
    #[error("I/O error: {0}")]
    Io(io::Error),
    #[error("gzip: {0}")]
    Gzip(String),
    #[error("tar header at offset {offset}: {what}")]
    Header { offset: u64, what: String },
    #[error("tar stream truncated at offset {0}")]
    Truncated(u64),
    #[error("non-zero data after the end-of-archive blocks at offset {0}")]
    AfterEnd(u64),
    #[error("entry {path:?} is {size} bytes, more than the {max} allowed here")]
    TooLarge { path: String, size: u64, max: u64 },
    #[error("cannot write {path:?}: {what}")]
    Unwritable { path: String, what: String },
}

// The cause is part of each message (no `source()`), so that a chain of errors prints
// every cause once.
impl From<io::Error> for TarError {
    fn from(e: io::Error) -> Self {
        TarError::Io(e)
    }
}
