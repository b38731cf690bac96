//! The changeset generator of `apk:src/solver.c` (`generate_changeset` and its `cset_*`
//! helpers): from the chosen packages to the installs, removals and adjustments, in the
//! order apk applies them.

use super::*;

/// `struct apk_change`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawChange {
    pub old_pkg: Option<PkgId>,
    pub new_pkg: Option<PkgId>,
    pub old_tag: usize,
    pub new_tag: usize,
    pub reinstall: bool,
}

/// `struct apk_changeset`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Changeset {
    pub changes: Vec<RawChange>,
    pub num_install: usize,
    pub num_remove: usize,
    pub num_adjust: usize,
}

impl Changeset {
    pub fn num_total_changes(&self) -> usize {
        self.num_install + self.num_remove + self.num_adjust
    }
}

impl Solve<'_> {
    fn record_change(&mut self, opkg: Option<PkgId>, npkg: Option<PkgId>) {
        let old_tag = opkg.map_or(0, |p| self.db.pkgs[p].ipkg.as_ref().map_or(0, |i| i.tag));
        let new_tag = npkg.map_or(0, |p| {
            self.get_tag(self.db.pkgs[p].ss.pinning_allowed, self.get_pkg_repos(p))
        });
        let reinstall =
            npkg.is_some_and(|p| self.db.pkgs[p].ss.solver_flags & SOLVERF_REINSTALL != 0);
        let c = RawChange {
            old_pkg: opkg,
            new_pkg: npkg,
            old_tag,
            new_tag,
            reinstall,
        };
        let cs = &mut self.ss.changeset;
        cs.changes.push(c);
        if npkg.is_none() {
            cs.num_remove += 1;
        } else if opkg.is_none() {
            cs.num_install += 1;
        } else if npkg != opkg || c.reinstall || c.new_tag != c.old_tag {
            cs.num_adjust += 1;
        }
    }

    fn cset_track_deps_added(&mut self, pkg: PkgId) {
        for di in 0..self.db.pkgs[pkg].depends.len() {
            let d = self.db.pkgs[pkg].depends[di];
            if d.conflict() {
                continue;
            }
            if let Some(inst) = self.db.names[d.name].ss.installed_name {
                self.db.names[inst].ss.requirers = self.db.names[inst].ss.requirers.wrapping_add(1);
            }
        }
    }

    fn cset_track_deps_removed(&mut self, pkg: PkgId) {
        for di in 0..self.db.pkgs[pkg].depends.len() {
            let d = self.db.pkgs[pkg].depends[di];
            if d.conflict() {
                continue;
            }
            let Some(inst) = self.db.names[d.name].ss.installed_name else {
                continue;
            };
            let r = &mut self.db.names[inst].ss.requirers;
            *r = r.wrapping_sub(1);
            if *r > 0 {
                continue;
            }
            if let Some(pkg0) = self.db.names[d.name].ss.installed_pkg {
                self.cset_gen_name_remove(pkg0);
            }
        }
    }

    fn cset_check_removal_by_deps(&mut self, pkg: PkgId) {
        // An orphaned name may have no requirers because an alternate provider now
        // satisfies it; that is handled later as an adjustment.
        let name = self.db.pkgs[pkg].name;
        if self.db.names[name].ss.requirers == 0 && self.db.names[name].ss.chosen.is_none() {
            self.cset_gen_name_remove(pkg);
        }
    }

    fn cset_check_install_by_iif(&mut self, name: NameId) {
        let Some(pkg) = self.db.names[name].ss.chosen.map(|c| c.pkg) else {
            return;
        };
        if !self.db.names[name].ss.seen || self.db.names[name].ss.changeset_processed {
            return;
        }
        for di in 0..self.db.pkgs[pkg].install_if.len() {
            let dep0 = self.db.pkgs[pkg].install_if[di];
            let n0 = &self.db.names[dep0.name].ss;
            if !dep0.conflict() && !n0.changeset_processed {
                return;
            }
            if !self.db.dep_is_provided(Some(pkg), &dep0, n0.chosen) {
                return;
            }
        }
        self.cset_gen_name_change(name);
    }

    fn cset_check_removal_by_iif(&mut self, name: NameId) {
        let Some(pkg) = self.db.names[name].ss.installed_pkg else {
            return;
        };
        let n = &self.db.names[name].ss;
        if n.chosen.is_some() || n.changeset_processed || n.changeset_removed {
            return;
        }
        for di in 0..self.db.pkgs[pkg].install_if.len() {
            let dep0 = self.db.pkgs[pkg].install_if[di];
            let n0 = &self.db.names[dep0.name].ss;
            if n0.changeset_removed && n0.chosen.is_none() {
                self.cset_check_removal_by_deps(pkg);
                return;
            }
        }
    }

    fn cset_check_by_reverse_iif(&mut self, pkg: Option<PkgId>, install: bool) {
        let Some(pkg) = pkg else { return };
        let mut names = vec![self.db.pkgs[pkg].name];
        names.extend(self.db.pkgs[pkg].provides.iter().map(|d| d.name));
        for n in names {
            for i in 0..self.db.names[n].rinstall_if.len() {
                let name = self.db.names[n].rinstall_if[i];
                if install {
                    self.cset_check_install_by_iif(name);
                } else {
                    self.cset_check_removal_by_iif(name);
                }
            }
        }
    }

    fn cset_gen_name_preprocess(&mut self, name: NameId) {
        if self.db.names[name].ss.changeset_processed {
            return;
        }
        self.db.names[name].ss.changeset_processed = true;

        // Remove the package providing this name previously if it was provided by a
        // package with a different name.
        if let Some(ip) = self.db.names[name].ss.installed_pkg {
            let chosen = self.db.names[name].ss.chosen.map(|c| c.pkg);
            if chosen.is_none_or(|c| self.db.pkgs[c].name != name) {
                self.cset_gen_name_remove(ip);
            }
        }
        // Remove any package that provides this name and is due to be deleted
        for pi in 0..self.db.names[name].providers.len() {
            let pkg0 = self.db.names[name].providers[pi].pkg;
            let name0 = self.db.pkgs[pkg0].name;
            if self.db.names[name0].ss.installed_pkg == Some(pkg0)
                && self.db.names[name0].ss.chosen.is_none()
            {
                self.cset_gen_name_remove(pkg0);
            }
        }
    }

    fn cset_gen_name_change(&mut self, name: NameId) {
        if self.db.names[name].ss.changeset_processed {
            return;
        }
        self.cset_gen_name_preprocess(name);

        let Some(pkg) = self.db.names[name].ss.chosen.map(|c| c.pkg) else {
            return;
        };
        if self.db.pkgs[pkg].ss.in_changeset {
            return;
        }
        self.db.pkgs[pkg].ss.in_changeset = true;
        let pname = self.db.pkgs[pkg].name;
        self.cset_gen_name_preprocess(pname);
        for di in 0..self.db.pkgs[pkg].provides.len() {
            let dn = self.db.pkgs[pkg].provides[di].name;
            self.cset_gen_name_preprocess(dn);
        }

        let opkg = self.db.names[pname].ss.installed_pkg;
        self.cset_check_by_reverse_iif(opkg, false);

        for di in 0..self.db.pkgs[pkg].depends.len() {
            let d = self.db.pkgs[pkg].depends[di];
            self.cset_gen_dep(Some(pkg), &d);
        }

        self.record_change(opkg, Some(pkg));
        self.cset_check_by_reverse_iif(Some(pkg), true);
        self.cset_track_deps_added(pkg);
        if let Some(o) = opkg {
            self.cset_track_deps_removed(o);
        }
    }

    fn cset_gen_name_remove(&mut self, pkg: PkgId) {
        let name = self.db.pkgs[pkg].name;
        if self.db.pkgs[pkg].ss.in_changeset
            || self.db.names[name]
                .ss
                .chosen
                .is_some_and(|c| self.db.pkgs[c.pkg].name == name)
        {
            return;
        }
        self.db.names[name].ss.changeset_removed = true;
        self.db.pkgs[pkg].ss.in_changeset = true;
        // The model's reverse-dependency walk takes a plain function; run it over the
        // model and collect, then recurse in the same order apk does.
        self.foreach_reverse_removal(pkg);
        self.cset_check_by_reverse_iif(Some(pkg), false);
        self.record_change(Some(pkg), None);
        self.cset_track_deps_removed(pkg);
    }

    /// `apk_pkg_foreach_reverse_dependency(pkg, INSTALLED|SATISFIES, cset_gen_name_remove0)`.
    /// No generation id is used, so visiting order is the only state; recursion happens
    /// inside the walk exactly as in apk.
    fn foreach_reverse_removal(&mut self, pkg: PkgId) {
        let mut names = vec![self.db.pkgs[pkg].name];
        names.extend(self.db.pkgs[pkg].provides.iter().map(|d| d.name));
        for name in names {
            for ni in 0..self.db.names[name].rdepends.len() {
                let name0 = self.db.names[name].rdepends[ni];
                for pi in 0..self.db.names[name0].providers.len() {
                    let pkg0 = self.db.names[name0].providers[pi].pkg;
                    if self.db.pkgs[pkg0].ipkg.is_none() {
                        continue;
                    }
                    for di in 0..self.db.pkgs[pkg0].depends.len() {
                        let d0 = self.db.pkgs[pkg0].depends[di];
                        if self.db.dep_analyze(Some(pkg0), &d0, Some(pkg)) & DEP_SATISFIES != 0 {
                            self.cset_gen_name_remove(pkg0);
                        }
                    }
                }
            }
        }
    }

    fn cset_gen_dep(&mut self, ppkg: Option<PkgId>, dep: &Dep) {
        let name = dep.name;
        let pkg = self.db.names[name].ss.chosen.map(|c| c.pkg);
        if dep.conflict() && self.ss.ignore_conflict {
            return;
        }
        if !self
            .db
            .dep_is_provided(ppkg, dep, self.db.names[name].ss.chosen)
        {
            self.mark_error(ppkg);
        }
        self.cset_gen_name_change(name);
        if pkg.is_some_and(|p| self.db.pkgs[p].ss.error) {
            self.mark_error(ppkg);
        }
    }

    pub(super) fn generate_changeset(&mut self, world: &[Dep]) {
        self.ss.changeset = Changeset::default();
        for n in &mut self.db.names {
            n.ss.installed_pkg = None;
            n.ss.installed_name = None;
            n.ss.requirers = 0;
        }
        let installed = self.db.installed.clone();
        for &pkg in &installed {
            let name = self.db.pkgs[pkg].name;
            self.db.names[name].ss.installed_pkg = Some(pkg);
            self.db.names[name].ss.installed_name = Some(name);
            for di in 0..self.db.pkgs[pkg].provides.len() {
                let d = self.db.pkgs[pkg].provides[di];
                if d.version != NULL_ATOM {
                    self.db.names[d.name].ss.installed_name = Some(name);
                }
            }
        }
        for &pkg in &installed {
            self.cset_track_deps_added(pkg);
        }
        for &pkg in &installed {
            self.cset_check_removal_by_deps(pkg);
        }
        for d in world {
            self.cset_gen_dep(None, d);
        }
        // Treat everything as a change first; removals follow from there.
        for &pkg in &installed {
            let name = self.db.pkgs[pkg].name;
            self.cset_gen_name_change(name);
        }
    }
}
