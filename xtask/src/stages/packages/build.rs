//! One aport built for one arch: sources verified, the sysroot installed, the recipe run
//! in the sandbox (`build`, then `package` under fakeroot), then packaged.

use std::path::{Path, PathBuf};

use alpinist_apk::index::ApkIndex;
use alpinist_apk::package::Signer;
use alpinist_apk::sign::SigAlg;
use alpinist_apkbuild::recipe::Recipe;
use alpinist_apkbuild::trace;
use anyhow::{anyhow, bail, Context as _, Result};
use sha2::{Digest, Sha256};

use crate::config::arch::Arch;
use crate::config::source::Checksum;
use crate::context::Context;
use crate::engine::{InputKind, Inputs, Step, StepRun};
use crate::fsutil::copy_tree;
use crate::keys::SigningKeyRef;
use crate::stages::packages::aport::alpinist_checkout;
use crate::stages::packages::env::recipe_env;
use crate::stages::packages::order::{dep_name, split_deps};
use crate::stages::packages::runtime::BOOTSTRAP_EPOCH;
use crate::stages::packages::sandbox::sandbox;
use crate::stages::packages::{parse_env, Aport, BuildSettings, RECIPE};

/// One aport built for one arch.
pub struct AportBuild {
    pub arch: Arch,
    pub aport: Aport,
    pub settings: BuildSettings,
    pub key: SigningKeyRef,
    /// Packages for the sysroot (after the build-side names that are packages).
    pub sysroot_deps: Vec<String>,
    /// Names of the dependency steps whose packages may go into the sysroot.
    pub package_steps: Vec<String>,
}

impl AportBuild {
    pub(crate) fn step_name(arch: &Arch, r: &Recipe) -> String {
        format!("pkg-{}-{}", arch.name, r.pkgname)
    }
}

impl Step for AportBuild {
    fn name(&self) -> String {
        Self::step_name(&self.arch, &self.aport.recipe)
    }
    fn inputs(&self, cx: &Context) -> Result<Inputs> {
        let mut i = Inputs::new();
        i.flag("recipe", RECIPE);
        i.flag(
            "abuild.sh",
            hex::encode(Sha256::digest(alpinist_apkbuild::ABUILD_SH.as_bytes())),
        );
        i.flag("arch", &self.arch.name);
        i.flag("signing-key", &self.key.fingerprint);
        i.flag("sysroot", self.sysroot_deps.join(" "));
        i.flag(
            "SOURCE_DATE_EPOCH",
            self.aport.source_date_epoch.to_string(),
        );
        i.flag("commit", &self.aport.commit);
        if let Some(b) = &self.settings.bootstrap {
            i.flag("BOOTSTRAP", b);
        }
        for (k, v) in &self.settings.env {
            i.flag(format!("env {k}"), v);
        }
        for (f, h) in &self.aport.files {
            i.add(InputKind::Config, format!("aport/{f}"), h.clone());
        }
        for s in &self.aport.recipe.sources {
            i.source(&s.name, &s.sha512);
            // A substitute is accepted in the recipe's file's place, so what it is (and
            // what adapting it does) is an input whether or not this build needs it.
            if s.url.is_some() {
                if let Some(sub) = self.settings.sources.substitute(&s.name, &s.sha512) {
                    i.source(
                        format!("{} substitute", s.name),
                        sub.key(&alpinist_checkout())?,
                    );
                }
            }
        }
        for (f, h) in &self.aport.tree {
            i.source(format!("alpinist/{f}"), h);
        }
        if !self.aport.tree.is_empty()
            || split_deps(&self.aport.recipe)
                .1
                .iter()
                .any(|d| dep_name(d) == "cargo")
        {
            i.tool("rustc", cx.host_tool_version("rustc"));
        }
        for t in ["bash", "fakeroot", "bwrap", "patch", "tar", "make"] {
            i.tool(t, cx.host_tool_version(t));
        }
        Ok(i)
    }

    fn run(&self, cx: &Context, run: &mut StepRun) -> Result<()> {
        let r = &self.aport.recipe;
        let a = &self.arch;
        let toolchain = run.dep(&format!("toolchain-{}", a.name))?.to_path_buf();
        let work = run.work.clone();
        let startdir = work.join("aport");
        let srcdir = work.join("src");
        let pkgbase = work.join("pkg");
        let tmpdir = work.join("tmp");
        let sysroot = work.join("sysroot");
        let home = work.join("home");
        for d in [&srcdir, &tmpdir, &home] {
            std::fs::create_dir_all(d)?;
        }
        copy_tree(&self.aport.dir, &startdir)?;
        // Copies, not links: the recipe must never change the user's checkout.
        make_writable_copy(&startdir)?;

        // Sources: verified before anything runs.
        run.log.status("sources");
        let mut used_sources: Vec<SourceUse> = Vec::new();
        let mut env_extra: Vec<(String, String)> = Vec::new();
        for s in &r.sources {
            let dest = srcdir.join(&s.name);
            match &s.url {
                None => {
                    let p = startdir.join(&s.name);
                    let sum = Checksum::Sha512(s.sha512.clone());
                    let actual = sum.compute(&p).with_context(|| {
                        format!("{}: local source {} is missing", r.path.display(), s.name)
                    })?;
                    if actual != s.sha512 {
                        bail!(
                            "{}: checksum mismatch for local source {}:\n  expected sha512 {}\n  actual   sha512 {actual}\n  fix sha512sums (abuild checksum) or the file",
                            r.path.display(),
                            s.name,
                            s.sha512
                        );
                    }
                    std::os::unix::fs::symlink(&p, &dest)?;
                }
                Some(url) => {
                    let sources = &self.settings.sources;
                    let sub = sources.substitute(&s.name, &s.sha512);
                    let spec = sources.spec(&s.name, url, &s.sha512, true);
                    let say = |m: &str| {
                        let _ = run.log.line(m);
                    };
                    let resolved = cx
                        .resolver(&say)
                        .resolve(&spec)
                        .with_context(|| format!("{}: source {}", r.path.display(), s.name))?;
                    let mut path = resolved.path.clone();
                    let mut used = SourceUse {
                        file: s.name.clone(),
                        sha512: s.sha512.clone(),
                        origin: resolved.origin.clone(),
                        substitute: None,
                    };
                    if let (true, Some(sub)) = (resolved.substitute, sub) {
                        path = crate::sources::substitute::adapt(
                            sub,
                            &resolved.path,
                            &cx.layout.distfiles,
                            &alpinist_checkout(),
                        )?;
                        let adapted = Checksum::Sha512(String::new());
                        used.substitute = Some(SubstituteUse {
                            file: sub.file.clone(),
                            sha512: sub.sha512.clone(),
                            adapted_sha512: adapted.compute(&path)?,
                            why: sub.why.clone(),
                        });
                        env_extra.extend(
                            sub.env
                                .iter()
                                .map(|kv| parse_env(kv, &sub.for_file))
                                .collect::<Result<Vec<_>>>()?,
                        );
                        let note = format!(
                            "{}: used the documented substitute {} from {} ({})",
                            s.name, sub.file, resolved.origin, sub.why
                        );
                        run.log.line(&note)?;
                        run.notes.push(note);
                    }
                    used_sources.push(used);
                    // A copy (hard link when possible), not a symlink: the sandbox sees
                    // only the work tree, and the distfiles may live under /tmp.
                    if std::fs::hard_link(&path, &dest).is_err() {
                        std::fs::copy(&path, &dest)?;
                    }
                }
            }
        }

        if !self.aport.tree.is_empty() {
            let root = alpinist_checkout();
            let tree = work.join("alpinist");
            for (f, _) in &self.aport.tree {
                let dest = tree.join(f);
                std::fs::create_dir_all(dest.parent().expect("has parent"))?;
                std::fs::copy(root.join(f), &dest)?;
            }
        }

        // Sysroot: the makedepends_host (and the target runtime) from local packages.
        run.log.status("sysroot");
        self.make_sysroot(run, &sysroot)?;

        // The shell library goes into the work tree, which is all the sandbox can see of
        // the build directory (it may be under /tmp, which the sandbox replaces).
        let sh = work.join("abuild.sh");
        std::fs::write(&sh, alpinist_apkbuild::ABUILD_SH)?;
        let apkbuild = startdir.join("APKBUILD");
        let mut env = recipe_env(a, &toolchain, &sysroot, &self.settings, cx.jobs);
        env.extend(env_extra);
        env.extend([
            ("HOME".into(), home.display().to_string()),
            ("srcdir".into(), srcdir.display().to_string()),
            ("pkgbasedir".into(), pkgbase.display().to_string()),
            ("tmpdir".into(), tmpdir.display().to_string()),
            (
                "SOURCE_DATE_EPOCH".into(),
                self.aport.source_date_epoch.to_string(),
            ),
            ("ABUILD_LAST_COMMIT".into(), self.aport.commit.clone()),
            ("ALPINIST_ABUILD_SH".into(), sh.display().to_string()),
            (
                "ALPINIST_TREE".into(),
                work.join("alpinist").display().to_string(),
            ),
            ("PACKAGER".into(), "alpinist".into()),
        ]);
        // Build paths must not reach the packages (verify-repro builds in two places).
        let map = format!("-ffile-prefix-map={}=/home/build", work.display());
        for (k, v) in env.iter_mut() {
            if k == "CFLAGS" || k == "CXXFLAGS" {
                v.push(' ');
                v.push_str(&map);
            }
        }
        // Every recipe's make takes its jobs from the one jobserver of this process, so
        // recipes building side by side share the cores.
        if let Some(mf) = cx.jobserver_makeflags() {
            for (k, v) in env.iter_mut() {
                if k == "MAKEFLAGS" {
                    *v = mf.clone();
                }
            }
        }
        write_accounts(&work, &r.words("pkgusers"), &r.words("pkggroups"))?;
        let net = r.option(&r.pkgname, "net");
        run.log.status("build (unpack, prepare, build)");
        run.log
            .run(&sandbox(
                &work,
                &toolchain,
                &env,
                net,
                &[
                    "bash".into(),
                    sh.display().to_string(),
                    "build".into(),
                    apkbuild.display().to_string(),
                ],
            ))
            .map_err(|e| recipe_error(&r.path, e))?;
        run.log.status("package (under fakeroot)");
        run.log
            .run(&sandbox(
                &work,
                &toolchain,
                &env,
                false,
                &[
                    "fakeroot".into(),
                    "--".into(),
                    "bash".into(),
                    sh.display().to_string(),
                    "rootpkg".into(),
                    apkbuild.display().to_string(),
                ],
            ))
            .map_err(|e| recipe_error(&r.path, e))?;

        run.log.status("postcheck, strip, trace, write packages");
        self.make_packages(run, &toolchain, &pkgbase, &startdir, &sysroot)?;
        std::fs::write(
            run.out.join(SOURCES_JSON),
            serde_json::to_string_pretty(&used_sources)?,
        )?;
        Ok(())
    }
}

/// Which file each remote source of a build came from: written into the step's output
/// (`SOURCES_JSON`) and read by the bootstrap report.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SourceUse {
    /// The recipe's file name and checksum.
    pub file: String,
    pub sha512: String,
    /// Where the file (or the substitute) came from.
    pub origin: String,
    /// Set when a documented substitute stood in for the recipe's file.
    #[serde(default)]
    pub substitute: Option<SubstituteUse>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SubstituteUse {
    /// The substitute's own file and checksum.
    pub file: String,
    pub sha512: String,
    /// The checksum of the file the recipe unpacked (adapted to its name and top
    /// directory).
    pub adapted_sha512: String,
    pub why: String,
}

/// The file in an aport step's output that lists its sources.
pub const SOURCES_JSON: &str = ".alpinist-sources.json";

fn recipe_error(path: &Path, e: anyhow::Error) -> anyhow::Error {
    anyhow!("{}: the recipe failed\n{e:#}", path.display())
}

fn make_writable_copy(dir: &Path) -> Result<()> {
    // copy_tree hard-links; replace each file by a real copy so edits stay here.
    for (rel, full) in trace::files(dir) {
        let tmp = dir.join(format!("{rel}.alpinist-copy"));
        std::fs::copy(&full, &tmp)?;
        std::fs::rename(&tmp, &full)?;
    }
    Ok(())
}

impl AportBuild {
    fn make_sysroot(&self, run: &StepRun, sysroot: &Path) -> Result<()> {
        // A temporary signed repository (<repo>/<arch>/) of the packages it may use.
        let repo = run.work.join("sysroot-repo");
        let arch_dir = repo.join(&self.arch.name);
        std::fs::create_dir_all(&arch_dir)?;
        let mut files: Vec<PathBuf> = Vec::new();
        for s in &self.package_steps {
            for e in std::fs::read_dir(run.dep(s)?)?.flatten() {
                if e.path().extension().and_then(|x| x.to_str()) == Some("apk") {
                    let dest = arch_dir.join(e.file_name());
                    std::fs::hard_link(e.path(), &dest)
                        .or_else(|_| std::fs::copy(e.path(), &dest).map(|_| ()))?;
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
        let deps = self.sysroot_deps.clone();
        let _ = run
            .log
            .line(&format!("sysroot packages: {}", deps.join(" ")));
        let out = alpinist_apk_cli::add(&alpinist_apk_cli::AddOptions {
            root: sysroot,
            arch: &self.arch.name,
            initdb: true,
            repositories: std::slice::from_ref(&repo),
            keys_dir: Some(&keys_dir),
            simulate: false,
            deps: &deps,
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

/// The recipe's own users and groups (`pkgusers`, `pkggroups`), which its package()
/// hands files to (`install -g abuild`), as the build machine's accounts plus those:
/// `<work>/etc/passwd` and `<work>/etc/group`, which the sandbox puts in place of the
/// host's. Their ids are placeholders; the packages record these owners by name.
fn write_accounts(work: &Path, users: &[String], groups: &[String]) -> Result<()> {
    if users.is_empty() && groups.is_empty() {
        return Ok(());
    }
    let etc = work.join("etc");
    std::fs::create_dir_all(&etc)?;
    let mut group = std::fs::read_to_string("/etc/group").unwrap_or_default();
    let mut passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let known = |text: &str, name: &str| text.lines().any(|l| l.split(':').next() == Some(name));
    for (i, g) in groups.iter().chain(users.iter()).enumerate() {
        if !known(&group, g) {
            group.push_str(&format!("{g}:x:{}:\n", 64000 + i));
        }
    }
    for (i, u) in users.iter().enumerate() {
        if !known(&passwd, u) {
            passwd.push_str(&format!(
                "{u}:x:{}:{}:{u}:/nonexistent:/sbin/nologin\n",
                64000 + groups.len() + i,
                64000 + groups.len() + i
            ));
        }
    }
    std::fs::write(etc.join("group"), group)?;
    std::fs::write(etc.join("passwd"), passwd)?;
    Ok(())
}
