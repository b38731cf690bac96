//! The target runtime from the stage 1 toolchain (musl, musl-dev, linux-headers,
//! libgcc, libstdc++, libatomic, libgomp) as bootstrap packages.

use std::path::Path;

use alpinist_apk::package::{MtimePolicy, OwnerMap, PackageBuilder, Signer};
use alpinist_apk::pkginfo::PkgInfo;
use alpinist_apk::sign::SigAlg;
use anyhow::Result;

use crate::config::arch::Arch;
use crate::context::Context;
use crate::engine::{Inputs, Step, StepRef, StepRun, Use};
use crate::fsutil::copy_tree;
use crate::keys::SigningKeyRef;
use crate::stages::packages::{sbom, RECIPE};
use crate::stages::toolchain::{target_lib_dir, Gcc, LinuxHeaders};

/// Target runtime from the stage 1 toolchain, as bootstrap packages: what the sysroot
/// needs before the real musl and gcc packages exist.
pub struct RuntimePackages {
    pub arch: Arch,
    pub key: SigningKeyRef,
    /// musl and gcc's runtime libraries come from gcc's output, the headers from theirs.
    pub gcc: StepRef<Gcc>,
    pub headers: StepRef<LinuxHeaders>,
}

/// Build date of the stage 1 runtime packages, and the default clamp for tarball mtimes.
pub const BOOTSTRAP_EPOCH: u64 = 1_700_000_000;

/// The time root filesystem tarballs clamp their mtimes to and images and their SBOMs
/// are created at: SOURCE_DATE_EPOCH, else [`BOOTSTRAP_EPOCH`].
pub fn output_epoch() -> u64 {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(BOOTSTRAP_EPOCH)
}

impl Step<Context> for RuntimePackages {
    fn name(&self) -> String {
        format!("runtime-{}", self.arch.name)
    }
    fn uses(&self) -> Vec<Use> {
        vec![self.gcc.into(), self.headers.into()]
    }
    fn inputs(&self, cx: &Context) -> Result<Inputs> {
        let mut i = Inputs::new();
        i.flag("recipe", RECIPE);
        i.flag("signing-key", &self.key.fingerprint);
        i.flag("musl", &cx.components.get("musl")?.version);
        i.flag("gcc", &cx.components.get("gcc")?.version);
        i.flag("linux", &cx.components.get("linux")?.version);
        Ok(i)
    }
    fn run(&self, cx: &Context, run: &mut StepRun) -> Result<()> {
        let a = &self.arch;
        let gcc_out = run.output(self.gcc)?.to_path_buf();
        let headers = run.output(self.headers)?.to_path_buf();
        let musl_ver = format!("{}-r0", cx.components.get("musl")?.version);
        let gcc_upstream = cx.components.get("gcc")?.version.clone();
        let gcc_ver = format!("{gcc_upstream}-r0");
        let linux_ver = format!("{}-r0", cx.components.get("linux")?.version);
        let stage = run.work.join("stage");
        let signer = Signer::from_private_key_file(&self.key.private, SigAlg::Sha1)?;
        let musl_sys = gcc_out.join("sysroot");
        let triple_lib = target_lib_dir(&gcc_out, &a.triple)?;

        std::fs::write(run.out.join("repo"), "bootstrap")?;
        // musl: the loader (real file) and the soname link.
        let d = stage.join("musl");
        std::fs::create_dir_all(d.join("lib"))?;
        std::fs::copy(
            musl_sys.join("usr/lib/libc.so"),
            d.join("lib").join(&a.loader),
        )?;
        std::os::unix::fs::symlink(&a.loader, d.join("lib").join(a.libc_soname()))?;
        self.write(
            run,
            &signer,
            &d,
            "musl",
            &musl_ver,
            "the musl c library (libc) implementation",
            "MIT",
            &[],
            &[format!("so:{}=1", a.libc_soname())],
        )?;

        // musl-dev: headers, start files, static archives, the libc.so link.
        let d = stage.join("musl-dev");
        std::fs::create_dir_all(d.join("usr/lib"))?;
        copy_tree(&musl_sys.join("usr/include"), &d.join("usr/include"))?;
        for e in std::fs::read_dir(musl_sys.join("usr/lib"))?.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.ends_with(".o") || n.ends_with(".a") {
                std::fs::copy(e.path(), d.join("usr/lib").join(&n))?;
            }
        }
        std::os::unix::fs::symlink(format!("../../lib/{}", a.loader), d.join("usr/lib/libc.so"))?;
        self.write(
            run,
            &signer,
            &d,
            "musl-dev",
            &musl_ver,
            "the musl c library (libc) implementation (development files)",
            "MIT",
            &[format!("musl={musl_ver}")],
            &[],
        )?;

        // linux-headers.
        let d = stage.join("linux-headers");
        copy_tree(&headers.join("usr"), &d.join("usr"))?;
        let _ = std::fs::remove_file(d.join("usr/.alpinist-manifest.json"));
        self.write(
            run,
            &signer,
            &d,
            "linux-headers",
            &linux_ver,
            "Linux system headers",
            "GPL-2.0-only",
            &[],
            &[],
        )?;

        // gcc's runtime libraries.
        for (name, prefix, desc, sonames) in [
            (
                "libgcc",
                "libgcc_s.so.",
                "GNU C compiler runtime libraries",
                vec!["libgcc_s.so.1"],
            ),
            (
                "libstdc++",
                "libstdc++.so.",
                "GNU C++ standard runtime library",
                vec!["libstdc++.so.6"],
            ),
            (
                "libatomic",
                "libatomic.so.",
                "GCC Atomic library",
                vec!["libatomic.so.1"],
            ),
            (
                "libgomp",
                "libgomp.so.",
                "GCC shared-memory parallel programming API library",
                vec!["libgomp.so.1"],
            ),
        ] {
            let d = stage.join(name);
            std::fs::create_dir_all(d.join("usr/lib"))?;
            let mut found = false;
            for e in std::fs::read_dir(&triple_lib)?.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if n.starts_with(prefix) && !n.ends_with(".py") {
                    found = true;
                    let dest = d.join("usr/lib").join(&n);
                    if e.file_type()?.is_symlink() {
                        std::os::unix::fs::symlink(std::fs::read_link(e.path())?, &dest)?;
                    } else {
                        std::fs::copy(e.path(), &dest)?;
                    }
                }
            }
            if !found {
                continue;
            }
            let provides: Vec<String> = sonames
                .iter()
                .map(|s| format!("so:{s}={gcc_upstream}"))
                .collect();
            self.write(
                run,
                &signer,
                &d,
                name,
                &gcc_ver,
                desc,
                "GPL-2.0-or-later WITH GCC-exception-3.1",
                &[format!("so:{}", a.libc_soname())],
                &provides,
            )?;
        }
        self.write_sboms(cx, run)
    }
}

impl RuntimePackages {
    /// SBOMs of the runtime packages: each names the stage 1 component it comes from
    /// (musl, gcc or linux: file, URL, checksum, substitute if the gcc step used one) and
    /// the steps that built it.
    fn write_sboms(&self, cx: &Context, run: &StepRun) -> Result<()> {
        let gcc_out = run.output(self.gcc)?.to_path_buf();
        let notes = std::fs::read(gcc_out.join(crate::engine::MANIFEST))
            .ok()
            .and_then(|b| serde_json::from_slice::<crate::engine::Manifest>(&b).ok())
            .map(|m| m.notes)
            .unwrap_or_default();
        let item = |component: &str| -> Result<sbom::SourceItem> {
            let spec = &cx.components.get(component)?.source;
            let (algorithm, checksum) = match (&spec.sha512, &spec.sha256) {
                (Some(h), _) => ("SHA512", h.clone()),
                (None, Some(h)) => ("SHA256", h.clone()),
                (None, None) => ("SHA512", String::new()),
            };
            let used = notes
                .iter()
                .any(|n| n.starts_with(&format!("{component}: used the documented substitute")));
            let substitute = spec.substitute.as_ref().filter(|_| used).map(|s| {
                (
                    s.file.clone(),
                    s.sha512.clone().or(s.sha256.clone()).unwrap_or_default(),
                    s.why.clone(),
                )
            });
            Ok(sbom::SourceItem {
                file: spec.file.clone(),
                url: spec.urls.first().cloned(),
                algorithm,
                checksum,
                substitute,
            })
        };
        let steps: Vec<(String, String)> = [gcc_out.as_path(), run.output(self.headers)?]
            .into_iter()
            .filter_map(sbom::step_of_output)
            .collect();
        for e in std::fs::read_dir(&run.out)?.flatten() {
            let apk = e.path();
            if apk.extension().and_then(|x| x.to_str()) != Some("apk") {
                continue;
            }
            let name = apk
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let component = if name.starts_with("musl") {
                "musl"
            } else if name.starts_with("linux-headers") {
                "linux"
            } else {
                "gcc"
            };
            let p = sbom::Provenance {
                arch: self.arch.name.clone(),
                aport: "alpinist/runtime".into(),
                commit: String::new(),
                created: BOOTSTRAP_EPOCH,
                sources: vec![item(component)?],
                aport_patches: Vec::new(),
                toolchain: steps.clone(),
            };
            let doc = sbom::package_document(&apk, &p)?;
            std::fs::write(
                run.out.join(format!("{name}{}", sbom::SUFFIX)),
                serde_json::to_vec_pretty(&doc)?,
            )?;
        }
        Ok(())
    }
}

impl RuntimePackages {
    #[allow(clippy::too_many_arguments)]
    fn write(
        &self,
        run: &StepRun,
        signer: &Signer,
        dir: &Path,
        name: &str,
        ver: &str,
        desc: &str,
        license: &str,
        depends: &[String],
        provides: &[String],
    ) -> Result<()> {
        let info = PkgInfo {
            generator: Some(format!("alpinist {}", env!("CARGO_PKG_VERSION"))),
            pkgname: name.into(),
            pkgver: ver.into(),
            pkgdesc: format!("{desc} (bootstrap, from alpinist's stage 1 toolchain)"),
            url: "https://alpinist.invalid/bootstrap".into(),
            builddate: BOOTSTRAP_EPOCH,
            packager: "alpinist".into(),
            arch: self.arch.name.clone(),
            origin: format!("{name}-bootstrap"),
            commit: Some(String::new()),
            license: license.into(),
            depends: depends.to_vec(),
            provides: provides.to_vec(),
            ..PkgInfo::default()
        };
        let mut b = PackageBuilder::new(info, BOOTSTRAP_EPOCH);
        b.add_tree(dir, &OwnerMap::new(), MtimePolicy::Fixed)?;
        let bytes = b.build(Some(signer))?;
        std::fs::write(run.out.join(format!("{name}-{ver}.apk")), bytes)?;
        Ok(())
    }
}
