//! Reading tar members with apk's rules (`apk:src/tar.c`).

use std::io::{self, Read, Write};
use std::ops::Range;

use super::error::TarError;
use super::gzip::gz_io;
use super::header::{pad, EntryType, Header, BLOCK, MAX_PATH};

/// Upper bound on a pax header body we are willing to hold in memory.
const MAX_PAX: u64 = 1 << 20;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_junk_after_end() {
        let mut bytes = vec![0u8; 1024];
        bytes.push(1);
        let mut r = TarReader::new(bytes.as_slice());
        assert!(matches!(r.next_entry(), Err(TarError::AfterEnd(_))));
    }
}
