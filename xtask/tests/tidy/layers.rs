//! The layering of xtask's modules: no import cycle between them, and the engine and the
//! runner know nothing of alpinist.

use std::collections::{BTreeMap, BTreeSet};

use syn::visit::Visit;

use crate::imports::{find_cycle, source_files, Paths};
use crate::{rel, repo};

/// The layer a module belongs to, as the checks see it: a top-level module, or one
/// stage or one command (`stages::packages`, `commands::plan`).
fn node(module: &[String]) -> Option<String> {
    let first = module.first()?;
    match (first.as_str(), module.get(1)) {
        ("stages" | "commands", Some(second)) => Some(format!("{first}::{second}")),
        _ => Some(first.clone()),
    }
}

/// The arrows between layers: which layers each one names, and where.
fn module_graph() -> BTreeMap<String, BTreeMap<String, String>> {
    let mut edges: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for f in source_files(&repo().join("xtask/src")) {
        let Some(from) = node(&f.module) else {
            continue;
        };
        for p in &f.names {
            // Only modules count: `crate::commands::ArchArgs` is `commands`.
            let module_len = p
                .iter()
                .take_while(|s| s.chars().next().is_some_and(|c| c.is_ascii_lowercase()))
                .count();
            let Some(to) = node(&p[..module_len.min(p.len())]) else {
                continue;
            };
            if to != from && !to.is_empty() {
                edges
                    .entry(from.clone())
                    .or_default()
                    .entry(to)
                    .or_insert_with(|| rel(&f.path));
            }
        }
    }
    edges
}

#[test]
fn no_import_cycle_between_modules() {
    let edges = module_graph();
    if let Some(cycle) = find_cycle(&edges) {
        let steps: Vec<String> = cycle
            .windows(2)
            .map(|w| format!("  {} -> {} (in {})", w[0], w[1], edges[&w[0]][&w[1]]))
            .collect();
        panic!("import cycle between xtask modules:\n{}", steps.join("\n"));
    }
}

/// What the engine and the runner may name: each other's lower layers only. Neither
/// knows the stages, the commands, the data files, the context or the sources.
#[test]
fn engine_and_exec_know_nothing_of_alpinist() {
    let allowed: BTreeMap<&str, &[&str]> =
        BTreeMap::from([("exec", &[][..]), ("engine", &["exec", "fsutil"][..])]);
    let edges = module_graph();
    let mut bad = Vec::new();
    for (from, ok) in &allowed {
        for (to, file) in edges.get(*from).into_iter().flatten() {
            if !ok.contains(&to.as_str()) {
                bad.push(format!("  {from} -> {to} (in {file})"));
            }
        }
    }
    assert!(bad.is_empty(), "forbidden imports:\n{}", bad.join("\n"));
}

/// The checks above find what they look for.
#[test]
fn the_layering_checks_find_cycles_and_paths() {
    let mut e: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (a, b) in [("a", "b"), ("b", "c"), ("c", "a"), ("d", "a")] {
        e.entry(a.into()).or_default().insert(b.into(), "f".into());
    }
    assert_eq!(find_cycle(&e).unwrap(), ["a", "b", "c", "a"]);
    e.get_mut("c").unwrap().clear();
    assert_eq!(find_cycle(&e), None);
    let mut v = Paths {
        module: vec!["engine".into(), "plan".into()],
        found: Vec::new(),
    };
    v.visit_file(
        &syn::parse_file(
            "use crate::stages::{packages::build, rootfs};\nuse super::store;\nfn f() { crate::commands::x(); bail!(\"{}\", crate::context::y()); }",
        )
        .unwrap(),
    );
    let nodes: BTreeSet<String> = v.found.iter().filter_map(|p| node(p)).collect();
    assert_eq!(
        nodes,
        BTreeSet::from(
            [
                "stages::packages",
                "stages::rootfs",
                "engine",
                "commands::x",
                "context"
            ]
            .map(String::from)
        )
    );
}
