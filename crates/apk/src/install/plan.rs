//! Checking a package against the root and planning its writes ([`Transaction::add_file`]).

use std::cell::RefCell;
use std::collections::{HashMap, HashSet, VecDeque};
use std::io::{BufRead, Write as _};
use std::path::Path;

use super::commit::{Op, STAGE_PREFIX};
use super::{InstallError, Transaction, Trust, INSTALLER_DIRS, INSTALLER_FILES};
use crate::db::{Acl, InstalledFile, InstalledPackage, PackageInfo, Script};
use crate::dep::{self, Dependency};
use crate::index;
use crate::limits;
use crate::package::{self, shown, DataEntry, Package, PackageError, PackageReader};
use crate::rootdir::{join, split_parent, Node, MAX_SYMLINKS};
use crate::tarball::EntryType;

/// One package being planned; merged into the transaction once all of it is checked.
pub(super) struct PackagePlan {
    /// `name-version (file)`, for messages.
    pub(super) who: String,
    name: String,
    pub(super) record: InstalledPackage,
    replaces: Vec<Dependency>,
    origin: String,
    /// Declared installed size (`.PKGINFO` `size`, v3 `installed-size`), where it is
    /// declared (for messages), and content seen so far.
    declared: u64,
    declared_in: &'static str,
    content: u64,
    /// Nodes this package creates, by resolved path.
    added: HashMap<String, Node>,
    ops: Vec<Op>,
    /// Names in the stage holding this package's files (removed if it is refused).
    staged: Vec<String>,
    /// (archive path, previous owner) of files taken over from other packages.
    taken: Vec<(String, String)>,
    /// Archive path → resolved path and digest, for hard links.
    dests: HashMap<String, (String, Option<String>)>,
    /// Archive paths seen, to refuse duplicates.
    seen: HashSet<String>,
    /// Archive paths of files (not directories) shipped.
    shipped: Vec<String>,
    /// Where the installer's files are, given what is planned; cleared when a symlink is
    /// planned (only a symlink changes where a path leads).
    installer: RefCell<Option<InstallerPaths>>,
    /// Symlinks (resolved paths) its paths were resolved through: they must stay.
    via: RefCell<HashSet<String>>,
}

/// The installer's files and directories, resolved.
struct InstallerPaths {
    files: [String; INSTALLER_FILES.len()],
    dirs: [String; INSTALLER_DIRS.len()],
    db: String,
    etc_apk: String,
}

/// A data entry of a package, v2 or v3, as the planner checks it.
pub(super) struct Item {
    /// The path in the package (no leading slash).
    pub path: String,
    pub kind: ItemKind,
    /// Permission bits, and the owner resolved against the root's users and groups.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Modification time of a file (directories keep theirs).
    pub mtime: u64,
    /// Content size of a regular file.
    pub size: u64,
    /// The database's `Z:` for a file or symlink (a hard link takes its target's).
    pub digest: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ItemKind {
    Dir,
    File,
    Symlink(String),
    /// A hard link to an earlier file of the package (its path in the package).
    Hardlink(String),
    /// A device node or fifo.
    Special,
}

fn pkg_err(who: &str) -> impl FnOnce(PackageError) -> InstallError + '_ {
    move |error| InstallError::Package {
        package: who.to_string(),
        error,
    }
}

/// Why a package is not the one its index record names, if it is not.
pub(super) fn record_mismatch(name: &str, version: &str, r: &PackageInfo) -> Option<String> {
    (name != r.name || version != r.version).then(|| {
        format!(
            "the package is {}-{} but the index lists it as {}-{}",
            shown(name),
            shown(version),
            shown(&r.name),
            shown(&r.version)
        )
    })
}

/// Checks trust before any data is read, and the package against its index record.
fn check_trust(pkg: &Package, trust: Trust<'_>) -> Result<(), PackageError> {
    let record = match trust {
        Trust::Keys(keys) => {
            pkg.verify_signature(keys)?;
            None
        }
        Trust::Index(r) => Some(r),
        Trust::Untrusted(r) => r,
    };
    if let Some(r) = record {
        pkg.verify_identity(&r.checksum)?;
        if let Some(what) = record_mismatch(&pkg.pkginfo.pkgname, &pkg.pkginfo.pkgver, r) {
            return Err(PackageError::Corrupt {
                part: package::Part::Control,
                what,
            });
        }
    }
    Ok(())
}

impl Transaction {
    /// Checks the package file at `path` completely and plans its installation; its file
    /// contents are staged inside the root. On error the transaction and the root are
    /// unchanged. A file starting with `ADB` is a v3 package, anything else a v2 one.
    pub fn add_file(
        &mut self,
        path: &Path,
        trust: Trust<'_>,
    ) -> Result<&InstalledPackage, InstallError> {
        let label = path.display().to_string();
        let f = std::fs::File::open(path).map_err(|error| InstallError::Io {
            path: label.clone(),
            error,
        })?;
        self.add_reader(
            &label,
            std::io::BufReader::with_capacity(128 << 10, f),
            trust,
        )
    }

    /// [`Transaction::add_file`] for a package in memory; `label` names it in messages.
    pub fn add_bytes(
        &mut self,
        label: &str,
        bytes: &[u8],
        trust: Trust<'_>,
    ) -> Result<&InstalledPackage, InstallError> {
        self.add_reader(label, bytes, trust)
    }

    /// [`Transaction::add_file`] for a package read from `src`.
    pub fn add_reader<B: BufRead>(
        &mut self,
        label: &str,
        mut src: B,
        trust: Trust<'_>,
    ) -> Result<&InstalledPackage, InstallError> {
        let head = src.fill_buf().map_err(|error| InstallError::Io {
            path: label.to_string(),
            error,
        })?;
        if head.starts_with(b"ADB") {
            return self.add_v3(label, src, trust);
        }
        let mut reader = PackageReader::new(src).map_err(pkg_err(label))?;
        let info = &reader.package().pkginfo;
        let who = format!("{}-{} ({label})", shown(&info.pkgname), shown(&info.pkgver));
        check_trust(reader.package(), trust).map_err(pkg_err(&who))?;
        let mut plan = self.start_plan(reader.package(), who)?;
        plan.index_arch(trust);
        let r = self
            .plan_data(&mut reader, &mut plan)
            .and_then(|()| reader.finish().map_err(pkg_err(&plan.who)))
            .map(|pkg| plan.record.info.size = pkg.file_size);
        self.finish_plan(plan, r)
    }

    /// Checks the record of a package whose entries are all planned (`r`: how reading
    /// them ended) and merges the plan into the transaction; on error, discards its
    /// staged files.
    pub(super) fn finish_plan(
        &mut self,
        mut plan: PackagePlan,
        r: Result<(), InstallError>,
    ) -> Result<&InstalledPackage, InstallError> {
        if let Err(e) = r.and_then(|()| self.check_record(&plan)) {
            if let Some(stage) = &self.stage {
                plan.staged.iter().for_each(|s| stage.discard(s));
            }
            plan.staged.clear();
            return Err(e);
        }
        let name = plan.name.clone();
        self.merge(plan);
        Ok(self.db.get(&name).expect("just inserted"))
    }

    fn start_plan(&self, pkg: &Package, who: String) -> Result<PackagePlan, InstallError> {
        let info = &pkg.pkginfo;
        let replaces = dep::parse_list_lenient(&info.replaces.join(" ")).0;
        let mut record = InstalledPackage::new(index::package_info(pkg, None));
        record.replaces = replaces;
        record.replaces_priority = info.replaces_priority.unwrap_or(0);
        record.scripts = pkg
            .scripts
            .iter()
            .map(|(kind, body)| Script {
                kind: *kind,
                body: body.clone(),
            })
            .collect();
        record.triggers = info.triggers.clone();
        PackagePlan::new(who, record, ".PKGINFO declares (size)")
    }

    fn plan_data<B: BufRead>(
        &mut self,
        reader: &mut PackageReader<B>,
        plan: &mut PackagePlan,
    ) -> Result<(), InstallError> {
        while let Some(e) = reader.next_entry().map_err(pkg_err(&plan.who))? {
            if skipped(e.path()) {
                continue;
            }
            let item = self.v2_item(plan, e)?;
            self.plan_entry(plan, &item)?;
            if item.kind == ItemKind::File {
                let who = plan.who.clone();
                self.stage_content(plan, &item, |sink| {
                    reader.copy_content(sink).map_err(pkg_err(&who))
                })?;
            }
        }
        Ok(())
    }

    /// A v2 data entry as the planner checks it.
    fn v2_item(&self, plan: &PackagePlan, e: &DataEntry) -> Result<Item, InstallError> {
        let h = &e.header;
        if h.uid == u32::MAX || h.gid == u32::MAX {
            return Err(InstallError::Path {
                package: plan.who.clone(),
                path: h.path.clone(),
                what: "owner id 4294967295 is not a valid id".into(),
            });
        }
        let kind = match h.entry_type {
            EntryType::Directory => ItemKind::Dir,
            EntryType::Symlink => ItemKind::Symlink(h.link_name.clone()),
            EntryType::Hardlink => ItemKind::Hardlink(h.link_name.clone()),
            EntryType::Char | EntryType::Block | EntryType::Fifo => ItemKind::Special,
            _ => ItemKind::File,
        };
        let (uid, gid) = self.ids.resolve(h);
        Ok(Item {
            path: h.path.clone(),
            // A symlink's mode is recorded as apk records it from a tar header.
            mode: match kind {
                ItemKind::Symlink(_) => 0o777,
                _ => h.mode & 0o7777,
            },
            kind,
            uid,
            gid,
            mtime: h.mtime,
            size: h.size,
            digest: e.sha1.map(|d| package::q1(&d)),
        })
    }

    /// Streams a regular file's content into the stage (`copy` hands it to a sink) and
    /// plans its move into place.
    pub(super) fn stage_content(
        &mut self,
        plan: &mut PackagePlan,
        item: &Item,
        copy: impl FnOnce(
            &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
        ) -> Result<std::io::Result<u64>, InstallError>,
    ) -> Result<(), InstallError> {
        plan.content += item.size;
        if plan.content > plan.declared.max(1) {
            return Err(InstallError::Refused {
                package: plan.who.clone(),
                what: format!(
                    "{}: files hold more than the {} bytes {}",
                    shown(&item.path),
                    plan.declared,
                    plan.declared_in
                ),
            });
        }
        let owner = self
            .owner_ids
            .owner(item.uid, item.gid, item.mode, Some(item.mtime));
        let root = &self.root;
        let stage = self.stage.as_mut().expect("created by plan_file");
        let (name, mut f) = stage.create_file(root, item.mode & 0o777)?;
        plan.staged.push(name.clone());
        let rel = stage.rel(&name);
        let io = |error| InstallError::Io {
            path: root.display(&rel),
            error,
        };
        copy(&mut |chunk| f.write_all(chunk))?.map_err(io)?;
        owner.apply(&f).map_err(io)?;
        let dest = plan.dests[&item.path].0.clone();
        plan.ops.push(Op::Place { dest, staged: name });
        Ok(())
    }
}

/// Top-level names starting with a dot are silently skipped by apk in v2 packages (spec
/// §5.7): they are the control files.
fn skipped(path: &str) -> bool {
    !path.contains('/') && path.starts_with('.')
}

impl Transaction {
    /// Checks one data entry against the root and plans it (files are staged by the
    /// caller).
    pub(super) fn plan_entry(
        &mut self,
        plan: &mut PackagePlan,
        item: &Item,
    ) -> Result<(), InstallError> {
        let path = item.path.as_str();
        let refuse = |what: &str| InstallError::Path {
            package: plan.who.clone(),
            path: path.to_string(),
            what: what.to_string(),
        };
        if !plan.seen.insert(path.to_string()) {
            return Err(refuse("appears more than once in the package"));
        }
        if item.kind == ItemKind::Special {
            return Err(refuse("device nodes and fifos are not installed"));
        }
        if path.split('/').any(|c| c.len() > 255) {
            return Err(refuse("a path component is longer than 255 bytes"));
        }
        if item.uid == u32::MAX || item.gid == u32::MAX {
            return Err(refuse("owner id 4294967295 is not a valid id"));
        }
        let is_dir = item.kind == ItemKind::Dir;
        let dest = self.resolve(plan, path, is_dir)?;
        self.check_dest(plan, path, &dest, is_dir)?;
        if is_dir {
            plan.record.dir_mut(path).acl = Acl::new(item.uid, item.gid, item.mode);
            plan.added.insert(dest.clone(), Node::Dir);
            let owner = self.owner_ids.owner(item.uid, item.gid, item.mode, None);
            plan.ops.push(Op::Dir { dest, owner });
            return Ok(());
        }
        self.check_owner(plan, path)?;
        self.plan_file(plan, item, dest)
    }

    /// Records a file, symlink or hard link and plans the last two.
    fn plan_file(
        &mut self,
        plan: &mut PackagePlan,
        item: &Item,
        dest: String,
    ) -> Result<(), InstallError> {
        let digest = match &item.kind {
            ItemKind::Hardlink(to) => plan.dests.get(to).and_then(|d| d.1.clone()),
            _ => item.digest.clone(),
        };
        let (dir, base) = split_parent(&item.path);
        let mut file = InstalledFile::new(base, digest.clone());
        file.acl = Acl::new(item.uid, item.gid, item.mode);
        match &item.kind {
            ItemKind::Symlink(target) => {
                plan.added
                    .insert(dest.clone(), Node::Symlink(target.clone()));
                *plan.installer.borrow_mut() = None;
                let owner = self.owner_ids.owner(item.uid, item.gid, 0o777, None);
                let chown = owner.chown.then_some((item.uid, item.gid));
                self.stage()?;
                let (root, stage) = (&self.root, self.stage.as_mut().expect("created"));
                let staged = stage.symlink(root, target, chown)?;
                plan.staged.push(staged.clone());
                plan.ops.push(Op::Place {
                    dest: dest.clone(),
                    staged,
                });
            }
            ItemKind::Hardlink(to) => {
                let Some((source, _)) = plan.dests.get(to).cloned() else {
                    return Err(InstallError::Path {
                        package: plan.who.clone(),
                        path: item.path.clone(),
                        what: format!("hard link to {}, which is not installed", shown(to)),
                    });
                };
                plan.added.insert(dest.clone(), Node::File);
                plan.ops.push(Op::Hardlink {
                    dest: dest.clone(),
                    source,
                });
            }
            _ => {
                plan.added.insert(dest.clone(), Node::File);
                // The stage must exist before the content is streamed into it.
                self.stage()?;
            }
        }
        plan.record.dir_mut(dir).files.push(file);
        plan.shipped.push(item.path.clone());
        plan.dests.insert(item.path.clone(), (dest, digest));
        Ok(())
    }

    /// A file of another installed package needs `replaces` or the same origin.
    fn check_owner(&self, plan: &mut PackagePlan, path: &str) -> Result<(), InstallError> {
        let Some(owner) = self.owners.get(path) else {
            return Ok(());
        };
        if *owner == plan.name {
            return Ok(());
        }
        let same_origin = !plan.origin.is_empty()
            && self
                .db
                .get(owner)
                .is_some_and(|p| p.info.origin == plan.origin);
        if !plan.replaces.iter().any(|r| r.name == *owner) && !same_origin {
            return Err(InstallError::Conflict {
                package: plan.who.clone(),
                path: path.to_string(),
                owner: owner.clone(),
            });
        }
        plan.taken.push((path.to_string(), owner.clone()));
        Ok(())
    }

    /// What may be at `dest`, where it is, and what is there now.
    fn check_dest(
        &mut self,
        plan: &PackagePlan,
        path: &str,
        dest: &str,
        is_dir: bool,
    ) -> Result<(), InstallError> {
        let refuse = |what: String| InstallError::Path {
            package: plan.who.clone(),
            path: path.to_string(),
            what,
        };
        if dest.is_empty() {
            return Err(refuse("resolves to the root itself".into()));
        }
        if dest.starts_with(STAGE_PREFIX) {
            return Err(refuse(
                "resolves into the installer's staging directory".into(),
            ));
        }
        if let Some(what) = self.installer_owned(plan, dest, is_dir) {
            return Err(refuse(what));
        }
        let (parent, _) = split_parent(dest);
        if !parent.is_empty() && self.lookup(plan, parent)? != Some(Node::Dir) {
            return Err(refuse(format!(
                "its directory {} is not a directory in the root",
                shown(parent)
            )));
        }
        // Where the path really is, when a symlink took it elsewhere.
        let at = if dest == path {
            String::new()
        } else {
            format!(" ({})", shown(dest))
        };
        match (self.lookup(plan, dest)?, is_dir) {
            (None | Some(Node::Dir), true) => Ok(()),
            (Some(Node::Dir), false) => Err(refuse(format!("is a directory in the root{at}"))),
            (Some(Node::Other), _) => Err(refuse(format!(
                "is a device, fifo or socket in the root{at}"
            ))),
            (Some(_), true) => Err(refuse(format!("is not a directory in the root{at}"))),
            (_, false) => Ok(()),
        }
    }

    /// Why `dest` belongs to the installer, if it does: its files, anything but a directory
    /// in `lib/apk/db`, `world`/`arch`/`repositories` (and names made from them) in
    /// `etc/apk`, or one of its directories as anything but a directory.
    fn installer_owned(&mut self, plan: &PackagePlan, dest: &str, is_dir: bool) -> Option<String> {
        if plan.installer.borrow().is_none() {
            let paths = InstallerPaths {
                files: INSTALLER_FILES.map(|f| self.resolve_quiet(plan, f)),
                dirs: INSTALLER_DIRS.map(|d| self.resolve_quiet(plan, d)),
                db: self.resolve_quiet(plan, "lib/apk/db"),
                etc_apk: self.resolve_quiet(plan, "etc/apk"),
            };
            *plan.installer.borrow_mut() = Some(paths);
        }
        let cache = plan.installer.borrow();
        let p = cache.as_ref().expect("just filled");
        if let Some(i) = p.files.iter().position(|f| f == dest) {
            return Some(format!("only the installer writes {}", INSTALLER_FILES[i]));
        }
        if is_dir {
            return None;
        }
        if p.dirs.iter().any(|d| d == dest) {
            return Some("is a directory the installer writes into".into());
        }
        let (parent, name) = split_parent(dest);
        if parent == p.db {
            return Some("only the installer writes in lib/apk/db".into());
        }
        let own = ["world", "arch", "repositories"];
        if parent == p.etc_apk
            && own
                .iter()
                .any(|o| name == *o || name.strip_prefix(o).is_some_and(|r| r.starts_with('.')))
        {
            return Some(format!("etc/apk/{name} is a name only the installer uses"));
        }
        None
    }

    /// What is at the resolved path `rel`: planned (this package, then the transaction),
    /// else on disk.
    fn lookup(&mut self, plan: &PackagePlan, rel: &str) -> Result<Option<Node>, InstallError> {
        if let Some(n) = plan.added.get(rel).or_else(|| self.overlay.get(rel)) {
            return Ok(Some(n.clone()));
        }
        if self.removed.contains(rel) {
            return Ok(None);
        }
        self.lookup_disk(rel)
    }

    pub(super) fn lookup_disk(&mut self, rel: &str) -> Result<Option<Node>, InstallError> {
        if let Some(n) = self.disk.get(rel) {
            return Ok(n.clone());
        }
        // Nothing can exist under a name longer than NAME_MAX (lstat says ENAMETOOLONG).
        if rel.split('/').any(|c| c.len() > 255) {
            return Ok(None);
        }
        let n = self.root.lstat(rel).map_err(|error| InstallError::Io {
            path: self.root.display(rel),
            error,
        })?;
        self.disk.insert(rel.to_string(), n.clone());
        Ok(n)
    }

    /// Where an installer path is, given what is planned (empty when it cannot be resolved).
    fn resolve_quiet(&mut self, plan: &PackagePlan, path: &str) -> String {
        self.resolve(plan, path, false).unwrap_or_default()
    }

    /// Resolves `path` (archive form) to a path under the root with no symlink in it,
    /// following symlinks chroot-style; a relative target that climbs above the root is
    /// refused. The last component is followed only if `follow_last`.
    fn resolve(
        &mut self,
        plan: &PackagePlan,
        path: &str,
        follow_last: bool,
    ) -> Result<String, InstallError> {
        let mut resolved: Vec<String> = Vec::new();
        let mut queue: VecDeque<String> = path.split('/').map(str::to_string).collect();
        let (mut hops, mut via) = (0, String::new());
        while let Some(comp) = queue.pop_front() {
            match comp.as_str() {
                "" | "." => continue,
                ".." if resolved.pop().is_none() => {
                    return Err(InstallError::Escape {
                        package: plan.who.clone(),
                        path: path.to_string(),
                        link: via,
                    })
                }
                ".." => continue,
                _ => {}
            }
            let is_last = queue.iter().all(|c| c.is_empty() || c == ".");
            let candidate = join(&resolved.join("/"), &comp);
            if is_last && !follow_last {
                return Ok(candidate);
            }
            match self.lookup(plan, &candidate)? {
                Some(Node::Symlink(target)) => {
                    hops += 1;
                    if hops > MAX_SYMLINKS {
                        return Err(InstallError::Path {
                            package: plan.who.clone(),
                            path: path.to_string(),
                            what: "too many levels of symlinks".into(),
                        });
                    }
                    via = format!("{candidate} -> {target}");
                    plan.via.borrow_mut().insert(candidate.clone());
                    if target.starts_with('/') {
                        resolved.clear();
                    }
                    for (i, c) in target.split('/').enumerate() {
                        queue.insert(i, c.to_string());
                    }
                }
                Some(Node::File | Node::Other) if !is_last => {
                    return Err(InstallError::Path {
                        package: plan.who.clone(),
                        path: path.to_string(),
                        what: format!("{} is not a directory", shown(&candidate)),
                    })
                }
                _ => {
                    // A name no file system can hold (NAME_MAX), reached through a
                    // symlink of the root: refused here, not by a failing mkdir later.
                    if comp.len() > 255 {
                        return Err(InstallError::Path {
                            package: plan.who.clone(),
                            path: path.to_string(),
                            what: format!(
                                "resolves (through {via}) to a name longer than 255 bytes"
                            ),
                        });
                    }
                    resolved.push(comp)
                }
            }
        }
        Ok(resolved.join("/"))
    }

    /// The database record apk-tools must be able to write and read back.
    fn check_record(&self, plan: &PackagePlan) -> Result<(), InstallError> {
        match limits::record_problem(&plan.record) {
            Some(what) => Err(InstallError::Refused {
                package: plan.who.clone(),
                what,
            }),
            None => Ok(()),
        }
    }

    /// Everything checked: the package's plan becomes part of the transaction.
    fn merge(&mut self, plan: PackagePlan) {
        let name = plan.name;
        let old = self.db.get(&name).cloned();
        // Files of the old version that the new one no longer ships (as a file or a
        // directory), unless a path of this transaction goes through them.
        let via = plan.via.into_inner();
        if let Some(old) = &old {
            for f in old.file_paths() {
                if self.owners.get(&f) == Some(&name) {
                    self.owners.remove(&f);
                    if !plan.seen.contains(&f) {
                        let empty = PackagePlan::empty(&name);
                        if let Ok(dest) = self.resolve(&empty, &f, false) {
                            if !via.contains(&dest) {
                                self.plan_removal(dest);
                            }
                        }
                    }
                }
            }
        }
        self.traversed.extend(via);
        for (path, owner) in plan.taken {
            if let Some(p) = self.db.get_mut(&owner) {
                let (dir, base) = split_parent(&path);
                if let Some(d) = p.dirs.iter_mut().find(|d| d.path == dir) {
                    d.files.retain(|f| f.name != base);
                }
            }
        }
        for f in plan.shipped {
            self.owners.insert(f, name.clone());
        }
        self.package_paths
            .extend(plan.dests.into_values().map(|d| d.0));
        self.overlay.extend(plan.added);
        self.ops.extend(plan.ops);
        self.db.insert(plan.record);
        self.extra.db_changed = true;
    }

    /// Plans removing an installed package: its files (not its directories) and its
    /// database record. Removing a package that is not installed does nothing.
    pub fn remove(&mut self, name: &str) -> Result<(), InstallError> {
        let Some(old) = self.db.get(name).cloned() else {
            return Ok(());
        };
        let plan = PackagePlan::empty(name);
        for f in old.file_paths() {
            if self.owners.get(&f).map(String::as_str) == Some(name) {
                self.owners.remove(&f);
                let dest = self.resolve(&plan, &f, false)?;
                self.plan_removal(dest);
            }
        }
        self.db.remove(name);
        self.extra.db_changed = true;
        Ok(())
    }

    /// Plans moving `dest` away, unless a planned path goes through it (a symlink that
    /// then stays, owned by no package). Later packages see it gone.
    fn plan_removal(&mut self, dest: String) {
        if self.traversed.contains(&dest) {
            return;
        }
        self.overlay.remove(&dest);
        self.removed.insert(dest.clone());
        self.ops.push(Op::Remove { dest });
    }
}

impl PackagePlan {
    /// The plan of a package whose database record (its info, replaces, scripts and
    /// triggers) is `record`; refused when apk-tools could not write that record.
    pub(super) fn new(
        who: String,
        record: InstalledPackage,
        declared_in: &'static str,
    ) -> Result<PackagePlan, InstallError> {
        if let Some(what) = limits::index_problem(&record.info) {
            return Err(InstallError::Refused { package: who, what });
        }
        let mut plan = PackagePlan::empty(&record.info.name);
        plan.who = who;
        plan.replaces = record.replaces.clone();
        plan.origin = record.info.origin.clone();
        plan.declared = record.info.installed_size;
        plan.declared_in = declared_in;
        plan.record = record;
        Ok(plan)
    }

    /// A package of an index is recorded with the index's `A:` (`apk index
    /// --rewrite-arch` rewrites it for noarch packages, and apk records the index's); its
    /// `C:`, `P:` and `V:` were checked to be the package's.
    pub(super) fn index_arch(&mut self, trust: Trust<'_>) {
        if let Trust::Index(r) | Trust::Untrusted(Some(r)) = trust {
            if !r.arch.is_empty() {
                self.record.info.arch = r.arch.clone();
            }
        }
    }

    /// A plan with nothing in it, to resolve paths for a package being removed.
    fn empty(name: &str) -> PackagePlan {
        PackagePlan {
            who: shown(name).to_string(),
            name: name.to_string(),
            record: InstalledPackage::new(PackageInfo::default()),
            replaces: Vec::new(),
            origin: String::new(),
            declared: 0,
            declared_in: "",
            content: 0,
            added: HashMap::new(),
            ops: Vec::new(),
            staged: Vec::new(),
            taken: Vec::new(),
            dests: HashMap::new(),
            seen: HashSet::new(),
            shipped: Vec::new(),
            installer: RefCell::new(None),
            via: RefCell::new(HashSet::new()),
        }
    }
}
