//! Writing schema values in the order apk-tools writes them (`adb_wo_*` through the
//! schemas' `fromstring` and `pre_commit`), so that layouts match byte for byte.

use super::schema::{blob_cmp, dependency_cmp, pi, stored_match, AclV3, PkgInfoV3};
use super::wire::{Val, T_ARRAY, T_OBJECT};
use super::write::AdbWriter;
use crate::dep::Dependency;
use crate::version::VersionOp;

/// One dependency (`dependency_fromstring`): the name, the version unless any version
/// will do, the match bits unless they are plain equality.
pub fn dependency(w: &mut AdbWriter, d: &Dependency) -> Val {
    let name = w.blob(d.name.as_bytes());
    let (mut version, mut matches) = (Val::NULL, Val::NULL);
    if d.op_with_conflict() != VersionOp::ANY {
        version = w.blob(d.version.as_deref().unwrap_or_default().as_bytes());
        if stored_match(d) != 0 {
            matches = w.int(stored_match(d));
        }
    }
    w.object(&[name, version, matches])
}

/// A dependency array (`dependencies_fromstring`): items written in the given order, the
/// array sorted and duplicates dropped when it is committed (`adb_wa_sort_unique`).
pub fn dependencies(w: &mut AdbWriter, deps: &[Dependency]) -> Val {
    let items: Vec<(Dependency, Val)> =
        deps.iter().map(|d| (d.clone(), dependency(w, d))).collect();
    dependencies_tagged(w, &items, T_OBJECT)
}

/// A dependency array of items already written, sorted and without duplicates when it is
/// committed, tagged `tag` (`apk mkndx` writes a v2 package's `depend`, `provides` and
/// `replaces` with `adb_w_arr`, the array tag).
pub fn dependencies_tagged(w: &mut AdbWriter, items: &[(Dependency, Val)], tag: u32) -> Val {
    let mut items: Vec<&(Dependency, Val)> = items.iter().collect();
    items.sort_by(|a, b| dependency_cmp(&a.0, &b.0));
    items.dedup_by(|a, b| a.1 == b.1);
    let slots: Vec<Val> = items.into_iter().map(|(_, v)| *v).collect();
    w.object_tagged(&slots, tag)
}

/// An array of strings in the given order (tags, triggers).
pub fn strings(w: &mut AdbWriter, items: &[String]) -> Val {
    let slots: Vec<Val> = items.iter().map(|s| w.blob(s.as_bytes())).collect();
    w.object(&slots)
}

/// An ACL (mode, user, group, then the extended attributes sorted as `adb_wa_sort` does,
/// in an array tagged as an array).
pub fn acl(w: &mut AdbWriter, a: &AclV3) -> Val {
    let mode = w.int(u64::from(a.mode));
    let user = w.blob(a.user.as_bytes());
    let group = w.blob(a.group.as_bytes());
    let mut xs: Vec<(Vec<u8>, Val)> = a
        .xattrs
        .iter()
        .map(|(n, v)| {
            let name = [n.as_bytes(), b"\0"].concat();
            let raw = [name.as_slice(), v].concat();
            (raw, w.blob_parts(&[&name, v]))
        })
        .collect();
    xs.sort_by(|a, b| blob_cmp(&a.0, &b.0));
    let slots: Vec<Val> = xs.into_iter().map(|(_, v)| v).collect();
    let xattrs = w.object_tagged(&slots, T_ARRAY);
    w.object(&[mode, user, group, xattrs])
}

/// The fields of a package's pkginfo as `apk mkpkg -I` writes them, in field order;
/// `hashes`, `installed-size` and `file-size` are left for the caller.
pub fn pkginfo_fields(w: &mut AdbWriter, p: &PkgInfoV3) -> Vec<Val> {
    let mut s = vec![Val::NULL; pi::COUNT];
    let set = |s: &mut Vec<Val>, i: usize, v: Val| s[i - 1] = v;
    set(&mut s, pi::NAME, w.blob(p.name.as_bytes()));
    set(&mut s, pi::VERSION, w.blob(p.version.as_bytes()));
    set(&mut s, pi::DESCRIPTION, w.blob(p.description.as_bytes()));
    set(&mut s, pi::ARCH, w.blob(p.arch.as_bytes()));
    set(&mut s, pi::LICENSE, w.blob(p.license.as_bytes()));
    set(&mut s, pi::ORIGIN, w.blob(p.origin.as_bytes()));
    set(&mut s, pi::MAINTAINER, w.blob(p.maintainer.as_bytes()));
    set(&mut s, pi::URL, w.blob(p.url.as_bytes()));
    set(&mut s, pi::REPO_COMMIT, w.blob(&p.repo_commit));
    let int = |w: &mut AdbWriter, v: Option<u64>| v.map_or(Val::NULL, |v| w.int(v));
    set(&mut s, pi::BUILD_TIME, int(w, p.build_time));
    set(&mut s, pi::PROVIDER_PRIORITY, int(w, p.provider_priority));
    set(&mut s, pi::DEPENDS, dependencies(w, &p.depends));
    set(&mut s, pi::PROVIDES, dependencies(w, &p.provides));
    set(&mut s, pi::REPLACES, dependencies(w, &p.replaces));
    set(&mut s, pi::INSTALL_IF, dependencies(w, &p.install_if));
    set(&mut s, pi::RECOMMENDS, dependencies(w, &p.recommends));
    set(&mut s, pi::LAYER, int(w, p.layer));
    set(&mut s, pi::TAGS, strings(w, &p.tags));
    s
}
