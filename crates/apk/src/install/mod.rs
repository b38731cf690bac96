//! Installing v2 and v3 packages into a root directory, without running anything.
//!
//! A [`Transaction`] checks every package completely before anything in the root changes:
//! integrity and trust (a signature by a trusted key, or the record of a trusted index,
//! whose `C:` (v3: `hashes`), `P:` and `V:` the package must match) before its data is
//! read; then every
//! data entry: apk's path rules, no duplicate paths, no devices, nothing that leaves the
//! root through a symlink, nothing at the installer's own files, file ownership (a file of
//! another installed package may only be replaced when the new package `replaces` it or
//! shares its origin), no more content than `.PKGINFO` declares, and a database record
//! apk-tools can write and read back ([`crate::limits`]). File contents are streamed into a
//! staging directory inside the root while they are checked (memory does not grow with
//! file sizes). [`Transaction::commit`] then moves everything into place and writes the
//! database (`lib/apk/db/installed`, `scripts.tar`, `triggers`) and, when set, `world`,
//! `repositories`, `arch` and keys: all of it, or, if any step fails, none of it (see
//! [`commit`]).
//!
//! Paths are resolved as inside a chroot: an absolute symlink target starts again at the
//! root; a relative target that climbs above it is refused. Every file is reached through
//! directories opened without following symlinks ([`crate::rootdir`]).
//! Owners are applied only when running as root; otherwise they are only recorded.
//! Maintainer scripts are recorded in `scripts.tar`, never run.

mod commit;
mod files;
mod plan;
mod v3;

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use crate::adb::AdbError;
use crate::db::{DbError, InstalledDb, PackageInfo};
use crate::dep::Dependency;
use crate::package::{shown, PackageError};
use crate::rootdir::{Node, RootDir};
use crate::sign::Keyring;
use crate::tarball::{self, Header};

use commit::{Op, Stage};
pub use files::{
    has_database, init_root, install_keys, load_root_keys, read_database, read_scripts_tar,
    read_world, scripts_tar, write_arch, write_database, write_repositories, write_world,
};

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
pub const LOG: &str = "var/log/apk.log";
/// Files only the installer writes: no package may ship anything there.
pub const INSTALLER_FILES: [&str; 9] = [
    INSTALLED,
    SCRIPTS_TAR,
    SCRIPTS_TAR_GZ,
    TRIGGERS,
    LOCK,
    WORLD,
    ARCH,
    REPOSITORIES,
    LOG,
];
/// Directories the installer writes into: a package may ship them only as directories.
pub const INSTALLER_DIRS: [&str; 3] = ["lib/apk/db", "etc/apk", KEYS];

/// Why an installation was refused or failed. Each is one line: the package (its name and
/// version, or its file), the path, and what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("{package}: {error}")]
    Package {
        package: String,
        error: PackageError,
    },
    /// A v3 package's container, ADB block, signature or data.
    #[error("{package}: {error}")]
    PackageV3 { package: String, error: AdbError },
    #[error(
        "{package}: {}: would leave the root through symlink {}",
        shown(path),
        shown(link)
    )]
    Escape {
        package: String,
        path: String,
        link: String,
    },
    #[error("{package}: {}: {what}", shown(path))]
    Path {
        package: String,
        path: String,
        what: String,
    },
    #[error(
        "{package}: {}: already owned by {} (the package does not replace it)",
        shown(path),
        shown(owner)
    )]
    Conflict {
        package: String,
        path: String,
        owner: String,
    },
    #[error("{package}: {what}")]
    Refused { package: String, what: String },
    #[error("{}: {error}", shown(path))]
    Io { path: String, error: io::Error },
    #[error("{}: {error}", shown(path))]
    Db { path: String, error: DbError },
    #[error("{}: {error}", shown(path))]
    Tar {
        path: String,
        error: tarball::TarError,
    },
}

/// Why a package is trusted.
#[derive(Debug, Clone, Copy)]
pub enum Trust<'a> {
    /// Its own signature must verify with one of these keys.
    Keys(&'a Keyring),
    /// It is listed in a trusted (signed, verified) index: its `C:` identity replaces the
    /// signature check (spec §5.5, step 8), and its name and version must be the record's.
    /// For a v3 package, `C:` is the record's `hashes` (`Q1` and the base64 of its 32 or
    /// 20 bytes; see [`crate::adb::repo`]), the SHA-256 of the package's ADB block.
    Index(&'a PackageInfo),
    /// `--allow-untrusted`: integrity is still checked, trust is not. A record of the
    /// (untrusted) index it came from must still match, as for [`Trust::Index`].
    Untrusted(Option<&'a PackageInfo>),
}

/// Whether this process runs as root (the owner of `/proc/self` is the effective uid).
pub fn running_as_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// Owner, mode and mtime of a file or directory the installer creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Owner {
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
    pub mtime: Option<u64>,
    /// Whether to `fchown` (running as root, and the ids are not the process's own).
    pub chown: bool,
    /// Whether to `fchmod` a file created with `mode & 0o777` (the umask or special bits
    /// leave it different, or `chown` cleared suid/sgid).
    pub chmod: bool,
}

impl Owner {
    /// Owner, then mode (after chown, which clears suid/sgid), then mtime.
    fn apply(&self, f: &File) -> io::Result<()> {
        if self.chown {
            std::os::unix::fs::fchown(f, Some(self.uid), Some(self.gid))?;
        }
        if self.chmod || self.chown {
            f.set_permissions(std::fs::Permissions::from_mode(self.mode & 0o7777))?;
        }
        if let Some(t) = self.mtime {
            f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(t))?;
        }
        Ok(())
    }

    fn apply_dir(&self, f: &File) -> io::Result<()> {
        if self.chown {
            std::os::unix::fs::fchown(f, Some(self.uid), Some(self.gid))?;
        }
        f.set_permissions(std::fs::Permissions::from_mode(self.mode & 0o7777))
    }
}

/// The process's effective ids and umask, and whether to chown at all.
#[derive(Debug, Clone, Copy)]
struct Ids {
    chown: bool,
    uid: u32,
    gid: u32,
    /// `None` when unknown: then every file gets an `fchmod`.
    umask: Option<u32>,
}

impl Ids {
    fn probe(chown: bool) -> Ids {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let umask = status
            .lines()
            .find_map(|l| l.strip_prefix("Umask:"))
            .and_then(|v| u32::from_str_radix(v.trim(), 8).ok());
        Ids {
            chown,
            uid: rustix::process::geteuid().as_raw(),
            gid: rustix::process::getegid().as_raw(),
            umask,
        }
    }

    fn owner(&self, uid: u32, gid: u32, mode: u32, mtime: Option<u64>) -> Owner {
        let chmod = match self.umask {
            Some(umask) => mode & 0o7000 != 0 || mode & umask != 0,
            None => true,
        };
        Owner {
            uid,
            gid,
            mode,
            mtime,
            chown: self.chown && (uid != self.uid || gid != self.gid),
            chmod,
        }
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
    /// Reads the root's `etc/passwd` and `etc/group` (following symlinks only inside it).
    pub fn load(root: &Path) -> IdMap {
        match RootDir::open(root) {
            Ok(r) => IdMap::load_from(&r),
            Err(_) => IdMap::default(),
        }
    }

    fn load_from(root: &RootDir) -> IdMap {
        let read = |f: &str| -> HashMap<String, u32> {
            let bytes = root.read_in_root(f, 16 << 20).ok().flatten();
            let text = String::from_utf8_lossy(bytes.as_deref().unwrap_or_default()).into_owned();
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

    /// The ids of a v3 owner, which has names only: as for v2, with apk-tools' 65534
    /// (`nobody`) for a name the root does not know.
    fn resolve_names(&self, user: &str, group: &str) -> (u32, u32) {
        let look = |map: &HashMap<String, u32>, name: &str| match name {
            "root" => 0,
            n => map.get(n).copied().unwrap_or(NOBODY),
        };
        (look(&self.users, user), look(&self.groups, group))
    }
}

/// The id apk-tools gives an owner name the root does not know (v3 packages).
const NOBODY: u32 = 65534;

/// A set of packages (and database files) to install into one root, checked completely
/// before anything is written.
pub struct Transaction {
    root: RootDir,
    db: InstalledDb,
    ids: IdMap,
    owner_ids: Ids,
    /// Nodes the planned operations will create, by resolved path.
    overlay: HashMap<String, Node>,
    /// What is on disk, by resolved path, as far as it has been looked at.
    disk: HashMap<String, Option<Node>>,
    /// Archive path → owning package name, for every installed and planned file.
    owners: HashMap<String, String>,
    /// Resolved paths planned for packages' files and directories.
    package_paths: HashSet<String>,
    /// Symlinks planned paths go through (never removed), and paths planned to be removed.
    traversed: HashSet<String>,
    removed: HashSet<String>,
    ops: Vec<Op>,
    stage: Option<Stage>,
    /// Layout (`--initdb`), keys, world, repositories and arch to write at commit.
    extra: files::Extra,
}

impl Transaction {
    /// Starts a transaction on a root whose database has been read into `db`.
    pub fn new(root: &Path, db: InstalledDb) -> Result<Transaction, InstallError> {
        let root = RootDir::open(root).map_err(|error| InstallError::Io {
            path: root.display().to_string(),
            error,
        })?;
        let mut owners = HashMap::new();
        for p in &db.packages {
            for f in p.file_paths() {
                owners.insert(f, p.info.name.clone());
            }
        }
        Ok(Transaction {
            ids: IdMap::load_from(&root),
            owner_ids: Ids::probe(running_as_root()),
            root,
            db,
            overlay: HashMap::new(),
            disk: HashMap::new(),
            owners,
            package_paths: HashSet::new(),
            traversed: HashSet::new(),
            removed: HashSet::new(),
            ops: Vec::new(),
            stage: None,
            extra: files::Extra::default(),
        })
    }

    /// Starts a transaction on a root, reading its database.
    pub fn open(root: &Path) -> Result<Transaction, InstallError> {
        let db = read_database(root)?;
        Transaction::new(root, db)
    }

    /// Apply owners with `chown` (default: only when running as root).
    pub fn set_chown(&mut self, chown: bool) {
        self.owner_ids = Ids::probe(chown);
    }

    /// The database as it will be after [`Transaction::commit`].
    pub fn db(&self) -> &InstalledDb {
        &self.db
    }

    /// Writes `etc/apk/world` at commit.
    pub fn set_world(&mut self, world: &[Dependency]) {
        self.extra.world = Some(world.to_vec());
    }

    /// Writes `etc/apk/repositories` (one line each) at commit.
    pub fn set_repositories(&mut self, repos: &[String]) {
        self.extra.repositories = Some(repos.to_vec());
    }

    fn stage(&mut self) -> Result<&mut Stage, InstallError> {
        if self.stage.is_none() {
            self.stage = Some(Stage::create(&self.root)?);
        }
        Ok(self.stage.as_mut().expect("just created"))
    }

    /// Writes everything planned, then the database files: all of it or none of it.
    /// Returns the database.
    pub fn commit(mut self) -> Result<InstalledDb, InstallError> {
        self.plan_files()?;
        let mut stage = self.stage.take().expect("plan_files stages the database");
        let r = commit::Commit::new(&self.root, &mut stage).run(&self.ops);
        stage.remove(&self.root);
        r?;
        Ok(std::mem::take(&mut self.db))
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        if let Some(stage) = self.stage.take() {
            stage.remove(&self.root);
        }
    }
}
