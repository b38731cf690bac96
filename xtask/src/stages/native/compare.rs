//! Two `.apk` files of one package compared as abuild's native build is the judge of the
//! cross build: the members (type, mode, owner, link target, content), the `.PKGINFO`
//! fields that describe the package (not when, by whom or from which commit it was
//! built), and for ELF files whose bytes differ, the properties that decide how they
//! load and run: program headers, dynamic tags, sections, hardening.

use std::collections::BTreeMap;
use std::io::Read;

use alpinist_apk::package::Package;
use anyhow::{Context as _, Result};
use goblin::elf::dynamic::{DF_1_PIE, DF_BIND_NOW, DT_BIND_NOW, DT_FLAGS, DT_FLAGS_1, DT_TEXTREL};
use goblin::elf::program_header::{PF_R, PF_W, PF_X, PT_GNU_RELRO, PT_GNU_STACK};
use goblin::elf::Elf;
use serde::Serialize;

/// `DT_RELR` (packed relative relocations, `-z pack-relative-relocs`): the ELF gABI's
/// value, which goblin does not name.
const DT_RELR: u64 = 36;

/// `.PKGINFO` fields that say when, where and by whom a package was built, not what it is.
const BUILD_FIELDS: &[&str] = &["builddate", "packager", "commit", "datahash", "size"];

/// One difference between the cross-built and the natively built package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    pub package: String,
    /// `member` (presence, type, mode, owner, link), `content`, `pkginfo` or `elf`.
    pub kind: String,
    /// The member's path, the `.PKGINFO` field, or `<path> <property>`.
    pub key: String,
    pub cross: String,
    pub native: String,
}

/// One data member as the comparison sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Member {
    kind: char,
    mode: u32,
    owner: String,
    link: String,
    /// Regular files: their bytes.
    data: Vec<u8>,
}

/// The differences between `cross` and `native`, two `.apk` files of package `name`;
/// whether their regular files' bytes are all the same is in the result's `content` kind.
pub fn compare(name: &str, cross: &[u8], native: &[u8]) -> Result<Vec<Difference>> {
    let pc = Package::parse(cross).with_context(|| format!("{name}: the cross-built package"))?;
    let pn = Package::parse(native).with_context(|| format!("{name}: the native package"))?;
    let mut out = Vec::new();
    let mut diff = |kind: &str, key: String, c: String, n: String| {
        out.push(Difference {
            package: name.to_string(),
            kind: kind.into(),
            key,
            cross: c,
            native: n,
        })
    };
    let (fc, fn_) = (
        pkginfo_fields(&pc.pkginfo_raw),
        pkginfo_fields(&pn.pkginfo_raw),
    );
    for k in fc
        .keys()
        .chain(fn_.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        let (a, b) = (
            fc.get(k).cloned().unwrap_or_default(),
            fn_.get(k).cloned().unwrap_or_default(),
        );
        if a != b {
            diff("pkginfo", k.clone(), a.join(" "), b.join(" "));
        }
    }
    if pc.scripts != pn.scripts {
        let names = |p: &Package| {
            p.scripts
                .iter()
                .map(|(k, _)| format!("{k:?}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        diff("member", "install scripts".into(), names(&pc), names(&pn));
    }
    let (mc, mn) = (members(cross, &pc)?, members(native, &pn)?);
    for path in mc
        .keys()
        .chain(mn.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        match (mc.get(path), mn.get(path)) {
            (Some(_), None) => diff("member", path.clone(), "present".into(), "absent".into()),
            (None, Some(_)) => diff("member", path.clone(), "absent".into(), "present".into()),
            (Some(a), Some(b)) => {
                for (what, x, y) in [
                    ("type", a.kind.to_string(), b.kind.to_string()),
                    ("mode", format!("{:o}", a.mode), format!("{:o}", b.mode)),
                    ("owner", a.owner.clone(), b.owner.clone()),
                    ("link", a.link.clone(), b.link.clone()),
                ] {
                    if x != y {
                        diff("member", format!("{path} {what}"), x, y);
                    }
                }
                if a.data != b.data {
                    let (ea, eb) = (elf_properties(&a.data), elf_properties(&b.data));
                    let mut any = false;
                    for k in ea
                        .keys()
                        .chain(eb.keys())
                        .collect::<std::collections::BTreeSet<_>>()
                    {
                        let (x, y) = (
                            ea.get(k).cloned().unwrap_or_default(),
                            eb.get(k).cloned().unwrap_or_default(),
                        );
                        if x != y {
                            any = true;
                            diff("elf", format!("{path} {k}"), x, y);
                        }
                    }
                    let sizes = format!("{} bytes", a.data.len());
                    let what = if ea.is_empty() || any {
                        "bytes differ"
                    } else {
                        "bytes differ, ELF properties the same"
                    };
                    diff(
                        "content",
                        path.clone(),
                        format!("{sizes} ({what})"),
                        format!("{} bytes", b.data.len()),
                    );
                }
            }
            (None, None) => {}
        }
    }
    Ok(out)
}

/// `.PKGINFO` as field → values in order, without comments and build-time fields.
fn pkginfo_fields(raw: &[u8]) -> BTreeMap<String, Vec<String>> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in String::from_utf8_lossy(raw).lines() {
        if line.starts_with('#') {
            continue;
        }
        if let Some((k, v)) = line.split_once(" = ") {
            if !BUILD_FIELDS.contains(&k) {
                m.entry(k.to_string()).or_default().push(v.to_string());
            }
        }
    }
    m
}

/// Every data member of a package with its bytes (regular files).
fn members(bytes: &[u8], p: &Package) -> Result<BTreeMap<String, Member>> {
    let gz = flate2::read::MultiGzDecoder::new(&bytes[p.data_range.clone()]);
    let mut ar = tar::Archive::new(gz);
    let mut out = BTreeMap::new();
    for e in ar.entries()? {
        let mut e = e?;
        let path = e
            .path()?
            .to_string_lossy()
            .trim_end_matches('/')
            .to_string();
        if path.starts_with('.') {
            continue;
        }
        let h = e.header();
        let kind = match h.entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => 'f',
            tar::EntryType::Directory => 'd',
            tar::EntryType::Symlink => 'l',
            tar::EntryType::Link => 'h',
            _ => '?',
        };
        let owner = format!(
            "{}:{}",
            h.username().ok().flatten().unwrap_or_default(),
            h.groupname().ok().flatten().unwrap_or_default()
        );
        let mode = h.mode()? & 0o7777;
        let link = e
            .link_name()?
            .map(|l| l.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut data = Vec::new();
        if kind == 'f' {
            e.read_to_end(&mut data)?;
        }
        out.insert(
            path,
            Member {
                kind,
                mode,
                owner,
                link,
                data,
            },
        );
    }
    Ok(out)
}

/// What decides how an ELF file loads and runs; empty for anything else.
pub fn elf_properties(bytes: &[u8]) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    let Ok(elf) = Elf::parse(bytes) else {
        return m;
    };
    m.insert("type".into(), format!("{}", elf.header.e_type));
    m.insert("machine".into(), format!("{}", elf.header.e_machine));
    m.insert(
        "interpreter".into(),
        elf.interpreter.unwrap_or("-").to_string(),
    );
    let flags = |f: u32| {
        format!(
            "{}{}{}",
            if f & PF_R != 0 { "R" } else { "-" },
            if f & PF_W != 0 { "W" } else { "-" },
            if f & PF_X != 0 { "X" } else { "-" }
        )
    };
    let phdrs: Vec<String> = elf
        .program_headers
        .iter()
        .map(|ph| {
            format!(
                "{}:{}",
                goblin::elf::program_header::pt_to_str(ph.p_type),
                flags(ph.p_flags)
            )
        })
        .collect();
    m.insert("program headers".into(), phdrs.join(" "));
    let sections: Vec<&str> = elf
        .section_headers
        .iter()
        .filter_map(|s| elf.shdr_strtab.get_at(s.sh_name))
        .filter(|n| !n.is_empty())
        .collect();
    m.insert("sections".into(), sections.join(" "));
    m.insert("needed".into(), elf.libraries.join(" "));
    m.insert("soname".into(), elf.soname.unwrap_or("-").to_string());
    let mut rpath: Vec<&str> = elf.rpaths.clone();
    rpath.extend(elf.runpaths.iter());
    m.insert("rpath".into(), rpath.join(":"));
    let (mut relr, mut bind_now, mut textrel, mut pie_flag) = (false, false, false, false);
    if let Some(d) = &elf.dynamic {
        for dy in &d.dyns {
            match dy.d_tag {
                DT_RELR => relr = true,
                DT_BIND_NOW => bind_now = true,
                DT_TEXTREL => textrel = true,
                DT_FLAGS => {
                    bind_now |= dy.d_val & DF_BIND_NOW != 0;
                }
                DT_FLAGS_1 => {
                    bind_now |= dy.d_val & goblin::elf::dynamic::DF_1_NOW != 0;
                    pie_flag |= dy.d_val & DF_1_PIE != 0;
                }
                _ => {}
            }
        }
    }
    let has = |t: u32| elf.program_headers.iter().any(|p| p.p_type == t);
    let stack_x = elf
        .program_headers
        .iter()
        .find(|p| p.p_type == PT_GNU_STACK)
        .is_some_and(|p| p.p_flags & PF_X != 0);
    let imports: Vec<&str> = elf
        .dynsyms
        .iter()
        .filter(|s| s.is_import())
        .filter_map(|s| elf.dynstrtab.get_at(s.st_name))
        .collect();
    let hardening = [
        ("relr", relr),
        ("bind-now", bind_now),
        ("relro", has(PT_GNU_RELRO)),
        ("pie", pie_flag),
        ("exec-stack", stack_x),
        ("textrel", textrel),
        ("stack-protector", imports.contains(&"__stack_chk_fail")),
        (
            "fortify",
            imports
                .iter()
                .any(|s| s.ends_with("_chk") && *s != "__stack_chk_fail"),
        ),
    ];
    let on: Vec<&str> = hardening
        .iter()
        .filter(|(_, b)| *b)
        .map(|(n, _)| *n)
        .collect();
    m.insert("hardening".into(), on.join(" "));
    m
}

#[cfg(test)]
mod tests {
    use alpinist_apk::package::PackageBuilder;
    use alpinist_apk::pkginfo::PkgInfo;
    use alpinist_apk::tarball::{EntryType, Header};

    use super::*;

    /// A package `demo` with the given files (path, mode, bytes) and depends.
    fn apk(files: &[(&str, u32, Vec<u8>)], depends: &[&str], builddate: u64) -> Vec<u8> {
        let info = PkgInfo {
            pkgname: "demo".into(),
            pkgver: "1.0-r0".into(),
            pkgdesc: "demo".into(),
            url: "https://alpinist.invalid".into(),
            builddate,
            packager: "someone".into(),
            arch: "x86_64".into(),
            origin: "demo".into(),
            license: "MIT".into(),
            auto_depends: depends.iter().map(|d| d.to_string()).collect(),
            ..PkgInfo::default()
        };
        let mut b = PackageBuilder::new(info, 0);
        for d in ["usr", "usr/bin"] {
            let mut dir = Header::new(d, EntryType::Directory);
            dir.mode = 0o755;
            b.push_entry(dir, Vec::new());
        }
        for (path, mode, data) in files {
            let mut h = Header::new(*path, EntryType::Regular);
            h.mode = *mode;
            h.size = data.len() as u64;
            b.push_entry(h, data.clone());
        }
        b.build(None).unwrap()
    }

    fn host_elf(path: &str) -> Vec<u8> {
        std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn the_same_package_built_at_another_time_is_identical() {
        let f = vec![("usr/bin/demo", 0o755, b"#!/bin/sh\n".to_vec())];
        let a = apk(&f, &["so:libc.musl-x86_64.so.1"], 1);
        let b = apk(&f, &["so:libc.musl-x86_64.so.1"], 2);
        assert_eq!(compare("demo", &a, &b).unwrap(), []);
    }

    #[test]
    fn members_fields_and_elf_properties_are_named() {
        let t = host_elf("/bin/true");
        let f = host_elf("/bin/false");
        let cross = apk(
            &[
                ("usr/bin/a", 0o755, t.clone()),
                ("usr/bin/b", 0o755, t.clone()),
                ("usr/bin/only-cross", 0o644, b"x".to_vec()),
            ],
            &["libmagic"],
            1,
        );
        let native = apk(
            &[("usr/bin/a", 0o700, t.clone()), ("usr/bin/b", 0o755, f)],
            &["so:libmagic.so.1"],
            2,
        );
        let d = compare("demo", &cross, &native).unwrap();
        let keys: Vec<(&str, &str)> = d
            .iter()
            .map(|d| (d.kind.as_str(), d.key.as_str()))
            .collect();
        assert!(keys.contains(&("pkginfo", "depend")), "{d:#?}");
        assert!(keys.contains(&("member", "usr/bin/a mode")), "{d:#?}");
        assert!(keys.contains(&("member", "usr/bin/only-cross")), "{d:#?}");
        assert!(keys.contains(&("content", "usr/bin/b")), "{d:#?}");
        let dep = d.iter().find(|d| d.key == "depend").unwrap();
        assert_eq!(
            (dep.cross.as_str(), dep.native.as_str()),
            ("libmagic", "so:libmagic.so.1")
        );
        // builddate and packager are not what the package is.
        assert!(!keys.iter().any(|(_, k)| *k == "builddate"), "{d:#?}");
    }

    #[test]
    fn elf_properties_say_relr_bind_now_and_the_rest() {
        let p = elf_properties(&host_elf("/bin/true"));
        assert!(p["program headers"].contains("LOAD:R-X"), "{p:#?}");
        assert!(p["sections"].contains(".text"), "{p:#?}");
        assert!(p["hardening"].contains("relro"), "{p:#?}");
        assert!(p["needed"].contains("libc.so.6"), "{p:#?}");
        let lib = std::fs::canonicalize("/lib/x86_64-linux-gnu/libc.so.6")
            .or_else(|_| std::fs::canonicalize("/usr/lib/x86_64-linux-gnu/libc.so.6"));
        if let Ok(lib) = lib {
            let l = elf_properties(&std::fs::read(lib).unwrap());
            assert_eq!(l["soname"], "libc.so.6");
        }
        assert!(elf_properties(b"#!/bin/sh\n").is_empty());
    }
}
