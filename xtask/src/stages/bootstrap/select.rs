//! The aports a bootstrap builds: the set's names found in the checkout and evaluated,
//! then those that cannot build here (a host tool is missing) set aside, with every
//! aport that needs what they provide.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use crate::config::arch::Arch;
use crate::config::stages::AportsPin;
use crate::context::Context;
use crate::stages::bootstrap::checkout::locate;
use crate::stages::bootstrap::report::{entry, print_table, AportResult, Entry, SourceRef};
use crate::stages::packages::order::{
    dep_name, missing_tools_message, provide_host_tools, providers, split_deps, RUNTIME_NAMES,
};
use crate::stages::packages::{evaluate, Aport, BuildSettings};

/// The set's aports and what became of each so far.
pub struct Selection {
    /// One per name of the set, in its order: the table's lines.
    pub entries: Vec<Entry>,
    /// The aports that were evaluated and are for this arch.
    pub aports: Vec<Aport>,
    /// The entry of each aport.
    pub entry_of: Vec<usize>,
    /// The aports to build (indices into `aports`).
    pub kept: Vec<usize>,
}

impl Selection {
    /// Finds and evaluates every name. An aport that is missing or cannot be evaluated
    /// fails on its own; without --keep-going that stops the run here.
    pub fn evaluate(
        cx: &Context,
        arch: &Arch,
        pin: &AportsPin,
        checkout: &Path,
        names: &[String],
        settings: &BuildSettings,
    ) -> Result<Selection> {
        let mut sel = Selection {
            entries: Vec::new(),
            aports: Vec::new(),
            entry_of: Vec::new(),
            kept: Vec::new(),
        };
        for n in names {
            let Some(dir) = locate(checkout, &pin.repos, n) else {
                let why = format!(
                    "no {}/{n}/APKBUILD in {}",
                    pin.repos.join("|"),
                    checkout.display()
                );
                sel.entries.push(entry(n, AportResult::Missing, Some(why)));
                continue;
            };
            let evaluated = evaluate(cx, arch, &dir, settings);
            sel.add(n, dir, evaluated, arch);
        }
        let hard_failures = sel
            .entries
            .iter()
            .filter(|e| matches!(e.result, AportResult::Failed | AportResult::Missing))
            .count();
        if hard_failures > 0 && !cx.engine.keep_going {
            print_table(&sel.entries);
            bail!("{hard_failures} aports could not be found or evaluated (see above); --keep-going builds the rest");
        }
        sel.kept = (0..sel.aports.len()).collect();
        Ok(sel)
    }

    /// Records an evaluated (or not) aport.
    fn add(&mut self, n: &str, dir: PathBuf, evaluated: Result<Aport>, arch: &Arch) {
        match evaluated {
            Ok(a) if !a.recipe.builds_for(&arch.name) => {
                let why = format!(
                    "arch=\"{}\" does not include {}",
                    a.recipe.words("arch").join(" "),
                    arch.name
                );
                let mut e = entry(n, AportResult::NotForArch, Some(why));
                e.dir = Some(dir);
                self.entries.push(e);
            }
            Ok(a) => {
                let mut e = entry(n, AportResult::Pending, None);
                e.dir = Some(dir);
                e.version = Some(format!("{}-r{}", a.recipe.pkgver, a.recipe.pkgrel));
                e.notes = a.overrides.clone();
                e.sources = a
                    .recipe
                    .sources
                    .iter()
                    .map(|s| SourceRef {
                        file: s.name.clone(),
                        sha512: s.sha512.clone(),
                        origin: None,
                        substitute: None,
                    })
                    .collect();
                self.entry_of.push(self.entries.len());
                self.entries.push(e);
                self.aports.push(a);
            }
            Err(err) => {
                let mut e = entry(n, AportResult::Failed, Some(format!("{err:#}")));
                e.dir = Some(dir);
                self.entries.push(e);
            }
        }
    }

    /// Sets aside the aports whose host tools are missing (installed first when running
    /// as root) and, transitively, those that need what they provide, except the target
    /// runtime, which stage 1 provides as well. Without --keep-going a missing tool
    /// stops the run.
    pub fn exclude_unbuildable(&mut self, cx: &Context) -> Result<()> {
        let provider = providers(&self.aports);
        let mut excluded: BTreeMap<usize, (AportResult, String)> = BTreeMap::new();
        let missing_tools = provide_host_tools(cx, &self.aports, &provider)?;
        if !missing_tools.is_empty() {
            if !cx.engine.keep_going {
                bail!(
                    "{}\n--keep-going builds the rest",
                    missing_tools_message(&missing_tools)
                );
            }
            eprintln!("{}", missing_tools_message(&missing_tools));
        }
        for m in missing_tools {
            excluded.entry(m.aport).or_insert_with(|| {
                (
                    AportResult::Failed,
                    format!("host tool missing: {}", m.message),
                )
            });
        }
        self.exclude_dependents(&provider, &mut excluded);
        self.kept = (0..self.aports.len())
            .filter(|i| !excluded.contains_key(i))
            .collect();
        for (i, (result, why)) in excluded {
            let e = &mut self.entries[self.entry_of[i]];
            e.result = result;
            e.reason = Some(why);
        }
        Ok(())
    }

    /// Adds to `excluded`, until nothing changes, every aport that needs something only
    /// an excluded aport provides.
    fn exclude_dependents(
        &self,
        provider: &BTreeMap<String, usize>,
        excluded: &mut BTreeMap<usize, (AportResult, String)>,
    ) {
        loop {
            let before = excluded.len();
            for (i, a) in self.aports.iter().enumerate() {
                if excluded.contains_key(&i) {
                    continue;
                }
                let (h, b) = split_deps(&a.recipe);
                let lost = h.iter().chain(b.iter()).find_map(|d| {
                    let n = dep_name(d);
                    let j = *provider.get(&n)?;
                    (j != i
                        && excluded.contains_key(&j)
                        && !RUNTIME_NAMES.contains(&n.as_str())
                        && !d.starts_with('!'))
                    .then(|| {
                        format!(
                            "needs {n} from {} (not built)",
                            self.aports[j].recipe.pkgname
                        )
                    })
                });
                if let Some(why) = lost {
                    excluded.insert(i, (AportResult::Skipped, why));
                }
            }
            if excluded.len() == before {
                break;
            }
        }
    }

    /// Every package name (and `provides` name) of the aports that were built or cached.
    pub fn built_names(&self) -> BTreeSet<String> {
        self.kept
            .iter()
            .filter(|&&i| self.entries[self.entry_of[i]].result.is_built())
            .flat_map(|&i| {
                let r = &self.aports[i].recipe;
                r.package_names()
                    .into_iter()
                    .chain(r.words("provides").into_iter().map(|p| dep_name(&p)))
            })
            .collect()
    }
}
