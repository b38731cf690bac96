//! Dependency expressions (`apk_dep_parse`, `apk_blob_pull_dep` in apk-tools):
//!
//! ```text
//! dep := ['!'] name ['@' tag] [op version]
//! op  := a run of < > = ~   (= < > <= >= ~ >~ <~, and >< for a checksum pin)
//! ```
//!
//! The same type serves for `depend`, `provides` (`so:libfoo.so.1=1.2`, or an unversioned
//! virtual `mail-reader`), `install_if`, `replaces` and the world file. Lists are separated by
//! spaces or newlines.

use std::fmt;
use std::str::FromStr;

use crate::version::{self, VersionOp};

/// Why a dependency string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DepError {
    #[error("'{0}': dependency format is invalid")]
    Format(String),
    #[error("'{0}': a repository tag is not allowed here")]
    TagNotAllowed(String),
    #[error("'{0}': package version is invalid")]
    Version(String),
}

/// One dependency expression.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Dependency {
    /// Package or provided name: `foo`, `so:libc.musl-x86_64.so.1`, `cmd:sh`, `/bin/sh`.
    pub name: String,
    /// Repository tag without the `@` (world and command line only).
    pub tag: Option<String>,
    /// `!name`: the named package must not be installed.
    pub conflict: bool,
    /// Which comparison results are allowed; [`VersionOp::ANY`] when `version` is `None`.
    /// Never contains [`VersionOp::CONFLICT`]; that is `conflict`.
    pub op: VersionOp,
    /// The version to compare with (or a `Q1…` identity for [`VersionOp::CHECKSUM`]).
    pub version: Option<String>,
}

impl Dependency {
    /// `name` with no constraint.
    pub fn new(name: impl Into<String>) -> Self {
        Dependency {
            name: name.into(),
            tag: None,
            conflict: false,
            op: VersionOp::ANY,
            version: None,
        }
    }

    /// `name` `op` `version`, e.g. `Dependency::versioned("so:libz.so.1", VersionOp::EQUAL, "1.3")`.
    pub fn versioned(name: impl Into<String>, op: VersionOp, version: impl Into<String>) -> Self {
        Dependency {
            name: name.into(),
            tag: None,
            conflict: false,
            op: op.without(VersionOp::CONFLICT),
            version: Some(version.into()),
        }
    }

    /// `!name`.
    pub fn conflicting(name: impl Into<String>) -> Self {
        Dependency {
            conflict: true,
            ..Dependency::new(name)
        }
    }

    /// Parses one expression as the command line and the world file allow it: a tag is
    /// accepted and the version must be valid.
    pub fn parse(s: &str) -> Result<Self, DepError> {
        let dep = parse_one(s, true)?;
        if !dep.is_version_valid() {
            return Err(DepError::Version(s.to_string()));
        }
        Ok(dep)
    }

    /// Parses one expression as package metadata allows it (no tag). An invalid version is
    /// kept: apk keeps such a dependency and marks the package uninstallable; see
    /// [`Dependency::is_version_valid`].
    pub fn parse_metadata(s: &str) -> Result<Self, DepError> {
        parse_one(s, false)
    }

    /// Whether the version part is acceptable (always true without a version and for a
    /// checksum pin). A dependency read from an index with an invalid version is "broken".
    pub fn is_version_valid(&self) -> bool {
        match &self.version {
            None => true,
            Some(_) if self.op == VersionOp::CHECKSUM => true,
            Some(v) => version::validate(v),
        }
    }

    /// The op as apk stores it, with the conflict bit.
    pub fn op_with_conflict(&self) -> VersionOp {
        if self.conflict {
            self.op | VersionOp::CONFLICT
        } else {
            self.op
        }
    }

    /// Whether a package or provider at `version` satisfies the version part of this
    /// dependency (the name is not checked; a conflict inverts the result).
    pub fn matches_version(&self, version: &str) -> bool {
        match &self.version {
            None => !self.conflict,
            Some(want) => version::matches(version, self.op_with_conflict(), want),
        }
    }
}

impl FromStr for Dependency {
    type Err = DepError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Dependency::parse(s)
    }
}

impl fmt::Display for Dependency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.conflict {
            f.write_str("!")?;
        }
        f.write_str(&self.name)?;
        if let Some(tag) = &self.tag {
            write!(f, "@{tag}")?;
        }
        if let Some(v) = &self.version {
            write!(f, "{}{v}", self.op.as_str())?;
        }
        Ok(())
    }
}

fn is_comparer(c: char) -> bool {
    matches!(c, '<' | '>' | '=' | '~')
}

fn is_separator(c: char) -> bool {
    c == ' ' || c == '\n'
}

fn parse_one(s: &str, allow_tag: bool) -> Result<Dependency, DepError> {
    let format = || DepError::Format(s.to_string());
    if s.is_empty() || s.contains(is_separator) {
        return Err(format());
    }
    let (conflict, spec) = match s.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (name, op, version) = match spec.find(is_comparer) {
        Some(at) => {
            let (name, rest) = spec.split_at(at);
            let op_len = rest.find(|c| !is_comparer(c)).ok_or_else(format)?;
            let (op, version) = rest.split_at(op_len);
            let op = VersionOp::parse(op).ok_or_else(format)?;
            (name, op, Some(version.to_string()))
        }
        None => (spec, VersionOp::ANY, None),
    };
    let (name, tag) = match name.split_once('@') {
        Some((name, tag)) => {
            if !allow_tag {
                return Err(DepError::TagNotAllowed(s.to_string()));
            }
            if tag.is_empty() {
                return Err(format());
            }
            (name, Some(tag.to_string()))
        }
        None => (name, None),
    };
    if name.is_empty() {
        return Err(format());
    }
    Ok(Dependency {
        name: name.to_string(),
        tag,
        conflict,
        op,
        version,
    })
}

/// Splits a space- or newline-separated list into its words.
fn words(s: &str) -> impl Iterator<Item = &str> {
    s.split(is_separator).filter(|w| !w.is_empty())
}

/// Parses a world-style list (tags allowed, versions must be valid).
pub fn parse_list(s: &str) -> Result<Vec<Dependency>, DepError> {
    words(s).map(Dependency::parse).collect()
}

/// Parses a metadata list (`D:`, `p:`, `i:`, `r:` lines) the way apk does: a word that is not
/// a dependency stops the parse and drops the rest; a dependency with an invalid version is
/// kept. The flag says whether the whole list was clean.
pub fn parse_list_lenient(s: &str) -> (Vec<Dependency>, bool) {
    let mut deps = Vec::new();
    let mut clean = true;
    for w in words(s) {
        match Dependency::parse_metadata(w) {
            Ok(d) => {
                clean &= d.is_version_valid();
                deps.push(d);
            }
            Err(_) => return (deps, false),
        }
    }
    (deps, clean)
}

/// Joins dependencies with single spaces, as apk writes `D:`, `p:`, `i:` and `r:` lines.
pub fn format_list(deps: &[Dependency]) -> String {
    let mut out = String::new();
    for (i, d) in deps.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&d.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for s in [
            "name",
            "name>=1.2",
            "name<1.2",
            "name<=1.2",
            "name>1.2",
            "name=1.2-r0",
            "name~1.2",
            "name>~1.2",
            "name<~1.2",
            "!name",
            "!name>1",
            "so:libfoo.so.1=1.2",
            "cmd:sh",
            "pc:zlib>=1.2.13",
            "/bin/sh",
            "py3.12:foo=1.0.0-r0",
            "name@testing",
            "name@testing>=2",
            "name><Q1La4irZmiPmPAKLBbjVfWy4zCpAU=",
        ] {
            let d = Dependency::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(d.to_string(), s);
        }
    }

    #[test]
    fn canonical_spelling() {
        assert_eq!(Dependency::parse("a=>1").unwrap().to_string(), "a>=1");
        assert_eq!(Dependency::parse("a=~1").unwrap().to_string(), "a~1");
    }

    #[test]
    fn fields() {
        let d = Dependency::parse("!so:libfoo.so.1@edge>=1.2").unwrap();
        assert!(d.conflict);
        assert_eq!(d.name, "so:libfoo.so.1");
        assert_eq!(d.tag.as_deref(), Some("edge"));
        assert_eq!(d.op, VersionOp::GREATER | VersionOp::EQUAL);
        assert_eq!(d.version.as_deref(), Some("1.2"));
        assert_eq!(d, {
            let mut e = Dependency::versioned("so:libfoo.so.1", d.op, "1.2");
            e.tag = Some("edge".into());
            e.conflict = true;
            e
        });
    }

    #[test]
    fn errors() {
        for s in ["foo=", "foo==", "", "!", "=1", "a b", "foo@"] {
            assert!(Dependency::parse(s).is_err(), "{s}");
        }
        assert!(matches!(
            Dependency::parse("foo=invalid"),
            Err(DepError::Version(_))
        ));
        assert!(matches!(
            Dependency::parse_metadata("foo@tag"),
            Err(DepError::TagNotAllowed(_))
        ));
        let d = Dependency::parse_metadata("foo=1.0bc").unwrap();
        assert!(!d.is_version_valid());
    }

    #[test]
    fn lists() {
        let (deps, clean) = parse_list_lenient("a b>=1\nc=1.0bc  d");
        assert_eq!(deps.len(), 4);
        assert!(!clean);
        let (deps, clean) = parse_list_lenient("a x@tag b");
        assert_eq!(deps.len(), 1);
        assert!(!clean);
        let deps = parse_list("a b@t !c").unwrap();
        assert_eq!(format_list(&deps), "a b@t !c");
        assert!(Dependency::new("x").matches_version("1"));
        assert!(!Dependency::conflicting("x").matches_version("1"));
        assert!(Dependency::parse("x>=2").unwrap().matches_version("2.1"));
    }
}
