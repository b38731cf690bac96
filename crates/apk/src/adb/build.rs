//! Writing v3 packages as `apk mkpkg` does (apk-tools `app_mkpkg.c`, default `--compat`):
//! for the same tree, metadata and key, an uncompressed package is byte for byte the one
//! `apk mkpkg --compression none` writes (with `SOURCE_DATE_EPOCH` set and no xattrs on
//! the files), and a compressed one differs only in the deflate bytes.
//!
//! The ADB block is written in mkpkg's order: the info fields; then every directory in
//! byte order of its path, the root first, each after its files in byte order of their
//! names; the installed size and a 20-byte unique id; the info, the sorted paths, the
//! scripts, the triggers, the package. The unique id is then set to the first 20 bytes of
//! the SHA-256 of the whole block. A DATA block carries each regular file's content, in
//! the order of the paths, after the signature.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::container::{block_header, block_padding, Compression, BLOCK_DATA};
use super::encode;
use super::index::write_adb_file;
use super::schema::{
    dependency_problem, package_name_problem, pi, tag_problem, AclV3, PkgInfoV3, SCHEMA_PACKAGE,
    SCRIPT_FIELDS, S_IFBLK, S_IFCHR, S_IFIFO, S_IFLNK, S_IFREG,
};
use super::wire::Val;
use super::write::AdbWriter;
use super::AdbError;
use crate::db::ScriptKind;
use crate::package::{MtimePolicy, OwnerMap};
use crate::sign::PrivateKey;

/// Where a regular file's content comes from.
#[derive(Debug, Clone)]
enum Content {
    Bytes(Vec<u8>),
    /// Read when the package is written (twice: for its hash, then for its DATA block).
    File {
        path: PathBuf,
        size: u64,
    },
}

#[derive(Debug, Clone)]
enum Kind {
    Regular(Content),
    Symlink(String),
    /// A hard link to another file of the package (its path).
    Hardlink(String),
    Device {
        kind: u16,
        dev: u64,
    },
}

#[derive(Debug, Clone)]
struct Entry {
    acl: AclV3,
    mtime: u64,
    kind: Kind,
}

/// A package being put together; see the module documentation.
#[derive(Debug, Clone)]
pub struct PackageV3Builder {
    /// Metadata; `hashes` and `installed_size` are computed, `file_size` is not written.
    pub info: PkgInfoV3,
    pub replaces_priority: Option<u64>,
    /// Maintainer scripts (written in the schema's field order whatever the order here).
    pub scripts: Vec<(ScriptKind, Vec<u8>)>,
    pub triggers: Vec<String>,
    /// Directories by path (`""` is the root) with their ACL and files by name.
    dirs: BTreeMap<String, (AclV3, BTreeMap<String, Entry>)>,
}

/// A file of the package as written: where it is in the sorted paths, and what it holds.
struct Placed<'a> {
    dir_idx: u32,
    file_idx: u32,
    path: String,
    name: &'a str,
    entry: &'a Entry,
    /// The content's SHA-256 (regular files and hard links).
    hash: Vec<u8>,
    size: u64,
    /// For a hard link after the first file of its group: the path of that file.
    link_to: Option<String>,
    /// The first file of a hard link group: mkpkg writes the group's link target when it
    /// meets it.
    announces_link: bool,
    /// The content, for the file that holds it (the first of a hard link group).
    content: Option<&'a Content>,
}

impl Placed<'_> {
    /// Whether the content is in a DATA block: a regular file that is not a later hard
    /// link, and not empty.
    fn has_data(&self) -> bool {
        self.content.is_some() && self.size > 0
    }
}

/// A path's directory and name. `/x` is in the directory `/`, so that an absolute path is
/// written as one (and refused by readers), not made relative.
fn split(path: &str) -> (&str, &str) {
    match path.rsplit_once('/') {
        Some(("", name)) => ("/", name),
        Some(split) => split,
        None => ("", path),
    }
}

fn io_err(p: &Path) -> impl FnOnce(io::Error) -> AdbError + '_ {
    move |error| AdbError::Io {
        path: p.display().to_string(),
        error,
    }
}

impl PackageV3Builder {
    /// A package with a root directory (`0755 root:root`) and nothing in it.
    pub fn new(info: PkgInfoV3) -> PackageV3Builder {
        let mut dirs = BTreeMap::new();
        dirs.insert(String::new(), (AclV3::root(0o755), BTreeMap::new()));
        PackageV3Builder {
            info,
            replaces_priority: None,
            scripts: Vec::new(),
            triggers: Vec::new(),
            dirs,
        }
    }

    /// Adds (or changes the ACL of) a directory; `""` is the root. Parents not added are
    /// added as `0755 root:root`.
    pub fn push_dir(&mut self, path: &str, acl: AclV3) {
        self.ensure_dir(path);
        self.dirs.get_mut(path).expect("just made").0 = acl;
    }

    fn ensure_dir(&mut self, path: &str) {
        if self.dirs.contains_key(path) {
            return;
        }
        let parent = split(path).0;
        if !path.is_empty() && parent != path {
            self.ensure_dir(parent);
        }
        self.dirs
            .insert(path.to_string(), (AclV3::root(0o755), BTreeMap::new()));
    }

    fn push(&mut self, path: &str, entry: Entry) {
        let (dir, name) = split(path);
        self.ensure_dir(dir);
        let files = &mut self.dirs.get_mut(dir).expect("made").1;
        files.insert(name.to_string(), entry);
    }

    pub fn push_file(&mut self, path: &str, acl: AclV3, mtime: u64, data: Vec<u8>) {
        let kind = Kind::Regular(Content::Bytes(data));
        self.push(path, Entry { acl, mtime, kind });
    }

    /// A regular file whose content is read from `source` (of `size` bytes) when the
    /// package is written.
    pub fn push_file_from(
        &mut self,
        path: &str,
        acl: AclV3,
        mtime: u64,
        source: PathBuf,
        size: u64,
    ) {
        let kind = Kind::Regular(Content::File { path: source, size });
        self.push(path, Entry { acl, mtime, kind });
    }

    pub fn push_symlink(&mut self, path: &str, acl: AclV3, mtime: u64, target: &str) {
        let kind = Kind::Symlink(target.to_string());
        self.push(path, Entry { acl, mtime, kind });
    }

    /// A hard link to the regular file `to` (or to another link to it). Whichever of the
    /// files comes first in the package's order holds the content, as with mkpkg, which
    /// sees only an inode.
    pub fn push_hardlink(&mut self, path: &str, acl: AclV3, mtime: u64, to: &str) {
        let kind = Kind::Hardlink(to.to_string());
        self.push(path, Entry { acl, mtime, kind });
    }

    /// A character or block device or a FIFO ([`S_IFCHR`], [`S_IFBLK`], [`S_IFIFO`]).
    pub fn push_device(&mut self, path: &str, acl: AclV3, mtime: u64, kind: u16, dev: u64) {
        let kind = Kind::Device { kind, dev };
        self.push(path, Entry { acl, mtime, kind });
    }

    /// Adds everything under `dir`, and `dir`'s own mode as the root's: owners from
    /// `owners` (`""` for the root; `root:root` when not listed), mtimes as `mtime` says
    /// (with `SOURCE_DATE_EPOCH` set, `apk mkpkg` uses [`MtimePolicy::Fixed`]). Files
    /// with several links become hard links; sockets are left out, as mkpkg leaves them.
    /// Extended attributes are not read.
    pub fn add_tree(
        &mut self,
        dir: &Path,
        owners: &OwnerMap,
        mtime: MtimePolicy,
        source_date_epoch: u64,
    ) -> Result<(), AdbError> {
        let acl_of = |rel: &str, mode: u32| {
            let o = owners.get(rel).cloned().unwrap_or_default();
            AclV3 {
                mode: mode & 0o7777,
                user: o.uname,
                group: o.gname,
                xattrs: Vec::new(),
            }
        };
        let md = std::fs::metadata(dir).map_err(io_err(dir))?;
        self.push_dir("", acl_of("", md.mode()));
        let mut inodes: HashMap<(u64, u64), String> = HashMap::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            let mut names: Vec<_> = std::fs::read_dir(&d)
                .map_err(io_err(&d))?
                .map(|e| e.map(|e| e.path()))
                .collect::<Result<_, _>>()
                .map_err(io_err(&d))?;
            names.sort();
            for full in names {
                let rel = full.strip_prefix(dir).expect("under dir").to_str();
                let rel = rel
                    .ok_or_else(|| AdbError::Write(format!("non-UTF-8 path {}", full.display())))?
                    .to_string();
                let md = std::fs::symlink_metadata(&full).map_err(io_err(&full))?;
                let ft = md.file_type();
                let acl = acl_of(&rel, md.mode());
                let t = u64::try_from(md.mtime()).unwrap_or(0);
                let t = match mtime {
                    MtimePolicy::Clamp => t.min(source_date_epoch),
                    MtimePolicy::Fixed => source_date_epoch,
                };
                if ft.is_dir() {
                    self.push_dir(&rel, acl);
                    stack.push(full);
                } else if ft.is_symlink() {
                    let target = std::fs::read_link(&full).map_err(io_err(&full))?;
                    let target = target.to_str().ok_or_else(|| {
                        AdbError::Write(format!("non-UTF-8 link {}", full.display()))
                    })?;
                    self.push_symlink(&rel, acl, t, target);
                } else if ft.is_file() {
                    let key = (md.dev(), md.ino());
                    match inodes.get(&key) {
                        Some(first) if md.nlink() > 1 => {
                            let first = first.clone();
                            self.push_hardlink(&rel, acl, t, &first);
                        }
                        _ => {
                            inodes.insert(key, rel.clone());
                            self.push_file_from(&rel, acl, t, full.clone(), md.len());
                        }
                    }
                } else if ft.is_char_device() || ft.is_block_device() || ft.is_fifo() {
                    let kind = if ft.is_char_device() {
                        S_IFCHR
                    } else if ft.is_block_device() {
                        S_IFBLK
                    } else {
                        S_IFIFO
                    };
                    self.push_device(&rel, acl, t, kind, md.rdev());
                }
            }
        }
        Ok(())
    }

    /// The regular file a hard link ends at (following links to links).
    fn link_root(&self, mut path: String) -> Result<String, AdbError> {
        for _ in 0..=self.dirs.values().map(|d| d.1.len()).sum::<usize>() {
            let (dir, name) = split(&path);
            match self
                .dirs
                .get(dir)
                .and_then(|d| d.1.get(name))
                .map(|e| &e.kind)
            {
                Some(Kind::Regular(_)) => return Ok(path),
                Some(Kind::Hardlink(to)) => path = to.clone(),
                _ => {
                    return Err(AdbError::Write(format!(
                        "hard link to '{path}', which is not a regular file of the package"
                    )))
                }
            }
        }
        Err(AdbError::Write("hard links form a loop".into()))
    }

    /// Every file in the package's order, with hard link groups resolved and contents
    /// hashed.
    fn placed(&self) -> Result<Vec<Placed<'_>>, AdbError> {
        // The group of each regular file or link: the regular file its links end at.
        let mut group_size: HashMap<String, usize> = HashMap::new();
        let mut groups = Vec::new();
        for (dir, (_, files)) in &self.dirs {
            for (name, entry) in files {
                let path = join(dir, name);
                let root = match &entry.kind {
                    Kind::Regular(_) => Some(path),
                    Kind::Hardlink(to) => Some(self.link_root(to.clone())?),
                    _ => None,
                };
                if let Some(r) = &root {
                    *group_size.entry(r.clone()).or_default() += 1;
                }
                groups.push(root);
            }
        }
        let mut out = Vec::new();
        // Group root -> (path of the first file, hash, size)
        let mut seen: HashMap<String, (String, Vec<u8>, u64)> = HashMap::new();
        let mut groups = groups.into_iter();
        for (di, (dir, (_, files))) in self.dirs.iter().enumerate() {
            for (fi, (name, entry)) in files.iter().enumerate() {
                let mut p = Placed {
                    dir_idx: di as u32 + 1,
                    file_idx: fi as u32 + 1,
                    path: join(dir, name),
                    name,
                    entry,
                    hash: Vec::new(),
                    size: 0,
                    link_to: None,
                    announces_link: false,
                    content: None,
                };
                match (groups.next().expect("one per file"), &entry.kind) {
                    (_, Kind::Symlink(t)) => p.size = t.len() as u64,
                    (None, _) => {}
                    (Some(root), _) => {
                        if let Some((first, hash, size)) = seen.get(&root) {
                            p.link_to = Some(first.clone());
                            (p.hash, p.size) = (hash.clone(), *size);
                        } else {
                            let (d, n) = split(&root);
                            let Kind::Regular(content) = &self.dirs[d].1[n].kind else {
                                unreachable!("link_root ends at a regular file")
                            };
                            (p.hash, p.size) = hash_content(content)?;
                            p.content = Some(content);
                            p.announces_link = group_size[&root] > 1;
                            seen.insert(root, (p.path.clone(), p.hash.clone(), p.size));
                        }
                    }
                }
                out.push(p);
            }
        }
        Ok(out)
    }

    /// One file's object, its values written in mkpkg's order: name, hash, target, mtime,
    /// size, then the ACL.
    fn file_value(w: &mut AdbWriter, p: &Placed<'_>) -> Val {
        if p.announces_link {
            link_target_blob(w, &p.path);
        }
        let name = w.blob(p.name.as_bytes());
        let hash = w.blob(&p.hash);
        let target = match (&p.entry.kind, &p.link_to) {
            (_, Some(first)) => link_target_blob(w, first),
            (Kind::Symlink(t), _) => w.blob_parts(&[&S_IFLNK.to_le_bytes(), t.as_bytes()]),
            (Kind::Device { kind, dev }, _) => {
                w.blob_parts(&[&kind.to_le_bytes(), &dev.to_le_bytes()])
            }
            _ => Val::NULL,
        };
        let mtime = w.int(p.entry.mtime);
        let size = w.int(p.size);
        let acl = encode::acl(w, &p.entry.acl);
        w.object(&[name, acl, size, mtime, hash, target])
    }

    /// The ADB block and the files in package order.
    fn adb(&self) -> Result<(Vec<u8>, Vec<Placed<'_>>), AdbError> {
        self.check_info()?;
        let mut w = AdbWriter::new();
        let mut info = encode::pkginfo_fields(&mut w, &self.info);
        let replaces_priority = self.replaces_priority.map_or(Val::NULL, |v| w.int(v));
        let placed = self.placed()?;
        let mut dirs_out = Vec::new();
        let mut files = placed.iter().peekable();
        for (di, (dir, (acl, _))) in self.dirs.iter().enumerate() {
            let mut file_vals = Vec::new();
            while let Some(p) = files.next_if(|p| p.dir_idx as usize == di + 1) {
                file_vals.push(Self::file_value(&mut w, p));
            }
            let name = w.blob(dir.as_bytes());
            let acl = encode::acl(&mut w, acl);
            // Files were added in name order, the order apk-tools sorts them in.
            let files = w.object(&file_vals);
            dirs_out.push(w.object(&[name, acl, files]));
        }
        let installed: u64 = placed
            .iter()
            .filter(|p| p.link_to.is_none() && !p.hash.is_empty())
            .map(|p| p.size)
            .sum();
        info[pi::INSTALLED_SIZE - 1] = w.int(installed.max(1));
        let uid = w.blob_unshared(&[0u8; 20]);
        info[pi::HASHES - 1] = uid;
        let info = w.object(&info);
        let paths = w.object(&dirs_out);
        let scripts = self.scripts_value(&mut w);
        let triggers = encode::strings(&mut w, &self.triggers);
        let root = w.object(&[info, paths, scripts, triggers, replaces_priority]);
        w.set_root(root);
        let id = Sha256::digest(w.bytes());
        w.patch(uid.value() as usize + 1, &id[..20]);
        Ok((w.finish()?, placed))
    }

    /// What `apk mkpkg` checks of the metadata (`-I` values go through the schema).
    fn check_info(&self) -> Result<(), AdbError> {
        let bad = |what: String| Err(AdbError::Write(what));
        let i = &self.info;
        if let Some(p) = package_name_problem(&i.name) {
            return bad(format!("name '{}': {p}", i.name));
        }
        if !crate::version::validate(&i.version) {
            return bad(format!("version '{}' is not valid", i.version));
        }
        let deps = [
            &i.depends,
            &i.provides,
            &i.replaces,
            &i.install_if,
            &i.recommends,
        ];
        if let Some(p) = deps
            .iter()
            .flat_map(|d| d.iter())
            .find_map(dependency_problem)
        {
            return bad(p);
        }
        if let Some(p) = i.tags.iter().find_map(|t| tag_problem(t)) {
            return bad(p);
        }
        Ok(())
    }

    fn scripts_value(&self, w: &mut AdbWriter) -> Val {
        if self.scripts.is_empty() {
            return Val::NULL;
        }
        let slots: Vec<Val> = SCRIPT_FIELDS
            .iter()
            .map(|k| {
                let body = self.scripts.iter().find(|(s, _)| s == k);
                w.blob(body.map_or(&[][..], |(_, b)| b))
            })
            .collect();
        w.object(&slots)
    }

    /// The package as bytes, signed with `key` when given.
    pub fn build(
        &self,
        key: Option<&PrivateKey>,
        compression: Compression,
    ) -> Result<Vec<u8>, AdbError> {
        self.write_to(Vec::new(), key, compression)
    }

    /// Writes the package to `out` (file contents are streamed, not held) and returns it.
    pub fn write_to<W: Write>(
        &self,
        out: W,
        key: Option<&PrivateKey>,
        compression: Compression,
    ) -> Result<W, AdbError> {
        let werr = |e: io::Error| AdbError::Write(e.to_string());
        let (adb, placed) = self.adb()?;
        let mut f = write_adb_file(out, SCHEMA_PACKAGE, &adb, key, compression)?;
        for p in placed.iter().filter(|p| p.has_data()) {
            let content = p.content.expect("has data");
            f.write_all(&block_header(BLOCK_DATA, 8 + p.size))
                .map_err(werr)?;
            f.write_all(&p.dir_idx.to_le_bytes()).map_err(werr)?;
            f.write_all(&p.file_idx.to_le_bytes()).map_err(werr)?;
            match content {
                Content::Bytes(b) => f.write_all(b).map_err(werr)?,
                Content::File { path, size } => {
                    let file = std::fs::File::open(path).map_err(io_err(path))?;
                    let n = io::copy(&mut file.take(*size), &mut f).map_err(werr)?;
                    if n != *size {
                        return Err(AdbError::Write(format!(
                            "{}: shorter than the {size} bytes it had",
                            path.display()
                        )));
                    }
                }
            }
            let pad = block_padding(BLOCK_DATA, 8 + p.size);
            f.write_all(&[0u8; 8][..pad]).map_err(werr)?;
        }
        f.finish().map_err(werr)
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// `hardlink_target`: `S_IFREG` and the path of the file holding the data.
fn link_target_blob(w: &mut AdbWriter, path: &str) -> Val {
    let mode = S_IFREG.to_le_bytes();
    let (dir, name) = split(path);
    if dir.is_empty() {
        w.blob_parts(&[&mode, name.as_bytes()])
    } else {
        w.blob_parts(&[&mode, dir.as_bytes(), b"/", name.as_bytes()])
    }
}

fn hash_content(c: &Content) -> Result<(Vec<u8>, u64), AdbError> {
    match c {
        Content::Bytes(b) => Ok((Sha256::digest(b).to_vec(), b.len() as u64)),
        Content::File { path, size } => {
            let mut f = std::fs::File::open(path).map_err(io_err(path))?;
            let mut h = Sha256::new();
            let n = io::copy(&mut (&mut f).take(*size + 1), &mut h).map_err(io_err(path))?;
            if n != *size {
                return Err(AdbError::Write(format!(
                    "{}: {n} bytes, not the {size} it had",
                    path.display()
                )));
            }
            Ok((h.finalize().to_vec(), *size))
        }
    }
}
