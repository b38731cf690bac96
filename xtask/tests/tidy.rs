//! The repository's conventions, checked by `cargo test` as rust-analyzer's `tidy.rs`
//! does: the layering of xtask's modules (no import cycle; the engine and the runner
//! know nothing of the stages, the commands or alpinist's data), one place that starts
//! child processes (`exec/`), and the length of files and functions.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use proc_macro2::{TokenStream, TokenTree};
use syn::spanned::Spanned;
use syn::visit::Visit;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Every `.rs` file under `dir`, build outputs aside.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if p.is_dir() {
                if !["target", "build", ".git"].contains(&name.as_str()) {
                    stack.push(p);
                }
            } else if name.ends_with(".rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn parse(p: &Path) -> syn::File {
    let text = std::fs::read_to_string(p).unwrap();
    syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn rel(p: &Path) -> String {
    p.strip_prefix(repo()).unwrap().display().to_string()
}

// --- module layering -------------------------------------------------------------------

/// The module a file of xtask/src is (`engine::plan`, `stages::packages::build`).
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let mut parts: Vec<String> = file
        .strip_prefix(src)
        .unwrap()
        .with_extension("")
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The layer a module belongs to, as the checks see it: a top-level module, or one
/// stage or one command (`stages::packages`, `commands::plan`).
fn node(module: &[String]) -> Option<String> {
    let first = module.first()?;
    match (first.as_str(), module.get(1)) {
        ("stages" | "commands", Some(second)) => Some(format!("{first}::{second}")),
        _ => Some(first.clone()),
    }
}

/// Collects the `crate::…` and `super::…` paths a file names, in code, `use` trees and
/// macro arguments (doc comments are not code).
struct Paths {
    module: Vec<String>,
    found: Vec<Vec<String>>,
}

impl Paths {
    fn add(&mut self, segs: Vec<String>) {
        let mut segs = segs.into_iter().peekable();
        let mut abs = match segs.peek().map(String::as_str) {
            Some("crate") => {
                segs.next();
                Vec::new()
            }
            Some("super") => self.module.clone(),
            _ => return,
        };
        for s in segs {
            if s == "super" {
                abs.pop();
            } else {
                abs.push(s);
            }
        }
        self.found.push(abs);
    }

    fn tokens(&mut self, ts: TokenStream) {
        let toks: Vec<TokenTree> = ts.into_iter().collect();
        let mut i = 0;
        while i < toks.len() {
            if let TokenTree::Group(g) = &toks[i] {
                self.tokens(g.stream());
            }
            if let TokenTree::Ident(id) = &toks[i] {
                if id == "crate" || id == "super" {
                    let mut segs = vec![id.to_string()];
                    let mut j = i + 1;
                    while j + 2 < toks.len() + 1 {
                        let colons = matches!((&toks.get(j), &toks.get(j + 1)),
                            (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b))) if a.as_char() == ':' && b.as_char() == ':');
                        match (colons, toks.get(j + 2)) {
                            (true, Some(TokenTree::Ident(next))) => {
                                segs.push(next.to_string());
                                j += 3;
                            }
                            _ => break,
                        }
                    }
                    if segs.len() > 1 {
                        self.add(segs);
                    }
                    i = j;
                    continue;
                }
            }
            i += 1;
        }
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, t: &syn::UseTree) {
        match t {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => self.leaf(prefix, &n.ident),
            syn::UseTree::Rename(r) => self.leaf(prefix, &r.ident),
            syn::UseTree::Glob(_) => self.add(prefix.clone()),
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.use_tree(prefix, t);
                }
            }
        }
    }

    fn leaf(&mut self, prefix: &[String], ident: &syn::Ident) {
        let mut v = prefix.to_vec();
        if ident != "self" {
            v.push(ident.to_string());
        }
        self.add(v);
    }
}

impl<'ast> Visit<'ast> for Paths {
    fn visit_path(&mut self, p: &'ast syn::Path) {
        self.add(p.segments.iter().map(|s| s.ident.to_string()).collect());
        syn::visit::visit_path(self, p);
    }
    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        self.use_tree(&mut Vec::new(), &u.tree);
    }
    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        self.tokens(m.tokens.clone());
        syn::visit::visit_macro(self, m);
    }
}

/// The arrows between layers: which layers each one names, and where.
fn module_graph() -> BTreeMap<String, BTreeMap<String, String>> {
    let src = repo().join("xtask/src");
    let mut edges: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for f in rust_files(&src) {
        let module = module_of(&src, &f);
        let Some(from) = node(&module) else { continue };
        let mut v = Paths {
            module,
            found: Vec::new(),
        };
        v.visit_file(&parse(&f));
        for p in v.found {
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
                    .or_insert_with(|| rel(&f));
            }
        }
    }
    edges
}

/// A cycle in `edges`, as the layers on it, if there is one.
fn find_cycle(edges: &BTreeMap<String, BTreeMap<String, String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        edges: &BTreeMap<String, BTreeMap<String, String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(pos) = stack.iter().position(|s| s == n) {
            let mut c = stack[pos..].to_vec();
            c.push(n.to_string());
            return Some(c);
        }
        if !done.insert(n.to_string()) {
            return None;
        }
        stack.push(n.to_string());
        for to in edges.get(n).into_iter().flat_map(|m| m.keys()) {
            if let Some(c) = visit(to, edges, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|n| visit(n, edges, &mut Vec::new(), &mut done))
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

// --- child processes -------------------------------------------------------------------

/// Finds `Command::new` and `duct::` in code, `#[cfg(test)]` modules aside.
struct Spawns {
    found: Vec<usize>,
}

impl<'ast> Visit<'ast> for Spawns {
    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        if !is_test_module(m) {
            syn::visit::visit_item_mod(self, m);
        }
    }
    fn visit_path(&mut self, p: &'ast syn::Path) {
        let segs: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
        let spawn = segs.ends_with(&["Command".to_string(), "new".to_string()])
            || segs.first().is_some_and(|s| s == "duct");
        if spawn {
            self.found.push(p.span().start().line);
        }
        syn::visit::visit_path(self, p);
    }
    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        let text = m.tokens.to_string();
        if text.contains("Command :: new") || text.contains("duct ::") {
            self.found.push(m.span().start().line);
        }
        syn::visit::visit_macro(self, m);
    }
}

/// A `#[cfg(test)]` module: test code, which the checks leave aside.
fn is_test_module(m: &syn::ItemMod) -> bool {
    m.attrs
        .iter()
        .any(|a| a.path().is_ident("cfg") && a.meta.to_token_stream_string().contains("test"))
}

trait MetaText {
    fn to_token_stream_string(&self) -> String;
}

impl MetaText for syn::Meta {
    fn to_token_stream_string(&self) -> String {
        quote_meta(self)
    }
}

fn quote_meta(m: &syn::Meta) -> String {
    match m {
        syn::Meta::List(l) => l.tokens.to_string(),
        _ => String::new(),
    }
}

#[test]
fn child_processes_start_only_in_exec() {
    let src = repo().join("xtask/src");
    let mut bad = Vec::new();
    for f in rust_files(&src) {
        if f.starts_with(src.join("exec")) {
            continue;
        }
        let mut v = Spawns { found: Vec::new() };
        v.visit_file(&parse(&f));
        bad.extend(v.found.iter().map(|l| format!("  {}:{l}", rel(&f))));
    }
    assert!(
        bad.is_empty(),
        "a child process started outside xtask/src/exec (use exec::Cmd):\n{}",
        bad.join("\n")
    );
}

// --- lengths ---------------------------------------------------------------------------

const MAX_FILE_LINES: usize = 900;
const MAX_FN_LINES: usize = 150;

#[test]
fn no_file_in_xtask_is_over_900_lines() {
    let mut bad = Vec::new();
    for f in rust_files(&repo().join("xtask")) {
        let n = std::fs::read_to_string(&f).unwrap().lines().count();
        if n > MAX_FILE_LINES {
            bad.push(format!("  {} ({n} lines)", rel(&f)));
        }
    }
    assert!(
        bad.is_empty(),
        "files over {MAX_FILE_LINES} lines:\n{}",
        bad.join("\n")
    );
}

/// The length of every function with a body: from `fn` to its closing brace.
struct Fns {
    found: Vec<(String, usize, usize)>,
}

impl Fns {
    fn add(&mut self, sig: &syn::Signature, block: &syn::Block) {
        let start = sig.fn_token.span.start().line;
        let end = block.brace_token.span.close().end().line;
        self.found
            .push((sig.ident.to_string(), start, end + 1 - start));
    }
}

impl<'ast> Visit<'ast> for Fns {
    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        self.add(&f.sig, &f.block);
        syn::visit::visit_item_fn(self, f);
    }
    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        self.add(&f.sig, &f.block);
        syn::visit::visit_impl_item_fn(self, f);
    }
    fn visit_trait_item_fn(&mut self, f: &'ast syn::TraitItemFn) {
        if let Some(b) = &f.default {
            self.add(&f.sig, b);
        }
        syn::visit::visit_trait_item_fn(self, f);
    }
}

#[test]
fn no_function_in_the_project_is_over_150_lines() {
    let mut files = rust_files(&repo().join("xtask"));
    files.extend(rust_files(&repo().join("crates")));
    let mut bad = Vec::new();
    for f in files {
        let mut v = Fns { found: Vec::new() };
        v.visit_file(&parse(&f));
        let file = rel(&f);
        for (name, line, len) in v.found {
            if len > MAX_FN_LINES {
                bad.push(format!("  {file}:{line} fn {name} ({len} lines)"));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "functions over {MAX_FN_LINES} lines:\n{}",
        bad.join("\n")
    );
}

// --- per-arch facts --------------------------------------------------------------------

/// Files allowed to name more than one arch, and why.
const ARCH_TABLE_ALLOWED: &[(&str, &str)] = &[(
    "crates/apk/src/solver.rs",
    "the apk library's default arch when a root has no etc/apk/arch, as apk-tools \
     compiles one in; a library of its own, it cannot read alpinist's arch files",
)];

/// Every word by which code could name an arch — its Alpine name, the CPU part of its
/// triple, Rust's `std::env::consts::ARCH` for it — mapped to the Alpine name, read from
/// toolchains/arch/*.toml.
fn arch_words() -> BTreeMap<String, String> {
    let mut words = BTreeMap::new();
    for e in std::fs::read_dir(repo().join("toolchains/arch"))
        .unwrap()
        .flatten()
    {
        let p = e.path();
        if p.extension().and_then(|x| x.to_str()) != Some("toml") {
            continue;
        }
        let v: toml::Value = toml::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        let name = v["name"].as_str().unwrap().to_string();
        let cpu = v["triple"].as_str().unwrap().split('-').next().unwrap();
        words.insert(cpu.to_string(), name.clone());
        if let Some(h) = v["rust"].get("host_arch").and_then(|h| h.as_str()) {
            words.insert(h.to_string(), name.clone());
        }
        words.insert(name.clone(), name);
    }
    assert!(words.len() >= 9, "toolchains/arch has the arch files");
    words
}

/// The arches a text names, word by word.
fn arches_named(text: &str, words: &BTreeMap<String, String>) -> BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter_map(|w| words.get(w).cloned())
        .collect()
}

/// The string literals of a Rust file (in macros too), `#[cfg(test)]` modules and
/// attributes (doc comments) aside.
#[derive(Default)]
struct Literals {
    text: String,
}

impl Literals {
    fn tokens(&mut self, ts: TokenStream) {
        for t in ts {
            match t {
                TokenTree::Group(g) => self.tokens(g.stream()),
                TokenTree::Literal(l) => {
                    self.text.push_str(&l.to_string());
                    self.text.push('\n');
                }
                _ => {}
            }
        }
    }
}

impl<'ast> Visit<'ast> for Literals {
    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        if !is_test_module(m) {
            syn::visit::visit_item_mod(self, m);
        }
    }
    fn visit_attribute(&mut self, _: &'ast syn::Attribute) {}
    fn visit_lit_str(&mut self, l: &'ast syn::LitStr) {
        self.text.push_str(&l.value());
        self.text.push('\n');
    }
    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        self.tokens(m.tokens.clone());
    }
}

fn rust_literals(source: &str) -> String {
    let mut v = Literals::default();
    v.visit_file(&syn::parse_file(source).unwrap());
    v.text
}

/// A shell file's code, comments aside.
fn shell_code(source: &str) -> String {
    source
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .map(|l| l.split(" #").next().unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Files under xtask/src, crates/*/src and crates/*/sh that name two or more arches in
/// their code: a per-arch table, which belongs in toolchains/arch/<arch>.toml.
fn arch_tables() -> Vec<String> {
    let words = arch_words();
    let mut files = rust_files(&repo().join("xtask/src"));
    for c in std::fs::read_dir(repo().join("crates")).unwrap().flatten() {
        files.extend(rust_files(&c.path().join("src")));
        if let Ok(sh) = std::fs::read_dir(c.path().join("sh")) {
            files.extend(sh.flatten().map(|e| e.path()));
        }
    }
    let mut bad = Vec::new();
    for f in files {
        let file = rel(&f);
        if ARCH_TABLE_ALLOWED.iter().any(|(a, _)| *a == file) {
            continue;
        }
        let source = std::fs::read_to_string(&f).unwrap();
        let code = if file.ends_with(".rs") {
            rust_literals(&source)
        } else {
            shell_code(&source)
        };
        let named = arches_named(&code, &words);
        if named.len() >= 2 {
            bad.push(format!(
                "  {file}: {}",
                named.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    bad
}

#[test]
fn no_per_arch_table_in_code() {
    let bad = arch_tables();
    assert!(
        bad.is_empty(),
        "per-arch tables in code; put the facts in toolchains/arch/<arch>.toml and read \
         them from there (abuild.sh: through the recipe's environment):\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_arch_table_check_finds_tables() {
    let words = arch_words();
    let rust = r#"
        /// x86 and aarch64 in a doc comment are words, not a table.
        fn cpu(a: &str) -> &str {
            match a { "x86" => "i686", "armhf" | "armv7" => "arm", other => other }
        }
        fn f() { let _ = format!("{}", "ppc64le"); }
        #[cfg(test)]
        mod tests { const A: &str = "s390x"; }
    "#;
    let named = arches_named(&rust_literals(rust), &words);
    let want: BTreeSet<String> = ["x86", "armhf", "armv7", "ppc64le"]
        .map(String::from)
        .into();
    assert_eq!(named, want);
    let sh = "case $CARCH in\n# riscv64) in a comment\ni586) x=1 ;; # loongarch64\npowerpc64le) ;;\nesac\n";
    let named = arches_named(&shell_code(sh), &words);
    assert_eq!(named, ["x86", "ppc64le"].map(String::from).into());
}

/// Every data file of the checkout with `[[substitute]]` entries: alpinist's own
/// (toolchains/sources.toml) and the fixtures'.
fn substitute_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![repo()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if p.is_dir() {
                if !["target", "build", ".git"].contains(&name.as_str()) {
                    stack.push(p);
                }
            } else if name.ends_with(".toml")
                && std::fs::read_to_string(&p)
                    .unwrap()
                    .contains("[[substitute]]")
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// No source is a file someone once made by hand: every documented substitute names an
/// origin alpinist obtains it from by itself (URLs, Debian, git trees, a file at a git
/// commit, a file of the checkout), checked when the file is loaded.
#[test]
fn every_substitute_has_an_origin_alpinist_runs() {
    let files = substitute_files();
    assert!(
        files.iter().any(|f| f.ends_with("toolchains/sources.toml")),
        "{files:?}"
    );
    for f in &files {
        if let Err(e) = xtask::sources::substitute::AportSources::load(std::slice::from_ref(f)) {
            panic!("{}: {e:#}", f.display());
        }
    }
    // The rule itself: an entry with only a description of how it was made is refused.
    let d = tempfile::tempdir().unwrap();
    let bad = d.path().join("sources.toml");
    std::fs::write(
        &bad,
        r#"
[[substitute]]
for = "x-1.tar.gz"
for_sha512 = "00"
file = "x-1.git-tag.tar.gz"
sha512 = "00"
why = "made by hand"
"#,
    )
    .unwrap();
    let err =
        xtask::sources::substitute::AportSources::load(std::slice::from_ref(&bad)).unwrap_err();
    let msg = format!("{err:#}");
    assert!(
        msg.contains("the substitute for x-1.tar.gz")
            && msg.contains("names no origin alpinist can obtain it from"),
        "{msg}"
    );
    // `made_by` prose is no origin at all: the field is gone.
    std::fs::write(
        &bad,
        r#"
[[substitute]]
for = "x-1.tar.gz"
for_sha512 = "00"
file = "x-1.git-tag.tar.gz"
sha512 = "00"
why = "made by hand"
made_by = "git archive … by hand"
"#,
    )
    .unwrap();
    let err = xtask::sources::substitute::AportSources::load(&[bad]).unwrap_err();
    assert!(format!("{err:#}").contains("made_by"), "{err:#}");
}
