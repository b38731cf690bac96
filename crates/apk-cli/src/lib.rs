//! The operations of alpinist's `apk` front ends: `cargo xtask apk …` on the build
//! machine and the `apk` binary this crate builds for target roots (the fixture root
//! filesystem's package manager, where Alpine's apk-tools source is not obtainable).
//!
//! `add` is the library's ([`alpinist_apk::add::add`]), which alpinist's stages call too.
//!
//! Errors are one line each: the package (name, version and file), the path, and what is
//! wrong.

use std::path::{Path, PathBuf};

use anyhow::Result;

use alpinist_apk::package::{shown, Package};
use alpinist_apk::sign::Keyring;
use alpinist_apk::tarball::EntryType;

/// Loads every public key in `dir` (none when it does not exist).
pub fn load_keys(dir: &Path) -> Result<Keyring> {
    Ok(alpinist_apk::add::load_keys(dir)?)
}

/// One line per file (`FILE: OK (RSA, key)` or `FILE: error`), and how many failed.
pub fn verify_files(files: &[PathBuf], keys: &Keyring) -> (String, usize) {
    let mut out = String::new();
    let mut bad = 0;
    for f in files {
        let res = Package::read(f)
            .and_then(|pkg| pkg.verify_signature(keys))
            .map_err(|e| e.to_string());
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
