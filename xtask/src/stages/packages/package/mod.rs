//! After the recipe: every package of the build (the main one and its subpackages) goes
//! through these steps, in order, as cbuild's numbered hooks do:
//!
//! 1. [`modes`]: the modes fakeroot recorded; `*.la` deleted (unless `libtool`) and the
//!    empty directories abuild removes;
//! 2. [`strip`]: ELF programs and libraries stripped with the target's strip;
//! 3. [`check`]: ELF machine, no ELF in noarch, abuild's postcheck;
//! 4. [`trace`]: what each package provides and needs (`so:`, `pc:`, `cmd:`, symlinks);
//! 5. [`pkginfo`]: its `.PKGINFO`;
//! 6. [`write`]: the signed `.apk`, with owners as fakeroot recorded them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use alpinist_apk::package::Signer;
use alpinist_apk::sign::SigAlg;
use alpinist_apkbuild::recipe::{PackageVars, Recipe};
use alpinist_apkbuild::trace::ElfFile;
use anyhow::{bail, Context as _, Result};

use crate::engine::StepRun;
use crate::stages::packages::accounts;
use crate::stages::packages::build::AportBuild;

pub mod check;
pub mod modes;
pub mod pkginfo;
pub mod strip;
pub mod trace;
pub mod write;

/// One package of the build, as the steps fill it in.
pub(crate) struct Package {
    pub name: String,
    /// Its `arch` (the recipe's, or a subpackage's own, e.g. `noarch`).
    pub arch: String,
    /// `$pkgbasedir/<name>`: its files.
    pub dir: PathBuf,
    /// Its variables, as the shell left them (`pkgdesc`, `depends`, …).
    pub vars: PackageVars,
    pub elves: Vec<ElfFile>,
    /// The sonames it provides, with their versions.
    pub so_provides: Vec<(String, String)>,
}

/// Where the packaging steps find things.
pub(crate) struct Packaging<'a> {
    pub build: &'a AportBuild,
    pub toolchain: &'a Path,
    /// The aport's copy (for install scripts).
    pub startdir: &'a Path,
    /// The recipe's own users and groups by the ids its sandbox gave them: these owners
    /// go into the packages by name (the target's install scripts make them, with ids
    /// of their own); any other owner by number.
    pub user_names: BTreeMap<u32, String>,
    pub group_names: BTreeMap<u32, String>,
}

impl Packaging<'_> {
    fn recipe(&self) -> &Recipe {
        &self.build.aport.recipe
    }
}

impl AportBuild {
    pub(super) fn make_packages(
        &self,
        run: &mut StepRun,
        toolchain: &Path,
        pkgbase: &Path,
        startdir: &Path,
        sysroot: &Path,
    ) -> Result<()> {
        let r = &self.aport.recipe;
        let work = pkgbase.parent().unwrap_or(pkgbase);
        let pk = Packaging {
            build: self,
            toolchain,
            startdir,
            user_names: accounts::names(&work.join("etc/passwd"), &r.words("pkgusers")),
            group_names: accounts::names(&work.join("etc/group"), &r.words("pkggroups")),
        };
        let r = pk.recipe();
        let owners = modes::read_owners(&pkgbase.join(".owners"))?;
        let mut pkgs: Vec<Package> = Vec::new();
        let mut errors = Vec::new();
        for name in r.package_names() {
            let vars = PackageVars::parse(
                &std::fs::read(pkgbase.join(format!(".meta.{name}")))
                    .with_context(|| format!("{name}: no metadata from the shell"))?,
            );
            let arch = package_arch(r, &name);
            let dir = pkgbase.join(&name);
            modes::apply(&owners, pkgbase, &name)?;
            modes::remove_libtool_archives(r, &name, &dir)?;
            modes::remove_empty_dirs(r, &name, &dir);
            let elves = strip::strip(&pk, run, &name, &arch, &dir)?;
            errors.extend(check::check(&pk, run, &name, &arch, &dir, &elves));
            pkgs.push(Package {
                name,
                arch,
                dir,
                vars,
                elves,
                so_provides: Vec::new(),
            });
        }
        // abuild looks for libraries in the rpath directories of every package of the
        // build (a program's rpath may name its -libs subpackage's directory).
        let rpaths: Vec<String> = pkgs
            .iter()
            .filter(|p| p.arch != "noarch")
            .flat_map(|p| alpinist_apkbuild::trace::rpath_dirs(&p.elves))
            .collect();
        for p in &mut pkgs {
            p.so_provides = trace::so_provides(r, &p.name, &p.arch, &p.elves, &rpaths);
        }
        if !errors.is_empty() {
            bail!(
                "{}: packaging checks failed:\n  {}",
                r.path.display(),
                errors.join("\n  ")
            );
        }
        let traced = trace::Traced::new(&pkgs, sysroot)?;
        let signer = Signer::from_private_key_file(&self.key.private, SigAlg::Sha1)?;
        for p in &pkgs {
            let (auto_provides, auto_depends) = traced.auto(run, r, p, &pkgs)?;
            let info = pkginfo::pkginfo(&pk, p, auto_provides, auto_depends);
            write::write(&pk, run, p, info, &owners, &signer)?;
        }
        std::fs::write(run.out.join("repo"), &self.aport.repo)?;
        Ok(())
    }
}

/// A package's arch: the recipe's, or its subpackage's own.
fn package_arch(r: &Recipe, name: &str) -> String {
    if name == r.pkgname {
        return r.pkgarch.clone();
    }
    r.subpackages
        .iter()
        .find(|s| s.name == name)
        .map(|s| s.arch.clone())
        .unwrap_or_else(|| r.pkgarch.clone())
}
