//! No import cycle between the files of a folder: each folder's files import each other
//! one way only.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::imports::{find_cycle, source_files, SourceFile};
use crate::{rel, repo};

/// The folders of xtask whose files must not import each other in a circle, as modules.
/// Every folder of every crate under crates/ is checked too. `stages::packages` joins
/// when its cycle (build, fetch, runtime, sbom) is broken.
const FILE_CYCLE_FOLDERS: &[&str] = &["engine", "stages::bootstrap"];

/// The arrows between the files of the folder `folder` (a module path): file `a` -> file
/// `b` when `a` names `b`'s module or an item the folder's own module file takes from
/// `b` (`crate::engine::Graph`, re-exported from `graph`). The folder's module file
/// (`mod.rs`, or `x.rs` beside `x/`) is not one of its files: it declares them and is
/// their face to the rest of the crate, so what it takes from them and what they take
/// from it are no arrows here. A subfolder counts as one file.
fn file_graph(
    files: &[SourceFile],
    folder: &[String],
) -> BTreeMap<String, BTreeMap<String, String>> {
    let depth = folder.len();
    let member =
        |m: &[String]| (m.len() > depth && m.starts_with(folder)).then(|| m[depth].clone());
    let members: BTreeSet<String> = files.iter().filter_map(|f| member(&f.module)).collect();
    // What the folder's module file takes from its members, by the name it is known by.
    let mut through: BTreeMap<String, String> = BTreeMap::new();
    for f in files.iter().filter(|f| f.module == folder) {
        for (name, path) in &f.uses {
            let Some(m) = member(path).filter(|m| members.contains(m)) else {
                continue;
            };
            if name != "*" {
                through.insert(name.clone(), m);
                continue;
            }
            let module: Vec<String> = folder.iter().chain([&m]).cloned().collect();
            let globbed = files.iter().find(|g| g.module == module);
            for item in globbed.into_iter().flat_map(|g| &g.visible) {
                through.entry(item.clone()).or_insert_with(|| m.clone());
            }
        }
    }
    let mut edges: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for f in files {
        let Some(from) = member(&f.module) else {
            continue;
        };
        for p in &f.names {
            let Some(seg) = member(p) else { continue };
            let to = if members.contains(&seg) {
                seg
            } else if let Some(m) = through.get(&seg) {
                m.clone()
            } else {
                continue;
            };
            if to != from {
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

/// The import cycles between the files of the folders of the source tree `src`: those
/// named (module paths such as `stages::bootstrap`), or all of them. One message each.
fn file_cycles(src: &Path, folders: Option<&[&str]>) -> Vec<String> {
    let files = source_files(src);
    let folders: BTreeSet<Vec<String>> = match folders {
        Some(named) => named
            .iter()
            .map(|f| f.split("::").map(String::from).collect())
            .collect(),
        None => files
            .iter()
            .filter_map(|f| f.module.split_last().map(|(_, up)| up.to_vec()))
            .collect(),
    };
    let mut bad = Vec::new();
    for folder in folders {
        let edges = file_graph(&files, &folder);
        if let Some(cycle) = find_cycle(&edges) {
            let steps: Vec<String> = cycle
                .windows(2)
                .map(|w| format!("    {} -> {} (in {})", w[0], w[1], edges[&w[0]][&w[1]]))
                .collect();
            let dir = folder.iter().fold(src.to_path_buf(), |d, m| d.join(m));
            bad.push(format!("  {}/:\n{}", rel(&dir), steps.join("\n")));
        }
    }
    bad
}

/// Every crate's source tree under `root`/crates.
fn crate_sources(root: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(root.join("crates"))
        .unwrap()
        .flatten()
        .map(|e| e.path().join("src"))
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    out
}

fn assert_no_file_cycles(bad: &[String]) {
    assert!(
        bad.is_empty(),
        "import cycles between the files of a folder (move what they share into a file \
         of its own, so that imports run one way):\n{}",
        bad.join("\n")
    );
}

#[test]
fn no_import_cycle_between_the_files_of_a_folder() {
    let mut bad = file_cycles(&repo().join("xtask/src"), Some(FILE_CYCLE_FOLDERS));
    for src in crate_sources(&repo()) {
        bad.extend(file_cycles(&src, None));
    }
    assert_no_file_cycles(&bad);
}

/// The file-level check fails on a cycle between files, through a re-export and a glob
/// too, and not on files that only use what their folder's module file defines.
#[test]
fn the_file_cycle_check_fails_on_a_cycle() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    let write = |path: &str, text: &str| {
        let p = src.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write("lib.rs", "mod eng;\nmod other;\n");
    write(
        "eng/mod.rs",
        "mod a;\nmod b;\nmod c;\nmod d;\npub use a::A;\nuse d::*;\npub struct Engine;\nfn f() { c::g(); }\n",
    );
    write(
        "eng/a.rs",
        "use crate::eng::b::B;\nuse super::Engine;\npub struct A;\n",
    );
    write("eng/b.rs", "pub struct B;\nfn f() { super::c::g(); }\n");
    write(
        "eng/c.rs",
        "pub fn g() { let _ = crate::eng::A; }\n#[cfg(test)]\nmod tests { use super::g; }\n",
    );
    write("eng/d.rs", "pub struct D;\n");
    write("other.rs", "fn f() { let _ = crate::eng::Engine; }\n");
    let bad = file_cycles(&src, None);
    assert_eq!(bad.len(), 1, "{bad:#?}");
    for arrow in [
        "a -> b (in ",
        "eng/a.rs)",
        "b -> c (in ",
        "eng/b.rs)",
        "c -> a (in ",
        "eng/c.rs)",
    ] {
        assert!(bad[0].contains(arrow), "{arrow}: {}", bad[0]);
    }
    let failed = std::panic::catch_unwind(|| assert_no_file_cycles(&bad));
    assert!(failed.is_err(), "the check must fail on {bad:?}");
    // Through a glob re-export of the module file, and only the named folders.
    write(
        "eng/d.rs",
        "pub struct D;\nfn f() { let _ = crate::eng::A; }\n",
    );
    write("eng/a.rs", "use super::D;\npub struct A;\n");
    write("eng/c.rs", "pub fn g() {}\n");
    let bad = file_cycles(&src, Some(&["eng"]));
    assert!(bad.len() == 1 && bad[0].contains("a -> d"), "{bad:#?}");
    assert!(file_cycles(&src, Some(&["other"])).is_empty());
    // Broken: imports run one way.
    write("eng/d.rs", "pub struct D;\n");
    assert_no_file_cycles(&file_cycles(&src, None));
}
