//! Installing a v3 (ADB) package: the same checks and plan as a v2 package
//! ([`super::plan`]), from the package's ADB block and DATA blocks.
//!
//! Trust is decided before the ADB block is decoded ([`UnverifiedPackageV3`]): a signature
//! by a trusted key, or the SHA-256 of the ADB block being the `hashes` of the trusted
//! index record. The database record is what apk-tools 3 writes for a v3 package: `C:` the
//! first 20 bytes of that SHA-256, `f:S`, and each file's `Z:` the first 20 bytes of its
//! SHA-256 (a symlink's, of its target), as "sha256-160".

use std::cell::Cell;
use std::io::{self, BufRead, Read};
use std::rc::Rc;

use sha2::{Digest, Sha256};

use super::plan::{record_mismatch, Item, ItemKind, PackagePlan};
use super::{InstallError, Transaction, Trust};
use crate::adb::package::{EntryV3, PackageV3, PackageV3Reader, UnverifiedPackageV3};
use crate::adb::schema::{AclV3, TargetV3};
use crate::adb::AdbError;
use crate::db::{InstalledPackage, PackageInfo, Script};
use crate::package::{decode_q1, q1, shown};

/// Counts the bytes read from a package, for its file size (`S:`).
struct Counted<B> {
    inner: B,
    n: Rc<Cell<u64>>,
}

impl<B: BufRead> Read for Counted<B> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.n.set(self.n.get() + n as u64);
        Ok(n)
    }
}

impl<B: BufRead> BufRead for Counted<B> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        self.n.set(self.n.get() + amt as u64);
        self.inner.consume(amt);
    }
}

fn v3_err(who: &str) -> impl FnOnce(AdbError) -> InstallError + '_ {
    move |error| InstallError::PackageV3 {
        package: who.to_string(),
        error,
    }
}

/// The `Z:` of a file whose content hash is `hash`, as apk-tools 3 records it: the first
/// 20 bytes of a SHA-256, a SHA-1 as it is, nothing for other hashes.
fn file_digest(hash: &[u8]) -> Option<String> {
    match hash.len() {
        32 => Some(q1(&hash[..20])),
        20 => Some(q1(hash)),
        _ => None,
    }
}

/// Trusts the package as `trust` says, before its ADB block is decoded.
fn trusted<B: BufRead>(
    head: UnverifiedPackageV3<B>,
    trust: Trust<'_>,
) -> Result<PackageV3Reader<B>, AdbError> {
    match trust {
        Trust::Keys(keys) => Ok(head.verify(keys)?.0),
        Trust::Index(r) | Trust::Untrusted(Some(r)) => {
            head.verify_identity(&decode_q1(&r.checksum).unwrap_or_default())
        }
        Trust::Untrusted(None) => head.allow_untrusted(),
    }
}

/// The database record of a v3 package of `file_size` bytes.
fn record(pkg: &PackageV3, file_size: u64) -> InstalledPackage {
    let i = &pkg.meta.info;
    let info = PackageInfo {
        checksum: q1(&pkg.identity()[..20]),
        name: i.name.clone(),
        version: i.version.clone(),
        arch: i.arch.clone(),
        size: file_size,
        installed_size: i.installed_size.unwrap_or(0),
        description: i.description.clone(),
        url: i.url.clone(),
        license: i.license.clone(),
        origin: i.origin.clone(),
        maintainer: i.maintainer.clone(),
        build_time: i.build_time.unwrap_or(0),
        commit: hex::encode(&i.repo_commit),
        provider_priority: i
            .provider_priority
            .map_or(0, |p| u32::try_from(p).unwrap_or(u32::MAX)),
        depends: i.depends.clone(),
        provides: i.provides.clone(),
        install_if: i.install_if.clone(),
        issues: Default::default(),
    };
    let mut r = InstalledPackage::new(info);
    r.tags = i.tags.clone();
    r.replaces = i.replaces.clone();
    r.replaces_priority = pkg
        .meta
        .replaces_priority
        .map_or(0, |p| u32::try_from(p).unwrap_or(u32::MAX));
    r.scripts = pkg
        .meta
        .scripts
        .iter()
        .map(|(kind, body)| Script {
            kind: *kind,
            body: body.clone(),
        })
        .collect();
    r.triggers = pkg.meta.triggers.clone();
    r.sha256_160 = true;
    r
}

impl Transaction {
    /// [`Transaction::add_reader`] for a v3 package (`src` starts with `ADB`).
    pub(super) fn add_v3<B: BufRead>(
        &mut self,
        label: &str,
        src: B,
        trust: Trust<'_>,
    ) -> Result<&InstalledPackage, InstallError> {
        let size = Rc::new(Cell::new(0));
        let src = Counted {
            inner: src,
            n: size.clone(),
        };
        let head = UnverifiedPackageV3::new(src).map_err(v3_err(label))?;
        let mut reader = trusted(head, trust).map_err(v3_err(label))?;
        let info = &reader.package().meta.info;
        let who = format!("{}-{} ({label})", shown(&info.name), shown(&info.version));
        if let Trust::Index(r) | Trust::Untrusted(Some(r)) = trust {
            if let Some(what) = record_mismatch(&info.name, &info.version, r) {
                return Err(InstallError::Refused { package: who, what });
            }
        }
        let record = record(reader.package(), 0);
        let mut plan = PackagePlan::new(who, record, "the package's installed-size declares")?;
        plan.index_arch(trust);
        let r = self
            .plan_v3_data(&mut reader, &mut plan)
            .and_then(|()| reader.finish().map(drop).map_err(v3_err(&plan.who)));
        // `S:` is the file's size, known once the whole file is read.
        plan.record.info.size = size.get();
        self.finish_plan(plan, r)
    }

    fn plan_v3_data<B: BufRead>(
        &mut self,
        reader: &mut PackageV3Reader<Counted<B>>,
        plan: &mut PackagePlan,
    ) -> Result<(), InstallError> {
        while let Some(e) = reader.next_entry().map_err(v3_err(&plan.who))? {
            let item = self.v3_item(reader.package(), &e);
            self.plan_entry(plan, &item)?;
            if item.kind == ItemKind::File {
                let who = plan.who.clone();
                self.stage_content(plan, &item, |sink| {
                    reader.copy_content(sink).map_err(v3_err(&who))
                })?;
            }
        }
        Ok(())
    }

    /// A directory or file of a v3 package as the planner checks it.
    fn v3_item(&self, pkg: &PackageV3, e: &EntryV3) -> Item {
        let d = &pkg.meta.paths[e.dir];
        let owner = |acl: &AclV3| self.ids.resolve_names(&acl.user, &acl.group);
        let Some(f) = e.file.map(|i| &d.files[i]) else {
            let (uid, gid) = owner(&d.acl);
            return Item {
                path: e.path.clone(),
                kind: ItemKind::Dir,
                mode: d.acl.mode & 0o7777,
                uid,
                gid,
                mtime: 0,
                size: 0,
                digest: None,
            };
        };
        let (kind, digest) = match &f.target {
            None => (ItemKind::File, file_digest(&f.hash)),
            Some(TargetV3::Symlink(t)) => {
                let d = Sha256::digest(t.as_bytes());
                (ItemKind::Symlink(t.clone()), Some(q1(&d[..20])))
            }
            Some(TargetV3::Hardlink(t)) => (ItemKind::Hardlink(t.clone()), None),
            Some(TargetV3::Device { .. }) => (ItemKind::Special, None),
        };
        let (uid, gid) = owner(&f.acl);
        Item {
            path: e.path.clone(),
            kind,
            mode: f.acl.mode & 0o7777,
            uid,
            gid,
            mtime: f.mtime,
            size: f.size,
            digest,
        }
    }
}
