//! Shared test helpers: a scratch layout and a small configurable step.

#![allow(dead_code)]

pub mod https;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::Result;
use xtask::context::{Context, Settings};
use xtask::engine::{InputKind, Inputs, Step, StepRun, Use};
use xtask::exec::Cmd;
use xtask::layout::Layout;

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The build directory of the tests' alpinist runs (`ALPINIST_BUILD_DIR`): their
/// packages, root filesystems, reports and logs stay out of the checkout's `build/`,
/// which holds the user's own (a fixture busybox published into `build/repo` would sit
/// next to the real one). The store is the shared cache, so built steps are reused.
pub fn out() -> PathBuf {
    repo().join("build/tests/out")
}

/// The checkout's stage 1 toolchain for `arch` (`build/toolchains/<arch>`).
///
/// Every test that needs what `cargo xtask test` sets up first — the aarch64 toolchain,
/// root for binfmt_misc — is `#[ignore]`d with that reason: a plain `cargo test` leaves
/// it out and its summary line counts it as ignored; `cargo xtask test` runs it with
/// `--include-ignored`, and a missing prerequisite fails it here, saying what to do.
pub fn require_toolchain(arch: &str) -> PathBuf {
    let dir = repo().join("build/toolchains").join(arch);
    assert!(
        dir.join("alpinist-toolchain.toml").is_file(),
        "the {arch} stage 1 toolchain is not built ({}): `cargo xtask test` builds it first (or `cargo xtask toolchain --arch {arch}`)",
        dir.display()
    );
    dir
}

/// Root, for binfmt_misc and the fixture roots (see [`require_toolchain`]).
pub fn require_root() {
    assert!(
        alpinist_apk::install::running_as_root(),
        "this test registers qemu with binfmt_misc and builds roots: run `cargo xtask test` as root"
    );
}

/// The alpinist binary, run in the checkout with the tests' build directory.
pub fn xtask() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_xtask"));
    c.current_dir(repo()).env("ALPINIST_BUILD_DIR", out());
    c
}

/// A layout whose build/cache/distfiles are in `tmp`, reading data from `repo`.
pub fn layout(tmp: &Path, repo: &Path) -> Layout {
    Layout {
        repo: repo.to_path_buf(),
        build: tmp.join("build"),
        cache: tmp.join("cache"),
        distfiles: tmp.join("distfiles"),
    }
}

pub fn context(tmp: &Path) -> Context {
    context_in(tmp, &repo())
}

pub fn context_in(tmp: &Path, repo: &Path) -> Context {
    let l = layout(tmp, repo);
    l.ensure().unwrap();
    Context::new(
        l,
        Settings {
            jobs: Some(2),
            keep_going: false,
            offline: false,
            mirrors: vec![],
            quiet: true,
        },
    )
    .unwrap()
}

/// A step that writes `content` to `out.txt`, optionally after running `sleep`.
/// `sleep_secs` and `runs` are not inputs: they don't change the output.
#[derive(Clone)]
pub struct FileStep {
    pub name: String,
    pub inputs: Vec<(InputKind, String, String)>,
    pub content: String,
    pub sleep_secs: u32,
    pub fail: bool,
    pub runs: Arc<AtomicUsize>,
    /// The steps it uses (not inputs of its own: the engine adds their keys).
    pub uses: Vec<Use>,
}

impl FileStep {
    pub fn new(name: &str) -> FileStep {
        FileStep {
            name: name.into(),
            inputs: vec![(InputKind::Flag, "greeting".into(), "hello".into())],
            content: "hello\n".into(),
            sleep_secs: 0,
            fail: false,
            runs: Arc::new(AtomicUsize::new(0)),
            uses: Vec::new(),
        }
    }
    /// The same step, using `step` too.
    pub fn using(mut self, step: impl Into<Use>) -> FileStep {
        self.uses.push(step.into());
        self
    }
    pub fn runs(&self) -> usize {
        self.runs.load(Ordering::SeqCst)
    }
}

impl Step<Context> for FileStep {
    fn name(&self) -> String {
        self.name.clone()
    }
    fn uses(&self) -> Vec<Use> {
        self.uses.clone()
    }
    fn inputs(&self, _cx: &Context) -> Result<Inputs> {
        let mut i = Inputs::new();
        for (k, n, v) in &self.inputs {
            i.add(*k, n.clone(), v.clone());
        }
        Ok(i)
    }
    fn run(&self, _cx: &Context, run: &mut StepRun) -> Result<()> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        std::fs::write(run.out.join("partial.txt"), "started")?;
        if self.sleep_secs > 0 {
            run.log
                .run(&Cmd::new("sleep").arg(self.sleep_secs.to_string()))?;
        }
        if self.fail {
            run.log
                .run(&Cmd::new("sh").args(["-c", "echo boom; exit 3"]))?;
        }
        std::fs::write(run.out.join("out.txt"), &self.content)?;
        Ok(())
    }
}

/// Directories under the store's temporary area (left by interrupted steps).
pub fn leftovers(cx: &Context) -> Vec<PathBuf> {
    std::fs::read_dir(cx.layout.store().join(".tmp"))
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

/// Runs a command that must succeed; returns its stdout, or panics with both outputs.
pub fn run(cmd: &mut std::process::Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The body of an [`FnStep`].
pub type StepFn = dyn Fn(&mut StepRun) -> Result<()> + Send + Sync;

/// A step without inputs whose `run` is the given closure.
#[derive(Clone)]
pub struct FnStep {
    pub name: String,
    pub run: Arc<StepFn>,
    pub uses: Vec<Use>,
}

impl FnStep {
    pub fn new(
        name: &str,
        run: impl Fn(&mut StepRun) -> Result<()> + Send + Sync + 'static,
    ) -> FnStep {
        FnStep {
            name: name.into(),
            run: Arc::new(run),
            uses: Vec::new(),
        }
    }
    /// The same step, using `step` too.
    pub fn using(mut self, step: impl Into<Use>) -> FnStep {
        self.uses.push(step.into());
        self
    }
}

impl Step<Context> for FnStep {
    fn name(&self) -> String {
        self.name.clone()
    }
    fn uses(&self) -> Vec<Use> {
        self.uses.clone()
    }
    fn inputs(&self, _cx: &Context) -> Result<Inputs> {
        Ok(Inputs::new())
    }
    fn run(&self, _cx: &Context, run: &mut StepRun) -> Result<()> {
        (self.run)(run)
    }
}
