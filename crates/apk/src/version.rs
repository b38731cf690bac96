//! Package versions by apk 3's rules (`apk:src/version.c`).
//!
//! ```text
//! version := digits ('.' digits)* [a-z]? ('_' suffix digits?)* ('~' hex+)? ('-r' digits)?
//! suffix  := alpha | beta | pre | rc | cvs | svn | git | hg | p
//! ```
//!
//! Comparison walks both strings token by token, exactly like apk: it is defined for invalid
//! strings too (apk compares what it can and ranks the invalid tail lowest), so the free
//! functions here take `&str`; [`Version`] is the validated owned form.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// A version string that failed [`validate`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid package version '{0}'")]
pub struct VersionError(pub String);

/// A validated apk version, e.g. `1.2.3_rc1-r0`.
///
/// Ordering is apk's. Two different strings that apk calls equal (`01` and `1`) are ordered by
/// their bytes, so that `Ord` stays consistent with `Eq` (which is string equality).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Version(String);

impl Version {
    /// Validates `s` by apk 3's grammar.
    pub fn parse(s: &str) -> Result<Self, VersionError> {
        if validate(s) {
            Ok(Version(s.to_string()))
        } else {
            Err(VersionError(s.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    /// Whether `self op other` holds (see [`matches`]).
    pub fn satisfies(&self, op: VersionOp, other: &str) -> bool {
        matches(&self.0, op, other)
    }
}

impl FromStr for Version {
    type Err = VersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Version::parse(s)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Version {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        compare(&self.0, &other.0).then_with(|| self.0.cmp(&other.0))
    }
}

/// A set of comparison results, as apk keeps it in a dependency's `op` byte: the bits say which
/// outcomes of `compare(candidate, wanted)` satisfy the constraint. `>=` is
/// `GREATER | EQUAL`, no constraint at all is [`VersionOp::ANY`], `~` is `FUZZY | EQUAL`, and
/// the `><` checksum pin is [`VersionOp::CHECKSUM`]. The conflict marker `!` is
/// [`VersionOp::CONFLICT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct VersionOp(u8);

impl VersionOp {
    pub const EQUAL: VersionOp = VersionOp(1);
    pub const LESS: VersionOp = VersionOp(2);
    pub const GREATER: VersionOp = VersionOp(4);
    pub const FUZZY: VersionOp = VersionOp(8);
    pub const CONFLICT: VersionOp = VersionOp(16);
    /// No version constraint.
    pub const ANY: VersionOp = VersionOp(1 | 2 | 4);
    /// `><`: the version field holds a package identity (`Q1…`), not a version.
    pub const CHECKSUM: VersionOp = VersionOp(2 | 4);

    pub const fn bits(self) -> u8 {
        self.0
    }

    pub const fn from_bits(bits: u8) -> VersionOp {
        VersionOp(bits & 31)
    }

    pub const fn contains(self, other: VersionOp) -> bool {
        self.0 & other.0 == other.0
    }

    pub const fn intersects(self, other: VersionOp) -> bool {
        self.0 & other.0 != 0
    }

    pub const fn union(self, other: VersionOp) -> VersionOp {
        VersionOp(self.0 | other.0)
    }

    pub const fn without(self, other: VersionOp) -> VersionOp {
        VersionOp(self.0 & !other.0)
    }

    /// Parses an operator made of `<`, `>`, `=` and `~` (`apk_version_result_mask_blob`). Any
    /// run of those characters is accepted, as apk does; `None` for an empty string or another
    /// character.
    pub fn parse(op: &str) -> Option<VersionOp> {
        let mut r = 0u8;
        for c in op.bytes() {
            r |= match c {
                b'<' => Self::LESS.0,
                b'>' => Self::GREATER.0,
                b'=' => Self::EQUAL.0,
                b'~' => Self::FUZZY.0 | Self::EQUAL.0,
                _ => return None,
            };
        }
        (r != 0).then_some(VersionOp(r))
    }

    /// The canonical spelling (`apk_version_op_string`), ignoring the conflict bit: `""` for
    /// [`VersionOp::ANY`], `"><"` for a checksum, `"?"` for a combination apk has no name for.
    pub fn as_str(self) -> &'static str {
        const E: u8 = VersionOp::EQUAL.0;
        const L: u8 = VersionOp::LESS.0;
        const G: u8 = VersionOp::GREATER.0;
        const F: u8 = VersionOp::FUZZY.0;
        match self.0 & !Self::CONFLICT.0 {
            x if x == L => "<",
            x if x == L | E => "<=",
            x if x == L | E | F => "<~",
            x if x == E | F || x == F => "~",
            x if x == E => "=",
            x if x == G | E => ">=",
            x if x == G | E | F => ">~",
            x if x == G => ">",
            x if x == L | G => "><",
            x if x == L | E | G => "",
            _ => "?",
        }
    }
}

impl std::ops::BitOr for VersionOp {
    type Output = VersionOp;
    fn bitor(self, rhs: VersionOp) -> VersionOp {
        self.union(rhs)
    }
}

impl fmt::Display for VersionOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Token {
    InitialDigit,
    Digit,
    Letter,
    Suffix,
    SuffixNo,
    CommitHash,
    RevisionNo,
    End,
    Invalid,
}

/// Suffix ranks; `NONE` sits between the pre-release and the post-release suffixes.
const SUFFIX_INVALID: u8 = 0;
const SUFFIX_NONE: u8 = 5;

fn suffix_value(s: &[u8]) -> u8 {
    match s {
        b"alpha" => 1,
        b"beta" => 2,
        b"pre" => 3,
        b"rc" => 4,
        b"cvs" => 6,
        b"svn" => 7,
        b"git" => 8,
        b"hg" => 9,
        b"p" => 10,
        _ => SUFFIX_INVALID,
    }
}

struct TokenState<'a> {
    token: Token,
    suffix: u8,
    number: u64,
    value: &'a [u8],
    rest: &'a [u8],
}

impl<'a> TokenState<'a> {
    fn first(s: &'a [u8]) -> Self {
        let mut t = TokenState {
            token: Token::InitialDigit,
            suffix: 0,
            number: 0,
            value: &[],
            rest: s,
        };
        t.parse_digits();
        t
    }

    fn parse_digits(&mut self) {
        let n = self.rest.iter().take_while(|c| c.is_ascii_digit()).count();
        let (digits, rest) = self.rest.split_at(n);
        // apk_blob_pull_uint wraps silently on overflow; so do we.
        self.number = digits.iter().fold(0u64, |acc, c| {
            acc.wrapping_mul(10).wrapping_add(u64::from(c - b'0'))
        });
        self.value = digits;
        self.rest = rest;
        if n == 0 {
            self.token = Token::Invalid;
        }
    }

    fn next(&mut self) {
        let Some(&c) = self.rest.first() else {
            self.token = Token::End;
            return;
        };
        match c {
            b'a'..=b'z' => {
                if self.token > Token::Digit {
                    return self.invalid();
                }
                self.value = &self.rest[..1];
                self.token = Token::Letter;
                self.rest = &self.rest[1..];
            }
            b'.' | b'0'..=b'9' => {
                if c == b'.' {
                    if self.token > Token::Digit {
                        return self.invalid();
                    }
                    self.rest = &self.rest[1..];
                }
                self.token = match self.token {
                    Token::InitialDigit | Token::Digit => Token::Digit,
                    Token::Suffix => Token::SuffixNo,
                    _ => return self.invalid(),
                };
                self.parse_digits();
            }
            b'_' => {
                if self.token > Token::SuffixNo {
                    return self.invalid();
                }
                let rest = &self.rest[1..];
                let n = rest.iter().take_while(|c| c.is_ascii_lowercase()).count();
                self.value = &rest[..n];
                self.rest = &rest[n..];
                self.suffix = suffix_value(self.value);
                if self.suffix == SUFFIX_INVALID {
                    return self.invalid();
                }
                self.token = Token::Suffix;
            }
            b'~' => {
                if self.token >= Token::CommitHash {
                    return self.invalid();
                }
                let rest = &self.rest[1..];
                let n = rest
                    .iter()
                    .take_while(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
                    .count();
                self.value = &rest[..n];
                self.rest = &rest[n..];
                if n == 0 {
                    return self.invalid();
                }
                self.token = Token::CommitHash;
            }
            b'-' => {
                if self.token >= Token::RevisionNo || !self.rest.starts_with(b"-r") {
                    return self.invalid();
                }
                self.rest = &self.rest[2..];
                self.token = Token::RevisionNo;
                self.parse_digits();
            }
            _ => self.invalid(),
        }
    }

    fn invalid(&mut self) {
        self.token = Token::Invalid;
    }
}

/// `memcmp` on the common prefix, then length (`apk_blob_sort`).
fn blob_sort(a: &[u8], b: &[u8]) -> Ordering {
    let n = a.len().min(b.len());
    a[..n].cmp(&b[..n]).then(a.len().cmp(&b.len()))
}

fn token_cmp(ta: &TokenState, tb: &TokenState) -> Ordering {
    match ta.token {
        // A non-initial number with a leading zero on either side compares as a string,
        // like Gentoo: 1.01 < 1.1, 1.010 > 1.01.
        Token::Digit if ta.value.first() == Some(&b'0') || tb.value.first() == Some(&b'0') => {
            blob_sort(ta.value, tb.value)
        }
        Token::Digit | Token::InitialDigit | Token::SuffixNo | Token::RevisionNo => {
            ta.number.cmp(&tb.number)
        }
        Token::Letter => ta.value[0].cmp(&tb.value[0]),
        Token::Suffix => ta.suffix.cmp(&tb.suffix),
        _ => blob_sort(ta.value, tb.value),
    }
}

/// Whether `v` is a valid version (`apk_version_validate`).
pub fn validate(v: &str) -> bool {
    let mut t = TokenState::first(v.as_bytes());
    while t.token < Token::End {
        t.next();
    }
    t.token == Token::End
}

fn compare_fuzzy(a: &str, b: &str, fuzzy: bool) -> Ordering {
    let mut ta = TokenState::first(a.as_bytes());
    let mut tb = TokenState::first(b.as_bytes());
    while ta.token == tb.token && ta.token < Token::End {
        let r = token_cmp(&ta, &tb);
        if r != Ordering::Equal {
            return r;
        }
        ta.next();
        tb.next();
    }
    if ta.token == tb.token || (tb.token == Token::End && fuzzy) {
        return Ordering::Equal;
    }
    // Equal so far: the longer one is greater, unless it goes on with a pre-release suffix.
    if ta.token == Token::Suffix && ta.suffix < SUFFIX_NONE {
        return Ordering::Less;
    }
    if tb.token == Token::Suffix && tb.suffix < SUFFIX_NONE {
        return Ordering::Greater;
    }
    tb.token.cmp(&ta.token)
}

/// Compares two version strings by apk's rules (`apk_version_compare`). Defined for invalid
/// strings too, as in apk.
pub fn compare(a: &str, b: &str) -> Ordering {
    compare_fuzzy(a, b, false)
}

fn ordering_bit(o: Ordering) -> VersionOp {
    match o {
        Ordering::Less => VersionOp::LESS,
        Ordering::Equal => VersionOp::EQUAL,
        Ordering::Greater => VersionOp::GREATER,
    }
}

/// Whether `a op b` holds (`apk_version_match`): e.g. `matches("1.2", ">=", "1.0")`. With
/// [`VersionOp::FUZZY`] set, `b` only has to be a token prefix of `a` for equality
/// (`3.6.9 ~ 3.6`). The [`VersionOp::CONFLICT`] bit inverts the result.
pub fn matches(a: &str, op: VersionOp, b: &str) -> bool {
    let ok = op.contains(VersionOp::ANY)
        || op.intersects(ordering_bit(compare_fuzzy(
            a,
            b,
            op.contains(VersionOp::FUZZY),
        )));
    ok != op.contains(VersionOp::CONFLICT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_table() {
        let lt = [
            ("1.2.3_rc1-r0", "1.2.3-r0"),
            ("1.0_git20240101", "1.0.1"),
            ("1.0a", "1.0.1"),
            ("1.0_hg", "1.0_p"),
            ("1.0_rc", "1.0_rc0"),
            ("0.1_p1_pre2", "0.1_p1"),
            ("2", "10"),
            ("1.01", "1.1"),
            ("8.2.0", "8.2.001"),
        ];
        for (a, b) in lt {
            assert_eq!(compare(a, b), Ordering::Less, "{a} < {b}");
            assert_eq!(compare(b, a), Ordering::Greater, "{b} > {a}");
        }
        let gt = [
            ("1.0_git20240101", "1.0"),
            ("1.0a", "1.0"),
            ("1.0-r0", "1.0"),
            ("1.0_p1", "1.0-r5"),
            ("1.0.0", "1.0"),
            ("1.0~abc", "1.0"),
        ];
        for (a, b) in gt {
            assert_eq!(compare(a, b), Ordering::Greater, "{a} > {b}");
        }
    }

    #[test]
    fn grammar() {
        for v in [
            "1.2",
            "0.1_pre2",
            "0.1_pre2~1234abcd",
            "0.1_p1_pre2",
            "0.1_git20240101_pre1",
        ] {
            assert!(validate(v), "{v}");
            assert!(Version::parse(v).is_ok());
        }
        for v in [
            "0.1bc",
            "0.1a1",
            "0.1a.1",
            "0.1_foobar",
            "0.1-r",
            "0.1-r2_pre1",
            "0.1-r2-r3",
            ".1",
            "a",
            "0.1_",
            "0.1__alpha",
            "0.1_1_alpha",
            "v1.0",
            "1..0",
            "1_2",
            "",
        ] {
            assert!(!validate(v), "{v}");
        }
    }

    #[test]
    fn ops() {
        assert_eq!(
            VersionOp::parse(">="),
            Some(VersionOp::GREATER | VersionOp::EQUAL)
        );
        assert_eq!(VersionOp::parse("~").unwrap().as_str(), "~");
        assert_eq!(VersionOp::parse("=>").unwrap().as_str(), ">=");
        assert_eq!(VersionOp::parse(""), None);
        assert_eq!(VersionOp::parse("=!"), None);
        assert!(matches("3.6.9", VersionOp::parse("~").unwrap(), "3.6"));
        assert!(!matches("3.8", VersionOp::parse("~").unwrap(), "3.8.1"));
        assert!(matches("1", VersionOp::ANY, "whatever"));
        assert!(!matches("1", VersionOp::ANY | VersionOp::CONFLICT, "1"));
    }

    #[test]
    fn ord_is_total() {
        let a = Version::parse("01").unwrap();
        let b = Version::parse("1").unwrap();
        assert_eq!(compare("01", "1"), Ordering::Equal);
        assert_ne!(a.cmp(&b), Ordering::Equal);
    }
}
