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
//! Its parts, each importing only those before it: `error` (what goes wrong), `header`
//! (the format's sizes and a member's metadata), `gzip` (members in and out), `read`
//! (apk's rules for reading) and `write` (GNU tar's and apk's ways of writing).

mod error;
mod gzip;
mod header;
mod read;
mod write;

pub use error::TarError;
pub use gzip::{gz_io, gzip, gzip_encoder, inflate_member, GzMemberReader};
pub use header::{
    EntryType, Header, BLOCK, GNU_RECORD, MAX_PATH, PAX_CHECKSUM_SHA1, PAX_XATTR_PREFIX,
};
pub use read::TarReader;
pub use write::{pax_record, TarEnd, TarStyle, TarWriter};

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
