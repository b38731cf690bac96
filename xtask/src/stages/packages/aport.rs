//! An aport, found and evaluated for one arch: its (patched) directory, the recipe's
//! metadata from a real shell, and the files and commit that go into its key.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use alpinist_apkbuild::recipe::Recipe;
use anyhow::{bail, Context as _, Result};

use crate::config::arch::Arch;
use crate::context::Context;
use crate::exec::Cmd;
use crate::fsutil::{sha256_file, sha256_hex};
use crate::sources::patches;
use crate::stages::packages::env::recipe_env;
use crate::stages::packages::BuildSettings;

/// An aport, evaluated for one arch.
#[derive(Debug, Clone)]
pub struct Aport {
    pub dir: PathBuf,
    pub recipe: Recipe,
    /// Files of the aport directory (relative name, sha256), for the key.
    pub files: Vec<(String, String)>,
    /// `repo` as abuild names it: the aport directory's parent's name (`main`).
    pub repo: String,
    pub source_date_epoch: u64,
    pub commit: String,
    /// Files of alpinist's own checkout the recipe builds (`_alpinist_tree`): relative
    /// path and sha256.
    pub tree: Vec<(String, String)>,
    /// The arch it was evaluated for.
    pub arch: String,
    /// What alpinist changed about the recipe, for the report: an older revision of the
    /// aport (stages/aports.toml), the aports patches applied.
    pub overrides: Vec<String>,
}

impl Aport {
    /// The aport's directory name (`gcc` for `main/gcc`), as sets and settings name it.
    pub fn name(&self) -> String {
        self.dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}
/// Writes abuild.sh where the sandbox can read it; returns its path.
pub(crate) fn abuild_sh(cx: &Context) -> Result<PathBuf> {
    let dir = cx.layout.build.join("lib");
    std::fs::create_dir_all(&dir)?;
    let p = dir.join(format!(
        "abuild-{}.sh",
        &sha256_hex(alpinist_apkbuild::ABUILD_SH.as_bytes())[..12]
    ));
    if !p.exists() {
        std::fs::write(&p, alpinist_apkbuild::ABUILD_SH)?;
    }
    Ok(p)
}

/// Evaluates an aport's APKBUILD for `arch` with a real shell.
pub fn evaluate(cx: &Context, arch: &Arch, dir: &Path, settings: &BuildSettings) -> Result<Aport> {
    let orig = std::fs::canonicalize(dir)
        .with_context(|| format!("{}: no such aport directory", dir.display()))?;
    if !orig.join("APKBUILD").is_file() {
        bail!("{}: no APKBUILD in this directory", orig.display());
    }
    let repo = orig
        .parent()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "main".into());
    let name = orig
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut overrides = Vec::new();
    let (base, (source_date_epoch, commit)) = match settings.aport_revision.get(&name) {
        Some(rev) => {
            let at = at_revision(cx, &orig, &repo, rev)?;
            overrides.push(format!(
                "recipe of aports commit {} (stages/aports.toml)",
                &at.1 .1[..12.min(at.1 .1.len())]
            ));
            at
        }
        None => (orig.clone(), git_time(&orig, &orig.join("APKBUILD"))?),
    };
    let dir = patched_copy(cx, &base, &repo)?;
    if dir != base {
        for p in aport_patches(cx, &repo, &name)? {
            if let Some(f) = p.file_name() {
                overrides.push(format!("patched: {}", f.to_string_lossy()));
            }
        }
    }
    let settings = &settings.for_aport(&name);
    let apkbuild = dir.join("APKBUILD");
    let text = std::fs::read_to_string(&apkbuild)
        .with_context(|| format!("reading {}", apkbuild.display()))?;
    let sh = abuild_sh(cx)?;
    let tmp = cx.layout.build.join("tmp").join("eval");
    std::fs::create_dir_all(&tmp)?;
    let env = recipe_env(
        &cx.arches,
        arch,
        Path::new("/nonexistent"),
        Path::new("/nonexistent"),
        settings,
        1,
    );
    let out = Cmd::new("bash")
        .arg(&sh)
        .arg("meta")
        .arg(&apkbuild)
        .env_clear()
        .envs(env)
        .envs([
            ("srcdir", tmp.join("src").display().to_string()),
            ("pkgbasedir", tmp.join("pkg").display().to_string()),
            ("tmpdir", tmp.join("tmp").display().to_string()),
            ("HOME", tmp.display().to_string()),
        ])
        .output()
        .context("running bash")?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        bail!(
            "{}: the shell could not evaluate it:\n{}",
            apkbuild.display(),
            err.trim_end()
        );
    }
    let recipe = Recipe::from_dump(&apkbuild, &out.stdout, &arch.name, &text)?;
    let mut files = Vec::new();
    hash_files_under(&dir, &dir, &[], &mut files)?;
    files.sort();
    // Read from the text, not the evaluated recipe: a literal one-line assignment.
    let tree_paths: Vec<String> = text
        .lines()
        .find_map(|l| l.strip_prefix("_alpinist_tree="))
        .map(|v| {
            v.trim_matches('"')
                .split_whitespace()
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    let tree = alpinist_tree(&apkbuild, &tree_paths)?;
    Ok(Aport {
        dir,
        recipe,
        files,
        repo,
        source_date_epoch,
        commit,
        tree,
        arch: arch.name.clone(),
        overrides,
    })
}

/// The alpinist checkout this xtask was built from.
pub fn alpinist_checkout() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the checkout")
        .to_path_buf()
}

/// Every regular file under `start` (a file or a directory; directories named in `skip`
/// left out) as (path relative to `base`, sha256), appended to `out`.
fn hash_files_under(
    start: &Path,
    base: &Path,
    skip: &[&str],
    out: &mut Vec<(String, String)>,
) -> Result<()> {
    let mut stack = vec![start.to_path_buf()];
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            for e in std::fs::read_dir(&p)?.flatten() {
                if !skip.iter().any(|s| e.file_name() == **s) {
                    stack.push(e.path());
                }
            }
        } else if p.is_file() {
            let rel = p
                .strip_prefix(base)
                .expect("under base")
                .display()
                .to_string();
            out.push((rel, sha256_file(&p)?));
        }
    }
    Ok(())
}

/// `_alpinist_tree="PATH…"` (an alpinist extension, for recipes that build alpinist's own
/// code, such as the fixture root's `apk`; a literal one-line assignment in the APKBUILD):
/// the files under those paths of the checkout,
/// build outputs aside, each with its sha256. They are part of the step key and copied
/// into the build as `$ALPINIST_TREE`.
fn alpinist_tree(apkbuild: &Path, paths: &[String]) -> Result<Vec<(String, String)>> {
    let root = alpinist_checkout();
    let mut out = Vec::new();
    for p in paths {
        let start = root.join(p);
        if !start.exists() || p.contains("..") {
            bail!(
                "{}: _alpinist_tree names {p}, which is not in alpinist's checkout {}",
                apkbuild.display(),
                root.display()
            );
        }
        hash_files_under(&start, &root, &["target", "build", ".git"], &mut out)?;
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// `patches/aports/<repo>/<name>/*.patch`, applied (in name order, `patch -p1` from the
/// aport directory) to a copy of the aport in `build/aports/<repo>/<name>/`. The user's
/// checkout is never edited. Without patches the original directory is used as it is.
fn patched_copy(cx: &Context, orig: &Path, repo: &str) -> Result<PathBuf> {
    let name = orig
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let patches = aport_patches(cx, repo, &name)?;
    if patches.is_empty() {
        return Ok(orig.to_path_buf());
    }
    let copy = cx.layout.build.join("aports").join(repo).join(&name);
    if copy.exists() {
        crate::fsutil::remove_dir_all_writable(&copy)?;
    }
    std::fs::create_dir_all(&copy)?;
    let out = Cmd::new("cp")
        .arg("-a")
        .arg(format!("{}/.", orig.display()))
        .arg(&copy)
        .output_combined()?;
    if !out.status.success() {
        bail!(
            "copying {} to {}: {}",
            orig.display(),
            copy.display(),
            String::from_utf8_lossy(&out.stdout).trim_end()
        );
    }
    for p in &patches {
        patches::apply(p, &copy).with_context(|| format!("patching {}", orig.display()))?;
    }
    Ok(copy)
}

/// What `git ARGS` in `dir` printed, or an error naming the directory, the command and
/// git's message. Only queries: git must never refresh (write) the checkout's index.
fn git_output(dir: &Path, args: &[&str]) -> Result<Vec<u8>> {
    let o = Cmd::new("git")
        .args(args)
        .env("GIT_OPTIONAL_LOCKS", "0")
        .dir(dir)
        .output()
        .context("running git")?;
    if !o.status.success() {
        bail!(
            "{}: git {}: {}",
            dir.display(),
            args.join(" "),
            String::from_utf8_lossy(&o.stderr).trim()
        );
    }
    Ok(o.stdout)
}

/// [`git_output`] as trimmed text.
fn git_text(dir: &Path, args: &[&str]) -> Result<String> {
    Ok(String::from_utf8_lossy(&git_output(dir, args)?)
        .trim()
        .to_string())
}

/// The aport directory as it was at commit `rev` of its checkout, in
/// `build/aports-at/<rev>/<repo>/<name>/`, with that commit's time and id (abuild's
/// `set_source_date` for a clean tree at that commit).
fn at_revision(
    cx: &Context,
    orig: &Path,
    repo: &str,
    rev: &str,
) -> Result<(PathBuf, (u64, String))> {
    let git = |args: &[&str]| git_text(orig, args);
    let name = orig
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let prefix = git(&["rev-parse", "--show-prefix"])?;
    let commit = git(&["rev-parse", &format!("{rev}^{{commit}}")]).with_context(|| {
        format!("stages/aports.toml: aport {name}: revision {rev} is not in the checkout")
    })?;
    let time: u64 = git(&["log", "-1", "--format=%ct", &commit, "--", "."])?
        .parse()
        .unwrap_or(0);
    let copy = cx
        .layout
        .build
        .join("aports-at")
        .join(&commit[..12])
        .join(repo)
        .join(&name);
    if copy.exists() {
        crate::fsutil::remove_dir_all_writable(&copy)?;
    }
    std::fs::create_dir_all(&copy)?;
    // `git archive | tar -x`, through a file. Run in the aport's directory,
    // `git archive … -- .` names the files relative to it.
    let tar = copy.with_extension("tar");
    let taken = Cmd::new("git")
        .args(["archive", "--format=tar", &commit, "--", "."])
        .dir(orig)
        .run_to_file(&tar)
        .and_then(|()| {
            let out = Cmd::new("tar")
                .arg("-x")
                .arg("-C")
                .arg(&copy)
                .stdin_file(&tar)
                .output_combined()?;
            if !out.status.success() {
                bail!("tar -x: {}", String::from_utf8_lossy(&out.stdout).trim());
            }
            Ok(())
        });
    let _ = std::fs::remove_file(&tar);
    taken.with_context(|| format!("{}: taking {name} from commit {commit}", orig.display()))?;
    if !copy.join("APKBUILD").is_file() {
        bail!("stages/aports.toml: aport {name}: commit {commit} has no {prefix}APKBUILD");
    }
    Ok((copy, (time, commit)))
}

/// `patches/aports/<repo>/<name>/*.patch`, in name order.
pub(crate) fn aport_patches(cx: &Context, repo: &str, name: &str) -> Result<Vec<PathBuf>> {
    patches::list(&cx.layout.patches().join("aports").join(repo).join(name))
}

/// abuild's `set_source_date`: the last commit touching the aport when the tree is
/// clean, else the APKBUILD's mtime. Also the commit (with `-dirty`), or "".
fn git_time(dir: &Path, apkbuild: &Path) -> Result<(u64, String)> {
    if let Ok(v) = std::env::var("SOURCE_DATE_EPOCH") {
        if let Ok(n) = v.parse() {
            return Ok((n, String::new()));
        }
    }
    let git = |args: &[&str]| git_text(dir, args).ok();
    if let Some(t) = git(&["log", "-1", "--format=%ct", "--", "."]).filter(|t| !t.is_empty()) {
        let dirty = git(&["status", "--porcelain", "--", "."]).is_some_and(|s| !s.is_empty());
        let commit = git(&["log", "-1", "--format=%H", "--", "."]).unwrap_or_default();
        if !dirty {
            return Ok((t.parse().unwrap_or(0), commit));
        }
        let mtime = mtime_of(apkbuild)?;
        return Ok((mtime, format!("{commit}-dirty")));
    }
    Ok((mtime_of(apkbuild)?, String::new()))
}

fn mtime_of(p: &Path) -> Result<u64> {
    Ok(std::fs::metadata(p)?
        .modified()?
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs())
}

/// The top directory of the git work tree that holds `dir`.
pub(crate) fn git_toplevel(dir: &Path) -> Result<PathBuf> {
    let top = git_text(dir, &["rev-parse", "--show-toplevel"])
        .with_context(|| format!("{}: not in a git checkout", dir.display()))?;
    Ok(PathBuf::from(top))
}

/// A copy of the git work tree `top` at `dest`: its `.git`, and its tracked and untracked
/// (not ignored) files as they are now, hard-linked where the file system allows. The
/// copy answers git as the original does (same commits, same clean or dirty state).
pub(crate) fn copy_work_tree(top: &Path, dest: &Path) -> Result<()> {
    let listed = git_output(
        top,
        &[
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ],
    )?;
    // `.git` is a directory, or a file naming one (a linked work tree).
    let git = top.join(".git");
    std::fs::create_dir_all(dest)?;
    if git.is_dir() {
        crate::fsutil::copy_tree(&git, &dest.join(".git"))?;
    } else {
        crate::fsutil::link_or_copy(&git, &dest.join(".git"))?;
    }
    for rel in listed.split(|&b| b == 0).filter(|r| !r.is_empty()) {
        let rel = Path::new(std::ffi::OsStr::from_bytes(rel));
        let from = top.join(rel);
        let Ok(meta) = std::fs::symlink_metadata(&from) else {
            continue; // deleted in the work tree
        };
        let to = dest.join(rel);
        std::fs::create_dir_all(to.parent().expect("a file has a parent"))?;
        if meta.file_type().is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&from)?, &to)?;
        } else if meta.is_file() {
            crate::fsutil::link_or_copy(&from, &to)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(dir: &Path, args: &[&str]) -> String {
        let o = std::process::Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@t"])
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    #[test]
    fn a_copied_work_tree_answers_git_as_the_original() {
        let d = tempfile::tempdir().unwrap();
        let top = d.path().join("aports");
        let aport = top.join("main/foo");
        std::fs::create_dir_all(&aport).unwrap();
        git(&top, &["init", "-q"]);
        std::fs::write(aport.join("APKBUILD"), "pkgname=foo\n").unwrap();
        std::fs::write(top.join(".gitignore"), "ignored\n").unwrap();
        git(&top, &["add", "."]);
        git(&top, &["commit", "-q", "-m", "foo"]);
        // Untracked and ignored files, and an uncommitted change.
        std::fs::write(aport.join("new.patch"), "x").unwrap();
        std::fs::write(aport.join("ignored"), "x").unwrap();
        std::fs::write(aport.join("APKBUILD"), "pkgname=foo\npkgrel=1\n").unwrap();
        let copy = d.path().join("elsewhere/copy");
        copy_work_tree(&top, &copy).unwrap();
        let c = copy.join("main/foo");
        assert_eq!(
            std::fs::read_to_string(c.join("APKBUILD")).unwrap(),
            "pkgname=foo\npkgrel=1\n"
        );
        assert!(c.join("new.patch").is_file());
        assert!(!c.join("ignored").exists());
        for q in [
            &["log", "-1", "--format=%H %ct", "--", "."][..],
            &["status", "--porcelain", "--", "."],
        ] {
            assert_eq!(git(&aport, q), git(&c, q), "git {q:?}");
        }
        assert_eq!(
            git_toplevel(&c).unwrap(),
            std::fs::canonicalize(&copy).unwrap()
        );
    }
}
