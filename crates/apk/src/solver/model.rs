//! The package universe the solver works on: a port of the parts of `struct apk_database`
//! that `apk:src/solver.c` and `commit.c` read. Names and packages live in arenas and refer
//! to each other by index; versions are interned so that "same atom" tests (apk compares
//! version pointers) become index comparisons.

use std::collections::HashMap;

use crate::db::{InstalledPackage, PackageInfo};
use crate::dep::Dependency;
use crate::version::{self, VersionOp};

pub(crate) type NameId = usize;
pub(crate) type PkgId = usize;
/// Interned string; [`NULL_ATOM`] is apk's `apk_atom_null` (no version).
pub(crate) type Atom = u32;
pub(crate) const NULL_ATOM: Atom = 0;

/// `APK_MAX_TAGS`: pinning masks are 16 bits wide.
pub(crate) const MAX_TAGS: usize = 16;
/// `APK_MAX_REPOS`: repository masks are 32 bits wide.
pub(crate) const MAX_REPOS: usize = 32;

pub(crate) const DEP_IRRELEVANT: u32 = 0x01;
pub(crate) const DEP_SATISFIES: u32 = 0x02;
pub(crate) const DEP_CONFLICTS: u32 = 0x04;
pub(crate) const FOREACH_NO_CONFLICTS: u32 = 0x08;
pub(crate) const FOREACH_INSTALLED: u32 = 0x10;
pub(crate) const FOREACH_MARKED: u32 = 0x20;
pub(crate) const FOREACH_DEP: u32 = 0x80;
pub(crate) const FOREACH_GENID_MASK: u32 = 0xffff_ff00;

const OP_CONFLICT: u8 = VersionOp::CONFLICT.bits();
const OP_ANY: u8 = VersionOp::ANY.bits();
const OP_CHECKSUM: u8 = VersionOp::CHECKSUM.bits();

/// A dependency inside the model (`struct apk_dependency`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dep {
    pub name: NameId,
    pub version: Atom,
    /// Comparison mask including the conflict bit.
    pub op: u8,
    pub broken: bool,
    /// World dependencies only: index into `Model::tags`.
    pub tag: usize,
}

impl Dep {
    pub fn conflict(&self) -> bool {
        self.op & OP_CONFLICT != 0
    }
}

/// A package as a provider of a name, at the version it provides (`NULL_ATOM` for an
/// unversioned provides).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Provider {
    pub pkg: PkgId,
    pub version: Atom,
}

/// Which of the solver's queues a name sits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Queue {
    ResolveNow,
    Selectable,
    Unresolved,
}

/// `struct apk_solver_name_state`.
#[derive(Debug, Clone, Default)]
pub(crate) struct NameState {
    pub chosen: Option<Provider>,
    pub in_dirty: bool,
    pub dirty_stamp: u32,
    pub queue: Option<Queue>,
    pub queue_stamp: u32,
    pub installed_name: Option<NameId>,
    pub installed_pkg: Option<PkgId>,
    pub order_id: i32,
    pub requirers: u16,
    pub merge_depends: u16,
    pub merge_provides: u16,
    pub seen: bool,
    pub locked: bool,
    pub changeset_processed: bool,
    pub changeset_removed: bool,
    pub reevaluate_deps: bool,
    pub reevaluate_iif: bool,
    pub has_iif: bool,
    pub no_iif: bool,
    pub has_options: bool,
    pub reverse_deps_done: bool,
    pub has_virtual_provides: bool,
    pub has_auto_selectable: bool,
    pub iif_needed: bool,
    pub resolvenow: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Name {
    pub name: String,
    pub providers: Vec<Provider>,
    pub rdepends: Vec<NameId>,
    pub rinstall_if: Vec<NameId>,
    pub solver_flags_set: bool,
    pub has_repository_providers: bool,
    pub ss: NameState,
    /// Scratch flags of the error reporter and `del` (apk's `state_int`).
    pub state_int: u32,
    /// Creation order, for apk's hash-table iteration order.
    pub serial: usize,
}

/// `struct apk_solver_package_state`.
#[derive(Debug, Clone, Default)]
pub(crate) struct PkgState {
    pub conflicts: u32,
    pub pinning_allowed: u16,
    pub pinning_preferred: u16,
    pub solver_flags: u16,
    pub solver_flags_inheritable: u16,
    pub seen: bool,
    pub pkg_available: bool,
    pub pkg_selectable: bool,
    pub tag_ok: bool,
    pub tag_preferred: bool,
    pub dependencies_used: bool,
    pub dependencies_merged: bool,
    pub in_changeset: bool,
    pub iif_triggered: bool,
    pub iif_failed: bool,
    pub error: bool,
}

/// `struct apk_installed_package`, the parts the solver reads.
#[derive(Debug, Clone)]
pub(crate) struct Ipkg {
    pub tag: usize,
    pub broken_files: bool,
    pub broken_script: bool,
    /// Files as `dir/name`, for "who owns" queries.
    pub files: Vec<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Pkg {
    pub name: NameId,
    pub version: Atom,
    pub arch: String,
    pub depends: Vec<Dep>,
    pub provides: Vec<Dep>,
    pub install_if: Vec<Dep>,
    pub size: u64,
    pub installed_size: u64,
    pub provider_priority: u32,
    pub repos: u32,
    pub layer: u8,
    pub uninstallable: bool,
    pub cached: bool,
    pub cached_non_repository: bool,
    pub ipkg: Option<Ipkg>,
    pub marked: bool,
    pub foreach_genid: u32,
    pub state_int: u32,
    pub ss: PkgState,
    /// The record this package came from (first one read wins, as in apk).
    pub info: PackageInfo,
}

/// `struct apk_repository_tag`.
#[derive(Debug, Clone)]
pub(crate) struct Tag {
    /// `@name`, or empty for the default tag.
    pub tag: String,
    pub plain: String,
    pub allowed_repos: u32,
}

#[derive(Debug, Clone)]
pub(crate) struct Repo {
    pub url: String,
    pub tag_mask: u32,
}

/// Where a package record comes from when it is added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    Installed,
    CacheInstalled,
    Repository(usize),
    Virtual,
}

/// The database: names, packages, repositories, tags, installed packages and world.
#[derive(Debug, Clone, Default)]
pub(crate) struct Model {
    pub names: Vec<Name>,
    name_index: HashMap<String, NameId>,
    pub pkgs: Vec<Pkg>,
    pkg_index: HashMap<String, PkgId>,
    atoms: Vec<String>,
    atom_index: HashMap<String, Atom>,
    pub tags: Vec<Tag>,
    pub repos: Vec<Repo>,
    pub available_repos: u32,
    pub local_repos: u32,
    pub arches: Vec<String>,
    pub active_layers: u32,
    /// Installed packages in database order.
    pub installed: Vec<PkgId>,
    pub installed_bytes: u64,
    pub installed_dirs: usize,
    pub installed_files: usize,
    pub world: Vec<Dep>,
    pub open_complete: bool,
    pub performing_preupgrade: bool,
    pub force_broken_world: bool,
    pub compat_newfeatures: bool,
    pub compat_notinstallable: bool,
    pub compat_depversions: bool,
    genid: u32,
    pub virtual_serial: u32,
}

fn murmur3_32(key: &[u8], seed: u32) -> u32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let mut h = seed;
    let mut chunks = key.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        h ^= k;
        h = h.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        let mut k = 0u32;
        for (i, b) in tail.iter().enumerate() {
            k ^= u32::from(*b) << (8 * i);
        }
        k = k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        h ^= k;
    }
    h ^= key.len() as u32;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^= h >> 16;
    h
}

impl Model {
    pub fn new(arches: &[String]) -> Model {
        let mut m = Model {
            active_layers: 1,
            ..Model::default()
        };
        m.atoms.push(String::new());
        m.tags.push(Tag {
            tag: String::new(),
            plain: String::new(),
            allowed_repos: 0,
        });
        for a in arches {
            let a = a.trim();
            if !a.is_empty() && !m.arches.iter().any(|x| x == a) {
                m.arches.push(a.to_string());
            }
        }
        m
    }

    pub fn atom(&mut self, s: &str) -> Atom {
        if s.is_empty() {
            return NULL_ATOM;
        }
        if let Some(&a) = self.atom_index.get(s) {
            return a;
        }
        let a = self.atoms.len() as Atom;
        self.atoms.push(s.to_string());
        self.atom_index.insert(s.to_string(), a);
        a
    }

    pub fn atom_str(&self, a: Atom) -> &str {
        &self.atoms[a as usize]
    }

    pub fn get_name(&mut self, name: &str) -> NameId {
        if let Some(&n) = self.name_index.get(name) {
            return n;
        }
        let id = self.names.len();
        self.names.push(Name {
            name: name.to_string(),
            providers: Vec::new(),
            rdepends: Vec::new(),
            rinstall_if: Vec::new(),
            solver_flags_set: false,
            has_repository_providers: false,
            ss: NameState::default(),
            state_int: 0,
            serial: id,
        });
        self.name_index.insert(name.to_string(), id);
        id
    }

    pub fn query_name(&self, name: &str) -> Option<NameId> {
        self.name_index.get(name).copied()
    }

    /// Names in the order apk's name hash table yields them (murmur3 buckets of 20000,
    /// newest first within a bucket).
    pub fn names_in_hash_order(&self) -> Vec<NameId> {
        let mut v: Vec<(u32, std::cmp::Reverse<usize>, NameId)> = self
            .names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                (
                    murmur3_32(n.name.as_bytes(), 5381) % 20000,
                    std::cmp::Reverse(n.serial),
                    i,
                )
            })
            .collect();
        v.sort();
        v.into_iter().map(|(_, _, i)| i).collect()
    }

    /// `apk_db_get_tag_id` for a tag written with or without `@`.
    pub fn get_tag_id(&mut self, tag: Option<&str>) -> usize {
        let Some(tag) = tag else { return 0 };
        let (full, plain) = match tag.strip_prefix('@') {
            Some(p) => (tag.to_string(), p.to_string()),
            None => (format!("@{tag}"), tag.to_string()),
        };
        if let Some(i) = self.tags.iter().skip(1).position(|t| t.tag == full) {
            return i + 1;
        }
        if self.tags.len() >= MAX_TAGS {
            // apk has no room either (APK_MAX_TAGS); the entry falls back to the default tag.
            return 0;
        }
        self.tags.push(Tag {
            tag: full,
            plain,
            allowed_repos: 0,
        });
        self.tags.len() - 1
    }

    pub fn next_genid(&mut self) -> u32 {
        self.genid = self.genid.wrapping_add(!FOREACH_GENID_MASK + 1);
        self.genid
    }

    pub fn arch_compatible(&self, arch: &str) -> bool {
        arch.is_empty() || arch == "noarch" || self.arches.iter().any(|a| a == arch)
    }

    /// Converts a public dependency (names are created as needed).
    pub fn dep_from(&mut self, d: &Dependency, tag: usize) -> Dep {
        let name = self.get_name(&d.name);
        let version = match &d.version {
            Some(v) => self.atom(v),
            None => NULL_ATOM,
        };
        Dep {
            name,
            version,
            op: d.op_with_conflict().bits(),
            broken: !d.is_version_valid(),
            tag,
        }
    }

    /// Back to the public form.
    pub fn dep_to(&self, d: &Dep) -> Dependency {
        let tag = (d.tag != 0)
            .then(|| self.tags.get(d.tag).map(|t| t.plain.clone()))
            .flatten();
        let op = VersionOp::from_bits(d.op);
        Dependency {
            name: self.names[d.name].name.clone(),
            tag,
            conflict: d.conflict(),
            op: op.without(VersionOp::CONFLICT),
            version: (d.version != NULL_ATOM).then(|| self.atom_str(d.version).to_string()),
        }
    }

    /// `DEP_FMT`: `[!]name[op version]`.
    pub fn dep_fmt(&self, d: &Dep) -> String {
        let mut s = String::new();
        if d.conflict() {
            s.push('!');
        }
        s.push_str(&self.names[d.name].name);
        if d.version != NULL_ATOM {
            s.push_str(VersionOp::from_bits(d.op).as_str());
            s.push_str(self.atom_str(d.version));
        }
        s
    }

    /// `PKG_VER_FMT`: `name-version`.
    pub fn pkg_fmt(&self, p: PkgId) -> String {
        let pkg = &self.pkgs[p];
        format!(
            "{}-{}",
            self.names[pkg.name].name,
            self.atom_str(pkg.version)
        )
    }

    fn checksum_key(info: &PackageInfo) -> String {
        if info.checksum.is_empty() {
            // apk requires C:; records built in code may lack it, so fall back to the
            // name and version as identity.
            return format!("{}-{}", info.name, info.version);
        }
        // apk keys packages by the decoded digest: two spellings that decode to the same 20
        // bytes (the last base64 digit carries two unused bits) are the same package.
        match crate::db::checksum_hex(&info.checksum) {
            Some(hex) if hex.len() >= 40 => hex[..40].to_string(),
            _ => info.checksum.clone(),
        }
    }

    /// `apk_db_pkg_add`: adds a record or merges it into the package with the same identity.
    pub fn pkg_add(
        &mut self,
        info: &PackageInfo,
        origin: Origin,
        ipkg: Option<&InstalledPackage>,
    ) -> PkgId {
        let mut repos = 0;
        let mut cached_non_repository = false;
        match origin {
            Origin::Repository(r) => repos = 1u32 << r,
            Origin::CacheInstalled => cached_non_repository = true,
            Origin::Installed | Origin::Virtual => {}
        }
        let issues = &info.issues;
        if issues.bad_depends || issues.bad_provides || issues.bad_install_if {
            self.compat_depversions = true;
        }
        if issues.bad_depends {
            self.compat_notinstallable = true;
        }
        if !issues.unknown_fields.is_empty() {
            self.compat_newfeatures = true;
            if issues.uninstallable() {
                self.compat_notinstallable = true;
            }
        }
        let key = Self::checksum_key(info);
        let name = self.get_name(&info.name);
        let version = self.atom(&info.version);
        let depends: Vec<Dep> = info.depends.iter().map(|d| self.dep_from(d, 0)).collect();
        let provides: Vec<Dep> = info.provides.iter().map(|d| self.dep_from(d, 0)).collect();
        let install_if: Vec<Dep> = info
            .install_if
            .iter()
            .map(|d| self.dep_from(d, 0))
            .collect();
        let new_ipkg = ipkg.map(|ip| Ipkg {
            tag: 0,
            broken_files: ip.broken_files,
            broken_script: ip.broken_script,
            files: ip.file_paths().collect(),
        });
        let new_ipkg = new_ipkg.map(|mut i| {
            i.tag = self.get_tag_id(ipkg.and_then(|p| p.repository_tag.as_deref()));
            i
        });

        let mut old_repos = 0;
        let id = match self.pkg_index.get(&key) {
            Some(&id) => {
                let p = &mut self.pkgs[id];
                old_repos = p.repos;
                p.repos |= repos;
                if old_repos == 0 && p.size != info.size {
                    p.size = info.size;
                }
                p.cached_non_repository |= cached_non_repository;
                id
            }
            None => {
                let id = self.pkgs.len();
                let uninstallable = issues.uninstallable() || !self.arch_compatible(&info.arch);
                self.pkgs.push(Pkg {
                    name,
                    version,
                    arch: info.arch.clone(),
                    depends,
                    provides,
                    install_if,
                    size: info.size,
                    installed_size: info.installed_size,
                    provider_priority: info.provider_priority,
                    repos,
                    layer: 0,
                    uninstallable,
                    cached: origin == Origin::Virtual,
                    cached_non_repository,
                    ipkg: None,
                    marked: false,
                    foreach_genid: 0,
                    state_int: 0,
                    ss: PkgState::default(),
                    info: info.clone(),
                });
                self.pkg_index.insert(key, id);
                self.names[name]
                    .providers
                    .push(Provider { pkg: id, version });
                for i in 0..self.pkgs[id].provides.len() {
                    let d = self.pkgs[id].provides[i];
                    self.names[d.name].providers.push(Provider {
                        pkg: id,
                        version: d.version,
                    });
                }
                if self.open_complete {
                    self.pkg_rdepends(id);
                }
                id
            }
        };
        if self.pkgs[id].repos != 0 && old_repos == 0 {
            let n = self.pkgs[id].name;
            self.names[n].has_repository_providers = true;
            for i in 0..self.pkgs[id].provides.len() {
                let d = self.pkgs[id].provides[i].name;
                self.names[d].has_repository_providers = true;
            }
        }
        if let Some(ip) = new_ipkg {
            self.installed.push(id);
            self.installed_bytes += info.installed_size;
            if self.pkgs[id].ipkg.is_none() {
                self.pkgs[id].ipkg = Some(ip);
            }
        }
        id
    }

    /// `apk_db_pkg_rdepends`: reverse links for a package added after opening.
    fn pkg_rdepends(&mut self, id: PkgId) {
        let pname = self.pkgs[id].name;
        let provides: Vec<NameId> = self.pkgs[id].provides.iter().map(|d| d.name).collect();
        let depends: Vec<NameId> = self.pkgs[id].depends.iter().map(|d| d.name).collect();
        let iif: Vec<NameId> = self.pkgs[id].install_if.iter().map(|d| d.name).collect();
        for r in depends {
            for n in std::iter::once(pname).chain(provides.iter().copied()) {
                if !self.names[r].rdepends.contains(&n) {
                    self.names[r].rdepends.push(n);
                }
            }
        }
        for r in iif {
            for n in std::iter::once(pname).chain(provides.iter().copied()) {
                if !self.names[r].rinstall_if.contains(&n) {
                    self.names[r].rinstall_if.push(n);
                }
            }
        }
    }

    /// `apk_db_name_rdepends` over all names in hash order, at the end of opening.
    pub fn build_rdepends(&mut self) {
        for name in self.names_in_hash_order() {
            let mut seen_dep: Vec<NameId> = Vec::new();
            let mut seen_iif: Vec<NameId> = Vec::new();
            for pi in 0..self.names[name].providers.len() {
                let pkg = self.names[name].providers[pi].pkg;
                for di in 0..self.pkgs[pkg].depends.len() {
                    let r = self.pkgs[pkg].depends[di].name;
                    if !seen_dep.contains(&r) {
                        seen_dep.push(r);
                        self.names[r].rdepends.push(name);
                    }
                }
                for di in 0..self.pkgs[pkg].install_if.len() {
                    let r = self.pkgs[pkg].install_if[di].name;
                    if !seen_iif.contains(&r) {
                        seen_iif.push(r);
                        self.names[r].rinstall_if.push(name);
                    }
                }
            }
        }
        self.open_complete = true;
    }

    pub fn pinning_mask_repos(&self, mut mask: u16) -> u32 {
        let mut repos = 0;
        for (i, t) in self.tags.iter().enumerate() {
            if mask == 0 {
                break;
            }
            if i < 16 && mask & (1 << i) != 0 {
                mask &= !(1 << i);
                repos |= t.allowed_repos;
            }
        }
        repos
    }

    pub fn pkg_available(&self, p: PkgId) -> bool {
        self.pkgs[p].repos & self.available_repos != 0
    }

    /// `apk_pkg_get_installed`.
    pub fn installed_pkg_of(&self, name: NameId) -> Option<PkgId> {
        self.names[name]
            .providers
            .iter()
            .map(|p| p.pkg)
            .find(|&p| self.pkgs[p].name == name && self.pkgs[p].ipkg.is_some())
    }

    pub fn version_cmp_pkgs(&self, a: PkgId, b: PkgId) -> std::cmp::Ordering {
        let (va, vb) = (self.pkgs[a].version, self.pkgs[b].version);
        if va == vb {
            return std::cmp::Ordering::Equal;
        }
        version::compare(self.atom_str(va), self.atom_str(vb))
    }

    /// `apk_pkg_cmp_display`.
    pub fn pkg_cmp_display(&self, a: PkgId, b: PkgId) -> std::cmp::Ordering {
        let (na, nb) = (self.pkgs[a].name, self.pkgs[b].name);
        if na != nb {
            return crate::db::name_cmp_display(&self.names[na].name, &self.names[nb].name);
        }
        self.version_cmp_pkgs(a, b)
    }

    fn version_match(&self, a: Atom, op: u8, b: Atom) -> bool {
        if op & OP_ANY == OP_ANY {
            return op & OP_CONFLICT == 0;
        }
        version::matches(self.atom_str(a), VersionOp::from_bits(op), self.atom_str(b))
    }

    fn match_checksum(&self, dep: &Dep, pkg: PkgId) -> bool {
        let want = self.atom_str(dep.version);
        let have = &self.pkgs[pkg].info.checksum;
        !have.is_empty()
            && (want == have
                || crate::db::checksum_hex(want)
                    .is_some_and(|w| Some(w) == crate::db::checksum_hex(have)))
    }

    /// `apk_dep_is_provided`.
    pub fn dep_is_provided(&self, deppkg: Option<PkgId>, dep: &Dep, p: Option<Provider>) -> bool {
        let Some(p) = p else { return dep.conflict() };
        if dep.conflict() && deppkg == Some(p.pkg) {
            return true;
        }
        if dep.op == OP_CHECKSUM {
            return self.match_checksum(dep, p.pkg);
        }
        self.version_match(p.version, dep.op, dep.version)
    }

    /// `apk_dep_is_materialized`.
    pub fn dep_is_materialized(&self, dep: &Dep, pkg: Option<PkgId>) -> bool {
        let Some(pkg) = pkg.filter(|&p| self.pkgs[p].name == dep.name) else {
            return dep.conflict();
        };
        if dep.op == OP_CHECKSUM {
            return self.match_checksum(dep, pkg);
        }
        self.version_match(self.pkgs[pkg].version, dep.op, dep.version)
    }

    /// `apk_dep_analyze`.
    pub fn dep_analyze(&self, deppkg: Option<PkgId>, dep: &Dep, pkg: Option<PkgId>) -> u32 {
        let Some(pkg) = pkg else {
            return DEP_IRRELEVANT;
        };
        if dep.name == self.pkgs[pkg].name {
            return if self.dep_is_materialized(dep, Some(pkg)) {
                DEP_SATISFIES
            } else {
                DEP_CONFLICTS
            };
        }
        for p in &self.pkgs[pkg].provides {
            if p.name != dep.name {
                continue;
            }
            let prov = Provider {
                pkg,
                version: p.version,
            };
            return if self.dep_is_provided(deppkg, dep, Some(prov)) {
                DEP_SATISFIES
            } else {
                DEP_CONFLICTS
            };
        }
        DEP_IRRELEVANT
    }

    /// `apk_pkg_match_genid`.
    pub fn pkg_match_genid(&mut self, pkg: PkgId, mtch: u32) -> bool {
        let genid = mtch & FOREACH_GENID_MASK;
        if genid != 0 {
            if self.pkgs[pkg].foreach_genid >= genid {
                return true;
            }
            self.pkgs[pkg].foreach_genid = genid;
        }
        false
    }

    /// `apk_pkg_foreach_reverse_dependency`, with the callback as a function so that it can
    /// recurse.
    pub fn foreach_reverse_dependency<C>(
        &mut self,
        pkg: PkgId,
        mtch: u32,
        ctx: &mut C,
        cb: fn(&mut Model, &mut C, PkgId, Dep, PkgId),
    ) {
        let name = self.pkgs[pkg].name;
        self.foreach_rdep_of(pkg, name, mtch, ctx, cb);
        for i in 0..self.pkgs[pkg].provides.len() {
            let n = self.pkgs[pkg].provides[i].name;
            self.foreach_rdep_of(pkg, n, mtch, ctx, cb);
        }
    }

    fn foreach_rdep_of<C>(
        &mut self,
        pkg: PkgId,
        name: NameId,
        mtch: u32,
        ctx: &mut C,
        cb: fn(&mut Model, &mut C, PkgId, Dep, PkgId),
    ) {
        let marked = mtch & FOREACH_MARKED != 0;
        let installed = mtch & FOREACH_INSTALLED != 0;
        let one_dep_only = mtch & FOREACH_GENID_MASK != 0 && mtch & FOREACH_DEP == 0;
        let no_conflicts = mtch & FOREACH_NO_CONFLICTS != 0;
        for ni in 0..self.names[name].rdepends.len() {
            let name0 = self.names[name].rdepends[ni];
            for pi in 0..self.names[name0].providers.len() {
                let pkg0 = self.names[name0].providers[pi].pkg;
                if installed && self.pkgs[pkg0].ipkg.is_none() {
                    continue;
                }
                if marked && !self.pkgs[pkg0].marked {
                    continue;
                }
                if self.pkg_match_genid(pkg0, mtch) {
                    continue;
                }
                for di in 0..self.pkgs[pkg0].depends.len() {
                    let d0 = self.pkgs[pkg0].depends[di];
                    if no_conflicts && d0.conflict() {
                        continue;
                    }
                    if self.dep_analyze(Some(pkg0), &d0, Some(pkg)) & mtch != 0 {
                        cb(self, ctx, pkg0, d0, pkg);
                        if one_dep_only {
                            break;
                        }
                    }
                }
            }
        }
    }

    /// `apk_pkg_foreach_matching_dependency` with no owning package (world).
    pub fn foreach_matching_world<C>(
        &mut self,
        deps: &[Dep],
        mtch: u32,
        mpkg: PkgId,
        ctx: &mut C,
        cb: fn(&mut Model, &mut C, Option<PkgId>, Dep, PkgId),
    ) {
        let one_dep_only = mtch & FOREACH_GENID_MASK != 0 && mtch & FOREACH_DEP == 0;
        for d in deps {
            if self.dep_analyze(None, d, Some(mpkg)) & mtch != 0 {
                cb(self, ctx, None, *d, mpkg);
                if one_dep_only {
                    break;
                }
            }
        }
    }

    /// Which installed package owns `path` (leading `/` ignored).
    pub fn file_owner(&self, path: &str) -> Option<PkgId> {
        let path = path.trim_start_matches('/');
        self.installed.iter().copied().find(|&p| {
            self.pkgs[p]
                .ipkg
                .as_ref()
                .is_some_and(|i| i.files.iter().any(|f| f == path))
        })
    }

    /// Forgets all solver state (`free_name`/`free_package`).
    pub fn reset_solver_state(&mut self) {
        for n in &mut self.names {
            n.ss = NameState::default();
            n.state_int = 0;
        }
        for p in &mut self.pkgs {
            p.ss = PkgState::default();
            p.state_int = 0;
        }
    }
}
