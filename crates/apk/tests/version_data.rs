//! Runs apk-tools' `test/unit/version.data` against our version rules. Each line is one of
//! `ver` (must be valid), `!ver` (must be invalid), `a OP b` (must hold) or `a !OP b` (must
//! not hold); `#` starts a comment.

use alpinist_apk::version::{self, VersionOp};

const DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/testdata/apk-tools/version.data"
);

/// Mirrors `version_test_one` in apk-tools' `test/unit/version_test.c`.
fn check_line(line: &str) -> bool {
    let line = line.split('#').next().unwrap_or("").trim();
    if line.is_empty() {
        return true;
    }
    let (ok, invert) = match line.split_once(' ').and_then(|(a, rest)| {
        let (op, b) = rest.split_once(' ')?;
        Some((a, op, b))
    }) {
        Some((a, op, b)) => {
            let (op, invert) = match op.strip_prefix('!') {
                Some(op) => (op, true),
                None => (op, false),
            };
            // An unknown operator is an empty mask, which matches nothing.
            let mask = VersionOp::parse(op).unwrap_or_default();
            (version::matches(a, mask, b), invert)
        }
        None => match line.strip_prefix('!') {
            Some(v) => (version::validate(v), true),
            None => (version::validate(line), false),
        },
    };
    ok != invert
}

#[test]
fn apk_tools_version_data() {
    let text = std::fs::read_to_string(DATA).unwrap_or_else(|e| panic!("{DATA}: {e}"));
    let mut checked = 0;
    let mut failed = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.split('#').next().unwrap_or("").trim().is_empty() {
            continue;
        }
        checked += 1;
        if !check_line(line) {
            failed.push(format!("line {}: {line}", n + 1));
        }
    }
    println!(
        "version.data: {} of {checked} lines pass",
        checked - failed.len()
    );
    assert!(checked > 700, "only {checked} lines read from {DATA}");
    assert!(
        failed.is_empty(),
        "{} of {checked} lines fail:\n{}",
        failed.len(),
        failed.join("\n")
    );
}
