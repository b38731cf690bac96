//! One aport built for one arch: sources verified, the sysroot installed, the recipe run
//! in the sandbox (`build`, then `package` under fakeroot), then packaged.

use std::path::{Path, PathBuf};

use alpinist_apkbuild::recipe::Recipe;
use alpinist_apkbuild::trace;
use anyhow::{anyhow, Context as _, Result};

use crate::config::arch::Arch;
use crate::context::Context;
use crate::engine::{InputKind, Inputs, Step, StepRef, StepRun, Use};
use crate::exec::disorder::Disorder;
use crate::fsutil::{copy_tree, sha256_hex};
use crate::keys::SigningKeyRef;
use crate::stages::packages::accounts;
use crate::stages::packages::aport::{alpinist_checkout, aport_patches};
use crate::stages::packages::env::{arch_env, build_machine, recipe_env};
use crate::stages::packages::fetch::{fetch_sources, SOURCES_JSON};
use crate::stages::packages::order::{dep_name, split_deps};
use crate::stages::packages::runtime::RuntimePackages;
use crate::stages::packages::sandbox::{
    sandbox, setting, BUILD_DIR, FILE_ORDER_VAR, TOOLCHAIN_DIR,
};
use crate::stages::packages::sbom;
use crate::stages::packages::{Aport, BuildSettings, RECIPE};
use crate::stages::toolchain::Assemble;

/// One aport built for one arch.
pub struct AportBuild {
    pub arch: Arch,
    pub aport: Aport,
    pub settings: BuildSettings,
    pub key: SigningKeyRef,
    /// Packages for the sysroot (after the build-side names that are packages).
    pub sysroot_deps: Vec<String>,
    /// The cross toolchain it builds with.
    pub toolchain: StepRef<Assemble>,
    /// The stage 1 runtime packages, for the sysroot.
    pub runtime: StepRef<RuntimePackages>,
    /// The aports of this build it needs built first; their packages may go into the
    /// sysroot.
    pub needs: Vec<StepRef<AportBuild>>,
}

/// The build tree of an aport step: what the recipe sees as `$startdir`, `$srcdir`,
/// `$pkgbasedir`, … (all under the step's work tree, which is all the sandbox lets it
/// write).
pub(crate) struct Tree {
    pub work: PathBuf,
    /// The copy of the aport (`$startdir`).
    pub startdir: PathBuf,
    pub srcdir: PathBuf,
    pub pkgbase: PathBuf,
    pub tmpdir: PathBuf,
    pub sysroot: PathBuf,
    pub home: PathBuf,
    /// alpinist's shell library.
    pub abuild_sh: PathBuf,
    /// The files of alpinist's checkout the recipe builds (`$ALPINIST_TREE`).
    pub alpinist: PathBuf,
}

impl Tree {
    pub fn new(work: &Path) -> Tree {
        Tree {
            work: work.to_path_buf(),
            startdir: work.join("aport"),
            srcdir: work.join("src"),
            pkgbase: work.join("pkg"),
            tmpdir: work.join("tmp"),
            sysroot: work.join("sysroot"),
            home: work.join("home"),
            abuild_sh: work.join("abuild.sh"),
            alpinist: work.join("alpinist"),
        }
    }
    /// The tree as the recipe sees it in the sandbox, at [`BUILD_DIR`].
    pub fn inside() -> Tree {
        Tree::new(Path::new(BUILD_DIR))
    }
    fn apkbuild(&self) -> PathBuf {
        self.startdir.join("APKBUILD")
    }
}

/// The environment the recipe ran with, kept in its build tree for `cargo xtask shell`.
const ENV_FILE: &str = ".alpinist-env.json";

impl AportBuild {
    pub(crate) fn step_name(arch: &Arch, r: &Recipe) -> String {
        format!("pkg-{}-{}", arch.name, r.pkgname)
    }

    /// Whether the recipe may use the network while it builds (`options="net"`).
    pub(crate) fn net(&self) -> bool {
        let r = &self.aport.recipe;
        r.option(&r.pkgname, "net")
    }

    /// The work tree made ready: directories, and a writable copy of the aport.
    fn prepare(&self, t: &Tree) -> Result<()> {
        for d in [&t.srcdir, &t.tmpdir, &t.home] {
            std::fs::create_dir_all(d)?;
        }
        copy_tree(&self.aport.dir, &t.startdir)?;
        // Copies, not links: the recipe must never change the user's checkout.
        make_writable_copy(&t.startdir)?;
        if !self.aport.tree.is_empty() {
            let root = alpinist_checkout();
            for (f, _) in &self.aport.tree {
                let dest = t.alpinist.join(f);
                std::fs::create_dir_all(dest.parent().expect("has parent"))?;
                std::fs::copy(root.join(f), &dest)?;
            }
        }
        // The shell library goes into the work tree, which is all the sandbox can see of
        // the build directory (it may be under /tmp, which the sandbox replaces).
        std::fs::write(&t.abuild_sh, alpinist_apkbuild::ABUILD_SH)?;
        Ok(())
    }

    /// The recipe's environment: abuild's for a cross build ([`recipe_env`]), what the
    /// substitutes it uses ask for (`extra`), its tree's directories, and the shared
    /// jobserver's `MAKEFLAGS`.
    pub(crate) fn environment(
        &self,
        cx: &Context,
        t: &Tree,
        toolchain: &Path,
        extra: &[(String, String)],
    ) -> Vec<(String, String)> {
        let mut env = recipe_env(
            &cx.arches,
            &self.arch,
            toolchain,
            &t.sysroot,
            &self.settings,
            cx.jobs,
        );
        env.extend(extra.iter().cloned());
        env.extend([
            ("HOME".into(), t.home.display().to_string()),
            ("srcdir".into(), t.srcdir.display().to_string()),
            ("pkgbasedir".into(), t.pkgbase.display().to_string()),
            ("tmpdir".into(), t.tmpdir.display().to_string()),
            (
                "SOURCE_DATE_EPOCH".into(),
                self.aport.source_date_epoch.to_string(),
            ),
            ("ABUILD_LAST_COMMIT".into(), self.aport.commit.clone()),
            (
                "ALPINIST_ABUILD_SH".into(),
                t.abuild_sh.display().to_string(),
            ),
            ("ALPINIST_TREE".into(), t.alpinist.display().to_string()),
            ("PACKAGER".into(), "alpinist".into()),
        ]);
        // Every recipe's make takes its jobs from the one jobserver of this process, so
        // recipes building side by side share the cores.
        // verify-repro's jobs variation builds with one job and no jobserver.
        let one_job = self
            .settings
            .env
            .iter()
            .any(|(k, v)| k == crate::stages::packages::repro::JOBS_VAR && v == "1");
        if one_job {
            set_var(&mut env, "MAKEFLAGS", "-j1");
            set_var(&mut env, "JOBS", "1");
        } else if let Some(mf) = cx.jobserver_makeflags() {
            set_var(&mut env, "MAKEFLAGS", &mf);
        }
        env
    }

    /// `build` (unpack, prepare, build, check) and then `package` under fakeroot, in the
    /// sandbox (`env` names the paths as the sandbox shows them).
    fn run_recipe(
        &self,
        run: &StepRun,
        t: &Tree,
        toolchain: &Path,
        env: &[(String, String)],
    ) -> Result<()> {
        let r = &self.aport.recipe;
        let inside = Tree::inside();
        let sh = inside.abuild_sh.display().to_string();
        let apkbuild = inside.apkbuild().display().to_string();
        // verify-repro's file-order variation: the tree through disorderfs.
        let shuffled = match setting(env, FILE_ORDER_VAR) {
            Some(_) => {
                let view = PathBuf::from(format!("{}.shuffled", t.work.display()));
                // Other users (the sandbox's user namespace) may use it when root.
                Some(Disorder::mount(&t.work, &view, crate::host::is_root())?)
            }
            None => None,
        };
        let work = shuffled.as_ref().map_or(t.work.as_path(), |d| d.view());
        run.log.status("build (unpack, prepare, build)");
        let build = ["bash", &sh, "build", &apkbuild].map(String::from);
        run.log
            .run(&sandbox(work, toolchain, env, self.net(), true, &build))
            .map_err(|e| recipe_error(&r.path, e))?;
        run.log.status("package (under fakeroot)");
        let package = ["fakeroot", "--", "bash", &sh, "rootpkg", &apkbuild].map(String::from);
        run.log
            .run(&sandbox(work, toolchain, env, false, false, &package))
            .map_err(|e| recipe_error(&r.path, e))
    }
}

impl Step<Context> for AportBuild {
    fn name(&self) -> String {
        Self::step_name(&self.arch, &self.aport.recipe)
    }
    fn uses(&self) -> Vec<Use> {
        let mut v: Vec<Use> = vec![self.toolchain.into(), self.runtime.into()];
        v.extend(self.needs.iter().map(|&n| Use::from(n)));
        v
    }
    fn inputs(&self, cx: &Context) -> Result<Inputs> {
        let mut i = Inputs::new();
        i.flag("recipe", RECIPE);
        i.flag(
            "abuild.sh",
            sha256_hex(alpinist_apkbuild::ABUILD_SH.as_bytes()),
        );
        i.flag("arch", &self.arch.name);
        // The usual CBUILD follows from the arch table (a flag below); the host
        // compiler's, for the build machine's own arch, does not.
        let (_, cbuild) = build_machine(&cx.arches, &self.arch);
        if cx.arches.build_machine().map(|b| &b.triple) != Some(&cbuild) {
            i.flag("CBUILD", &cbuild);
        }
        for (k, v) in arch_env(&cx.arches, &self.arch) {
            i.flag(k, v);
        }
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
        for (k, v) in &self.settings.defaults.vars {
            i.flag(format!("abuild {k}"), v);
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
        let toolchain = run.output(self.toolchain)?.to_path_buf();
        let t = Tree::new(&run.work);
        self.prepare(&t)?;
        // Sources: verified before anything runs.
        run.log.status("sources");
        let sources = fetch_sources(cx, run, &self.aport.recipe, &self.settings, &t)?;
        // Sysroot: the makedepends_host (and the target runtime) from local packages.
        run.log.status("sysroot");
        self.make_sysroot(run, &t.sysroot)?;
        // The recipe's paths are the sandbox's, the same for every build.
        let env = self.environment(cx, &Tree::inside(), Path::new(TOOLCHAIN_DIR), &sources.env);
        write_env(&t.work, &env)?;
        let r = &self.aport.recipe;
        accounts::write(&t.work, &r.words("pkgusers"), &r.words("pkggroups"))?;
        self.run_recipe(run, &t, &toolchain, &env)?;
        run.log.status("postcheck, strip, trace, write packages");
        self.make_packages(run, &toolchain, &t.pkgbase, &t.startdir, &t.sysroot)?;
        std::fs::write(
            run.out.join(SOURCES_JSON),
            serde_json::to_string_pretty(&sources.used)?,
        )?;
        run.log.status("SBOMs");
        let provenance = self.provenance(cx, run, sources.used)?;
        sbom::write_package_documents(&run.out, &provenance)?;
        Ok(())
    }
}

impl AportBuild {
    /// Where the packages came from, for their SBOMs.
    fn provenance(
        &self,
        cx: &Context,
        run: &StepRun,
        used: Vec<crate::stages::packages::fetch::SourceUse>,
    ) -> Result<sbom::Provenance> {
        let a = &self.aport;
        let mut patches = Vec::new();
        for p in aport_patches(cx, &a.repo, &a.name())? {
            let name = p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            patches.push((name, sha256_hex(&std::fs::read(&p)?)));
        }
        let toolchain = [run.output(self.toolchain)?, run.output(self.runtime)?]
            .into_iter()
            .filter_map(sbom::step_of_output)
            .collect();
        Ok(sbom::Provenance {
            arch: self.arch.name.clone(),
            aport: format!("{}/{}", a.repo, a.name()),
            commit: a.commit.clone(),
            created: a.source_date_epoch,
            sources: a
                .recipe
                .sources
                .iter()
                .map(|s| sbom::SourceItem::from_recipe(&s.name, s.url.as_deref(), &s.sha512, &used))
                .collect(),
            aport_patches: patches,
            toolchain,
        })
    }
}

/// Sets `k` in `env` (where it is, or at the end).
pub(crate) fn set_var(env: &mut Vec<(String, String)>, k: &str, v: &str) {
    match env.iter_mut().find(|(x, _)| x == k) {
        Some((_, old)) => *old = v.to_string(),
        None => env.push((k.to_string(), v.to_string())),
    }
}

/// Keeps the recipe's environment in its build tree.
fn write_env(work: &Path, env: &[(String, String)]) -> Result<()> {
    std::fs::write(work.join(ENV_FILE), serde_json::to_vec_pretty(env)?)?;
    Ok(())
}

/// The environment the recipe of a kept build tree ran with.
pub(crate) fn read_env(work: &Path) -> Result<Vec<(String, String)>> {
    let p = work.join(ENV_FILE);
    let bytes = std::fs::read(&p).with_context(|| {
        format!(
            "{}: the build tree has no record of its environment (kept by an older alpinist, or the build failed before its recipe ran)",
            p.display()
        )
    })?;
    serde_json::from_slice(&bytes).with_context(|| format!("reading {}", p.display()))
}

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
