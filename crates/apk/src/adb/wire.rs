//! ADB values (`apk-v3(5)`, "WIRE FORMAT"): 32-bit little-endian tags whose high nibble is
//! a type and whose low 28 bits are either the value itself (null, small integers) or the
//! offset of the value inside the ADB block. Everything here reads through [`View`], which
//! checks each offset and length against the block before it touches a byte, so a hostile
//! block can make a read fail but never reach outside the block.

use super::AdbError;

/// Type nibbles of a tag.
pub const T_SPECIAL: u32 = 0x0;
pub const T_INT: u32 = 0x1;
pub const T_INT32: u32 = 0x2;
pub const T_INT64: u32 = 0x3;
pub const T_BLOB8: u32 = 0x8;
pub const T_BLOB16: u32 = 0x9;
pub const T_BLOB32: u32 = 0xa;
pub const T_ARRAY: u32 = 0xd;
pub const T_OBJECT: u32 = 0xe;

/// The largest offset or direct integer a tag holds.
pub const VALUE_MASK: u32 = 0x0fff_ffff;
/// The ADB block starts with `adb_hdr`: compat version, version, 2 reserved bytes, root.
pub const HEADER_LEN: usize = 8;

/// One tagged value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Val(pub u32);

impl Val {
    pub const NULL: Val = Val(0);

    pub fn new(kind: u32, value: u32) -> Val {
        debug_assert!(value <= VALUE_MASK);
        Val((kind << 28) | value)
    }

    pub fn kind(self) -> u32 {
        self.0 >> 28
    }

    pub fn value(self) -> u32 {
        self.0 & VALUE_MASK
    }

    pub fn is_null(self) -> bool {
        self.0 == 0
    }

    /// What the tag is, for error messages.
    pub fn describe(self) -> &'static str {
        match self.kind() {
            T_SPECIAL => match self.value() {
                0 => "null",
                1 | 2 => "a boolean",
                _ => "an unknown special value",
            },
            T_INT | T_INT32 | T_INT64 => "an integer",
            T_BLOB8 | T_BLOB16 | T_BLOB32 => "a blob",
            T_ARRAY => "an array",
            T_OBJECT => "an object",
            _ => "a value of unknown type",
        }
    }
}

/// Limits on what decoding one ADB block may produce. Values can be shared (apk-tools
/// writes identical bytes once and points at them from everywhere), so a small block can
/// describe a huge tree; every decoded node and every copied byte is counted against this.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub nodes: u64,
    pub bytes: u64,
}

impl Budget {
    pub fn node(&mut self) -> Result<(), AdbError> {
        if self.nodes == 0 {
            return Err(AdbError::Limit(
                "too many values (shared values decode to a tree larger than alpinist reads)"
                    .into(),
            ));
        }
        self.nodes -= 1;
        Ok(())
    }

    pub fn bytes(&mut self, n: usize) -> Result<(), AdbError> {
        if self.bytes < n as u64 {
            return Err(AdbError::Limit(
                "too many bytes (shared values decode to more data than alpinist reads)".into(),
            ));
        }
        self.bytes -= n as u64;
        Ok(())
    }
}

/// Why a single value could not be read. The schema layer adds where it was.
pub type WireResult<T> = Result<T, String>;

/// A read-only view of an ADB block's payload (the `adb_hdr` and the values).
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    bytes: &'a [u8],
}

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

impl<'a> View<'a> {
    /// Checks the `adb_hdr` (compat version 0, as apk-tools requires).
    pub fn new(bytes: &'a [u8]) -> Result<View<'a>, AdbError> {
        if bytes.len() < HEADER_LEN {
            return Err(AdbError::Format(format!(
                "ADB block of {} bytes is shorter than its header",
                bytes.len()
            )));
        }
        if bytes[0] != 0 {
            return Err(AdbError::Format(format!(
                "ADB compat version {} is not supported (only 0)",
                bytes[0]
            )));
        }
        Ok(View { bytes })
    }

    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    pub fn root(&self) -> Val {
        Val(le32(&self.bytes[4..8]))
    }

    /// `len` bytes at `at` bytes past the value's offset, if they are inside the block and
    /// not inside its header.
    fn slice(&self, v: Val, at: usize, len: usize) -> WireResult<&'a [u8]> {
        let start = v.value() as usize;
        if start < HEADER_LEN {
            return Err(format!(
                "{} at offset {start}, inside the ADB header",
                v.describe()
            ));
        }
        let from = start + at;
        match from.checked_add(len) {
            Some(end) if end <= self.bytes.len() => Ok(&self.bytes[from..end]),
            _ => Err(format!(
                "{} at offset {start} ({} bytes) runs past the end of the {}-byte ADB block",
                v.describe(),
                at + len,
                self.bytes.len()
            )),
        }
    }

    /// An integer (direct, 32-bit or 64-bit); `None` for null.
    pub fn int(&self, v: Val) -> WireResult<Option<u64>> {
        match v.kind() {
            _ if v.is_null() => Ok(None),
            T_INT => Ok(Some(u64::from(v.value()))),
            T_INT32 => Ok(Some(u64::from(le32(self.slice(v, 0, 4)?)))),
            T_INT64 => {
                let b = self.slice(v, 0, 8)?;
                Ok(Some(u64::from_le_bytes(b.try_into().expect("8 bytes"))))
            }
            _ => Err(format!("expected an integer, found {}", v.describe())),
        }
    }

    /// A blob's bytes; `None` for null.
    pub fn blob(&self, v: Val) -> WireResult<Option<&'a [u8]>> {
        let (hdr, len) = match v.kind() {
            _ if v.is_null() => return Ok(None),
            T_BLOB8 => (1, usize::from(self.slice(v, 0, 1)?[0])),
            T_BLOB16 => {
                let b = self.slice(v, 0, 2)?;
                (2, usize::from(u16::from_le_bytes([b[0], b[1]])))
            }
            T_BLOB32 => (4, le32(self.slice(v, 0, 4)?) as usize),
            _ => return Err(format!("expected a blob, found {}", v.describe())),
        };
        self.slice(v, hdr, len).map(Some)
    }

    /// The slots of an array or object (apk-tools reads either tag as either: it writes
    /// most arrays with the object tag). `None` for null. Slot 0, the count, is left out.
    pub fn slots(&self, v: Val) -> WireResult<Option<Slots<'a>>> {
        match v.kind() {
            _ if v.is_null() => Ok(None),
            T_ARRAY | T_OBJECT => {
                let count = le32(self.slice(v, 0, 4)?);
                if count == 0 {
                    return Err(format!(
                        "{} at offset {} with a slot count of 0",
                        v.describe(),
                        v.value()
                    ));
                }
                let len = (count as usize)
                    .checked_mul(4)
                    .ok_or("slot count overflows")?;
                let bytes = self.slice(v, 4, len - 4).map_err(|_| {
                    format!(
                        "{} at offset {} claims {count} slots, past the end of the {}-byte ADB block",
                        v.describe(),
                        v.value(),
                        self.bytes.len()
                    )
                })?;
                Ok(Some(Slots { bytes }))
            }
            _ => Err(format!(
                "expected an object or array, found {}",
                v.describe()
            )),
        }
    }
}

/// The slots of an object or array after the count: slot `i` (1-based, as the schemas
/// number fields) is `get(i)`.
#[derive(Debug, Clone, Copy)]
pub struct Slots<'a> {
    bytes: &'a [u8],
}

impl Slots<'_> {
    /// Number of slots after the count (an array's number of items).
    pub fn len(&self) -> usize {
        self.bytes.len() / 4
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Slot `i` (1-based); null past the end, as apk-tools reads it.
    pub fn get(&self, i: usize) -> Val {
        match i.checked_sub(1).map(|i| i * 4) {
            Some(at) if at + 4 <= self.bytes.len() => Val(le32(&self.bytes[at..at + 4])),
            _ => Val::NULL,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = Val> + '_ {
        self.bytes.chunks_exact(4).map(|c| Val(le32(c)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(values: &[u8]) -> Vec<u8> {
        let mut b = vec![0u8; 8];
        b.extend_from_slice(values);
        b
    }

    #[test]
    fn reads_are_bounded() {
        let b = block(&[3, b'a', b'b', b'c', 2, 0, 0, 0, 0x10, 0, 0, 0x80]);
        let v = View::new(&b).unwrap();
        assert_eq!(v.blob(Val::new(T_BLOB8, 8)).unwrap(), Some(&b"abc"[..]));
        assert!(v.blob(Val::new(T_BLOB8, 9)).is_err(), "runs past the end");
        assert!(v.blob(Val::new(T_BLOB8, 4)).is_err(), "inside the header");
        assert!(
            v.blob(Val::new(T_BLOB32, 8)).is_err(),
            "length past the end"
        );
        assert_eq!(v.int(Val::new(T_INT, 7)).unwrap(), Some(7));
        assert!(v.int(Val::new(T_INT64, 16)).is_err());
        assert!(v.int(Val::new(T_BLOB8, 8)).is_err(), "type confusion");
        let s = v.slots(Val::new(T_OBJECT, 12)).unwrap().unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s.get(1), Val::new(T_BLOB8, 0x10));
        assert_eq!(s.get(2), Val::NULL);
        assert!(v.slots(Val::new(T_ARRAY, 8)).is_err(), "huge count");
        assert!(v.slots(Val::new(T_INT, 8)).is_err());
        assert_eq!(v.slots(Val::NULL).unwrap().map(|s| s.len()), None);
    }
}
