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

/// A file's package text for `info`: a v3 package's ([`info_text_v3`]) or a v2 one's
/// ([`info_text`]), told apart by the first bytes.
pub fn info_file(f: &Path) -> Result<String> {
    let file = std::fs::File::open(f).with_context(|| f.display().to_string())?;
    let mut src = std::io::BufReader::with_capacity(128 << 10, file);
    let head = src.fill_buf().with_context(|| f.display().to_string())?;
    if !head.starts_with(b"ADB") {
        let pkg = Package::read(f).with_context(|| f.display().to_string())?;
        return Ok(info_text(&pkg));
    }
    info_text_v3(src).with_context(|| f.display().to_string())
}

/// A v3 package's metadata, identity, signatures (key ids), scripts and files, read
/// without trusting it (as `info` of a v2 package); its contents are checked against
/// their hashes on the way.
pub fn info_text_v3(src: impl std::io::BufRead) -> Result<String> {
    use alpinist_apk::adb::schema::TargetV3;
    use alpinist_apk::dep::format_list;
    let head = UnverifiedPackageV3::new(src)?;
    let id = hex(&head.identity());
    let mut r = head.allow_untrusted()?;
    let mut out = String::new();
    let meta = &r.package().meta;
    let i = &meta.info;
    let num = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
    let fields = [
        ("name", i.name.clone()),
        ("version", i.version.clone()),
        ("arch", i.arch.clone()),
        ("description", i.description.clone()),
        ("url", i.url.clone()),
        ("license", i.license.clone()),
        ("origin", i.origin.clone()),
        ("maintainer", i.maintainer.clone()),
        ("repo-commit", hex(&i.repo_commit)),
        ("build-time", num(i.build_time)),
        ("installed-size", num(i.installed_size)),
        ("provider-priority", num(i.provider_priority)),
        ("depends", format_list(&i.depends)),
        ("provides", format_list(&i.provides)),
        ("replaces", format_list(&i.replaces)),
        ("install-if", format_list(&i.install_if)),
        ("recommends", format_list(&i.recommends)),
        ("tags", i.tags.join(" ")),
        ("triggers", meta.triggers.join(" ")),
    ];
    for (k, v) in fields.iter().filter(|(_, v)| !v.is_empty()) {
        out.push_str(&format!("{k}: {}\n", shown(v)));
    }
    out.push_str(&format!("identity: {id}\n"));
    for s in &r.package().signatures {
        out.push_str(&format!("signature: key id {}\n", hex(&s.key_id)));
    }
    for (kind, body) in &meta.scripts {
        out.push_str(&format!(
            "script: {} ({} bytes)\n",
            kind.as_str(),
            body.len()
        ));
    }
    out.push_str("files:\n");
    while let Some(e) = r.next_entry()? {
        let d = &r.package().meta.paths[e.dir];
        let Some(f) = e.file.map(|n| &d.files[n]) else {
            let a = &d.acl;
            let (u, g) = (shown(&a.user), shown(&a.group));
            out.push_str(&format!(
                "d {:04o} {u}/{g} {:>9} {}/\n",
                a.mode,
                0,
                shown(&e.path)
            ));
            continue;
        };
        let (t, tail) = match &f.target {
            None => ('-', String::new()),
            Some(TargetV3::Symlink(to)) => ('l', format!(" -> {}", shown(to))),
            Some(TargetV3::Hardlink(to)) => ('h', format!(" link to {}", shown(to))),
            Some(TargetV3::Device { kind, dev }) => ('c', format!(" device {kind:o}:{dev:x}")),
        };
        let (a, size) = (&f.acl, f.size);
        let (u, g) = (shown(&a.user), shown(&a.group));
        let line = format!(
            "{t} {:04o} {u}/{g} {size:>9} {}{tail}\n",
            a.mode,
            shown(&e.path)
        );
        out.push_str(&line);
    }
    r.finish()?;
    Ok(out)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
