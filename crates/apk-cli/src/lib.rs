//! The operations of alpinist's `apk` front ends: `cargo xtask apk …` on the build
//! machine and the `apk` binary this crate builds for target roots (the fixture root
//! filesystem's package manager, where Alpine's apk-tools source is not obtainable).
//!
//! `add` is the library's ([`alpinist_apk::add::add`]), which alpinist's stages call too.
//!
//! Errors are one line each: the package (name, version and file), the path, and what is
//! wrong.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use alpinist_apk::adb::container::Compression;
use alpinist_apk::adb::index::IndexV3Builder;
use alpinist_apk::adb::package::UnverifiedPackageV3;
use alpinist_apk::package::{shown, Package};
use alpinist_apk::sign::{Keyring, PrivateKey};
use alpinist_apk::tarball::EntryType;

/// Loads every public key in `dir` (none when it does not exist).
pub fn load_keys(dir: &Path) -> Result<Keyring> {
    Ok(alpinist_apk::add::load_keys(dir)?)
}

/// One line per file (`FILE: OK (RSA, key)`, `FILE: OK (v3, key)` or `FILE: error`), and
/// how many failed. A file starting with `ADB` is a v3 package, read as a stream.
pub fn verify_files(files: &[PathBuf], keys: &Keyring) -> (String, usize) {
    let mut out = String::new();
    let mut bad = 0;
    for f in files {
        let res = match verify_v3(f, keys) {
            Some(r) => r.map(|key| ("v3".to_string(), key)),
            None => Package::read(f)
                .and_then(|pkg| pkg.verify_signature(keys))
                .map(|(alg, key)| (alg.to_string(), key))
                .map_err(|e| e.to_string()),
        };
        match res {
            Ok((alg, key)) => out.push_str(&format!("{}: OK ({alg}, {key})\n", f.display())),
            Err(e) => {
                bad += 1;
                out.push_str(&format!("{}: {e}\n", f.display()));
            }
        }
    }
    (out, bad)
}

/// A v3 package's signature, integrity and contents checked (`None`: not a v3 package).
fn verify_v3(f: &Path, keys: &Keyring) -> Option<Result<String, String>> {
    let file = std::fs::File::open(f).ok()?;
    let mut src = std::io::BufReader::with_capacity(128 << 10, file);
    if !src.fill_buf().ok()?.starts_with(b"ADB") {
        return None;
    }
    let r = UnverifiedPackageV3::new(src)
        .and_then(|head| head.verify(keys))
        .and_then(|(reader, key)| reader.finish().map(|_| key));
    Some(r.map_err(|e| e.to_string()))
}

/// `Packages.adb` of packages v3 or v2 as `apk mkndx` writes it (deflated, its default),
/// signed with `key` when given; `pkgname_spec` is written when given.
pub fn index_v3(
    files: &[PathBuf],
    description: Option<&str>,
    pkgname_spec: Option<&str>,
    key: Option<&PrivateKey>,
) -> Result<Vec<u8>> {
    let mut idx = IndexV3Builder::new(description.unwrap_or_default());
    idx.pkgname_spec = pkgname_spec.map(str::to_string);
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    idx.add_package_files(&refs, None)?;
    idx.build(key, Compression::Deflate)
        .context("writing the v3 index")
}

/// `.PKGINFO` fields, identity, signatures and the file list (control characters shown
/// escaped).
pub fn info_text(pkg: &Package) -> String {
    let mut out = String::new();
    for line in pkg.pkginfo.to_text().lines() {
        if !line.starts_with('#') {
            out.push_str(&format!("{}\n", shown(line)));
        }
    }
    out.push_str(&format!("C:{}\n", pkg.identity()));
    for s in &pkg.signatures {
        out.push_str(&format!("signature: {}\n", shown(&s.name)));
    }
    for (kind, body) in &pkg.scripts {
        out.push_str(&format!(
            "script: .{} ({} bytes)\n",
            kind.as_str(),
            body.len()
        ));
    }
    out.push_str("files:\n");
    for e in &pkg.entries {
        out.push_str(&file_line(&e.header));
        out.push('\n');
    }
    out
}

fn file_line(h: &alpinist_apk::tarball::Header) -> String {
    let t = match h.entry_type {
        EntryType::Directory => 'd',
        EntryType::Symlink => 'l',
        EntryType::Hardlink => 'h',
        EntryType::Regular => '-',
        _ => '?',
    };
    let mut line = format!(
        "{t} {:04o} {}/{} {:>9} {}",
        h.mode,
        shown(&h.uname),
        shown(&h.gname),
        h.size,
        shown(&h.path)
    );
    if t == 'd' {
        line.push('/');
    }
    if !h.link_name.is_empty() {
        line.push_str(if t == 'l' { " -> " } else { " link to " });
        line.push_str(&shown(&h.link_name).to_string());
    }
    line
}
