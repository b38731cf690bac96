//! Stage 2: building aports (directories with an APKBUILD) into signed `.apk` files.
//!
//! abuild reimplemented for a non-Alpine host: the recipe runs in bash with alpinist's
//! own APKBUILD environment (`crates/apkbuild/sh/abuild.sh`) inside a bubblewrap sandbox;
//! `package()` and the split functions run under fakeroot; Rust does the rest: sources
//! through the verified resolver, the per-arch sysroot through the apk installer, strip,
//! postcheck, dependency tracing, `.PKGINFO`, signed packages and the signed index.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use alpinist_apk::db::ScriptKind;
use alpinist_apk::index::ApkIndex;
use alpinist_apk::package::{MtimePolicy, Owner, OwnerMap, PackageBuilder, Signer};
use alpinist_apk::pkginfo::PkgInfo;
use alpinist_apk::sign::SigAlg;
use alpinist_apkbuild::recipe::{PackageVars, Recipe};
use alpinist_apkbuild::{postcheck, trace};
use anyhow::{anyhow, bail, Context as _, Result};
use sha2::{Digest, Sha256};

use crate::arch::Arch;
use crate::context::Context;
use crate::keys::SigningKey;
use crate::runner::Cmd;
use crate::step::{Graph, InputKind, Inputs, Step, StepRun};
use crate::substitute::AportSources;

/// Bumped when the Rust side of a package build changes what it produces.
const RECIPE: &str = "2";

/// Settings for one `build` invocation.
#[derive(Debug, Clone, Default)]
pub struct BuildSettings {
    /// `BOOTSTRAP=…` for the recipes (nocc, nolibc, nobase, bootimage).
    pub bootstrap: Option<String>,
    /// Extra environment for every recipe (`KEY=VALUE`).
    pub env: Vec<(String, String)>,
    /// Where sources can be had besides their URLs: identical copies and documented
    /// substitutes (`toolchains/sources.toml`, and the files a set adds).
    pub sources: AportSources,
    /// Per-aport environment (`stages/aports.toml`), by aport directory name.
    pub aport_env: BTreeMap<String, Vec<(String, String)>>,
}

/// `stages/aports.toml`: settings for single aports, for every set and `build`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AportsFile {
    #[serde(default)]
    aport: BTreeMap<String, AportSettings>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AportSettings {
    /// Variables the recipe reads from its environment, `KEY=VALUE`.
    env: Vec<String>,
    /// Why (documentation; required).
    #[allow(dead_code)]
    why: String,
}

/// `KEY=VALUE` → (KEY, VALUE), naming `what` in the error.
pub fn parse_env(kv: &str, what: &str) -> Result<(String, String)> {
    let (k, v) = kv
        .split_once('=')
        .ok_or_else(|| anyhow!("{what}: {kv:?} is not KEY=VALUE"))?;
    Ok((k.to_string(), v.to_string()))
}

impl BuildSettings {
    /// Settings with alpinist's data: `toolchains/sources.toml` plus `extra_sources`, and
    /// `stages/aports.toml`.
    pub fn new(
        cx: &Context,
        bootstrap: Option<String>,
        env: Vec<(String, String)>,
        extra_sources: &[PathBuf],
    ) -> Result<BuildSettings> {
        let mut files = vec![cx.layout.toolchains_data().join("sources.toml")];
        files.extend(extra_sources.iter().cloned());
        let sources = AportSources::load(&files)?;
        let p = cx.layout.stages_data().join("aports.toml");
        let text =
            std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
        let f: AportsFile =
            toml::from_str(&text).with_context(|| format!("parsing {}", p.display()))?;
        let mut aport_env = BTreeMap::new();
        for (name, a) in f.aport {
            let what = format!("{}: aport {name}", p.display());
            let vars = a
                .env
                .iter()
                .map(|kv| parse_env(kv, &what))
                .collect::<Result<Vec<_>>>()?;
            aport_env.insert(name, vars);
        }
        Ok(BuildSettings {
            bootstrap,
            env,
            sources,
            aport_env,
        })
    }

    /// The settings one aport builds with: its own variables after everyone's.
    pub fn for_aport(&self, name: &str) -> BuildSettings {
        let mut s = self.clone();
        if let Some(vars) = self.aport_env.get(name) {
            s.env.extend(vars.iter().cloned());
        }
        s
    }
}

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

/// The environment an APKBUILD sees for a cross build (abuild's, §1.8).
pub fn recipe_env(
    arch: &Arch,
    toolchain: &Path,
    sysroot: &Path,
    settings: &BuildSettings,
    jobs: usize,
) -> Vec<(String, String)> {
    let t = &arch.triple;
    let build_arch = build_machine_arch();
    let cbuild = build_triple();
    let sr = sysroot.display().to_string();
    let cflags = "-Os -fstack-clash-protection -Wformat -Werror=format-security";
    let cxxflags = format!("{cflags} -D_GLIBCXX_ASSERTIONS=1");
    let ldflags = "-Wl,--as-needed,-O1,--sort-common";
    let path = format!(
        "{}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        toolchain.join("bin").display()
    );
    let mut env: Vec<(String, String)> = vec![
        ("PATH".into(), path),
        ("LANG".into(), "C.UTF-8".into()),
        ("LC_ALL".into(), "C.UTF-8".into()),
        ("TZ".into(), "UTC".into()),
        ("CARCH".into(), arch.name.clone()),
        ("CHOST".into(), t.clone()),
        ("CTARGET".into(), t.clone()),
        ("CBUILD".into(), cbuild.clone()),
        ("CTARGET_ARCH".into(), arch.name.clone()),
        ("CBUILD_ARCH".into(), build_arch),
        ("CLIBC".into(), "musl".into()),
        ("CTARGET_LIBC".into(), "musl".into()),
        ("CBUILDROOT".into(), sr.clone()),
        ("CROSS_COMPILE".into(), format!("{t}-")),
        ("CC".into(), format!("{t}-gcc")),
        ("CXX".into(), format!("{t}-g++")),
        ("LD".into(), format!("{t}-ld")),
        ("HOSTCC".into(), "gcc".into()),
        ("HOSTCXX".into(), "g++".into()),
        ("HOSTLD".into(), "ld".into()),
        ("HOSTCFLAGS".into(), "-O2".into()),
        ("HOSTLDFLAGS".into(), String::new()),
        ("BUILDCC".into(), "gcc".into()),
        ("BUILDCXX".into(), "g++".into()),
        ("BUILDCFLAGS".into(), cflags.into()),
        ("BUILDLDFLAGS".into(), ldflags.into()),
        ("CPPFLAGS".into(), format!("--sysroot={sr}")),
        ("CFLAGS".into(), format!("--sysroot={sr} {cflags}")),
        ("CXXFLAGS".into(), format!("--sysroot={sr} {cxxflags}")),
        ("LDFLAGS".into(), format!("--sysroot={sr} {ldflags}")),
        // Only the sysroot's .pc files: the host's must never leak into a cross build.
        (
            "PKG_CONFIG_PATH".into(),
            format!("{sr}/usr/lib/pkgconfig/:{sr}/usr/share/pkgconfig/"),
        ),
        (
            "PKG_CONFIG_LIBDIR".into(),
            format!("{sr}/usr/lib/pkgconfig:{sr}/usr/share/pkgconfig"),
        ),
        ("PKG_CONFIG_SYSROOT_DIR".into(), sr.clone()),
        ("JOBS".into(), jobs.to_string()),
        ("MAKEFLAGS".into(), format!("-j{jobs}")),
    ];
    if let Some(b) = &settings.bootstrap {
        env.push(("BOOTSTRAP".into(), b.clone()));
    }
    // Rust: rustup's tools keep working under the recipe's own HOME, and recipes learn
    // Rust's name for the target (alpinist's own variable).
    env.push(("ALPINIST_RUST_TARGET".into(), arch.rust_target()));
    if let Some(home) = rustup_home() {
        env.push(("RUSTUP_HOME".into(), home.display().to_string()));
        if let Some(bin) =
            crate::host::which("cargo").and_then(|c| c.parent().map(Path::to_path_buf))
        {
            let p = &mut env[0].1;
            p.push(':');
            p.push_str(&bin.display().to_string());
        }
    }
    env.extend(settings.env.iter().cloned());
    env
}

/// rustup's data directory, when rustup manages this host's Rust.
fn rustup_home() -> Option<PathBuf> {
    let home = std::env::var_os("RUSTUP_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".rustup")))?;
    home.join("toolchains").is_dir().then_some(home)
}

fn build_machine_arch() -> String {
    match std::env::consts::ARCH {
        "x86" => "x86",
        "powerpc64" => "ppc64le",
        other => other,
    }
    .to_string()
}

/// CBUILD in Alpine's 4-part form, as abuild's `triplet_to_arch` needs.
fn build_triple() -> String {
    match std::env::consts::ARCH {
        "x86_64" => "x86_64-alpine-linux-musl",
        "aarch64" => "aarch64-alpine-linux-musl",
        "x86" => "i586-alpine-linux-musl",
        "s390x" => "s390x-alpine-linux-musl",
        "powerpc64" => "powerpc64le-alpine-linux-musl",
        "riscv64" => "riscv64-alpine-linux-musl",
        _ => "unknown-alpine-linux-musl",
    }
    .to_string()
}

/// Writes abuild.sh where the sandbox can read it; returns its path.
fn abuild_sh(cx: &Context) -> Result<PathBuf> {
    let dir = cx.layout.build.join("lib");
    std::fs::create_dir_all(&dir)?;
    let p = dir.join(format!(
        "abuild-{}.sh",
        &hex::encode(Sha256::digest(alpinist_apkbuild::ABUILD_SH.as_bytes()))[..12]
    ));
    if !p.exists() {
        std::fs::write(&p, alpinist_apkbuild::ABUILD_SH)?;
    }
    Ok(p)
}

fn hash_file(p: &Path) -> Result<String> {
    Ok(hex::encode(Sha256::digest(
        std::fs::read(p).with_context(|| format!("reading {}", p.display()))?,
    )))
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
    let dir = patched_copy(cx, &orig, &repo)?;
    let name = orig
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let settings = &settings.for_aport(&name);
    let apkbuild = dir.join("APKBUILD");
    let text = std::fs::read_to_string(&apkbuild)
        .with_context(|| format!("reading {}", apkbuild.display()))?;
    let sh = abuild_sh(cx)?;
    let tmp = cx.layout.build.join("tmp").join("eval");
    std::fs::create_dir_all(&tmp)?;
    let env = recipe_env(
        arch,
        Path::new("/nonexistent"),
        Path::new("/nonexistent"),
        settings,
        1,
    );
    let out = duct::cmd(
        "bash",
        [sh.as_os_str(), "meta".as_ref(), apkbuild.as_os_str()],
    )
    .full_env(
        env.iter()
            .cloned()
            .chain([
                ("srcdir".into(), tmp.join("src").display().to_string()),
                ("pkgbasedir".into(), tmp.join("pkg").display().to_string()),
                ("tmpdir".into(), tmp.join("tmp").display().to_string()),
                ("HOME".into(), tmp.display().to_string()),
            ])
            .collect::<Vec<(String, String)>>(),
    )
    .stdout_capture()
    .stderr_capture()
    .unchecked()
    .run()
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
    let (source_date_epoch, commit) = git_time(&orig, &orig.join("APKBUILD"))?;
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
            out.push((rel, hash_file(&p)?));
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
    let pdir = cx.layout.patches().join("aports").join(repo).join(&name);
    let mut patches: Vec<PathBuf> = std::fs::read_dir(&pdir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "patch"))
                .collect()
        })
        .unwrap_or_default();
    if patches.is_empty() {
        return Ok(orig.to_path_buf());
    }
    patches.sort();
    let copy = cx.layout.build.join("aports").join(repo).join(&name);
    if copy.exists() {
        crate::step::remove_dir_all_writable(&copy)?;
    }
    std::fs::create_dir_all(&copy)?;
    let st = std::process::Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", orig.display()))
        .arg(&copy)
        .status()?;
    if !st.success() {
        bail!("copying {} to {}", orig.display(), copy.display());
    }
    for p in &patches {
        let out = std::process::Command::new("patch")
            .args(["-p1", "-N", "--no-backup-if-mismatch", "-i"])
            .arg(p)
            .current_dir(&copy)
            .output()?;
        if !out.status.success() {
            bail!(
                "{}: does not apply to {}:\n{}",
                p.display(),
                orig.display(),
                String::from_utf8_lossy(&out.stdout).trim_end()
            );
        }
    }
    Ok(copy)
}

/// abuild's `set_source_date`: the last commit touching the aport when the tree is
/// clean, else the APKBUILD's mtime. Also the commit (with `-dirty`), or "".
fn git_time(dir: &Path, apkbuild: &Path) -> Result<(u64, String)> {
    if let Ok(v) = std::env::var("SOURCE_DATE_EPOCH") {
        if let Ok(n) = v.parse() {
            return Ok((n, String::new()));
        }
    }
    let git = |args: &[&str]| -> Option<String> {
        let o = duct::cmd("git", args)
            .dir(dir)
            .stdout_capture()
            .stderr_null()
            .unchecked()
            .run()
            .ok()?;
        o.status
            .success()
            .then(|| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
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

// ---------------------------------------------------------------------------------

/// Target runtime from the stage 1 toolchain, as bootstrap packages: what the sysroot
/// needs before the real musl and gcc packages exist.
pub struct RuntimePackages {
    pub arch: Arch,
    pub key: SigningKeyRef,
}

#[derive(Clone)]
pub struct SigningKeyRef {
    pub private: PathBuf,
    pub fingerprint: String,
}

impl From<&SigningKey> for SigningKeyRef {
    fn from(k: &SigningKey) -> Self {
        SigningKeyRef {
            private: k.private.clone(),
            fingerprint: k.fingerprint.clone(),
        }
    }
}

/// Build date of the stage 1 runtime packages, and the default clamp for tarball mtimes.
pub const BOOTSTRAP_EPOCH: u64 = 1_700_000_000;

impl Step for RuntimePackages {
    fn name(&self) -> String {
        format!("runtime-{}", self.arch.name)
    }
    fn inputs(&self, cx: &Context) -> Result<Inputs> {
        let mut i = Inputs::new();
        i.flag("recipe", RECIPE);
        i.flag("signing-key", &self.key.fingerprint);
        i.flag("musl", &cx.components.get("musl")?.version);
        i.flag("gcc", &cx.components.get("gcc")?.version);
        i.flag("linux", &cx.components.get("linux")?.version);
        Ok(i)
    }
    fn run(&self, cx: &Context, run: &mut StepRun) -> Result<()> {
        let a = &self.arch;
        let gcc_out = run.dep(&format!("gcc-{}", a.name))?.to_path_buf();
        let headers = run
            .dep(&format!("linux-headers-{}", a.kernel_arch))?
            .to_path_buf();
        let musl_ver = format!("{}-r0", cx.components.get("musl")?.version);
        let gcc_upstream = cx.components.get("gcc")?.version.clone();
        let gcc_ver = format!("{gcc_upstream}-r0");
        let linux_ver = format!("{}-r0", cx.components.get("linux")?.version);
        let stage = run.work.join("stage");
        let signer = Signer::from_private_key_file(&self.key.private, SigAlg::Sha1)?;
        let musl_sys = gcc_out.join("sysroot");
        let triple_lib = crate::toolchain::target_lib_dir(&gcc_out, &a.triple)?;

        std::fs::write(run.out.join("repo"), "bootstrap")?;
        // musl: the loader (real file) and the soname link.
        let d = stage.join("musl");
        std::fs::create_dir_all(d.join("lib"))?;
        std::fs::copy(
            musl_sys.join("usr/lib/libc.so"),
            d.join("lib").join(&a.loader),
        )?;
        std::os::unix::fs::symlink(&a.loader, d.join("lib").join(a.libc_soname()))?;
        self.write(
            run,
            &signer,
            &d,
            "musl",
            &musl_ver,
            "the musl c library (libc) implementation",
            "MIT",
            &[],
            &[format!("so:{}=1", a.libc_soname())],
        )?;

        // musl-dev: headers, start files, static archives, the libc.so link.
        let d = stage.join("musl-dev");
        std::fs::create_dir_all(d.join("usr/lib"))?;
        crate::toolchain::copy_tree(&musl_sys.join("usr/include"), &d.join("usr/include"))?;
        for e in std::fs::read_dir(musl_sys.join("usr/lib"))?.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.ends_with(".o") || n.ends_with(".a") {
                std::fs::copy(e.path(), d.join("usr/lib").join(&n))?;
            }
        }
        std::os::unix::fs::symlink(format!("../../lib/{}", a.loader), d.join("usr/lib/libc.so"))?;
        self.write(
            run,
            &signer,
            &d,
            "musl-dev",
            &musl_ver,
            "the musl c library (libc) implementation (development files)",
            "MIT",
            &[format!("musl={musl_ver}")],
            &[],
        )?;

        // linux-headers.
        let d = stage.join("linux-headers");
        crate::toolchain::copy_tree(&headers.join("usr"), &d.join("usr"))?;
        let _ = std::fs::remove_file(d.join("usr/.alpinist-manifest.json"));
        self.write(
            run,
            &signer,
            &d,
            "linux-headers",
            &linux_ver,
            "Linux system headers",
            "GPL-2.0-only",
            &[],
            &[],
        )?;

        // gcc's runtime libraries.
        for (name, prefix, desc, sonames) in [
            (
                "libgcc",
                "libgcc_s.so.",
                "GNU C compiler runtime libraries",
                vec!["libgcc_s.so.1"],
            ),
            (
                "libstdc++",
                "libstdc++.so.",
                "GNU C++ standard runtime library",
                vec!["libstdc++.so.6"],
            ),
            (
                "libatomic",
                "libatomic.so.",
                "GCC Atomic library",
                vec!["libatomic.so.1"],
            ),
            (
                "libgomp",
                "libgomp.so.",
                "GCC shared-memory parallel programming API library",
                vec!["libgomp.so.1"],
            ),
        ] {
            let d = stage.join(name);
            std::fs::create_dir_all(d.join("usr/lib"))?;
            let mut found = false;
            for e in std::fs::read_dir(&triple_lib)?.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if n.starts_with(prefix) && !n.ends_with(".py") {
                    found = true;
                    let dest = d.join("usr/lib").join(&n);
                    if e.file_type()?.is_symlink() {
                        std::os::unix::fs::symlink(std::fs::read_link(e.path())?, &dest)?;
                    } else {
                        std::fs::copy(e.path(), &dest)?;
                    }
                }
            }
            if !found {
                continue;
            }
            let provides: Vec<String> = sonames
                .iter()
                .map(|s| format!("so:{s}={gcc_upstream}"))
                .collect();
            self.write(
                run,
                &signer,
                &d,
                name,
                &gcc_ver,
                desc,
                "GPL-2.0-or-later WITH GCC-exception-3.1",
                &[format!("so:{}", a.libc_soname())],
                &provides,
            )?;
        }
        Ok(())
    }
}

impl RuntimePackages {
    #[allow(clippy::too_many_arguments)]
    fn write(
        &self,
        run: &StepRun,
        signer: &Signer,
        dir: &Path,
        name: &str,
        ver: &str,
        desc: &str,
        license: &str,
        depends: &[String],
        provides: &[String],
    ) -> Result<()> {
        let info = PkgInfo {
            generator: Some(format!("alpinist {}", env!("CARGO_PKG_VERSION"))),
            pkgname: name.into(),
            pkgver: ver.into(),
            pkgdesc: format!("{desc} (bootstrap, from alpinist's stage 1 toolchain)"),
            url: "https://alpinist.invalid/bootstrap".into(),
            builddate: BOOTSTRAP_EPOCH,
            packager: "alpinist".into(),
            arch: self.arch.name.clone(),
            origin: format!("{name}-bootstrap"),
            commit: Some(String::new()),
            license: license.into(),
            depends: depends.to_vec(),
            provides: provides.to_vec(),
            ..PkgInfo::default()
        };
        let mut b = PackageBuilder::new(info, BOOTSTRAP_EPOCH);
        b.add_tree(dir, &OwnerMap::new(), MtimePolicy::Fixed)?;
        let bytes = b.build(Some(signer))?;
        std::fs::write(run.out.join(format!("{name}-{ver}.apk")), bytes)?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------

/// Alpine build-side dependency names → host commands (`toolchains/build-deps.toml`).
#[derive(Debug, serde::Deserialize)]
struct BuildDeps {
    #[serde(default)]
    map: Vec<BuildDep>,
}

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildDep {
    alpine: String,
    #[serde(default)]
    command: Option<String>,
    /// The Debian/Ubuntu package that provides `command`.
    #[serde(default)]
    pub debian: Option<String>,
    /// How a name without a Debian package is met.
    #[serde(default)]
    note: Option<String>,
}

pub fn load_build_deps(cx: &Context) -> Result<Vec<BuildDep>> {
    let p = cx.layout.toolchains_data().join("build-deps.toml");
    let text = std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
    let f: BuildDeps = toml::from_str(&text).with_context(|| format!("parsing {}", p.display()))?;
    Ok(f.map)
}

/// The name of a dependency (`!name`, `name>=1`, `so:x=1` → `name`, `so:x`).
pub fn dep_name(d: &str) -> String {
    let d = d.trim_start_matches('!');
    let end = d.find(['<', '>', '=', '~']).unwrap_or(d.len());
    d[..end].to_string()
}

/// Which names go into the sysroot and which must be host tools (abuild's calcdeps for
/// a cross build).
pub fn split_deps(r: &Recipe) -> (Vec<String>, Vec<String>) {
    let own: BTreeSet<String> = r.package_names().into_iter().collect();
    let mut host_side = Vec::new();
    let mut build_side = Vec::new();
    let mb = r.words("makedepends_build");
    let mh = r.words("makedepends_host");
    if !mb.is_empty() || !mh.is_empty() {
        build_side.extend(mb);
        host_side.extend(mh);
    } else {
        build_side.extend(r.words("makedepends"));
    }
    let keep = |v: Vec<String>| -> Vec<String> {
        let mut seen = BTreeSet::new();
        v.into_iter()
            .filter(|d| !own.contains(&dep_name(d)) && seen.insert(d.clone()))
            .collect()
    };
    (keep(host_side), keep(build_side))
}

/// One aport built for one arch.
pub struct AportBuild {
    pub arch: Arch,
    pub aport: Aport,
    pub settings: BuildSettings,
    pub key: SigningKeyRef,
    /// Packages for the sysroot (after the build-side names that are packages).
    pub sysroot_deps: Vec<String>,
    /// Names of the dependency steps whose packages may go into the sysroot.
    pub package_steps: Vec<String>,
}

impl AportBuild {
    fn step_name(arch: &Arch, r: &Recipe) -> String {
        format!("pkg-{}-{}", arch.name, r.pkgname)
    }
}

impl Step for AportBuild {
    fn name(&self) -> String {
        Self::step_name(&self.arch, &self.aport.recipe)
    }
    fn inputs(&self, cx: &Context) -> Result<Inputs> {
        let mut i = Inputs::new();
        i.flag("recipe", RECIPE);
        i.flag(
            "abuild.sh",
            hex::encode(Sha256::digest(alpinist_apkbuild::ABUILD_SH.as_bytes())),
        );
        i.flag("arch", &self.arch.name);
        i.flag("signing-key", &self.key.fingerprint);
        i.flag("sysroot", self.sysroot_deps.join(" "));
        i.flag(
            "SOURCE_DATE_EPOCH",
            self.aport.source_date_epoch.to_string(),
        );
        i.flag("commit", &self.aport.commit);
        if let Some(b) = &self.settings.bootstrap {
            i.flag("BOOTSTRAP", b);
        }
        for (k, v) in &self.settings.env {
            i.flag(format!("env {k}"), v);
        }
        for (f, h) in &self.aport.files {
            i.add(InputKind::Config, format!("aport/{f}"), h.clone());
        }
        for s in &self.aport.recipe.sources {
            i.source(&s.name, &s.sha512);
            // A substitute is accepted in the recipe's file's place, so what it is (and
            // what adapting it does) is an input whether or not this build needs it.
            if s.url.is_some() {
                if let Some(sub) = self.settings.sources.substitute(&s.name, &s.sha512) {
                    i.source(
                        format!("{} substitute", s.name),
                        sub.key(&alpinist_checkout())?,
                    );
                }
            }
        }
        for (f, h) in &self.aport.tree {
            i.source(format!("alpinist/{f}"), h);
        }
        if !self.aport.tree.is_empty()
            || split_deps(&self.aport.recipe)
                .1
                .iter()
                .any(|d| dep_name(d) == "cargo")
        {
            i.tool("rustc", cx.host_tool_version("rustc"));
        }
        for t in ["bash", "fakeroot", "bwrap", "patch", "tar", "make"] {
            i.tool(t, cx.host_tool_version(t));
        }
        Ok(i)
    }

    fn run(&self, cx: &Context, run: &mut StepRun) -> Result<()> {
        let r = &self.aport.recipe;
        let a = &self.arch;
        let toolchain = run.dep(&format!("toolchain-{}", a.name))?.to_path_buf();
        let work = run.work.clone();
        let startdir = work.join("aport");
        let srcdir = work.join("src");
        let pkgbase = work.join("pkg");
        let tmpdir = work.join("tmp");
        let sysroot = work.join("sysroot");
        let home = work.join("home");
        for d in [&srcdir, &tmpdir, &home] {
            std::fs::create_dir_all(d)?;
        }
        crate::toolchain::copy_tree(&self.aport.dir, &startdir)?;
        // Copies, not links: the recipe must never change the user's checkout.
        make_writable_copy(&startdir)?;

        // Sources: verified before anything runs.
        run.log.status("sources");
        let mut used_sources: Vec<SourceUse> = Vec::new();
        let mut env_extra: Vec<(String, String)> = Vec::new();
        for s in &r.sources {
            let dest = srcdir.join(&s.name);
            match &s.url {
                None => {
                    let p = startdir.join(&s.name);
                    let sum = crate::sources::Checksum::Sha512(s.sha512.clone());
                    let actual = sum.compute(&p).with_context(|| {
                        format!("{}: local source {} is missing", r.path.display(), s.name)
                    })?;
                    if actual != s.sha512 {
                        bail!(
                            "{}: checksum mismatch for local source {}:\n  expected sha512 {}\n  actual   sha512 {actual}\n  fix sha512sums (abuild checksum) or the file",
                            r.path.display(),
                            s.name,
                            s.sha512
                        );
                    }
                    std::os::unix::fs::symlink(&p, &dest)?;
                }
                Some(url) => {
                    let sources = &self.settings.sources;
                    let sub = sources.substitute(&s.name, &s.sha512);
                    let spec = sources.spec(&s.name, url, &s.sha512, true);
                    let say = |m: &str| {
                        let _ = run.log.line(m);
                    };
                    let resolved = cx
                        .resolver(&say)
                        .resolve(&spec)
                        .with_context(|| format!("{}: source {}", r.path.display(), s.name))?;
                    let mut path = resolved.path.clone();
                    let mut used = SourceUse {
                        file: s.name.clone(),
                        sha512: s.sha512.clone(),
                        origin: resolved.origin.clone(),
                        substitute: None,
                    };
                    if let (true, Some(sub)) = (resolved.substitute, sub) {
                        path = crate::substitute::adapt(
                            sub,
                            &resolved.path,
                            &cx.layout.distfiles,
                            &alpinist_checkout(),
                        )?;
                        let adapted = crate::sources::Checksum::Sha512(String::new());
                        used.substitute = Some(SubstituteUse {
                            file: sub.file.clone(),
                            sha512: sub.sha512.clone(),
                            adapted_sha512: adapted.compute(&path)?,
                            why: sub.why.clone(),
                        });
                        env_extra.extend(
                            sub.env
                                .iter()
                                .map(|kv| parse_env(kv, &sub.for_file))
                                .collect::<Result<Vec<_>>>()?,
                        );
                        let note = format!(
                            "{}: used the documented substitute {} from {} ({})",
                            s.name, sub.file, resolved.origin, sub.why
                        );
                        run.log.line(&note)?;
                        run.notes.push(note);
                    }
                    used_sources.push(used);
                    // A copy (hard link when possible), not a symlink: the sandbox sees
                    // only the work tree, and the distfiles may live under /tmp.
                    if std::fs::hard_link(&path, &dest).is_err() {
                        std::fs::copy(&path, &dest)?;
                    }
                }
            }
        }

        if !self.aport.tree.is_empty() {
            let root = alpinist_checkout();
            let tree = work.join("alpinist");
            for (f, _) in &self.aport.tree {
                let dest = tree.join(f);
                std::fs::create_dir_all(dest.parent().expect("has parent"))?;
                std::fs::copy(root.join(f), &dest)?;
            }
        }

        // Sysroot: the makedepends_host (and the target runtime) from local packages.
        run.log.status("sysroot");
        self.make_sysroot(run, &sysroot)?;

        // The shell library goes into the work tree, which is all the sandbox can see of
        // the build directory (it may be under /tmp, which the sandbox replaces).
        let sh = work.join("abuild.sh");
        std::fs::write(&sh, alpinist_apkbuild::ABUILD_SH)?;
        let apkbuild = startdir.join("APKBUILD");
        let mut env = recipe_env(a, &toolchain, &sysroot, &self.settings, cx.jobs);
        env.extend(env_extra);
        env.extend([
            ("HOME".into(), home.display().to_string()),
            ("srcdir".into(), srcdir.display().to_string()),
            ("pkgbasedir".into(), pkgbase.display().to_string()),
            ("tmpdir".into(), tmpdir.display().to_string()),
            (
                "SOURCE_DATE_EPOCH".into(),
                self.aport.source_date_epoch.to_string(),
            ),
            ("ABUILD_LAST_COMMIT".into(), self.aport.commit.clone()),
            ("ALPINIST_ABUILD_SH".into(), sh.display().to_string()),
            (
                "ALPINIST_TREE".into(),
                work.join("alpinist").display().to_string(),
            ),
            ("PACKAGER".into(), "alpinist".into()),
        ]);
        // Build paths must not reach the packages (verify-repro builds in two places).
        let map = format!("-ffile-prefix-map={}=/home/build", work.display());
        for (k, v) in env.iter_mut() {
            if k == "CFLAGS" || k == "CXXFLAGS" {
                v.push(' ');
                v.push_str(&map);
            }
        }
        // Every recipe's make takes its jobs from the one jobserver of this process, so
        // recipes building side by side share the cores.
        if let Some(mf) = cx.jobserver_makeflags() {
            for (k, v) in env.iter_mut() {
                if k == "MAKEFLAGS" {
                    *v = mf.clone();
                }
            }
        }
        let net = r.option(&r.pkgname, "net");
        run.log.status("build (unpack, prepare, build)");
        run.log
            .run(&sandbox(
                &work,
                &toolchain,
                &env,
                net,
                &[
                    "bash".into(),
                    sh.display().to_string(),
                    "build".into(),
                    apkbuild.display().to_string(),
                ],
            ))
            .map_err(|e| recipe_error(&r.path, e))?;
        run.log.status("package (under fakeroot)");
        run.log
            .run(&sandbox(
                &work,
                &toolchain,
                &env,
                false,
                &[
                    "fakeroot".into(),
                    "--".into(),
                    "bash".into(),
                    sh.display().to_string(),
                    "rootpkg".into(),
                    apkbuild.display().to_string(),
                ],
            ))
            .map_err(|e| recipe_error(&r.path, e))?;

        run.log.status("postcheck, strip, trace, write packages");
        self.make_packages(run, &toolchain, &pkgbase, &startdir, &sysroot)?;
        std::fs::write(
            run.out.join(SOURCES_JSON),
            serde_json::to_string_pretty(&used_sources)?,
        )?;
        Ok(())
    }
}

/// Which file each remote source of a build came from: written into the step's output
/// (`SOURCES_JSON`) and read by the bootstrap report.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SourceUse {
    /// The recipe's file name and checksum.
    pub file: String,
    pub sha512: String,
    /// Where the file (or the substitute) came from.
    pub origin: String,
    /// Set when a documented substitute stood in for the recipe's file.
    #[serde(default)]
    pub substitute: Option<SubstituteUse>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SubstituteUse {
    /// The substitute's own file and checksum.
    pub file: String,
    pub sha512: String,
    /// The checksum of the file the recipe unpacked (adapted to its name and top
    /// directory).
    pub adapted_sha512: String,
    pub why: String,
}

/// The file in an aport step's output that lists its sources.
pub const SOURCES_JSON: &str = ".alpinist-sources.json";

fn recipe_error(path: &Path, e: anyhow::Error) -> anyhow::Error {
    anyhow!("{}: the recipe failed\n{e:#}", path.display())
}

fn make_writable_copy(dir: &Path) -> Result<()> {
    // copy_tree hard-links; replace each file by a real copy so edits stay here.
    for (rel, full) in trace::files(dir) {
        let tmp = dir.join(format!("{rel}.alpinist-copy"));
        std::fs::copy(&full, &tmp)?;
        std::fs::rename(&tmp, &full)?;
    }
    Ok(())
}

/// `cargo xtask shell`: an interactive shell in the kept build tree of an aport, in the
/// same sandbox and environment the recipe ran in.
pub fn shell(cx: &Context, arch: &Arch, dir: &Path, settings: &BuildSettings) -> Result<()> {
    let key = SigningKey::find(cx)?.unwrap_or_else(|| SigningKey::not_yet(cx));
    let aport = evaluate(cx, arch, dir, settings)?;
    let (g, steps) = graph(cx, arch, std::slice::from_ref(&aport), settings, &key)?;
    let planned = crate::step::plan(cx, &g)?;
    let p = &planned[*steps.last().expect("aport step")];
    let work = cx.layout.work().join(format!("{}-{}", p.name, p.key));
    if !work.is_dir() {
        bail!(
            "no kept build tree for {} at {}\n  a failed `cargo xtask build` keeps its tree; a successful one removes it",
            aport.recipe.pkgname,
            work.display()
        );
    }
    let tc = planned
        .iter()
        .find(|q| q.name == format!("toolchain-{}", arch.name))
        .map(|q| q.out.clone())
        .ok_or_else(|| anyhow!("no toolchain step"))?;
    let sh = work.join("abuild.sh");
    let mut env = recipe_env(
        arch,
        &tc,
        &work.join("sysroot"),
        &settings.for_aport(&aport.name()),
        cx.jobs,
    );
    env.extend([
        ("HOME".into(), work.join("home").display().to_string()),
        ("srcdir".into(), work.join("src").display().to_string()),
        ("pkgbasedir".into(), work.join("pkg").display().to_string()),
        ("tmpdir".into(), work.join("tmp").display().to_string()),
        (
            "SOURCE_DATE_EPOCH".into(),
            aport.source_date_epoch.to_string(),
        ),
        ("ALPINIST_ABUILD_SH".into(), sh.display().to_string()),
        (
            "TERM".into(),
            std::env::var("TERM").unwrap_or_else(|_| "dumb".into()),
        ),
    ]);
    let cmd = sandbox(
        &work,
        &tc,
        &env,
        aport.recipe.option(&aport.recipe.pkgname, "net"),
        &[
            "bash".into(),
            sh.display().to_string(),
            "env".into(),
            work.join("aport/APKBUILD").display().to_string(),
        ],
    );
    let st = std::process::Command::new(&cmd.program)
        .args(&cmd.args)
        .status()?;
    if !st.success() {
        bail!("the shell ended with {st}");
    }
    Ok(())
}

/// The recipe's command inside bubblewrap: the host read-only, only `work` writable, a
/// private /tmp, no network unless `net`.
fn sandbox(
    work: &Path,
    toolchain: &Path,
    env: &[(String, String)],
    net: bool,
    argv: &[String],
) -> Cmd {
    let w = work.display().to_string();
    let tc = std::fs::canonicalize(toolchain)
        .unwrap_or_else(|_| toolchain.to_path_buf())
        .display()
        .to_string();
    let mut c = Cmd::new("bwrap")
        .args([
            "--die-with-parent",
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-uts",
        ])
        .args([
            "--ro-bind",
            "/",
            "/",
            "--dev",
            "/dev",
            "--proc",
            "/proc",
            "--tmpfs",
            "/tmp",
        ])
        // Mounted again after the private /tmp, in case they live under /tmp.
        .args(["--ro-bind", &tc, &tc])
        .args(["--bind", &w, &w])
        .args(
            tmp_paths_in(env, &w)
                .into_iter()
                .flat_map(|p| ["--ro-bind".to_string(), p.clone(), p]),
        )
        .args(["--chdir", &w])
        .arg("--clearenv");
    if !net {
        c = c.arg("--unshare-net");
    }
    for (k, v) in env {
        c = c.args(["--setenv", k, v]);
    }
    let inner = argv.join(" ");
    c.arg("--")
        .args(argv)
        .label(format!("{inner} (in the sandbox)"))
        .jobserver()
}

/// Directories under /tmp that the recipe environment names (e.g. `ALPINIST_KEYS_DIR`
/// of a cache under /tmp): visible, read-only, behind the sandbox's private /tmp.
fn tmp_paths_in(env: &[(String, String)], work: &str) -> Vec<String> {
    let mut v: Vec<String> = env
        .iter()
        .map(|(_, val)| val.as_str())
        .filter(|val| val.starts_with("/tmp/") && !val.starts_with(work) && Path::new(val).is_dir())
        .map(String::from)
        .collect();
    v.sort();
    v.dedup();
    v
}

impl AportBuild {
    fn make_sysroot(&self, run: &StepRun, sysroot: &Path) -> Result<()> {
        // A temporary signed repository (<repo>/<arch>/) of the packages it may use.
        let repo = run.work.join("sysroot-repo");
        let arch_dir = repo.join(&self.arch.name);
        std::fs::create_dir_all(&arch_dir)?;
        let mut files: Vec<PathBuf> = Vec::new();
        for s in &self.package_steps {
            for e in std::fs::read_dir(run.dep(s)?)?.flatten() {
                if e.path().extension().and_then(|x| x.to_str()) == Some("apk") {
                    let dest = arch_dir.join(e.file_name());
                    std::fs::hard_link(e.path(), &dest)
                        .or_else(|_| std::fs::copy(e.path(), &dest).map(|_| ()))?;
                    files.push(dest);
                }
            }
        }
        let refs: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
        let index = ApkIndex::from_package_files(Some("alpinist sysroot".into()), &refs, None)?;
        let signer = Signer::from_private_key_file(&self.key.private, SigAlg::Sha1)?;
        std::fs::write(
            arch_dir.join("APKINDEX.tar.gz"),
            index.to_bytes(BOOTSTRAP_EPOCH, Some(&signer))?,
        )?;
        let keys_dir = self.key.private.parent().expect("key dir").to_path_buf();
        let deps = self.sysroot_deps.clone();
        let _ = run
            .log
            .line(&format!("sysroot packages: {}", deps.join(" ")));
        let out = crate::cmd_apk::add(&crate::cmd_apk::AddOptions {
            root: sysroot,
            arch: &self.arch.name,
            initdb: true,
            repositories: std::slice::from_ref(&repo),
            keys_dir: Some(&keys_dir),
            simulate: false,
            deps: &deps,
        })
        .with_context(|| {
            format!(
                "{}: installing the build dependencies into the sysroot",
                self.aport.recipe.path.display()
            )
        })?;
        let _ = run.log.line(&out);
        Ok(())
    }

    fn make_packages(
        &self,
        run: &mut StepRun,
        toolchain: &Path,
        pkgbase: &Path,
        startdir: &Path,
        sysroot: &Path,
    ) -> Result<()> {
        let r = &self.aport.recipe;
        let a = &self.arch;
        let sde = self.aport.source_date_epoch;
        let owners = read_owners(&pkgbase.join(".owners"))?;
        let names = r.package_names();
        struct P {
            name: String,
            arch: String,
            dir: PathBuf,
            vars: PackageVars,
            elves: Vec<trace::ElfFile>,
            so_provides: Vec<(String, String)>,
        }
        let mut pkgs: Vec<P> = Vec::new();
        let mut errors = Vec::new();
        for name in &names {
            let dir = pkgbase.join(name);
            let vars = PackageVars::parse(
                &std::fs::read(pkgbase.join(format!(".meta.{name}")))
                    .with_context(|| format!("{name}: no metadata from the shell"))?,
            );
            let arch = if *name == r.pkgname {
                r.pkgarch.clone()
            } else {
                r.subpackages
                    .iter()
                    .find(|s| &s.name == name)
                    .map(|s| s.arch.clone())
                    .unwrap_or_else(|| r.pkgarch.clone())
            };
            // Modes as fakeroot recorded them.
            for (rel, (_, _, mode)) in owners
                .iter()
                .filter(|(k, _)| k.starts_with(&format!("{name}/")))
            {
                let p = pkgbase.join(rel);
                if let Ok(md) = std::fs::symlink_metadata(&p) {
                    if !md.file_type().is_symlink() && md.permissions().mode() & 0o7777 != *mode {
                        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(*mode))?;
                    }
                }
            }
            if *name == r.pkgname && !r.option(name, "keepdirs") {
                for d in ["usr/lib", "usr/bin", "usr/share", "usr", "etc", "lib"] {
                    let _ = std::fs::remove_dir(dir.join(d));
                }
            }
            let mut elves = trace::scan_elf(&dir);
            if arch != "noarch" && !r.option(name, "!strip") && !elves.is_empty() {
                let strip = toolchain.join("bin").join(format!("{}-strip", a.triple));
                for e in elves
                    .iter()
                    .filter(|e| e.is_exec_or_dyn() && !e.path.starts_with("usr/lib/debug/"))
                {
                    let f = dir.join(&e.path);
                    let tmp = dir.join(format!("{}.alpinist-strip", e.path));
                    run.log.run(
                        &Cmd::new(strip.display().to_string())
                            .arg("-o")
                            .arg(&tmp)
                            .arg(&f),
                    )?;
                    std::fs::write(&f, std::fs::read(&tmp)?)?;
                    std::fs::remove_file(&tmp)?;
                }
                elves = trace::scan_elf(&dir);
            }
            if arch == "noarch" {
                if let Some(e) = elves.first() {
                    errors.push(format!(
                        "{name}: noarch package contains an ELF file: /{}",
                        e.path
                    ));
                }
            }
            for e in elves.iter().filter(|e| e.machine != a.elf.machine) {
                errors.push(format!(
                    "{name}: /{} is for ELF machine {} but {} is {} ({})",
                    e.path, e.machine, a.name, a.elf.machine, a.elf.machine_name
                ));
            }
            let opt = |o: &str| r.option(name, o);
            let f = postcheck::postcheck(&dir, name, &elves, &opt);
            for w in &f.warnings {
                let _ = run.log.line(&format!(">>> WARNING: {w}"));
            }
            errors.extend(f.errors);
            let so_provides = if arch == "noarch" || r.option(name, "!tracedeps") {
                vec![]
            } else {
                let ldpath: Vec<String> = r
                    .get("ldpath")
                    .split(':')
                    .filter(|s| !s.is_empty())
                    .map(|s| s.to_string())
                    .collect();
                trace::so_provides(
                    &elves,
                    &ldpath,
                    r.option(name, "ldpath-recursive"),
                    &r.words("somask"),
                )
            };
            pkgs.push(P {
                name: name.clone(),
                arch,
                dir,
                vars,
                elves,
                so_provides,
            });
        }
        if !errors.is_empty() {
            bail!(
                "{}: packaging checks failed:\n  {}",
                r.path.display(),
                errors.join("\n  ")
            );
        }

        // What the sysroot already provides (for so:/pc: needs not met by this build).
        let sys_db = alpinist_apk::install::read_database(sysroot)?;
        let sys_provides: BTreeSet<String> = sys_db
            .packages
            .iter()
            .flat_map(|p| {
                std::iter::once(p.info.name.clone())
                    .chain(p.info.provides.iter().map(|d| d.name.clone()))
            })
            .collect();
        let this_so: BTreeMap<String, String> = pkgs
            .iter()
            .flat_map(|p| {
                p.so_provides
                    .iter()
                    .map(move |(s, _)| (s.clone(), p.name.clone()))
            })
            .collect();
        let pcs: BTreeMap<String, Vec<trace::PcFile>> = pkgs
            .iter()
            .map(|p| (p.name.clone(), trace::pc_files(&p.dir)))
            .collect();
        let this_pc: BTreeSet<String> = pcs.values().flatten().map(|p| p.name.clone()).collect();

        let signer = Signer::from_private_key_file(&self.key.private, SigAlg::Sha1)?;
        let full_ver = r.full_version();
        for p in &pkgs {
            let v = &p.vars;
            let tracing = !r.option(&p.name, "!tracedeps");
            let mut auto_provides = BTreeSet::new();
            let mut auto_depends = BTreeSet::new();
            if tracing {
                for (so, ver) in &p.so_provides {
                    auto_provides.insert(format!("so:{}{so}={ver}", r.get("sonameprefix")));
                }
                for pc in &pcs[&p.name] {
                    auto_provides.insert(format!(
                        "pc:{}{}={}",
                        r.get("pcprefix"),
                        pc.name,
                        trace::pc_to_apk_ver(&pc.version)
                    ));
                }
                for c in trace::cmd_provides(&p.dir) {
                    auto_provides.insert(format!("cmd:{c}={full_ver}"));
                }
                if p.arch != "noarch" {
                    for need in trace::so_needs(&p.elves, &p.so_provides, &r.words("somask")) {
                        if let Some(owner) = this_so.get(&need) {
                            if owner != &p.name {
                                auto_depends.insert(owner.clone());
                            }
                        } else if sys_provides.contains(&format!("so:{need}")) {
                            auto_depends.insert(format!("so:{need}"));
                        } else {
                            bail!(
                                "{}: {} needs {need}, which neither this build nor the sysroot provides; add the package that has it to makedepends_host",
                                r.path.display(),
                                p.name
                            );
                        }
                    }
                }
                let own_pc: BTreeSet<&str> =
                    pcs[&p.name].iter().map(|pc| pc.name.as_str()).collect();
                for pc in &pcs[&p.name] {
                    for req in &pc.requires {
                        let n = dep_name(req);
                        if own_pc.contains(n.as_str()) {
                            continue;
                        }
                        if this_pc.contains(&n) || sys_provides.contains(&format!("pc:{n}")) {
                            auto_depends.insert(format!("pc:{req}"));
                        } else {
                            let _ = run.log.line(&format!(
                                ">>> WARNING: {}: pkg-config requirement {req} has no provider",
                                p.name
                            ));
                        }
                    }
                }
                let has_pc = p.dir.join("usr/lib/pkgconfig").is_dir()
                    || p.dir.join("usr/share/pkgconfig").is_dir();
                if has_pc && !v.words("depends").iter().any(|d| d == "pkgconfig") {
                    // abuild adds `pkgconfig`; without a provider in reach (pkgconf not built
                    // yet) it would make the package uninstallable, so it is left out then.
                    if sys_provides.contains("pkgconfig") || self.package_steps.is_empty() {
                        auto_depends.insert("pkgconfig".into());
                    } else {
                        let _ = run.log.line(&format!(">>> note: {}: no pkgconfig provider yet; not adding the pkgconfig dependency", p.name));
                    }
                }
            }
            if tracing {
                for other in symlink_needs(
                    &p.dir,
                    &p.name,
                    &pkgs
                        .iter()
                        .map(|q| (q.name.clone(), q.dir.clone()))
                        .collect::<Vec<_>>(),
                ) {
                    auto_depends.insert(format!("{other}={full_ver}"));
                }
            }
            let scripts = r.scripts_of(&p.name);
            let mut depends: Vec<String> = v
                .words("depends")
                .into_iter()
                .filter(|d| dep_name(d) != p.name)
                .collect();
            let needs_sh = scripts.iter().any(|(_, f)| {
                std::fs::read_to_string(startdir.join(f))
                    .map(|t| {
                        t.lines().next().is_some_and(|l| {
                            l.trim_start_matches("#!").trim().starts_with("/bin/sh")
                        })
                    })
                    .unwrap_or(false)
            });
            if needs_sh
                && p.name != "busybox"
                && !depends.iter().any(|d| d == "busybox" || d == "/bin/sh")
            {
                depends.push("/bin/sh".into());
            }
            let info = PkgInfo {
                generator: Some(format!("alpinist {}", env!("CARGO_PKG_VERSION"))),
                pkgname: p.name.clone(),
                pkgver: full_ver.clone(),
                pkgdesc: v.get("pkgdesc").to_string(),
                url: v.get("url").to_string(),
                builddate: sde,
                packager: "alpinist".into(),
                arch: p.arch.clone(),
                origin: r.pkgname.clone(),
                commit: Some(self.aport.commit.clone()),
                maintainer: r.maintainer.clone(),
                replaces_priority: v.get("replaces_priority").parse().ok(),
                provider_priority: v.get("provider_priority").parse().ok(),
                license: v
                    .get("license")
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" "),
                replaces: v.words("replaces"),
                depends,
                provides: v.words("provides"),
                triggers: r.triggers_of(&p.name),
                install_if: v.words("install_if"),
                auto_provides: auto_provides.into_iter().collect(),
                auto_depends: auto_depends.into_iter().collect(),
                ..PkgInfo::default()
            };
            let mut b = PackageBuilder::new(info, sde);
            for (kind, file) in &scripts {
                let k = ScriptKind::parse(kind).ok_or_else(|| anyhow!("bad script kind {kind}"))?;
                b.scripts.push((
                    k,
                    std::fs::read(startdir.join(file))
                        .with_context(|| format!("{}: script {file}", r.path.display()))?,
                ));
            }
            let mut map = OwnerMap::new();
            for (rel, (uid, gid, _)) in owners.iter() {
                if let Some(inner) = rel.strip_prefix(&format!("{}/", p.name)) {
                    if *uid != 0 || *gid != 0 {
                        map.insert(
                            inner.to_string(),
                            Owner {
                                uid: *uid,
                                gid: *gid,
                                uname: uid.to_string(),
                                gname: gid.to_string(),
                            },
                        );
                    }
                }
            }
            b.add_tree(&p.dir, &map, MtimePolicy::Fixed)?;
            let bytes = b.build(Some(&signer))?;
            std::fs::write(run.out.join(format!("{}-{full_ver}.apk", p.name)), bytes)?;
        }
        std::fs::write(run.out.join("repo"), &self.aport.repo)?;
        Ok(())
    }
}

/// abuild's `.needs-symlinks`: a symlink whose target is not in this package but in
/// exactly one other package of the same build makes this package depend on that one.
fn symlink_needs(dir: &Path, name: &str, all: &[(String, PathBuf)]) -> Vec<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(md) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            if md.is_dir() {
                stack.push(p);
                continue;
            }
            if !md.file_type().is_symlink() {
                continue;
            }
            let Ok(target) = std::fs::read_link(&p) else {
                continue;
            };
            let rel_dir = p
                .parent()
                .and_then(|x| x.strip_prefix(dir).ok())
                .unwrap_or(Path::new(""));
            let joined = if target.is_absolute() {
                target.strip_prefix("/").unwrap_or(&target).to_path_buf()
            } else {
                rel_dir.join(&target)
            };
            let mut norm: Vec<std::ffi::OsString> = Vec::new();
            for c in joined.components() {
                match c {
                    std::path::Component::ParentDir => {
                        norm.pop();
                    }
                    std::path::Component::Normal(x) => norm.push(x.to_os_string()),
                    _ => {}
                }
            }
            let norm: PathBuf = norm.iter().collect();
            let exists = |base: &Path| std::fs::symlink_metadata(base.join(&norm)).is_ok();
            if exists(dir) {
                continue;
            }
            let owners: Vec<&String> = all
                .iter()
                .filter(|(n, d)| n != name && exists(d))
                .map(|(n, _)| n)
                .collect();
            if owners.len() == 1 {
                out.insert(owners[0].clone());
            }
        }
    }
    out.into_iter().collect()
}

/// `.owners` from the shell: `uid\tgid\tmode\tpath\0` per entry, under fakeroot.
fn read_owners(path: &Path) -> Result<BTreeMap<String, (u32, u32, u32)>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut m = BTreeMap::new();
    for rec in bytes.split(|&b| b == 0).filter(|r| !r.is_empty()) {
        let s = String::from_utf8_lossy(rec);
        let mut it = s.splitn(4, '\t');
        let (Some(u), Some(g), Some(mo), Some(p)) = (it.next(), it.next(), it.next(), it.next())
        else {
            continue;
        };
        m.insert(
            p.to_string(),
            (
                u.parse().unwrap_or(0),
                g.parse().unwrap_or(0),
                u32::from_str_radix(mo, 8).unwrap_or(0o644),
            ),
        );
    }
    Ok(m)
}

// ---------------------------------------------------------------------------------

/// The graph for building `aports` for `arch`: stage 1, the runtime packages, and one
/// step per aport, ordered by what each needs from the others.
/// Who provides what among the recipes of one build: package names (subpackages too)
/// and `provides` names, each to its aport's index.
pub fn providers(aports: &[Aport]) -> BTreeMap<String, usize> {
    let mut provider: BTreeMap<String, usize> = BTreeMap::new();
    for (i, a) in aports.iter().enumerate() {
        for n in a.recipe.package_names() {
            provider.insert(n, i);
        }
        for p in a.recipe.words("provides") {
            provider.insert(dep_name(&p), i);
        }
    }
    provider
}

/// The target runtime from stage 1, packaged by [`RuntimePackages`] before any aport.
pub const RUNTIME_NAMES: [&str; 7] = [
    "musl",
    "musl-dev",
    "linux-headers",
    "libgcc",
    "libstdc++",
    "libatomic",
    "libgomp",
];

/// What each aport needs built before it: the providers of its build dependencies
/// (`makedepends_host`, `makedepends_build`, …) and, transitively, the providers of those
/// packages' runtime `depends` (installed into its sysroot with them). A name nobody in
/// the build provides is left to the host (build side) or the stage 1 runtime; names of
/// the stage 1 runtime ([`RUNTIME_NAMES`]) never order anything.
pub fn needs(aports: &[Aport], provider: &BTreeMap<String, usize>) -> Vec<BTreeSet<usize>> {
    // The target runtime (musl-dev, libgcc, linux-headers, …) is there from stage 1, so
    // it never waits for the aports that provide newer builds of it.
    let lookup = |d: &String| -> Option<usize> {
        let n = dep_name(d);
        if d.starts_with('!') || RUNTIME_NAMES.contains(&n.as_str()) {
            return None;
        }
        provider.get(&n).copied()
    };
    let runtime: Vec<BTreeSet<usize>> = aports
        .iter()
        .enumerate()
        .map(|(i, a)| {
            a.recipe
                .words("depends")
                .iter()
                .filter_map(lookup)
                .filter(|&j| j != i)
                .collect()
        })
        .collect();
    aports
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let (h, b) = split_deps(&a.recipe);
            let mut out = BTreeSet::new();
            let mut todo: Vec<usize> = h.iter().chain(b.iter()).filter_map(lookup).collect();
            while let Some(j) = todo.pop() {
                if j != i && out.insert(j) {
                    todo.extend(runtime[j].iter().copied());
                }
            }
            out
        })
        .collect()
}

/// A build-side dependency the host lacks.
#[derive(Debug, Clone)]
pub struct MissingTool {
    /// Index of the aport that needs it.
    pub aport: usize,
    /// The Debian/Ubuntu package that provides it, when there is one.
    pub debian: Option<String>,
    /// One line: the name, the recipe, and what provides it.
    pub message: String,
}

/// Build-side dependencies the host lacks, per aport.
pub fn missing_host_tools(
    cx: &Context,
    aports: &[Aport],
    provider: &BTreeMap<String, usize>,
) -> Result<Vec<MissingTool>> {
    let build_deps = load_build_deps(cx)?;
    let mut missing = Vec::new();
    for (i, a) in aports.iter().enumerate() {
        for b in &split_deps(&a.recipe).1 {
            let n = dep_name(b);
            if provider.contains_key(&n) || RUNTIME_NAMES.contains(&n.as_str()) {
                continue;
            }
            // Alpine's cross toolchain packages (gcc-aarch64, g++-aarch64,
            // binutils-aarch64): the stage 1 toolchain is exactly that.
            let carch = &a.arch;
            if ["gcc", "g++", "binutils"]
                .iter()
                .any(|t| n == format!("{t}-{carch}"))
            {
                continue;
            }
            let path = a.recipe.path.display();
            match build_deps.iter().find(|m| m.alpine == n) {
                Some(m) => {
                    let Some(c) = &m.command else { continue };
                    if crate::host::on_path(c) {
                        continue;
                    }
                    let provided_by = match (&m.debian, &m.note) {
                        (Some(d), _) => format!("Debian/Ubuntu package {d}"),
                        (None, Some(note)) => note.clone(),
                        (None, None) => "no Debian package known".into(),
                    };
                    missing.push(MissingTool {
                        aport: i,
                        debian: m.debian.clone(),
                        message: format!("{n} ({path}: command {c}; {provided_by})"),
                    });
                }
                None => missing.push(MissingTool {
                    aport: i,
                    debian: None,
                    message: format!(
                        "{n} ({path}): not a package of this build and not in toolchains/build-deps.toml; add a mapping to a host command"
                    ),
                }),
            }
        }
    }
    Ok(missing)
}

/// The build-side dependencies the host lacks, after installing the Debian packages that
/// provide them when running as root (before the first recipe starts). As an ordinary
/// user nothing is installed and the returned list says what is missing; `install_hint`
/// gives the one command for all of it.
pub fn provide_host_tools(
    cx: &Context,
    aports: &[Aport],
    provider: &BTreeMap<String, usize>,
) -> Result<Vec<MissingTool>> {
    let missing = missing_host_tools(cx, aports, provider)?;
    let pkgs = debian_packages(&missing);
    if pkgs.is_empty() || !crate::host::can_install() {
        return Ok(missing);
    }
    eprintln!(
        "installing host packages the recipes need: {}",
        pkgs.join(" ")
    );
    crate::host::apt_install(&pkgs)?;
    missing_host_tools(cx, aports, provider)
}

/// The Debian packages that provide `missing`, sorted, each once.
pub fn debian_packages(missing: &[MissingTool]) -> Vec<String> {
    let mut pkgs: Vec<String> = missing.iter().filter_map(|m| m.debian.clone()).collect();
    pkgs.sort();
    pkgs.dedup();
    pkgs
}

/// The missing tools, one per line, and the one apt-get command that installs them.
pub fn missing_tools_message(missing: &[MissingTool]) -> String {
    let mut lines: Vec<&str> = missing.iter().map(|m| m.message.as_str()).collect();
    lines.sort();
    lines.dedup();
    let pkgs = debian_packages(missing);
    let mut msg = format!(
        "build-side dependencies (makedepends_build) that this host does not have:\n  {}",
        lines.join("\n  ")
    );
    if !pkgs.is_empty() {
        msg.push_str(&format!(
            "\ninstall them with:\n  sudo apt-get install -y --no-install-recommends {}\nor run `sudo cargo xtask setup`, which installs every package the recipes use",
            pkgs.join(" ")
        ));
    }
    msg
}

pub fn graph(
    cx: &Context,
    arch: &Arch,
    aports: &[Aport],
    settings: &BuildSettings,
    key: &SigningKey,
) -> Result<(Graph, Vec<usize>)> {
    let mut g = Graph::new();
    let tc = crate::toolchain::add_steps(cx, arch, &mut g)?;
    let idx = |n: &str| {
        tc.iter()
            .find(|(x, _)| x == n)
            .map(|(_, i)| *i)
            .expect("stage 1 step")
    };
    let runtime = g.add(
        RuntimePackages {
            arch: arch.clone(),
            key: key.into(),
        },
        &[idx("gcc"), idx("linux-headers")],
    );
    let provider = providers(aports);
    let missing_tools = provide_host_tools(cx, aports, &provider)?;
    if !missing_tools.is_empty() {
        bail!("{}", missing_tools_message(&missing_tools));
    }
    let needs = needs(aports, &provider);
    let order = topo_order(aports, &needs)?;
    let mut step_of: BTreeMap<usize, usize> = BTreeMap::new();
    for i in order {
        let a = &aports[i];
        let (host_side, build_side) = split_deps(&a.recipe);
        let mut sysroot_deps: Vec<String> =
            vec!["musl-dev".into(), "libgcc".into(), "libstdc++".into()];
        let mut deps = vec![idx("toolchain"), runtime];
        let mut package_steps = vec![format!("runtime-{}", arch.name)];
        for &j in &needs[i] {
            deps.push(*step_of.get(&j).ok_or_else(|| anyhow!("internal: order"))?);
            package_steps.push(AportBuild::step_name(arch, &aports[j].recipe));
        }
        let mut want = host_side.clone();
        for b in &build_side {
            let n = dep_name(b);
            // A package, not a tool: abuild would install it on the build machine; for a
            // cross build it is only useful in the sysroot.
            if provider.contains_key(&n) || RUNTIME_NAMES.contains(&n.as_str()) {
                want.push(b.clone());
            }
        }
        for w in want {
            if !sysroot_deps.contains(&w) {
                sysroot_deps.push(w);
            }
        }
        let s = g.add(
            AportBuild {
                arch: arch.clone(),
                aport: a.clone(),
                settings: settings.for_aport(&a.name()),
                key: key.into(),
                sysroot_deps,
                package_steps,
            },
            &deps,
        );
        step_of.insert(i, s);
    }
    let mut aport_steps: Vec<usize> = vec![runtime];
    aport_steps.extend(aports.iter().enumerate().map(|(i, _)| step_of[&i]));
    Ok((g, aport_steps))
}

/// Orders recipes so that each comes after the recipes it needs; a cycle is an error
/// naming its members.
pub fn topo_order(aports: &[Aport], edges: &[BTreeSet<usize>]) -> Result<Vec<usize>> {
    let n = aports.len();
    let mut state = vec![0u8; n];
    let mut out = Vec::new();
    fn visit(
        i: usize,
        edges: &[BTreeSet<usize>],
        state: &mut [u8],
        out: &mut Vec<usize>,
        stack: &mut Vec<usize>,
        aports: &[Aport],
    ) -> Result<()> {
        match state[i] {
            2 => return Ok(()),
            1 => {
                let pos = stack.iter().position(|&x| x == i).unwrap_or(0);
                let names: Vec<String> = stack[pos..]
                    .iter()
                    .chain(std::iter::once(&i))
                    .map(|&x| aports[x].recipe.pkgname.clone())
                    .collect();
                bail!(
                    "dependency cycle between recipes: {} (each needs the next built first: through makedepends, or the runtime depends of a package it installs); break it with a BOOTSTRAP pass or a patch in patches/aports/",
                    names.join(" -> ")
                );
            }
            _ => {}
        }
        state[i] = 1;
        stack.push(i);
        for &j in &edges[i] {
            visit(j, edges, state, out, stack, aports)?;
        }
        stack.pop();
        state[i] = 2;
        out.push(i);
        Ok(())
    }
    for i in 0..n {
        visit(i, edges, &mut state, &mut out, &mut Vec::new(), aports)?;
    }
    Ok(out)
}

/// Copies the packages of finished aport steps into `build/repo/<arch>/<repo>/` and
/// rewrites each touched repository's signed APKINDEX.tar.gz.
pub fn publish(
    cx: &Context,
    arch: &Arch,
    outs: &[PathBuf],
    key: &SigningKey,
) -> Result<Vec<PathBuf>> {
    let mut touched: BTreeSet<PathBuf> = BTreeSet::new();
    for out in outs {
        let repo = std::fs::read_to_string(out.join("repo")).unwrap_or_else(|_| "main".into());
        let dir = cx.repodest.join(repo.trim()).join(&arch.name);
        std::fs::create_dir_all(&dir)?;
        for e in std::fs::read_dir(out)?.flatten() {
            if e.path().extension().and_then(|x| x.to_str()) == Some("apk") {
                let dest = dir.join(e.file_name());
                let _ = std::fs::remove_file(&dest);
                std::fs::copy(e.path(), &dest)?;
            }
        }
        touched.insert(dir);
    }
    let signer = Signer::from_private_key_file(&key.private, SigAlg::Sha1)?;
    for dir in &touched {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().and_then(|x| x.to_str()) == Some("apk"))
            .collect();
        files.sort();
        let refs: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
        let index =
            ApkIndex::from_package_files(Some(format!("alpinist {}", arch.name)), &refs, None)?;
        let tmp = dir.join("APKINDEX.tar.gz.tmp");
        std::fs::write(&tmp, index.to_bytes(BOOTSTRAP_EPOCH, Some(&signer))?)?;
        std::fs::rename(&tmp, dir.join("APKINDEX.tar.gz"))?;
    }
    Ok(touched.into_iter().collect())
}
