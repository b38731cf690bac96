//! Reading a source tree's imports: each file's module, the `crate::…` and `super::…`
//! paths it names, what its `use` items bring in and what it defines; and finding a
//! cycle in a graph of them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use proc_macro2::{TokenStream, TokenTree};
use syn::visit::Visit;

use crate::{parse, rust_files};

/// The module a file of a source tree is (`engine::plan`, `stages::packages::build`).
pub fn module_of(src: &Path, file: &Path) -> Vec<String> {
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

/// Collects the `crate::…` and `super::…` paths a file names, in code, `use` trees and
/// macro arguments (doc comments are not code).
pub struct Paths {
    pub module: Vec<String>,
    pub found: Vec<Vec<String>>,
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
    /// An inline module (`mod tests { … }`): `super::` inside it is the file's module.
    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        if m.content.is_some() {
            self.module.push(m.ident.to_string());
            syn::visit::visit_item_mod(self, m);
            self.module.pop();
        }
    }
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

/// One file of a source tree, as the import checks see it.
pub struct SourceFile {
    pub path: PathBuf,
    /// Its module: `engine::plan`; `[]` for `lib.rs` and `main.rs`.
    pub module: Vec<String>,
    /// The `crate::…` and `super::…` paths it names, made absolute.
    pub names: Vec<Vec<String>>,
    /// What its `use` items bring in, made absolute where they start at the crate, at
    /// `self` or `super`, or at one of its own modules: (the name it is known by, the path).
    pub uses: Vec<(String, Vec<String>)>,
    /// The names it lets its parent see (what a glob import of it brings in).
    pub visible: Vec<String>,
}

/// Every file of the source tree `src` (`xtask/src`, `crates/apk/src`), read.
pub fn source_files(src: &Path) -> Vec<SourceFile> {
    rust_files(src)
        .into_iter()
        .map(|path| {
            let module = module_of(src, &path);
            let file = parse(&path);
            let mut v = Paths {
                module: module.clone(),
                found: Vec::new(),
            };
            v.visit_file(&file);
            SourceFile {
                uses: file_uses(&module, &file),
                visible: visible_names(&file),
                path,
                module,
                names: v.found,
            }
        })
        .collect()
}

/// The leaves of a `use` tree: the name each brings in (`*` for a glob) and its path as
/// written.
fn use_leaves(tree: &syn::UseTree) -> Vec<(String, Vec<String>)> {
    fn walk(t: &syn::UseTree, prefix: &mut Vec<String>, out: &mut Vec<(String, Vec<String>)>) {
        let mut leaf = |name: String, last: Option<&syn::Ident>| {
            let mut path = prefix.clone();
            path.extend(last.map(|i| i.to_string()));
            out.push((name, path));
        };
        match t {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                walk(&p.tree, prefix, out);
                prefix.pop();
            }
            syn::UseTree::Name(n) => leaf(n.ident.to_string(), Some(&n.ident)),
            syn::UseTree::Rename(r) => leaf(r.rename.to_string(), Some(&r.ident)),
            syn::UseTree::Glob(_) => leaf("*".into(), None),
            syn::UseTree::Group(g) => g.items.iter().for_each(|t| walk(t, prefix, out)),
        }
    }
    let mut out = Vec::new();
    walk(tree, &mut Vec::new(), &mut out);
    out
}

/// What the `use` items of a file with module `module` bring in: the name each is known
/// by and its absolute path, for the paths that start at the crate, `self`, `super` or
/// one of the file's own modules (`pub use graph::Graph` in `engine/mod.rs`).
fn file_uses(module: &[String], file: &syn::File) -> Vec<(String, Vec<String>)> {
    let own_mods: BTreeSet<String> = file
        .items
        .iter()
        .filter_map(|i| match i {
            syn::Item::Mod(m) => Some(m.ident.to_string()),
            _ => None,
        })
        .collect();
    let leaves = file.items.iter().flat_map(|i| match i {
        syn::Item::Use(u) => use_leaves(&u.tree),
        _ => Vec::new(),
    });
    leaves
        .filter_map(|(name, path)| {
            let (first, rest) = path.split_first()?;
            let mut abs = match first.as_str() {
                "crate" => Vec::new(),
                "self" => module.to_vec(),
                "super" => module[..module.len().checked_sub(1)?].to_vec(),
                m if own_mods.contains(m) => [module, &path[..1]].concat(),
                _ => return None,
            };
            for seg in rest {
                match seg.as_str() {
                    "super" => drop(abs.pop()),
                    "self" => {}
                    _ => abs.push(seg.clone()),
                }
            }
            Some((name, abs))
        })
        .collect()
}

/// The names a file lets its parent see at its top level: what a glob import of it
/// brings in (its items and `use`s that are not private).
fn visible_names(file: &syn::File) -> Vec<String> {
    let mut out = Vec::new();
    for item in &file.items {
        let (vis, name) = match item {
            syn::Item::Const(i) => (&i.vis, i.ident.to_string()),
            syn::Item::Enum(i) => (&i.vis, i.ident.to_string()),
            syn::Item::Fn(i) => (&i.vis, i.sig.ident.to_string()),
            syn::Item::Mod(i) => (&i.vis, i.ident.to_string()),
            syn::Item::Static(i) => (&i.vis, i.ident.to_string()),
            syn::Item::Struct(i) => (&i.vis, i.ident.to_string()),
            syn::Item::Trait(i) => (&i.vis, i.ident.to_string()),
            syn::Item::Type(i) => (&i.vis, i.ident.to_string()),
            syn::Item::Union(i) => (&i.vis, i.ident.to_string()),
            syn::Item::Use(u) if !matches!(u.vis, syn::Visibility::Inherited) => {
                out.extend(use_leaves(&u.tree).into_iter().map(|(n, _)| n));
                continue;
            }
            _ => continue,
        };
        if !matches!(vis, syn::Visibility::Inherited) {
            out.push(name);
        }
    }
    out
}

/// A cycle in `edges` (layers, or files), as the nodes on it, if there is one.
pub fn find_cycle(edges: &BTreeMap<String, BTreeMap<String, String>>) -> Option<Vec<String>> {
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
