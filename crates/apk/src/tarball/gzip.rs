//! gzip members: compressed as `gzip -n -9` does, and inflated one at a time, exactly up
//! to the member's end.

use std::io::{self, BufRead, Read, Write};
use std::ops::Range;

use flate2::{Compression, Crc, Decompress, FlushDecompress, GzBuilder, Status};

use super::error::TarError;

/// Compresses one gzip member as `gzip -n -9` does: mtime 0, no file name, XFL 2, OS 3 (Unix).
///
/// The deflate stream comes from flate2's default backend (miniz_oxide), which is
/// deterministic for a given version; the lock file pins that version.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = gzip_encoder(Vec::with_capacity(data.len() / 2 + 64));
    // Writing into a Vec cannot fail.
    enc.write_all(data).expect("write to Vec");
    enc.finish().expect("write to Vec")
}

/// A streaming [`gzip`]: the same header and compression, written to `w`.
pub fn gzip_encoder<W: Write>(w: W) -> flate2::write::GzEncoder<W> {
    GzBuilder::new()
        .mtime(0)
        .operating_system(3)
        .write(w, Compression::best())
}

/// Reads exactly `buf.len()` bytes of a gzip header or trailer.
fn gz_read_exact(src: &mut impl BufRead, buf: &mut [u8], what: &str) -> io::Result<()> {
    src.read_exact(buf).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("gzip: truncated {what}"),
        ),
        _ => e,
    })
}

/// Reads a gzip member header (RFC 1952) from `src`, leaving it at the deflate stream.
fn read_gzip_header(src: &mut impl BufRead) -> Result<(), TarError> {
    let bad = |what: &str| TarError::Gzip(what.to_string());
    let mut fixed = [0u8; 10];
    gz_read_exact(src, &mut fixed, "header").map_err(gz_io)?;
    if fixed[0] != 0x1f || fixed[1] != 0x8b {
        return Err(bad("not a gzip member (bad magic)"));
    }
    if fixed[2] != 8 {
        return Err(bad("compression method is not deflate"));
    }
    let flags = fixed[3];
    if flags & 0xe0 != 0 {
        return Err(bad("reserved header flags set"));
    }
    if flags & 0x04 != 0 {
        let mut xlen = [0u8; 2];
        gz_read_exact(src, &mut xlen, "header").map_err(gz_io)?;
        let mut extra = vec![0u8; u16::from_le_bytes(xlen) as usize];
        gz_read_exact(src, &mut extra, "header").map_err(gz_io)?;
    }
    for flag in [0x08u8, 0x10] {
        if flags & flag != 0 {
            // A NUL-terminated name or comment, at most 64 KiB (ours are never there).
            let mut text = Vec::new();
            (&mut *src)
                .take(1 << 16)
                .read_until(0, &mut text)
                .map_err(gz_io)?;
            if text.last() != Some(&0) {
                return Err(bad("truncated header"));
            }
        }
    }
    if flags & 0x02 != 0 {
        let mut crc16 = [0u8; 2];
        gz_read_exact(src, &mut crc16, "header").map_err(gz_io)?;
    }
    Ok(())
}

/// A reader that inflates exactly one gzip member from a buffered source and stops at its
/// end, so that the source is left at the next member. The CRC32 and length in the trailer
/// are checked. What the member's compressed bytes are (for signatures, `datahash`, `C:`) is
/// for the source to record: every byte this reader takes is `consume`d from it.
pub struct GzMemberReader<B> {
    src: B,
    inflate: Decompress,
    crc: Crc,
    /// Set once the trailer has been read and checked.
    done: bool,
}

impl<B: BufRead> GzMemberReader<B> {
    /// Reads the member header from `src`.
    pub fn new(src: B) -> Result<Self, TarError> {
        GzMemberReader::with_inflater(src, None)
    }

    /// [`GzMemberReader::new`], reusing the inflater of an earlier member (from
    /// [`GzMemberReader::into_parts`]): a new one is about 43 KB to allocate and clear.
    pub fn with_inflater(mut src: B, inflate: Option<Decompress>) -> Result<Self, TarError> {
        read_gzip_header(&mut src)?;
        let inflate = match inflate {
            Some(mut d) => {
                d.reset(false);
                d
            }
            None => Decompress::new(false),
        };
        Ok(GzMemberReader {
            src,
            inflate,
            crc: Crc::new(),
            done: false,
        })
    }

    /// The source and the inflater, for the next member.
    pub fn into_parts(self) -> (B, Decompress) {
        (self.src, self.inflate)
    }

    /// Whether the member has been read to its end (trailer checked).
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Reads (and discards) whatever is left of the member.
    pub fn finish(&mut self) -> Result<(), TarError> {
        let mut sink = [0u8; 8192];
        while self.read(&mut sink).map_err(gz_io)? != 0 {}
        Ok(())
    }

    /// The source, positioned after the member when it was read to its end.
    pub fn into_inner(self) -> B {
        self.src
    }

    fn check_trailer(&mut self) -> io::Result<()> {
        let mut t = [0u8; 8];
        gz_read_exact(&mut self.src, &mut t, "trailer")?;
        let crc = u32::from_le_bytes([t[0], t[1], t[2], t[3]]);
        let isize = u32::from_le_bytes([t[4], t[5], t[6], t[7]]);
        if crc != self.crc.sum() || isize != self.crc.amount() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "gzip: CRC or length mismatch",
            ));
        }
        self.done = true;
        Ok(())
    }
}

impl<B: BufRead> Read for GzMemberReader<B> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        loop {
            let input = self.src.fill_buf()?;
            let at_eof = input.is_empty();
            let before_in = self.inflate.total_in();
            let before_out = self.inflate.total_out();
            let status = self
                .inflate
                .decompress(input, buf, FlushDecompress::None)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("gzip: {e}")))?;
            let consumed = (self.inflate.total_in() - before_in) as usize;
            let produced = (self.inflate.total_out() - before_out) as usize;
            self.src.consume(consumed);
            self.crc.update(&buf[..produced]);
            if status == Status::StreamEnd {
                self.check_trailer()?;
                return Ok(produced);
            }
            if produced > 0 {
                return Ok(produced);
            }
            if consumed == 0 && at_eof {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "gzip: member truncated",
                ));
            }
        }
    }
}

/// Inflates the member starting at `input[start]` completely, refusing more than `limit`
/// decompressed bytes. Returns the data and the member's byte range.
pub fn inflate_member(
    input: &[u8],
    start: usize,
    limit: u64,
) -> Result<(Vec<u8>, Range<usize>), TarError> {
    let mut rest = input.get(start..).unwrap_or_default();
    let mut r = GzMemberReader::new(&mut rest)?;
    let mut out = Vec::new();
    (&mut r)
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(gz_io)?;
    if out.len() as u64 > limit {
        return Err(TarError::Gzip(format!(
            "member inflates to more than {limit} bytes"
        )));
    }
    if !r.is_done() {
        return Err(TarError::Gzip("member truncated".to_string()));
    }
    drop(r);
    Ok((out, start..input.len() - rest.len()))
}

/// Turns an I/O error from a [`GzMemberReader`] into a [`TarError::Gzip`] when it is one.
pub fn gz_io(e: io::Error) -> TarError {
    let msg = e.to_string();
    match msg.strip_prefix("gzip: ") {
        Some(rest) => TarError::Gzip(rest.to_string()),
        None => TarError::Io(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_header_like_gzip_n_9() {
        let z = gzip(b"hello");
        assert_eq!(&z[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3]);
        let (out, range) = inflate_member(&z, 0, 100).unwrap();
        assert_eq!(out, b"hello");
        assert_eq!(range, 0..z.len());
    }

    #[test]
    fn members_split_exactly() {
        let mut two = gzip(b"first");
        let first_len = two.len();
        two.extend(gzip(b"second"));
        let (a, ra) = inflate_member(&two, 0, 100).unwrap();
        let (b, rb) = inflate_member(&two, ra.end, 100).unwrap();
        assert_eq!(
            (a.as_slice(), b.as_slice()),
            (&b"first"[..], &b"second"[..])
        );
        assert_eq!(ra, 0..first_len);
        assert_eq!(rb.end, two.len());
        assert!(inflate_member(&two[..two.len() - 3], ra.end, 100).is_err());
    }
}
