//! `cargo xtask image`: OCI images (layout directory and oci-archive) of the arches'
//! minirootfs tarballs, with a multi-arch index; optionally checked with podman.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::context::Context;
use crate::stages::image::{self, Layer};
use crate::stages::rootfs::Profile;

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
}

pub fn run(cx: &Context, a: ImageArgs) -> Result<()> {
    let mut layers = Vec::new();
    for name in &a.arches {
        let arch = cx.arches.get(name)?;
        let tarball = Profile::Minirootfs.newest_tarball(cx, arch)?;
        layers.push(Layer::from_tarball(arch, &tarball)?);
    }
    let out = a.out.unwrap_or_else(|| cx.layout.build.join("images"));
    std::fs::create_dir_all(&out)?;
    let img = image::write(&layers, &out, &image::name(&layers), image::created())?;
    println!("image layout: {}", img.layout.display());
    println!("oci-archive:  {}", img.archive.display());
    println!("index digest: {}", img.index_digest);
    for (arch, digest) in &img.manifests {
        println!("  {arch:12} {digest}");
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
