//! The installer's own files in a root (spec §7): the database, `world`, `arch`,
//! `repositories`, keys and the `--initdb` layout. They are written at commit like a
//! package's files (staged, then renamed into place), and read following symlinks only
//! inside the root.

use std::path::Path;

use super::commit::Op;
use super::{
    InstallError, Transaction, ARCH, INSTALLED, KEYS, LOCK, LOG, REPOSITORIES, SCRIPTS_TAR,
    SCRIPTS_TAR_GZ, TRIGGERS, WORLD,
};
use crate::db::{self, InstalledDb, Script, ScriptKind};
use crate::dep::Dependency;
use crate::rootdir::{join, split_parent, Node, RootDir};
use crate::sign::{Keyring, PublicKey};
use crate::tarball::{self, EntryType, Header, TarEnd, TarReader, TarStyle, TarWriter};

/// Largest database file read (a full Alpine system's `installed` is about 10 MiB).
const MAX_DB_FILE: u64 = 1 << 30;
/// Directories `--initdb` creates (apk 3, spec §7.3), with `etc/apk/keys`.
const LAYOUT_DIRS: [&str; 4] = [KEYS, "lib/apk/db", "var/cache/apk", "var/log"];

/// What a transaction writes besides packages.
#[derive(Debug, Default)]
pub(super) struct Extra {
    /// `--initdb`: the layout, with this arch.
    pub init: Option<String>,
    /// Key files to copy into `etc/apk/keys`.
    pub keys: Vec<(String, Vec<u8>)>,
    pub world: Option<Vec<Dependency>>,
    pub repositories: Option<Vec<String>>,
    pub arch: Option<String>,
    /// Whether packages were added or removed (the database is rewritten).
    pub db_changed: bool,
}

impl Transaction {
    /// Plans what `apk add --initdb --root DIR --arch ARCH` creates (apk 3, spec §7.3):
    /// `lib/apk/db/{installed,triggers,scripts.tar,lock}`, `etc/apk/{world,arch}`,
    /// `etc/apk/keys`, `var/cache/apk`, `var/log/apk.log`. Existing files are kept.
    pub fn init_root(&mut self, arch: &str) {
        self.extra.init = Some(arch.to_string());
    }

    /// Plans copying the public keys (`*.pub`) in `keys_dir` into `etc/apk/keys`; returns
    /// how many there are. A key file that a package owns (one of this transaction, such
    /// as `alpine-keys` in a new root, or an installed one) is left to the package: the
    /// database records that package's file.
    pub fn install_keys(&mut self, keys_dir: &Path) -> Result<usize, InstallError> {
        let io = |p: &Path| {
            let path = p.display().to_string();
            move |error| InstallError::Io { path, error }
        };
        let mut n = 0;
        for e in std::fs::read_dir(keys_dir).map_err(io(keys_dir))? {
            let e = e.map_err(io(keys_dir))?;
            let Some(name) = e.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if !name.ends_with(".pub") {
                continue;
            }
            let data = std::fs::read(e.path()).map_err(io(&e.path()))?;
            self.extra.keys.push((name, data));
            n += 1;
        }
        Ok(n)
    }

    /// Writes `etc/apk/arch` at commit.
    pub fn set_arch(&mut self, arch: &str) {
        self.extra.arch = Some(arch.to_string());
    }

    /// Stages the installer's files and plans their writes, after the packages'.
    pub(super) fn plan_files(&mut self) -> Result<(), InstallError> {
        self.stage()?;
        let init = self.extra.init.clone();
        if init.is_some() {
            for d in LAYOUT_DIRS {
                self.plan_dir_all(d)?;
            }
        }
        for (rel, data, only_if_missing) in self.installer_files()? {
            let (parent, _) = split_parent(&rel);
            let parent = self.plan_dir_all(parent)?;
            let dest = join(&parent, split_parent(&rel).1);
            if self.package_owns_key(&rel, &dest) {
                continue;
            }
            if self.package_paths.contains(&dest) {
                return Err(self.refused(&rel, "a package of this transaction writes there"));
            }
            match self.lookup_disk_or_planned(&dest)? {
                Some(Node::Dir | Node::Other) => {
                    return Err(self.refused(&rel, "is not a regular file"));
                }
                Some(_) if only_if_missing => continue,
                _ => {}
            }
            let owner = self.owner_ids.owner(0, 0, 0o644, None);
            let root = &self.root;
            let staged = self
                .stage
                .as_mut()
                .expect("staged")
                .write_file(root, &data, &owner)?;
            self.ops.push(Op::Place { dest, staged });
        }
        Ok(())
    }

    /// Whether `rel` (resolved: `dest`) is a key file under `etc/apk/keys` that a package
    /// of this transaction writes or an installed package owns.
    fn package_owns_key(&self, rel: &str, dest: &str) -> bool {
        rel.strip_prefix(KEYS).is_some_and(|r| r.starts_with('/'))
            && (self.package_paths.contains(dest)
                || self.owners.contains_key(rel)
                || self.owners.contains_key(dest))
    }

    fn refused(&self, rel: &str, what: &str) -> InstallError {
        InstallError::Refused {
            package: self.root.display(rel),
            what: what.to_string(),
        }
    }

    /// (path, content, only if missing) of every installer file to write.
    fn installer_files(&self) -> Result<Vec<(String, Vec<u8>, bool)>, InstallError> {
        let x = &self.extra;
        let mut files = Vec::new();
        let tar = scripts_tar(&self.db).map_err(|error| InstallError::Tar {
            path: self.root.display(SCRIPTS_TAR),
            error,
        })?;
        if let Some(arch) = &x.init {
            files.push((INSTALLED.to_string(), Vec::new(), true));
            files.push((TRIGGERS.to_string(), Vec::new(), true));
            files.push((SCRIPTS_TAR.to_string(), tar.clone(), true));
            files.push((LOCK.to_string(), Vec::new(), true));
            files.push((LOG.to_string(), Vec::new(), true));
            files.push((ARCH.to_string(), format!("{arch}\n").into_bytes(), true));
            files.push((WORLD.to_string(), b"\n".to_vec(), true));
        }
        if x.db_changed {
            files.push((INSTALLED.to_string(), self.db.to_text().into_bytes(), false));
            files.push((
                TRIGGERS.to_string(),
                self.db.triggers_text().into_bytes(),
                false,
            ));
            files.push((SCRIPTS_TAR.to_string(), tar, false));
        }
        if let Some(w) = &x.world {
            files.push((WORLD.to_string(), db::write_world(w).into_bytes(), false));
        }
        if let Some(repos) = &x.repositories {
            let text: String = repos.iter().map(|r| format!("{r}\n")).collect();
            files.push((REPOSITORIES.to_string(), text.into_bytes(), false));
        }
        if let Some(arch) = &x.arch {
            files.push((ARCH.to_string(), format!("{arch}\n").into_bytes(), false));
        }
        for (name, data) in &x.keys {
            files.push((join(KEYS, name), data.clone(), false));
        }
        // A file written twice (world: `--initdb` and set): only the last one counts.
        let mut seen = std::collections::HashSet::new();
        files.reverse();
        files.retain(|f| seen.insert(f.0.clone()));
        files.reverse();
        Ok(files)
    }

    /// Plans `mkdir -p` of `rel` (symlinks followed chroot-style) and returns its resolved
    /// path.
    fn plan_dir_all(&mut self, rel: &str) -> Result<String, InstallError> {
        let mut cur = String::new();
        for comp in rel.split('/').filter(|c| !c.is_empty()) {
            let next = self
                .root_resolve(&join(&cur, comp))
                .map_err(|error| InstallError::Io {
                    path: self.root.display(rel),
                    error,
                })?;
            match self.lookup_disk_or_planned(&next)? {
                Some(Node::Dir) => {}
                None => {
                    let owner = self.owner_ids.owner(0, 0, 0o755, None);
                    self.overlay.insert(next.clone(), Node::Dir);
                    self.ops.push(Op::Dir {
                        dest: next.clone(),
                        owner,
                    });
                }
                Some(_) => return Err(self.refused(&next, "is not a directory")),
            }
            cur = next;
        }
        Ok(cur)
    }

    fn lookup_disk_or_planned(&mut self, rel: &str) -> Result<Option<Node>, InstallError> {
        match self.overlay.get(rel) {
            Some(n) => Ok(Some(n.clone())),
            None if self.removed.contains(rel) => Ok(None),
            None => self.lookup_disk(rel),
        }
    }

    /// Resolves `rel` chroot-style over what is planned and what is on disk.
    fn root_resolve(&mut self, rel: &str) -> std::io::Result<String> {
        let mut lookup = |p: &str| -> std::io::Result<Option<Node>> {
            self.lookup_disk_or_planned(p)
                .map_err(|e| std::io::Error::other(e.to_string()))
        };
        crate::rootdir::resolve_with(rel, true, &mut lookup)
    }
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

fn open_root(root: &Path) -> Result<RootDir, InstallError> {
    RootDir::open(root).map_err(|error| InstallError::Io {
        path: root.display().to_string(),
        error,
    })
}

/// A text file of the root (symlinks followed only inside it); missing reads as empty.
fn read_text(root: &RootDir, rel: &str) -> Result<Option<String>, InstallError> {
    let io = |error| InstallError::Io {
        path: root.display(rel),
        error,
    };
    match root.read_in_root(rel, MAX_DB_FILE).map_err(io)? {
        None => Ok(None),
        Some(b) => String::from_utf8(b).map(Some).map_err(|_| {
            io(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "not UTF-8 text",
            ))
        }),
    }
}

/// Reads the installed database of a root: `installed`, `triggers` and the scripts archive.
/// A root without a database (or no root at all) reads as empty.
pub fn read_database(root: &Path) -> Result<InstalledDb, InstallError> {
    if !root.exists() {
        return Ok(InstalledDb::default());
    }
    let root = open_root(root)?;
    let dberr = |rel: &str| {
        let path = root.display(rel);
        move |error| InstallError::Db { path, error }
    };
    let text = read_text(&root, INSTALLED)?.unwrap_or_default();
    let mut db = InstalledDb::parse(&text).map_err(dberr(INSTALLED))?;
    if let Some(t) = read_text(&root, TRIGGERS)? {
        db.read_triggers(&t).map_err(dberr(TRIGGERS))?;
    }
    let tar_err = |rel: &str| {
        let path = root.display(rel);
        move |error| InstallError::Tar { path, error }
    };
    let io = |rel: &str| {
        let path = root.display(rel);
        move |error| InstallError::Io { path, error }
    };
    let tar = match root
        .read_in_root(SCRIPTS_TAR, MAX_DB_FILE)
        .map_err(io(SCRIPTS_TAR))?
    {
        Some(t) => Some((t, SCRIPTS_TAR)),
        None => match root
            .read_in_root(SCRIPTS_TAR_GZ, MAX_DB_FILE)
            .map_err(io(SCRIPTS_TAR_GZ))?
        {
            Some(gz) => {
                let (t, _) = tarball::inflate_member(&gz, 0, MAX_DB_FILE)
                    .map_err(tar_err(SCRIPTS_TAR_GZ))?;
                Some((t, SCRIPTS_TAR_GZ))
            }
            None => None,
        },
    };
    if let Some((t, rel)) = tar {
        read_scripts_tar(&mut db, &t).map_err(tar_err(rel))?;
    }
    Ok(db)
}

/// The public keys in the root's `etc/apk/keys` (symlinks, such as alpine-keys' links into
/// `/usr/share/apk/keys`, followed inside the root); files that are not keys are skipped,
/// as apk skips them.
pub fn load_root_keys(root: &Path) -> Result<Keyring, InstallError> {
    let r = open_root(root)?;
    let mut keys = Keyring::new();
    let io = |error| InstallError::Io {
        path: r.display(KEYS),
        error,
    };
    for name in r.list_in_root(KEYS).map_err(io)?.unwrap_or_default() {
        let Ok(Some(pem)) = r.read_in_root(&join(KEYS, &name), 1 << 20) else {
            continue;
        };
        if let Ok(key) = PublicKey::from_pem(&String::from_utf8_lossy(&pem)) {
            keys.insert(name, key);
        }
    }
    Ok(keys)
}

/// Whether the root has an installed database (`lib/apk/db/installed`).
pub fn has_database(root: &Path) -> bool {
    RootDir::open(root)
        .and_then(|r| r.open_in_root(INSTALLED))
        .and_then(|f| f.metadata())
        .is_ok_and(|m| m.is_file())
}

/// Reads `etc/apk/world`; missing means empty.
pub fn read_world(root: &Path) -> Result<Vec<Dependency>, InstallError> {
    if !root.exists() {
        return Ok(Vec::new());
    }
    let r = open_root(root)?;
    match read_text(&r, WORLD)? {
        Some(t) => db::parse_world(&t).map_err(|error| InstallError::Db {
            path: r.display(WORLD),
            error,
        }),
        None => Ok(Vec::new()),
    }
}

/// One transaction that writes only installer files.
fn write_files(root: &Path, plan: impl FnOnce(&mut Transaction)) -> Result<(), InstallError> {
    let mut tx = Transaction::new(root, InstalledDb::default())?;
    plan(&mut tx);
    tx.commit().map(drop)
}

/// Writes `installed`, `triggers` and `scripts.tar` (apk 2's uncompressed name, which apk 3
/// keeps using when it exists).
pub fn write_database(root: &Path, db: &InstalledDb) -> Result<(), InstallError> {
    let mut tx = Transaction::new(root, db.clone())?;
    tx.extra.db_changed = true;
    tx.commit().map(drop)
}

/// Creates the `--initdb` layout in `root` (see [`Transaction::init_root`]).
pub fn init_root(root: &Path, arch: &str) -> Result<(), InstallError> {
    let db = read_database(root)?;
    let mut tx = Transaction::new(root, db)?;
    tx.init_root(arch);
    tx.commit().map(drop)
}

/// Copies the public keys in `keys_dir` into `etc/apk/keys` of the root.
pub fn install_keys(root: &Path, keys_dir: &Path) -> Result<usize, InstallError> {
    let mut tx = Transaction::new(root, InstalledDb::default())?;
    let n = tx.install_keys(keys_dir)?;
    tx.commit()?;
    Ok(n)
}

/// Writes `etc/apk/world` (sorted, one per line).
pub fn write_world(root: &Path, world: &[Dependency]) -> Result<(), InstallError> {
    write_files(root, |tx| tx.set_world(world))
}

/// Writes `etc/apk/repositories`, one repository per line.
pub fn write_repositories(root: &Path, repos: &[String]) -> Result<(), InstallError> {
    write_files(root, |tx| tx.set_repositories(repos))
}

/// Writes `etc/apk/arch`.
pub fn write_arch(root: &Path, arch: &str) -> Result<(), InstallError> {
    write_files(root, |tx| tx.set_arch(arch))
}
