//! The one place that knows where things live on disk.
//!
//! Everything alpinist writes goes under `build/` in the checkout, except the
//! content-addressed store and a copy of verified source files, which live in a cache
//! directory that several checkouts (or a CI run on the same machine) can share.
//! `build/store` is a symlink to the shared store so that paths in messages stay short.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

#[derive(Debug, Clone)]
pub struct Layout {
    /// The checkout: where `toolchains/`, `stages/` and `patches/` are read from.
    pub repo: PathBuf,
    /// `build/` in the checkout, or `--build-dir`.
    pub build: PathBuf,
    /// The shared cache directory (`--cache-dir`).
    pub cache: PathBuf,
    /// Where verified source files are looked for first (`--distfiles`).
    pub distfiles: PathBuf,
}

impl Layout {
    /// `build` defaults to `build/` in the checkout, `cache` to the user's cache
    /// directory, `distfiles` to `distfiles/` in the build directory.
    pub fn new(
        repo: PathBuf,
        build: Option<PathBuf>,
        cache: Option<PathBuf>,
        distfiles: Option<PathBuf>,
    ) -> Layout {
        let build = build.unwrap_or_else(|| repo.join("build"));
        let cache = cache.unwrap_or_else(default_cache_dir);
        let distfiles = distfiles.unwrap_or_else(|| build.join("distfiles"));
        Layout {
            repo,
            build,
            cache,
            distfiles,
        }
    }

    /// The repository root, found from the xtask crate's location at compile time, or
    /// from `ALPINIST_REPO` (tests point it at a scratch copy).
    pub fn repo_root() -> PathBuf {
        if let Some(p) = std::env::var_os("ALPINIST_REPO") {
            return PathBuf::from(p);
        }
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("xtask lives in the repository")
            .to_path_buf()
    }

    pub fn toolchains_data(&self) -> PathBuf {
        self.repo.join("toolchains")
    }
    pub fn stages_data(&self) -> PathBuf {
        self.repo.join("stages")
    }
    pub fn patches(&self) -> PathBuf {
        self.repo.join("patches")
    }
    /// Finished step outputs: `<store>/<key>-<name>/`.
    pub fn store(&self) -> PathBuf {
        self.cache.join("store")
    }
    /// A second, shared place for verified source files.
    pub fn shared_distfiles(&self) -> PathBuf {
        self.cache.join("distfiles")
    }
    pub fn logs(&self) -> PathBuf {
        self.build.join("logs")
    }
    /// Scratch build trees, one per step; removed after the step succeeds.
    pub fn work(&self) -> PathBuf {
        self.build.join("work")
    }
    /// `build/toolchains/<arch>`: a symlink to the finished toolchain in the store.
    pub fn toolchain_link(&self, arch: &str) -> PathBuf {
        self.build.join("toolchains").join(arch)
    }

    /// Creates the directories every command needs and the `build/store` link.
    pub fn ensure(&self) -> Result<()> {
        for d in [
            &self.build,
            &self.cache,
            &self.store(),
            &self.logs(),
            &self.distfiles,
        ] {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
        }
        let tag = self.cache.join("CACHEDIR.TAG");
        if !tag.exists() {
            std::fs::write(
                &tag,
                "Signature: 8a477f597d28d172789f06886806bc55\n# alpinist's shared cache (content-addressed step outputs and verified sources)\n",
            )?;
        }
        let link = self.build.join("store");
        if std::fs::symlink_metadata(&link).is_err() {
            let _ = std::os::unix::fs::symlink(self.store(), &link);
        }
        Ok(())
    }
}

fn default_cache_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|x| !x.is_empty()) {
        return PathBuf::from(x).join("alpinist");
    }
    if let Some(h) = std::env::var_os("HOME").filter(|x| !x.is_empty()) {
        return PathBuf::from(h).join(".cache").join("alpinist");
    }
    PathBuf::from("/tmp/alpinist-cache")
}
