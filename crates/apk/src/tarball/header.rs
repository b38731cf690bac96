//! The tar format's sizes, and a member's metadata as read and as written.

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

/// The zero bytes after `size` bytes of data, up to the next block.
pub(super) fn pad(size: u64) -> u64 {
    (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64
}

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
    pub(super) fn from_flag(f: u8) -> EntryType {
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

    pub(super) fn flag(self) -> u8 {
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
