//! Writing tar members as GNU tar in `--format=posix` does for abuild, or as apk's own
//! index writer does.

use std::io::{self, Read, Write};

use super::error::TarError;
use super::header::{pad, EntryType, Header, BLOCK, GNU_RECORD, MAX_PATH};

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
    use crate::tarball::header::PAX_CHECKSUM_SHA1;

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
}
