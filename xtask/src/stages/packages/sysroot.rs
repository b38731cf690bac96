//! An aport's sysroot: the stage 1 runtime and the packages of the aports it needs, in
//! a temporary signed repository, installed into `sysroot/` with the apk library.

use std::path::{Path, PathBuf};

use alpinist_apk::index::ApkIndex;
use alpinist_apk::package::Signer;
use alpinist_apk::sign::SigAlg;
use anyhow::{Context as _, Result};

use crate::engine::StepRun;
use crate::fsutil::link_or_copy;
use crate::stages::install::{install, Install};
use crate::stages::packages::build::AportBuild;
use crate::stages::packages::runtime::BOOTSTRAP_EPOCH;

impl AportBuild {
    pub(crate) fn make_sysroot(&self, run: &StepRun, sysroot: &Path) -> Result<()> {
        // A temporary signed repository (<repo>/<arch>/) of the packages it may use.
        let repo = run.work.join("sysroot-repo");
        let arch_dir = repo.join(&self.arch.name);
        std::fs::create_dir_all(&arch_dir)?;
        let mut outputs = vec![run.output(self.runtime)?];
        for &n in &self.needs {
            outputs.push(run.output(n)?);
        }
        let mut files: Vec<PathBuf> = Vec::new();
        for out in outputs {
            for e in std::fs::read_dir(out)?.flatten() {
                if e.path().extension().and_then(|x| x.to_str()) == Some("apk") {
                    let dest = arch_dir.join(e.file_name());
                    link_or_copy(&e.path(), &dest)?;
                    files.push(dest);
                }
            }
        }
        let refs: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
        let index = ApkIndex::from_package_files(Some("alpinist sysroot".into()), &refs, None)?;
        let signer = Signer::from_private_key_file(&self.key.private, SigAlg::Sha1)?;
        std::fs::write(
            arch_dir.join("APKINDEX.tar.gz"),
            index.to_bytes(BOOTSTRAP_EPOCH, Some(&signer))?,
        )?;
        let keys_dir = self.key.private.parent().expect("key dir").to_path_buf();
        let deps = &self.sysroot_deps;
        let _ = run
            .log
            .line(&format!("sysroot packages: {}", deps.join(" ")));
        let out = install(&Install {
            root: sysroot,
            arch: &self.arch.name,
            repositories: std::slice::from_ref(&repo),
            keys_dir: &keys_dir,
            deps,
        })
        .with_context(|| {
            format!(
                "{}: installing the build dependencies into the sysroot",
                self.aport.recipe.path.display()
            )
        })?;
        let _ = run.log.line(&out);
        Ok(())
    }
}
