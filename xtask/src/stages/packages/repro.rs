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
                        why.push(format!("data: /{p} content differs"));
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

/// Builds `aports` twice (the second time with a different key input, so different work
/// directories and a later time) and compares every package.
pub fn verify(
    cx: &Context,
    arch: &str,
    aports: &[PathBuf],
    settings: &BuildSettings,
) -> Result<Vec<Difference>> {
    let first = build_set(cx, arch, aports, settings, "first")?;
    let second = build_set(cx, arch, aports, settings, "second")?;
    let mut out = Vec::new();
    for (name, a) in &first {
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
) -> Result<BTreeMap<String, PathBuf>> {
    let mut s = settings.clone();
    // Part of the key only: a separate output and build directory for each run.
    s.env.push(("ALPINIST_REPRO_RUN".into(), run.into()));
    let outs = super::build_aport_outputs(cx, arch, aports, &s)?;
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
