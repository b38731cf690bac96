//! Stage 4: OCI images of the bootstrapped root filesystems.
//!
//! Each arch's minirootfs tarball (`build/<arch>/alpine-minirootfs-<version>-<arch>.tar.gz`)
//! becomes the one layer of an image whose config carries Alpine's defaults (`/bin/sh`,
//! PATH) and the arch's OCI platform from its arch file; an image index lists every arch
//! given. Written as an OCI image layout directory and as an `oci-archive` tarball, both
//! byte-identical when rebuilt from the same root filesystems: blobs are addressed by
//! content, JSON is written by serde in a fixed field order, `created` is
//! SOURCE_DATE_EPOCH, and the archive is a sorted tar with fixed owners, modes and times.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{bail, Context as _, Result};
use oci_spec::image::{
    Arch as OciArch, ConfigBuilder, Descriptor, DescriptorBuilder, Digest, HistoryBuilder,
    ImageConfigurationBuilder, ImageIndexBuilder, ImageManifestBuilder, MediaType, OciLayout, Os,
    PlatformBuilder, RootFsBuilder, ANNOTATION_CREATED, ANNOTATION_REF_NAME, ANNOTATION_VERSION,
};
use sha2::{Digest as _, Sha256};

use crate::config::arch::Arch;

/// PATH in the image config: Alpine's default (its docker images say the same).
pub const PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// One arch's root filesystem, as it goes into the image.
#[derive(Debug, Clone)]
pub struct Layer {
    pub arch: Arch,
    /// The gzip'd tar of the root filesystem.
    pub tarball: PathBuf,
    /// Alpine's version, from the tarball's name.
    pub version: String,
}

impl Layer {
    /// The newest minirootfs of `arch` in `dir` (`build/<arch>/`).
    pub fn from_tarball(arch: &Arch, tarball: &Path) -> Result<Layer> {
        let name = tarball
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let version = name
            .strip_prefix("alpine-minirootfs-")
            .and_then(|r| r.strip_suffix(&format!("-{}.tar.gz", arch.name)))
            .with_context(|| {
                format!(
                    "{}: not named alpine-minirootfs-<version>-{}.tar.gz",
                    tarball.display(),
                    arch.name
                )
            })?
            .to_string();
        Ok(Layer {
            arch: arch.clone(),
            tarball: tarball.to_path_buf(),
            version,
        })
    }
}

/// What [`write`] made.
#[derive(Debug, Clone)]
pub struct Image {
    /// The OCI image layout directory.
    pub layout: PathBuf,
    /// The same as an `oci-archive` tarball.
    pub archive: PathBuf,
    /// The digest of the image index (what `skopeo inspect` shows as the digest).
    pub index_digest: String,
    /// Per arch: (arch, manifest digest).
    pub manifests: Vec<(String, String)>,
}

/// Writes the image layout `out_dir/<name>/` and `out_dir/<name>.oci.tar` for `layers`,
/// `created` being a Unix time (SOURCE_DATE_EPOCH).
pub fn write(layers: &[Layer], out_dir: &Path, name: &str, created: u64) -> Result<Image> {
    if layers.is_empty() {
        bail!("no root filesystem to make an image of");
    }
    let layout = out_dir.join(name);
    if layout.exists() {
        std::fs::remove_dir_all(&layout)
            .with_context(|| format!("removing the old {}", layout.display()))?;
    }
    let blobs = layout.join("blobs/sha256");
    std::fs::create_dir_all(&blobs)?;
    let created_text = crate::stages::packages::sbom::rfc3339(created);
    let mut manifests = Vec::new();
    let mut descriptors = Vec::new();
    for l in layers {
        let (desc, digest) = write_one(&blobs, l, &created_text)
            .with_context(|| format!("image for {}", l.arch.name))?;
        manifests.push((l.arch.name.clone(), digest));
        descriptors.push(desc);
    }
    let index = ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(descriptors)
        .annotations([
            (ANNOTATION_CREATED.to_string(), created_text.clone()),
            (ANNOTATION_VERSION.to_string(), layers[0].version.clone()),
        ])
        .build()?;
    let (index_desc, index_digest) = put_blob(&blobs, &canonical(&index)?, MediaType::ImageIndex)?;
    // The layout's own index names the multi-arch index by the version as its tag.
    let mut top_desc = index_desc;
    top_desc.set_annotations(Some(
        [(ANNOTATION_REF_NAME.to_string(), layers[0].version.clone())].into(),
    ));
    let top = ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(vec![top_desc])
        .build()?;
    std::fs::write(layout.join("index.json"), canonical(&top)?)?;
    let oci_layout = OciLayout::from_reader(&br#"{"imageLayoutVersion":"1.0.0"}"#[..])?;
    std::fs::write(layout.join("oci-layout"), oci_layout.to_string()?)?;
    let archive = out_dir.join(format!("{name}.oci.tar"));
    write_archive(&layout, &archive, created)?;
    Ok(Image {
        layout,
        archive,
        index_digest,
        manifests,
    })
}

/// Layer, config and manifest of one arch; returns the manifest's descriptor (with the
/// platform) and digest.
fn write_one(blobs: &Path, l: &Layer, created: &str) -> Result<(Descriptor, String)> {
    let (layer_digest, layer_size, diff_id) = put_layer(blobs, &l.tarball)?;
    let platform = PlatformBuilder::default()
        .architecture(OciArch::from(l.arch.oci.architecture.as_str()))
        .os(Os::Linux);
    let platform = match &l.arch.oci.variant {
        Some(v) => platform.variant(v.clone()),
        None => platform,
    }
    .build()?;
    let config = ConfigBuilder::default()
        .env(vec![PATH.to_string()])
        .cmd(vec!["/bin/sh".to_string()])
        .build()?;
    let mut image_config = ImageConfigurationBuilder::default()
        .created(created.to_string())
        .architecture(platform.architecture().clone())
        .os(Os::Linux)
        .config(config)
        .rootfs(
            RootFsBuilder::default()
                .typ("layers")
                .diff_ids(vec![diff_id])
                .build()?,
        )
        .history(vec![HistoryBuilder::default()
            .created(created.to_string())
            .created_by(format!(
                "alpinist: {}",
                l.tarball
                    .file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default()
            ))
            .build()?])
        .build()?;
    if let Some(v) = platform.variant() {
        image_config.set_variant(Some(v.clone()));
    }
    let (config_desc, _) = put_blob(blobs, &canonical(&image_config)?, MediaType::ImageConfig)?;
    let layer_desc = DescriptorBuilder::default()
        .media_type(MediaType::ImageLayerGzip)
        .size(layer_size)
        .digest(Digest::from_str(&layer_digest)?)
        .build()?;
    let manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(config_desc)
        .layers(vec![layer_desc])
        .annotations([
            (ANNOTATION_CREATED.to_string(), created.to_string()),
            (ANNOTATION_VERSION.to_string(), l.version.clone()),
        ])
        .build()?;
    let (mut desc, digest) = put_blob(blobs, &canonical(&manifest)?, MediaType::ImageManifest)?;
    desc.set_platform(Some(platform));
    Ok((desc, digest))
}

/// JSON with every object's keys in sorted order: oci-spec keeps annotations in a HashMap,
/// whose order changes from run to run; through serde_json's Value (a BTreeMap) it does
/// not.
fn canonical<T: serde::Serialize>(v: &T) -> Result<Vec<u8>> {
    Ok(serde_json::to_vec(&serde_json::to_value(v)?)?)
}

/// Stores `bytes` as a blob; its descriptor and `sha256:<hex>` digest.
fn put_blob(blobs: &Path, bytes: &[u8], media: MediaType) -> Result<(Descriptor, String)> {
    let hex = hex::encode(Sha256::digest(bytes));
    std::fs::write(blobs.join(&hex), bytes)?;
    let digest = format!("sha256:{hex}");
    let desc = DescriptorBuilder::default()
        .media_type(media)
        .size(bytes.len() as u64)
        .digest(Digest::from_str(&digest)?)
        .build()?;
    Ok((desc, digest))
}

/// Copies the gzip'd root filesystem in as the layer blob: (digest, size, diff_id — the
/// digest of the uncompressed tar).
fn put_layer(blobs: &Path, tarball: &Path) -> Result<(String, u64, String)> {
    let hex = crate::fsutil::sha256_file(tarball)?;
    let size = std::fs::metadata(tarball)?.len();
    let mut plain = Sha256::new();
    std::io::copy(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(tarball)?),
        &mut plain,
    )
    .with_context(|| format!("{}: not a gzip'd tar", tarball.display()))?;
    crate::fsutil::link_or_copy(tarball, &blobs.join(&hex))?;
    Ok((
        format!("sha256:{hex}"),
        size,
        format!("sha256:{}", hex::encode(plain.finalize())),
    ))
}

/// The layout directory as an `oci-archive`: a tar of its files, sorted, owned by 0:0,
/// mode 0644 (directories 0755), every time `mtime`.
fn write_archive(layout: &Path, out: &Path, mtime: u64) -> Result<()> {
    let tmp = out.with_extension("tmp");
    let mut b = tar::Builder::new(std::fs::File::create(&tmp)?);
    let mut paths = Vec::new();
    let mut stack = vec![layout.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)?.flatten() {
            if e.file_type()?.is_dir() {
                stack.push(e.path());
            }
            paths.push(e.path());
        }
    }
    paths.sort();
    for p in paths {
        let rel = p.strip_prefix(layout).expect("under the layout");
        let mut h = tar::Header::new_ustar();
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(mtime);
        if p.is_dir() {
            h.set_entry_type(tar::EntryType::Directory);
            h.set_mode(0o755);
            h.set_size(0);
            b.append_data(&mut h, rel, std::io::empty())?;
        } else {
            h.set_entry_type(tar::EntryType::Regular);
            h.set_mode(0o644);
            h.set_size(std::fs::metadata(&p)?.len());
            b.append_data(&mut h, rel, std::fs::File::open(&p)?)?;
        }
    }
    b.into_inner()?.flush()?;
    std::fs::rename(&tmp, out)?;
    Ok(())
}

/// What the podman check ran, and what it printed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PodmanCheck {
    pub arch: String,
    pub image_id: String,
    pub output: String,
}

/// podman's options for running the check: the runc runtime where it is installed (crun
/// cannot run in hybrid cgroup hierarchies, as in many CI containers) and limits a
/// container in a container may set.
fn podman_run_options() -> Vec<String> {
    let mut v = Vec::new();
    if crate::host::on_path("runc") {
        v.extend(["--runtime".to_string(), "runc".to_string()]);
    }
    v
}

/// Loads the image's `arch` platform into podman from the oci-archive and runs
/// `apk --version` and `cat /etc/alpine-release` in it (under qemu-user through
/// binfmt_misc for a foreign arch).
pub fn check_with_podman(image: &Image, arch: &Arch) -> Result<PodmanCheck> {
    use crate::exec::Cmd;
    crate::stages::rootfs::binfmt::ensure_binfmt(arch)?;
    let src = format!("oci-archive:{}", image.archive.display());
    let mut pull = Cmd::new("podman")
        .args(["pull", "-q", "--arch", &arch.oci.architecture])
        .label(format!("podman pull ({})", arch.name));
    if let Some(v) = &arch.oci.variant {
        pull = pull.args(["--variant", v]);
    }
    let o = pull.arg(&src).output_combined()?;
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    if !o.status.success() {
        bail!(
            "podman pull {src} for {} failed: {}",
            arch.name,
            text.trim()
        );
    }
    let id = text.lines().last().unwrap_or_default().trim().to_string();
    let o = Cmd::new("podman")
        .args(podman_run_options())
        .args(["run", "--rm", "--network", "none"])
        .args([
            "--ulimit",
            "nofile=1024:1024",
            "--ulimit",
            "nproc=4096:4096",
        ])
        .args([
            &id,
            "/bin/sh",
            "-c",
            "apk --version && cat /etc/alpine-release",
        ])
        .label(format!("podman run ({})", arch.name))
        .output_combined()?;
    let output = String::from_utf8_lossy(&o.stdout).into_owned();
    if !o.status.success() {
        bail!(
            "podman run of the {} image ({id}) failed: {}",
            arch.name,
            output.trim()
        );
    }
    Ok(PodmanCheck {
        arch: arch.name.clone(),
        image_id: id,
        output,
    })
}

/// The image's file name: `alpine-<version>-<arch>[+<arch>…]`.
pub fn name(layers: &[Layer]) -> String {
    let arches: Vec<&str> = layers.iter().map(|l| l.arch.name.as_str()).collect();
    format!(
        "alpine-{}-{}",
        layers
            .first()
            .map(|l| l.version.as_str())
            .unwrap_or("unknown"),
        arches.join("+")
    )
}
