//! The sizes apk-tools can read and write, so that every package alpinist accepts and every
//! root it writes is one Alpine's apk handles.
//!
//! apk-tools 3.0.6 and 2.14.10 use fixed buffers in a few places (sources as of
//! `alpinelinux/apk-tools` v3.0.6 and v2.14.10; the thresholds were also measured with
//! packages made for the purpose, see `docs/apk-format.md`):
//!
//! - Text files (`.PKGINFO`, `APKINDEX`, `lib/apk/db/installed`, `triggers`) are read a line
//!   at a time through a 128 KiB buffer (`apk_io_bufsize`) that is realigned to 8 bytes: a
//!   longer line is "v2 package format error" (`apk verify`, `apk add`) or "v2 database
//!   format error" (every later command on the root).
//! - `apk_pkg_write_index_header` writes the `C:`…`k:` lines of a record into 2048 bytes;
//!   a longer block makes `apk add` fail with "failed to write database" (3.0.6) or write an
//!   empty `installed` file (2.14.10).
//! - `apk_deps_write_layer` writes one dependency (with its separating space) into 256 bytes.
//! - `apk_db_fdb_write` writes the `r: q: s: f:` lines with the first `F:`/`M:` pair, and
//!   each `R:`/`a:`/`Z:` group, into `1024 + PATH_MAX` bytes.
//! - `apk_db_scriptdb_write` names `scripts.tar` entries in 256 bytes (with the NUL).

use crate::db::{InstalledPackage, PackageInfo};
use crate::dep::{self, Dependency};

/// Longest line (without its newline) apk 3 reads from `.PKGINFO` or the database:
/// 128 KiB minus the newline and up to 7 bytes of realignment.
pub const MAX_LINE: usize = 128 * 1024 - 8;
/// `C:` to `k:` of one record, newlines included.
pub const MAX_INDEX_HEADER: usize = 2048;
/// One dependency as written, with the space before it (none before the first).
pub const MAX_DEPENDENCY: usize = 256;
/// `r: q: s: f:` with the first `F:`/`M:` lines, or one `F:`/`M:` pair, or one file's
/// `R: a: Z:` lines.
pub const MAX_FDB_BLOCK: usize = 1024 + 4096;
/// A `scripts.tar` entry name, `<name>-<version>.X1<hex>.<action>`.
pub const MAX_SCRIPT_NAME: usize = 255;

/// Why a record could not be written by apk, or read back; `None` when it can.
pub fn record_problem(p: &InstalledPackage) -> Option<String> {
    index_problem(&p.info)
        .or_else(|| deps_problem("r", &p.replaces))
        .or_else(|| fdb_problem(p))
        .or_else(|| {
            let name = p
                .scripts
                .first()
                .map(|s| p.script_entry_name(s.kind))
                .unwrap_or_default();
            (name.len() > MAX_SCRIPT_NAME).then(|| {
                format!(
                    "name-version too long for apk's scripts.tar ({} bytes > {MAX_SCRIPT_NAME})",
                    name.len()
                )
            })
        })
}

/// Why an index record could not be written by `apk index` or read back; `None` when it can.
pub fn index_problem(info: &PackageInfo) -> Option<String> {
    let header = PackageInfo {
        depends: Vec::new(),
        provides: Vec::new(),
        install_if: Vec::new(),
        ..info.clone()
    };
    let mut text = String::new();
    header.write_header(&mut text);
    if text.len() > MAX_INDEX_HEADER {
        return Some(format!(
            "fields too long for apk's database (C: to k: take {} bytes, apk allows {MAX_INDEX_HEADER})",
            text.len()
        ));
    }
    deps_problem("D", &info.depends)
        .or_else(|| deps_problem("p", &info.provides))
        .or_else(|| deps_problem("i", &info.install_if))
}

fn deps_problem(letter: &str, deps: &[Dependency]) -> Option<String> {
    for (i, d) in deps.iter().enumerate() {
        let len = d.to_string().len() + usize::from(i > 0);
        if len > MAX_DEPENDENCY {
            return Some(format!(
                "{letter}: entry {i} is {len} bytes, more than apk's {MAX_DEPENDENCY}"
            ));
        }
    }
    let line = letter.len() + 1 + dep::format_list(deps).len();
    (line > MAX_LINE).then(|| format!("{letter}: line is {line} bytes, more than apk's {MAX_LINE}"))
}

/// The `apk_db_fdb_write` blocks of a record.
fn fdb_problem(p: &InstalledPackage) -> Option<String> {
    let mut record = String::new();
    p.write(&mut record);
    // The first block runs from `r:`/`q:`/`s:`/`f:` to the first `M:`; later blocks are one
    // `F:`/`M:` pair or one `R:`/`a:`/`Z:` group.
    let mut block = 0usize;
    let mut first_dir = true;
    for line in record.lines() {
        match line.as_bytes().first() {
            Some(b'r' | b'q' | b's' | b'f' | b'M' | b'a' | b'Z') => {}
            Some(b'F') if std::mem::take(&mut first_dir) => {}
            Some(b'F' | b'R') => block = 0,
            _ => continue,
        }
        block += line.len() + 1;
        if block > MAX_FDB_BLOCK {
            let near: String = line.chars().take(40).collect();
            return Some(format!(
                "database lines too long for apk ({block} bytes at {near:?}, apk allows {MAX_FDB_BLOCK})"
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg() -> InstalledPackage {
        let mut p = InstalledPackage::new(PackageInfo::new("a", "1-r0"));
        p.info.checksum = "Q1La4irZmiPmPAKLBbjVfWy4zCpAU=".into();
        p
    }

    #[test]
    fn header_block_limit() {
        let mut p = pkg();
        p.info.description = "x".repeat(1900);
        assert_eq!(record_problem(&p), None);
        p.info.description = "x".repeat(2048);
        assert!(record_problem(&p).unwrap().contains("C: to k:"));
    }

    #[test]
    fn dependency_limit() {
        let mut p = pkg();
        p.info.depends = dep::parse_list(&format!("!{}", "d".repeat(255))).unwrap();
        assert_eq!(record_problem(&p), None, "256 bytes fit");
        p.info.depends = dep::parse_list(&format!("!{}", "d".repeat(256))).unwrap();
        assert!(record_problem(&p).unwrap().starts_with("D: entry 0 is 257"));
        let many: Vec<String> = (0..15000).map(|i| format!("!dep{i}")).collect();
        p.info.depends = dep::parse_list(&many.join(" ")).unwrap();
        assert!(record_problem(&p).unwrap().contains("D: line is"));
    }

    #[test]
    fn replaces_block_limit() {
        let mut p = pkg();
        let names: Vec<String> = (0..600).map(|i| format!("rep{i}")).collect();
        p.replaces = dep::parse_list(&names.join(" ")).unwrap();
        p.dir_mut("etc");
        assert_eq!(record_problem(&p), None);
        let names: Vec<String> = (0..1000).map(|i| format!("rep{i}")).collect();
        p.replaces = dep::parse_list(&names.join(" ")).unwrap();
        assert!(record_problem(&p)
            .unwrap()
            .contains("database lines too long"));
    }
}
