//! Alpine's build settings for an arch, from the recipes themselves: what the default.conf
//! of Alpine's abuild package exports — the file of the abuild aport's source tarball
//! plus what its `package()` appends for the arch — as Alpine's builders have it
//! (`abuild.sh defaults`). Without an abuild aport in the checkout (the fixtures),
//! `toolchains/abuild-defaults.toml`.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use anyhow::{bail, Context as _, Result};

use crate::config::arch::Arch;
use crate::context::Context;
use crate::exec::Cmd;
use crate::stages::packages::{evaluate, BuildSettings};

/// Variables a job count decides: alpinist sets them from `-j` and its jobserver, so they
/// are not build settings (and not inputs of a step's key).
const JOB_VARS: &[&str] = &[
    "JOBS",
    "MAKEFLAGS",
    "SAMUFLAGS",
    "CARGO_BUILD_JOBS",
    "CMAKE_BUILD_PARALLEL_LEVEL",
    "CTEST_PARALLEL_LEVEL",
];

/// The variables every recipe gets, and where they came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AbuildDefaults {
    pub vars: BTreeMap<String, String>,
    /// CFLAGS, CXXFLAGS and LDFLAGS for programs built to run on the build machine
    /// (`BUILDCFLAGS`, …): `toolchains/abuild-defaults.toml`'s, without an arch's
    /// additions, which are for Alpine's loader (a glibc before 2.36 cannot load a
    /// program linked with `-z pack-relative-relocs`).
    pub build_machine: BTreeMap<String, String>,
    /// For the report and the log: which file, for which arch.
    pub origin: String,
}

impl AbuildDefaults {
    /// A variable's value ("" when unset).
    pub fn get(&self, k: &str) -> &str {
        self.vars.get(k).map(String::as_str).unwrap_or("")
    }

    /// A flag variable for the build machine's compiler ("" when unset).
    pub fn build_machine(&self, k: &str) -> &str {
        self.build_machine.get(k).map(String::as_str).unwrap_or("")
    }

    /// `toolchains/abuild-defaults.toml`.
    pub fn fallback(cx: &Context) -> Result<AbuildDefaults> {
        let p = cx.layout.toolchains_data().join("abuild-defaults.toml");
        let vars: BTreeMap<String, String> = crate::config::load(&p)?;
        Ok(AbuildDefaults {
            build_machine: vars.clone(),
            vars,
            origin: "toolchains/abuild-defaults.toml (no abuild aport in the checkout)".into(),
        })
    }

    /// What the abuild aport at `dir` installs for `arch`.
    pub fn from_aport(
        cx: &Context,
        arch: &Arch,
        dir: &Path,
        settings: &BuildSettings,
    ) -> Result<AbuildDefaults> {
        let a = evaluate(cx, arch, dir, settings)?;
        let r = &a.recipe;
        let (s, url) = r
            .sources
            .iter()
            .find_map(|s| s.url.as_ref().map(|u| (s, u)))
            .with_context(|| format!("{}: no source tarball", r.path.display()))?;
        let say = |m: &str| eprintln!("  {m}");
        let tarball =
            crate::stages::packages::fetch::resolve_remote(cx, settings, &r.path, s, url, &say)?;
        let tmp = cx
            .layout
            .build
            .join("tmp")
            .join(format!("abuild-defaults-{}", arch.name));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(tmp.join("src"))?;
        let conf = tmp.join("default.conf");
        std::fs::write(&conf, default_conf_of(&tarball.path)?)?;
        let mut env = crate::stages::packages::env::recipe_env(
            &cx.arches,
            arch,
            Path::new("/nonexistent"),
            Path::new("/nonexistent"),
            settings,
            1,
        );
        env.extend([
            ("srcdir".into(), tmp.join("src").display().to_string()),
            ("pkgbasedir".into(), tmp.join("pkg").display().to_string()),
            ("HOME".into(), tmp.display().to_string()),
        ]);
        let out = Cmd::new("bash")
            .arg(crate::stages::packages::aport::abuild_sh(cx)?)
            .arg("defaults")
            .arg(&r.path)
            .arg(&conf)
            .env_clear()
            .envs(env)
            .output()
            .context("running bash")?;
        let _ = std::fs::remove_dir_all(&tmp);
        if !out.status.success() {
            bail!(
                "{}: the build settings for {} could not be read from its package():\n{}",
                r.path.display(),
                arch.name,
                crate::exec::tail_str(&String::from_utf8_lossy(&out.stderr), 10)
            );
        }
        let mut vars = BTreeMap::new();
        for kv in out.stdout.split(|&b| b == 0).filter(|b| !b.is_empty()) {
            let kv = String::from_utf8_lossy(kv);
            if let Some((k, v)) = kv.split_once('=') {
                if !JOB_VARS.contains(&k) {
                    vars.insert(k.to_string(), v.to_string());
                }
            }
        }
        for k in ["CFLAGS", "CXXFLAGS", "LDFLAGS"] {
            if !vars.contains_key(k) {
                bail!("{}: its default.conf exports no {k}", r.path.display());
            }
        }
        Ok(AbuildDefaults {
            vars,
            build_machine: settings.defaults.build_machine.clone(),
            origin: format!(
                "abuild {}-r{}'s default.conf for {} ({})",
                r.pkgver,
                r.pkgrel,
                arch.name,
                dir.display()
            ),
        })
    }
}

/// The abuild aport of the checkout an aport directory is in (`<checkout>/<repo>/<name>`
/// → `<checkout>/main/abuild`), if there is one.
pub fn abuild_aport_near(aport: &Path) -> Option<std::path::PathBuf> {
    let checkout = std::fs::canonicalize(aport)
        .ok()?
        .parent()?
        .parent()?
        .to_path_buf();
    let dir = checkout.join("main/abuild");
    dir.join("APKBUILD").is_file().then_some(dir)
}

/// `<top>/default.conf` of abuild's source tarball.
fn default_conf_of(tarball: &Path) -> Result<Vec<u8>> {
    let f = std::fs::File::open(tarball).with_context(|| tarball.display().to_string())?;
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(f));
    for e in ar
        .entries()
        .with_context(|| tarball.display().to_string())?
    {
        let mut e = e.with_context(|| tarball.display().to_string())?;
        let path = e.path()?.into_owned();
        let parts: Vec<_> = path.components().collect();
        if parts.len() == 2 && path.ends_with("default.conf") {
            let mut v = Vec::new();
            e.read_to_end(&mut v)?;
            return Ok(v);
        }
    }
    bail!("{}: no <top>/default.conf in it", tarball.display())
}
