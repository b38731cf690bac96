//! Installing v2 packages into a root directory, without running anything.
//!
//! A [`Transaction`] checks every package completely before it writes a byte:
//! integrity ([`Package::parse`]), trust (a signature by a trusted key, or the `C:` identity
//! from a signed index), paths (no `..`, nothing that leaves the root through a symlink),
//! and file ownership (a file of another installed package may only be overwritten when the
//! new package `replaces` it or shares its origin). [`Transaction::commit`] then writes
//! directories, files, symlinks and hard links in archive order (files through a temporary
//! name and a rename), and the database: `lib/apk/db/installed`, `scripts.tar`, `triggers`.
//!
//! Symlinks already in the root are followed as inside a chroot: an absolute target is taken
//! relative to the root, and a relative target that climbs above the root is refused.
//! Owners are applied only when running as root; otherwise they are only recorded.
//! Maintainer scripts are recorded in `scripts.tar`, never run.

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sha1::{Digest, Sha1};

use crate::db::{
    self, Acl, DbError, InstalledDb, InstalledFile, InstalledPackage, Script, ScriptKind,
};
use crate::dep::{self, Dependency};
use crate::index;
use crate::package::{self, Package, PackageError};
use crate::sign::Keyring;
use crate::tarball::{self, EntryType, Header, TarEnd, TarReader, TarStyle, TarWriter};

/// Where the database lives inside a root.
pub const INSTALLED: &str = "lib/apk/db/installed";
pub const SCRIPTS_TAR: &str = "lib/apk/db/scripts.tar";
pub const SCRIPTS_TAR_GZ: &str = "lib/apk/db/scripts.tar.gz";
pub const TRIGGERS: &str = "lib/apk/db/triggers";
pub const LOCK: &str = "lib/apk/db/lock";
pub const WORLD: &str = "etc/apk/world";
pub const ARCH: &str = "etc/apk/arch";
pub const REPOSITORIES: &str = "etc/apk/repositories";
pub const KEYS: &str = "etc/apk/keys";

/// How many symlinks a path may pass through before we call it a loop (Linux: 40).
const MAX_SYMLINKS: usize = 40;
/// Default for [`Transaction::set_content_cache`]: checked file content kept in memory
/// between `add` and `commit`.
pub const CONTENT_CACHE: usize = 64 << 20;

/// Why an installation was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("{name}: {source}")]
    Package {
        name: String,
        #[source]
        source: PackageError,
    },
    #[error("{name}: {path}: would leave the root through symlink {link}")]
    Escape {
        name: String,
        path: String,
        link: String,
    },
    #[error("{name}: {path}: {what}")]
    Path {
        name: String,
        path: String,
        what: String,
    },
    #[error("{name}: trying to overwrite {path} owned by {owner} (no replaces)")]
    Conflict {
        name: String,
        path: String,
        owner: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Db {
        path: String,
        #[source]
        source: DbError,
    },
    #[error("{path}: {source}")]
    Tar {
        path: String,
        #[source]
        source: tarball::TarError,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> InstallError + '_ {
    move |source| InstallError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Why a package is trusted.
#[derive(Debug, Clone, Copy)]
pub enum Trust<'a> {
    /// Its own signature must verify with one of these keys.
    Keys(&'a Keyring),
    /// It came through a signed, verified index whose `C:` for it is this value; the
    /// identity replaces the signature check (spec §5.5, step 8).
    Identity(&'a str),
    /// `--allow-untrusted`: integrity is still checked, trust is not.
    Untrusted,
}

/// Whether this process runs as root (the owner of `/proc/self` is the effective uid).
pub fn running_as_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// What new files get without being told: the process's effective ids and umask. When a
/// file's declared owner and mode are these defaults, `commit` skips the `fchown` and
/// `fchmod` calls (the install is then a create, a write and a timestamp per file).
#[derive(Debug, Clone, Copy)]
struct Defaults {
    chown: bool,
    uid: u32,
    gid: u32,
    umask: u32,
}

impl Defaults {
    fn probe(chown: bool) -> Defaults {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let field = |name: &str, nth: usize| -> Option<u32> {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().nth(nth))
                .and_then(|v| u32::from_str_radix(v, if name == "Umask:" { 8 } else { 10 }).ok())
        };
        Defaults {
            chown,
            // Effective ids are the second field; unknown: never skip (u32::MAX).
            uid: field("Uid:", 1).unwrap_or(u32::MAX),
            gid: field("Gid:", 1).unwrap_or(u32::MAX),
            // Unknown umask: assume every bit could be cleared, so always fchmod.
            umask: field("Umask:", 0).unwrap_or(0o777),
        }
    }

    fn needs_chown(&self, uid: u32, gid: u32) -> bool {
        self.chown && (uid != self.uid || gid != self.gid)
    }

    /// Whether creating with `mode` leaves something other than `mode` (umask bits, or the
    /// special bits, which chown would clear anyway).
    fn needs_chmod(&self, mode: u32) -> bool {
        mode & 0o7000 != 0 || mode & self.umask != 0 || self.umask == 0o777
    }
}

/// Users and groups of the target root (`etc/passwd`, `etc/group`), used to turn tar
/// `uname`/`gname` into ids as apk does (`root` is always 0; unknown names keep the numeric
/// id from the header).
#[derive(Debug, Clone, Default)]
pub struct IdMap {
    users: HashMap<String, u32>,
    groups: HashMap<String, u32>,
}

impl IdMap {
    pub fn load(root: &Path) -> IdMap {
        let read = |f: &str| -> HashMap<String, u32> {
            let text = std::fs::read_to_string(root.join(f)).unwrap_or_default();
            text.lines()
                .filter_map(|l| {
                    let mut it = l.split(':');
                    let name = it.next()?;
                    let _pw = it.next()?;
                    let id = it.next()?.parse().ok()?;
                    Some((name.to_string(), id))
                })
                .collect()
        };
        IdMap {
            users: read("etc/passwd"),
            groups: read("etc/group"),
        }
    }

    fn resolve(&self, h: &Header) -> (u32, u32) {
        let look = |map: &HashMap<String, u32>, name: &str, id: u32| match name {
            "root" => 0,
            "" => id,
            n => map.get(n).copied().unwrap_or(id),
        };
        (
            look(&self.users, &h.uname, h.uid),
            look(&self.groups, &h.gname, h.gid),
        )
    }
}

/// What is at a path, as far as planning is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Dir,
    File,
    Symlink(String),
}

/// One write, in archive order; `None` entries are skipped.
#[derive(Debug, Clone)]
enum Op {
    Dir {
        dest: String,
        mode: u32,
        uid: u32,
        gid: u32,
    },
    File {
        dest: String,
        mode: u32,
        uid: u32,
        gid: u32,
        mtime: u64,
    },
    Symlink {
        dest: String,
        target: String,
        uid: u32,
        gid: u32,
    },
    Hardlink {
        dest: String,
        source: String,
    },
}

struct Planned {
    /// The package to extract again at commit; `None` for a removal, or when `contents`
    /// holds what is needed.
    bytes: Option<Vec<u8>>,
    /// The content of every data entry (empty but for regular files), in archive order, as
    /// checked by `add`: commit writes it without inflating the package again.
    contents: Option<Vec<Vec<u8>>>,
    ops: Vec<Option<Op>>,
    /// Resolved paths of files of an older version of the same package, no longer shipped.
    stale: Vec<String>,
}

/// A set of packages to install into one root, checked completely before anything is written.
pub struct Transaction {
    root: PathBuf,
    db: InstalledDb,
    ids: IdMap,
    chown: bool,
    /// Nodes the planned packages will create, by resolved path.
    overlay: BTreeMap<String, Node>,
    /// Archive path → owning package name, for every installed and planned file.
    owners: HashMap<String, String>,
    planned: Vec<Planned>,
    /// Bytes of file content `add` may still keep for `commit`.
    cache_left: usize,
}

impl Transaction {
    /// Starts a transaction on a root whose database has been read into `db`.
    pub fn new(root: &Path, db: InstalledDb) -> Transaction {
        let mut owners = HashMap::new();
        for p in &db.packages {
            for f in p.file_paths() {
                owners.insert(f, p.info.name.clone());
            }
        }
        Transaction {
            root: root.to_path_buf(),
            ids: IdMap::load(root),
            chown: running_as_root(),
            db,
            overlay: BTreeMap::new(),
            owners,
            planned: Vec::new(),
            cache_left: CONTENT_CACHE,
        }
    }

    /// How many bytes of checked file content [`Transaction::add`] may keep in memory, in
    /// total, so that [`Transaction::commit`] writes it without inflating (and checking)
    /// those packages a second time. Packages that do not fit are inflated again at commit.
    /// Default [`CONTENT_CACHE`]; 0 keeps nothing.
    pub fn set_content_cache(&mut self, bytes: usize) {
        self.cache_left = bytes;
    }

    /// Apply owners with `chown` (default: only when running as root).
    pub fn set_chown(&mut self, chown: bool) {
        self.chown = chown;
    }

    /// The database as it will be after [`Transaction::commit`].
    pub fn db(&self) -> &InstalledDb {
        &self.db
    }
}

/// What is at `rel`: a planned node (the last layer that has one wins), else what is on disk
/// (not following a final symlink).
fn lookup(
    root: &Path,
    overlay: &[&BTreeMap<String, Node>],
    rel: &str,
) -> Result<Option<Node>, InstallError> {
    if let Some(n) = overlay.iter().rev().find_map(|layer| layer.get(rel)) {
        return Ok(Some(n.clone()));
    }
    let full = root.join(rel);
    match std::fs::symlink_metadata(&full) {
        Ok(md) if md.file_type().is_symlink() => {
            let t = std::fs::read_link(&full).map_err(io_err(&full))?;
            Ok(Some(Node::Symlink(t.to_string_lossy().into_owned())))
        }
        Ok(md) if md.is_dir() => Ok(Some(Node::Dir)),
        Ok(_) => Ok(Some(Node::File)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(&full)(e)),
    }
}

/// Resolves `path` (archive form) to a path under the root with no symlink in it,
/// following symlinks chroot-style. The last component is followed only if `follow_last`.
fn resolve(
    root: &Path,
    overlay: &[&BTreeMap<String, Node>],
    name: &str,
    path: &str,
    follow_last: bool,
) -> Result<String, InstallError> {
    let mut resolved: Vec<String> = Vec::new();
    let mut queue: std::collections::VecDeque<String> =
        path.split('/').map(str::to_string).collect();
    let mut hops = 0;
    let mut via = String::new();
    while let Some(comp) = queue.pop_front() {
        match comp.as_str() {
            "" | "." => continue,
            ".." => {
                if resolved.pop().is_none() {
                    return Err(InstallError::Escape {
                        name: name.to_string(),
                        path: path.to_string(),
                        link: via,
                    });
                }
                continue;
            }
            _ => {}
        }
        let is_last = queue.is_empty();
        let mut candidate = resolved.join("/");
        if !candidate.is_empty() {
            candidate.push('/');
        }
        candidate.push_str(&comp);
        if is_last && !follow_last {
            resolved.push(comp);
            break;
        }
        match lookup(root, overlay, &candidate)? {
            Some(Node::Symlink(target)) => {
                hops += 1;
                if hops > MAX_SYMLINKS {
                    return Err(InstallError::Path {
                        name: name.to_string(),
                        path: path.to_string(),
                        what: "too many levels of symlinks".into(),
                    });
                }
                via = format!("{candidate} -> {target}");
                if target.starts_with('/') {
                    resolved.clear();
                }
                for (i, c) in target.split('/').enumerate() {
                    queue.insert(i, c.to_string());
                }
            }
            Some(Node::File) if !is_last => {
                return Err(InstallError::Path {
                    name: name.to_string(),
                    path: path.to_string(),
                    what: format!("{candidate} is not a directory"),
                })
            }
            _ => resolved.push(comp),
        }
    }
    Ok(resolved.join("/"))
}

impl Transaction {
    /// Checks a package completely and plans its installation. Nothing is written; on
    /// error the transaction is unchanged.
    pub fn add(
        &mut self,
        bytes: Vec<u8>,
        trust: Trust<'_>,
    ) -> Result<&InstalledPackage, InstallError> {
        // Keep the checked content for commit while it fits in what is left of the cache.
        let budget = self.cache_left;
        let mut kept = 0usize;
        let mut contents: Option<Vec<Vec<u8>>> = (budget > 0).then(Vec::new);
        let pkg = Package::parse_with(&bytes, |_, data| {
            if let Some(c) = contents.as_mut() {
                kept += data.len();
                if kept > budget {
                    contents = None;
                } else {
                    c.push(data.to_vec());
                }
            }
            Ok(())
        })
        .map_err(|source| InstallError::Package {
            name: "package".into(),
            source,
        })?;
        let name = pkg.pkginfo.pkgname.clone();
        let perr = |source| InstallError::Package {
            name: name.clone(),
            source,
        };
        match trust {
            Trust::Keys(keys) => {
                pkg.verify_signature(keys).map_err(perr)?;
            }
            Trust::Identity(c) => pkg.verify_identity(c).map_err(perr)?,
            Trust::Untrusted => {}
        }

        let replaces: Vec<Dependency> = dep::parse_list_lenient(&pkg.pkginfo.replaces.join(" ")).0;
        let old = self.db.get(&name).cloned();
        let origin_of = |owner: &str| {
            self.db
                .get(owner)
                .map(|p| p.info.origin.clone())
                .unwrap_or_default()
        };

        let mut record = InstalledPackage::new(index::package_info(&pkg, None));
        record.replaces = replaces.clone();
        record.replaces_priority = pkg.pkginfo.replaces_priority.unwrap_or(0);
        record.scripts = pkg
            .scripts
            .iter()
            .map(|(kind, body)| Script {
                kind: *kind,
                body: body.clone(),
            })
            .collect();
        record.triggers = pkg.pkginfo.triggers.clone();

        // What this package will create, on top of `self.overlay` (not a copy of it: that
        // would make a transaction quadratic in its number of entries).
        let mut added: BTreeMap<String, Node> = BTreeMap::new();
        let mut ops = Vec::with_capacity(pkg.entries.len());
        let mut taken: Vec<(String, String)> = Vec::new(); // (path, previous owner)
        let mut dests: HashMap<&str, String> = HashMap::with_capacity(pkg.entries.len());
        let mut digests: HashMap<&str, Option<String>> = HashMap::with_capacity(pkg.entries.len());
        let mut shipped: Vec<String> = Vec::with_capacity(pkg.entries.len());
        for e in &pkg.entries {
            let h = &e.header;
            let path = h.path.as_str();
            let perr = |what: &str| InstallError::Path {
                name: name.clone(),
                path: path.to_string(),
                what: what.to_string(),
            };
            // apk silently skips top-level dot names in data (spec §5.7).
            if !path.contains('/') && path.starts_with('.') {
                ops.push(None);
                continue;
            }
            // Resolve against what this transaction will have created so far.
            let dest = resolve(
                &self.root,
                &[&self.overlay, &added],
                &name,
                path,
                h.entry_type == EntryType::Directory,
            )?;
            if dest.is_empty() {
                return Err(perr("resolves to the root itself"));
            }
            let (uid, gid) = self.ids.resolve(h);
            let acl = Acl::new(uid, gid, h.mode & 0o7777);
            let (dir, base) = match path.rsplit_once('/') {
                Some((d, b)) => (d, b),
                None => ("", path),
            };
            let existing = lookup(&self.root, &[&self.overlay, &added], &dest)?;
            if h.entry_type == EntryType::Directory {
                match existing {
                    None | Some(Node::Dir) => {}
                    Some(_) => return Err(perr("exists and is not a directory")),
                }
                let d = record.dir_mut(path);
                d.acl = acl;
                added.insert(dest.clone(), Node::Dir);
                dests.insert(path, dest.clone());
                ops.push(Some(Op::Dir {
                    dest,
                    mode: h.mode & 0o7777,
                    uid,
                    gid,
                }));
                continue;
            }
            if existing == Some(Node::Dir) {
                return Err(perr("exists and is a directory"));
            }
            // Ownership: another package's file needs `replaces` or the same origin.
            if let Some(owner) = self.owners.get(path) {
                if *owner != name {
                    let allowed = replaces.iter().any(|r| r.name == *owner)
                        || (!pkg.pkginfo.origin.is_empty()
                            && origin_of(owner) == pkg.pkginfo.origin);
                    if !allowed {
                        return Err(InstallError::Conflict {
                            name: name.clone(),
                            path: path.to_string(),
                            owner: owner.clone(),
                        });
                    }
                    taken.push((path.to_string(), owner.clone()));
                }
            }
            let digest = match h.entry_type {
                EntryType::Hardlink => digests.get(h.link_name.as_str()).cloned().flatten(),
                _ => e.sha1.map(|d| package::q1(&d)),
            };
            digests.insert(path, digest.clone());
            let mut file = InstalledFile::new(base, digest);
            file.acl = acl;
            if h.entry_type == EntryType::Symlink {
                file.acl.mode = 0o777;
            }
            record.dir_mut(dir).files.push(file);
            shipped.push(path.to_string());
            let op = match h.entry_type {
                EntryType::Regular => {
                    added.insert(dest.clone(), Node::File);
                    Op::File {
                        dest: dest.clone(),
                        mode: h.mode & 0o7777,
                        uid,
                        gid,
                        mtime: h.mtime,
                    }
                }
                EntryType::Symlink => {
                    added.insert(dest.clone(), Node::Symlink(h.link_name.clone()));
                    Op::Symlink {
                        dest: dest.clone(),
                        target: h.link_name.clone(),
                        uid,
                        gid,
                    }
                }
                EntryType::Hardlink => {
                    let source = dests
                        .get(h.link_name.as_str())
                        .cloned()
                        .ok_or_else(|| perr("hard link to a path not in this package"))?;
                    added.insert(dest.clone(), Node::File);
                    Op::Hardlink {
                        dest: dest.clone(),
                        source,
                    }
                }
                _ => {
                    return Err(perr(
                        "device nodes and fifos cannot be installed without root tools",
                    ))
                }
            };
            dests.insert(path, dest);
            ops.push(Some(op));
        }

        // Files of the old version that the new one no longer ships.
        let mut stale = Vec::new();
        if let Some(old) = &old {
            for f in old.file_paths() {
                if !shipped.contains(&f) && self.owners.get(&f) == Some(&name) {
                    if let Ok(d) = resolve(&self.root, &[&self.overlay], &name, &f, false) {
                        stale.push(d);
                    }
                }
            }
        }

        // Everything checked: update the transaction's view.
        // Inserts one by one: `BTreeMap::append` rebuilds the whole map.
        self.overlay.extend(added);
        for (path, owner) in taken {
            if let Some(p) = self.db.get_mut(&owner) {
                let (dir, base) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
                if let Some(d) = p.dirs.iter_mut().find(|d| d.path == dir) {
                    d.files.retain(|f| f.name != base);
                }
            }
        }
        if let Some(old) = &old {
            for f in old.file_paths() {
                if self.owners.get(&f) == Some(&name) {
                    self.owners.remove(&f);
                }
            }
        }
        for f in &shipped {
            self.owners.insert(f.clone(), name.clone());
        }
        self.db.insert(record);
        let bytes = match &contents {
            Some(c) => {
                debug_assert_eq!(c.len(), ops.len());
                self.cache_left -= kept;
                None
            }
            None => Some(bytes),
        };
        self.planned.push(Planned {
            bytes,
            contents,
            ops,
            stale,
        });
        Ok(self.db.get(&name).expect("just inserted"))
    }

    /// Plans removing an installed package: its files (not its directories) and its
    /// database record. Removing a package that is not installed does nothing.
    pub fn remove(&mut self, name: &str) -> Result<(), InstallError> {
        let Some(old) = self.db.get(name).cloned() else {
            return Ok(());
        };
        let mut stale = Vec::new();
        for f in old.file_paths() {
            if self.owners.get(&f).map(String::as_str) == Some(name) {
                self.owners.remove(&f);
                stale.push(resolve(&self.root, &[&self.overlay], name, &f, false)?);
            }
        }
        self.db.remove(name);
        self.planned.push(Planned {
            bytes: None,
            contents: None,
            ops: Vec::new(),
            stale,
        });
        Ok(())
    }

    /// Writes everything planned, then the database files. Returns the database.
    pub fn commit(self) -> Result<InstalledDb, InstallError> {
        let defaults = Defaults::probe(self.chown);
        for p in &self.planned {
            if let Some(contents) = &p.contents {
                for (op, data) in p.ops.iter().zip(contents) {
                    if let Some(op) = op {
                        apply(&self.root, op, data, &defaults)?;
                    }
                }
            }
            let mut i = 0;
            let mut failure: Option<InstallError> = None;
            let bytes = p.bytes.as_deref().unwrap_or_default();
            let res = if bytes.is_empty() {
                Ok(None)
            } else {
                Package::parse_with(bytes, |_entry, data| {
                    let op = p.ops.get(i).and_then(Option::as_ref);
                    i += 1;
                    if let Some(op) = op {
                        if let Err(e) = apply(&self.root, op, data, &defaults) {
                            failure = Some(e);
                            return Err(PackageError::Write("install failed".into()));
                        }
                    }
                    Ok(())
                })
                .map(Some)
            };
            if let Some(e) = failure {
                return Err(e);
            }
            res.map_err(|source| InstallError::Package {
                name: "package".into(),
                source,
            })?;
            for s in &p.stale {
                let full = self.root.join(s);
                match std::fs::remove_file(&full) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io_err(&full)(e)),
                }
            }
        }
        write_database(&self.root, &self.db)?;
        Ok(self.db)
    }
}

fn temp_name(dest: &Path) -> PathBuf {
    let base = dest
        .file_name()
        .map(|b| b.as_encoded_bytes())
        .unwrap_or_default();
    let tag = hex::encode(&Sha1::digest(base)[..8]);
    dest.with_file_name(format!(".apk.{tag}"))
}

/// Creates `tmp` with `create`; a leftover from an interrupted run is removed first. (Trying
/// first saves a system call per entry over removing unconditionally.)
fn create_temp<T>(
    tmp: &Path,
    create: impl Fn(&Path) -> std::io::Result<T>,
) -> Result<T, InstallError> {
    match create(tmp) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let _ = std::fs::remove_file(tmp);
            create(tmp)
        }
        r => r,
    }
    .map_err(io_err(tmp))
}

fn set_owner(path: &Path, uid: u32, gid: u32, symlink: bool) -> Result<(), InstallError> {
    let r = if symlink {
        std::os::unix::fs::lchown(path, Some(uid), Some(gid))
    } else {
        std::os::unix::fs::chown(path, Some(uid), Some(gid))
    };
    r.map_err(io_err(path))
}

fn apply(root: &Path, op: &Op, data: &[u8], d: &Defaults) -> Result<(), InstallError> {
    use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
    match op {
        Op::Dir {
            dest,
            mode,
            uid,
            gid,
        } => {
            let full = root.join(dest);
            match std::fs::DirBuilder::new().mode(*mode & 0o777).create(&full) {
                Ok(()) => {
                    if d.needs_chown(*uid, *gid) {
                        set_owner(&full, *uid, *gid, false)?;
                    }
                    if d.needs_chmod(*mode) {
                        std::fs::set_permissions(&full, std::fs::Permissions::from_mode(*mode))
                            .map_err(io_err(&full))?;
                    }
                }
                // An existing directory is kept as it is (as apk does).
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && full.is_dir() => {}
                Err(e) => return Err(io_err(&full)(e)),
            }
        }
        Op::File {
            dest,
            mode,
            uid,
            gid,
            mtime,
        } => {
            let full = root.join(dest);
            let open = |p: &Path| {
                std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(*mode & 0o777)
                    .open(p)
            };
            // A new path is written in place (nothing to replace, and the transaction was
            // checked before the first write); an existing one through a temporary file
            // and a rename, so that it is never seen half-written.
            let (mut f, tmp) = match open(&full) {
                Ok(f) => (f, None),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let tmp = temp_name(&full);
                    (create_temp(&tmp, open)?, Some(tmp))
                }
                Err(e) => return Err(io_err(&full)(e)),
            };
            let at = tmp.as_deref().unwrap_or(&full);
            f.write_all(data).map_err(io_err(at))?;
            let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(*mtime);
            f.set_modified(t).map_err(io_err(at))?;
            if d.needs_chown(*uid, *gid) {
                std::os::unix::fs::fchown(&f, Some(*uid), Some(*gid)).map_err(io_err(at))?;
            }
            // After chown, which clears suid/sgid.
            if d.needs_chmod(*mode) || d.needs_chown(*uid, *gid) {
                f.set_permissions(std::fs::Permissions::from_mode(*mode))
                    .map_err(io_err(at))?;
            }
            drop(f);
            if let Some(tmp) = tmp {
                std::fs::rename(&tmp, &full).map_err(io_err(&full))?;
            }
        }
        Op::Symlink {
            dest,
            target,
            uid,
            gid,
        } => {
            let full = root.join(dest);
            // New: in place; existing: a temporary link renamed over it.
            let at = match std::os::unix::fs::symlink(target, &full) {
                Ok(()) => None,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let tmp = temp_name(&full);
                    create_temp(&tmp, |p| std::os::unix::fs::symlink(target, p))?;
                    Some(tmp)
                }
                Err(e) => return Err(io_err(&full)(e)),
            };
            if d.needs_chown(*uid, *gid) {
                set_owner(at.as_deref().unwrap_or(&full), *uid, *gid, true)?;
            }
            if let Some(tmp) = at {
                std::fs::rename(&tmp, &full).map_err(io_err(&full))?;
            }
        }
        Op::Hardlink { dest, source } => {
            let full = root.join(dest);
            let source = root.join(source);
            match std::fs::hard_link(&source, &full) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let tmp = temp_name(&full);
                    create_temp(&tmp, |p| std::fs::hard_link(&source, p))?;
                    std::fs::rename(&tmp, &full).map_err(io_err(&full))?;
                }
                Err(e) => return Err(io_err(&full)(e)),
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The database files and the root layout (spec §7).
// ---------------------------------------------------------------------------------------------

/// Writes `path` through a temporary file and a rename.
fn write_atomic(path: &Path, data: &[u8]) -> Result<(), InstallError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io_err(parent))?;
    }
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, data).map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err(path))
}

/// `scripts.tar` as apk writes it: one entry per script named
/// `<name>-<version>.<id>.<action>`, mode 0755, root, mtime = build date, two zero blocks.
pub fn scripts_tar(db: &InstalledDb) -> Result<Vec<u8>, tarball::TarError> {
    let mut w = TarWriter::new(Vec::new(), TarStyle::ApkIndex);
    for p in db.sorted() {
        for s in &p.scripts {
            let mut h = Header::new(p.script_entry_name(s.kind), EntryType::Regular);
            h.mode = 0o755;
            h.uname = "root".into();
            h.gname = "root".into();
            h.mtime = p.info.build_time;
            h.size = s.body.len() as u64;
            w.append(&h, &s.body)?;
        }
    }
    w.finish(TarEnd::TwoBlocks)
}

/// Attaches scripts from a `scripts.tar` to the packages they belong to (matched by
/// `<name>-<version>.` and the identity, `Q1…` or `X1…`).
pub fn read_scripts_tar(db: &mut InstalledDb, tar: &[u8]) -> Result<(), tarball::TarError> {
    let mut r = TarReader::new(tar);
    while let Some(h) = r.next_entry()? {
        let body = r.read_data(16 << 20)?;
        let Some((rest, action)) = h.path.rsplit_once('.') else {
            continue;
        };
        let Some(kind) = ScriptKind::parse(action) else {
            continue;
        };
        let Some((nv, id)) = rest.rsplit_once('.') else {
            continue;
        };
        let want = db::checksum_hex(id);
        if let Some(p) = db.packages.iter_mut().find(|p| {
            p.info.name_version() == nv
                && want.is_some()
                && db::checksum_hex(&p.info.checksum) == want
        }) {
            p.scripts.push(Script { kind, body });
        }
    }
    Ok(())
}

/// Reads the installed database of a root: `installed`, `triggers` and the scripts archive.
/// A root without a database reads as empty.
pub fn read_database(root: &Path) -> Result<InstalledDb, InstallError> {
    let installed = root.join(INSTALLED);
    let text = match std::fs::read_to_string(&installed) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(io_err(&installed)(e)),
    };
    let dberr = |p: &Path| {
        let path = p.display().to_string();
        move |source| InstallError::Db { path, source }
    };
    let mut db = InstalledDb::parse(&text).map_err(dberr(&installed))?;
    let triggers = root.join(TRIGGERS);
    if let Ok(t) = std::fs::read_to_string(&triggers) {
        db.read_triggers(&t).map_err(dberr(&triggers))?;
    }
    let tar_path = root.join(SCRIPTS_TAR);
    let gz_path = root.join(SCRIPTS_TAR_GZ);
    let tar = if let Ok(b) = std::fs::read(&tar_path) {
        Some((b, tar_path))
    } else if let Ok(b) = std::fs::read(&gz_path) {
        let (t, _) =
            tarball::inflate_member(&b, 0, 1 << 30).map_err(|source| InstallError::Tar {
                path: gz_path.display().to_string(),
                source,
            })?;
        Some((t, gz_path))
    } else {
        None
    };
    if let Some((t, p)) = tar {
        read_scripts_tar(&mut db, &t).map_err(|source| InstallError::Tar {
            path: p.display().to_string(),
            source,
        })?;
    }
    Ok(db)
}

/// Writes `installed`, `triggers` and `scripts.tar` (apk 2's uncompressed name, which apk 3
/// keeps using when it exists).
pub fn write_database(root: &Path, db: &InstalledDb) -> Result<(), InstallError> {
    write_atomic(&root.join(INSTALLED), db.to_text().as_bytes())?;
    write_atomic(&root.join(TRIGGERS), db.triggers_text().as_bytes())?;
    let tar = scripts_tar(db).map_err(|source| InstallError::Tar {
        path: SCRIPTS_TAR.into(),
        source,
    })?;
    write_atomic(&root.join(SCRIPTS_TAR), &tar)
}

/// Creates what `apk add --initdb --root DIR --arch ARCH` creates (apk 3, spec §7.3):
/// `lib/apk/db/{installed,triggers,scripts.tar,lock}`, `etc/apk/{world,arch}`,
/// `etc/apk/keys`, `var/cache/apk`, `var/log/apk.log`. Existing files are kept.
pub fn init_root(root: &Path, arch: &str) -> Result<(), InstallError> {
    for d in ["etc/apk/keys", "lib/apk/db", "var/cache/apk", "var/log"] {
        let p = root.join(d);
        std::fs::create_dir_all(&p).map_err(io_err(&p))?;
    }
    let empty_tar = scripts_tar(&InstalledDb::default()).map_err(|source| InstallError::Tar {
        path: SCRIPTS_TAR.into(),
        source,
    })?;
    let files: [(&str, Vec<u8>); 7] = [
        (INSTALLED, Vec::new()),
        (TRIGGERS, Vec::new()),
        (SCRIPTS_TAR, empty_tar),
        (LOCK, Vec::new()),
        (WORLD, b"\n".to_vec()),
        (ARCH, format!("{arch}\n").into_bytes()),
        ("var/log/apk.log", Vec::new()),
    ];
    for (f, data) in files {
        let p = root.join(f);
        if !p.exists() {
            write_atomic(&p, &data)?;
        }
    }
    Ok(())
}

/// Copies the public keys in `keys_dir` into `etc/apk/keys` of the root.
pub fn install_keys(root: &Path, keys_dir: &Path) -> Result<usize, InstallError> {
    let dest = root.join(KEYS);
    std::fs::create_dir_all(&dest).map_err(io_err(&dest))?;
    let mut n = 0;
    for e in std::fs::read_dir(keys_dir).map_err(io_err(keys_dir))? {
        let e = e.map_err(io_err(keys_dir))?;
        let name = e.file_name();
        let Some(s) = name.to_str() else { continue };
        if !s.ends_with(".pub") {
            continue;
        }
        let data = std::fs::read(e.path()).map_err(io_err(&e.path()))?;
        write_atomic(&dest.join(&name), &data)?;
        n += 1;
    }
    Ok(n)
}

/// Writes `etc/apk/world` (sorted, one per line).
pub fn write_world(root: &Path, world: &[Dependency]) -> Result<(), InstallError> {
    write_atomic(&root.join(WORLD), db::write_world(world).as_bytes())
}

/// Reads `etc/apk/world`; missing means empty.
pub fn read_world(root: &Path) -> Result<Vec<Dependency>, InstallError> {
    let p = root.join(WORLD);
    match std::fs::read_to_string(&p) {
        Ok(t) => db::parse_world(&t).map_err(|source| InstallError::Db {
            path: p.display().to_string(),
            source,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(io_err(&p)(e)),
    }
}

/// Writes `etc/apk/repositories`, one repository per line.
pub fn write_repositories(root: &Path, repos: &[String]) -> Result<(), InstallError> {
    let mut text = String::new();
    for r in repos {
        text.push_str(r);
        text.push('\n');
    }
    write_atomic(&root.join(REPOSITORIES), text.as_bytes())
}

/// Writes `etc/apk/arch`.
pub fn write_arch(root: &Path, arch: &str) -> Result<(), InstallError> {
    write_atomic(&root.join(ARCH), format!("{arch}\n").as_bytes())
}
