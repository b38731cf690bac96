//! Step 4: what each package provides and needs, found in its files as abuild's
//! tracing does: sonames and the libraries its programs need (`so:`), pkg-config files
//! (`pc:`), commands (`cmd:`), and symlinks into the build's other packages.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use alpinist_apkbuild::recipe::Recipe;
use alpinist_apkbuild::trace::{self, ElfFile, PcFile};
use anyhow::{bail, Result};

use crate::engine::StepRun;
use crate::stages::packages::order::dep_name;
use crate::stages::packages::package::Package;

/// The sonames package `name` provides (none for `noarch` or `!tracedeps`).
/// Its libraries are looked for in `lib`, `usr/lib`, the recipe's `ldpath` and every
/// rpath of the build's packages (`rpaths`, abuild's `.rpaths` of every package).
pub(crate) fn so_provides(
    r: &Recipe,
    name: &str,
    arch: &str,
    elves: &[ElfFile],
    rpaths: &[String],
) -> Vec<(String, String)> {
    if arch == "noarch" || r.option(name, "!tracedeps") {
        return vec![];
    }
    let mut dirs: Vec<String> = r
        .get("ldpath")
        .split(':')
        .filter(|s| !s.is_empty())
        .map(|s| s.to_string())
        .collect();
    dirs.extend(rpaths.iter().cloned());
    trace::so_provides(
        elves,
        &dirs,
        r.option(name, "ldpath-recursive"),
        &r.words("somask"),
    )
}

/// What the build's packages and its sysroot provide, for resolving what each needs.
pub(crate) struct Traced {
    /// Names and provides of the sysroot's packages.
    sys_provides: BTreeSet<String>,
    /// Each soname of this build, to the package that has it.
    this_so: BTreeMap<String, String>,
    /// Each package's pkg-config files.
    pcs: BTreeMap<String, Vec<PcFile>>,
    /// Every pkg-config name of this build.
    this_pc: BTreeSet<String>,
}

impl Traced {
    pub(crate) fn new(pkgs: &[Package], sysroot: &Path) -> Result<Traced> {
        // What the sysroot already provides (for so:/pc: needs not met by this build).
        let sys_db = alpinist_apk::install::read_database(sysroot)?;
        let sys_provides: BTreeSet<String> = sys_db
            .packages
            .iter()
            .flat_map(|p| {
                std::iter::once(p.info.name.clone())
                    .chain(p.info.provides.iter().map(|d| d.name.clone()))
            })
            .collect();
        let this_so: BTreeMap<String, String> = pkgs
            .iter()
            .flat_map(|p| {
                p.so_provides
                    .iter()
                    .map(move |(s, _)| (s.clone(), p.name.clone()))
            })
            .collect();
        let pcs: BTreeMap<String, Vec<PcFile>> = pkgs
            .iter()
            .map(|p| (p.name.clone(), trace::pc_files(&p.dir)))
            .collect();
        let this_pc: BTreeSet<String> = pcs.values().flatten().map(|p| p.name.clone()).collect();

        Ok(Traced {
            sys_provides,
            this_so,
            pcs,
            this_pc,
        })
    }

    /// What package `p` provides and needs by its files (none with `!tracedeps`): its
    /// provides, and its needs in the order abuild writes them.
    pub(crate) fn auto(
        &self,
        run: &StepRun,
        r: &Recipe,
        p: &Package,
        pkgs: &[Package],
    ) -> Result<(BTreeSet<String>, Vec<String>)> {
        let mut provides = BTreeSet::new();
        let mut depends = BTreeSet::new();
        if r.option(&p.name, "!tracedeps") {
            return Ok((provides, Vec::new()));
        }
        let full_ver = r.full_version();
        for (so, ver) in &p.so_provides {
            provides.insert(format!("so:{}{so}={ver}", r.get("sonameprefix")));
        }
        for pc in &self.pcs[&p.name] {
            provides.insert(format!(
                "pc:{}{}={}",
                r.get("pcprefix"),
                pc.name,
                trace::pc_to_apk_ver(&pc.version)
            ));
        }
        for c in trace::cmd_provides(&p.dir) {
            provides.insert(format!("cmd:{c}={full_ver}"));
        }
        for (ver, module) in trace::py_provides(&p.dir) {
            provides.insert(format!("py{ver}:{module}={full_ver}"));
        }
        if p.arch != "noarch" {
            self.so_needs(r, p, &mut depends)?;
        }
        self.pc_needs(run, p, &mut depends);
        self.pkgconfig(run, p, &mut depends);
        let all: Vec<(String, PathBuf)> = pkgs
            .iter()
            .map(|q| (q.name.clone(), q.dir.clone()))
            .collect();
        // abuild appends the symlink needs (sorted) before the other automatic ones
        // (sorted): two groups in `.PKGINFO`.
        let mut links: BTreeSet<String> = symlink_needs(&p.dir, &p.name, &all)
            .into_iter()
            .map(|other| format!("{other}={full_ver}"))
            .collect();
        if let Some(py) = trace::python3_need(&p.dir, &p.name).map_err(anyhow::Error::msg)? {
            links.insert(py);
        }
        links.retain(|l| !depends.contains(l));
        let mut ordered: Vec<String> = links.into_iter().collect();
        ordered.extend(depends);
        Ok((provides, ordered))
    }

    /// The libraries its programs need, as `so:` names: from a package of this build or
    /// the sysroot; anything else is an error.
    fn so_needs(&self, r: &Recipe, p: &Package, depends: &mut BTreeSet<String>) -> Result<()> {
        for need in trace::so_needs(&p.elves, &p.so_provides, &r.words("somask")) {
            if let Some(owner) = self.this_so.get(&need) {
                // As abuild's trace_apk_deps: a library of this build's other packages is
                // needed by its `so:` name (unversioned), not by the package's name.
                if owner != &p.name {
                    depends.insert(format!("so:{}{need}", r.get("sonameprefix")));
                }
            } else if self.sys_provides.contains(&format!("so:{need}")) {
                depends.insert(format!("so:{need}"));
            } else {
                bail!(
                    "{}: {} needs {need}, which neither this build nor the sysroot provides; add the package that has it to makedepends_host",
                    r.path.display(),
                    p.name
                );
            }
        }
        Ok(())
    }

    /// What its pkg-config files require, from this build or the sysroot.
    fn pc_needs(&self, run: &StepRun, p: &Package, depends: &mut BTreeSet<String>) {
        let own_pc: BTreeSet<&str> = self.pcs[&p.name]
            .iter()
            .map(|pc| pc.name.as_str())
            .collect();
        for pc in &self.pcs[&p.name] {
            for req in &pc.requires {
                let n = dep_name(req);
                if own_pc.contains(n.as_str()) {
                    continue;
                }
                if self.this_pc.contains(&n) || self.sys_provides.contains(&format!("pc:{n}")) {
                    depends.insert(format!("pc:{req}"));
                } else {
                    let _ = run.log.line(&format!(
                        ">>> WARNING: {}: pkg-config requirement {req} has no provider",
                        p.name
                    ));
                }
            }
        }
    }

    /// abuild adds `pkgconfig` to a package with pkg-config files; without a provider in
    /// reach (pkgconf not built yet) it would make the package uninstallable, so it is
    /// left out then.
    fn pkgconfig(&self, run: &StepRun, p: &Package, depends: &mut BTreeSet<String>) {
        let has_pc =
            p.dir.join("usr/lib/pkgconfig").is_dir() || p.dir.join("usr/share/pkgconfig").is_dir();
        if !has_pc || p.vars.words("depends").iter().any(|d| d == "pkgconfig") {
            return;
        }
        if self.sys_provides.contains("pkgconfig") {
            depends.insert("pkgconfig".into());
        } else {
            let _ = run.log.line(&format!(
                ">>> note: {}: no pkgconfig provider yet; not adding the pkgconfig dependency",
                p.name
            ));
        }
    }
}

/// abuild's `.needs-symlinks`: a symlink whose target is not in this package but in
/// exactly one other package of the same build makes this package depend on that one.
fn symlink_needs(dir: &Path, name: &str, all: &[(String, PathBuf)]) -> Vec<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(md) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            if md.is_dir() {
                stack.push(p);
                continue;
            }
            if !md.file_type().is_symlink() {
                continue;
            }
            let Ok(target) = std::fs::read_link(&p) else {
                continue;
            };
            let rel_dir = p
                .parent()
                .and_then(|x| x.strip_prefix(dir).ok())
                .unwrap_or(Path::new(""));
            let joined = if target.is_absolute() {
                target.strip_prefix("/").unwrap_or(&target).to_path_buf()
            } else {
                rel_dir.join(&target)
            };
            let mut norm: Vec<std::ffi::OsString> = Vec::new();
            for c in joined.components() {
                match c {
                    std::path::Component::ParentDir => {
                        norm.pop();
                    }
                    std::path::Component::Normal(x) => norm.push(x.to_os_string()),
                    _ => {}
                }
            }
            let norm: PathBuf = norm.iter().collect();
            let exists = |base: &Path| std::fs::symlink_metadata(base.join(&norm)).is_ok();
            if exists(dir) {
                continue;
            }
            let owners: Vec<&String> = all
                .iter()
                .filter(|(n, d)| n != name && exists(d))
                .map(|(n, _)| n)
                .collect();
            if owners.len() == 1 {
                out.insert(owners[0].clone());
            }
        }
    }
    out.into_iter().collect()
}
