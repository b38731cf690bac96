//! No source is a file someone once made by hand.

use std::path::PathBuf;

use crate::repo;

/// Every data file of the checkout with `[[substitute]]` entries: alpinist's own
/// (toolchains/sources.toml) and the fixtures'.
fn substitute_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![repo()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if p.is_dir() {
                if !["target", "build", ".git"].contains(&name.as_str()) {
                    stack.push(p);
                }
            } else if name.ends_with(".toml")
                && std::fs::read_to_string(&p)
                    .unwrap()
                    .contains("[[substitute]]")
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// No source is a file someone once made by hand: every documented substitute names an
/// origin alpinist obtains it from by itself (URLs, Debian, git trees, a file at a git
/// commit, a file of the checkout), checked when the file is loaded.
#[test]
fn every_substitute_has_an_origin_alpinist_runs() {
    let files = substitute_files();
    assert!(
        files.iter().any(|f| f.ends_with("toolchains/sources.toml")),
        "{files:?}"
    );
    for f in &files {
        if let Err(e) = xtask::sources::substitute::AportSources::load(std::slice::from_ref(f)) {
            panic!("{}: {e:#}", f.display());
        }
    }
    // The rule itself: an entry with only a description of how it was made is refused.
    let d = tempfile::tempdir().unwrap();
    let bad = d.path().join("sources.toml");
    std::fs::write(
        &bad,
        r#"
[[substitute]]
for = "x-1.tar.gz"
for_sha512 = "00"
file = "x-1.git-tag.tar.gz"
sha512 = "00"
why = "made by hand"
"#,
    )
    .unwrap();
    let err =
        xtask::sources::substitute::AportSources::load(std::slice::from_ref(&bad)).unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("the substitute for x-1.tar.gz")
            && msg.contains("names no origin alpinist can obtain it from"),
        "{msg}"
    );
    // `made_by` prose is no origin at all: the field is gone.
    std::fs::write(
        &bad,
        r#"
[[substitute]]
for = "x-1.tar.gz"
for_sha512 = "00"
file = "x-1.git-tag.tar.gz"
sha512 = "00"
why = "made by hand"
made_by = "git archive … by hand"
"#,
    )
    .unwrap();
    let err = xtask::sources::substitute::AportSources::load(&[bad]).unwrap_err();
    assert!(format!("{err:#}").contains("made_by"), "{err:#}");
}
