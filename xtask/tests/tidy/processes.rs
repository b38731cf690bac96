//! One place starts child processes: `exec/`.

use syn::spanned::Spanned;
use syn::visit::Visit;

use crate::{is_test_module, parse, rel, repo, rust_files};

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
