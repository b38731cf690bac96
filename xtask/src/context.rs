//! What every command gets: where things live, the data tables, and run settings.

use std::collections::HashMap;
use std::sync::Mutex;

use anyhow::Result;

use crate::config::arch::ArchTable;
use crate::config::components::Components;
use crate::config::source::SourceSpec;
use crate::config::stages::Set;
use crate::exec::progress::Progress;
use crate::layout::Layout;
use crate::sources::{Resolved, Resolver};

pub struct Context {
    pub layout: Layout,
    pub arches: ArchTable,
    pub components: Components,
    /// Make jobs in total (shared through one jobserver).
    pub jobs: usize,
    /// Steps that may run at the same time.
    pub parallel: usize,
    pub keep_going: bool,
    pub offline: bool,
    pub mirrors: Vec<String>,
    /// Where packages are published, as abuild's REPODEST: `<repodest>/<repo>/<arch>/`
    /// (default `build/repo`).
    pub repodest: std::path::PathBuf,
    pub jobserver: Option<jobserver::Client>,
    pub progress: Progress,
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
        Ok(Context {
            layout,
            arches,
            components,
            jobs,
            parallel: jobs.max(2),
            keep_going: s.keep_going,
            offline: s.offline,
            mirrors: s.mirrors,
            repodest,
            jobserver,
            progress: Progress::new(s.quiet),
            host_versions: Mutex::new(HashMap::new()),
        })
    }

    /// The first line of `tool --version` (cached per run), or "missing".
    /// `MAKEFLAGS` that hand out jobs from the process's jobserver (for commands whose
    /// environment is set explicitly, such as the recipe sandbox; the command itself must
    /// be marked `.jobserver()` so the descriptors are inherited).
    pub fn jobserver_makeflags(&self) -> Option<String> {
        let client = self.jobserver.as_ref()?;
        let mut probe = std::process::Command::new("true");
        client.configure_make(&mut probe);
        probe
            .get_envs()
            .find(|(k, _)| *k == "MAKEFLAGS")
            .and_then(|(_, v)| v)
            .map(|v| v.to_string_lossy().into_owned())
    }

    pub fn host_tool_version(&self, tool: &str) -> String {
        if let Some(v) = self.host_versions.lock().expect("lock").get(tool) {
            return v.clone();
        }
        let v = duct::cmd!(tool, "--version")
            .stderr_to_stdout()
            .stdout_capture()
            .unchecked()
            .run()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .next()
                    .map(|l| l.trim().to_string())
            })
            .unwrap_or_else(|| "missing".into());
        self.host_versions
            .lock()
            .expect("lock")
            .insert(tool.to_string(), v.clone());
        v
    }

    /// The installed version of a Debian package, or "missing".
    pub fn host_package_version(&self, pkg: &str) -> String {
        let k = format!("dpkg:{pkg}");
        if let Some(v) = self.host_versions.lock().expect("lock").get(&k) {
            return v.clone();
        }
        let v = duct::cmd!("dpkg-query", "-W", "-f=${Version}", pkg)
            .stderr_null()
            .stdout_capture()
            .unchecked()
            .run()
            .ok()
            .filter(|o| o.status.success() && !o.stdout.is_empty())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_else(|| "missing".into());
        self.host_versions
            .lock()
            .expect("lock")
            .insert(k, v.clone());
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
