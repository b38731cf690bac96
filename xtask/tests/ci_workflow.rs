//! The CI workflow users copy (.github/workflows/bootstrap.yml) passes a workflow linter:
//! check-jsonschema with SchemaStore's GitHub workflow schema (`cargo xtask test`
//! installs it and names it in ALPINIST_WORKFLOW_LINTER), which also rejects a broken one.

mod common;

use std::path::PathBuf;
use std::process::Command;

fn linter() -> Option<PathBuf> {
    std::env::var_os("ALPINIST_WORKFLOW_LINTER").map(PathBuf::from)
}

fn lint(linter: &PathBuf, file: &std::path::Path) -> (bool, String) {
    let out = Command::new(linter)
        .args(["--builtin-schema", "vendor.github-workflows"])
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", linter.display()));
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn the_workflow_passes_the_linter_and_a_broken_one_does_not() {
    let Some(linter) = linter() else {
        eprintln!("ALPINIST_WORKFLOW_LINTER not set (cargo xtask test sets it): not linted");
        return;
    };
    let dir = common::repo().join(".github/workflows");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let (ok, text) = lint(&linter, &e.path());
        assert!(ok, "{}: {text}", e.path().display());
        n += 1;
    }
    assert!(n >= 1, "no workflow in {}", dir.display());
    let text = std::fs::read_to_string(dir.join("bootstrap.yml")).unwrap();
    // The matrix, the cache keyed by the toolchain's inputs, verify-repro and the uploads.
    for needle in [
        "matrix:",
        "actions/cache/restore@",
        "hashFiles(",
        "verify-repro",
        "actions/upload-artifact@",
        "report.json",
    ] {
        assert!(text.contains(needle), "bootstrap.yml lacks {needle}");
    }
    let tmp = tempfile::tempdir().unwrap();
    let broken = tmp.path().join("broken.yml");
    std::fs::write(
        &broken,
        "name: x\non: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps: not-a-list\n",
    )
    .unwrap();
    let (ok, text) = lint(&linter, &broken);
    assert!(!ok, "the linter accepted a broken workflow: {text}");
}
