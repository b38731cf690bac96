//! Per-arch facts live in toolchains/arch/<arch>.toml, not in code.

use std::collections::{BTreeMap, BTreeSet};

use proc_macro2::{TokenStream, TokenTree};
use syn::visit::Visit;

use crate::{is_test_module, rel, repo, rust_files};

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
