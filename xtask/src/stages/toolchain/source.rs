//! A component's source for a toolchain step: fetched through the verified resolver,
//! unpacked into the work tree, patched (`patches/<component>/<version>/`).

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use crate::context::Context;
use crate::engine::{InputKind, Inputs, StepRun};
use crate::exec::Cmd;

/// Patches are inputs whether or not the substitute is used: the key must be known
/// before the source is resolved. `sets` are the arch's extra patch sets.
pub(crate) fn patch_inputs(
    cx: &Context,
    inputs: &mut Inputs,
    component: &str,
    version: &str,
    sets: &[String],
) -> Result<()> {
    let mut all = Vec::new();
    for dir in [version.to_string(), format!("{version}-substitute")] {
        all.extend(patches(cx, component, &dir)?);
    }
    for set in sets {
        all.extend(patch_set(cx, component, version, set)?);
    }
    for p in all {
        inputs.file(InputKind::Patch, &cx.layout.repo, &p)?;
    }
    Ok(())
}

/// `patches/<component>/<dir>/*.patch`, in name order. `<dir>` is the version, or
/// `<version>-substitute` for patches that only the documented substitute source needs.
pub(crate) fn patches(cx: &Context, component: &str, version: &str) -> Result<Vec<PathBuf>> {
    let dir = cx.layout.patches().join(component).join(version);
    let mut v = Vec::new();
    if let Ok(rd) = std::fs::read_dir(&dir) {
        for e in rd {
            let p = e?.path();
            if p.extension().and_then(|x| x.to_str()) == Some("patch") {
                v.push(p);
            }
        }
    }
    v.sort();
    Ok(v)
}

/// An arch's extra patch set, `patches/<component>/<version>/<set>/*.patch`; a set named
/// in an arch file must exist and hold patches.
pub(crate) fn patch_set(
    cx: &Context,
    component: &str,
    version: &str,
    set: &str,
) -> Result<Vec<PathBuf>> {
    let v = patches(cx, component, &format!("{version}/{set}"))?;
    if v.is_empty() {
        bail!(
            "patch set {set:?} for {component} {version} has no patches: expected {}/*.patch",
            cx.layout
                .patches()
                .join(component)
                .join(version)
                .join(set)
                .display()
        );
    }
    Ok(v)
}

/// Fetches and unpacks a component's source into `run.work`; applies its patches.
pub(crate) fn unpack(
    cx: &Context,
    run: &mut StepRun,
    component: &str,
    members: &[&str],
    patch_sets: &[String],
) -> Result<PathBuf> {
    let comp = cx.components.get(component)?;
    run.log
        .status(&format!("fetching {component} {}", comp.version));
    let say = |m: &str| {
        let _ = run.log.line(m);
    };
    let resolved = cx.resolver(&say).resolve(&comp.source)?;
    if resolved.substitute {
        let why = comp
            .source
            .substitute
            .as_ref()
            .map(|s| s.why.clone())
            .unwrap_or_default();
        run.notes.push(format!(
            "{component}: used the documented substitute {} from {} ({why})",
            resolved.path.display(),
            resolved.origin
        ));
    }
    run.log.status(&format!("unpacking {component}"));
    let dest = run.work.join(format!("src-{component}"));
    std::fs::create_dir_all(&dest)?;
    run.log.run(
        &Cmd::new("tar")
            .arg("-xf")
            .arg(&resolved.path)
            .arg("-C")
            .arg(&dest)
            .args(members),
    )?;
    let top = single_subdir(&dest)?;
    let mut to_apply = patches(cx, component, &comp.version)?;
    if resolved.substitute {
        to_apply.extend(patches(
            cx,
            component,
            &format!("{}-substitute", comp.version),
        )?);
    }
    for set in patch_sets {
        to_apply.extend(patch_set(cx, component, &comp.version, set)?);
    }
    for p in to_apply {
        run.log
            .status(&format!("patching {component}: {}", p.display()));
        run.log.run(
            &Cmd::new("patch")
                .args(["-p1", "-N", "-i"])
                .arg(&p)
                .dir(&top),
        )?;
    }
    Ok(top)
}

fn single_subdir(dir: &Path) -> Result<PathBuf> {
    let mut subdirs = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.path());
    match (subdirs.next(), subdirs.next()) {
        (Some(d), None) => Ok(d),
        _ => bail!(
            "{} should hold exactly one directory after unpacking",
            dir.display()
        ),
    }
}
