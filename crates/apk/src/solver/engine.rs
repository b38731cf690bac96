//! A line-by-line port of `apk:src/solver.c` (apk-tools 3.0): the up- and down-propagating,
//! forward-checking, deductive solver, and the changeset generator. Function names follow
//! the C so the two can be read side by side; the order of every loop matters, because the
//! order in which names are queued decides between equally good answers.
//!
//! Here: the state, the queues and the propagation of constraints; `select` chooses a
//! name's provider, `changeset` turns the choices into apk's list of changes.

use std::cmp::Reverse;
use std::collections::{BTreeSet, VecDeque};

use super::model::*;
use crate::version;

mod changeset;
mod select;

pub(crate) use changeset::{Changeset, RawChange};

pub(crate) const SOLVERF_UPGRADE: u16 = 0x0001;
pub(crate) const SOLVERF_AVAILABLE: u16 = 0x0002;
pub(crate) const SOLVERF_REINSTALL: u16 = 0x0004;
pub(crate) const SOLVERF_LATEST: u16 = 0x0008;
pub(crate) const SOLVERF_IGNORE_CONFLICT: u16 = 0x0010;
pub(crate) const SOLVERF_INSTALLED: u16 = 0x0020;
pub(crate) const SOLVERF_REMOVE: u16 = 0x0040;

const DEFAULT_PINNING_MASK: u16 = 1;

/// `struct apk_solver_state`.
///
/// apk keeps its queues as linked lists. The FIFO ones (dirty, resolve-now) are deques
/// here whose entries carry the name's enqueue stamp, so that removing a name from the middle
/// is a stamp bump and stale entries are skipped when popped. The other two are kept sorted
/// by descending `order_id` (apk's `queue_insert`; ids are unique), which a set does in
/// O(log n) where a list scan is quadratic on long dependency chains.
#[derive(Debug, Default)]
struct State {
    dirty: VecDeque<(NameId, u32)>,
    unresolved: BTreeSet<(Reverse<i32>, NameId)>,
    selectable: BTreeSet<(Reverse<i32>, NameId)>,
    resolvenow: VecDeque<(NameId, u32)>,
    errors: u32,
    solver_flags_inherit: u16,
    pinning_inherit: u16,
    default_repos: u32,
    order_id: u32,
    ignore_conflict: bool,
    changeset: Changeset,
}

/// The solver: the model plus the state of one run.
pub(crate) struct Solve<'a> {
    db: &'a mut Model,
    ss: State,
}

/// `apk_solver_set_name_flags`.
pub(crate) fn set_name_flags(db: &mut Model, name: NameId, flags: u16, inheritable: u16) {
    db.names[name].solver_flags_set = true;
    for i in 0..db.names[name].providers.len() {
        let p = db.names[name].providers[i].pkg;
        db.pkgs[p].ss.solver_flags |= flags;
        db.pkgs[p].ss.solver_flags_inheritable |= inheritable;
    }
}

fn cmp_pkgname(db: &Model, a: &Dep, b: &Dep) -> std::cmp::Ordering {
    crate::db::name_cmp_display(&db.names[a.name].name, &db.names[b.name].name)
}

/// `apk_solver_solve`: returns the number of errors and the changeset. `world` is sorted by
/// name, and with `--force-broken-world` the unsatisfiable entries are marked broken.
pub(crate) fn solve(db: &mut Model, solver_flags: u16, world: &mut [Dep]) -> (u32, Changeset) {
    world.sort_by(|a, b| cmp_pkgname(db, a, b));
    loop {
        let mut s = Solve {
            db: &mut *db,
            ss: State::default(),
        };
        let (errors, changeset) = s.run(solver_flags, world);
        let mut retry = false;
        if errors != 0 && db.force_broken_world {
            for d in world.iter_mut() {
                let pkg = db.names[d.name].ss.chosen.map(|p| p.pkg);
                if pkg.is_none_or(|p| db.pkgs[p].ss.error) && !d.broken {
                    d.broken = true;
                    retry = true;
                }
            }
            // When nothing is left to disable apk would restart forever; report instead.
        }
        db.reset_solver_state();
        if !retry {
            return (errors, changeset);
        }
    }
}

impl Solve<'_> {
    fn run(&mut self, solver_flags: u16, world: &[Dep]) -> (u32, Changeset) {
        self.ss.default_repos = self.db.pinning_mask_repos(DEFAULT_PINNING_MASK);
        self.ss.ignore_conflict = solver_flags & SOLVERF_IGNORE_CONFLICT != 0;
        self.ss.solver_flags_inherit = solver_flags;
        for d in world {
            if !d.broken {
                self.discover_name(d.name);
            }
        }
        for d in world {
            if !d.broken {
                self.ss.pinning_inherit = 1u16 << d.tag;
                self.apply_constraint(None, d);
            }
        }
        self.ss.solver_flags_inherit = 0;
        self.ss.pinning_inherit = 0;

        loop {
            while let Some((name, stamp)) = self.ss.dirty.pop_front() {
                let n = &mut self.db.names[name].ss;
                if !n.in_dirty || n.dirty_stamp != stamp {
                    continue;
                }
                n.in_dirty = false;
                self.reconsider_name(name);
            }
            let Some(name) = self.dequeue_next_name() else {
                break;
            };
            self.select_package(name);
        }

        self.generate_changeset(world);
        (self.ss.errors, std::mem::take(&mut self.ss.changeset))
    }

    fn get_tag(&self, pinning_mask: u16, repos: u32) -> usize {
        for (i, t) in self.db.tags.iter().enumerate() {
            if i >= 16 || pinning_mask & (1 << i) == 0 {
                continue;
            }
            if t.allowed_repos & repos != 0 {
                return i;
            }
        }
        0
    }

    fn get_pkg_repos(&self, pkg: PkgId) -> u32 {
        let p = &self.db.pkgs[pkg];
        p.repos
            | p.ipkg
                .as_ref()
                .map_or(0, |i| self.db.tags[i.tag].allowed_repos)
    }

    fn mark_error(&mut self, pkg: Option<PkgId>) {
        let Some(pkg) = pkg else { return };
        if self.db.pkgs[pkg].ss.error {
            return;
        }
        self.db.pkgs[pkg].ss.error = true;
        self.ss.errors += 1;
    }

    fn queue_dirty(&mut self, name: NameId) {
        let n = &self.db.names[name].ss;
        if n.in_dirty || n.locked || (n.requirers == 0 && !n.reevaluate_iif) {
            return;
        }
        let n = &mut self.db.names[name].ss;
        n.in_dirty = true;
        n.dirty_stamp += 1;
        self.ss.dirty.push_back((name, n.dirty_stamp));
    }

    fn unqueue_dirty(&mut self, name: NameId) {
        // The deque entry goes stale; it is skipped when popped.
        self.db.names[name].ss.in_dirty = false;
    }

    fn queue_resolvenow(&self, name: NameId) -> bool {
        let n = &self.db.names[name].ss;
        n.reverse_deps_done && n.requirers != 0 && n.has_auto_selectable && !n.has_options
    }

    fn unqueue(&mut self, name: NameId) {
        let n = &mut self.db.names[name].ss;
        let key = (Reverse(n.order_id), name);
        match n.queue.take() {
            Some(Queue::ResolveNow) => n.queue_stamp += 1,
            Some(Queue::Selectable) => {
                self.ss.selectable.remove(&key);
            }
            Some(Queue::Unresolved) => {
                self.ss.unresolved.remove(&key);
            }
            None => {}
        }
    }

    fn queue_insert(&mut self, q: Queue, name: NameId) {
        let key = (Reverse(self.db.names[name].ss.order_id), name);
        match q {
            Queue::Selectable => self.ss.selectable.insert(key),
            Queue::Unresolved => self.ss.unresolved.insert(key),
            Queue::ResolveNow => unreachable!("resolve-now is a FIFO"),
        };
        self.db.names[name].ss.queue = Some(q);
    }

    fn push_resolvenow(&mut self, name: NameId) {
        let n = &mut self.db.names[name].ss;
        n.queue = Some(Queue::ResolveNow);
        n.queue_stamp += 1;
        self.ss.resolvenow.push_back((name, n.queue_stamp));
    }

    fn queue_unresolved(&mut self, name: NameId, reevaluate: bool) {
        if self.db.names[name].ss.locked {
            return;
        }
        if self.db.names[name].ss.queue.is_some() {
            if self.db.names[name].ss.resolvenow {
                return;
            }
            if self.queue_resolvenow(name) {
                self.db.names[name].ss.resolvenow = true;
            } else if !reevaluate {
                return;
            }
            self.unqueue(name);
        } else {
            let n = &self.db.names[name].ss;
            if n.requirers == 0 && !n.has_iif && !n.iif_needed {
                return;
            }
            self.db.names[name].ss.resolvenow = self.queue_resolvenow(name);
        }
        if self.db.names[name].ss.resolvenow {
            self.push_resolvenow(name);
            return;
        }
        let q = if self.db.names[name].ss.has_auto_selectable {
            Queue::Selectable
        } else {
            Queue::Unresolved
        };
        self.queue_insert(q, name);
    }

    fn reevaluate_reverse_deps(&mut self, name: NameId) {
        for i in 0..self.db.names[name].rdepends.len() {
            let name0 = self.db.names[name].rdepends[i];
            if !self.db.names[name0].ss.seen {
                continue;
            }
            self.db.names[name0].ss.reevaluate_deps = true;
            self.queue_dirty(name0);
        }
    }

    fn reevaluate_reverse_installif(&mut self, name: NameId) {
        for i in 0..self.db.names[name].rinstall_if.len() {
            let name0 = self.db.names[name].rinstall_if[i];
            let n = &self.db.names[name0].ss;
            if !n.seen || n.no_iif {
                continue;
            }
            self.db.names[name0].ss.reevaluate_iif = true;
            self.queue_dirty(name0);
        }
    }

    fn reevaluate_reverse_installif_pkg(&mut self, pkg: PkgId) {
        let name = self.db.pkgs[pkg].name;
        self.reevaluate_reverse_installif(name);
        for i in 0..self.db.pkgs[pkg].provides.len() {
            let n = self.db.pkgs[pkg].provides[i].name;
            self.reevaluate_reverse_installif(n);
        }
    }

    fn disqualify_package(&mut self, pkg: PkgId) {
        self.db.pkgs[pkg].ss.pkg_selectable = false;
        let name = self.db.pkgs[pkg].name;
        self.reevaluate_reverse_deps(name);
        for i in 0..self.db.pkgs[pkg].provides.len() {
            let n = self.db.pkgs[pkg].provides[i].name;
            self.reevaluate_reverse_deps(n);
        }
        self.reevaluate_reverse_installif_pkg(pkg);
    }

    fn dependency_satisfiable(&self, dpkg: PkgId, dep: &Dep) -> bool {
        let name = &self.db.names[dep.name];
        if dep.conflict() && self.ss.ignore_conflict {
            return true;
        }
        if name.ss.locked {
            return self.db.dep_is_provided(Some(dpkg), dep, name.ss.chosen);
        }
        if name.ss.requirers == 0 && self.db.dep_is_provided(Some(dpkg), dep, None) {
            return true;
        }
        name.providers.iter().any(|p| {
            self.db.pkgs[p.pkg].ss.pkg_selectable
                && self.db.dep_is_provided(Some(dpkg), dep, Some(*p))
        })
    }

    fn discover_name(&mut self, name: NameId) {
        if self.db.names[name].ss.seen {
            return;
        }
        self.db.names[name].ss.seen = true;
        self.db.names[name].ss.no_iif = true;
        let mut num_virtual = 0;
        for pi in 0..self.db.names[name].providers.len() {
            let pkg = self.db.names[name].providers[pi].pkg;
            if !self.db.pkgs[pkg].ss.seen {
                let available = self.db.pkg_available(pkg);
                let repos = self.get_pkg_repos(pkg);
                let default_repos = self.ss.default_repos;
                let active = self.db.active_layers;
                let inherit = self.ss.solver_flags_inherit;
                let p = &mut self.db.pkgs[pkg];
                p.ss.seen = true;
                p.ss.pinning_allowed = DEFAULT_PINNING_MASK;
                p.ss.pinning_preferred = DEFAULT_PINNING_MASK;
                p.ss.pkg_available = available;
                p.ss.pkg_selectable = !p.uninstallable
                    && (1u32 << p.layer) & active != 0
                    && (available
                        || p.cached
                        || p.cached_non_repository
                        || p.installed_size == 0
                        || p.ipkg.is_some());
                p.ss.iif_failed =
                    p.install_if.is_empty() || (inherit & SOLVERF_AVAILABLE != 0 && !available);
                p.ss.tag_preferred = p.installed_size == 0 || repos & default_repos != 0;
                p.ss.tag_ok = p.ss.tag_preferred || p.cached_non_repository || p.ipkg.is_some();
                for di in 0..self.db.pkgs[pkg].depends.len() {
                    let d = self.db.pkgs[pkg].depends[di].name;
                    self.discover_name(d);
                }
            }
            let iif_failed = self.db.pkgs[pkg].ss.iif_failed;
            self.db.names[name].ss.no_iif &= iif_failed;
            if self.db.pkgs[pkg].name != name {
                num_virtual += 1;
            }
        }

        for i in 0..self.db.names[name].rinstall_if.len() {
            let n0 = self.db.names[name].rinstall_if[i];
            self.discover_name(n0);
        }

        for pi in 0..self.db.names[name].providers.len() {
            let pkg = self.db.names[name].providers[pi].pkg;
            let pname = self.db.pkgs[pkg].name;
            for i in 0..self.db.names[pname].rinstall_if.len() {
                let n0 = self.db.names[pname].rinstall_if[i];
                self.discover_name(n0);
            }
            for i in 0..self.db.pkgs[pkg].provides.len() {
                let n0 = self.db.pkgs[pkg].provides[i].name;
                self.discover_name(n0);
            }
        }

        let mut order_flags: u32 = 0;
        if !self.db.names[name].solver_flags_set {
            order_flags |= 1 << 31;
        }
        if self.db.names[name].providers.len() != num_virtual {
            order_flags |= 1 << 30;
        }
        self.ss.order_id += 1;
        // apk stores this in an int: bit 31 makes it negative.
        self.db.names[name].ss.order_id = (order_flags | self.ss.order_id) as i32;

        for pi in 0..self.db.names[name].providers.len() {
            let pkg = self.db.names[name].providers[pi].pkg;
            for i in 0..self.db.pkgs[pkg].install_if.len() {
                let n0 = self.db.pkgs[pkg].install_if[i].name;
                self.discover_name(n0);
            }
        }
    }

    fn name_requirers_changed(&mut self, name: NameId) {
        self.queue_unresolved(name, false);
        self.reevaluate_reverse_installif(name);
        self.queue_dirty(name);
    }

    fn inherit_pinning_and_flags(&mut self, pkg: PkgId, ppkg: Option<PkgId>) {
        let repos = self.get_pkg_repos(pkg);
        match ppkg {
            Some(pp) => {
                let (inh, pin) = {
                    let s = &self.db.pkgs[pp].ss;
                    (s.solver_flags_inheritable, s.pinning_allowed)
                };
                let s = &mut self.db.pkgs[pkg].ss;
                s.solver_flags |= inh;
                s.solver_flags_inheritable |= inh;
                s.pinning_allowed |= pin;
            }
            None => {
                let inherit = self.ss.solver_flags_inherit;
                let pin = self.ss.pinning_inherit;
                let preferred = self.db.pinning_mask_repos(pin);
                let s = &mut self.db.pkgs[pkg].ss;
                s.solver_flags |= inherit;
                s.solver_flags_inheritable |= inherit;
                s.pinning_allowed |= pin;
                s.pinning_preferred = pin;
                s.tag_preferred = repos & preferred != 0;
            }
        }
        let allowed = self
            .db
            .pinning_mask_repos(self.db.pkgs[pkg].ss.pinning_allowed);
        self.db.pkgs[pkg].ss.tag_ok |= repos & allowed != 0;
    }

    fn apply_constraint(&mut self, ppkg: Option<PkgId>, dep: &Dep) {
        let name = dep.name;
        if dep.conflict() && self.ss.ignore_conflict {
            return;
        }
        if !dep.conflict() {
            let r = &mut self.db.names[name].ss.requirers;
            *r = r.wrapping_add(1);
            if *r == 1 {
                self.name_requirers_changed(name);
            }
        }
        for pi in 0..self.db.names[name].providers.len() {
            let p0 = self.db.names[name].providers[pi];
            let pkg0 = p0.pkg;
            let is_provided = self.db.dep_is_provided(ppkg, dep, Some(p0));
            if !is_provided {
                self.db.pkgs[pkg0].ss.conflicts += 1;
            }
            if self.db.pkgs[pkg0].ss.pkg_selectable && self.db.pkgs[pkg0].ss.conflicts != 0 {
                self.disqualify_package(pkg0);
            }
            if is_provided {
                self.inherit_pinning_and_flags(pkg0, ppkg);
            }
        }
    }

    fn exclude_non_providers(&mut self, name: NameId, must_provide: NameId, skip_virtuals: bool) {
        if name == must_provide || self.ss.ignore_conflict {
            return;
        }
        for pi in 0..self.db.names[name].providers.len() {
            let p = self.db.names[name].providers[pi];
            let pkg = &self.db.pkgs[p.pkg];
            if pkg.name == must_provide
                || !pkg.ss.pkg_selectable
                || (skip_virtuals && p.version == NULL_ATOM)
            {
                continue;
            }
            if pkg
                .provides
                .iter()
                .any(|d| d.name == must_provide || (skip_virtuals && d.version == NULL_ATOM))
            {
                continue;
            }
            self.disqualify_package(p.pkg);
        }
    }

    fn is_provider_auto_selectable(&self, p: &Provider) -> bool {
        // A virtual provider is only picked on its own with a provider_priority.
        if p.version != NULL_ATOM {
            return true;
        }
        let pkg = &self.db.pkgs[p.pkg];
        pkg.provider_priority != 0 || self.db.names[pkg.name].ss.requirers != 0
    }

    /// Whether `pkg`'s install_if is triggered now, or failed (and the pinning and flags
    /// it inherits when triggered).
    fn reevaluate_install_if(&mut self, pkg: PkgId) {
        if !self.db.pkgs[pkg].ss.iif_triggered && !self.db.pkgs[pkg].ss.iif_failed {
            self.db.pkgs[pkg].ss.iif_triggered = true;
            self.db.pkgs[pkg].ss.iif_failed = false;
            for di in 0..self.db.pkgs[pkg].install_if.len() {
                let dep = self.db.pkgs[pkg].install_if[di];
                let dn = dep.name;
                if !self.db.names[dn].ss.locked {
                    if dep.conflict() {
                        self.db.names[dn].ss.iif_needed = true;
                        self.queue_unresolved(dn, false);
                    }
                    self.db.pkgs[pkg].ss.iif_triggered = false;
                    self.db.pkgs[pkg].ss.iif_failed = false;
                    break;
                }
                let chosen = self.db.names[dn].ss.chosen;
                if !self.db.dep_is_provided(Some(pkg), &dep, chosen) {
                    self.db.pkgs[pkg].ss.iif_triggered = false;
                    self.db.pkgs[pkg].ss.iif_failed = true;
                    break;
                }
            }
        }
        if self.db.pkgs[pkg].ss.iif_triggered {
            for di in 0..self.db.pkgs[pkg].install_if.len() {
                let dn = self.db.pkgs[pkg].install_if[di].name;
                let chosen = self.db.names[dn].ss.chosen.map(|c| c.pkg);
                self.inherit_pinning_and_flags(pkg, chosen);
            }
        }
    }

    /// Counts provider `p`'s dependencies and provides in the merge masks of their names.
    fn merge_dependencies(&mut self, p: &Provider, num_options: u16) {
        let pkg = p.pkg;
        for di in 0..self.db.pkgs[pkg].depends.len() {
            let dep = self.db.pkgs[pkg].depends[di];
            if !dep.conflict() {
                merge_index(&mut self.db.names[dep.name].ss.merge_depends, num_options);
            }
        }
        let pname = self.db.pkgs[pkg].name;
        if merge_index(&mut self.db.names[pname].ss.merge_provides, num_options) {
            self.db.names[pname].ss.has_virtual_provides |= p.version == NULL_ATOM;
        }
        for di in 0..self.db.pkgs[pkg].provides.len() {
            let dep = self.db.pkgs[pkg].provides[di];
            if merge_index(&mut self.db.names[dep.name].ss.merge_provides, num_options) {
                self.db.names[dep.name].ss.has_virtual_provides |= dep.version == NULL_ATOM;
            }
        }
    }

    /// Propagates what every option of `name` depends on and provides, from its first
    /// candidate `pkg`.
    fn propagate_common(&mut self, name: NameId, pkg: PkgId, num_options: u16) {
        for pi in 0..self.db.names[name].providers.len() {
            let p = self.db.names[name].providers[pi].pkg;
            self.db.pkgs[p].ss.dependencies_used = self.db.pkgs[p].ss.dependencies_merged;
        }

        // propagate down common dependencies
        if num_options == 1 {
            for di in 0..self.db.pkgs[pkg].depends.len() {
                let dep = self.db.pkgs[pkg].depends[di];
                if merge_index_complete(&mut self.db.names[dep.name].ss.merge_depends, num_options)
                {
                    self.apply_constraint(Some(pkg), &dep);
                }
            }
        } else {
            for di in 0..self.db.pkgs[pkg].depends.len() {
                let dep = self.db.pkgs[pkg].depends[di];
                let name0 = dep.name;
                if merge_index_complete(&mut self.db.names[name0].ss.merge_depends, num_options)
                    && self.db.names[name0].ss.requirers == 0
                {
                    // common dependency name with all
                    self.db.names[name0].ss.requirers += 1;
                    self.name_requirers_changed(name0);
                    for pi in 0..self.db.names[name0].providers.len() {
                        let p = self.db.names[name0].providers[pi].pkg;
                        self.inherit_pinning_and_flags(p, Some(pkg));
                    }
                }
            }
        }

        // provides transitivity
        let pname = self.db.pkgs[pkg].name;
        if merge_index_complete(&mut self.db.names[pname].ss.merge_provides, num_options) {
            let skip = self.db.names[pname].ss.has_virtual_provides;
            self.exclude_non_providers(pname, name, skip);
        }
        for di in 0..self.db.pkgs[pkg].provides.len() {
            let dn = self.db.pkgs[pkg].provides[di].name;
            if merge_index_complete(&mut self.db.names[dn].ss.merge_provides, num_options) {
                let skip = self.db.names[dn].ss.has_virtual_provides;
                self.exclude_non_providers(dn, name, skip);
            }
        }

        self.db.names[pname].ss.has_virtual_provides = false;
        for di in 0..self.db.pkgs[pkg].provides.len() {
            let dn = self.db.pkgs[pkg].provides[di].name;
            self.db.names[dn].ss.has_virtual_provides = false;
        }
    }

    fn reconsider_name(&mut self, name: NameId) {
        let mut first_candidate: Option<PkgId> = None;
        let mut num_options: u16 = 0;
        let mut num_tag_not_ok = 0;
        let mut has_iif = false;
        let mut no_iif = true;
        let mut reevaluate = false;

        let reevaluate_deps = self.db.names[name].ss.reevaluate_deps;
        let reevaluate_iif = self.db.names[name].ss.reevaluate_iif;
        self.db.names[name].ss.reevaluate_deps = false;
        self.db.names[name].ss.reevaluate_iif = false;

        let mut has_auto_selectable = false;
        for pi in 0..self.db.names[name].providers.len() {
            let p = self.db.names[name].providers[pi];
            let pkg = p.pkg;
            self.db.pkgs[pkg].ss.dependencies_merged = false;
            if reevaluate_deps {
                if !self.db.pkgs[pkg].ss.pkg_selectable {
                    continue;
                }
                for di in 0..self.db.pkgs[pkg].depends.len() {
                    let dep = self.db.pkgs[pkg].depends[di];
                    if !self.dependency_satisfiable(pkg, &dep) {
                        self.disqualify_package(pkg);
                        break;
                    }
                }
            }
            if !self.db.pkgs[pkg].ss.pkg_selectable {
                continue;
            }

            if reevaluate_iif {
                self.reevaluate_install_if(pkg);
            }
            has_iif |= self.db.pkgs[pkg].ss.iif_triggered;
            no_iif &= self.db.pkgs[pkg].ss.iif_failed;
            has_auto_selectable |= self.db.pkgs[pkg].ss.iif_triggered;

            if self.db.names[name].ss.requirers == 0 {
                continue;
            }

            // merge common dependencies
            self.db.pkgs[pkg].ss.dependencies_merged = true;
            if first_candidate.is_none() {
                first_candidate = Some(pkg);
            }
            self.merge_dependencies(&p, num_options);

            if !self.db.pkgs[pkg].ss.tag_ok {
                num_tag_not_ok += 1;
            }
            num_options += 1;
            if !has_auto_selectable && self.is_provider_auto_selectable(&p) {
                has_auto_selectable = true;
            }
        }
        {
            let n = &mut self.db.names[name].ss;
            n.has_options = num_options > 1 || num_tag_not_ok > 0;
            n.has_iif = has_iif;
            n.no_iif = no_iif;
            if has_auto_selectable != n.has_auto_selectable {
                n.has_auto_selectable = has_auto_selectable;
                reevaluate = true;
            }
        }

        if let Some(pkg) = first_candidate {
            self.propagate_common(name, pkg, num_options);
        }

        let done = !self.db.names[name]
            .rdepends
            .iter()
            .any(|&n0| self.db.names[n0].ss.seen && !self.db.names[n0].ss.locked);
        self.db.names[name].ss.reverse_deps_done = done;
        self.queue_unresolved(name, reevaluate);
    }

    fn dequeue_next_name(&mut self) -> Option<NameId> {
        while let Some((name, stamp)) = self.ss.resolvenow.pop_front() {
            let n = &mut self.db.names[name].ss;
            if n.queue == Some(Queue::ResolveNow) && n.queue_stamp == stamp {
                n.queue = None;
                return Some(name);
            }
        }
        for q in [Queue::Selectable, Queue::Unresolved] {
            let set = match q {
                Queue::Selectable => &mut self.ss.selectable,
                _ => &mut self.ss.unresolved,
            };
            if let Some((_, name)) = set.pop_first() {
                self.db.names[name].ss.queue = None;
                return Some(name);
            }
        }
        None
    }
}

fn merge_index(index: &mut u16, num_options: u16) -> bool {
    if *index != num_options {
        return false;
    }
    *index = num_options + 1;
    true
}

fn merge_index_complete(index: &mut u16, num_options: u16) -> bool {
    let ret = *index == num_options;
    *index = 0;
    ret
}
