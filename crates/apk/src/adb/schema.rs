//! The schemas of packages (`pckg`) and indexes (`indx`) as typed values, and their
//! schema-checked decoding from an ADB block (apk-tools `apk_adb.c`, `apk_adb.h`).
//!
//! Decoding checks every value against its field's type (a blob where a blob belongs, an
//! integer where an integer does, an object or array where one does), refuses fields a
//! schema does not have, and checks what apk-tools checks when it writes them: package
//! names, versions, dependencies, tags, file names, modes and link targets. A value may be
//! pointed at from many places, so every decoded value and byte is counted against a
//! [`Budget`].

use std::cmp::Ordering;

use super::wire::{Budget, Slots, Val, View};
use super::AdbError;
use crate::db::ScriptKind;
use crate::dep::Dependency;
use crate::package::unsafe_path_reason;
use crate::version::{self, VersionOp};

/// `pckg` as a little-endian word: the schema of a package.
pub const SCHEMA_PACKAGE: u32 = u32::from_le_bytes(*b"pckg");
/// `indx`: the schema of a repository index (`Packages.adb`).
pub const SCHEMA_INDEX: u32 = u32::from_le_bytes(*b"indx");

/// Field numbers of `schema_pkginfo`.
pub mod pi {
    pub const NAME: usize = 1;
    pub const VERSION: usize = 2;
    pub const HASHES: usize = 3;
    pub const DESCRIPTION: usize = 4;
    pub const ARCH: usize = 5;
    pub const LICENSE: usize = 6;
    pub const ORIGIN: usize = 7;
    pub const MAINTAINER: usize = 8;
    pub const URL: usize = 9;
    pub const REPO_COMMIT: usize = 10;
    pub const BUILD_TIME: usize = 11;
    pub const INSTALLED_SIZE: usize = 12;
    pub const FILE_SIZE: usize = 13;
    pub const PROVIDER_PRIORITY: usize = 14;
    pub const DEPENDS: usize = 15;
    pub const PROVIDES: usize = 16;
    pub const REPLACES: usize = 17;
    pub const INSTALL_IF: usize = 18;
    pub const RECOMMENDS: usize = 19;
    pub const LAYER: usize = 20;
    pub const TAGS: usize = 21;
    pub const COUNT: usize = 21;
}

/// `S_IFMT` values a file's `target` starts with.
pub const S_IFIFO: u16 = 0o010000;
pub const S_IFCHR: u16 = 0o020000;
pub const S_IFBLK: u16 = 0o060000;
pub const S_IFREG: u16 = 0o100000;
pub const S_IFLNK: u16 = 0o120000;

/// Package metadata (`schema_pkginfo`): the package's own, or an index record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PkgInfoV3 {
    pub name: String,
    pub version: String,
    /// In a package, a unique id (20 bytes of SHA-256 over its ADB block with the id
    /// zeroed); in an index, the SHA-256 of the package's ADB block.
    pub hashes: Vec<u8>,
    pub description: String,
    pub arch: String,
    pub license: String,
    pub origin: String,
    pub maintainer: String,
    pub url: String,
    /// The aports commit, as bytes (20 for a git SHA-1).
    pub repo_commit: Vec<u8>,
    pub build_time: Option<u64>,
    pub installed_size: Option<u64>,
    /// The `.apk` file's size; in index records only.
    pub file_size: Option<u64>,
    pub provider_priority: Option<u64>,
    pub depends: Vec<Dependency>,
    pub provides: Vec<Dependency>,
    pub replaces: Vec<Dependency>,
    pub install_if: Vec<Dependency>,
    pub recommends: Vec<Dependency>,
    pub layer: Option<u64>,
    pub tags: Vec<String>,
}

/// Owner, mode and extended attributes (`schema_acl`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclV3 {
    /// Permission bits (at most `0o7777`).
    pub mode: u32,
    pub user: String,
    pub group: String,
    /// `(name, value)`, sorted by `name\0value` as apk-tools writes them.
    pub xattrs: Vec<(String, Vec<u8>)>,
}

impl AclV3 {
    /// `mode` owned by `root:root`.
    pub fn root(mode: u32) -> AclV3 {
        AclV3 {
            mode,
            user: "root".into(),
            group: "root".into(),
            xattrs: Vec::new(),
        }
    }
}

/// What a file that is not a regular file with content is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetV3 {
    Symlink(String),
    /// A hard link to an earlier regular file of the package (its path from the root).
    Hardlink(String),
    /// A character device, block device or FIFO (`S_IFCHR`, `S_IFBLK`, `S_IFIFO`) and its
    /// device number.
    Device {
        kind: u16,
        dev: u64,
    },
}

/// A file in a directory (`schema_file`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileV3 {
    /// One path component.
    pub name: String,
    pub acl: AclV3,
    pub size: u64,
    pub mtime: u64,
    /// The content's digest (SHA-256 when apk-tools writes it; 20 and 64 bytes are read as
    /// SHA-1 and SHA-512). Empty for symlinks and devices.
    pub hash: Vec<u8>,
    pub target: Option<TargetV3>,
}

impl FileV3 {
    /// Whether a DATA block carries this file's content (a regular file, not a hard link,
    /// not empty).
    pub fn has_data(&self) -> bool {
        self.target.is_none() && self.size > 0
    }
}

/// A directory and its files (`schema_dir`). The root is the directory with an empty name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirV3 {
    pub name: String,
    pub acl: AclV3,
    pub files: Vec<FileV3>,
}

/// A decoded package ADB (`schema_package`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackageMeta {
    pub info: PkgInfoV3,
    /// Directories in the order of the ADB (sorted by name when apk-tools writes them).
    pub paths: Vec<DirV3>,
    /// Maintainer scripts that are set, in field order.
    pub scripts: Vec<(ScriptKind, Vec<u8>)>,
    pub triggers: Vec<String>,
    pub replaces_priority: Option<u64>,
}

/// Script fields of `schema_scripts`, in field order.
pub const SCRIPT_FIELDS: [ScriptKind; 7] = [
    ScriptKind::Trigger,
    ScriptKind::PreInstall,
    ScriptKind::PostInstall,
    ScriptKind::PreDeinstall,
    ScriptKind::PostDeinstall,
    ScriptKind::PreUpgrade,
    ScriptKind::PostUpgrade,
];

/// A decoded index ADB (`schema_index`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexMeta {
    pub description: String,
    pub packages: Vec<PkgInfoV3>,
    /// `--pkgname-spec` as given to `apk mkndx`; empty for the default
    /// `${name}-${version}.apk`.
    pub pkgname_spec: String,
}

// ---------------------------------------------------------------------------------------------
// character classes (apk-tools ctype.c)
// ---------------------------------------------------------------------------------------------

fn is_pkgname_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.' | b'_')
}

fn is_depname_char(c: u8) -> bool {
    is_pkgname_char(c) || matches!(c, b',' | b':' | b'/' | b'[' | b']')
}

fn is_tag_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"+,-.:=/[]_".contains(&c)
}

/// Why a package name is not one apk-tools writes (`name_fromstring`).
pub fn package_name_problem(name: &str) -> Option<&'static str> {
    let b = name.as_bytes();
    if b.first().is_none_or(|c| !c.is_ascii_alphanumeric()) {
        return Some("a package name must start with a letter or digit");
    }
    (!b.iter().all(|&c| is_pkgname_char(c)))
        .then_some("a package name may only hold letters, digits and + - . _")
}

/// Why a dependency is not one apk-tools writes (`dependency_fromstring`).
pub fn dependency_problem(d: &Dependency) -> Option<String> {
    if d.name.is_empty() || !d.name.bytes().all(is_depname_char) {
        return Some(format!("dependency name '{}' is not valid", d.name));
    }
    if d.tag.is_some() {
        return Some(format!("dependency '{d}' has a repository tag"));
    }
    (!d.is_version_valid()).then(|| format!("dependency '{d}' has an invalid version"))
}

/// Why a tag is not valid (`tags_fromstring`).
pub fn tag_problem(tag: &str) -> Option<String> {
    (tag.is_empty() || !tag.bytes().all(is_tag_char)).then(|| format!("tag '{tag}' is not valid"))
}

// ---------------------------------------------------------------------------------------------
// decoding
// ---------------------------------------------------------------------------------------------

fn schema_err(what: impl Into<String>) -> AdbError {
    AdbError::Schema {
        at: String::new(),
        what: what.into(),
    }
}

impl AdbError {
    /// Prefixes the location of a schema error with the field or item it was found in.
    fn within(self, seg: &str) -> AdbError {
        match self {
            AdbError::Schema { at, what } => {
                let at = if at.is_empty() {
                    seg.to_string()
                } else if at.starts_with('[') {
                    format!("{seg}{at}")
                } else {
                    format!("{seg}.{at}")
                };
                AdbError::Schema { at, what }
            }
            other => other,
        }
    }
}

/// Decodes one ADB block within a budget.
pub struct Decoder<'a> {
    view: View<'a>,
    budget: Budget,
}

/// An object's slots with the schema's field names, for errors.
struct Obj<'a> {
    slots: Option<Slots<'a>>,
    names: &'static [&'static str],
}

impl Obj<'_> {
    fn get(&self, i: usize) -> Val {
        self.slots.map_or(Val::NULL, |s| s.get(i))
    }

    fn name(&self, i: usize) -> &'static str {
        self.names[i - 1]
    }
}

const PKGINFO_NAMES: [&str; pi::COUNT] = [
    "name",
    "version",
    "hashes",
    "description",
    "arch",
    "license",
    "origin",
    "maintainer",
    "url",
    "repo-commit",
    "build-time",
    "installed-size",
    "file-size",
    "provider-priority",
    "depends",
    "provides",
    "replaces",
    "install-if",
    "recommends",
    "layer",
    "tags",
];
const PACKAGE_NAMES: [&str; 5] = ["info", "paths", "scripts", "triggers", "replaces-priority"];
const ACL_NAMES: [&str; 4] = ["mode", "user", "group", "xattrs"];
const FILE_NAMES: [&str; 6] = ["name", "acl", "size", "mtime", "hash", "target"];
const DIR_NAMES: [&str; 3] = ["name", "acl", "files"];
const DEP_NAMES: [&str; 3] = ["name", "version", "match"];
const INDEX_NAMES: [&str; 3] = ["description", "packages", "pkgname-spec"];
const SCRIPT_NAMES: [&str; 7] = [
    "trigger",
    "pre-install",
    "post-install",
    "pre-deinstall",
    "post-deinstall",
    "pre-upgrade",
    "post-upgrade",
];

impl<'a> Decoder<'a> {
    pub fn new(view: View<'a>, budget: Budget) -> Decoder<'a> {
        Decoder { view, budget }
    }

    fn object(
        &mut self,
        v: Val,
        schema: &str,
        names: &'static [&'static str],
    ) -> Result<Obj<'a>, AdbError> {
        self.budget.node()?;
        let slots = self.view.slots(v).map_err(schema_err)?;
        if let Some(s) = slots {
            if s.len() > names.len() {
                return Err(schema_err(format!(
                    "{schema} object has {} fields, the schema has {}",
                    s.len(),
                    names.len()
                )));
            }
        }
        Ok(Obj { slots, names })
    }

    /// The items of an array (null: none). Items are never null.
    fn array(&mut self, v: Val) -> Result<Vec<Val>, AdbError> {
        self.budget.node()?;
        let Some(slots) = self.view.slots(v).map_err(schema_err)? else {
            return Ok(Vec::new());
        };
        let items: Vec<Val> = slots.iter().collect();
        if let Some(i) = items.iter().position(|v| v.is_null()) {
            return Err(schema_err(format!("[{}] is null", i + 1)));
        }
        Ok(items)
    }

    fn bytes(&mut self, v: Val) -> Result<Vec<u8>, AdbError> {
        let b = self.view.blob(v).map_err(schema_err)?.unwrap_or_default();
        self.budget.bytes(b.len())?;
        Ok(b.to_vec())
    }

    fn string(&mut self, v: Val) -> Result<String, AdbError> {
        String::from_utf8(self.bytes(v)?).map_err(|_| schema_err("not valid UTF-8"))
    }

    fn int(&mut self, v: Val) -> Result<Option<u64>, AdbError> {
        self.view.int(v).map_err(schema_err)
    }

    fn field<T>(
        &mut self,
        o: &Obj<'a>,
        i: usize,
        f: impl FnOnce(&mut Self, Val) -> Result<T, AdbError>,
    ) -> Result<T, AdbError> {
        f(self, o.get(i)).map_err(|e| e.within(o.name(i)))
    }

    fn str_field(&mut self, o: &Obj<'a>, i: usize) -> Result<String, AdbError> {
        self.field(o, i, Self::string)
    }

    fn int_field(&mut self, o: &Obj<'a>, i: usize) -> Result<Option<u64>, AdbError> {
        self.field(o, i, Self::int)
    }

    fn dependency(&mut self, v: Val) -> Result<Dependency, AdbError> {
        let o = self.object(v, "dependency", &DEP_NAMES)?;
        let name = self.str_field(&o, 1)?;
        let version = Some(self.str_field(&o, 2)?).filter(|v| !v.is_empty());
        let bits = self.int_field(&o, 3)?;
        let bits = match bits {
            Some(b) if b > 31 || b & 7 == 0 => {
                return Err(schema_err(format!("match {b} is not a comparison")).within("match"))
            }
            Some(b) => VersionOp::from_bits(b as u8),
            None if version.is_some() => VersionOp::EQUAL,
            None => VersionOp::ANY,
        };
        let conflict = bits.contains(VersionOp::CONFLICT);
        let op = bits.without(VersionOp::CONFLICT);
        if version.is_none() && op != VersionOp::ANY {
            return Err(schema_err("a comparison without a version"));
        }
        let dep = Dependency {
            name,
            tag: None,
            conflict,
            op,
            version,
        };
        match dependency_problem(&dep) {
            Some(p) => Err(schema_err(p)),
            None => Ok(dep),
        }
    }

    fn dependencies(&mut self, v: Val) -> Result<Vec<Dependency>, AdbError> {
        let items = self.array(v)?;
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            out.push(
                self.dependency(item)
                    .map_err(|e| e.within(&format!("[{}]", i + 1)))?,
            );
        }
        Ok(out)
    }

    fn strings(&mut self, v: Val) -> Result<Vec<String>, AdbError> {
        let items = self.array(v)?;
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            let s = self
                .string(item)
                .map_err(|e| e.within(&format!("[{}]", i + 1)))?;
            out.push(s);
        }
        Ok(out)
    }

    /// `schema_pkginfo`.
    pub fn pkginfo(&mut self, v: Val) -> Result<PkgInfoV3, AdbError> {
        let o = self.object(v, "pkginfo", &PKGINFO_NAMES)?;
        let deps = |d: &mut Self, i| d.field(&o, i, Self::dependencies);
        let info = PkgInfoV3 {
            name: self.str_field(&o, pi::NAME)?,
            version: self.str_field(&o, pi::VERSION)?,
            hashes: self.field(&o, pi::HASHES, Self::bytes)?,
            description: self.str_field(&o, pi::DESCRIPTION)?,
            arch: self.str_field(&o, pi::ARCH)?,
            license: self.str_field(&o, pi::LICENSE)?,
            origin: self.str_field(&o, pi::ORIGIN)?,
            maintainer: self.str_field(&o, pi::MAINTAINER)?,
            url: self.str_field(&o, pi::URL)?,
            repo_commit: self.field(&o, pi::REPO_COMMIT, Self::bytes)?,
            build_time: self.int_field(&o, pi::BUILD_TIME)?,
            installed_size: self.int_field(&o, pi::INSTALLED_SIZE)?,
            file_size: self.int_field(&o, pi::FILE_SIZE)?,
            provider_priority: self.int_field(&o, pi::PROVIDER_PRIORITY)?,
            depends: deps(self, pi::DEPENDS)?,
            provides: deps(self, pi::PROVIDES)?,
            replaces: deps(self, pi::REPLACES)?,
            install_if: deps(self, pi::INSTALL_IF)?,
            recommends: deps(self, pi::RECOMMENDS)?,
            layer: self.int_field(&o, pi::LAYER)?,
            tags: self.field(&o, pi::TAGS, Self::strings)?,
        };
        if let Some(p) = package_name_problem(&info.name) {
            return Err(schema_err(p).within("name"));
        }
        if !version::validate(&info.version) {
            return Err(
                schema_err(format!("'{}' is not a valid version", info.version)).within("version"),
            );
        }
        if let Some(p) = info.tags.iter().find_map(|t| tag_problem(t)) {
            return Err(schema_err(p).within("tags"));
        }
        Ok(info)
    }

    fn acl(&mut self, v: Val) -> Result<AclV3, AdbError> {
        let o = self.object(v, "acl", &ACL_NAMES)?;
        let mode = self.int_field(&o, 1)?.unwrap_or(0);
        if mode > 0o7777 {
            return Err(schema_err(format!("mode {mode:o} has bits beyond 7777")).within("mode"));
        }
        let mut xattrs = Vec::new();
        for (i, x) in self.field(&o, 4, Self::array)?.into_iter().enumerate() {
            let raw = self
                .bytes(x)
                .map_err(|e| e.within(&format!("xattrs[{}]", i + 1)))?;
            let bad = || {
                schema_err("not a name, a NUL and a value").within(&format!("xattrs[{}]", i + 1))
            };
            let n = raw
                .iter()
                .position(|&b| b == 0)
                .filter(|&n| n > 0)
                .ok_or_else(bad)?;
            let name = std::str::from_utf8(&raw[..n]).map_err(|_| bad())?;
            xattrs.push((name.to_string(), raw[n + 1..].to_vec()));
        }
        Ok(AclV3 {
            mode: mode as u32,
            user: self.str_field(&o, 2)?,
            group: self.str_field(&o, 3)?,
            xattrs,
        })
    }

    fn target(&mut self, v: Val) -> Result<Option<TargetV3>, AdbError> {
        let raw = self.bytes(v)?;
        if raw.is_empty() {
            return Ok(None);
        }
        if raw.len() < 2 {
            return Err(schema_err("shorter than its 2-byte file type"));
        }
        let kind = u16::from_le_bytes([raw[0], raw[1]]);
        let rest = &raw[2..];
        let path = |what: &str| -> Result<String, AdbError> {
            let s = std::str::from_utf8(rest).map_err(|_| schema_err("not valid UTF-8"))?;
            if s.is_empty() || s.contains('\0') || s.len() >= 4095 {
                return Err(schema_err(format!(
                    "{what} target is empty, too long or holds a NUL"
                )));
            }
            Ok(s.to_string())
        };
        match kind {
            S_IFLNK => Ok(Some(TargetV3::Symlink(path("symlink")?))),
            S_IFREG => Ok(Some(TargetV3::Hardlink(path("hard link")?))),
            S_IFCHR | S_IFBLK | S_IFIFO => match <[u8; 8]>::try_from(rest) {
                Ok(dev) => Ok(Some(TargetV3::Device {
                    kind,
                    dev: u64::from_le_bytes(dev),
                })),
                Err(_) => Err(schema_err("a device target is not 8 bytes")),
            },
            other => Err(schema_err(format!("unknown file type {other:o}"))),
        }
    }

    fn file(&mut self, v: Val) -> Result<FileV3, AdbError> {
        let o = self.object(v, "file", &FILE_NAMES)?;
        let f = FileV3 {
            name: self.str_field(&o, 1)?,
            acl: self.field(&o, 2, Self::acl)?,
            size: self.int_field(&o, 3)?.unwrap_or(0),
            mtime: self.int_field(&o, 4)?.unwrap_or(0),
            hash: self.field(&o, 5, Self::bytes)?,
            target: self.field(&o, 6, Self::target)?,
        };
        let name_ok = !f.name.is_empty()
            && f.name != "."
            && f.name != ".."
            && !f.name.contains('/')
            && f.name.len() <= 255;
        if !name_ok {
            return Err(schema_err("not a single path component").within("name"));
        }
        let regular = matches!(f.target, None | Some(TargetV3::Hardlink(_)));
        match (regular, f.hash.len()) {
            (true, 20 | 32 | 64) => {}
            (true, 0) => return Err(schema_err("a regular file without a hash").within("hash")),
            (true, n) => return Err(schema_err(format!("a hash of {n} bytes")).within("hash")),
            (false, 0) => {}
            (false, _) => return Err(schema_err("a hash for a symlink or device").within("hash")),
        }
        Ok(f)
    }

    fn dir(&mut self, v: Val) -> Result<DirV3, AdbError> {
        let o = self.object(v, "dir", &DIR_NAMES)?;
        let name = self.str_field(&o, 1)?;
        if let Some(why) = unsafe_path_reason(&name).filter(|_| !name.is_empty()) {
            return Err(schema_err(why).within("name"));
        }
        let items = self.field(&o, 3, Self::array)?;
        let mut files = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            let f = self
                .file(item)
                .map_err(|e| e.within(&format!("files[{}]", i + 1)))?;
            files.push(f);
        }
        Ok(DirV3 {
            name,
            acl: self.field(&o, 2, Self::acl)?,
            files,
        })
    }

    /// `schema_package`, the root of a package's ADB block. Paths are checked to be safe
    /// and unique, and hard links to name an earlier regular file.
    pub fn package(&mut self) -> Result<PackageMeta, AdbError> {
        let o = self.object(self.view.root(), "package", &PACKAGE_NAMES)?;
        if o.get(1).is_null() {
            return Err(schema_err("a package without info").within("info"));
        }
        let info = self.field(&o, 1, Self::pkginfo)?;
        let mut paths = Vec::new();
        for (i, item) in self.field(&o, 2, Self::array)?.into_iter().enumerate() {
            let d = self
                .dir(item)
                .map_err(|e| e.within(&format!("paths[{}]", i + 1)))?;
            paths.push(d);
        }
        check_paths(&paths)?;
        let so = self.field(&o, 3, |d, v| d.object(v, "scripts", &SCRIPT_NAMES))?;
        let mut scripts = Vec::new();
        for (i, kind) in SCRIPT_FIELDS.into_iter().enumerate() {
            let body = self
                .field(&so, i + 1, Self::bytes)
                .map_err(|e| e.within("scripts"))?;
            if !body.is_empty() {
                scripts.push((kind, body));
            }
        }
        Ok(PackageMeta {
            info,
            paths,
            scripts,
            triggers: self.field(&o, 4, Self::strings)?,
            replaces_priority: self.int_field(&o, 5)?,
        })
    }

    /// `schema_index`, the root of `Packages.adb`.
    pub fn index(&mut self) -> Result<IndexMeta, AdbError> {
        let o = self.object(self.view.root(), "index", &INDEX_NAMES)?;
        let mut packages = Vec::new();
        for (i, item) in self.field(&o, 2, Self::array)?.into_iter().enumerate() {
            let p = self
                .pkginfo(item)
                .map_err(|e| e.within(&format!("packages[{}]", i + 1)))?;
            packages.push(p);
        }
        Ok(IndexMeta {
            description: self.str_field(&o, 1)?,
            packages,
            pkgname_spec: self.str_field(&o, 3)?,
        })
    }
}

/// Every path once, every path safe, and hard links to earlier regular files.
fn check_paths(paths: &[DirV3]) -> Result<(), AdbError> {
    let mut seen = std::collections::HashSet::new();
    let mut regular = std::collections::HashSet::new();
    for (di, d) in paths.iter().enumerate() {
        let at = |what: &str| format!("paths[{}]{what}", di + 1);
        if !seen.insert(d.name.clone()) {
            return Err(
                schema_err(format!("directory '{}' is listed twice", d.name)).within(&at("")),
            );
        }
        for (fi, f) in d.files.iter().enumerate() {
            let at = at(&format!(".files[{}]", fi + 1));
            let path = if d.name.is_empty() {
                f.name.clone()
            } else {
                format!("{}/{}", d.name, f.name)
            };
            if let Some(why) = unsafe_path_reason(&path) {
                return Err(schema_err(why).within(&at));
            }
            if !seen.insert(path.clone()) {
                return Err(schema_err(format!("'{path}' is listed twice")).within(&at));
            }
            match &f.target {
                None => {
                    regular.insert(path);
                }
                Some(TargetV3::Hardlink(to)) if !regular.contains(to) => {
                    return Err(schema_err(format!(
                        "hard link to '{to}', which is not an earlier regular file"
                    ))
                    .within(&at));
                }
                _ => {}
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// ordering (adb_ro_cmpobj in ADB_OBJCMP_EXACT mode, as apk-tools sorts arrays)
// ---------------------------------------------------------------------------------------------

/// `apk_blob_sort`: bytes, then length.
pub fn blob_cmp(a: &[u8], b: &[u8]) -> Ordering {
    a.cmp(b)
}

/// Two versions as `schema_pkginfo` compares them (a missing one is empty).
fn version_cmp(a: &str, b: &str) -> Ordering {
    version::compare(a, b)
}

/// The `match` value apk-tools stores for a dependency (0 when none is stored).
pub fn stored_match(d: &Dependency) -> u64 {
    let op = d.op_with_conflict();
    if op == VersionOp::ANY || op == VersionOp::EQUAL {
        0
    } else {
        u64::from(op.bits())
    }
}

/// `schema_dependency` order: name, version, match.
pub fn dependency_cmp(a: &Dependency, b: &Dependency) -> Ordering {
    let ver = |d: &Dependency| {
        if d.op_with_conflict() == VersionOp::ANY {
            String::new()
        } else {
            d.version.clone().unwrap_or_default()
        }
    };
    blob_cmp(a.name.as_bytes(), b.name.as_bytes())
        .then_with(|| version_cmp(&ver(a), &ver(b)))
        .then_with(|| stored_match(a).cmp(&stored_match(b)))
}

/// Arrays compare item by item; a missing item is an empty one.
fn items_cmp<T>(a: &[T], b: &[T], empty: &T, cmp: impl Fn(&T, &T) -> Ordering) -> Ordering {
    (0..a.len().max(b.len()))
        .map(|i| cmp(a.get(i).unwrap_or(empty), b.get(i).unwrap_or(empty)))
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
}

/// `schema_pkginfo` order, every field in turn: how `apk mkndx` sorts an index.
pub fn pkginfo_cmp(a: &PkgInfoV3, b: &PkgInfoV3) -> Ordering {
    let s = |x: &String, y: &String| blob_cmp(x.as_bytes(), y.as_bytes());
    let n = |x: Option<u64>, y: Option<u64>| x.unwrap_or(0).cmp(&y.unwrap_or(0));
    let none = Dependency {
        name: String::new(),
        tag: None,
        conflict: false,
        op: VersionOp::ANY,
        version: None,
    };
    let d = |x: &[Dependency], y: &[Dependency]| items_cmp(x, y, &none, dependency_cmp);
    s(&a.name, &b.name)
        .then_with(|| version_cmp(&a.version, &b.version))
        .then_with(|| blob_cmp(&a.hashes, &b.hashes))
        .then_with(|| s(&a.description, &b.description))
        .then_with(|| s(&a.arch, &b.arch))
        .then_with(|| s(&a.license, &b.license))
        .then_with(|| s(&a.origin, &b.origin))
        .then_with(|| s(&a.maintainer, &b.maintainer))
        .then_with(|| s(&a.url, &b.url))
        .then_with(|| blob_cmp(&a.repo_commit, &b.repo_commit))
        .then_with(|| n(a.build_time, b.build_time))
        .then_with(|| n(a.installed_size, b.installed_size))
        .then_with(|| n(a.file_size, b.file_size))
        .then_with(|| n(a.provider_priority, b.provider_priority))
        .then_with(|| d(&a.depends, &b.depends))
        .then_with(|| d(&a.provides, &b.provides))
        .then_with(|| d(&a.replaces, &b.replaces))
        .then_with(|| d(&a.install_if, &b.install_if))
        .then_with(|| d(&a.recommends, &b.recommends))
        .then_with(|| n(a.layer, b.layer))
        .then_with(|| items_cmp(&a.tags, &b.tags, &String::new(), s))
}
