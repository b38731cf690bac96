//! The v2 suite's harness: a fresh root per case, what a case is and how it runs (one
//! line on stderr, root and canary unchanged), and helpers to build the cases' packages.
//! What the v2 and v3 suites share (keys, canary, the refusal check, the run as
//! `nobody`) is in `common/hostile.rs`.

use std::path::PathBuf;

use alpinist_apk::db::PackageInfo;
use alpinist_apk::package::{q1, Signer};
use alpinist_apk::tarball::{self, Header};
use sha1::Digest;

use crate::common::hostile::*;
use crate::common::*;

pub type Entries = Vec<(Header, Vec<u8>)>;

/// A root with a base package installed, and a directory for a case's repositories.
pub struct World<'a> {
    pub base: &'a Base,
    pub root: PathBuf,
    pub work: PathBuf,
}

impl<'a> World<'a> {
    pub fn new(base: &'a Base, n: usize) -> World<'a> {
        let w = World {
            base,
            root: base.dir.join(format!("root-{n}")),
            work: base.dir.join(format!("case-{n}")),
        };
        let pkg = package(info("base", "1-r0"), base_entries(), Some(trusted()));
        let repo = w.repo("base", &[pkg], Some(trusted()));
        let (ok, out, err) = w.apk(&[
            "--initdb",
            "--arch",
            ARCH,
            "--keys-dir",
            base.keys.to_str().unwrap(),
            "-X",
            repo.to_str().unwrap(),
            "add",
            "base",
        ]);
        assert!(ok, "setting up the root: {out}{err}");
        w
    }

    /// `apk --root ROOT ARGS…`
    pub fn apk(&self, args: &[&str]) -> (bool, String, String) {
        let mut full = vec!["--root", self.root.to_str().unwrap()];
        full.extend_from_slice(args);
        apk(&full)
    }

    /// A repository `<work>/<name>` of packages, with their records, signed by `signer`.
    pub fn repo(&self, name: &str, packages: &[Vec<u8>], signer: Option<&Signer>) -> PathBuf {
        let files: Vec<(String, Vec<u8>)> = packages
            .iter()
            .map(|b| {
                let r = raw_record(b);
                (format!("{}-{}.apk", r.name, r.version), b.clone())
            })
            .collect();
        let records = packages.iter().map(|b| raw_record(b)).collect();
        repository(&self.work.join(name), &files, records, signer)
    }
}

pub fn base_entries() -> Entries {
    vec![
        dir("etc"),
        file("etc/base.conf", b"base\n"),
        dir("tmp"),
        dir("usr"),
        dir("usr/bin"),
        file("usr/bin/tool", b"#!/bin/sh\n"),
        dir("var"),
    ]
}

/// An index record made from the package's bytes without checking them (a hostile
/// package may be one our reader refuses): `C:` from the control member, name and version
/// from `.PKGINFO` as far as it can be read.
pub fn raw_record(bytes: &[u8]) -> PackageInfo {
    let mut members = Vec::new();
    let mut start = 0;
    while start < bytes.len() {
        match tarball::inflate_member(bytes, start, 64 << 20) {
            Ok((tar, r)) => {
                members.push((tar, r.clone()));
                start = r.end;
            }
            Err(_) => break,
        }
    }
    let control = members
        .iter()
        .find(|(t, _)| t.windows(9).take(2048).any(|w| w == b".PKGINFO\0"))
        .expect("a control member");
    let text = String::from_utf8_lossy(&control.0);
    let field = |k: &str| {
        text.split(['\n', '\0'])
            .find_map(|l| l.strip_prefix(&format!("{k} = ")))
            .unwrap_or_default()
            .to_string()
    };
    PackageInfo {
        checksum: q1(&sha1::Sha1::digest(&bytes[control.1.clone()])),
        name: field("pkgname"),
        version: field("pkgver"),
        arch: ARCH.into(),
        size: bytes.len() as u64,
        // apk-tools installs nothing of a package whose index says `I:0`.
        installed_size: field("size").parse().unwrap_or(1),
        ..PackageInfo::default()
    }
}

/// What a case does: packages installed first (which must succeed), then the hostile
/// packages and how they are offered.
pub struct Case {
    pub name: &'static str,
    pub first: Vec<Vec<u8>>,
    pub hostile: Vec<Vec<u8>>,
    /// Overrides the hostile repository's records (a lying index).
    pub records: Option<Vec<PackageInfo>>,
    pub index_signer: Option<&'static Signer>,
    pub add: Vec<&'static str>,
    pub extra_args: Vec<String>,
    pub expect: String,
    pub more: Vec<String>,
}

impl Case {
    pub fn new(
        name: &'static str,
        hostile: Vec<Vec<u8>>,
        add: &[&'static str],
        expect: &str,
    ) -> Case {
        Case {
            name,
            first: Vec::new(),
            hostile,
            records: None,
            index_signer: Some(trusted()),
            add: add.to_vec(),
            extra_args: Vec::new(),
            expect: expect.to_string(),
            more: Vec::new(),
        }
    }

    /// Another part the message must contain.
    pub fn expecting(mut self, more: &str) -> Case {
        self.more.push(more.to_string());
        self
    }

    pub fn first(mut self, first: Vec<Vec<u8>>) -> Case {
        self.first = first;
        self
    }
}

/// Runs one case in a fresh world; returns why it failed, if it did.
pub fn run(case: &Case, w: &World<'_>) -> Result<(), String> {
    if !case.first.is_empty() {
        let repo = w.repo("first", &case.first, Some(trusted()));
        let names: Vec<String> = case.first.iter().map(|b| raw_record(b).name).collect();
        let mut args = vec!["-X", repo.to_str().unwrap(), "add"];
        args.extend(names.iter().map(String::as_str));
        let (ok, out, err) = w.apk(&args);
        if !ok {
            return Err(format!("installing the first packages failed: {out}{err}"));
        }
    }
    let repo = match &case.records {
        // A lying index: its records, and the first package under the first record's name.
        Some(records) => {
            let r = &records[0];
            let file = (
                format!("{}-{}.apk", r.name, r.version),
                case.hostile[0].clone(),
            );
            let dir = w.work.join("hostile");
            repository(&dir, &[file], records.clone(), case.index_signer)
        }
        None => w.repo("hostile", &case.hostile, case.index_signer),
    };
    let mut args: Vec<&str> = vec!["-X", repo.to_str().unwrap()];
    args.extend(case.extra_args.iter().map(String::as_str));
    args.push("add");
    args.extend(&case.add);
    let expect: Vec<String> = std::iter::once(&case.expect)
        .chain(&case.more)
        .cloned()
        .collect();
    refused_cleanly(case.name, &w.root, &w.base.canary, &args, &expect)
}

pub fn pkg(name: &str, entries: Entries) -> Vec<u8> {
    package(info(name, "1.0-r0"), entries, Some(trusted()))
}

/// Parent directories for `path`, then `last`.
pub fn under(path: &str, last: (Header, Vec<u8>)) -> Entries {
    let mut out = Vec::new();
    let mut acc = String::new();
    for c in path.split('/').collect::<Vec<_>>().split_last().unwrap().1 {
        acc = if acc.is_empty() {
            c.to_string()
        } else {
            format!("{acc}/{c}")
        };
        out.push(dir(&acc));
    }
    out.push(last);
    out
}
