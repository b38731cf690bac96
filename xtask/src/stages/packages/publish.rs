//! Publishing: the packages of finished aport steps into the local repositories, with a
//! signed index.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use alpinist_apk::index::ApkIndex;
use alpinist_apk::package::Signer;
use alpinist_apk::sign::SigAlg;
use anyhow::Result;

use crate::config::arch::Arch;
use crate::context::Context;
use crate::keys::SigningKey;
use crate::stages::packages::{sbom, BOOTSTRAP_EPOCH};

/// Copies the packages of finished aport steps into `<repodest>/<repo>/<arch>/` (by
/// default `build/repo/<repo>/<arch>/`), their SBOMs into its `sbom/`, and
/// rewrites each touched repository's signed APKINDEX.tar.gz.
pub fn publish(
    cx: &Context,
    arch: &Arch,
    outs: &[PathBuf],
    key: &SigningKey,
) -> Result<Vec<PathBuf>> {
    let mut touched: BTreeSet<PathBuf> = BTreeSet::new();
    for out in outs {
        let repo = std::fs::read_to_string(out.join("repo")).unwrap_or_else(|_| "main".into());
        let dir = cx.repodest.join(repo.trim()).join(&arch.name);
        std::fs::create_dir_all(&dir)?;
        for e in std::fs::read_dir(out)?.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let dest = if name.ends_with(".apk") {
                dir.join(&name)
            } else if name.ends_with(sbom::SUFFIX) {
                std::fs::create_dir_all(dir.join(sbom::DIR))?;
                dir.join(sbom::DIR).join(&name)
            } else {
                continue;
            };
            let _ = std::fs::remove_file(&dest);
            std::fs::copy(e.path(), &dest)?;
        }
        touched.insert(dir);
    }
    let signer = Signer::from_private_key_file(&key.private, SigAlg::Sha1)?;
    for dir in &touched {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().and_then(|x| x.to_str()) == Some("apk"))
            .collect();
        files.sort();
        let refs: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
        let index =
            ApkIndex::from_package_files(Some(format!("alpinist {}", arch.name)), &refs, None)?;
        let tmp = dir.join("APKINDEX.tar.gz.tmp");
        std::fs::write(&tmp, index.to_bytes(BOOTSTRAP_EPOCH, Some(&signer))?)?;
        std::fs::rename(&tmp, dir.join("APKINDEX.tar.gz"))?;
    }
    Ok(touched.into_iter().collect())
}
