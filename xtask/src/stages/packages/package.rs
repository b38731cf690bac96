//! After the recipe: postcheck, strip, dependency tracing, `.PKGINFO`, signed packages.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use alpinist_apk::db::ScriptKind;
use alpinist_apk::package::{MtimePolicy, Owner, OwnerMap, PackageBuilder, Signer};
use alpinist_apk::pkginfo::PkgInfo;
use alpinist_apk::sign::SigAlg;
use alpinist_apkbuild::recipe::PackageVars;
use alpinist_apkbuild::{postcheck, trace};
use anyhow::{anyhow, bail, Context as _, Result};

use crate::engine::StepRun;
use crate::exec::Cmd;
use crate::stages::packages::build::AportBuild;
use crate::stages::packages::order::dep_name;

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
        let a = &self.arch;
        let sde = self.aport.source_date_epoch;
        let owners = read_owners(&pkgbase.join(".owners"))?;
        // The recipe's own users and groups (pkgusers, pkggroups) go into the packages by
        // name, as the target's install scripts create them with ids of their own; any
        // other owner by number.
        let work = pkgbase.parent().unwrap_or(pkgbase);
        let user_names = account_names(&work.join("etc/passwd"), &r.words("pkgusers"));
        let group_names = account_names(&work.join("etc/group"), &r.words("pkggroups"));
        let names = r.package_names();
        struct P {
            name: String,
            arch: String,
            dir: PathBuf,
            vars: PackageVars,
            elves: Vec<trace::ElfFile>,
            so_provides: Vec<(String, String)>,
        }
        let mut pkgs: Vec<P> = Vec::new();
        let mut errors = Vec::new();
        for name in &names {
            let dir = pkgbase.join(name);
            let vars = PackageVars::parse(
                &std::fs::read(pkgbase.join(format!(".meta.{name}")))
                    .with_context(|| format!("{name}: no metadata from the shell"))?,
            );
            let arch = if *name == r.pkgname {
                r.pkgarch.clone()
            } else {
                r.subpackages
                    .iter()
                    .find(|s| &s.name == name)
                    .map(|s| s.arch.clone())
                    .unwrap_or_else(|| r.pkgarch.clone())
            };
            // Modes as fakeroot recorded them.
            for (rel, Owned { mode, .. }) in owners
                .iter()
                .filter(|(k, _)| k.starts_with(&format!("{name}/")))
            {
                let p = pkgbase.join(rel);
                if let Ok(md) = std::fs::symlink_metadata(&p) {
                    if !md.file_type().is_symlink() && md.permissions().mode() & 0o7777 != *mode {
                        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(*mode))?;
                    }
                }
            }
            if *name == r.pkgname && !r.option(name, "keepdirs") {
                for d in ["usr/lib", "usr/bin", "usr/share", "usr", "etc", "lib"] {
                    let _ = std::fs::remove_dir(dir.join(d));
                }
            }
            let mut elves = trace::scan_elf(&dir);
            if arch != "noarch" && !r.option(name, "!strip") && !elves.is_empty() {
                let strip = toolchain.join("bin").join(format!("{}-strip", a.triple));
                for e in elves
                    .iter()
                    .filter(|e| e.is_exec_or_dyn() && !e.path.starts_with("usr/lib/debug/"))
                {
                    let f = dir.join(&e.path);
                    let tmp = dir.join(format!("{}.alpinist-strip", e.path));
                    run.log.run(
                        &Cmd::new(strip.display().to_string())
                            .arg("-o")
                            .arg(&tmp)
                            .arg(&f),
                    )?;
                    std::fs::write(&f, std::fs::read(&tmp)?)?;
                    std::fs::remove_file(&tmp)?;
                }
                elves = trace::scan_elf(&dir);
            }
            if arch == "noarch" {
                if let Some(e) = elves.first() {
                    errors.push(format!(
                        "{name}: noarch package contains an ELF file: /{}",
                        e.path
                    ));
                }
            }
            for e in elves.iter().filter(|e| e.machine != a.elf.machine) {
                errors.push(format!(
                    "{name}: /{} is for ELF machine {} but {} is {} ({})",
                    e.path, e.machine, a.name, a.elf.machine, a.elf.machine_name
                ));
            }
            let opt = |o: &str| r.option(name, o);
            let f = postcheck::postcheck(&dir, name, &elves, &opt);
            for w in &f.warnings {
                let _ = run.log.line(&format!(">>> WARNING: {w}"));
            }
            errors.extend(f.errors);
            let so_provides = if arch == "noarch" || r.option(name, "!tracedeps") {
                vec![]
            } else {
                let ldpath: Vec<String> = r
                    .get("ldpath")
                    .split(':')
                    .filter(|s| !s.is_empty())
                    .map(|s| s.to_string())
                    .collect();
                trace::so_provides(
                    &elves,
                    &ldpath,
                    r.option(name, "ldpath-recursive"),
                    &r.words("somask"),
                )
            };
            pkgs.push(P {
                name: name.clone(),
                arch,
                dir,
                vars,
                elves,
                so_provides,
            });
        }
        if !errors.is_empty() {
            bail!(
                "{}: packaging checks failed:\n  {}",
                r.path.display(),
                errors.join("\n  ")
            );
        }

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
        let pcs: BTreeMap<String, Vec<trace::PcFile>> = pkgs
            .iter()
            .map(|p| (p.name.clone(), trace::pc_files(&p.dir)))
            .collect();
        let this_pc: BTreeSet<String> = pcs.values().flatten().map(|p| p.name.clone()).collect();

        let signer = Signer::from_private_key_file(&self.key.private, SigAlg::Sha1)?;
        let full_ver = r.full_version();
        for p in &pkgs {
            let v = &p.vars;
            let tracing = !r.option(&p.name, "!tracedeps");
            let mut auto_provides = BTreeSet::new();
            let mut auto_depends = BTreeSet::new();
            if tracing {
                for (so, ver) in &p.so_provides {
                    auto_provides.insert(format!("so:{}{so}={ver}", r.get("sonameprefix")));
                }
                for pc in &pcs[&p.name] {
                    auto_provides.insert(format!(
                        "pc:{}{}={}",
                        r.get("pcprefix"),
                        pc.name,
                        trace::pc_to_apk_ver(&pc.version)
                    ));
                }
                for c in trace::cmd_provides(&p.dir) {
                    auto_provides.insert(format!("cmd:{c}={full_ver}"));
                }
                if p.arch != "noarch" {
                    for need in trace::so_needs(&p.elves, &p.so_provides, &r.words("somask")) {
                        if let Some(owner) = this_so.get(&need) {
                            if owner != &p.name {
                                auto_depends.insert(owner.clone());
                            }
                        } else if sys_provides.contains(&format!("so:{need}")) {
                            auto_depends.insert(format!("so:{need}"));
                        } else {
                            bail!(
                                "{}: {} needs {need}, which neither this build nor the sysroot provides; add the package that has it to makedepends_host",
                                r.path.display(),
                                p.name
                            );
                        }
                    }
                }
                let own_pc: BTreeSet<&str> =
                    pcs[&p.name].iter().map(|pc| pc.name.as_str()).collect();
                for pc in &pcs[&p.name] {
                    for req in &pc.requires {
                        let n = dep_name(req);
                        if own_pc.contains(n.as_str()) {
                            continue;
                        }
                        if this_pc.contains(&n) || sys_provides.contains(&format!("pc:{n}")) {
                            auto_depends.insert(format!("pc:{req}"));
                        } else {
                            let _ = run.log.line(&format!(
                                ">>> WARNING: {}: pkg-config requirement {req} has no provider",
                                p.name
                            ));
                        }
                    }
                }
                let has_pc = p.dir.join("usr/lib/pkgconfig").is_dir()
                    || p.dir.join("usr/share/pkgconfig").is_dir();
                if has_pc && !v.words("depends").iter().any(|d| d == "pkgconfig") {
                    // abuild adds `pkgconfig`; without a provider in reach (pkgconf not built
                    // yet) it would make the package uninstallable, so it is left out then.
                    if sys_provides.contains("pkgconfig") || self.package_steps.is_empty() {
                        auto_depends.insert("pkgconfig".into());
                    } else {
                        let _ = run.log.line(&format!(">>> note: {}: no pkgconfig provider yet; not adding the pkgconfig dependency", p.name));
                    }
                }
            }
            if tracing {
                for other in symlink_needs(
                    &p.dir,
                    &p.name,
                    &pkgs
                        .iter()
                        .map(|q| (q.name.clone(), q.dir.clone()))
                        .collect::<Vec<_>>(),
                ) {
                    auto_depends.insert(format!("{other}={full_ver}"));
                }
            }
            let scripts = r.scripts_of(&p.name);
            let mut depends: Vec<String> = v
                .words("depends")
                .into_iter()
                .filter(|d| dep_name(d) != p.name)
                .collect();
            let needs_sh = scripts.iter().any(|(_, f)| {
                std::fs::read_to_string(startdir.join(f))
                    .map(|t| {
                        t.lines().next().is_some_and(|l| {
                            l.trim_start_matches("#!").trim().starts_with("/bin/sh")
                        })
                    })
                    .unwrap_or(false)
            });
            if needs_sh
                && p.name != "busybox"
                && !depends.iter().any(|d| d == "busybox" || d == "/bin/sh")
            {
                depends.push("/bin/sh".into());
            }
            let info = PkgInfo {
                generator: Some(format!("alpinist {}", env!("CARGO_PKG_VERSION"))),
                pkgname: p.name.clone(),
                pkgver: full_ver.clone(),
                pkgdesc: v.get("pkgdesc").to_string(),
                url: v.get("url").to_string(),
                builddate: sde,
                packager: "alpinist".into(),
                arch: p.arch.clone(),
                origin: r.pkgname.clone(),
                commit: Some(self.aport.commit.clone()),
                maintainer: r.maintainer.clone(),
                replaces_priority: v.get("replaces_priority").parse().ok(),
                provider_priority: v.get("provider_priority").parse().ok(),
                license: v
                    .get("license")
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" "),
                replaces: v.words("replaces"),
                depends,
                provides: v.words("provides"),
                triggers: r.triggers_of(&p.name),
                install_if: v.words("install_if"),
                auto_provides: auto_provides.into_iter().collect(),
                auto_depends: auto_depends.into_iter().collect(),
                ..PkgInfo::default()
            };
            let mut b = PackageBuilder::new(info, sde);
            for (kind, file) in &scripts {
                let k = ScriptKind::parse(kind).ok_or_else(|| anyhow!("bad script kind {kind}"))?;
                b.scripts.push((
                    k,
                    std::fs::read(startdir.join(file))
                        .with_context(|| format!("{}: script {file}", r.path.display()))?,
                ));
            }
            let mut map = OwnerMap::new();
            for (rel, o) in owners.iter() {
                if let Some(inner) = rel.strip_prefix(&format!("{}/", p.name)) {
                    if o.uid != 0 || o.gid != 0 {
                        let name = |names: &BTreeMap<u32, String>, id: u32| {
                            names.get(&id).cloned().unwrap_or_else(|| id.to_string())
                        };
                        map.insert(
                            inner.to_string(),
                            Owner {
                                uid: o.uid,
                                gid: o.gid,
                                uname: name(&user_names, o.uid),
                                gname: name(&group_names, o.gid),
                            },
                        );
                    }
                }
            }
            b.add_tree(&p.dir, &map, MtimePolicy::Fixed)?;
            let bytes = b.build(Some(&signer))?;
            std::fs::write(run.out.join(format!("{}-{full_ver}.apk", p.name)), bytes)?;
        }
        std::fs::write(run.out.join("repo"), &self.aport.repo)?;
        Ok(())
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

/// An entry of `.owners`: numeric ids and the mode, as fakeroot saw them.
#[derive(Debug, Clone)]
struct Owned {
    uid: u32,
    gid: u32,
    mode: u32,
}

/// `.owners` from the shell: `uid\tgid\tmode\tpath\0` per entry, under fakeroot.
fn read_owners(path: &Path) -> Result<BTreeMap<String, Owned>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut m = BTreeMap::new();
    for rec in bytes.split(|&b| b == 0).filter(|r| !r.is_empty()) {
        let s = String::from_utf8_lossy(rec);
        let f: Vec<&str> = s.splitn(4, '\t').collect();
        let [u, g, mo, p] = f.as_slice() else {
            continue;
        };
        m.insert(
            p.to_string(),
            Owned {
                uid: u.parse().unwrap_or(0),
                gid: g.parse().unwrap_or(0),
                mode: u32::from_str_radix(mo, 8).unwrap_or(0o644),
            },
        );
    }
    Ok(m)
}

/// The ids the sandbox gave the recipe's own users or groups (`<work>/etc/passwd` or
/// `group`, see `write_accounts`), to the names.
fn account_names(file: &Path, names: &[String]) -> BTreeMap<u32, String> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let mut f = l.split(':');
            let (name, _, id) = (f.next()?, f.next()?, f.next()?);
            names
                .iter()
                .any(|n| n == name)
                .then(|| Some((id.parse().ok()?, name.to_string())))?
        })
        .collect()
}
