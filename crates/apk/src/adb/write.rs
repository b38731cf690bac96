//! Writing an ADB block the way apk-tools' `adb_w_*` functions lay it out, so that the same
//! values written in the same order give the same bytes:
//!
//! - values are appended in the order they are written, each aligned to its natural size
//!   (1 for an 8-bit blob, 2 for a 16-bit blob, 4 for a 32-bit blob, an integer or slots),
//!   with zero padding;
//! - bytes already written once (a blob with its length, an integer, an object's slots) are
//!   not written again: the earlier offset is reused when it has the alignment asked for;
//! - an object or array drops its trailing null slots, and one with no slot left is null;
//! - integers below 2^28 are stored in the tag, larger ones in 4 or 8 bytes.

use std::collections::HashMap;

use super::wire::{
    Val, View, HEADER_LEN, T_ARRAY, T_BLOB16, T_BLOB32, T_BLOB8, T_INT, T_INT32, T_INT64, T_OBJECT,
    T_SPECIAL, VALUE_MASK,
};
use super::AdbError;

/// An ADB block being written.
#[derive(Debug)]
pub struct AdbWriter {
    buf: Vec<u8>,
    seen: HashMap<Vec<u8>, u32>,
    too_big: bool,
}

impl Default for AdbWriter {
    fn default() -> Self {
        AdbWriter::new()
    }
}

impl AdbWriter {
    /// An empty block: the `adb_hdr` (compat version 0, version 0) and no root yet.
    pub fn new() -> AdbWriter {
        AdbWriter {
            buf: vec![0; HEADER_LEN],
            seen: HashMap::new(),
            too_big: false,
        }
    }

    /// Appends `parts` as one value aligned to `align`, or finds the same bytes already
    /// written (when `shared`). Returns the offset.
    fn data(&mut self, parts: &[&[u8]], align: usize, shared: bool) -> u32 {
        let bytes = parts.concat();
        if shared {
            if let Some(&at) = self.seen.get(&bytes) {
                // `align` is 1, 2 or 4.
                if at as usize & (align - 1) == 0 {
                    return at;
                }
            }
        }
        let pad = self.buf.len().next_multiple_of(align) - self.buf.len();
        self.buf.extend(std::iter::repeat_n(0, pad));
        let at = self.buf.len();
        self.buf.extend_from_slice(&bytes);
        if at > VALUE_MASK as usize {
            self.too_big = true;
        }
        let at = at as u32 & VALUE_MASK;
        if shared {
            self.seen.insert(bytes, at);
        }
        at
    }

    /// A blob made of `parts` (null when empty).
    pub fn blob_parts(&mut self, parts: &[&[u8]]) -> Val {
        self.blob_with(parts, true)
    }

    pub fn blob(&mut self, b: &[u8]) -> Val {
        self.blob_with(&[b], true)
    }

    /// A blob written even if the same bytes exist, so that it can be patched later in
    /// place (apk mkpkg writes the package's unique id this way).
    pub fn blob_unshared(&mut self, b: &[u8]) -> Val {
        self.blob_with(&[b], false)
    }

    fn blob_with(&mut self, parts: &[&[u8]], shared: bool) -> Val {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let (kind, hdr): (u32, Vec<u8>) = if len > 0xffff {
            (T_BLOB32, (len as u32).to_le_bytes().to_vec())
        } else if len > 0xff {
            (T_BLOB16, (len as u16).to_le_bytes().to_vec())
        } else if len > 0 {
            (T_BLOB8, vec![len as u8])
        } else {
            return Val::NULL;
        };
        let mut all: Vec<&[u8]> = vec![&hdr];
        all.extend_from_slice(parts);
        let at = self.data(&all, hdr.len(), shared);
        Val::new(kind, at)
    }

    pub fn int(&mut self, v: u64) -> Val {
        if v >= 1 << 32 {
            Val::new(T_INT64, self.data(&[&v.to_le_bytes()], 4, true))
        } else if v > u64::from(VALUE_MASK) {
            Val::new(T_INT32, self.data(&[&(v as u32).to_le_bytes()], 4, true))
        } else {
            Val::new(T_INT, v as u32)
        }
    }

    /// An object (or, with `tag` [`T_ARRAY`], an array) whose slot `i + 1` is `slots[i]`.
    pub fn object_tagged(&mut self, slots: &[Val], tag: u32) -> Val {
        let n = slots
            .iter()
            .rposition(|v| !v.is_null())
            .map_or(0, |i| i + 1);
        if n == 0 {
            return Val::NULL;
        }
        let mut bytes = Vec::with_capacity((n + 1) * 4);
        bytes.extend_from_slice(&(n as u32 + 1).to_le_bytes());
        for v in &slots[..n] {
            bytes.extend_from_slice(&v.0.to_le_bytes());
        }
        Val::new(tag, self.data(&[&bytes], 4, true))
    }

    /// An object, tagged as apk-tools tags nearly everything (arrays included).
    pub fn object(&mut self, slots: &[Val]) -> Val {
        self.object_tagged(slots, T_OBJECT)
    }

    /// Copies a value from another block as `adb_w_copy` does: the same types and slot
    /// counts, integers and blobs with their stored widths, children first.
    pub fn copy(&mut self, src: &View<'_>, v: Val) -> Result<Val, String> {
        let raw = |at: usize, len: usize| -> Result<Vec<u8>, String> {
            src.bytes()
                .get(v.value() as usize + at..v.value() as usize + at + len)
                .map(<[u8]>::to_vec)
                .ok_or_else(|| format!("{} runs past the end of the ADB block", v.describe()))
        };
        let (bytes, align) = match v.kind() {
            T_SPECIAL | T_INT => return Ok(v),
            T_INT32 => (raw(0, 4)?, 4),
            T_INT64 => (raw(0, 8)?, 8),
            T_BLOB8 | T_BLOB16 | T_BLOB32 => {
                let body = src.blob(v)?.unwrap_or_default();
                let hdr = match v.kind() {
                    T_BLOB8 => 1,
                    T_BLOB16 => 2,
                    _ => 4,
                };
                (raw(0, hdr + body.len())?, hdr)
            }
            T_ARRAY | T_OBJECT => {
                let slots = src.slots(v)?.expect("not null");
                let mut bytes = ((slots.len() + 1) as u32).to_le_bytes().to_vec();
                for child in slots.iter() {
                    bytes.extend_from_slice(&self.copy(src, child)?.0.to_le_bytes());
                }
                (bytes, 4)
            }
            _ => return Err(format!("cannot copy {}", v.describe())),
        };
        Ok(Val::new(v.kind(), self.data(&[&bytes], align, true)))
    }

    /// Overwrites bytes already written (the unique id of a package).
    pub fn patch(&mut self, at: usize, bytes: &[u8]) {
        self.buf[at..at + bytes.len()].copy_from_slice(bytes);
    }

    /// The block so far, root not set.
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    pub fn set_root(&mut self, root: Val) {
        self.buf[4..8].copy_from_slice(&root.0.to_le_bytes());
    }

    /// The finished block.
    pub fn finish(self) -> Result<Vec<u8>, AdbError> {
        if self.too_big {
            return Err(AdbError::Write(format!(
                "the ADB block would be larger than the {} bytes an offset can reach",
                VALUE_MASK
            )));
        }
        Ok(self.buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_like_apk_tools() {
        let mut w = AdbWriter::new();
        let a = w.blob(b"root");
        let b = w.blob(b"root");
        assert_eq!(a, b, "same bytes are written once");
        assert_eq!(a, Val::new(T_BLOB8, 8));
        assert_eq!(w.int(5), Val::new(T_INT, 5));
        let big = w.int(1_700_000_000);
        assert_eq!(
            big,
            Val::new(T_INT32, 16),
            "aligned to 4 after the 5-byte blob"
        );
        let o = w.object(&[a, Val::NULL, big, Val::NULL]);
        assert_eq!(o, Val::new(T_OBJECT, 20));
        assert_eq!(&w.bytes()[20..32], &[4, 0, 0, 0, 8, 0, 0, 0x80, 0, 0, 0, 0]);
        assert_eq!(w.object(&[Val::NULL]), Val::NULL);
        let u = w.blob_unshared(b"root");
        assert_ne!(u, a);
        assert_eq!(w.blob(&[]), Val::NULL);
        let long = vec![b'x'; 300];
        assert_eq!(w.blob(&long).kind(), T_BLOB16);
        assert_eq!(w.blob(&vec![0; 70000]).kind(), T_BLOB32);
        assert_eq!(w.int(1 << 33).kind(), T_INT64);
    }
}
