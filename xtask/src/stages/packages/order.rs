//! What each aport needs built before it, from the recipes; the build order; host tools.

use std::collections::{BTreeMap, BTreeSet};

use alpinist_apk::dep::Dependency;
use alpinist_apkbuild::recipe::Recipe;
use anyhow::{bail, Result};

use crate::context::Context;
use crate::stages::packages::Aport;

/// The name of a dependency (`!name`, `name>=1`, `so:x=1` → `name`, `so:x`), as the apk
/// library parses it; a word apk would not take as a dependency stands for itself (the
/// recipe's own fields are checked when it is evaluated).
pub fn dep_name(d: &str) -> String {
    Dependency::parse_metadata(d)
        .map(|dep| dep.name)
        .unwrap_or_else(|_| d.to_string())
}

/// Which names go into the sysroot and which must be host tools (abuild's calcdeps for
/// a cross build).
pub fn split_deps(r: &Recipe) -> (Vec<String>, Vec<String>) {
    let own: BTreeSet<String> = r.package_names().into_iter().collect();
    let mut host_side = Vec::new();
    let mut build_side = Vec::new();
    let mb = r.words("makedepends_build");
    let mh = r.words("makedepends_host");
    if !mb.is_empty() || !mh.is_empty() {
        build_side.extend(mb);
        host_side.extend(mh);
    } else {
        build_side.extend(r.words("makedepends"));
    }
    let keep = |v: Vec<String>| -> Vec<String> {
        let mut seen = BTreeSet::new();
        v.into_iter()
            .filter(|d| !own.contains(&dep_name(d)) && seen.insert(d.clone()))
            .collect()
    };
    (keep(host_side), keep(build_side))
}

/// Who provides what among the recipes of one build: package names (subpackages too)
/// and `provides` names, each to its aport's index.
pub fn providers(aports: &[Aport]) -> BTreeMap<String, usize> {
    let mut provider: BTreeMap<String, usize> = BTreeMap::new();
    for (i, a) in aports.iter().enumerate() {
        for n in a.recipe.package_names() {
            provider.insert(n, i);
        }
        for p in a.recipe.words("provides") {
            provider.insert(dep_name(&p), i);
        }
    }
    provider
}

/// The target runtime from stage 1, packaged by [`crate::stages::packages::runtime::RuntimePackages`] before any aport.
pub const RUNTIME_NAMES: [&str; 7] = [
    "musl",
    "musl-dev",
    "linux-headers",
    "libgcc",
    "libstdc++",
    "libatomic",
    "libgomp",
];

/// What each aport needs built before it: the providers of its build dependencies
/// (`makedepends_host`, `makedepends_build`, …) and, transitively, the providers of those
/// packages' runtime `depends` (installed into its sysroot with them). A name nobody in
/// the build provides is left to the host (build side) or the stage 1 runtime; names of
/// the stage 1 runtime ([`RUNTIME_NAMES`]) never order anything.
pub fn needs(aports: &[Aport], provider: &BTreeMap<String, usize>) -> Vec<BTreeSet<usize>> {
    // The target runtime (musl-dev, libgcc, linux-headers, …) is there from stage 1, so
    // it never waits for the aports that provide newer builds of it.
    let lookup = |d: &String| -> Option<usize> {
        let n = dep_name(d);
        if d.starts_with('!') || RUNTIME_NAMES.contains(&n.as_str()) {
            return None;
        }
        provider.get(&n).copied()
    };
    // What a package needs at run time: its `depends`, and the libraries it was linked
    // against — those of its makedepends_host — whose so: dependencies abuild traces
    // into the package (acl-libs needs attr's libattr.so.1 although acl's recipe never
    // says so).
    let runtime: Vec<BTreeSet<usize>> = aports
        .iter()
        .enumerate()
        .map(|(i, a)| {
            a.recipe
                .words("depends")
                .iter()
                .chain(split_deps(&a.recipe).0.iter())
                .filter_map(lookup)
                .filter(|&j| j != i)
                .collect()
        })
        .collect();
    aports
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let (h, b) = split_deps(&a.recipe);
            let mut out = BTreeSet::new();
            let mut todo: Vec<usize> = h.iter().chain(b.iter()).filter_map(lookup).collect();
            while let Some(j) = todo.pop() {
                if j != i && out.insert(j) {
                    todo.extend(runtime[j].iter().copied());
                }
            }
            out
        })
        .collect()
}

/// A build-side dependency the host lacks.
#[derive(Debug, Clone)]
pub struct MissingTool {
    /// Index of the aport that needs it.
    pub aport: usize,
    /// The Debian/Ubuntu package that provides it, when there is one.
    pub debian: Option<String>,
    /// One line: the name, the recipe, and what provides it.
    pub message: String,
}

/// Build-side dependencies the host lacks, per aport.
pub fn missing_host_tools(
    cx: &Context,
    aports: &[Aport],
    provider: &BTreeMap<String, usize>,
) -> Result<Vec<MissingTool>> {
    let build_deps = crate::config::build_deps::load(&cx.layout)?;
    let mut missing = Vec::new();
    for (i, a) in aports.iter().enumerate() {
        for b in &split_deps(&a.recipe).1 {
            let n = dep_name(b);
            if provider.contains_key(&n) || RUNTIME_NAMES.contains(&n.as_str()) {
                continue;
            }
            // Alpine's cross toolchain packages (gcc-aarch64, g++-aarch64,
            // binutils-aarch64): the stage 1 toolchain is exactly that.
            let carch = &a.arch;
            if ["gcc", "g++", "binutils"]
                .iter()
                .any(|t| n == format!("{t}-{carch}"))
            {
                continue;
            }
            let path = a.recipe.path.display();
            match build_deps.iter().find(|m| m.alpine == n) {
                Some(m) => {
                    let Some(c) = &m.command else { continue };
                    if crate::host::on_path(c) {
                        continue;
                    }
                    let provided_by = match (&m.debian, &m.note) {
                        (Some(d), _) => format!("Debian/Ubuntu package {d}"),
                        (None, Some(note)) => note.clone(),
                        (None, None) => "no Debian package known".into(),
                    };
                    missing.push(MissingTool {
                        aport: i,
                        debian: m.debian.clone(),
                        message: format!("{n} ({path}: command {c}; {provided_by})"),
                    });
                }
                None => missing.push(MissingTool {
                    aport: i,
                    debian: None,
                    message: format!(
                        "{n} ({path}): not a package of this build and not in toolchains/build-deps.toml; add a mapping to a host command"
                    ),
                }),
            }
        }
    }
    Ok(missing)
}

/// The build-side dependencies the host lacks, after installing the Debian packages that
/// provide them when running as root (before the first recipe starts). As an ordinary
/// user nothing is installed and the returned list says what is missing; `install_hint`
/// gives the one command for all of it.
pub fn provide_host_tools(
    cx: &Context,
    aports: &[Aport],
    provider: &BTreeMap<String, usize>,
) -> Result<Vec<MissingTool>> {
    let missing = missing_host_tools(cx, aports, provider)?;
    let pkgs = debian_packages(&missing);
    if pkgs.is_empty() || !crate::host::can_install() {
        return Ok(missing);
    }
    eprintln!(
        "installing host packages the recipes need: {}",
        pkgs.join(" ")
    );
    crate::host::apt_install(&pkgs)?;
    missing_host_tools(cx, aports, provider)
}

/// The Debian packages that provide `missing`, sorted, each once.
pub fn debian_packages(missing: &[MissingTool]) -> Vec<String> {
    let mut pkgs: Vec<String> = missing.iter().filter_map(|m| m.debian.clone()).collect();
    pkgs.sort();
    pkgs.dedup();
    pkgs
}

/// The missing tools, one per line, and the one apt-get command that installs them.
pub fn missing_tools_message(missing: &[MissingTool]) -> String {
    let mut lines: Vec<&str> = missing.iter().map(|m| m.message.as_str()).collect();
    lines.sort();
    lines.dedup();
    let pkgs = debian_packages(missing);
    let mut msg = format!(
        "build-side dependencies (makedepends_build) that this host does not have:\n  {}",
        lines.join("\n  ")
    );
    if !pkgs.is_empty() {
        msg.push_str(&format!(
            "\ninstall them with:\n  sudo apt-get install -y --no-install-recommends {}\nor run `sudo cargo xtask setup`, which installs every package the recipes use",
            pkgs.join(" ")
        ));
    }
    msg
}

/// Orders recipes so that each comes after the recipes it needs; a cycle is an error
/// naming its members.
pub fn topo_order(aports: &[Aport], edges: &[BTreeSet<usize>]) -> Result<Vec<usize>> {
    let n = aports.len();
    let mut state = vec![0u8; n];
    let mut out = Vec::new();
    fn visit(
        i: usize,
        edges: &[BTreeSet<usize>],
        state: &mut [u8],
        out: &mut Vec<usize>,
        stack: &mut Vec<usize>,
        aports: &[Aport],
    ) -> Result<()> {
        match state[i] {
            2 => return Ok(()),
            1 => {
                let pos = stack.iter().position(|&x| x == i).unwrap_or(0);
                let names: Vec<String> = stack[pos..]
                    .iter()
                    .chain(std::iter::once(&i))
                    .map(|&x| aports[x].recipe.pkgname.clone())
                    .collect();
                bail!(
                    "dependency cycle between recipes: {} (each needs the next built first: through makedepends, or the runtime depends of a package it installs); break it with a BOOTSTRAP pass or a patch in patches/aports/",
                    names.join(" -> ")
                );
            }
            _ => {}
        }
        state[i] = 1;
        stack.push(i);
        for &j in &edges[i] {
            visit(j, edges, state, out, stack, aports)?;
        }
        stack.pop();
        state[i] = 2;
        out.push(i);
        Ok(())
    }
    for i in 0..n {
        visit(i, edges, &mut state, &mut out, &mut Vec::new(), aports)?;
    }
    Ok(out)
}
