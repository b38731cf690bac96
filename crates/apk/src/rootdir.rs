//! Files inside a root directory, reached without ever following a symlink out of it.
//!
//! Everything the installer reads or writes in a root goes through a [`RootDir`], which
//! holds the root open and works relative to directory descriptors:
//!
//! - [`RootDir::open_dir`] opens a directory by a path that must contain no symlink at all
//!   (`openat2` with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`, or, on kernels without
//!   `openat2`, one `openat(O_NOFOLLOW | O_DIRECTORY)` per component). The installer plans
//!   with paths it has already resolved, so a symlink found there means the root changed
//!   under it, and the operation fails instead of following it.
//! - [`RootDir::resolve`] and [`RootDir::open_in_root`] follow symlinks as a chroot would:
//!   an absolute target starts again at the root and `..` stops at it (`RESOLVE_IN_ROOT`,
//!   or the same walk done here). This is how the installer reaches its own files
//!   (`lib/apk/db/installed` where `lib` is a symlink to `usr/lib`).
//! - Files are created with `O_CREAT | O_EXCL | O_NOFOLLOW`, and replaced by `rename`,
//!   which replaces a symlink rather than writing through it.
//!
//! `ALPINIST_NO_OPENAT2=1` in the environment makes the component walk be used even where
//! the kernel has `openat2`, so that both paths can be tested.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rustix::fs::{self as rfs, AtFlags, Mode, OFlags, ResolveFlags};

/// How many symlinks a path may pass through before it is a loop (Linux: 40).
pub const MAX_SYMLINKS: usize = 40;

/// What is at a path (not following a final symlink).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Dir,
    File,
    /// A symlink and its target.
    Symlink(String),
    /// A device, fifo or socket.
    Other,
}

fn use_openat2() -> bool {
    static USE: OnceLock<bool> = OnceLock::new();
    *USE.get_or_init(|| std::env::var_os("ALPINIST_NO_OPENAT2").is_none_or(|v| v.is_empty()))
}

/// Whether `openat2` failed because the kernel does not have it (`ENOSYS`), or a seccomp
/// filter refuses it (`EPERM`; a real permission problem shows again in the walk).
fn no_openat2(e: &rustix::io::Errno) -> bool {
    *e == rustix::io::Errno::NOSYS || *e == rustix::io::Errno::PERM
}

/// Splits a relative path into its components; `""` is the root itself. `.`/`..`
/// components and empty ones (`a//b`) are refused.
fn components(rel: &str) -> io::Result<Vec<&str>> {
    if rel.is_empty() {
        return Ok(Vec::new());
    }
    let parts: Vec<&str> = rel.split('/').collect();
    if rel.starts_with('/')
        || parts
            .iter()
            .any(|c| c.is_empty() || *c == "." || *c == "..")
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{rel}: not a plain relative path"),
        ));
    }
    Ok(parts)
}

/// `dir/name` split into (`dir`, `name`); `dir` is `""` at the top.
pub fn split_parent(rel: &str) -> (&str, &str) {
    rel.rsplit_once('/').unwrap_or(("", rel))
}

/// `a` + `/` + `b`, or `b` when `a` is the root.
pub fn join(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else {
        format!("{a}/{b}")
    }
}

/// A root directory held open.
pub struct RootDir {
    fd: OwnedFd,
    path: PathBuf,
}

impl RootDir {
    /// Opens `path`, which must be a directory (a symlink to one is followed: the root is
    /// what the caller names).
    pub fn open(path: &Path) -> io::Result<RootDir> {
        let fd = rfs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(RootDir {
            fd,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The host path of `rel`, for messages.
    pub fn display(&self, rel: &str) -> String {
        self.path.join(rel).display().to_string()
    }

    /// Opens the directory `rel`, a path with no symlink in it; any symlink on the way is
    /// an error (`ELOOP`), never followed.
    pub fn open_dir(&self, rel: &str) -> io::Result<OwnedFd> {
        let parts = components(rel)?;
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
        if parts.is_empty() {
            return Ok(rfs::openat(&self.fd, ".", flags, Mode::empty())?);
        }
        if use_openat2() {
            let how =
                ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
            match rfs::openat2(&self.fd, rel, flags, Mode::empty(), how) {
                Err(e) if no_openat2(&e) => {}
                r => return Ok(r?),
            }
        }
        let mut fd = rfs::openat(&self.fd, parts[0], flags, Mode::empty())?;
        for c in &parts[1..] {
            fd = rfs::openat(&fd, *c, flags, Mode::empty())?;
        }
        Ok(fd)
    }

    /// What is at `rel` (a path whose directories contain no symlink), not following a
    /// final symlink; `None` when nothing is there.
    pub fn lstat(&self, rel: &str) -> io::Result<Option<Node>> {
        let (dir, name) = split_parent(rel);
        let dirfd = match self.open_dir(dir) {
            Ok(fd) => fd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        node_at(dirfd.as_fd(), name)
    }

    /// Resolves `rel` as a chroot would (absolute symlink targets start at the root, `..`
    /// stops at it) into a path with no symlink in it. A final symlink is followed only if
    /// `follow_last`. Missing components are kept as they are.
    pub fn resolve(&self, rel: &str, follow_last: bool) -> io::Result<String> {
        resolve_with(rel, follow_last, &mut |p| self.lstat(p))
    }

    /// Names in the directory `rel` (symlinks followed inside the root), sorted; `None`
    /// when it does not exist.
    pub fn list_in_root(&self, rel: &str) -> io::Result<Option<Vec<String>>> {
        let fd = match self.open_in_root_with(rel, OFlags::DIRECTORY) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut names = Vec::new();
        for e in rfs::Dir::read_from(&fd)? {
            let e = e?;
            let name = String::from_utf8_lossy(e.file_name().to_bytes()).into_owned();
            if name != "." && name != ".." {
                names.push(name);
            }
        }
        names.sort();
        Ok(Some(names))
    }

    /// Opens the file at `rel` for reading, following symlinks only inside the root.
    pub fn open_in_root(&self, rel: &str) -> io::Result<File> {
        self.open_in_root_with(rel, OFlags::empty())
    }

    fn open_in_root_with(&self, rel: &str, extra: OFlags) -> io::Result<File> {
        let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | extra;
        if use_openat2() {
            let how = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
            match rfs::openat2(&self.fd, rel, flags, Mode::empty(), how) {
                Err(e) if no_openat2(&e) => {}
                r => return Ok(File::from(r?)),
            }
        }
        let real = self.resolve(rel, true)?;
        let (dir, name) = split_parent(&real);
        let dirfd = self.open_dir(dir)?;
        Ok(File::from(rfs::openat(
            &dirfd,
            name,
            flags | OFlags::NOFOLLOW,
            Mode::empty(),
        )?))
    }

    /// Reads the regular file at `rel` (symlinks followed inside the root); `None` when it
    /// does not exist. At most `limit` bytes.
    pub fn read_in_root(&self, rel: &str, limit: u64) -> io::Result<Option<Vec<u8>>> {
        use std::io::Read as _;
        let f = match self.open_in_root(rel) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        if !f.metadata()?.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "not a regular file",
            ));
        }
        let mut out = Vec::new();
        f.take(limit + 1).read_to_end(&mut out)?;
        if out.len() as u64 > limit {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("larger than {limit} bytes"),
            ));
        }
        Ok(Some(out))
    }
}

/// What is at `name` in `dir`, not following a symlink.
pub fn node_at(dir: BorrowedFd<'_>, name: &str) -> io::Result<Option<Node>> {
    let st = match rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        Err(rustix::io::Errno::NOENT) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    Ok(Some(match rfs::FileType::from_raw_mode(st.st_mode) {
        rfs::FileType::Directory => Node::Dir,
        rfs::FileType::RegularFile => Node::File,
        rfs::FileType::Symlink => {
            let t = rfs::readlinkat(dir, name, Vec::new())?;
            Node::Symlink(String::from_utf8_lossy(t.as_bytes()).into_owned())
        }
        _ => Node::Other,
    }))
}

/// Resolves `path` chroot-style against `lookup` (what is at a symlink-free path).
pub fn resolve_with(
    path: &str,
    follow_last: bool,
    lookup: &mut dyn FnMut(&str) -> io::Result<Option<Node>>,
) -> io::Result<String> {
    let mut resolved: Vec<String> = Vec::new();
    let mut queue: std::collections::VecDeque<String> =
        path.split('/').map(str::to_string).collect();
    let mut hops = 0;
    while let Some(comp) = queue.pop_front() {
        match comp.as_str() {
            "" | "." => continue,
            ".." => {
                resolved.pop();
                continue;
            }
            _ => {}
        }
        let is_last = queue.iter().all(|c| c.is_empty() || c == ".");
        resolved.push(comp);
        if is_last && !follow_last {
            break;
        }
        if let Some(Node::Symlink(target)) = lookup(&resolved.join("/"))? {
            hops += 1;
            if hops > MAX_SYMLINKS {
                return Err(io::Error::from_raw_os_error(
                    rustix::io::Errno::LOOP.raw_os_error(),
                ));
            }
            resolved.pop();
            if target.starts_with('/') {
                resolved.clear();
            }
            for (i, c) in target.split('/').enumerate() {
                queue.insert(i, c.to_string());
            }
        }
    }
    Ok(resolved.join("/"))
}
