//! Writing a checked transaction into the root, all of it or none of it.
//!
//! Everything new is first written into a staging directory at the top of the root
//! (`.alpinist-stage-<pid>-<n>`, mode 0700; packages cannot name it, since apk skips
//! top-level names that start with a dot): file contents while a package is checked,
//! database files at commit. [`Commit`] then moves each staged file into place with a
//! rename (`RENAME_EXCHANGE` when something is there, so the old file is kept in the
//! stage), creates directories (mode 0700 until the end, then their own), and moves files
//! that are removed into the stage too. Every step is recorded; if one fails, the steps
//! done so far are undone in reverse order, and the root is as it was. The stage is then
//! removed.
//!
//! Every operation is relative to a directory opened without following symlinks
//! ([`RootDir::open_dir`]), with paths the plan resolved; a symlink where the plan saw
//! none (the root changed meanwhile) is an error, never followed.

use std::fs::File;
use std::io::{self, Write as _};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::PermissionsExt as _;
use std::rc::Rc;

use rustix::fs::{self as rfs, AtFlags, Mode, OFlags, RenameFlags};

use super::{InstallError, Owner};
use crate::rootdir::{join, node_at, split_parent, Node, RootDir};

/// Prefix of the staging directory's name.
pub(crate) const STAGE_PREFIX: &str = ".alpinist-stage-";

fn io_at(root: &RootDir, rel: &str) -> impl FnOnce(io::Error) -> InstallError {
    let path = root.display(rel);
    move |error| InstallError::Io { path, error }
}

fn errno_at(root: &RootDir, rel: &str) -> impl FnOnce(rustix::io::Errno) -> InstallError {
    let path = root.display(rel);
    move |e| InstallError::Io {
        path,
        error: e.into(),
    }
}

/// The staging directory of a transaction.
pub(crate) struct Stage {
    /// Its name at the top of the root.
    pub name: String,
    fd: OwnedFd,
    next: std::cell::Cell<u64>,
}

impl Stage {
    /// Creates a new, empty staging directory.
    pub fn create(root: &RootDir) -> Result<Stage, InstallError> {
        let pid = std::process::id();
        for n in 0..1000u32 {
            let name = format!("{STAGE_PREFIX}{pid}-{n}");
            match rfs::mkdirat(root.fd(), name.as_str(), Mode::from_raw_mode(0o700)) {
                Ok(()) => {
                    let fd = root.open_dir(&name).map_err(io_at(root, &name))?;
                    let next = std::cell::Cell::new(0);
                    return Ok(Stage { name, fd, next });
                }
                Err(rustix::io::Errno::EXIST) => continue,
                Err(e) => return Err(errno_at(root, &name)(e)),
            }
        }
        Err(InstallError::Io {
            path: root.display(STAGE_PREFIX),
            error: io::Error::new(io::ErrorKind::AlreadyExists, "no free staging name"),
        })
    }

    /// A fresh name in the stage.
    pub fn new_name(&self) -> String {
        self.next.set(self.next.get() + 1);
        self.next.get().to_string()
    }

    /// The stage-relative path of `name`, for messages.
    pub fn rel(&self, name: &str) -> String {
        join(&self.name, name)
    }

    /// Creates a new file in the stage for writing.
    pub fn create_file(
        &mut self,
        root: &RootDir,
        mode: u32,
    ) -> Result<(String, File), InstallError> {
        let name = self.new_name();
        let fd = rfs::openat(
            &self.fd,
            name.as_str(),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(mode & 0o777),
        )
        .map_err(errno_at(root, &self.rel(&name)))?;
        Ok((name, File::from(fd)))
    }

    /// Writes `data` into a new staged file with the given owner, mode and mtime.
    pub fn write_file(
        &mut self,
        root: &RootDir,
        data: &[u8],
        owner: &Owner,
    ) -> Result<String, InstallError> {
        let (name, mut f) = self.create_file(root, owner.mode)?;
        let rel = self.rel(&name);
        f.write_all(data).map_err(io_at(root, &rel))?;
        owner.apply(&f).map_err(io_at(root, &rel))?;
        Ok(name)
    }

    /// Creates a staged symlink.
    pub fn symlink(
        &mut self,
        root: &RootDir,
        target: &str,
        owner: Option<(u32, u32)>,
    ) -> Result<String, InstallError> {
        let name = self.new_name();
        let rel = self.rel(&name);
        rfs::symlinkat(target, &self.fd, name.as_str()).map_err(errno_at(root, &rel))?;
        if let Some((uid, gid)) = owner {
            rfs::chownat(
                &self.fd,
                name.as_str(),
                Some(rfs::Uid::from_raw(uid)),
                Some(rfs::Gid::from_raw(gid)),
                AtFlags::SYMLINK_NOFOLLOW,
            )
            .map_err(errno_at(root, &rel))?;
        }
        Ok(name)
    }

    /// Removes a staged name (a refused package's files); errors are ignored.
    pub fn discard(&self, name: &str) {
        let _ = rfs::unlinkat(&self.fd, name, AtFlags::empty());
    }

    /// Removes the stage and everything in it (it holds only files and symlinks).
    pub fn remove(self, root: &RootDir) {
        if let Ok(mut dir) = rfs::Dir::read_from(&self.fd) {
            while let Some(Ok(e)) = dir.next() {
                let name = e.file_name().to_bytes();
                if name != b"." && name != b".." {
                    let _ = rfs::unlinkat(&self.fd, e.file_name(), AtFlags::empty());
                }
            }
        }
        drop(self.fd);
        let _ = rfs::unlinkat(root.fd(), self.name.as_str(), AtFlags::REMOVEDIR);
    }
}

/// One write of a commit, in order.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    /// A directory: created if missing, with its mode and owner applied at the end.
    Dir { dest: String, owner: Owner },
    /// A staged file or symlink renamed to `dest`, replacing what is there.
    Place { dest: String, staged: String },
    /// A hard link to `source` (already in place) at `dest`.
    Hardlink { dest: String, source: String },
    /// A file or symlink moved away (into the stage).
    Remove { dest: String },
}

/// A step done, and how to undo it.
enum Done {
    /// A directory made here (undo: remove it).
    Dir { dest: String },
    /// A directory's mode changed from 0700 (undo: back to 0700).
    DirMode { dest: String },
    /// `dest` created where nothing was (undo: unlink it).
    Created { dest: String },
    /// `dest` replaced; the old one is `backup` in the stage (undo: put it back).
    Replaced { dest: String, backup: String },
}

/// Applies [`Op`]s to a root, recording how to undo them.
pub(crate) struct Commit<'a> {
    root: &'a RootDir,
    stage: &'a mut Stage,
    done: Vec<Done>,
    /// The directory last opened, reused while entries stay in it.
    dir: Option<(String, Rc<OwnedFd>)>,
    /// Directories created, with the owner to give them at the end.
    created: Vec<(String, Owner)>,
}

impl<'a> Commit<'a> {
    pub fn new(root: &'a RootDir, stage: &'a mut Stage) -> Commit<'a> {
        Commit {
            root,
            stage,
            done: Vec::new(),
            dir: None,
            created: Vec::new(),
        }
    }

    /// Applies every op, then gives created directories their modes; on an error, undoes
    /// everything and returns it.
    pub fn run(mut self, ops: &[Op]) -> Result<(), InstallError> {
        let r = ops
            .iter()
            .try_for_each(|op| self.apply(op))
            .and_then(|()| self.finish_dirs());
        if r.is_err() {
            self.undo();
        }
        r
    }

    fn parent(&mut self, dest: &str) -> Result<(Rc<OwnedFd>, String), InstallError> {
        let (dir, name) = split_parent(dest);
        if let Some((d, fd)) = &self.dir {
            if d == dir {
                return Ok((fd.clone(), name.to_string()));
            }
        }
        let fd = Rc::new(self.root.open_dir(dir).map_err(io_at(self.root, dir))?);
        self.dir = Some((dir.to_string(), fd.clone()));
        Ok((fd, name.to_string()))
    }

    fn apply(&mut self, op: &Op) -> Result<(), InstallError> {
        match op {
            Op::Dir { dest, owner } => self.dir_op(dest, owner),
            Op::Place { dest, staged } => self.place(dest, staged),
            Op::Hardlink { dest, source } => {
                let (sdir, sname) = self.parent(source)?;
                let staged = self.stage.new_name();
                rfs::linkat(
                    &sdir,
                    sname.as_str(),
                    &self.stage.fd,
                    staged.as_str(),
                    AtFlags::empty(),
                )
                .map_err(errno_at(self.root, dest))?;
                self.place(dest, &staged)
            }
            Op::Remove { dest } => {
                let (dir, name) = self.parent(dest)?;
                match node_at(dir.as_fd(), &name).map_err(io_at(self.root, dest))? {
                    None => Ok(()),
                    Some(Node::Dir) => Ok(()),
                    Some(_) => {
                        let backup = self.stage.new_name();
                        rfs::renameat(&dir, name.as_str(), &self.stage.fd, backup.as_str())
                            .map_err(errno_at(self.root, dest))?;
                        self.done.push(Done::Replaced {
                            dest: dest.clone(),
                            backup,
                        });
                        Ok(())
                    }
                }
            }
        }
    }

    fn dir_op(&mut self, dest: &str, owner: &Owner) -> Result<(), InstallError> {
        let (dir, name) = self.parent(dest)?;
        match rfs::mkdirat(&dir, name.as_str(), Mode::from_raw_mode(0o700)) {
            Ok(()) => {
                self.done.push(Done::Dir {
                    dest: dest.to_string(),
                });
                self.created.push((dest.to_string(), owner.clone()));
                Ok(())
            }
            Err(rustix::io::Errno::EXIST) => {
                match node_at(dir.as_fd(), &name).map_err(io_at(self.root, dest))? {
                    // An existing directory is kept as it is (as apk does).
                    Some(Node::Dir) => Ok(()),
                    _ => Err(InstallError::Io {
                        path: self.root.display(dest),
                        error: io::Error::new(
                            io::ErrorKind::AlreadyExists,
                            "exists and is not a directory (the root changed while installing)",
                        ),
                    }),
                }
            }
            Err(e) => Err(errno_at(self.root, dest)(e)),
        }
    }

    /// Renames `staged` to `dest`: created where nothing is, or exchanged with what is
    /// there (which stays in the stage, to be put back if the commit fails).
    fn place(&mut self, dest: &str, staged: &str) -> Result<(), InstallError> {
        let (dir, name) = self.parent(dest)?;
        let sfd = self.stage.fd.as_fd();
        let flags = RenameFlags::NOREPLACE;
        let created = match rfs::renameat_with(sfd, staged, &*dir, name.as_str(), flags) {
            Ok(()) => true,
            Err(rustix::io::Errno::EXIST) => false,
            // No RENAME_NOREPLACE on this file system: look first.
            Err(rustix::io::Errno::INVAL) => {
                match node_at(dir.as_fd(), &name).map_err(io_at(self.root, dest))? {
                    None => {
                        rfs::renameat(sfd, staged, &*dir, name.as_str())
                            .map_err(errno_at(self.root, dest))?;
                        true
                    }
                    Some(_) => false,
                }
            }
            Err(e) => return Err(errno_at(self.root, dest)(e)),
        };
        if created {
            self.done.push(Done::Created {
                dest: dest.to_string(),
            });
            return Ok(());
        }
        if node_at(dir.as_fd(), &name).map_err(io_at(self.root, dest))? == Some(Node::Dir) {
            return Err(InstallError::Io {
                path: self.root.display(dest),
                error: io::Error::new(io::ErrorKind::AlreadyExists, "is a directory"),
            });
        }
        let flags = RenameFlags::EXCHANGE;
        match rfs::renameat_with(sfd, staged, &*dir, name.as_str(), flags) {
            Ok(()) => {
                self.done.push(Done::Replaced {
                    dest: dest.to_string(),
                    backup: staged.to_string(),
                });
                Ok(())
            }
            // No RENAME_EXCHANGE on this file system: move the old file away first.
            Err(rustix::io::Errno::INVAL) => {
                let backup = self.stage.new_name();
                rfs::renameat(&*dir, name.as_str(), sfd, backup.as_str())
                    .map_err(errno_at(self.root, dest))?;
                self.done.push(Done::Replaced {
                    dest: dest.to_string(),
                    backup,
                });
                self.place(dest, staged)
            }
            Err(e) => Err(errno_at(self.root, dest)(e)),
        }
    }

    /// Owners and modes of the directories created, deepest first.
    fn finish_dirs(&mut self) -> Result<(), InstallError> {
        for (dest, owner) in std::mem::take(&mut self.created).into_iter().rev() {
            let fd = self.root.open_dir(&dest).map_err(io_at(self.root, &dest))?;
            let f = File::from(fd);
            self.done.push(Done::DirMode { dest: dest.clone() });
            owner.apply_dir(&f).map_err(io_at(self.root, &dest))?;
        }
        Ok(())
    }

    /// Undoes what was done, newest first. Failures are ignored: each step is undone
    /// independently, and the first error is what the caller reports.
    fn undo(&mut self) {
        self.dir = None;
        while let Some(d) = self.done.pop() {
            let _ = self.undo_one(d);
        }
    }

    fn undo_one(&mut self, d: Done) -> Result<(), InstallError> {
        match d {
            Done::DirMode { dest } => {
                let f = File::from(self.root.open_dir(&dest).map_err(io_at(self.root, &dest))?);
                f.set_permissions(std::fs::Permissions::from_mode(0o700))
                    .map_err(io_at(self.root, &dest))
            }
            Done::Dir { dest } => {
                let (dir, name) = self.parent(&dest)?;
                rfs::unlinkat(&dir, name.as_str(), AtFlags::REMOVEDIR)
                    .map_err(errno_at(self.root, &dest))
            }
            Done::Created { dest } => {
                let (dir, name) = self.parent(&dest)?;
                rfs::unlinkat(&dir, name.as_str(), AtFlags::empty())
                    .map_err(errno_at(self.root, &dest))
            }
            Done::Replaced { dest, backup } => {
                let (dir, name) = self.parent(&dest)?;
                rfs::renameat(&self.stage.fd, backup.as_str(), &dir, name.as_str())
                    .map_err(errno_at(self.root, &dest))
            }
        }
    }
}
