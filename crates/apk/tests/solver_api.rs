//! The solver's API as the installer uses it: plans, changes, errors, and a large universe.

use std::time::Instant;

use alpinist_apk::db::{InstalledDb, InstalledPackage, PackageInfo};
use alpinist_apk::dep::Dependency;
use alpinist_apk::solver::{
    Action, AddOptions, DelOptions, Options, Repository, Solver, SolverErrorKind, UpgradeOptions,
};
use alpinist_apk::version::VersionOp;

fn pkg(name: &str, version: &str, depends: &[&str]) -> PackageInfo {
    let mut p = PackageInfo::new(name, version);
    p.size = 100;
    p.installed_size = 1000;
    p.depends = depends
        .iter()
        .map(|d| Dependency::parse(d).unwrap())
        .collect();
    p
}

fn installed(pkgs: &[PackageInfo]) -> InstalledDb {
    InstalledDb {
        packages: pkgs.iter().cloned().map(InstalledPackage::new).collect(),
    }
}

fn deps(s: &[&str]) -> Vec<Dependency> {
    s.iter().map(|d| Dependency::parse(d).unwrap()).collect()
}

#[test]
fn add_lists_installs_dependencies_first() {
    let main = Repository::new(
        "main",
        vec![
            pkg("musl", "1.2.5-r0", &[]),
            pkg("busybox", "1.37.0-r0", &["so:libc.musl-x86_64.so.1"]),
            {
                let mut p = pkg("musl", "1.2.5-r1", &[]);
                p.provides.push(Dependency::versioned(
                    "so:libc.musl-x86_64.so.1",
                    VersionOp::EQUAL,
                    "1",
                ));
                p
            },
        ],
    );
    let solver = Solver::new(vec![main], &InstalledDb::default(), &[]);
    let plan = solver.add(&deps(&["busybox"])).unwrap();
    assert_eq!(
        plan.change_lines(),
        [
            "(1/2) Installing musl (1.2.5-r1)",
            "(2/2) Installing busybox (1.37.0-r0)"
        ]
    );
    let c = &plan.changes[0];
    assert_eq!(c.action, Action::Install);
    assert_eq!(c.name, "musl");
    assert_eq!(c.old_version(), None);
    assert_eq!(c.new_version(), Some("1.2.5-r1"));
    assert_eq!(c.repository, Some(0));
    assert_eq!(c.to_string(), "Installing musl (1.2.5-r1)");
    assert_eq!(plan.world, deps(&["busybox"]));
    assert_eq!(
        plan.output(),
        "(1/2) Installing musl (1.2.5-r1)\n(2/2) Installing busybox (1.37.0-r0)\nOK: 2000 B in 2 packages\n"
    );
}

#[test]
fn repository_index_points_at_the_callers_list() {
    let a1 = pkg("a", "1", &[]);
    let a2 = pkg("a", "2", &[]);
    let repos = vec![
        Repository::new("old", vec![a1]),
        Repository {
            tag: Some("edge".into()),
            ..Repository::new("new", vec![a2.clone()])
        },
        // The same URL again under the default tag: one repository, two tags.
        Repository::new("new", vec![a2]),
    ];
    let plan = Solver::new(repos, &InstalledDb::default(), &[])
        .add(&deps(&["a"]))
        .unwrap();
    assert_eq!(plan.changes[0].new_version(), Some("2"));
    assert_eq!(plan.changes[0].repository, Some(1));
}

#[test]
fn upgrade_downgrade_remove() {
    let inst = installed(&[
        pkg("a", "1", &["b"]),
        pkg("b", "2", &[]),
        pkg("c", "1", &[]),
    ]);
    let repo = Repository::new(
        "main",
        vec![
            pkg("a", "2", &["b<2"]),
            pkg("b", "1", &[]),
            pkg("c", "1", &[]),
        ],
    );
    let solver = Solver::new(vec![repo], &inst, &deps(&["a", "c"]));
    assert_eq!(solver.world(), deps(&["a", "c"]));

    let plan = solver.upgrade(&[], &UpgradeOptions::default()).unwrap();
    let summary: Vec<(Action, &str, Option<&str>, Option<&str>)> = plan
        .changes
        .iter()
        .map(|c| (c.action, c.name.as_str(), c.old_version(), c.new_version()))
        .collect();
    assert_eq!(
        summary,
        [
            (Action::Downgrade, "b", Some("2"), Some("1")),
            (Action::Upgrade, "a", Some("1"), Some("2")),
        ]
    );

    let plan = solver.del(&["c"], &DelOptions::default()).unwrap();
    assert_eq!(plan.change_lines(), ["(1/1) Purging c (1)"]);
    assert_eq!(plan.changes[0].repository, None);
    assert_eq!(plan.world, deps(&["a"]));
}

#[test]
fn errors_render_like_apk() {
    let repo = Repository::new("main", vec![pkg("a", "1", &["missing"])]);
    let solver = Solver::new(vec![repo], &InstalledDb::default(), &[]);
    let err = solver.add(&deps(&["a"])).unwrap_err();
    assert!(matches!(err.kind, SolverErrorKind::Unsatisfiable(_)));
    assert_eq!(
        err.output(),
        "ERROR: unable to select packages:\n  missing (no such package):\n    required by: a-1[missing]\n"
    );
    assert_eq!(
        err.to_string(),
        "unable to select packages:\n  missing (no such package):\n    required by: a-1[missing]\n"
    );

    let err = solver
        .add_args(&["foo="], &AddOptions::default())
        .unwrap_err();
    assert_eq!(
        err.output(),
        "ERROR: 'foo=' is not a valid world dependency, format is name(@tag)([<>~=]version)\n"
    );
    let err = solver.del(&["nope"], &DelOptions::default()).unwrap_err();
    assert_eq!(err.kind, SolverErrorKind::NoSuchPackage("nope".into()));
}

#[test]
fn virtual_packages() {
    let repo = Repository::new("main", vec![pkg("gcc", "14", &[]), pkg("make", "4", &[])]);
    let solver = Solver::new(vec![repo], &InstalledDb::default(), &[]);
    let opts = AddOptions {
        virtual_pkg: Some(".build-deps=1".into()),
        ..AddOptions::default()
    };
    let plan = solver.add_args(&["gcc", "make"], &opts).unwrap();
    assert_eq!(
        plan.change_lines(),
        [
            "(1/3) Installing gcc (14)",
            "(2/3) Installing make (4)",
            "(3/3) Installing .build-deps (1)"
        ]
    );
    assert_eq!(plan.changes[2].repository, None);
    assert_eq!(plan.world, deps(&[".build-deps=1"]));
    let opts = AddOptions {
        virtual_pkg: Some("build-deps".into()),
        ..AddOptions::default()
    };
    let err = solver.add_args(&["gcc"], &opts).unwrap_err();
    assert_eq!(err.kind, SolverErrorKind::NonRepository);
}

#[test]
fn arch_and_no_network() {
    let mut other = pkg("x", "1", &[]);
    other.arch = "riscv64".into();
    let mut noarch = pkg("y", "1", &[]);
    noarch.arch = "noarch".into();
    let repo = Repository {
        remote: true,
        ..Repository::new("https://example.org/main", vec![other, noarch])
    };
    let opts = Options {
        arches: vec!["aarch64".into()],
        ..Options::default()
    };
    let solver = Solver::with_options(
        vec![repo.clone()],
        &InstalledDb::default(),
        &[],
        opts.clone(),
    );
    assert!(solver.add(&deps(&["x"])).is_err());
    assert!(solver.add(&deps(&["y"])).is_ok());
    let offline = Options {
        no_network: true,
        ..opts
    };
    let solver = Solver::with_options(vec![repo], &InstalledDb::default(), &[], offline);
    let err = solver.add(&deps(&["y"])).unwrap_err();
    assert!(
        err.output().contains("masked in: --no-network"),
        "{}",
        err.output()
    );
}

/// A universe the size of Alpine's main+community (about 25000 packages) with shared
/// libraries as `so:` provides: solving must stay fast and must not overflow the stack.
#[test]
fn large_universe() {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rand = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let n = 25_000;
    let mut pkgs = Vec::with_capacity(n);
    for i in 0..n {
        let mut p = PackageInfo::new(format!("pkg{i}"), format!("1.{}-r{}", i % 7, i % 3));
        p.checksum = format!("id{i}");
        p.installed_size = 1;
        if i % 4 == 0 {
            p.provides.push(Dependency::versioned(
                format!("so:lib{i}.so.1"),
                VersionOp::EQUAL,
                "1.0",
            ));
        }
        if i > 0 {
            for _ in 0..rand(6) {
                let j = rand(i);
                let d = if j % 4 == 0 {
                    Dependency::new(format!("so:lib{j}.so.1"))
                } else {
                    Dependency::new(format!("pkg{j}"))
                };
                if !p.depends.contains(&d) {
                    p.depends.push(d);
                }
            }
        }
        if i % 97 == 0 && i > 1 {
            p.install_if = vec![
                Dependency::new(format!("pkg{}", i - 1)),
                Dependency::new("pkg0"),
            ];
        }
        pkgs.push(p);
    }
    let start = Instant::now();
    let solver = Solver::new(
        vec![Repository::new("main", pkgs)],
        &InstalledDb::default(),
        &[],
    );
    let world: Vec<Dependency> = (0..20)
        .map(|k| Dependency::new(format!("pkg{}", n - 1 - k * 37)))
        .collect();
    let plan = solver.add(&world).unwrap();
    let elapsed = start.elapsed();
    println!(
        "large universe: {} installs in {:?}",
        plan.changes.len(),
        elapsed
    );
    assert!(plan.changes.len() > 100);
    assert!(plan.changes.iter().all(|c| c.action == Action::Install));
    // Dependencies come before their dependents.
    let pos: std::collections::HashMap<&str, usize> = plan
        .changes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.name.as_str(), i))
        .collect();
    for c in &plan.changes {
        for d in &c.new.as_ref().unwrap().depends {
            if let Some(&j) = pos.get(d.name.as_str()) {
                assert!(j < pos[c.name.as_str()], "{} before {}", d.name, c.name);
            }
        }
    }
}

/// A dependency chain far deeper than any real one must not overflow the stack.
#[test]
fn deep_chain() {
    let n = 100_000;
    let pkgs: Vec<PackageInfo> = (0..n)
        .map(|i| {
            let mut p = PackageInfo::new(format!("p{i}"), "1");
            if i > 0 {
                p.depends.push(Dependency::new(format!("p{}", i - 1)));
            }
            p
        })
        .collect();
    let solver = Solver::new(
        vec![Repository::new("main", pkgs)],
        &InstalledDb::default(),
        &[],
    );
    let plan = solver.add(&deps(&[&format!("p{}", n - 1)])).unwrap();
    assert_eq!(plan.changes.len(), n);
    assert_eq!(plan.changes[0].name, "p0");
}

/// More repositories and tags than apk has room for are ignored, not a crash.
#[test]
fn many_repositories_and_tags() {
    let repos: Vec<Repository> = (0..40)
        .map(|i| Repository {
            tag: Some(format!("t{}", i % 20)),
            ..Repository::new(format!("r{i}"), vec![pkg(&format!("p{i}"), "1", &[])])
        })
        .collect();
    let world = deps(&["p0@t0"]);
    let solver = Solver::new(repos, &InstalledDb::default(), &world);
    let plan = solver.add(&deps(&["p1@t1"])).unwrap();
    assert_eq!(plan.changes.len(), 2);
    assert!(solver.add(&deps(&["p39@t19"])).is_err());
}
