//! The length of files (900 lines) and of functions (150 lines), in xtask/ and crates/.

use std::path::PathBuf;

use syn::visit::Visit;

use crate::{parse, rel, repo, rust_files};

const MAX_FILE_LINES: usize = 900;
const MAX_FN_LINES: usize = 150;

/// The `.rs` files under `roots` over 900 lines, sources and tests alike, one line each.
fn long_files(roots: &[PathBuf]) -> Vec<String> {
    let mut bad = Vec::new();
    for f in roots.iter().flat_map(|r| rust_files(r)) {
        let n = std::fs::read_to_string(&f).unwrap().lines().count();
        if n > MAX_FILE_LINES {
            bad.push(format!("  {} ({n} lines)", rel(&f)));
        }
    }
    bad
}

fn assert_no_long_files(bad: &[String]) {
    assert!(
        bad.is_empty(),
        "files over {MAX_FILE_LINES} lines:\n{}",
        bad.join("\n")
    );
}

#[test]
fn no_file_in_the_project_is_over_900_lines() {
    assert_no_long_files(&long_files(&[repo().join("xtask"), repo().join("crates")]));
}

/// The check fails on a file of crates/ over 900 lines, a test file too.
#[test]
fn the_file_length_check_fails_on_a_long_crate_file() {
    let d = tempfile::tempdir().unwrap();
    let write = |path: &str, lines: usize| {
        let p = d.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "// a line\n".repeat(lines)).unwrap();
    };
    write("crates/x/src/big.rs", 901);
    write("crates/x/src/fits.rs", 900);
    write("crates/x/tests/long.rs", 950);
    let bad = long_files(&[d.path().join("crates")]);
    assert_eq!(bad.len(), 2, "{bad:#?}");
    assert!(
        bad[0].ends_with("crates/x/src/big.rs (901 lines)"),
        "{bad:#?}"
    );
    assert!(
        bad[1].ends_with("crates/x/tests/long.rs (950 lines)"),
        "{bad:#?}"
    );
    let failed = std::panic::catch_unwind(|| assert_no_long_files(&bad));
    assert!(failed.is_err(), "the check must fail on {bad:?}");
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
