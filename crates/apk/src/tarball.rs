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

use std::io::{self, BufRead, Read, Write};
use std::ops::Range;

use flate2::{Compression, Crc, Decompress, FlushDecompress, GzBuilder, Status};

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
/// Upper bound on a pax header body we are willing to hold in memory.
const MAX_PAX: u64 = 1 << 20;

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

// ---------------------------------------------------------------------------------------------
// gzip
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// tar headers
// ---------------------------------------------------------------------------------------------

/// The type of a tar member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryType {
    /// `0`, NUL or `7` (contiguous file).
    Regular,
    /// `1`
    Hardlink,
    /// `2`
    Symlink,
    /// `3`
    Char,
    /// `4`
    Block,
    /// `5`
    Directory,
    /// `6`
    Fifo,
    Other(u8),
}

impl EntryType {
    fn from_flag(f: u8) -> EntryType {
        match f {
            b'0' | 0 | b'7' => EntryType::Regular,
            b'1' => EntryType::Hardlink,
            b'2' => EntryType::Symlink,
            b'3' => EntryType::Char,
            b'4' => EntryType::Block,
            b'5' => EntryType::Directory,
            b'6' => EntryType::Fifo,
            other => EntryType::Other(other),
        }
    }

    fn flag(self) -> u8 {
        match self {
            EntryType::Regular => b'0',
            EntryType::Hardlink => b'1',
            EntryType::Symlink => b'2',
            EntryType::Char => b'3',
            EntryType::Block => b'4',
            EntryType::Directory => b'5',
            EntryType::Fifo => b'6',
            EntryType::Other(f) => f,
        }
    }
}

/// One tar member's metadata, with pax records applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Path as stored, without the trailing `/` GNU tar gives directories.
    pub path: String,
    pub entry_type: EntryType,
    /// Permission bits including suid/sgid/sticky (`& 0o7777`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub uname: String,
    pub gname: String,
    pub mtime: u64,
    /// Size of the member's data (0 for everything but regular files).
    pub size: u64,
    /// Symlink target or hard link source path.
    pub link_name: String,
    pub dev_major: u32,
    pub dev_minor: u32,
    /// Pax records other than `path`, `linkpath`, `atime` and `ctime`, in stream order
    /// (e.g. [`PAX_CHECKSUM_SHA1`], `SCHILY.xattr.*`).
    pub pax: Vec<(String, Vec<u8>)>,
}

impl Header {
    /// A header with the given path and type and everything else zero or empty.
    pub fn new(path: impl Into<String>, entry_type: EntryType) -> Header {
        Header {
            path: path.into(),
            entry_type,
            mode: 0,
            uid: 0,
            gid: 0,
            uname: String::new(),
            gname: String::new(),
            mtime: 0,
            size: 0,
            link_name: String::new(),
            dev_major: 0,
            dev_minor: 0,
            pax: Vec::new(),
        }
    }

    /// The value of a pax record, if present.
    pub fn pax_value(&self, key: &str) -> Option<&[u8]> {
        self.pax
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_slice())
    }

    /// The `APK-TOOLS.checksum.SHA1` record decoded from hex, if present and well formed.
    pub fn sha1_checksum(&self) -> Option<[u8; 20]> {
        let v = self.pax_value(PAX_CHECKSUM_SHA1)?;
        let mut out = [0u8; 20];
        hex::decode_to_slice(v, &mut out).ok()?;
        Some(out)
    }
}

fn parse_octal(field: &[u8]) -> Option<u64> {
    let mut value: u64 = 0;
    let mut i = 0;
    while i < field.len() && (b'0'..=b'7').contains(&field[i]) {
        value = value
            .checked_mul(8)?
            .checked_add(u64::from(field[i] - b'0'))?;
        i += 1;
    }
    field[i..]
        .iter()
        .all(|&b| b == 0 || b == b' ')
        .then_some(value)
}

fn cstr(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    &field[..end]
}

/// Parses pax records (`<len> <key>=<value>\n`).
fn parse_pax(mut body: &[u8]) -> Option<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    while !body.is_empty() {
        if body.iter().all(|&b| b == 0) {
            break;
        }
        let sp = body.iter().position(|&b| b == b' ')?;
        let len: usize = std::str::from_utf8(&body[..sp]).ok()?.parse().ok()?;
        if len <= sp + 1 || len > body.len() || body[len - 1] != b'\n' {
            return None;
        }
        let rec = &body[sp + 1..len - 1];
        let eq = rec.iter().position(|&b| b == b'=')?;
        let key = String::from_utf8(rec[..eq].to_vec()).ok()?;
        out.push((key, rec[eq + 1..].to_vec()));
        body = &body[len..];
    }
    Some(out)
}

/// Reads tar members from a stream, with apk's rules.
///
/// A stream may end right after a member (the "cut" signature and control members) or with
/// zero blocks, after which only zero bytes may follow.
pub struct TarReader<R> {
    inner: R,
    offset: u64,
    remaining: u64,
    padding: u64,
    ended: bool,
    current_path: String,
}

impl<R: Read> TarReader<R> {
    pub fn new(inner: R) -> Self {
        TarReader {
            inner,
            offset: 0,
            remaining: 0,
            padding: 0,
            ended: false,
            current_path: String::new(),
        }
    }

    /// Bytes of tar stream consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    pub fn into_inner(self) -> R {
        self.inner
    }

    /// Whether the stream ended with end-of-archive zero blocks (as opposed to being cut).
    pub fn saw_end_blocks(&self) -> bool {
        self.ended
    }

    fn read_block(&mut self) -> Result<Option<[u8; BLOCK]>, TarError> {
        let mut block = [0u8; BLOCK];
        let mut got = 0;
        while got < BLOCK {
            match self.inner.read(&mut block[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(gz_io(e)),
            }
        }
        self.offset += got as u64;
        match got {
            0 => Ok(None),
            BLOCK => Ok(Some(block)),
            _ => Err(TarError::Truncated(self.offset)),
        }
    }

    fn skip(&mut self, n: u64) -> Result<(), TarError> {
        let copied = io::copy(&mut (&mut self.inner).take(n), &mut io::sink()).map_err(gz_io)?;
        self.offset += copied;
        if copied != n {
            return Err(TarError::Truncated(self.offset));
        }
        Ok(())
    }

    fn read_body(&mut self, size: u64, max: u64, what: &str) -> Result<Vec<u8>, TarError> {
        if size > max {
            return Err(TarError::Header {
                offset: self.offset,
                what: format!("{what} of {size} bytes is too large"),
            });
        }
        let mut body = Vec::with_capacity(size as usize);
        (&mut self.inner)
            .take(size)
            .read_to_end(&mut body)
            .map_err(gz_io)?;
        self.offset += body.len() as u64;
        if body.len() as u64 != size {
            return Err(TarError::Truncated(self.offset));
        }
        self.skip(pad(size))?;
        Ok(body)
    }

    /// Checks that everything after the first zero block is zero.
    fn drain_end(&mut self) -> Result<(), TarError> {
        let mut buf = [0u8; 8192];
        loop {
            let n = match self.inner.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(gz_io(e)),
            };
            if !all_zero(&buf[..n]) {
                return Err(TarError::AfterEnd(self.offset));
            }
            self.offset += n as u64;
        }
    }

    /// Reads the next member's header, skipping whatever is left of the previous one.
    pub fn next_entry(&mut self) -> Result<Option<Header>, TarError> {
        if self.ended {
            return Ok(None);
        }
        self.skip(self.remaining + self.padding)?;
        self.remaining = 0;
        self.padding = 0;
        let mut pax: Vec<(String, Vec<u8>)> = Vec::new();
        let mut long_name: Option<Vec<u8>> = None;
        loop {
            let start = self.offset;
            let Some(block) = self.read_block()? else {
                if !pax.is_empty() || long_name.is_some() {
                    return Err(TarError::Truncated(self.offset));
                }
                return Ok(None);
            };
            if all_zero(&block) {
                self.ended = true;
                self.drain_end()?;
                return Ok(None);
            }
            let bad = |what: &str| TarError::Header {
                offset: start,
                what: what.to_string(),
            };
            if &block[257..262] != b"ustar" {
                return Err(bad("magic is not ustar"));
            }
            let octal = |range: Range<usize>, name: &str| {
                parse_octal(&block[range]).ok_or_else(|| bad(&format!("bad octal {name} field")))
            };
            let size = octal(124..136, "size")?;
            let flag = block[156];
            match flag {
                b'x' => {
                    let body = self.read_body(size, MAX_PAX, "pax header")?;
                    let recs = parse_pax(&body).ok_or_else(|| bad("malformed pax records"))?;
                    pax.extend(recs);
                    continue;
                }
                b'g' => {
                    self.read_body(size, MAX_PAX, "global pax header")?;
                    continue;
                }
                b'L' => {
                    let body = self.read_body(size, MAX_PATH as u64 + 1, "GNU long name")?;
                    long_name = Some(cstr(&body).to_vec());
                    continue;
                }
                b'K' => {
                    // apk ignores GNU long link names; so do we.
                    self.read_body(size, MAX_PAX, "GNU long link name")?;
                    continue;
                }
                _ => {}
            }
            let entry_type = EntryType::from_flag(flag);
            let mut path_bytes: Vec<u8> = Vec::new();
            let mut link_bytes: Vec<u8> = cstr(&block[157..257]).to_vec();
            let mut rest = Vec::new();
            for (k, v) in pax.drain(..) {
                match k.as_str() {
                    "path" => path_bytes = v,
                    "linkpath" => link_bytes = v,
                    "atime" | "ctime" => {}
                    _ => rest.push((k, v)),
                }
            }
            if path_bytes.is_empty() {
                if let Some(l) = long_name.take() {
                    path_bytes = l;
                } else {
                    let name = cstr(&block[0..100]);
                    let prefix = if &block[257..263] == b"ustar\0" {
                        cstr(&block[345..500])
                    } else {
                        &[]
                    };
                    if !prefix.is_empty() {
                        path_bytes.extend_from_slice(prefix);
                        path_bytes.push(b'/');
                    }
                    path_bytes.extend_from_slice(name);
                }
            }
            if path_bytes.len() >= MAX_PATH || link_bytes.len() >= MAX_PATH {
                return Err(bad("path too long"));
            }
            let mut path = String::from_utf8(path_bytes).map_err(|_| bad("path is not UTF-8"))?;
            let link_name =
                String::from_utf8(link_bytes).map_err(|_| bad("link name is not UTF-8"))?;
            if entry_type == EntryType::Directory {
                while path.len() > 1 && path.ends_with('/') {
                    path.pop();
                }
            }
            let text = |range: Range<usize>, name: &str| {
                String::from_utf8(cstr(&block[range]).to_vec())
                    .map_err(|_| bad(&format!("{name} is not UTF-8")))
            };
            let small = |v: u64, name: &str| {
                u32::try_from(v).map_err(|_| bad(&format!("{name} out of range")))
            };
            let header = Header {
                entry_type,
                mode: small(octal(100..108, "mode")?, "mode")? & 0o7777,
                uid: small(octal(108..116, "uid")?, "uid")?,
                gid: small(octal(116..124, "gid")?, "gid")?,
                mtime: octal(136..148, "mtime")?,
                size,
                uname: text(265..297, "uname")?,
                gname: text(297..329, "gname")?,
                dev_major: small(octal(329..337, "devmajor")?, "devmajor")?,
                dev_minor: small(octal(337..345, "devminor")?, "devminor")?,
                link_name,
                pax: rest,
                path,
            };
            // Only regular files carry data; GNU tar writes size 0 for the others, and apk
            // skips `size` bytes whatever the type, so do the same.
            self.remaining = size;
            self.padding = pad(size);
            self.current_path = header.path.clone();
            return Ok(Some(header));
        }
    }

    /// Reads the current member's data into memory, refusing more than `max` bytes.
    pub fn read_data(&mut self, max: u64) -> Result<Vec<u8>, TarError> {
        if self.remaining > max {
            return Err(TarError::TooLarge {
                path: self.current_path.clone(),
                size: self.remaining,
                max,
            });
        }
        // The declared size may be a lie (truncated or hostile input): grow as data arrives.
        let mut out = Vec::with_capacity(self.remaining.min(1 << 20) as usize);
        self.copy_data(&mut out)?;
        Ok(out)
    }

    /// Bytes of the current member's data not read yet.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    /// Reads the next part of the current member's data into `buf`; 0 at its end. A stream
    /// that ends before the member's declared size is [`TarError::Truncated`].
    pub fn read_some(&mut self, buf: &mut [u8]) -> Result<usize, TarError> {
        if self.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let n = loop {
            match self.inner.read(&mut buf[..want]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                r => break r.map_err(gz_io)?,
            }
        };
        if n == 0 {
            return Err(TarError::Truncated(self.offset));
        }
        self.offset += n as u64;
        self.remaining -= n as u64;
        Ok(n)
    }

    /// Copies the current member's data to `w`, returning the number of bytes.
    pub fn copy_data(&mut self, w: &mut dyn Write) -> Result<u64, TarError> {
        let want = self.remaining;
        let n = io::copy(&mut (&mut self.inner).take(want), w).map_err(gz_io)?;
        self.offset += n;
        self.remaining -= n;
        if n != want {
            return Err(TarError::Truncated(self.offset));
        }
        Ok(n)
    }
}

/// Whether `b` is all zero bytes (compared a block at a time, which is memcmp, rather than
/// byte by byte: the end of a data member is up to 10 KiB of zeros).
fn all_zero(b: &[u8]) -> bool {
    const ZEROS: [u8; BLOCK] = [0; BLOCK];
    b.chunks(BLOCK).all(|c| c == &ZEROS[..c.len()])
}

fn pad(size: u64) -> u64 {
    (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64
}

// ---------------------------------------------------------------------------------------------
// tar writer
// ---------------------------------------------------------------------------------------------

/// Which tar writer to imitate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TarStyle {
    /// GNU tar `--format=posix --pax-option=exthdr.name=%d/PaxHeaders/%f,atime:=0,ctime:=0`,
    /// as abuild's `apk_tar` runs it: a pax `x` header before every member, POSIX `ustar\0`
    /// magic, 7/11-digit octal fields followed by NUL.
    GnuPosix,
    /// apk's own `apk_tar_write_entry` (used by `apk index`): GNU `ustar  ` magic, size and
    /// mtime as 12 octal digits with no NUL, no pax headers.
    ApkIndex,
}

/// How to end a tar stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TarEnd {
    /// No end-of-archive blocks (`abuild-tar --cut`): the signature and control members.
    Cut,
    /// Two zero blocks (apk's index writer).
    TwoBlocks,
    /// Two zero blocks, then zeros up to a multiple of 10240 bytes (GNU tar's data member).
    GnuRecord,
}

/// Writes tar members in one of the [`TarStyle`]s.
pub struct TarWriter<W: Write> {
    inner: W,
    style: TarStyle,
    written: u64,
}

fn put_octal(field: &mut [u8], value: u64, nul: bool, path: &str) -> Result<(), TarError> {
    let digits = if nul { field.len() - 1 } else { field.len() };
    let s = format!("{value:0digits$o}");
    if s.len() > digits {
        return Err(TarError::Unwritable {
            path: path.to_string(),
            what: format!("value {value} does not fit a {digits}-digit octal field"),
        });
    }
    field[..digits].copy_from_slice(s.as_bytes());
    if nul {
        field[digits] = 0;
    }
    Ok(())
}

fn put_str(field: &mut [u8], value: &[u8], path: &str, what: &str) -> Result<(), TarError> {
    if value.len() > field.len() {
        return Err(TarError::Unwritable {
            path: path.to_string(),
            what: format!("{what} longer than {} bytes", field.len()),
        });
    }
    field[..value.len()].copy_from_slice(value);
    Ok(())
}

fn set_checksum(block: &mut [u8; BLOCK]) {
    block[148..156].fill(b' ');
    let sum: u32 = block.iter().map(|&b| u32::from(b)).sum();
    let s = format!("{sum:06o}");
    block[148..154].copy_from_slice(s.as_bytes());
    block[154] = 0;
    block[155] = b' ';
}

/// The fields of one header block, as written: a member's, or the pax `x` or GNU `L`
/// header before it.
#[derive(Default)]
struct Block<'a> {
    name: &'a [u8],
    link: &'a [u8],
    flag: u8,
    mode: u32,
    uid: u32,
    gid: u32,
    size: u64,
    mtime: u64,
    uname: &'a str,
    gname: &'a str,
    /// Device numbers: GNU tar writes them in a member's block, not in a pax header's; apk
    /// never does.
    dev: Option<(u32, u32)>,
}

impl<'a> Block<'a> {
    /// The block of the member `h`, under `name` and `link` as they fit in it.
    fn of(h: &'a Header, name: &'a [u8], link: &'a [u8]) -> Block<'a> {
        Block {
            name,
            link,
            flag: h.entry_type.flag(),
            mode: h.mode & 0o7777,
            uid: h.uid,
            gid: h.gid,
            size: h.size,
            mtime: h.mtime,
            uname: &h.uname,
            gname: &h.gname,
            dev: None,
        }
    }

    /// The 512 bytes as `style` writes them: GNU tar's POSIX `ustar\0` magic and octal
    /// fields ending in NUL, or apk's GNU `ustar  ` magic with size and mtime as 12 octal
    /// digits and no NUL. Errors name `path`.
    fn encode(&self, style: TarStyle, path: &str) -> Result<[u8; BLOCK], TarError> {
        let mut block = [0u8; BLOCK];
        let nul = style == TarStyle::GnuPosix;
        put_str(&mut block[0..100], self.name, path, "name")?;
        put_str(&mut block[157..257], self.link, path, "link name")?;
        put_octal(&mut block[124..136], self.size, nul, path)?;
        put_octal(&mut block[136..148], self.mtime, nul, path)?;
        block[257..265].copy_from_slice(match style {
            TarStyle::GnuPosix => b"ustar\x0000",
            TarStyle::ApkIndex => b"ustar  \0",
        });
        if let Some((major, minor)) = self.dev {
            put_octal(&mut block[329..337], u64::from(major), true, path)?;
            put_octal(&mut block[337..345], u64::from(minor), true, path)?;
        }
        put_octal(&mut block[100..108], u64::from(self.mode), true, path)?;
        put_octal(&mut block[108..116], u64::from(self.uid), true, path)?;
        put_octal(&mut block[116..124], u64::from(self.gid), true, path)?;
        block[156] = self.flag;
        put_str(&mut block[265..297], self.uname.as_bytes(), path, "uname")?;
        put_str(&mut block[297..329], self.gname.as_bytes(), path, "gname")?;
        set_checksum(&mut block);
        Ok(block)
    }
}

/// Encodes one pax record; the length prefix counts itself.
pub fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let body_len = 1 + key.len() + 1 + value.len() + 1;
    let mut len = body_len + 1;
    while len.to_string().len() + body_len != len {
        len = len.to_string().len() + body_len;
    }
    let mut rec = Vec::with_capacity(len);
    rec.extend_from_slice(len.to_string().as_bytes());
    rec.push(b' ');
    rec.extend_from_slice(key.as_bytes());
    rec.push(b'=');
    rec.extend_from_slice(value);
    rec.push(b'\n');
    rec
}

/// `%d/PaxHeaders/%f` for a member path (GNU tar names `./PaxHeaders/x` at top level).
fn pax_header_name(path: &str) -> Vec<u8> {
    let trimmed = path.trim_end_matches('/');
    let (dir, base) = match trimmed.rfind('/') {
        Some(i) => (&trimmed[..i], &trimmed[i + 1..]),
        None => (".", trimmed),
    };
    let mut name = format!("{dir}/PaxHeaders/{base}").into_bytes();
    name.truncate(100);
    name
}

impl<W: Write> TarWriter<W> {
    pub fn new(inner: W, style: TarStyle) -> Self {
        TarWriter {
            inner,
            style,
            written: 0,
        }
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), TarError> {
        self.inner.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    fn put_padded(&mut self, bytes: &[u8]) -> Result<(), TarError> {
        self.put(bytes)?;
        let zeros = [0u8; BLOCK];
        self.put(&zeros[..pad(bytes.len() as u64) as usize])
    }

    /// Appends a member. `data` must be `header.size` bytes (empty for non-regular files).
    pub fn append(&mut self, h: &Header, data: &[u8]) -> Result<(), TarError> {
        if data.len() as u64 != h.size {
            return Err(TarError::Unwritable {
                path: h.path.clone(),
                what: format!("header says {} bytes, data has {}", h.size, data.len()),
            });
        }
        self.header(h)?;
        self.put_padded(data)
    }

    /// Appends a member whose `header.size` bytes of data are read from `data` (which must
    /// hold exactly that many), without holding them in memory.
    pub fn append_reader(&mut self, h: &Header, data: &mut dyn Read) -> Result<(), TarError> {
        self.header(h)?;
        let n = io::copy(&mut (&mut *data).take(h.size), &mut self.inner)?;
        let mut probe = [0u8; 1];
        if n != h.size || data.read(&mut probe)? != 0 {
            return Err(TarError::Unwritable {
                path: h.path.clone(),
                what: format!("header says {} bytes, the data does not", h.size),
            });
        }
        self.written += n;
        let zeros = [0u8; BLOCK];
        self.put(&zeros[..pad(n) as usize])
    }

    /// The header block(s) of a member: in [`TarStyle::GnuPosix`] a pax `x` header first,
    /// in [`TarStyle::ApkIndex`] a GNU `L` header first when the name is long.
    fn header(&mut self, h: &Header) -> Result<(), TarError> {
        let mut name = h.path.clone().into_bytes();
        if h.entry_type == EntryType::Directory && !h.path.ends_with('/') {
            name.push(b'/');
        }
        if name.len() >= MAX_PATH || h.link_name.len() >= MAX_PATH {
            return Err(TarError::Unwritable {
                path: h.path.clone(),
                what: "path too long for apk".to_string(),
            });
        }
        let block = match self.style {
            TarStyle::GnuPosix => {
                let mut body = pax_record("ctime", b"0");
                body.extend(pax_record("atime", b"0"));
                if name.len() > 100 {
                    body.extend(pax_record("path", &name));
                    name.truncate(100);
                }
                let mut link = h.link_name.clone().into_bytes();
                if link.len() > 100 {
                    body.extend(pax_record("linkpath", &link));
                    link.truncate(100);
                }
                for (k, v) in &h.pax {
                    if !matches!(k.as_str(), "ctime" | "atime" | "path" | "linkpath") {
                        body.extend(pax_record(k, v));
                    }
                }
                let x = Block {
                    name: &pax_header_name(&h.path),
                    flag: b'x',
                    mode: 0o644,
                    size: body.len() as u64,
                    mtime: h.mtime,
                    ..Block::default()
                };
                self.put(&x.encode(self.style, &h.path)?)?;
                self.put_padded(&body)?;
                Block {
                    dev: Some((h.dev_major, h.dev_minor)),
                    ..Block::of(h, &name, &link)
                }
                .encode(self.style, &h.path)?
            }
            TarStyle::ApkIndex => {
                if !h.pax.is_empty() {
                    return Err(TarError::Unwritable {
                        path: h.path.clone(),
                        what: "apk-index style has no pax records".to_string(),
                    });
                }
                if name.len() > 99 {
                    // `apk_tar_write_longname_entry`: a GNU `L` header whose size leaves out
                    // the name's NUL, which is written (and padded) anyway.
                    const LONG_LINK: &str = "././@LongLink";
                    let l = Block {
                        flag: b'L',
                        size: name.len() as u64,
                        ..Block::of(h, LONG_LINK.as_bytes(), b"")
                    };
                    self.put(&l.encode(self.style, LONG_LINK)?)?;
                    let mut body = name.clone();
                    body.push(0);
                    self.put_padded(&body)?;
                    name.truncate(99);
                }
                Block::of(h, &name, h.link_name.as_bytes()).encode(self.style, &h.path)?
            }
        };
        self.put(&block)
    }

    /// Ends the stream and returns the inner writer.
    pub fn finish(mut self, end: TarEnd) -> Result<W, TarError> {
        match end {
            TarEnd::Cut => {}
            TarEnd::TwoBlocks => self.put(&[0u8; 2 * BLOCK])?,
            TarEnd::GnuRecord => {
                self.put(&[0u8; 2 * BLOCK])?;
                let rem = self.written % GNU_RECORD as u64;
                if rem != 0 {
                    let zeros = vec![0u8; GNU_RECORD - rem as usize];
                    self.put(&zeros)?;
                }
            }
        }
        self.inner.flush()?;
        Ok(self.inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_record_lengths() {
        assert_eq!(pax_record("ctime", b"0"), b"11 ctime=0\n");
        let sha = [b'a'; 40];
        let r = pax_record(PAX_CHECKSUM_SHA1, &sha);
        assert!(r.starts_with(b"68 APK-TOOLS.checksum.SHA1="));
        assert_eq!(r.len(), 68);
        // Crossing a digit boundary: 7 + key/value = 99 or 100 bytes.
        for n in 85..100 {
            let v = vec![b'v'; n];
            let r = pax_record("k", &v);
            let len: usize = std::str::from_utf8(&r[..r.iter().position(|&b| b == b' ').unwrap()])
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(len, r.len());
        }
    }

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

    #[test]
    fn rejects_junk_after_end() {
        let mut bytes = vec![0u8; 1024];
        bytes.push(1);
        let mut r = TarReader::new(bytes.as_slice());
        assert!(matches!(r.next_entry(), Err(TarError::AfterEnd(_))));
    }
}
