//! A recipe's variables, as the shell reports them after sourcing the APKBUILD.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Something wrong with a recipe; every message names the APKBUILD.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{}: {msg}", path.display())]
pub struct RecipeError {
    pub path: PathBuf,
    pub msg: String,
}

/// One entry of `subpackages`: `name[:func[:arch]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subpackage {
    pub name: String,
    pub func: String,
    /// The resolved arch (`noarch` or the build's CARCH, …).
    pub arch: String,
}

/// One entry of `source`: a local file or `[name::]url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceEntry {
    /// The file name in `$srcdir`.
    pub name: String,
    /// The URL for remote sources.
    pub url: Option<String>,
    /// The expected sha512 (positional in `sha512sums`).
    pub sha512: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recipe {
    pub path: PathBuf,
    pub vars: BTreeMap<String, String>,
    pub pkgname: String,
    pub pkgver: String,
    pub pkgrel: u32,
    pub pkgdesc: String,
    pub url: String,
    pub license: String,
    /// `noarch` or the build's CARCH.
    pub pkgarch: String,
    pub subpackages: Vec<Subpackage>,
    pub sources: Vec<SourceEntry>,
    pub options: Vec<String>,
    pub functions: BTreeSet<String>,
    pub maintainer: Option<String>,
}

/// The metadata one (sub)package gets, read from the shell after package() or its split.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackageVars {
    pub vars: BTreeMap<String, String>,
}

impl PackageVars {
    pub fn parse(dump: &[u8]) -> PackageVars {
        PackageVars {
            vars: parse_dump(dump),
        }
    }
    pub fn get(&self, k: &str) -> &str {
        var(&self.vars, k)
    }
    pub fn words(&self, k: &str) -> Vec<String> {
        words(&self.vars, k)
    }
}

/// A variable's value, empty when unset.
fn var<'a>(vars: &'a BTreeMap<String, String>, k: &str) -> &'a str {
    vars.get(k).map(|s| s.as_str()).unwrap_or("")
}

/// A variable's whitespace-separated words.
fn words(vars: &BTreeMap<String, String>, k: &str) -> Vec<String> {
    var(vars, k)
        .split_whitespace()
        .map(|s| s.to_string())
        .collect()
}

/// Parses the NUL-separated `name=value` dump of `abuild.sh meta`.
pub fn parse_dump(dump: &[u8]) -> BTreeMap<String, String> {
    dump.split(|&b| b == 0)
        .filter(|r| !r.is_empty())
        .filter_map(|r| {
            let s = String::from_utf8_lossy(r);
            s.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect()
}

fn valid_name(n: &str) -> bool {
    let mut c = n.chars();
    matches!(c.next(), Some(ch) if ch.is_ascii_alphanumeric())
        && c.all(|ch| ch.is_ascii_alphanumeric() || "._+-".contains(ch))
}

/// The variables of a dump, and how a check fails.
struct Dump<'a> {
    vars: &'a BTreeMap<String, String>,
    path: &'a Path,
}

impl Dump<'_> {
    fn get(&self, k: &str) -> String {
        self.vars.get(k).cloned().unwrap_or_default()
    }
    fn words(&self, k: &str) -> Vec<String> {
        self.get(k)
            .split_whitespace()
            .map(|s| s.to_string())
            .collect()
    }
    fn err(&self, msg: String) -> RecipeError {
        RecipeError {
            path: self.path.to_path_buf(),
            msg,
        }
    }

    /// pkgname, pkgver, pkgrel, pkgdesc, url, license and arch, as abuild's `validate`
    /// wants them; returns the package's arch (`noarch` or `carch`).
    fn check_identity(&self, carch: &str) -> Result<(u32, String), RecipeError> {
        let pkgname = self.get("pkgname");
        if pkgname.is_empty() {
            return Err(self.err("pkgname is not set".into()));
        }
        if !valid_name(&pkgname) {
            return Err(self.err(format!("pkgname {pkgname:?} is not a valid package name")));
        }
        let pkgver = self.get("pkgver");
        if pkgver.is_empty() {
            return Err(self.err("pkgver is not set".into()));
        }
        if !alpinist_apk::version::validate(&format!("{pkgver}-r0")) {
            return Err(self.err(format!("pkgver {pkgver:?} is not a valid apk version")));
        }
        let pkgrel: u32 = self.get("pkgrel").trim().parse().map_err(|_| {
            self.err(format!(
                "pkgrel {:?} is not an unsigned integer",
                self.get("pkgrel")
            ))
        })?;
        let pkgdesc = self.get("pkgdesc");
        if pkgdesc.is_empty() {
            return Err(self.err("pkgdesc is not set".into()));
        }
        if pkgdesc.len() > 127 || pkgdesc.contains('\n') {
            return Err(self.err("pkgdesc must be one line of at most 127 bytes".into()));
        }
        for k in ["url", "license"] {
            if self.get(k).is_empty() {
                return Err(self.err(format!("{k} is not set")));
            }
        }
        let arch_words = self.words("arch");
        if arch_words.is_empty() {
            return Err(self.err("arch is not set".into()));
        }
        let pkgarch = if arch_words.iter().any(|a| a == "noarch") {
            "noarch".to_string()
        } else {
            carch.to_string()
        };
        Ok((pkgrel, pkgarch))
    }

    /// The subpackages, each once, each with its split function; returns them and the
    /// functions the recipe defines.
    fn subpackages(
        &self,
        pkgname: &str,
        pkgarch: &str,
        carch: &str,
    ) -> Result<(Vec<Subpackage>, BTreeSet<String>), RecipeError> {
        let mut subpackages = Vec::new();
        for w in self.words("subpackages") {
            subpackages
                .push(Subpackage::parse(&w, pkgname, pkgarch, carch).map_err(|m| self.err(m))?);
        }
        let mut seen = BTreeSet::from([pkgname.to_string()]);
        for s in &subpackages {
            if !seen.insert(s.name.clone()) {
                return Err(self.err(format!("package name {} appears twice", s.name)));
            }
        }
        let functions: BTreeSet<String> = self.words("functions").into_iter().collect();
        if !functions.contains("package") {
            return Err(self.err("has no package() function".into()));
        }
        for s in &subpackages {
            if !functions.contains(&s.func) {
                return Err(self.err(format!(
                    "subpackage {} needs a split function {}() that is not defined",
                    s.name, s.func
                )));
            }
        }
        Ok((subpackages, functions))
    }

    /// Sources with their checksums, positionally; each file name once.
    fn sources(&self) -> Result<Vec<SourceEntry>, RecipeError> {
        let source_words = self.words("source");
        let sums = self.words("sha512sums");
        if !source_words.is_empty() && sums.len() != 2 * source_words.len() {
            return Err(self.err(format!(
                "sha512sums has {} entries for {} sources; run `abuild checksum` (or fix by hand)",
                sums.len() / 2,
                source_words.len()
            )));
        }
        let mut sources = Vec::new();
        for (i, s) in source_words.iter().enumerate() {
            let (name_part, rest) = match s.split_once("::") {
                Some((n, u)) => (n.to_string(), Some(u.to_string())),
                None => (s.clone(), None),
            };
            let is_remote = |u: &str| {
                u.starts_with("http://") || u.starts_with("https://") || u.starts_with("ftp://")
            };
            let url = match rest {
                Some(u) if is_remote(&u) => Some(u),
                Some(_) => None,
                None if is_remote(s) => Some(s.clone()),
                None => None,
            };
            let name = name_part
                .rsplit('/')
                .next()
                .unwrap_or(&name_part)
                .to_string();
            let sha = sums[2 * i].to_ascii_lowercase();
            if sha.len() != 128 || !sha.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(self.err(format!("sha512sums entry for {name} is not 128 hex digits")));
            }
            sources.push(SourceEntry {
                name,
                url,
                sha512: sha,
            });
        }
        let mut names = BTreeSet::new();
        for s in &sources {
            if !names.insert(&s.name) {
                return Err(self.err(format!("source file name {} appears twice", s.name)));
            }
        }
        Ok(sources)
    }

    /// Install scripts belong to this recipe's packages (`packages`); triggers and
    /// dependencies are well formed.
    fn check_scripts_and_deps(&self, packages: &BTreeSet<String>) -> Result<(), RecipeError> {
        for i in self.words("install") {
            let ok = [
                ".pre-install",
                ".post-install",
                ".pre-upgrade",
                ".post-upgrade",
                ".pre-deinstall",
                ".post-deinstall",
            ]
            .iter()
            .any(|suffix| i.strip_suffix(suffix).is_some_and(|p| packages.contains(p)));
            if !ok {
                return Err(self.err(format!(
                    "install script {i} is not <package>.{{pre,post}}-{{install,upgrade,deinstall}} of this recipe"
                )));
            }
        }
        for t in self.words("triggers") {
            if !t.contains(".trigger=") {
                return Err(self.err(format!(
                    "triggers entry {t} is not <package>.trigger=<dirs>"
                )));
            }
        }
        for k in [
            "depends",
            "makedepends",
            "makedepends_build",
            "makedepends_host",
            "provides",
        ] {
            for d in self.words(k) {
                if alpinist_apk::dep::Dependency::parse_metadata(&d).is_err() {
                    return Err(self.err(format!("{k}: {d:?} is not a valid dependency")));
                }
            }
        }
        Ok(())
    }
}

impl Recipe {
    /// Builds a recipe from the shell's dump, checking what abuild's `validate` checks.
    /// `carch` is the arch being built for; `apkbuild_text` is the file (for the
    /// `# Maintainer:` comment).
    pub fn from_dump(
        path: &Path,
        dump: &[u8],
        carch: &str,
        apkbuild_text: &str,
    ) -> Result<Recipe, RecipeError> {
        let vars = parse_dump(dump);
        let d = Dump { vars: &vars, path };
        let (pkgrel, pkgarch) = d.check_identity(carch)?;
        let pkgname = d.get("pkgname");
        let (subpackages, functions) = d.subpackages(&pkgname, &pkgarch, carch)?;
        let sources = d.sources()?;
        let packages: BTreeSet<String> = std::iter::once(pkgname.clone())
            .chain(subpackages.iter().map(|s| s.name.clone()))
            .collect();
        d.check_scripts_and_deps(&packages)?;
        let maintainer = apkbuild_text
            .lines()
            .find_map(|l| l.strip_prefix("# Maintainer:"))
            .map(|m| m.trim().to_string())
            .or_else(|| Some(d.get("maintainer")).filter(|m| !m.is_empty()));
        Ok(Recipe {
            path: path.to_path_buf(),
            pkgname,
            pkgver: d.get("pkgver"),
            pkgrel,
            pkgdesc: d.get("pkgdesc"),
            url: d.get("url"),
            license: d
                .get("license")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
            pkgarch,
            subpackages,
            sources,
            options: d.words("options"),
            functions,
            maintainer,
            vars,
        })
    }

    pub fn get(&self, k: &str) -> &str {
        var(&self.vars, k)
    }
    pub fn words(&self, k: &str) -> Vec<String> {
        words(&self.vars, k)
    }
    /// `$pkgver-r$pkgrel`.
    pub fn full_version(&self) -> String {
        format!("{}-r{}", self.pkgver, self.pkgrel)
    }

    /// abuild's `options_has` for a (sub)package: the first of `pkg::opt`, `opt` or
    /// `!opt` decides.
    pub fn option(&self, pkg: &str, opt: &str) -> bool {
        let scoped = format!("{pkg}::{opt}");
        let scoped_not = format!("!{pkg}::{opt}");
        let not = format!("!{opt}");
        for o in &self.options {
            if *o == scoped {
                return true;
            }
            if *o == scoped_not {
                return false;
            }
        }
        for o in &self.options {
            if *o == opt {
                return true;
            }
            if *o == not {
                return false;
            }
        }
        false
    }

    /// Every package name this recipe makes.
    pub fn package_names(&self) -> Vec<String> {
        std::iter::once(self.pkgname.clone())
            .chain(self.subpackages.iter().map(|s| s.name.clone()))
            .collect()
    }

    /// `arch` allows building for `carch` (first of `carch`, `!carch`, `all`, `noarch` wins).
    pub fn builds_for(&self, carch: &str) -> bool {
        let not = format!("!{carch}");
        for a in self.words("arch") {
            if a == not {
                return false;
            }
            if a == carch || a == "all" || a == "noarch" {
                return true;
            }
        }
        false
    }

    /// The install/trigger script files of package `pkg`: (kind, file name in startdir).
    pub fn scripts_of(&self, pkg: &str) -> Vec<(String, String)> {
        let mut v = Vec::new();
        for i in self.words("install") {
            if let Some(kind) = i.strip_prefix(&format!("{pkg}.")) {
                v.push((kind.to_string(), i.clone()));
            }
        }
        for t in self.words("triggers") {
            if let Some((file, _)) = t.split_once('=') {
                if file == format!("{pkg}.trigger") {
                    v.push(("trigger".into(), file.to_string()));
                }
            }
        }
        v
    }

    /// Trigger directories of package `pkg` (`pkg.trigger=/a:/b` → [/a, /b]).
    pub fn triggers_of(&self, pkg: &str) -> Vec<String> {
        self.words("triggers")
            .iter()
            .filter_map(|t| t.split_once('='))
            .filter(|(f, _)| *f == format!("{pkg}.trigger"))
            .flat_map(|(_, dirs)| dirs.split(':').map(|d| d.to_string()).collect::<Vec<_>>())
            .filter(|d| !d.is_empty())
            .collect()
    }
}

impl Subpackage {
    /// abuild's `subpkg_set`: default split function and arch rules.
    pub fn parse(
        word: &str,
        pkgname: &str,
        pkgarch: &str,
        carch: &str,
    ) -> Result<Subpackage, String> {
        let mut parts = word.splitn(3, ':');
        let name = parts.next().unwrap_or_default().to_string();
        if !valid_name(&name) {
            return Err(format!("subpackage name {name:?} is not valid"));
        }
        let func = parts.next().unwrap_or("").to_string();
        let arch = parts.next().unwrap_or("").to_string();
        let func = if func.is_empty() {
            if name.ends_with("-bash-completion") {
                "bashcomp".to_string()
            } else if name.ends_with("-zsh-completion") {
                "zshcomp".to_string()
            } else if name.ends_with("-fish-completion") {
                "fishcomp".to_string()
            } else {
                name.rsplit('-').next().unwrap_or(&name).to_string()
            }
        } else {
            func
        };
        let arch = if arch.is_empty() {
            let forced = name != pkgname
                && [
                    "-doc",
                    "-openrc",
                    "-lang",
                    "sh-completion",
                    "-pyc",
                    "-nftrules",
                    "-systemd",
                    "-udev",
                ]
                .iter()
                .any(|s| name.ends_with(s));
            if forced {
                "noarch".to_string()
            } else {
                pkgarch.to_string()
            }
        } else if arch == "noarch" || arch == carch || arch == "all" {
            if arch == "all" {
                carch.to_string()
            } else {
                arch
            }
        } else {
            return Err(format!(
                "subpackage {name}: arch {arch:?} is not noarch, all or {carch}"
            ));
        };
        Ok(Subpackage { name, func, arch })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subpackage_defaults() {
        let s = Subpackage::parse("foo-dev", "foo", "aarch64", "aarch64").unwrap();
        assert_eq!((s.func.as_str(), s.arch.as_str()), ("dev", "aarch64"));
        let s = Subpackage::parse("foo-doc", "foo", "aarch64", "aarch64").unwrap();
        assert_eq!((s.func.as_str(), s.arch.as_str()), ("doc", "noarch"));
        let s = Subpackage::parse("foo-bash-completion", "foo", "aarch64", "aarch64").unwrap();
        assert_eq!((s.func.as_str(), s.arch.as_str()), ("bashcomp", "noarch"));
        let s = Subpackage::parse("libstdc++:libcxx:aarch64", "gcc", "aarch64", "aarch64").unwrap();
        assert_eq!((s.name.as_str(), s.func.as_str()), ("libstdc++", "libcxx"));
        let s = Subpackage::parse("foo-extras:extras", "foo", "noarch", "x86_64").unwrap();
        assert_eq!(s.arch, "noarch");
        assert!(Subpackage::parse("foo:f:mips", "foo", "x86_64", "x86_64").is_err());
    }

    #[test]
    fn option_scoping_and_order() {
        let r = Recipe {
            options: vec!["foo-dev::!strip".into(), "!check".into(), "check".into()],
            ..Default::default()
        };
        assert!(!r.option("foo", "check"));
        assert!(r.option("foo", "!check"));
        assert!(!r.option("foo-dev", "strip"));
    }

    #[test]
    fn dump_parsing() {
        let m = parse_dump(b"a=1\0b=x=y\0\0c=\0");
        assert_eq!(m.get("b").map(|s| s.as_str()), Some("x=y"));
        assert_eq!(m.get("c").map(|s| s.as_str()), Some(""));
    }
}
