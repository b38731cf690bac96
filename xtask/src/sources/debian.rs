//! Sources from Debian's archive: `apt-get source --download-only`, or a binary
//! package's data (`apt-get download`), and a member pulled out of the tarball.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _, Result};

use crate::config::source::DebianOrigin;
use crate::exec::Cmd;
use crate::fsutil::link_or_copy;
use crate::sources::Resolver;

impl Resolver<'_> {
    pub(super) fn fetch_debian(&self, deb: &DebianOrigin, file: &str) -> Result<PathBuf> {
        let dir = self
            .layout
            .distfiles
            .join(".debian")
            .join(format!("{}_{}", deb.package, deb.version));
        std::fs::create_dir_all(&dir)?;
        let orig = dir.join(&deb.orig);
        if deb.binary && deb.member.is_none() {
            bail!(
                "{file}: a binary Debian origin ({}) needs a member",
                deb.orig
            );
        }
        if !orig.is_file() {
            // A source package comes with `apt-get source` (deb-src lines needed), a
            // binary one with `apt-get download`.
            let mut args: Vec<String> = if deb.binary {
                vec!["download".into()]
            } else {
                crate::host::ensure_deb_src(self.layout)?;
                vec!["source".into(), "--download-only".into()]
            };
            args.push(format!("{}={}", deb.package, deb.version));
            // apt-get may fail on a missing .dsc for an older revision while still
            // fetching the tarballs; the checksum below decides, so look at the files.
            let out = Cmd::new("apt-get")
                .args(&args)
                .dir(&dir)
                .output_combined()
                .context("running apt-get (is this a Debian/Ubuntu host?)")?;
            if !orig.is_file() {
                let text = String::from_utf8_lossy(&out.stdout);
                let hint = if text.contains("You must put some 'deb-src'")
                    || text.contains("Unable to find a source package")
                {
                    "\n  enable deb-src lines with `cargo xtask setup` (as root) and run `apt-get update`"
                } else {
                    ""
                };
                bail!(
                    "apt-get {} did not produce {}:\n{}{hint}",
                    args[0],
                    deb.orig,
                    crate::exec::tail_str(&text, 15)
                );
            }
        }
        // A binary package's files are in its data tarball.
        let archive = if deb.binary {
            let data = dir.join(format!("{}.tar", deb.orig));
            if !data.is_file() {
                let tmp = dir.join(format!("{}.tar.part", deb.orig));
                Cmd::new("dpkg-deb")
                    .arg("--fsys-tarfile")
                    .arg(&orig)
                    .run_to_file(&tmp)
                    .with_context(|| format!("dpkg-deb --fsys-tarfile {}", orig.display()))?;
                std::fs::rename(&tmp, &data)?;
            }
            data
        } else {
            orig.clone()
        };
        let dest = self.layout.distfiles.join(file);
        let part = self.layout.distfiles.join(format!("{file}.part"));
        match &deb.member {
            None => {
                link_or_copy(&archive, &part)?;
            }
            Some(member) => extract_member(&archive, member, &part)
                .with_context(|| format!("extracting {member} from {}", orig.display()))?,
        }
        match deb.recompress.as_deref() {
            None => {}
            Some("gzip") => {
                let name = deb.member.as_deref().unwrap_or(&deb.orig);
                recompress_gzip(&part, name)
                    .with_context(|| format!("recompressing {name} with gzip -n -9"))?;
            }
            Some(other) => bail!("{file}: unknown recompress {other:?} (known: \"gzip\")"),
        }
        std::fs::rename(&part, &dest)?;
        Ok(dest)
    }
}

/// Replaces `path` (a compressed tarball named like `name`) with its tar stream compressed
/// by `gzip -n -9`.
fn recompress_gzip(path: &Path, name: &str) -> Result<()> {
    let tar = PathBuf::from(format!("{}.tar", path.display()));
    {
        let f = File::open(path)?;
        let mut reader: Box<dyn Read> = if name.ends_with(".xz") {
            Box::new(xz2::read::XzDecoder::new(f))
        } else if name.ends_with(".gz") {
            Box::new(flate2::read::GzDecoder::new(f))
        } else {
            bail!("{name}: only .xz and .gz can be recompressed");
        };
        let mut out = File::create(&tar)?;
        std::io::copy(&mut reader, &mut out)?;
    }
    let made = Cmd::new("gzip")
        .args(["-n", "-9"])
        .stdin_file(&tar)
        .run_to_file(path);
    let _ = std::fs::remove_file(&tar);
    made.context("running gzip")?;
    Ok(())
}

/// Copies one member out of a (gzip or xz compressed) tarball.
fn extract_member(archive: &Path, member: &str, dest: &Path) -> Result<()> {
    let f = File::open(archive)?;
    let reader: Box<dyn Read> = match archive.extension().and_then(|e| e.to_str()) {
        Some("gz") | Some("tgz") => Box::new(flate2::read::GzDecoder::new(f)),
        Some("xz") => Box::new(xz2::read::XzDecoder::new(f)),
        _ => Box::new(f),
    };
    let mut ar = tar::Archive::new(reader);
    for entry in ar.entries()? {
        let mut entry = entry?;
        if entry.path()?.to_string_lossy().trim_start_matches("./") == member {
            let mut out = File::create(dest)?;
            std::io::copy(&mut entry, &mut out)?;
            return Ok(());
        }
    }
    Err(anyhow!("no member {member} in {}", archive.display()))
}
