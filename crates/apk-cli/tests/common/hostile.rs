//! What the hostile suites (`hostile.rs` for v2, `hostile_v3.rs` for v3) share: the key
//! pairs, the canary outside every root, the check that a refused `apk add` left the root
//! and the canary as they were, and the second run as `nobody`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use alpinist_apk::package::Signer;

use super::{apk_bin, keys, snapshot, Snapshot};

/// The trusted key pair and an untrusted one, made once.
pub fn signers() -> &'static (Signer, Signer, String) {
    static S: OnceLock<(Signer, Signer, String)> = OnceLock::new();
    S.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let (trusted, keys_dir) = keys(dir.path(), "trusted", 0x6100_0000);
        let (other, _) = keys(dir.path(), "other", 0x6200_0000);
        let pem = std::fs::read_to_string(keys_dir.join(&trusted.key_name)).unwrap();
        (trusted, other, pem)
    })
}

pub fn trusted() -> &'static Signer {
    &signers().0
}

/// A directory holding the canary (outside every root) and the trusted key; the cases'
/// roots and repositories are made in it, so that every case names the same canary.
pub struct Base {
    _tmp: tempfile::TempDir,
    pub dir: PathBuf,
    pub canary: PathBuf,
    pub keys: PathBuf,
}

impl Base {
    pub fn new() -> Base {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let canary = dir.join("canary");
        std::fs::create_dir_all(canary.join("sub")).unwrap();
        std::fs::write(canary.join("file"), b"canary\n").unwrap();
        let keys = dir.join("keys");
        std::fs::create_dir_all(&keys).unwrap();
        let (trusted, _, pem) = signers();
        std::fs::write(keys.join(&trusted.key_name), pem).unwrap();
        Base {
            _tmp: tmp,
            dir,
            canary,
            keys,
        }
    }

    /// The canary as a path from inside a root: absolute (a host path), or relative from
    /// `depth` directories down, climbing out.
    pub fn canary_abs(&self, sub: &str) -> String {
        self.canary.join(sub).display().to_string()
    }

    pub fn canary_rel(&self, depth: usize, sub: &str) -> String {
        let up = "../".repeat(depth + self.dir.components().count() + 2);
        format!("{up}{}", self.canary_abs(sub).trim_start_matches('/'))
    }

    /// With `HOSTILE_KEEP=DIR`, copies every case's roots and repositories to DIR, for
    /// trying them with apk-tools by hand.
    pub fn keep(&self) {
        if let Some(keep) = std::env::var_os("HOSTILE_KEEP") {
            let _ = std::fs::remove_dir_all(&keep);
            let status = Command::new("cp")
                .arg("-a")
                .arg(&self.dir)
                .arg(&keep)
                .status();
            assert!(
                status.is_ok_and(|s| s.success()),
                "copying the cases to {keep:?}"
            );
        }
    }
}

pub fn diff(a: &Snapshot, b: &Snapshot) -> String {
    let mut d: Vec<String> = Vec::new();
    for (k, v) in a {
        match b.get(k) {
            None => d.push(format!("-{k}")),
            Some(w) if w != v => d.push(format!("~{k}")),
            _ => {}
        }
    }
    d.extend(
        b.keys()
            .filter(|k| !a.contains_key(*k))
            .map(|k| format!("+{k}")),
    );
    d.join(" ")
}

/// Runs `apk --root ROOT ARGS…`, which must fail with one `ERROR:` line holding every
/// part of `expect`, and leave `root` and `canary` exactly as they were. Returns what
/// went wrong, if anything did.
pub fn refused_cleanly(
    name: &str,
    root: &Path,
    canary: &Path,
    args: &[&str],
    expect: &[String],
) -> Result<(), String> {
    let (root_before, canary_before) = (snapshot(root), snapshot(canary));
    let mut full = vec!["--root", root.to_str().unwrap()];
    full.extend_from_slice(args);
    let (ok, out, err) = super::apk(&full);
    if std::env::var_os("HOSTILE_SHOW").is_some() {
        eprint!("{name:<50} {err}");
    }
    let mut problems = Vec::new();
    if ok {
        problems.push("apk add succeeded".to_string());
    }
    let lines: Vec<&str> = err.lines().collect();
    if lines.len() != 1
        || !lines[0].starts_with("ERROR: ")
        || expect.iter().any(|p| !err.contains(p.as_str()))
    {
        problems.push(format!("stderr is not one line with {expect:?}"));
    }
    if snapshot(root) != root_before {
        problems.push(format!(
            "the root changed: {}",
            diff(&root_before, &snapshot(root))
        ));
    }
    if snapshot(canary) != canary_before {
        problems.push("the canary outside the root changed".into());
    }
    match problems.is_empty() {
        true => Ok(()),
        false => Err(format!(
            "{}\n  stdout: {out}\n  stderr: {err}",
            problems.join("; ")
        )),
    }
}

/// As root: runs `tests` of this suite again as `nobody`, from copies of the binaries
/// anyone can run, with the component walk instead of `openat2`; every one must pass.
/// Not as root (the suite itself ran unprivileged), and in that second run, it does not.
pub fn run_as_nobody(suite: &str, tests: &[&str]) {
    if std::env::var_os("ALPINIST_HOSTILE_CHILD").is_some() {
        return;
    }
    if !alpinist_apk::install::running_as_root() {
        eprintln!("not root: the suite already ran unprivileged");
        return;
    }
    let bin = tempfile::tempdir().unwrap();
    std::fs::set_permissions(bin.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let copy = |from: &Path, name: &str| {
        let to = bin.path().join(name);
        std::fs::copy(from, &to).unwrap();
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o755)).unwrap();
        to
    };
    let suite = copy(&std::env::current_exe().unwrap(), suite);
    let apk = copy(&apk_bin(), "apk");
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(&suite)
        .arg("--test-threads=2")
        .args(tests)
        .current_dir("/")
        .env("ALPINIST_APK_BIN", &apk)
        .env("ALPINIST_HOSTILE_CHILD", "1")
        .env("ALPINIST_NO_OPENAT2", "1")
        .env("TMPDIR", "/tmp")
        .env_remove("HOSTILE_KEEP")
        .output()
        .expect("setpriv (util-linux)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "as nobody:\n{text}");
    let passed = format!("test result: ok. {} passed", tests.len());
    assert!(text.contains(&passed), "{text}");
}
