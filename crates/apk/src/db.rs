//! The single-letter record format shared by `APKINDEX` and `lib/apk/db/installed`, the
//! installed-package model, `etc/apk/world` and `lib/apk/db/triggers`.
//!
//! Reading follows `apk_pkgtmpl_add_info` and `apk_db_fdb_read`; writing follows
//! `apk_pkg_write_index_header` and `apk_db_fdb_write` (apk 3 field order), so a database
//! written here is byte-identical to the one apk 3 writes for the same packages.

use std::fmt::Write as _;

use crate::dep::{self, DepError, Dependency};
use crate::version;

/// Errors reading the record formats.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DbError {
    #[error("line {line}: expected '<letter>:<value>', found '{text}'")]
    Syntax { line: usize, text: String },
    #[error("line {line}: '{field}:' outside a package record")]
    Orphan { line: usize, field: char },
    #[error("record ending at line {line}: missing '{field}:'")]
    Missing { line: usize, field: char },
    #[error("line {line}: FDB format error (entry '{field}')")]
    Fdb { line: usize, field: char },
    #[error("line {line}: installed database field '{field}:' is not supported")]
    UnknownField { line: usize, field: char },
    #[error("world: {0}")]
    World(DepError),
    #[error("triggers line {line}: '{text}'")]
    Triggers { line: usize, text: String },
}

impl From<DepError> for DbError {
    fn from(e: DepError) -> Self {
        DbError::World(e)
    }
}

/// One field of a record: `key` is the letter before the colon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub key: char,
    pub value: String,
}

/// One package block: its fields in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    pub fields: Vec<Field>,
    /// 1-based line number of the record's last field (for messages).
    pub end_line: usize,
}

impl Record {
    /// The first value of field `key`.
    pub fn get(&self, key: char) -> Option<&str> {
        self.fields
            .iter()
            .find(|f| f.key == key)
            .map(|f| f.value.as_str())
    }

    /// All values of field `key`, in order.
    pub fn get_all(&self, key: char) -> impl Iterator<Item = &str> {
        self.fields
            .iter()
            .filter(move |f| f.key == key)
            .map(|f| f.value.as_str())
    }

    pub fn push(&mut self, key: char, value: impl Into<String>) {
        self.fields.push(Field {
            key,
            value: value.into(),
        });
    }
}

/// Splits text into records. A line shorter than two characters ends a record (apk treats a
/// lone letter like an empty line); every other line must be `<letter>:<value>`. The end of
/// the text ends the last record even without an empty line.
pub fn parse_records(text: &str) -> Result<Vec<Record>, DbError> {
    let mut records = Vec::new();
    let mut cur = Record::default();
    for (i, line) in text.split('\n').enumerate() {
        if line.len() < 2 {
            if !cur.fields.is_empty() {
                records.push(std::mem::take(&mut cur));
            }
            continue;
        }
        let mut chars = line.chars();
        let key = chars.next().unwrap_or(' ');
        let rest = chars.as_str();
        let Some(value) = rest.strip_prefix(':') else {
            return Err(DbError::Syntax {
                line: i + 1,
                text: line.to_string(),
            });
        };
        cur.push(key, value);
        cur.end_line = i + 1;
    }
    if !cur.fields.is_empty() {
        records.push(cur);
    }
    Ok(records)
}

/// Writes records as `<letter>:<value>` lines, each record followed by an empty line.
pub fn write_records(records: &[Record]) -> String {
    let mut out = String::new();
    for r in records {
        for f in &r.fields {
            let _ = writeln!(out, "{}:{}", f.key, f.value);
        }
        out.push('\n');
    }
    out
}

/// apk's lenient number parse: leading decimal digits, anything after them ignored.
fn pull_uint(s: &str, radix: u32) -> u64 {
    s.chars()
        .map_while(|c| c.to_digit(radix))
        .fold(0u64, |acc, d| {
            acc.wrapping_mul(u64::from(radix))
                .wrapping_add(u64::from(d))
        })
}

/// What apk would complain about in a package record: these make it warn "The indexes
/// contain broken packages" or "This apk-tools is OLD", and some make the package
/// uninstallable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordIssues {
    /// `D:` held a word that is not a dependency, or a dependency with an invalid version.
    pub bad_depends: bool,
    /// Same for `p:`.
    pub bad_provides: bool,
    /// Same for `i:`; apk then drops the whole install_if.
    pub bad_install_if: bool,
    /// Field letters this reader does not know, in order of appearance.
    pub unknown_fields: Vec<char>,
}

impl RecordIssues {
    pub fn is_empty(&self) -> bool {
        *self == RecordIssues::default()
    }

    /// apk refuses to install the package (a bad `D:` or an unknown upper-case field).
    pub fn uninstallable(&self) -> bool {
        self.bad_depends || self.unknown_fields.iter().any(|c| !c.is_ascii_lowercase())
    }
}

/// The package fields shared by `APKINDEX` and the installed database
/// (`C P V A S I T U L o m t c k D p i`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackageInfo {
    /// `C:` package identity, `Q1<base64 sha1 of the control member>`.
    pub checksum: String,
    pub name: String,
    pub version: String,
    /// Empty when absent (apk then treats the package as installable on any arch).
    pub arch: String,
    /// Size of the `.apk` file.
    pub size: u64,
    /// `size` from `.PKGINFO`.
    pub installed_size: u64,
    pub description: String,
    pub url: String,
    pub license: String,
    pub origin: String,
    pub maintainer: String,
    pub build_time: u64,
    pub commit: String,
    pub provider_priority: u32,
    pub depends: Vec<Dependency>,
    pub provides: Vec<Dependency>,
    pub install_if: Vec<Dependency>,
    /// Problems found while reading; empty for a package built in code.
    pub issues: RecordIssues,
}

/// Letters that belong to the installed database; ignored in an index.
const INSTALLED_ONLY: &[char] = &['F', 'M', 'R', 'Z', 'r', 'q', 'a', 's', 'f', 'g'];

impl PackageInfo {
    /// A package with just a name and a version.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        PackageInfo {
            name: name.into(),
            version: version.into(),
            ..PackageInfo::default()
        }
    }

    /// Applies one index field. Returns false for a field that is not an index field
    /// (installed-database letters and unknown letters; the latter are noted in `issues`).
    pub fn apply_field(&mut self, key: char, value: &str) -> bool {
        match key {
            'C' => self.checksum = value.to_string(),
            'P' => self.name = value.to_string(),
            'V' => self.version = value.to_string(),
            'A' => self.arch = value.to_string(),
            'S' => self.size = pull_uint(value, 10),
            'I' => self.installed_size = pull_uint(value, 10),
            'T' => self.description = value.to_string(),
            'U' => self.url = value.to_string(),
            'L' => self.license = value.to_string(),
            'o' => self.origin = value.to_string(),
            'm' => self.maintainer = value.to_string(),
            't' => self.build_time = pull_uint(value, 10),
            'c' => self.commit = value.to_string(),
            'k' => self.provider_priority = pull_uint(value, 10) as u32,
            'D' => {
                let (deps, clean) = dep::parse_list_lenient(value);
                self.depends.extend(deps);
                self.issues.bad_depends |= !clean;
            }
            'p' => {
                let (deps, clean) = dep::parse_list_lenient(value);
                self.provides.extend(deps);
                self.issues.bad_provides |= !clean;
            }
            'i' => {
                let (deps, clean) = dep::parse_list_lenient(value);
                if clean {
                    self.install_if.extend(deps);
                } else {
                    // apk disables a partially parsed install_if rule entirely.
                    self.install_if.clear();
                    self.issues.bad_install_if = true;
                }
            }
            k if INSTALLED_ONLY.contains(&k) => return false,
            k => {
                self.issues.unknown_fields.push(k);
                return false;
            }
        }
        true
    }

    /// Reads an index record (installed-database letters are ignored).
    pub fn from_record(record: &Record) -> Result<Self, DbError> {
        let mut p = PackageInfo::default();
        for f in &record.fields {
            p.apply_field(f.key, &f.value);
        }
        p.check(record.end_line)?;
        Ok(p)
    }

    fn check(&self, line: usize) -> Result<(), DbError> {
        for (field, v) in [('P', &self.name), ('V', &self.version)] {
            if v.is_empty() {
                return Err(DbError::Missing { line, field });
            }
        }
        Ok(())
    }

    /// Writes the index header block exactly as apk 3 does (`apk_pkg_write_index_header`),
    /// without the terminating empty line. `C:` is left out when `checksum` is empty.
    pub fn write_header(&self, out: &mut String) {
        if !self.checksum.is_empty() {
            let _ = writeln!(out, "C:{}", self.checksum);
        }
        let _ = writeln!(out, "P:{}\nV:{}", self.name, self.version);
        if !self.arch.is_empty() {
            let _ = writeln!(out, "A:{}", self.arch);
        }
        let _ = writeln!(
            out,
            "S:{}\nI:{}\nT:{}\nU:{}\nL:{}",
            self.size, self.installed_size, self.description, self.url, self.license
        );
        for (k, v) in [('o', &self.origin), ('m', &self.maintainer)] {
            if !v.is_empty() {
                let _ = writeln!(out, "{k}:{v}");
            }
        }
        if self.build_time != 0 {
            let _ = writeln!(out, "t:{}", self.build_time);
        }
        if !self.commit.is_empty() {
            let _ = writeln!(out, "c:{}", self.commit);
        }
        if self.provider_priority != 0 {
            let _ = writeln!(out, "k:{}", self.provider_priority);
        }
        for (k, deps) in [
            ('D', &self.depends),
            ('p', &self.provides),
            ('i', &self.install_if),
        ] {
            if !deps.is_empty() {
                let _ = writeln!(out, "{k}:{}", dep::format_list(deps));
            }
        }
    }

    /// An `APKINDEX` entry: the header block and an empty line.
    pub fn to_index_entry(&self) -> String {
        let mut s = String::new();
        self.write_header(&mut s);
        s.push('\n');
        s
    }

    /// `name-version`, as apk prints a package.
    pub fn name_version(&self) -> String {
        format!("{}-{}", self.name, self.version)
    }
}

/// Reads `APKINDEX` text into packages.
pub fn parse_index(text: &str) -> Result<Vec<PackageInfo>, DbError> {
    parse_records(text)?
        .iter()
        .map(PackageInfo::from_record)
        .collect()
}

/// Owner and mode of a directory (`M:`) or file (`a:`), with the optional `Q1…` digest of its
/// extended attributes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Acl {
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
    pub xattr_digest: Option<String>,
}

impl Acl {
    /// The default for a directory: `0:0:755` (not written).
    pub const DIR_DEFAULT: Acl = Acl::new(0, 0, 0o755);
    /// The default for a file: `0:0:644` (not written).
    pub const FILE_DEFAULT: Acl = Acl::new(0, 0, 0o644);

    pub const fn new(uid: u32, gid: u32, mode: u32) -> Acl {
        Acl {
            uid,
            gid,
            mode,
            xattr_digest: None,
        }
    }

    fn parse(s: &str) -> Acl {
        let mut it = s.splitn(4, ':');
        let uid = pull_uint(it.next().unwrap_or(""), 10) as u32;
        let gid = pull_uint(it.next().unwrap_or(""), 10) as u32;
        let mode = pull_uint(it.next().unwrap_or(""), 8) as u32;
        let xattr_digest = it.next().filter(|x| !x.is_empty()).map(str::to_string);
        Acl {
            uid,
            gid,
            mode,
            xattr_digest,
        }
    }

    fn write(&self, key: char, out: &mut String) {
        let _ = write!(out, "{key}:{}:{}:{:o}", self.uid, self.gid, self.mode);
        if let Some(x) = &self.xattr_digest {
            let _ = write!(out, ":{x}");
        }
        out.push('\n');
    }
}

/// A file owned by an installed package (`R:`, `a:`, `Z:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledFile {
    /// Base name.
    pub name: String,
    pub acl: Acl,
    /// `Q1<base64 sha1>`: the content digest, or for a symlink the digest of its target.
    pub digest: Option<String>,
}

impl InstalledFile {
    pub fn new(name: impl Into<String>, digest: Option<String>) -> Self {
        InstalledFile {
            name: name.into(),
            acl: Acl::FILE_DEFAULT,
            digest,
        }
    }
}

/// A directory entry of an installed package (`F:`, `M:`) and its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledDir {
    /// Path without leading or trailing slash (`usr/bin`).
    pub path: String,
    pub acl: Acl,
    pub files: Vec<InstalledFile>,
}

impl InstalledDir {
    pub fn new(path: impl Into<String>) -> Self {
        InstalledDir {
            path: path.into().trim_matches('/').to_string(),
            acl: Acl::DIR_DEFAULT,
            files: Vec::new(),
        }
    }
}

/// The maintainer scripts apk knows, with their names in `scripts.tar`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ScriptKind {
    PreInstall,
    PostInstall,
    PreDeinstall,
    PostDeinstall,
    PreUpgrade,
    PostUpgrade,
    Trigger,
}

impl ScriptKind {
    pub const ALL: [ScriptKind; 7] = [
        ScriptKind::PreInstall,
        ScriptKind::PostInstall,
        ScriptKind::PreDeinstall,
        ScriptKind::PostDeinstall,
        ScriptKind::PreUpgrade,
        ScriptKind::PostUpgrade,
        ScriptKind::Trigger,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ScriptKind::PreInstall => "pre-install",
            ScriptKind::PostInstall => "post-install",
            ScriptKind::PreDeinstall => "pre-deinstall",
            ScriptKind::PostDeinstall => "post-deinstall",
            ScriptKind::PreUpgrade => "pre-upgrade",
            ScriptKind::PostUpgrade => "post-upgrade",
            ScriptKind::Trigger => "trigger",
        }
    }

    /// From a script name (`post-install`) or a `.PKGINFO`-style control file name
    /// (`.post-install`).
    pub fn parse(s: &str) -> Option<ScriptKind> {
        let s = s.strip_prefix('.').unwrap_or(s);
        ScriptKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A maintainer script of an installed package (kept in `lib/apk/db/scripts.tar[.gz]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    pub kind: ScriptKind,
    pub body: Vec<u8>,
}

/// An installed package: the index fields plus what only the installed database records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstalledPackage {
    pub info: PackageInfo,
    /// `g:` package tags (apk 3).
    pub tags: Vec<String>,
    /// `r:` packages whose files this one may overwrite.
    pub replaces: Vec<Dependency>,
    /// `q:`
    pub replaces_priority: u32,
    /// `s:` the repository tag the package is pinned to, without `@`.
    pub repository_tag: Option<String>,
    /// `f:` flags.
    pub broken_files: bool,
    pub broken_script: bool,
    pub broken_xattr: bool,
    /// `f:S`: file digests are sha256-160 (v3 packages).
    pub sha256_160: bool,
    /// Directories in first-seen order, each with its files.
    pub dirs: Vec<InstalledDir>,
    /// Not part of the `installed` file: from `scripts.tar`.
    pub scripts: Vec<Script>,
    /// Not part of the `installed` file: trigger globs from `lib/apk/db/triggers`.
    pub triggers: Vec<String>,
}

impl InstalledPackage {
    pub fn new(info: PackageInfo) -> Self {
        InstalledPackage {
            info,
            ..InstalledPackage::default()
        }
    }

    /// The directory entry for `path`, created at the end if missing.
    pub fn dir_mut(&mut self, path: &str) -> &mut InstalledDir {
        let path = path.trim_matches('/');
        let i = match self.dirs.iter().position(|d| d.path == path) {
            Some(i) => i,
            None => {
                self.dirs.push(InstalledDir::new(path));
                self.dirs.len() - 1
            }
        };
        &mut self.dirs[i]
    }

    /// Reads one record of `lib/apk/db/installed`.
    pub fn from_record(record: &Record) -> Result<Self, DbError> {
        let mut p = InstalledPackage::default();
        let line = record.end_line;
        for f in &record.fields {
            if p.info.apply_field(f.key, &f.value) {
                continue;
            }
            let v = f.value.as_str();
            let fdb = || DbError::Fdb { line, field: f.key };
            match f.key {
                'g' => p.tags.extend(v.split_whitespace().map(str::to_string)),
                'F' => p.dirs.push(InstalledDir::new(v)),
                'M' => p.dirs.last_mut().ok_or_else(fdb)?.acl = Acl::parse(v),
                'R' => p
                    .dirs
                    .last_mut()
                    .ok_or_else(fdb)?
                    .files
                    .push(InstalledFile::new(v, None)),
                'a' | 'Z' => {
                    let file = p
                        .dirs
                        .last_mut()
                        .and_then(|d| d.files.last_mut())
                        .ok_or_else(fdb)?;
                    if f.key == 'a' {
                        file.acl = Acl::parse(v);
                    } else {
                        file.digest = Some(v.to_string());
                    }
                }
                'r' => p.replaces.extend(dep::parse_list_lenient(v).0),
                'q' => p.replaces_priority = pull_uint(v, 10) as u32,
                's' => p.repository_tag = Some(v.to_string()).filter(|t| !t.is_empty()),
                'f' => {
                    for c in v.chars() {
                        match c {
                            'f' => p.broken_files = true,
                            's' => p.broken_script = true,
                            'x' => p.broken_xattr = true,
                            'S' => p.sha256_160 = true,
                            _ => return Err(DbError::UnknownField { line, field: 'f' }),
                        }
                    }
                }
                k => return Err(DbError::UnknownField { line, field: k }),
            }
        }
        p.info.check(line)?;
        Ok(p)
    }

    /// Writes the package's record exactly as apk 3 does (`apk_db_fdb_write`), including the
    /// terminating empty line.
    pub fn write(&self, out: &mut String) {
        self.info.write_header(out);
        if !self.tags.is_empty() {
            let _ = writeln!(out, "g:{}", self.tags.join(" "));
        }
        if !self.replaces.is_empty() {
            let _ = writeln!(out, "r:{}", dep::format_list(&self.replaces));
        }
        if self.replaces_priority != 0 {
            let _ = writeln!(out, "q:{}", self.replaces_priority);
        }
        if let Some(tag) = &self.repository_tag {
            let _ = writeln!(out, "s:{tag}");
        }
        let flags: String = [
            (self.broken_files, 'f'),
            (self.broken_script, 's'),
            (self.broken_xattr, 'x'),
            (self.sha256_160, 'S'),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, c)| *c)
        .collect();
        if !flags.is_empty() {
            let _ = writeln!(out, "f:{flags}");
        }
        for d in &self.dirs {
            let _ = writeln!(out, "F:{}", d.path);
            if d.acl != Acl::DIR_DEFAULT {
                d.acl.write('M', out);
            }
            for file in &d.files {
                let _ = writeln!(out, "R:{}", file.name);
                if file.acl != Acl::FILE_DEFAULT {
                    file.acl.write('a', out);
                }
                if let Some(z) = &file.digest {
                    let _ = writeln!(out, "Z:{z}");
                }
            }
        }
        out.push('\n');
    }

    /// The entry name of a script in `scripts.tar` as apk 3 writes it:
    /// `<name>-<version>.X1<hex id>.<action>` (apk 2 wrote `Q1<base64>`; both are read).
    pub fn script_entry_name(&self, kind: ScriptKind) -> String {
        let id = checksum_hex(&self.info.checksum)
            .map(|h| format!("X1{h}"))
            .unwrap_or_else(|| self.info.checksum.clone());
        format!(
            "{}-{}.{id}.{}",
            self.info.name,
            self.info.version,
            kind.as_str()
        )
    }

    /// Files as full paths (`usr/bin/foo`), in database order.
    pub fn file_paths(&self) -> impl Iterator<Item = String> + '_ {
        self.dirs.iter().flat_map(|d| {
            d.files.iter().map(move |f| {
                if d.path.is_empty() {
                    f.name.clone()
                } else {
                    format!("{}/{}", d.path, f.name)
                }
            })
        })
    }
}

/// Decodes `Q1<base64>` (or `X1<hex>`) into lower-case hex.
pub fn checksum_hex(checksum: &str) -> Option<String> {
    if let Some(hex) = checksum.strip_prefix("X1") {
        return Some(hex.to_ascii_lowercase());
    }
    let b64 = checksum.strip_prefix("Q1")?;
    let bytes = base64_decode(b64)?;
    Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let s = s.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for &c in s {
        acc = (acc << 6) | val(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// `strcasecmp`, then `strcmp`: the order apk shows names in (`apk_name_cmp_display`).
pub fn name_cmp_display(a: &str, b: &str) -> std::cmp::Ordering {
    let lower = |s: &str| -> Vec<u8> { s.bytes().map(|c| c.to_ascii_lowercase()).collect() };
    lower(a).cmp(&lower(b)).then_with(|| a.cmp(b))
}

/// `lib/apk/db/installed`, plus the triggers kept beside it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstalledDb {
    /// In file order.
    pub packages: Vec<InstalledPackage>,
}

impl InstalledDb {
    /// Reads the `installed` file.
    pub fn parse(text: &str) -> Result<Self, DbError> {
        let packages = parse_records(text)?
            .iter()
            .map(InstalledPackage::from_record)
            .collect::<Result<_, _>>()?;
        Ok(InstalledDb { packages })
    }

    /// The package named `name`, if installed.
    pub fn get(&self, name: &str) -> Option<&InstalledPackage> {
        self.packages.iter().find(|p| p.info.name == name)
    }

    pub fn get_mut(&mut self, name: &str) -> Option<&mut InstalledPackage> {
        self.packages.iter_mut().find(|p| p.info.name == name)
    }

    /// Adds `pkg`, replacing an installed package of the same name.
    pub fn insert(&mut self, pkg: InstalledPackage) {
        match self.get_mut(&pkg.info.name) {
            Some(slot) => *slot = pkg,
            None => self.packages.push(pkg),
        }
    }

    pub fn remove(&mut self, name: &str) -> Option<InstalledPackage> {
        let i = self.packages.iter().position(|p| p.info.name == name)?;
        Some(self.packages.remove(i))
    }

    /// Packages in the order apk writes them: by name (`strcasecmp`, then `strcmp`), then by
    /// version.
    pub fn sorted(&self) -> Vec<&InstalledPackage> {
        let mut v: Vec<&InstalledPackage> = self.packages.iter().collect();
        v.sort_by(|a, b| {
            name_cmp_display(&a.info.name, &b.info.name)
                .then_with(|| version::compare(&a.info.version, &b.info.version))
        });
        v
    }

    /// The `installed` file as apk 3 writes it.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for p in self.sorted() {
            p.write(&mut out);
        }
        out
    }

    /// Attaches the globs of a `lib/apk/db/triggers` file (`Q1<id> <glob>…` per line) to the
    /// packages with those identities. Lines for unknown packages are skipped, as apk does.
    pub fn read_triggers(&mut self, text: &str) -> Result<(), DbError> {
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let mut words = line.split_whitespace();
            let id = words.next().unwrap_or("");
            if !id.starts_with("Q1") && !id.starts_with("X1") {
                return Err(DbError::Triggers {
                    line: i + 1,
                    text: line.to_string(),
                });
            }
            let key = checksum_hex(id);
            if let Some(p) = self.packages.iter_mut().find(|p| {
                p.info.checksum == id || (key.is_some() && checksum_hex(&p.info.checksum) == key)
            }) {
                p.triggers.extend(words.map(str::to_string));
            }
        }
        Ok(())
    }

    /// `lib/apk/db/triggers` as apk writes it: one line per package with triggers, in the
    /// same order as `installed`.
    pub fn triggers_text(&self) -> String {
        let mut out = String::new();
        for p in self.sorted() {
            if p.triggers.is_empty() {
                continue;
            }
            out.push_str(&p.info.checksum);
            for t in &p.triggers {
                out.push(' ');
                out.push_str(t);
            }
            out.push('\n');
        }
        out
    }

    /// Counts as apk reports them with `-v`: packages, directories (with their parents and the
    /// root), files, and the sum of installed sizes.
    pub fn stats(&self) -> DbStats {
        let mut dirs = std::collections::BTreeSet::new();
        let mut files = 0;
        for p in &self.packages {
            for d in &p.dirs {
                let mut path = d.path.as_str();
                dirs.insert(path.to_string());
                while let Some((parent, _)) = path.rsplit_once('/') {
                    dirs.insert(parent.to_string());
                    path = parent;
                }
                if !path.is_empty() {
                    dirs.insert(String::new());
                }
                files += d.files.len();
            }
        }
        DbStats {
            packages: self.packages.len(),
            dirs: dirs.len(),
            files,
            bytes: self.packages.iter().map(|p| p.info.installed_size).sum(),
        }
    }
}

/// Totals over an installed database.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DbStats {
    pub packages: usize,
    pub dirs: usize,
    pub files: usize,
    pub bytes: u64,
}

/// Reads `etc/apk/world`: dependencies separated by whitespace (tags allowed).
pub fn parse_world(text: &str) -> Result<Vec<Dependency>, DbError> {
    Ok(dep::parse_list(text.trim())?)
}

/// Writes `etc/apk/world` as apk does: sorted by name, one per line, with a final newline
/// (an empty world is a lone newline).
pub fn write_world(world: &[Dependency]) -> String {
    let mut v: Vec<&Dependency> = world.iter().collect();
    v.sort_by(|a, b| name_cmp_display(&a.name, &b.name));
    let mut out = String::new();
    for (i, d) in v.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&d.to_string());
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_decodes() {
        assert_eq!(
            checksum_hex("Q1La4irZmiPmPAKLBbjVfWy4zCpAU=")
                .unwrap()
                .len(),
            40
        );
        assert_eq!(checksum_hex("X1AB").unwrap(), "ab");
        assert!(checksum_hex("zz").is_none());
    }

    #[test]
    fn records_split() {
        let r = parse_records("P:a\nV:1\n\n\nP:b\nV:2").unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].get('V'), Some("2"));
        assert!(parse_records("P:a\nbogus\n").is_err());
    }
}
