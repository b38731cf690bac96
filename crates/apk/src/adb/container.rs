//! The file around the ADB block (`apk-v3(5)`, "BLOCKS"; apk-tools `adb.c`, `adb_comp.c`):
//!
//! ```text
//! file   = "ADB." schema blocks | "ADBd" deflate("ADB." schema blocks)
//!        | "ADBc" alg level compressed("ADB." schema blocks)
//! blocks = ADB SIG* DATA*
//! block  = u32 (type << 30 | 4 + payload length) payload, zero padded to 8 bytes
//!        | u32 (3 << 30 | type) u32 0 u64 (16 + payload length) payload, padded (over 1 GiB)
//! ```
//!
//! `BlockReader` reads blocks one at a time from the uncompressed stream, checking each
//! header before any of its payload is read: a known type, a size that fits, zero padding.
//! What a block may contain, and in which order blocks may come, is the caller's business.

use std::io::{self, BufRead, Read, Write};

use flate2::write::DeflateEncoder;
use flate2::{Decompress, FlushDecompress, Status};

use super::AdbError;

/// `ADB.` as a little-endian word.
pub const MAGIC: u32 = u32::from_le_bytes(*b"ADB.");

/// Block types.
pub const BLOCK_ADB: u32 = 0;
pub const BLOCK_SIG: u32 = 1;
pub const BLOCK_DATA: u32 = 2;
const BLOCK_EXT: u32 = 3;
/// The largest payload a 4-byte block header can describe.
const MAX_SHORT_PAYLOAD: u64 = 0x3fff_ffff - 4;

/// How the blocks after the 4-byte prefix are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// `ADB.`: not compressed.
    None,
    /// `ADBd`, or `ADBc` with algorithm 1: raw deflate (what `apk mkpkg` writes by default).
    Deflate,
    /// `ADBc` with algorithm 2 (`apk mkpkg --compression zstd`); read only.
    Zstd,
}

/// The uncompressed stream of an ADB file.
pub(crate) enum Inflated<R: BufRead> {
    Plain(R),
    Deflate(Box<RawInflate<R>>),
    Zstd(Box<ruzstd::decoding::StreamingDecoder<R, ruzstd::decoding::FrameDecoder>>),
}

impl<R: BufRead> Read for Inflated<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Inflated::Plain(r) => r.read(buf),
            Inflated::Deflate(r) => r.read(buf),
            Inflated::Zstd(r) => r.read(buf),
        }
    }
}

impl<R: BufRead> Inflated<R> {
    /// Whether the file has bytes after the compressed stream ended.
    fn has_trailing_bytes(&mut self) -> io::Result<bool> {
        match self {
            Inflated::Plain(_) => Ok(false),
            Inflated::Deflate(r) => Ok(!r.src.fill_buf()?.is_empty()),
            Inflated::Zstd(r) => Ok(!r.get_mut().fill_buf()?.is_empty()),
        }
    }
}

/// A raw deflate stream read to its end marker: input that runs out before it is an
/// error, not an end of file (flate2's decoders report a cut stream as a clean end).
pub(crate) struct RawInflate<R> {
    src: R,
    inflate: Decompress,
    done: bool,
}

impl<R: BufRead> Read for RawInflate<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        loop {
            let input = self.src.fill_buf()?;
            let at_eof = input.is_empty();
            let (before_in, before_out) = (self.inflate.total_in(), self.inflate.total_out());
            let status = self
                .inflate
                .decompress(input, buf, FlushDecompress::None)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            let consumed = (self.inflate.total_in() - before_in) as usize;
            let produced = (self.inflate.total_out() - before_out) as usize;
            self.src.consume(consumed);
            if status == Status::StreamEnd {
                self.done = true;
                return Ok(produced);
            }
            if produced > 0 {
                return Ok(produced);
            }
            if consumed == 0 && at_eof {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "deflate stream truncated",
                ));
            }
        }
    }
}

fn format(what: impl Into<String>) -> AdbError {
    AdbError::Format(what.into())
}

/// An I/O error while reading the (possibly compressed) stream.
fn read_err(e: io::Error) -> AdbError {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => format("file is truncated"),
        io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput | io::ErrorKind::Other => {
            format(format!("compressed stream is damaged: {e}"))
        }
        _ => AdbError::Read(e),
    }
}

/// The file after its prefix (with the prefix put back when it is the header's magic).
pub(crate) type Src<R> = io::Chain<io::Cursor<Vec<u8>>, R>;

/// Reads the 4-byte prefix (and the algorithm of `ADBc`) and, for a compressed file, starts
/// decompressing. The returned stream starts at the `ADB.` magic of the file header.
pub(crate) fn open<R: BufRead>(mut src: R) -> Result<(Compression, Inflated<Src<R>>), AdbError> {
    let mut prefix = [0u8; 4];
    src.read_exact(&mut prefix)
        .map_err(|_| format("file is shorter than the 4-byte ADB prefix (not an apk v3 file)"))?;
    if &prefix[..3] != b"ADB" {
        return Err(format("no ADB prefix (not an apk v3 file)"));
    }
    let alg = match prefix[3] {
        // Not compressed: the prefix is the header's magic, read again below.
        b'.' => {
            let src = io::Cursor::new(prefix.to_vec()).chain(src);
            return Ok((Compression::None, Inflated::Plain(src)));
        }
        b'd' => 1,
        b'c' => {
            let mut spec = [0u8; 2];
            src.read_exact(&mut spec)
                .map_err(|_| format("file ends inside the ADBc compression header"))?;
            spec[0]
        }
        other => {
            return Err(format(format!(
                "unknown ADB prefix 'ADB{}'",
                (other as char).escape_default()
            )))
        }
    };
    let src = io::Cursor::new(Vec::new()).chain(src);
    match alg {
        0 => Ok((Compression::None, Inflated::Plain(src))),
        1 => Ok((
            Compression::Deflate,
            Inflated::Deflate(Box::new(RawInflate {
                src,
                inflate: Decompress::new(false),
                done: false,
            })),
        )),
        2 => {
            let z = ruzstd::decoding::StreamingDecoder::new(src)
                .map_err(|e| format(format!("zstd stream is damaged: {e}")))?;
            Ok((Compression::Zstd, Inflated::Zstd(Box::new(z))))
        }
        n => Err(format(format!(
            "unsupported compression algorithm {n} (alpinist reads none, deflate and zstd)"
        ))),
    }
}

/// One block's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockHeader {
    /// [`BLOCK_ADB`], [`BLOCK_SIG`] or [`BLOCK_DATA`].
    pub kind: u32,
    /// Payload length (the header and padding excluded).
    pub len: u64,
}

impl BlockHeader {
    fn raw_len(&self) -> u64 {
        self.len + if self.len > MAX_SHORT_PAYLOAD { 16 } else { 4 }
    }

    /// Zero bytes after the payload, up to a multiple of 8.
    pub fn padding(&self) -> u64 {
        self.raw_len().next_multiple_of(8) - self.raw_len()
    }

    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            BLOCK_ADB => "ADB",
            BLOCK_SIG => "SIG",
            _ => "DATA",
        }
    }
}

/// Reads an ADB file's header and blocks from its uncompressed stream.
pub(crate) struct BlockReader<R: BufRead> {
    src: Inflated<Src<R>>,
    pub compression: Compression,
    pub schema: u32,
    /// Payload bytes of the current block not read yet, and its padding.
    left: u64,
    padding: u64,
}

/// Reads as much of `buf` as the stream has; returns how much that was.
fn read_full(src: &mut impl Read, buf: &mut [u8]) -> Result<usize, AdbError> {
    let mut n = 0;
    while n < buf.len() {
        match src.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(read_err(e)),
        }
    }
    Ok(n)
}

impl<R: BufRead> BlockReader<R> {
    /// Reads the prefix and the file header (`ADB.` and the schema).
    pub fn new(src: R) -> Result<BlockReader<R>, AdbError> {
        let (compression, mut src) = open(src)?;
        let mut hdr = [0u8; 8];
        if read_full(&mut src, &mut hdr)? != 8 {
            return Err(format("file ends inside the ADB header"));
        }
        if u32::from_le_bytes(hdr[..4].try_into().expect("4")) != MAGIC {
            return Err(format(
                "compressed stream does not start with the ADB. magic",
            ));
        }
        Ok(BlockReader {
            src,
            compression,
            schema: u32::from_le_bytes(hdr[4..].try_into().expect("4")),
            left: 0,
            padding: 0,
        })
    }

    /// The next block's header, after checking the rest of the current block; `None` at the
    /// end of the stream (and of the file).
    pub fn next_header(&mut self) -> Result<Option<BlockHeader>, AdbError> {
        self.end_block()?;
        let mut word = [0u8; 4];
        match read_full(&mut self.src, &mut word)? {
            0 => {
                if self.src.has_trailing_bytes().map_err(read_err)? {
                    return Err(format("bytes after the end of the compressed stream"));
                }
                return Ok(None);
            }
            4 => {}
            n => return Err(format(format!("file ends {n} bytes into a block header"))),
        }
        let type_size = u32::from_le_bytes(word);
        let (kind, raw, hdr_len) = if type_size >> 30 == BLOCK_EXT {
            let mut ext = [0u8; 12];
            if read_full(&mut self.src, &mut ext)? != 12 {
                return Err(format("file ends inside an extended block header"));
            }
            let raw = u64::from_le_bytes(ext[4..].try_into().expect("8"));
            (type_size & 0x3fff_ffff, raw, 16)
        } else {
            (type_size >> 30, u64::from(type_size & 0x3fff_ffff), 4)
        };
        if kind >= BLOCK_EXT {
            return Err(format(format!("block of unknown type {kind}")));
        }
        if raw < hdr_len {
            return Err(format(format!(
                "block size {raw} is smaller than its {hdr_len}-byte header"
            )));
        }
        let h = BlockHeader {
            kind,
            len: raw - hdr_len,
        };
        if (hdr_len == 16) != (h.len > MAX_SHORT_PAYLOAD) {
            return Err(format(
                "a block header of the wrong form for its size (extended below 1 GiB)",
            ));
        }
        self.left = h.len;
        self.padding = h.padding();
        Ok(Some(h))
    }

    /// Reads up to `buf.len()` bytes of the current block's payload; 0 at its end.
    pub fn read_payload(&mut self, buf: &mut [u8]) -> Result<usize, AdbError> {
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0);
        }
        let n = read_full(&mut self.src, &mut buf[..want])?;
        if n == 0 {
            return Err(format(format!(
                "file ends {} bytes before the end of a block",
                self.left
            )));
        }
        self.left -= n as u64;
        Ok(n)
    }

    /// Reads the whole payload of the current block, which must be at most `limit` bytes.
    pub fn payload(&mut self, h: &BlockHeader, limit: u64) -> Result<Vec<u8>, AdbError> {
        if h.len > limit {
            return Err(AdbError::Limit(format!(
                "{} block of {} bytes is larger than the {limit} bytes alpinist reads",
                h.kind_name(),
                h.len
            )));
        }
        let mut out = vec![0u8; h.len as usize];
        let mut at = 0;
        while at < out.len() {
            at += self.read_payload(&mut out[at..])?;
        }
        Ok(out)
    }

    /// Skips what is left of the current block's payload and checks its padding.
    fn end_block(&mut self) -> Result<(), AdbError> {
        let mut buf = [0u8; 8192];
        while self.left > 0 {
            self.read_payload(&mut buf)?;
        }
        let pad = self.padding as usize;
        if pad > 0 {
            if read_full(&mut self.src, &mut buf[..pad])? != pad {
                return Err(format("file ends inside a block's padding"));
            }
            if buf[..pad].iter().any(|&b| b != 0) {
                return Err(format("block padding is not zero"));
            }
            self.padding = 0;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// writing
// ---------------------------------------------------------------------------------------------

/// The header of a block with a payload of `len` bytes (extended over 1 GiB, as
/// `adb_block_init` makes it).
pub fn block_header(kind: u32, len: u64) -> Vec<u8> {
    if len <= MAX_SHORT_PAYLOAD {
        ((kind << 30) + 4 + len as u32).to_le_bytes().to_vec()
    } else {
        let mut h = ((BLOCK_EXT << 30) + kind).to_le_bytes().to_vec();
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(&(16 + len).to_le_bytes());
        h
    }
}

/// Padding after a payload of `len` bytes.
pub fn block_padding(kind: u32, len: u64) -> usize {
    BlockHeader { kind, len }.padding() as usize
}

/// Writes a whole block.
pub fn write_block(out: &mut impl Write, kind: u32, payload: &[u8]) -> io::Result<()> {
    out.write_all(&block_header(kind, payload.len() as u64))?;
    out.write_all(payload)?;
    out.write_all(&[0u8; 8][..block_padding(kind, payload.len() as u64)])
}

/// Where an ADB file is written: after the prefix, plain or through a deflate stream.
pub enum FileWriter<W: Write> {
    Plain(W),
    Deflate(DeflateEncoder<W>),
}

impl<W: Write> FileWriter<W> {
    /// Writes the prefix and the header (`ADB.` and `schema`): with deflate, `ADBd` and the
    /// header inside the stream, level 9 as `apk mkpkg` and `apk mkndx` use by default.
    pub fn new(mut out: W, schema: u32, compression: Compression) -> io::Result<FileWriter<W>> {
        let mut w = match compression {
            Compression::None => FileWriter::Plain(out),
            Compression::Deflate => {
                out.write_all(b"ADBd")?;
                FileWriter::Deflate(DeflateEncoder::new(out, flate2::Compression::best()))
            }
            Compression::Zstd => {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "alpinist does not write zstd",
                ))
            }
        };
        w.write_all(&MAGIC.to_le_bytes())?;
        w.write_all(&schema.to_le_bytes())?;
        Ok(w)
    }

    pub fn finish(self) -> io::Result<W> {
        match self {
            FileWriter::Plain(w) => Ok(w),
            FileWriter::Deflate(d) => d.finish(),
        }
    }
}

impl<W: Write> Write for FileWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            FileWriter::Plain(w) => w.write(buf),
            FileWriter::Deflate(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            FileWriter::Plain(w) => w.flush(),
            FileWriter::Deflate(w) => w.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(blocks: &[(u32, &[u8])], compression: Compression) -> Vec<u8> {
        let mut w = FileWriter::new(Vec::new(), 0x676b6370, compression).unwrap();
        for (k, p) in blocks {
            write_block(&mut w, *k, p).unwrap();
        }
        w.finish().unwrap()
    }

    fn blocks(bytes: &[u8]) -> Result<Vec<(u32, Vec<u8>)>, AdbError> {
        let mut r = BlockReader::new(bytes)?;
        let mut out = Vec::new();
        while let Some(h) = r.next_header()? {
            out.push((h.kind, r.payload(&h, 1 << 20)?));
        }
        Ok(out)
    }

    #[test]
    fn round_trip_and_refusals() {
        let want = vec![(BLOCK_ADB, vec![0u8; 13]), (BLOCK_DATA, b"abc".to_vec())];
        let refs: Vec<(u32, &[u8])> = want.iter().map(|(k, p)| (*k, p.as_slice())).collect();
        for c in [Compression::None, Compression::Deflate] {
            let f = file(&refs, c);
            assert_eq!(blocks(&f).unwrap(), want, "{c:?}");
        }
        let f = file(&refs, Compression::None);
        assert_eq!(f.len(), 8 + 24 + 8);
        assert!(blocks(&f[..f.len() - 1]).is_err(), "cut in padding");
        assert!(blocks(&f[..f.len() - 6]).is_err(), "cut in payload");
        let mut bad = f.clone();
        bad[f.len() - 1] = 1;
        assert!(blocks(&bad).unwrap_err().to_string().contains("padding"));
        let mut long = f.clone();
        long.extend_from_slice(&[0, 0]);
        assert!(blocks(&long)
            .unwrap_err()
            .to_string()
            .contains("block header"));
        let mut z = file(&refs, Compression::Deflate);
        z.push(0);
        assert!(blocks(&z)
            .unwrap_err()
            .to_string()
            .contains("after the end"));
        assert!(blocks(b"ADBx").is_err());
        assert!(blocks(b"ADBc\x07\x00")
            .unwrap_err()
            .to_string()
            .contains("algorithm 7"));
        assert_eq!(block_header(BLOCK_DATA, 1 << 31).len(), 16);
        // A deflate stream cut anywhere, even after the last block, is refused.
        let z = file(&refs, Compression::Deflate);
        for cut in 4..z.len() {
            assert!(blocks(&z[..cut]).is_err(), "cut at {cut} of {}", z.len());
        }
    }
}
