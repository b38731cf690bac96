//! Stage 3 of a bootstrap: the root filesystem and verify-rootfs, then, for a set with
//! one, the build root and the self-hosting check; each only when what it installs was
//! built. After the minirootfs: its SBOM and its OCI image.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::stages::bootstrap::{selfhost, Run, Times};
use crate::stages::image::Layer;
use crate::stages::packages::sbom;
use crate::stages::rootfs::selfhost::CheckStep;
use crate::stages::rootfs::{self, Profile};

/// What stage 3 made and found.
#[derive(Default)]
pub struct Stage3 {
    pub tarball: Option<PathBuf>,
    /// Whether verify-rootfs passed (absent: not run).
    pub verified: Option<bool>,
    pub buildroot: Option<PathBuf>,
    pub selfhost_steps: Option<Vec<CheckStep>>,
    /// The root filesystem's SBOM (beside the tarball).
    pub sbom: Option<PathBuf>,
    /// The OCI image, and what podman printed when it ran it.
    pub image: Option<ImageRecord>,
    /// The first thing that went wrong.
    pub error: Option<String>,
}

/// The root filesystem and its check, then the build root and the self-hosting check
/// (for a set with one); nothing with `--no-rootfs`.
pub fn run(r: &Run, built: &BTreeSet<String>, times: &mut Times) -> Stage3 {
    let mut s = Stage3::default();
    if !r.o.rootfs {
        return s;
    }
    minirootfs(r, built, times, &mut s);
    if s.verified != Some(false) {
        if let Some(tb) = s.tarball.clone() {
            image(r, &tb, times, &mut s);
        }
    }
    if !r.set.buildroot.is_empty() {
        buildroot(r, built, times, &mut s);
    }
    s
}

/// The minirootfs and verify-rootfs.
fn minirootfs(r: &Run, built: &BTreeSet<String>, times: &mut Times, s: &mut Stage3) {
    let (cx, arch, set) = (r.cx, r.arch, r.set);
    let missing: Vec<&str> = set
        .rootfs
        .iter()
        .filter(|p| !built.contains(*p))
        .map(|p| p.as_str())
        .collect();
    if !missing.is_empty() {
        s.error = Some(format!(
            "root filesystem not made: {} not built",
            missing.join(", ")
        ));
        return;
    }
    let t = Instant::now();
    match rootfs::rootfs(cx, arch, &set.rootfs, Profile::Minirootfs) {
        Ok(p) => s.tarball = Some(p),
        Err(e) => s.error = Some(format!("rootfs: {e:#}")),
    }
    times.insert("rootfs", t.elapsed().as_secs_f64());
    if let (Some(tb), true) = (&s.tarball, r.o.verify) {
        let t = Instant::now();
        let v = rootfs::verify(cx, arch, Some(tb.clone()));
        s.verified = Some(v.is_ok());
        if let Err(e) = v {
            s.error = Some(format!("verify-rootfs: {e:#}"));
        }
        times.insert("verify-rootfs", t.elapsed().as_secs_f64());
    }
}

/// The OCI image of a bootstrap's root filesystem, for the report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImageRecord {
    pub archive: PathBuf,
    pub index_digest: String,
    /// `apk --version` and `cat /etc/alpine-release` as podman ran them (absent: podman
    /// is not installed).
    pub podman: Option<String>,
}

/// The root filesystem's SBOM, then (unless --no-image; by default where podman or
/// skopeo is installed) its OCI image, run with podman where it is installed.
fn image(r: &Run, tarball: &Path, times: &mut Times, s: &mut Stage3) {
    let (cx, arch) = (r.cx, r.arch);
    let t = Instant::now();
    let repos = match rootfs::local_arch_dirs(cx, arch) {
        Ok(v) => v,
        Err(e) => {
            s.error = Some(format!("sbom: {e:#}"));
            return;
        }
    };
    let created = crate::stages::packages::output_epoch();
    match sbom::for_tarball(tarball, &arch.name, &repos, created) {
        Ok(doc) => {
            let out = sbom::beside(tarball);
            match serde_json::to_vec_pretty(&doc).map(|b| std::fs::write(&out, b)) {
                Ok(Ok(())) => s.sbom = Some(out),
                _ => s.error = Some(format!("sbom: writing {}", out.display())),
            }
        }
        Err(e) => s.error = Some(format!("sbom: {e:#}")),
    }
    let podman = crate::host::on_path("podman");
    let wanted =
        r.o.image
            .unwrap_or(podman || crate::host::on_path("skopeo"));
    if !wanted {
        return;
    }
    let made = Layer::from_tarball(arch, tarball).and_then(|l| {
        let layers = [l];
        let out = cx.layout.build.join("images");
        std::fs::create_dir_all(&out)?;
        crate::stages::image::write(&layers, &out, &crate::stages::image::name(&layers), created)
    });
    let img = match made {
        Ok(i) => i,
        Err(e) => {
            s.error = Some(format!("image: {e:#}"));
            return;
        }
    };
    eprintln!("image: {} ({})", img.archive.display(), img.index_digest);
    let mut rec = ImageRecord {
        archive: img.archive.clone(),
        index_digest: img.index_digest.clone(),
        podman: None,
    };
    if podman {
        match crate::stages::image::check_with_podman(&img, arch) {
            Ok(c) => {
                eprintln!("ok   podman run: {}", c.output.trim().replace('\n', " | "));
                rec.podman = Some(c.output);
            }
            Err(e) => s.error = Some(format!("image: {e:#}")),
        }
    }
    s.image = Some(rec);
    times.insert("image", t.elapsed().as_secs_f64());
}

/// The build root and the self-hosting check.
fn buildroot(r: &Run, built: &BTreeSet<String>, times: &mut Times, s: &mut Stage3) {
    let (cx, arch, set) = (r.cx, r.arch, r.set);
    let missing: Vec<&str> = set
        .buildroot
        .iter()
        .filter(|p| !built.contains(*p))
        .map(|p| p.as_str())
        .collect();
    if !missing.is_empty() {
        s.error.get_or_insert(format!(
            "build root not made: {} not built",
            missing.join(", ")
        ));
        return;
    }
    let t = Instant::now();
    match rootfs::rootfs(cx, arch, &set.buildroot, Profile::Buildroot) {
        Ok(p) => s.buildroot = Some(p),
        Err(e) => {
            s.error.get_or_insert(format!("build root: {e:#}"));
        }
    }
    times.insert("buildroot", t.elapsed().as_secs_f64());
    let (Some(tb), true) = (&s.buildroot, r.o.verify) else {
        return;
    };
    let t = Instant::now();
    eprintln!("\nself-hosting check in {}", tb.display());
    match selfhost(cx, arch, r.stages, r.checkout, Some(tb.clone())) {
        Ok(steps) => {
            if steps.iter().any(|s| !s.ok) {
                s.error
                    .get_or_insert("the self-hosting check failed".into());
            }
            s.selfhost_steps = Some(steps);
        }
        Err(e) => {
            s.error.get_or_insert(format!("self-hosting check: {e:#}"));
        }
    }
    times.insert("selfhost", t.elapsed().as_secs_f64());
}
