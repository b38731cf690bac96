//! Choosing a name's provider: `compare_providers`, `assign_name` and `select_package` of
//! `apk:src/solver.c`.

use super::*;

impl Solve<'_> {
    fn compare_providers(&self, pa: &Provider, pb: Option<&Provider>) -> i32 {
        let Some(pb) = pb else { return 1 };
        let db = &*self.db;
        let (a, b) = (&db.pkgs[pa.pkg], &db.pkgs[pb.pkg]);
        let solver_flags = a.ss.solver_flags | b.ss.solver_flags;
        let d = |x: bool, y: bool| i32::from(x) - i32::from(y);

        if solver_flags & SOLVERF_LATEST != 0
            && a.ss.pinning_allowed == DEFAULT_PINNING_MASK
            && b.ss.pinning_allowed == DEFAULT_PINNING_MASK
        {
            // Prefer allowed pinning
            let r = d(a.ss.tag_ok, b.ss.tag_ok);
            if r != 0 {
                return r;
            }
            // Prefer available
            if solver_flags & SOLVERF_AVAILABLE != 0 {
                let r = d(a.ss.pkg_available, b.ss.pkg_available);
                if r != 0 {
                    return r;
                }
            } else if solver_flags & SOLVERF_REINSTALL != 0 {
                let r = d(a.ss.pkg_selectable, b.ss.pkg_selectable);
                if r != 0 {
                    return r;
                }
            }
        } else {
            // Prefer without errors
            let r = d(a.ss.pkg_selectable, b.ss.pkg_selectable);
            if r != 0 {
                return r;
            }
            // Prefer those that were in last dependency merging group
            let r = d(a.ss.dependencies_used, b.ss.dependencies_used);
            if r != 0 {
                return r;
            }
            let r = b.ss.conflicts as i32 - a.ss.conflicts as i32;
            if r != 0 {
                return r;
            }
            // Prefer installed on self-upgrade
            if (db.performing_preupgrade && solver_flags & SOLVERF_UPGRADE == 0)
                || solver_flags & SOLVERF_INSTALLED != 0
            {
                let r = d(a.ipkg.is_some(), b.ipkg.is_some());
                if r != 0 {
                    return r;
                }
            }
            // Prefer allowed pinning
            let r = d(a.ss.tag_ok, b.ss.tag_ok);
            if r != 0 {
                return r;
            }
            // Prefer available
            if solver_flags & SOLVERF_AVAILABLE != 0 {
                let r = d(a.ss.pkg_available, b.ss.pkg_available);
                if r != 0 {
                    return r;
                }
            }
            // Prefer preferred pinning
            let r = d(a.ss.tag_preferred, b.ss.tag_preferred);
            if r != 0 {
                return r;
            }
            // Prefer installed
            if solver_flags & (SOLVERF_REMOVE | SOLVERF_UPGRADE) == 0
                && (a.name == b.name || pa.version != NULL_ATOM || pb.version != NULL_ATOM)
            {
                let r = d(a.ipkg.is_some(), b.ipkg.is_some());
                if r != 0 {
                    return r;
                }
            }
        }

        // Select latest by requested name
        match version::compare(db.atom_str(pa.version), db.atom_str(pb.version)) {
            std::cmp::Ordering::Less => return -1,
            std::cmp::Ordering::Greater => return 1,
            std::cmp::Ordering::Equal => {}
        }
        // Select latest by principal name
        if a.name == b.name {
            match db.version_cmp_pkgs(pa.pkg, pb.pkg) {
                std::cmp::Ordering::Less => return -1,
                std::cmp::Ordering::Greater => return 1,
                std::cmp::Ordering::Equal => {}
            }
        }
        // Prefer highest declared provider priority
        let r = a.provider_priority as i32 - b.provider_priority as i32;
        if r != 0 {
            return r;
        }
        // Prefer installed (matches here if upgrading)
        if solver_flags & SOLVERF_REMOVE == 0 {
            let r = d(a.ipkg.is_some(), b.ipkg.is_some());
            if r != 0 {
                return r;
            }
        }
        // Prefer without errors (mostly if --latest used, and different provider)
        let r = d(a.ss.pkg_selectable, b.ss.pkg_selectable);
        if r != 0 {
            return r;
        }
        // Prefer lowest available repository
        ffs(b.repos) - ffs(a.repos)
    }

    fn assign_name(&mut self, name: NameId, p: Option<Provider>) {
        let pv = p.map_or(NULL_ATOM, |p| p.version);
        if self.db.names[name].ss.locked {
            // If both are providing this name without version, it's ok
            let cv = self.db.names[name]
                .ss
                .chosen
                .map_or(NULL_ATOM, |c| c.version);
            if pv == NULL_ATOM && cv == NULL_ATOM {
                return;
            }
            if self.ss.ignore_conflict {
                return;
            }
            // Conflict: providing same name
            self.mark_error(p.map(|p| p.pkg));
            let chosen = self.db.names[name].ss.chosen.map(|c| c.pkg);
            self.mark_error(chosen);
            return;
        }

        self.db.names[name].ss.locked = true;
        self.db.names[name].ss.chosen = p;
        self.unqueue(name);
        self.unqueue_dirty(name);

        if let Some(p) = p {
            if self.db.names[name].ss.requirers == 0 && self.db.pkgs[p.pkg].ss.iif_triggered {
                for di in 0..self.db.pkgs[p.pkg].install_if.len() {
                    let dep = self.db.pkgs[p.pkg].install_if[di];
                    if !self.db.names[dep.name].ss.locked {
                        self.apply_constraint(Some(p.pkg), &dep);
                    }
                }
            }
        }

        // disqualify all conflicting packages
        if !self.ss.ignore_conflict {
            for pi in 0..self.db.names[name].providers.len() {
                let p0 = self.db.names[name].providers[pi];
                if Some(p0.pkg) == p.map(|p| p.pkg) {
                    continue;
                }
                if pv == NULL_ATOM && p0.version == NULL_ATOM {
                    continue;
                }
                self.disqualify_package(p0.pkg);
            }
        }
        self.reevaluate_reverse_deps(name);
        match p {
            Some(p) => self.reevaluate_reverse_installif_pkg(p.pkg),
            None => self.reevaluate_reverse_installif(name),
        }
    }

    pub(super) fn select_package(&mut self, name: NameId) {
        let mut chosen: Option<Provider> = None;
        if self.db.names[name].ss.requirers != 0 || self.db.names[name].ss.has_iif {
            for pi in 0..self.db.names[name].providers.len() {
                let p = self.db.names[name].providers[pi];
                let s = &self.db.pkgs[p.pkg].ss;
                // Ensure valid pinning and install-if trigger
                if self.db.names[name].ss.requirers == 0
                    && (!s.iif_triggered || !s.tag_ok || !s.pkg_selectable)
                {
                    continue;
                }
                if !self.is_provider_auto_selectable(&p) {
                    continue;
                }
                if self.compare_providers(&p, chosen.as_ref()) > 0 {
                    chosen = Some(p);
                }
            }
        }

        match chosen {
            Some(c) => {
                let pkg = c.pkg;
                if !self.db.pkgs[pkg].ss.pkg_selectable || !self.db.pkgs[pkg].ss.tag_ok {
                    // Selecting broken or unallowed package
                    self.mark_error(Some(pkg));
                }
                let pname = self.db.pkgs[pkg].name;
                let version = self.db.pkgs[pkg].version;
                self.assign_name(pname, Some(Provider { pkg, version }));
                for di in 0..self.db.pkgs[pkg].provides.len() {
                    let d = self.db.pkgs[pkg].provides[di];
                    self.assign_name(
                        d.name,
                        Some(Provider {
                            pkg,
                            version: d.version,
                        }),
                    );
                }
                for di in 0..self.db.pkgs[pkg].depends.len() {
                    let d = self.db.pkgs[pkg].depends[di];
                    self.apply_constraint(Some(pkg), &d);
                }
            }
            None => {
                self.assign_name(name, None);
                if self.db.names[name].ss.requirers > 0 {
                    self.ss.errors += 1;
                }
            }
        }
    }
}

/// `ffs`: 1-based index of the lowest set bit, 0 for none.
fn ffs(x: u32) -> i32 {
    if x == 0 {
        0
    } else {
        x.trailing_zeros() as i32 + 1
    }
}
