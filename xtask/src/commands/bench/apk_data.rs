//! What the apk benchmarks are made of: generated packages (names, text and binary
//! content, tar entries), a scratch directory, and measurements of this process (run
//! queue, I/O, resident set size).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result};

use alpinist_apk::package::{PackageBuilder, Signer};
use alpinist_apk::pkginfo::PkgInfo;
use alpinist_apk::sign::{self, Keyring, PrivateKey, SigAlg};
use alpinist_apk::tarball::{EntryType, Header};

use crate::context::Context;
use crate::exec::Cmd;

/// The key the library's tests use; a fresh one is generated when it is absent.
pub(super) const TEST_KEY: &str = "/work/shared/testdata/alpine/testkey-62a9ada3.rsa";
/// `SOURCE_DATE_EPOCH` of every generated package and of the index.
pub(super) const EPOCH: u64 = 1_700_000_000;

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

/// `<DIR>/<what>-<unix time>`; by default `DIR` is `build/bench`, on the same filesystem as
/// the rest of build/.
pub(super) fn scratch_dir(cx: &Context, dir: Option<&Path>, what: &str) -> Result<PathBuf> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let base = dir.map_or_else(|| cx.layout.build.join("bench"), Path::to_path_buf);
    let dir = base.join(format!("{what}-{stamp}"));
    std::fs::create_dir_all(&dir).with_context(|| dir.display().to_string())?;
    Ok(dir)
}

pub(super) fn finish(dir: &Path, keep: bool) -> Result<()> {
    if keep {
        println!("kept {}", dir.display());
        Ok(())
    } else {
        crate::fsutil::remove_dir_all_writable(dir)
    }
}

/// The test key (or a new key) as a SHA-1 signer, and a keyring trusting it; the public key
/// is written into `keys_dir`.
pub(super) fn signer(keys_dir: &Path) -> Result<(Signer, Keyring)> {
    let (pem, name) = match std::fs::read_to_string(TEST_KEY) {
        Ok(pem) => (pem, "testkey-62a9ada3.rsa.pub".to_string()),
        Err(_) => {
            let k = sign::keygen("bench", sign::DEFAULT_KEY_BITS, 0x62a9ada3)?;
            (k.private_pem, k.public_file)
        }
    };
    let key = PrivateKey::from_pem(&pem)?;
    std::fs::create_dir_all(keys_dir)?;
    std::fs::write(keys_dir.join(&name), key.public_key().to_pem()?)?;
    let mut keys = Keyring::new();
    keys.insert(name.clone(), key.public_key());
    Ok((
        Signer {
            key,
            key_name: name,
            alg: SigAlg::Sha1,
        },
        keys,
    ))
}

pub(super) fn build(
    info: PkgInfo,
    entries: Vec<(Header, Vec<u8>)>,
    signer: &Signer,
) -> Result<Vec<u8>> {
    let mut b = PackageBuilder::new(info, EPOCH);
    for (h, d) in entries {
        b.push_entry(h, d);
    }
    Ok(b.build(Some(signer))?)
}

pub(super) fn header(path: &str, t: EntryType, mode: u32) -> Header {
    let mut h = Header::new(path, t);
    h.mode = mode;
    h.uname = "root".into();
    h.gname = "root".into();
    h.mtime = EPOCH;
    h
}

pub(super) fn dir(path: &str) -> (Header, Vec<u8>) {
    (header(path, EntryType::Directory, 0o755), Vec::new())
}

pub(super) fn file(path: &str, mode: u32, data: Vec<u8>) -> (Header, Vec<u8>) {
    let mut h = header(path, EntryType::Regular, mode);
    h.size = data.len() as u64;
    (h, data)
}

pub(super) fn symlink(path: &str, target: &str) -> (Header, Vec<u8>) {
    let mut h = header(path, EntryType::Symlink, 0o777);
    h.link_name = target.into();
    (h, Vec::new())
}

pub(super) fn hardlink(path: &str, target: &str) -> (Header, Vec<u8>) {
    let mut h = header(path, EntryType::Hardlink, 0o755);
    h.link_name = target.into();
    (h, Vec::new())
}

pub(super) const WORDS: [&str; 32] = [
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
    "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango",
    "uniform", "victor", "whiskey", "xray", "yankee", "zulu", "zlib", "curl", "musl", "busybox",
    "openssl", "ncurses",
];

/// splitmix64: deterministic content without a dependency.
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0xdead_beef)
    }
    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Text-like content (compresses about 3:1 like documentation and configuration).
pub(super) fn text(rng: &mut Rng, size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(size + 16);
    while out.len() < size {
        out.extend_from_slice(WORDS[rng.below(WORDS.len() as u64) as usize].as_bytes());
        match rng.below(12) {
            0 => out.push(b'\n'),
            1 => out.extend_from_slice(format!(" {} ", rng.below(100_000)).as_bytes()),
            _ => out.push(b' '),
        }
    }
    out.truncate(size);
    out
}

/// Binary-like content: random bytes mixed with runs of zeros and repeated chunks.
pub(super) fn binary(rng: &mut Rng, size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(size + 64);
    while out.len() < size {
        let n = 8 + rng.below(56) as usize;
        match rng.below(3) {
            0 => out.extend(std::iter::repeat_n(0u8, n)),
            1 if out.len() > 64 => {
                let from = rng.below((out.len() - n.min(out.len())) as u64) as usize;
                let chunk: Vec<u8> = out[from..(from + n).min(out.len())].to_vec();
                out.extend_from_slice(&chunk);
            }
            _ => out.extend((0..n).map(|_| rng.next() as u8)),
        }
    }
    out.truncate(size);
    out
}

/// Seconds this (single-threaded) process has spent runnable but waiting for a CPU, from
/// /proc/self/schedstat (0 where the kernel does not keep it).
pub(super) fn self_runq() -> f64 {
    std::fs::read_to_string("/proc/self/schedstat")
        .ok()
        .and_then(|t| t.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0.0, |ns| ns as f64 / 1e9)
}

/// `wchar` (bytes passed to write calls) and `write_bytes` (bytes dirtied for the storage
/// layer) of this process, from /proc/self/io.
pub(super) fn self_io() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
    let get = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    (get("wchar:"), get("write_bytes:"))
}

/// A field of /proc/self/status in KiB (`VmRSS:`, `VmHWM:`).
pub(super) fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

/// Resets the peak resident set size (`VmHWM`) to the current one (`echo 5 >
/// /proc/self/clear_refs`) and returns the current one, in bytes.
pub(super) fn reset_peak_rss() -> u64 {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    status_kib("VmRSS:") << 10
}

/// Flushes the filesystem holding `path` (`sync -f`), so runs start without earlier
/// dirty data and the flush after a run can be timed.
pub(super) fn syncfs(path: &Path) {
    let _ = Cmd::new("sync").arg("-f").arg(path).status_quiet();
}

#[derive(Default)]
pub(super) struct Tree {
    pub(super) files: u64,
    pub(super) hardlinks: u64,
    pub(super) dirs: u64,
    pub(super) symlinks: u64,
    pub(super) bytes: u64,
}

/// Counts a tree; `bytes` is the content of regular files, each inode once.
pub(super) fn tree_size(dir: &Path) -> Tree {
    use std::os::unix::fs::MetadataExt;
    let mut t = Tree::default();
    let mut seen = std::collections::HashSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(m) = e.path().symlink_metadata() else {
                continue;
            };
            if m.is_dir() {
                t.dirs += 1;
                stack.push(e.path());
            } else if m.file_type().is_symlink() {
                t.symlinks += 1;
            } else if m.is_file() {
                t.files += 1;
                if seen.insert((m.dev(), m.ino())) {
                    t.bytes += m.len();
                } else {
                    t.hardlinks += 1;
                }
            }
        }
    }
    t
}

pub(super) struct Stats {
    pub(super) min: Duration,
    pub(super) median: Duration,
    pub(super) max: Duration,
}

impl Stats {
    pub(super) fn new(v: &mut [Duration]) -> Stats {
        v.sort();
        Stats {
            min: v[0],
            median: v[v.len() / 2],
            max: v[v.len() - 1],
        }
    }
}

pub(super) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

pub(super) fn human(b: u64) -> String {
    if b >= 10 << 20 {
        format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64)
    } else {
        format!("{:.0} KiB", b as f64 / 1024.0)
    }
}
