//! The tar and gzip dialect of apk v2 files.
//!
//! A v2 package or index is several gzip members, each holding part of one tar stream
//! (spec §5.1). This module knows how to:
//! - split and inflate gzip members exactly at their boundaries, remembering the
//!   **compressed** bytes of each (signatures, `datahash` and `C:` are taken over those);
//! - compress a member the way abuild does (`gzip -n -9`);
//! - read tar headers with apk's rules (`apk:src/tar.c`): `ustar` magic required, octal
//!   fields followed only by NUL/space, pax `path`/`linkpath`/`SCHILY.xattr.*`/
//!   `APK-TOOLS.checksum.SHA1`, GNU `L` long names, ustar `prefix`;
//! - write tar headers like GNU tar in `--format=posix` as abuild drives it (a pax `x`
//!   header before every member), or like apk's own index writer.
//!
//! The tar code is our own rather than the `tar` crate's so that what we accept and what we
//! emit are exactly apk's dialect, byte for byte; the `tar` crate is used in tests as an
//! independent reader.
//!
//! Its parts: `gzip` (members in and out), `header` (a member's metadata), `read` (apk's
//! rules for reading) and `write` (GNU tar's and apk's ways of writing).

use std::io;

mod gzip;
mod header;
mod read;
mod write;

pub use gzip::{gz_io, gzip, gzip_encoder, inflate_member, GzMemberReader};
pub use header::{EntryType, Header};
pub use read::TarReader;
pub use write::{pax_record, TarEnd, TarStyle, TarWriter};

/// Tar block size.
pub const BLOCK: usize = 512;
/// GNU tar's default record size (blocking factor 20); abuild's data member is padded to it.
pub const GNU_RECORD: usize = 10240;
/// The pax record abuild-tar adds to each regular file and symlink.
pub const PAX_CHECKSUM_SHA1: &str = "APK-TOOLS.checksum.SHA1";
/// Prefix of pax records carrying extended attributes.
pub const PAX_XATTR_PREFIX: &str = "SCHILY.xattr.";
/// apk rejects paths of `PATH_MAX - 10` bytes or more.
pub const MAX_PATH: usize = 4096 - 10;

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

/// The zero bytes after `size` bytes of data, up to the next block.
fn pad(size: u64) -> u64 {
    (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_then_read_both_styles() {
        for style in [TarStyle::GnuPosix, TarStyle::ApkIndex] {
            let mut w = TarWriter::new(Vec::new(), style);
            let mut h = Header::new("APKINDEX", EntryType::Regular);
            h.mode = 0o644;
            h.uname = "root".into();
            h.gname = "root".into();
            h.mtime = 1_700_000_000;
            h.size = 3;
            w.append(&h, b"abc").unwrap();
            let bytes = w.finish(TarEnd::TwoBlocks).unwrap();
            let mut r = TarReader::new(bytes.as_slice());
            let got = r.next_entry().unwrap().unwrap();
            assert_eq!(got, h);
            assert_eq!(r.read_data(10).unwrap(), b"abc");
            assert!(r.next_entry().unwrap().is_none());
            assert!(r.saw_end_blocks());
        }
    }

    #[test]
    fn long_names_use_pax() {
        let long = format!("usr/{}/file", "d".repeat(150));
        let mut w = TarWriter::new(Vec::new(), TarStyle::GnuPosix);
        let mut h = Header::new(long.clone(), EntryType::Symlink);
        h.link_name = "t".repeat(120);
        h.mode = 0o777;
        w.append(&h, b"").unwrap();
        let bytes = w.finish(TarEnd::GnuRecord).unwrap();
        assert_eq!(bytes.len() % GNU_RECORD, 0);
        let got = TarReader::new(bytes.as_slice())
            .next_entry()
            .unwrap()
            .unwrap();
        assert_eq!(got.path, long);
        assert_eq!(got.link_name, h.link_name);
    }

    #[test]
    fn apk_index_style_long_names_use_gnu_longlink() {
        let long = format!("busybox-1.36.1-r0.X1{}.post-install", "a".repeat(80));
        let mut w = TarWriter::new(Vec::new(), TarStyle::ApkIndex);
        let mut h = Header::new(long.clone(), EntryType::Regular);
        h.mode = 0o755;
        h.uname = "root".into();
        h.gname = "root".into();
        h.size = 3;
        w.append(&h, b"x=1").unwrap();
        let bytes = w.finish(TarEnd::TwoBlocks).unwrap();
        // apk's layout: L header (size without the NUL), name + NUL padded, entry header.
        assert_eq!(&bytes[..13], b"././@LongLink");
        assert_eq!(bytes[156], b'L');
        assert_eq!(&bytes[124..136], format!("{:012o}", long.len()).as_bytes());
        assert_eq!(
            &bytes[512..512 + long.len() + 1],
            format!("{long}\0").as_bytes()
        );
        assert_eq!(&bytes[1024..1024 + 99], &long.as_bytes()[..99]);
        let mut r = TarReader::new(bytes.as_slice());
        let got = r.next_entry().unwrap().unwrap();
        assert_eq!(got.path, long);
        assert_eq!(r.read_data(10).unwrap(), b"x=1");
    }
}
