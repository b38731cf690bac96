//! Step 5: a package's `.PKGINFO`, from its variables, the recipe and what tracing found.

use std::collections::BTreeSet;

use alpinist_apk::pkginfo::PkgInfo;

use crate::stages::packages::order::dep_name;
use crate::stages::packages::package::{Package, Packaging};

/// The `.PKGINFO` of `p`, with the traced `auto_provides` and `auto_depends`.
pub(crate) fn pkginfo(
    pk: &Packaging,
    p: &Package,
    auto_provides: BTreeSet<String>,
    auto_depends: Vec<String>,
) -> PkgInfo {
    let r = pk.recipe();
    let v = &p.vars;
    PkgInfo {
        generator: Some(format!("alpinist {}", env!("CARGO_PKG_VERSION"))),
        pkgname: p.name.clone(),
        pkgver: r.full_version(),
        pkgdesc: v.get("pkgdesc").to_string(),
        url: v.get("url").to_string(),
        builddate: pk.build.aport.source_date_epoch,
        packager: "alpinist".into(),
        arch: p.arch.clone(),
        origin: r.pkgname.clone(),
        commit: Some(pk.build.aport.commit.clone()),
        maintainer: r.maintainer.clone(),
        replaces_priority: v.get("replaces_priority").parse().ok(),
        provider_priority: v.get("provider_priority").parse().ok(),
        license: v
            .get("license")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
        replaces: v.words("replaces"),
        depends: depends(pk, p),
        provides: v.words("provides"),
        triggers: r.triggers_of(&p.name),
        install_if: v.words("install_if"),
        auto_provides: auto_provides.into_iter().collect(),
        auto_depends,
        ..PkgInfo::default()
    }
}

/// Its `depends`, without itself, and `/bin/sh` when an install script is a shell
/// script (as abuild adds it; busybox, which has the shell, aside).
fn depends(pk: &Packaging, p: &Package) -> Vec<String> {
    let mut depends: Vec<String> = p
        .vars
        .words("depends")
        .into_iter()
        .filter(|d| dep_name(d) != p.name)
        .collect();
    let needs_sh = pk.recipe().scripts_of(&p.name).iter().any(|(_, f)| {
        std::fs::read_to_string(pk.startdir.join(f))
            .map(|t| {
                t.lines()
                    .next()
                    .is_some_and(|l| l.trim_start_matches("#!").trim().starts_with("/bin/sh"))
            })
            .unwrap_or(false)
    });
    if needs_sh && p.name != "busybox" && !depends.iter().any(|d| d == "busybox" || d == "/bin/sh")
    {
        depends.push("/bin/sh".into());
    }
    depends
}
