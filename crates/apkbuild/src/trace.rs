//! Dependency tracing, as abuild does after `package()`: sonames provided and needed
//! (from ELF files), pkg-config provides and requirements, and `cmd:` provides.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use goblin::elf::dynamic::{DF_TEXTREL, DT_FLAGS, DT_TEXTREL};
use goblin::elf::header::{ET_DYN, ET_EXEC};
use goblin::elf::Elf;

/// What one ELF file in a package says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfFile {
    /// Path relative to the package directory (`usr/lib/libfoo.so.1.2.3`).
    pub path: String,
    pub etype: u16,
    pub machine: u16,
    pub soname: Option<String>,
    pub needed: Vec<String>,
    pub rpaths: Vec<String>,
    pub textrel: bool,
    pub interpreter: Option<String>,
    /// `EI_OSABI` (255, `STANDALONE`, is firmware: abuild does not strip it).
    pub osabi: u8,
}

impl ElfFile {
    pub fn is_exec_or_dyn(&self) -> bool {
        self.etype == ET_DYN || self.etype == ET_EXEC
    }
}

fn walk(dir: &Path, rel: &str, out: &mut Vec<(String, PathBuf)>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = rd.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let r = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            walk(&e.path(), &r, out);
        } else if ft.is_file() {
            out.push((r, e.path()));
        }
    }
}

/// Every regular file under `dir`, relative, sorted.
pub fn files(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut v = Vec::new();
    walk(dir, "", &mut v);
    v
}

/// Parses every ELF file under `pkgdir`.
pub fn scan_elf(pkgdir: &Path) -> Vec<ElfFile> {
    let mut out = Vec::new();
    for (rel, full) in files(pkgdir) {
        let Ok(bytes) = std::fs::read(&full) else {
            continue;
        };
        if bytes.len() < 4 || &bytes[..4] != b"\x7fELF" {
            continue;
        }
        let Ok(elf) = Elf::parse(&bytes) else {
            continue;
        };
        let mut textrel = false;
        if let Some(d) = &elf.dynamic {
            for dy in &d.dyns {
                if dy.d_tag == DT_TEXTREL || (dy.d_tag == DT_FLAGS && dy.d_val & DF_TEXTREL != 0) {
                    textrel = true;
                }
            }
        }
        let mut rpaths: Vec<String> = elf.rpaths.iter().map(|s| s.to_string()).collect();
        rpaths.extend(elf.runpaths.iter().map(|s| s.to_string()));
        out.push(ElfFile {
            path: rel,
            etype: elf.header.e_type,
            machine: elf.header.e_machine,
            soname: elf.soname.map(|s| s.to_string()),
            needed: elf.libraries.iter().map(|s| s.to_string()).collect(),
            rpaths: rpaths
                .iter()
                .flat_map(|r| r.split(':').map(|s| s.to_string()).collect::<Vec<_>>())
                .filter(|s| !s.is_empty())
                .collect(),
            textrel,
            interpreter: elf.interpreter.map(|s| s.to_string()),
            osabi: elf.header.e_ident[goblin::elf::header::EI_OSABI],
        });
    }
    out
}

/// `so:` provides: (soname, version) for libraries in `lib`, `usr/lib`, `ldpath` dirs and
/// rpath dirs (non-recursive unless `recursive`). The version is what follows `.so.` in
/// the file name, or `0`.
pub fn so_provides(
    elves: &[ElfFile],
    extra_dirs: &[String],
    recursive: bool,
    somask: &[String],
) -> Vec<(String, String)> {
    let mut dirs: Vec<String> = vec!["lib".into(), "usr/lib".into()];
    for d in extra_dirs {
        let d = d.trim_matches('/').to_string();
        if !dirs.contains(&d) {
            dirs.push(d);
        }
    }
    let mut found: BTreeMap<String, String> = BTreeMap::new();
    for e in elves {
        let (parent, file) = match e.path.rsplit_once('/') {
            Some((p, f)) => (p, f),
            None => ("", e.path.as_str()),
        };
        let in_dir = dirs
            .iter()
            .any(|d| parent == d || (recursive && parent.starts_with(&format!("{d}/"))));
        if !in_dir || e.etype != ET_DYN {
            continue;
        }
        if e.path.starts_with("usr/lib/debug/") {
            continue;
        }
        let soname = e.soname.clone().unwrap_or_else(|| file.to_string());
        let looks = soname.ends_with(".so") || soname.contains(".so.") || soname.ends_with(".c32");
        if !looks || soname.ends_with(".o") || somask.contains(&soname) {
            continue;
        }
        let ver = match file.split_once(".so.") {
            Some((_, v)) if !v.is_empty() => v.to_string(),
            _ => "0".to_string(),
        };
        let slot = found.entry(soname).or_insert_with(|| ver.clone());
        if slot == "0" && ver != "0" {
            *slot = ver;
        }
    }
    found.into_iter().collect()
}

/// Sonames needed by the package's programs and libraries, minus its own and masked ones.
pub fn so_needs(elves: &[ElfFile], own: &[(String, String)], somask: &[String]) -> Vec<String> {
    let own: BTreeSet<&str> = own.iter().map(|(s, _)| s.as_str()).collect();
    let mut v: BTreeSet<String> = BTreeSet::new();
    for e in elves.iter().filter(|e| e.is_exec_or_dyn()) {
        for n in &e.needed {
            if !own.contains(n.as_str()) && !somask.contains(n) {
                v.insert(n.clone());
            }
        }
    }
    v.into_iter().collect()
}

/// A pkg-config file's name, version and requirements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcFile {
    pub name: String,
    pub version: String,
    /// `Requires` and `Requires.private`, as `name[op version]` terms.
    pub requires: Vec<String>,
}

/// Reads `usr/lib/pkgconfig/*.pc` and `usr/share/pkgconfig/*.pc`.
pub fn pc_files(pkgdir: &Path) -> Vec<PcFile> {
    let mut out = Vec::new();
    for dir in ["usr/lib/pkgconfig", "usr/share/pkgconfig"] {
        let Ok(rd) = std::fs::read_dir(pkgdir.join(dir)) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            if p.extension().and_then(|e| e.to_str()) != Some("pc") {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&p) else {
                continue;
            };
            let name = p
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("")
                .to_string();
            out.push(parse_pc(&name, &text));
        }
    }
    out
}

/// Parses the fields of a `.pc` file that tracing needs, expanding `${var}`.
pub fn parse_pc(name: &str, text: &str) -> PcFile {
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    let mut version = String::new();
    let mut requires = Vec::new();
    let expand = |s: &str, vars: &BTreeMap<String, String>| {
        let mut out = s.to_string();
        for _ in 0..8 {
            let Some(start) = out.find("${") else { break };
            let Some(end) = out[start..].find('}') else {
                break;
            };
            let key = out[start + 2..start + end].to_string();
            let val = vars.get(&key).cloned().unwrap_or_default();
            out.replace_range(start..start + end + 1, &val);
        }
        out
    };
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            if !k.contains('=') {
                let v = expand(v.trim(), &vars);
                match k.trim() {
                    "Version" => version = v,
                    "Requires" | "Requires.private" => requires.extend(split_requires(&v)),
                    _ => {}
                }
                continue;
            }
        }
        if let Some((k, v)) = line.split_once('=') {
            let v = expand(v.trim(), &vars);
            vars.insert(k.trim().to_string(), v);
        }
    }
    PcFile {
        name: name.to_string(),
        version,
        requires,
    }
}

/// `glib-2.0 >= 2.50, zlib` → [`glib-2.0>=2.50`, `zlib`] with versions made apk-valid.
fn split_requires(v: &str) -> Vec<String> {
    let toks: Vec<&str> = v
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let name = toks[i];
        if i + 2 < toks.len() && ["<", ">", "=", "<=", ">=", "!="].contains(&toks[i + 1]) {
            let op = toks[i + 1];
            let ver = pc_to_apk_ver(toks[i + 2]);
            if op == "!=" {
                out.push(name.to_string());
            } else {
                out.push(format!("{name}{op}{ver}"));
            }
            i += 3;
        } else {
            out.push(name.to_string());
            i += 1;
        }
    }
    out
}

/// abuild's `pc_to_apk_ver`: `1.0-rc1` → `1.0_rc1`, `v2` → `2`, empty → `0`.
pub fn pc_to_apk_ver(v: &str) -> String {
    let mut s = v.trim_start_matches('v').to_string();
    for tag in ["alpha", "beta", "rc", "pre"] {
        for sep in ['.', '-'] {
            let pat = format!("{sep}{tag}");
            if let Some(pos) = s.find(&pat) {
                s.replace_range(pos..pos + 1, "_");
                return if s.is_empty() { "0".into() } else { s };
            }
        }
    }
    if s.is_empty() {
        "0".into()
    } else {
        s
    }
}

/// The rpaths of a package's ELF files as directories inside the package: `$ORIGIN`
/// replaced by the file's own directory (abuild's `.rpaths`), sorted, without the
/// leading `/`.
pub fn rpath_dirs(elves: &[ElfFile]) -> Vec<String> {
    let mut v = BTreeSet::new();
    for e in elves {
        let origin = format!("/{}", e.path.rsplit_once('/').map_or("", |(d, _)| d));
        for r in &e.rpaths {
            let r = r.replace("${ORIGIN}", &origin).replace("$ORIGIN", &origin);
            v.insert(normalize(&r));
        }
    }
    v.into_iter().collect()
}

/// `/a/./b/../c` → `a/c`.
fn normalize(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    parts.join("/")
}

/// `py<ver>:` provides (abuild's `.provides-py`): each `usr/lib/python<ver>/site-packages/X`
/// that is a directory with `__init__.py`, or a file `X.py`; as (ver, X).
pub fn py_provides(pkgdir: &Path) -> Vec<(String, String)> {
    let mut v = BTreeSet::new();
    let Ok(rd) = std::fs::read_dir(pkgdir.join("usr/lib")) else {
        return Vec::new();
    };
    for e in rd.flatten() {
        let dir = e.file_name().to_string_lossy().into_owned();
        let Some(ver) = dir.strip_prefix("python") else {
            continue;
        };
        let Ok(site) = std::fs::read_dir(e.path().join("site-packages")) else {
            continue;
        };
        for m in site.flatten() {
            let n = m.file_name().to_string_lossy().into_owned();
            let p = m.path();
            if p.is_dir() && p.join("__init__.py").is_file() {
                v.insert((ver.to_string(), n));
            } else if p.is_file() {
                if let Some(stem) = n.strip_suffix(".py") {
                    v.insert((ver.to_string(), stem.to_string()));
                }
            }
        }
    }
    v.into_iter().collect()
}

/// abuild's `.needs-python3`: `python3~<ver>` when the package has exactly one
/// `usr/lib/python3*/site-packages` and is not python itself; more than one is an error.
pub fn python3_need(pkgdir: &Path, name: &str) -> Result<Option<String>, String> {
    let Ok(rd) = std::fs::read_dir(pkgdir.join("usr/lib")) else {
        return Ok(None);
    };
    let mut vers: Vec<String> = rd
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            let ver = n.strip_prefix("python")?.to_string();
            (ver.starts_with('3') && e.path().join("site-packages").is_dir()).then_some(ver)
        })
        .collect();
    vers.sort();
    match vers.as_slice() {
        [] => Ok(None),
        [ver] if name == "python3" || name == format!("python{ver}") => Ok(None),
        [ver] => Ok(Some(format!("python3~{ver}"))),
        _ => Err(format!(
            "{name}: more than one usr/lib/python3*/site-packages ({})",
            vers.join(", ")
        )),
    }
}

/// `cmd:` provides: executables and symlinks directly in bin, sbin, usr/bin, usr/sbin.
pub fn cmd_provides(pkgdir: &Path) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    let mut v = BTreeSet::new();
    for dir in ["bin", "sbin", "usr/bin", "usr/sbin"] {
        let Ok(rd) = std::fs::read_dir(pkgdir.join(dir)) else {
            continue;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.contains('@') {
                continue;
            }
            let Ok(md) = std::fs::symlink_metadata(e.path()) else {
                continue;
            };
            let ok = md.file_type().is_symlink()
                || (md.is_file() && md.permissions().mode() & 0o111 != 0);
            if ok {
                v.insert(name);
            }
        }
    }
    v.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pc_versions() {
        assert_eq!(pc_to_apk_ver("1.2.3"), "1.2.3");
        assert_eq!(pc_to_apk_ver("v2.0"), "2.0");
        assert_eq!(pc_to_apk_ver("1.0-rc1"), "1.0_rc1");
        assert_eq!(pc_to_apk_ver(""), "0");
    }

    #[test]
    fn pc_parsing() {
        let pc = parse_pc(
            "foo",
            "prefix=/usr\nversion=1.2.3\nName: foo\nVersion: ${version}\nRequires: zlib >= 1.2, bar\nRequires.private: baz\n",
        );
        assert_eq!(pc.version, "1.2.3");
        assert_eq!(pc.requires, vec!["zlib>=1.2", "bar", "baz"]);
    }
}
