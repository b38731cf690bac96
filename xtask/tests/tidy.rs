//! The repository's conventions, checked by `cargo test` as rust-analyzer's `tidy.rs`
//! does: the layering of xtask's modules (no import cycle; the engine and the runner
//! know nothing of the stages, the commands or alpinist's data), no import cycle between
//! the files of a folder, one place that starts child processes (`exec/`), and the
//! length of files and functions.

use std::path::{Path, PathBuf};

#[path = "tidy/arch.rs"]
mod arch;
#[path = "tidy/folders.rs"]
mod folders;
#[path = "tidy/imports.rs"]
mod imports;
#[path = "tidy/layers.rs"]
mod layers;
#[path = "tidy/lengths.rs"]
mod lengths;
#[path = "tidy/processes.rs"]
mod processes;
#[path = "tidy/substitutes.rs"]
mod substitutes;

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

/// `p` from the checkout's root (as it is when outside the checkout: a self-test's files).
fn rel(p: &Path) -> String {
    p.strip_prefix(repo()).unwrap_or(p).display().to_string()
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
