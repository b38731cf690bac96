//! `cargo xtask image`: OCI images (layout directory and oci-archive) of the arches'
//! minirootfs tarballs, with a multi-arch index; optionally checked with podman.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::config::stages::Stages;
use crate::context::Context;
use crate::stages::image::{self, Layer};
use crate::stages::packages::sbom;
use crate::stages::rootfs::{local_arch_dirs, Profile};

#[derive(Args)]
pub struct ImageArgs {
    /// Arches to put in the image index (comma-separated or repeated); each needs a
    /// minirootfs from `cargo xtask bootstrap` or `rootfs`
    #[arg(
        long = "arch",
        value_name = "ARCH",
        value_delimiter = ',',
        required = true
    )]
    pub arches: Vec<String>,
    /// Directory for the image layout and the .oci.tar [default: build/images]
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Load each arch's image into podman and run `apk --version` and
    /// `cat /etc/alpine-release` in it
    #[arg(long)]
    pub check: bool,
    /// The set of stages/bootstrap.toml whose repositories hold the packages (for the SBOMs)
    #[arg(long, default_value = "base")]
    pub set: String,
}

pub fn run(cx: &mut Context, a: ImageArgs) -> Result<()> {
    cx.use_repodest(Stages::load(&cx.layout)?.set(&a.set)?);
    let cx = &*cx;
    let mut layers = Vec::new();
    for name in &a.arches {
        let arch = cx.arches.get(name)?;
        let tarball = Profile::Minirootfs.newest_tarball(cx, arch)?;
        layers.push(Layer::from_tarball(arch, &tarball)?);
    }
    let out = a.out.unwrap_or_else(|| cx.layout.build.join("images"));
    std::fs::create_dir_all(&out)?;
    let img = image::write(
        &layers,
        &out,
        &image::name(&layers),
        crate::stages::packages::output_epoch(),
    )?;
    println!("image layout: {}", img.layout.display());
    println!("oci-archive:  {}", img.archive.display());
    println!("index digest: {}", img.index_digest);
    for (arch, digest) in &img.manifests {
        println!("  {arch:12} {digest}");
    }
    // One SBOM per arch's root filesystem, beside the archive.
    for l in &layers {
        let repos = local_arch_dirs(cx, &l.arch)?;
        let out_file = out.join(format!(
            "{}-{}{}",
            image::name(&layers),
            l.arch.name,
            sbom::SUFFIX
        ));
        match sbom::for_tarball(
            &l.tarball,
            &l.arch.name,
            &repos,
            crate::stages::packages::output_epoch(),
        ) {
            Ok(doc) => {
                std::fs::write(&out_file, serde_json::to_vec_pretty(&doc)?)?;
                println!("SBOM ({}):  {}", l.arch.name, out_file.display());
            }
            Err(e) => eprintln!("warning: no SBOM for the {} image: {e:#}", l.arch.name),
        }
    }
    if a.check {
        for l in &layers {
            let c = image::check_with_podman(&img, &l.arch)?;
            println!(
                "podman run ({}): {}",
                c.arch,
                c.output.trim().replace('\n', " | ")
            );
        }
    }
    Ok(())
}
