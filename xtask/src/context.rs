//! What every command gets: where things live, the data tables, and run settings.

use std::collections::HashMap;
use std::sync::Mutex;

use anyhow::Result;

use crate::config::arch::ArchTable;
use crate::config::components::Components;
use crate::config::source::SourceSpec;
use crate::config::stages::Set;
use crate::engine::{Engine, StepContext};
use crate::exec::progress::Progress;
use crate::exec::Cmd;
use crate::layout::Layout;
use crate::sources::{Resolved, Resolver};

pub struct Context {
    pub layout: Layout,
    pub arches: ArchTable,
    pub components: Components,
    /// Make jobs in total (shared through one jobserver, [`Engine::jobserver`]).
    pub jobs: usize,
    /// The step engine's settings: store, build trees, logs, parallelism, jobserver.
    pub engine: Engine,
    pub offline: bool,
    pub mirrors: Vec<String>,
    /// Where packages are published, as abuild's REPODEST: `<repodest>/<repo>/<arch>/`
    /// (default `build/repo`).
    pub repodest: std::path::PathBuf,
    host_versions: Mutex<HashMap<String, String>>,
}

pub struct Settings {
    pub jobs: Option<usize>,
    pub keep_going: bool,
    pub offline: bool,
    pub mirrors: Vec<String>,
    pub quiet: bool,
}

impl Context {
    pub fn new(layout: Layout, s: Settings) -> Result<Context> {
        let arches = ArchTable::load(&layout.toolchains_data().join("arch"))?;
        let components = Components::load(&layout.toolchains_data().join("components.toml"))?;
        let jobs = s.jobs.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
        });
        // GNU make's convention: every make (and this process) holds one implicit job
        // slot, so the pipe gets `jobs - 1` tokens and one make runs `jobs` jobs at once.
        let jobserver = jobserver::Client::new(jobs.saturating_sub(1)).ok();
        let repodest = layout.build.join("repo");
        let engine = Engine {
            store: layout.store(),
            work: layout.work(),
            logs: layout.logs(),
            parallel: jobs.max(2),
            keep_going: s.keep_going,
            jobserver,
            progress: Progress::new(s.quiet),
        };
        Ok(Context {
            layout,
            arches,
            components,
            jobs,
            engine,
            offline: s.offline,
            mirrors: s.mirrors,
            repodest,
            host_versions: Mutex::new(HashMap::new()),
        })
    }

    /// The same context with another cache directory (its store and shared sources);
    /// the same build tree, logs, jobserver and settings.
    pub fn with_cache_dir(&self, cache: std::path::PathBuf) -> Context {
        let mut layout = self.layout.clone();
        layout.cache = cache;
        let engine = Engine {
            store: layout.store(),
            work: self.engine.work.clone(),
            logs: self.engine.logs.clone(),
            parallel: self.engine.parallel,
            keep_going: self.engine.keep_going,
            jobserver: self.engine.jobserver.clone(),
            progress: self.engine.progress.clone(),
        };
        Context {
            layout,
            arches: self.arches.clone(),
            components: self.components.clone(),
            jobs: self.jobs,
            engine,
            offline: self.offline,
            mirrors: self.mirrors.clone(),
            repodest: self.repodest.clone(),
            host_versions: Mutex::new(HashMap::new()),
        }
    }

    /// `MAKEFLAGS` that hand out jobs from the process's jobserver (for commands whose
    /// environment is set explicitly, such as the recipe sandbox; the command itself must
    /// be marked `.jobserver()` so the descriptors are inherited).
    pub fn jobserver_makeflags(&self) -> Option<String> {
        crate::exec::jobserver_makeflags(self.engine.jobserver.as_ref()?)
    }

    /// The first line of `tool --version` (cached per run), or "missing".
    pub fn host_tool_version(&self, tool: &str) -> String {
        self.host_query(tool, || {
            let o = Cmd::new(tool).arg("--version").output_combined().ok()?;
            let text = String::from_utf8_lossy(&o.stdout).into_owned();
            let first = text.lines().next()?.trim().to_string();
            o.status.success().then_some(first)
        })
    }

    /// The installed version of a Debian package, or "missing".
    pub fn host_package_version(&self, pkg: &str) -> String {
        self.host_query(&format!("dpkg:{pkg}"), || {
            let o = Cmd::new("dpkg-query")
                .args(["-W", "-f=${Version}", pkg])
                .output()
                .ok()?;
            let v = String::from_utf8_lossy(&o.stdout).trim().to_string();
            (o.status.success() && !o.stdout.is_empty()).then_some(v)
        })
    }

    /// A fact about the host, found once per run ("missing" when `find` has none).
    fn host_query(&self, key: &str, find: impl FnOnce() -> Option<String>) -> String {
        if let Some(v) = self.host_versions.lock().expect("lock").get(key) {
            return v.clone();
        }
        let v = find().unwrap_or_else(|| "missing".into());
        self.host_versions
            .lock()
            .expect("lock")
            .insert(key.to_string(), v.clone());
        v
    }

    pub fn resolver<'a>(&'a self, say: &'a (dyn Fn(&str) + Sync)) -> Resolver<'a> {
        Resolver {
            layout: &self.layout,
            mirrors: &self.mirrors,
            offline: self.offline,
            say,
        }
    }

    /// Resolves a source, printing what it fetches.
    pub fn fetch(&self, spec: &SourceSpec) -> Result<Resolved> {
        let say = |m: &str| eprintln!("  {m}");
        self.resolver(&say).resolve(spec)
    }
}

impl Context {
    /// Publishes into the set's repositories (its `repodest`) from now on.
    pub fn use_repodest(&mut self, set: &Set) {
        if let Some(r) = &set.repodest {
            self.repodest = self.layout.build.join(r);
        }
    }
}

impl StepContext for Context {
    fn engine(&self) -> &Engine {
        &self.engine
    }
}
