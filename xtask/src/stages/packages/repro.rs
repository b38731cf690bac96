//! `cargo xtask verify-repro`: build packages twice, in different build directories and
//! at different times, and compare the `.apk` files member by member (the signature
//! member aside, since it depends on the key and not on the build).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use alpinist_apk::package::Package;
use anyhow::{Context as _, Result};

use crate::context::Context;
use crate::stages::packages::BuildSettings;

/// What differs between two builds of one package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub package: String,
    pub what: Vec<String>,
}

/// Compares two `.apk` files; empty when control and data members are identical.
pub fn compare(a: &Path, b: &Path) -> Result<Vec<String>> {
    let ba = std::fs::read(a).with_context(|| a.display().to_string())?;
    let bb = std::fs::read(b).with_context(|| b.display().to_string())?;
    let pa = Package::parse(&ba).with_context(|| a.display().to_string())?;
    let pb = Package::parse(&bb).with_context(|| b.display().to_string())?;
    let mut why = Vec::new();
    if ba[pa.control_range.clone()] != bb[pb.control_range.clone()] {
        let (ta, tb) = (
            String::from_utf8_lossy(&pa.pkginfo_raw),
            String::from_utf8_lossy(&pb.pkginfo_raw),
        );
        for (la, lb) in ta.lines().zip(tb.lines()) {
            if la != lb {
                why.push(format!("control: .PKGINFO `{la}` vs `{lb}`"));
            }
        }
        if pa.scripts != pb.scripts {
            why.push("control: install scripts differ".into());
        }
        if why.is_empty() {
            why.push("control member bytes differ (tar headers)".into());
        }
    }
    if ba[pa.data_range.clone()] != bb[pb.data_range.clone()] {
        let ea: BTreeMap<&str, _> = pa.entries.iter().map(|e| (e.path(), e)).collect();
        let eb: BTreeMap<&str, _> = pb.entries.iter().map(|e| (e.path(), e)).collect();
        let before = why.len();
        for (p, x) in &ea {
            match eb.get(p) {
                None => why.push(format!("data: /{p} only in the first build")),
                Some(y) => {
                    if x.sha1 != y.sha1 {
                        let at = first_difference(
                            &ba[pa.data_range.clone()],
                            &bb[pb.data_range.clone()],
                            p,
                        )
                        .unwrap_or_default();
                        why.push(format!("data: /{p} content differs{at}"));
                    } else if x.header != y.header {
                        why.push(format!(
                            "data: /{p} metadata differs (mode, owner, mtime or link)"
                        ));
                    }
                }
            }
        }
        for p in eb.keys() {
            if !ea.contains_key(p) {
                why.push(format!("data: /{p} only in the second build"));
            }
        }
        if why.len() == before {
            why.push("data member bytes differ (order or compression)".into());
        }
    }
    Ok(why)
}

/// `path`'s content in two gzip'd data tars: where it first differs, with the bytes of
/// each build there (`at byte N: 0a1b… vs 0a1c…`).
fn first_difference(a: &[u8], b: &[u8], path: &str) -> Option<String> {
    let read = |gz: &[u8]| -> Option<Vec<u8>> {
        let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(gz));
        for e in ar.entries().ok()? {
            let mut e = e.ok()?;
            if e.path().ok()?.to_string_lossy() == path {
                let mut v = Vec::new();
                std::io::Read::read_to_end(&mut e, &mut v).ok()?;
                return Some(v);
            }
        }
        None
    };
    let (x, y) = (read(a)?, read(b)?);
    let at = x
        .iter()
        .zip(&y)
        .position(|(p, q)| p != q)
        .unwrap_or(x.len().min(y.len()));
    let hex = |v: &[u8]| hex::encode(&v[at.min(v.len())..(at + 16).min(v.len())]);
    Some(format!(
        " at byte {at} of {}/{}: {} vs {}{}",
        x.len(),
        y.len(),
        hex(&x),
        hex(&y),
        elf_sections(&x, &y)
            .map(|s| format!("; ELF sections: {s}"))
            .or_else(|| first_line(&x, &y))
            .unwrap_or_default()
    ))
}

/// For two text files (UTF-8, no NUL), the first line that differs, shortened:
/// `; line 1: `2026-12-04T06:48:12Z` vs `2026-12-04T06:51:40Z``.
fn first_line(x: &[u8], y: &[u8]) -> Option<String> {
    fn text(v: &[u8]) -> Option<&str> {
        std::str::from_utf8(v).ok().filter(|t| !t.contains('\0'))
    }
    let (a, b) = (text(x)?, text(y)?);
    let short = |l: &str| {
        if l.chars().count() > 100 {
            format!("{}…", l.chars().take(100).collect::<String>())
        } else {
            l.to_string()
        }
    };
    let (mut la, mut lb) = (a.lines(), b.lines());
    for n in 1.. {
        match (la.next(), lb.next()) {
            (Some(p), Some(q)) if p == q => continue,
            (None, None) => return None,
            (p, q) => {
                let show = |l: Option<&str>| {
                    l.map_or("(end of file)".into(), |l| format!("`{}`", short(l)))
                };
                return Some(format!("; line {n}: {} vs {}", show(p), show(q)));
            }
        }
    }
    None
}

/// For two ELF files, the sections that differ, by name: first those whose size changed
/// (`.text 209672 vs 209704 bytes`) or that only one file has, then those with other
/// content of the same size (`.rodata content`), each in the first file's order. The first differing
/// byte of a shared library is usually in its program headers, which says little; the
/// sections say where to look (libopcodes' one more GOT entry and relocation were the
/// first sign of a different libiberty linked in). `None` unless both parse as ELF.
fn elf_sections(x: &[u8], y: &[u8]) -> Option<String> {
    use goblin::elf::section_header::SHT_NOBITS;
    use goblin::elf::Elf;
    fn list<'a>(e: &Elf, bytes: &'a [u8]) -> Vec<(String, u64, Option<&'a [u8]>)> {
        e.section_headers
            .iter()
            .filter(|h| h.sh_type != goblin::elf::section_header::SHT_NULL)
            .map(|h| {
                let name = e.shdr_strtab.get_at(h.sh_name).unwrap_or("?").to_string();
                let content = (h.sh_type != SHT_NOBITS)
                    .then(|| {
                        let start = usize::try_from(h.sh_offset).ok()?;
                        bytes.get(start..start.checked_add(usize::try_from(h.sh_size).ok()?)?)
                    })
                    .flatten();
                (name, h.sh_size, content)
            })
            .collect()
    }
    let (ea, eb) = (Elf::parse(x).ok()?, Elf::parse(y).ok()?);
    let (la, mut lb) = (list(&ea, x), list(&eb, y));
    // Sizes first: a section that grew says more than the addresses that moved with it.
    let (mut out, mut same_size) = (Vec::new(), Vec::new());
    for (name, size, content) in la {
        match lb.iter().position(|(n, _, _)| *n == name) {
            None => out.push(format!("{name} only in the first")),
            Some(i) => {
                let (_, size2, content2) = lb.remove(i);
                if size != size2 {
                    out.push(format!("{name} {size} vs {size2} bytes"));
                } else if content != content2 {
                    same_size.push(format!("{name} content"));
                }
            }
        }
    }
    out.extend(
        lb.into_iter()
            .map(|(n, _, _)| format!("{n} only in the second")),
    );
    out.extend(same_size);
    if out.is_empty() {
        return Some("all the same (headers or padding differ)".into());
    }
    let more = out.len().saturating_sub(8);
    out.truncate(8);
    if more > 0 {
        out.push(format!("and {more} more"));
    }
    Some(out.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This test's own executable with one byte of its .rodata changed: that section and
    /// no other is named; the same file twice names none.
    #[test]
    fn elf_files_name_the_sections_that_differ() {
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let e = goblin::elf::Elf::parse(&exe).unwrap();
        let rodata = e
            .section_headers
            .iter()
            .find(|h| e.shdr_strtab.get_at(h.sh_name) == Some(".rodata"))
            .expect("a .rodata section");
        let mut changed = exe.clone();
        let at = usize::try_from(rodata.sh_offset + rodata.sh_size / 2).unwrap();
        changed[at] ^= 0xff;
        assert_eq!(
            elf_sections(&exe, &changed).as_deref(),
            Some(".rodata content")
        );
        assert_eq!(
            elf_sections(&exe, &exe).as_deref(),
            Some("all the same (headers or padding differ)")
        );
        assert_eq!(elf_sections(b"not elf", b"not elf either"), None);
    }

    #[test]
    fn the_first_difference_names_the_byte_and_both_builds_bytes() {
        let tgz = |content: &[u8]| {
            let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
                Vec::new(),
                flate2::Compression::fast(),
            ));
            let mut h = tar::Header::new_gnu();
            h.set_size(content.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, "usr/share/x", content).unwrap();
            b.into_inner().unwrap().finish().unwrap()
        };
        let got = first_difference(&tgz(b"hello world"), &tgz(b"hello there"), "usr/share/x");
        assert_eq!(
            got.as_deref(),
            Some(" at byte 6 of 11/11: 776f726c64 vs 7468657265; line 1: `hello world` vs `hello there`")
        );
        let got = first_difference(&tgz(b"a\nb\n"), &tgz(b"a\nb\nc\n"), "usr/share/x");
        assert_eq!(
            got.as_deref(),
            Some(" at byte 4 of 4/6:  vs 630a; line 3: (end of file) vs `c`")
        );
        let got = first_difference(&tgz(b"a\0b"), &tgz(b"a\0c"), "usr/share/x");
        assert_eq!(got.as_deref(), Some(" at byte 2 of 3/3: 62 vs 63"));
    }
}

/// The setting that makes a build use one make job and no jobserver.
pub const JOBS_VAR: &str = "ALPINIST_REPRO_JOBS";

/// What the second build of verify-repro changes, besides its build directory and time
/// (always different). TZ, locale and umask are changed for alpinist itself, as for any
/// build tool under test: recipes get TZ=UTC and C.UTF-8 from alpinist whatever the
/// host's, so these check that nothing of the host's reaches a package. Jobs and host
/// name are changed inside the recipe's sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Variation {
    /// alpinist's TZ: as it is, then Pacific/Chatham (+12:45/+13:45)
    Tz,
    /// alpinist's LANG and LC_ALL: as they are, then fr_FR.UTF-8
    Locale,
    /// alpinist's umask: as it is, then 0077
    Umask,
    /// make jobs: the shared jobserver (-jN), then -j1
    Jobs,
    /// the sandbox's host name: alpinist-build, then another
    Hostname,
    /// the user the recipe runs as: alpinist's own, then uid and gid 4242 (a user
    /// namespace)
    Uid,
    /// the order directories list their files in: the filesystem's, then shuffled at
    /// every listing (the build tree seen through disorderfs)
    FileOrder,
    /// the aports' checkout: where it is, then a hard-linked copy elsewhere
    Checkout,
    /// the cache directory: as given, then another (its toolchain steps, sources and
    /// signing key linked in, so only the packages are built again)
    CacheDir,
    /// all of the above
    All,
}

/// How the second build differs: settings for the recipes, alpinist's own environment,
/// and its umask, the checkout and the cache directory.
#[derive(Debug, Clone, Default)]
pub struct SecondBuild {
    pub settings_env: Vec<(String, String)>,
    pub process_env: Vec<(String, String)>,
    pub umask: Option<u32>,
    /// The aports come from a copy of their checkout.
    pub checkout: bool,
    /// The steps go to another cache directory.
    pub cache_dir: bool,
}

/// The uid and gid of the second build's recipes under the `uid` variation.
pub const OTHER_UID: u32 = 4242;

impl SecondBuild {
    pub fn new(vs: &[Variation]) -> SecondBuild {
        let has = |v: Variation| vs.contains(&v) || vs.contains(&Variation::All);
        let mut b = SecondBuild::default();
        if has(Variation::Tz) {
            b.process_env.push(("TZ".into(), "Pacific/Chatham".into()));
        }
        if has(Variation::Locale) {
            b.process_env.push(("LANG".into(), "fr_FR.UTF-8".into()));
            b.process_env.push(("LC_ALL".into(), "fr_FR.UTF-8".into()));
        }
        if has(Variation::Umask) {
            b.umask = Some(0o077);
        }
        if has(Variation::Jobs) {
            b.settings_env.push((JOBS_VAR.into(), "1".into()));
        }
        if has(Variation::Hostname) {
            b.settings_env.push((
                super::sandbox::HOSTNAME_VAR.into(),
                "repro-second-build".into(),
            ));
        }
        if has(Variation::Uid) {
            b.settings_env
                .push((super::sandbox::UID_VAR.into(), OTHER_UID.to_string()));
        }
        if has(Variation::FileOrder) {
            b.settings_env
                .push((super::sandbox::FILE_ORDER_VAR.into(), "shuffle".into()));
        }
        b.checkout = has(Variation::Checkout);
        b.cache_dir = has(Variation::CacheDir);
        b
    }

    /// One line for the log.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = vec!["directory".into(), "time".into()];
        parts.extend(self.process_env.iter().map(|(k, v)| format!("{k}={v}")));
        if let Some(m) = self.umask {
            parts.push(format!("umask {m:04o}"));
        }
        parts.extend(self.settings_env.iter().map(|(k, v)| match k.as_str() {
            JOBS_VAR => format!("make -j{v}"),
            super::sandbox::UID_VAR => format!("uid/gid {v}"),
            super::sandbox::FILE_ORDER_VAR => format!("file order: {v} (disorderfs)"),
            _ => format!("{k}={v}"),
        }));
        if self.checkout {
            parts.push("checkout: a copy elsewhere".into());
        }
        if self.cache_dir {
            parts.push("cache directory: another".into());
        }
        parts.join(", ")
    }

    /// Runs `f` with alpinist's environment and umask changed, then restores them. Only
    /// between builds: no step thread is running then.
    fn with<T>(&self, f: impl FnOnce() -> T) -> T {
        let saved: Vec<(String, Option<std::ffi::OsString>)> = self
            .process_env
            .iter()
            .map(|(k, _)| (k.clone(), std::env::var_os(k)))
            .collect();
        for (k, v) in &self.process_env {
            std::env::set_var(k, v);
        }
        // SAFETY: umask only swaps the process's file-creation mask.
        let old_mask = self
            .umask
            .map(|m| unsafe { libc::umask(m as libc::mode_t) });
        let r = f();
        if let Some(m) = old_mask {
            // SAFETY: as above.
            unsafe { libc::umask(m) };
        }
        for (k, v) in saved {
            match v {
                Some(v) => std::env::set_var(&k, v),
                None => std::env::remove_var(&k),
            }
        }
        r
    }
}

/// What verify-repro found: each package compared, and the builds that failed (with
/// --keep-going; without it a failure ends the run).
#[derive(Debug, Clone)]
pub struct Verified {
    pub differences: Vec<Difference>,
    pub failures: Vec<String>,
}

/// Builds `aports` twice (the second time with a different key input, so different work
/// directories and a later time, and with `variations`) and compares every package.
pub fn verify(
    cx: &Context,
    arch: &str,
    aports: &[PathBuf],
    settings: &BuildSettings,
    variations: &[Variation],
) -> Result<Verified> {
    let second_build = SecondBuild::new(variations);
    if second_build
        .settings_env
        .iter()
        .any(|(k, _)| k == super::sandbox::FILE_ORDER_VAR)
    {
        file_order_preflight()?;
    }
    let mut failures = Vec::new();
    let first = build_set(cx, arch, aports, settings, "first", &mut failures)?;
    let mut varied = settings.clone();
    varied.env.extend(second_build.settings_env.iter().cloned());
    // One per run (the test suite runs verify-repro twice at once), emptied first (a
    // killed run with the same process id) and removed at the end, whatever happened.
    let scratch = cx
        .layout
        .build
        .join("repro")
        .join(format!("run-{}", std::process::id()));
    if scratch.exists() {
        crate::fsutil::remove_dir_all_writable(&scratch)?;
    }
    let second = (|| {
        let aports2 = if second_build.checkout {
            copy_checkouts(aports, &scratch.join("checkout"))?
        } else {
            aports.to_vec()
        };
        let cx2 = if second_build.cache_dir {
            Some(other_cache(cx, &scratch.join("cache"))?)
        } else {
            None
        };
        let cx2 = cx2.as_ref().unwrap_or(cx);
        second_build.with(|| build_set(cx2, arch, &aports2, &varied, "second", &mut failures))
    })();
    let out = second.and_then(|second| compare_sets(&first, &second));
    if scratch.exists() {
        crate::fsutil::remove_dir_all_writable(&scratch)?;
    }
    Ok(Verified {
        differences: out?,
        failures,
    })
}

/// Checks that the file-order variation can run here: disorderfs, and FUSE.
fn file_order_preflight() -> Result<()> {
    if !crate::host::on_path("disorderfs") {
        anyhow::bail!("the file-order variation needs disorderfs: `sudo apt-get install disorderfs` (or `sudo cargo xtask setup`)");
    }
    if std::fs::metadata("/dev/fuse").is_err() {
        anyhow::bail!("the file-order variation needs FUSE, and this machine has no /dev/fuse (in a container, give it the device)");
    }
    Ok(())
}

/// Every package of the first build against the second's.
fn compare_sets(
    first: &BTreeMap<String, PathBuf>,
    second: &BTreeMap<String, PathBuf>,
) -> Result<Vec<Difference>> {
    let mut out = Vec::new();
    for (name, a) in first {
        match second.get(name) {
            None => out.push(Difference {
                package: name.clone(),
                what: vec!["missing from the second build".into()],
            }),
            Some(b) => {
                let what = compare(a, b)?;
                out.push(Difference {
                    package: name.clone(),
                    what,
                });
            }
        }
    }
    Ok(out)
}

fn build_set(
    cx: &Context,
    arch: &str,
    aports: &[PathBuf],
    settings: &BuildSettings,
    run: &str,
    failures: &mut Vec<String>,
) -> Result<BTreeMap<String, PathBuf>> {
    let mut s = settings.clone();
    // Part of the key only: a separate output and build directory for each run.
    s.env.push(("ALPINIST_REPRO_RUN".into(), run.into()));
    let (outs, failure) = super::build_aport_outputs_partly(cx, arch, aports, &s)?;
    if let Some(msg) = failure {
        // With --keep-going the packages that were built are still compared; the run
        // fails at the end (see `verify`'s caller).
        if !cx.engine.keep_going {
            anyhow::bail!("{msg}");
        }
        failures.push(format!("{run} build: {msg}"));
    }
    let mut m = BTreeMap::new();
    for dir in outs {
        for e in std::fs::read_dir(&dir)?.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.ends_with(".apk") {
                m.insert(n, e.path());
            }
        }
    }
    Ok(m)
}

/// The aports' checkouts again under `dest`: each git work tree that holds one of
/// `aports` (its tracked and untracked files and its `.git`, hard-linked where the file
/// system allows; an aport outside git alone), and the aports' paths in the copies.
fn copy_checkouts(aports: &[PathBuf], dest: &Path) -> Result<Vec<PathBuf>> {
    let mut tops: BTreeMap<PathBuf, PathBuf> = BTreeMap::new();
    let mut out = Vec::new();
    for a in aports {
        let a = std::fs::canonicalize(a).with_context(|| a.display().to_string())?;
        // Outside git, the aport directory alone is copied.
        let (top, in_git) = match crate::stages::packages::aport::git_toplevel(&a) {
            Ok(t) => (t, true),
            Err(_) => (a.clone(), false),
        };
        let n = tops.len();
        let copy = match tops.get(&top) {
            Some(c) => c.clone(),
            None => {
                let c = dest.join(format!("{n}"));
                if in_git {
                    crate::stages::packages::aport::copy_work_tree(&top, &c)?;
                } else {
                    crate::fsutil::copy_tree(&top, &c)?;
                }
                tops.insert(top.clone(), c.clone());
                c
            }
        };
        out.push(copy.join(a.strip_prefix(&top).expect("under its top level")));
    }
    Ok(out)
}

/// A context like `cx` whose cache directory is `dir` (new), with `cx`'s
/// signing key, shared sources and every finished step that is not a package linked in.
fn other_cache(cx: &Context, dir: &Path) -> Result<Context> {
    let from = &cx.layout.cache;
    for sub in ["keys", "distfiles"] {
        if from.join(sub).is_dir() {
            crate::fsutil::copy_tree(&from.join(sub), &dir.join(sub))?;
        }
    }
    let store = cx.layout.store();
    let to = dir.join("store");
    std::fs::create_dir_all(&to)?;
    for e in std::fs::read_dir(&store).with_context(|| store.display().to_string())? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        // `<key>-<step>`: the packages are what is built again.
        let step = name.split_once('-').map(|(_, s)| s).unwrap_or_default();
        if step.starts_with("pkg-") || !e.file_type()?.is_dir() {
            continue;
        }
        crate::fsutil::copy_tree(&e.path(), &to.join(&name))?;
    }
    Ok(cx.with_cache_dir(dir.to_path_buf()))
}
