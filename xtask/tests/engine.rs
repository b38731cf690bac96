//! The step engine: caching, invalidation, interruption, concurrency.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use xtask::engine::{self, Graph, InputKind, Outcome, Status};

fn run_one(cx: &xtask::context::Context, s: &FileStep) -> Vec<engine::Report> {
    let mut g = Graph::new();
    g.add(s.clone(), &[]);
    let planned = engine::plan(cx, &g).unwrap();
    engine::execute(cx, &g, &planned).unwrap()
}

#[test]
fn skips_a_cached_step() {
    let tmp = tempfile::tempdir().unwrap();
    let cx = context(tmp.path());
    let s = FileStep::new("greet");
    let r = run_one(&cx, &s);
    assert_eq!(r[0].outcome, Outcome::Built);
    assert_eq!(
        std::fs::read_to_string(r[0].out.join("out.txt")).unwrap(),
        "hello\n"
    );
    assert!(r[0].out.join(engine::MANIFEST).is_file());
    let r2 = run_one(&cx, &s);
    assert_eq!(r2[0].outcome, Outcome::Cached);
    assert_eq!(r2[0].out, r[0].out);
    assert_eq!(s.runs(), 1, "a cached step must not run again");
}

/// Changing one input of the given kind gives a new key, a rebuild, and a plan that
/// names the change.
fn rebuilds_when_input_changes(kind: InputKind) {
    let tmp = tempfile::tempdir().unwrap();
    let cx = context(tmp.path());
    let mut s = FileStep::new("thing");
    s.inputs.push((kind, "the-input".into(), "one".into()));
    run_one(&cx, &s);
    s.inputs.last_mut().unwrap().2 = "two".into();
    let mut g = Graph::new();
    g.add(s.clone(), &[]);
    let planned = engine::plan(&cx, &g).unwrap();
    match &planned[0].status {
        Status::Changed(why) => {
            let text = why.join("\n");
            assert!(
                text.contains(&format!("{kind} the-input changed: one -> two")),
                "{text}"
            );
        }
        other => panic!("expected a changed input, got {other:?}"),
    }
    let r = engine::execute(&cx, &g, &planned).unwrap();
    assert_eq!(r[0].outcome, Outcome::Built);
    assert_eq!(s.runs(), 2);
}

#[test]
fn source_change_invalidates() {
    rebuilds_when_input_changes(InputKind::Source);
}
#[test]
fn patch_change_invalidates() {
    rebuilds_when_input_changes(InputKind::Patch);
}
#[test]
fn flag_change_invalidates() {
    rebuilds_when_input_changes(InputKind::Flag);
}
#[test]
fn config_change_invalidates() {
    rebuilds_when_input_changes(InputKind::Config);
}
#[test]
fn host_tool_change_invalidates() {
    rebuilds_when_input_changes(InputKind::Tool);
}

#[test]
fn file_inputs_are_hashed_by_content() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path();
    let p = repo.join("fix.patch");
    std::fs::write(&p, "one").unwrap();
    let mut a = xtask::engine::Inputs::new();
    a.file(InputKind::Patch, repo, &p).unwrap();
    std::fs::write(&p, "two").unwrap();
    let mut b = xtask::engine::Inputs::new();
    b.file(InputKind::Patch, repo, &p).unwrap();
    assert_eq!(a.0[0].name, "fix.patch");
    assert_ne!(a.0[0].value, b.0[0].value);
}

#[test]
fn dependency_change_rebuilds_dependents_only() {
    let tmp = tempfile::tempdir().unwrap();
    let cx = context(tmp.path());
    let base = FileStep::new("base");
    let other = FileStep::new("other");
    let top = FileStep::new("top");
    let graph = |base: &FileStep| {
        let mut g = Graph::new();
        let b = g.add(base.clone(), &[]);
        let o = g.add(other.clone(), &[]);
        g.add(top.clone(), &[b, o]);
        g
    };
    let g = graph(&base);
    let planned = engine::plan(&cx, &g).unwrap();
    engine::execute(&cx, &g, &planned).unwrap();
    let mut base2 = base.clone();
    base2.inputs[0].2 = "changed".into();
    let g = graph(&base2);
    let planned = engine::plan(&cx, &g).unwrap();
    assert!(matches!(planned[0].status, Status::Changed(_)));
    assert_eq!(planned[1].status, Status::Cached);
    match &planned[2].status {
        Status::Changed(why) => assert_eq!(why, &vec!["step base changed".to_string()]),
        s => panic!("top should be rebuilt because base changed, got {s:?}"),
    }
    let r = engine::execute(&cx, &g, &planned).unwrap();
    assert_eq!(r[1].outcome, Outcome::Cached);
    assert_eq!((base.runs(), other.runs(), top.runs()), (2, 1, 2));
}

#[test]
fn failure_keeps_log_and_tree_and_skips_dependents() {
    let tmp = tempfile::tempdir().unwrap();
    let cx = context(tmp.path());
    let mut bad = FileStep::new("bad");
    bad.fail = true;
    let after = FileStep::new("after");
    let mut g = Graph::new();
    let b = g.add(bad.clone(), &[]);
    g.add(after.clone(), &[b]);
    let planned = engine::plan(&cx, &g).unwrap();
    let r = engine::execute(&cx, &g, &planned).unwrap();
    let Outcome::Failed(msg) = &r[0].outcome else {
        panic!("expected failure, got {:?}", r[0].outcome)
    };
    assert!(msg.contains("step bad failed"), "{msg}");
    assert!(
        msg.contains("`sh -c 'echo boom; exit 3'` ended with exit code 3"),
        "{msg}"
    );
    assert!(msg.contains("last 30 lines"), "{msg}");
    assert!(msg.contains("boom"), "{msg}");
    assert!(msg.contains("build tree is kept"), "{msg}");
    assert_eq!(r[1].outcome, Outcome::Skipped("bad".into()));
    assert!(!r[0].out.exists(), "a failed step leaves no output");
    assert!(leftovers(&cx).is_empty(), "nor a temporary output");
    assert_eq!(after.runs(), 0);
}

/// Runs the test `name` of this binary in a child process, with `var` set to `dir` (the
/// child tests do nothing without it).
fn spawn_child_test(name: &str, var: &str, dir: &std::path::Path) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(var, dir)
        .spawn()
        .unwrap()
}

/// Runs inside a child process (see `killed_step_is_redone_on_rerun`).
#[test]
fn child_runs_slow_step() {
    let Some(dir) = std::env::var_os("ALPINIST_TEST_CHILD_DIR") else {
        return;
    };
    let cx = context(std::path::Path::new(&dir));
    let mut s = FileStep::new("slow");
    s.sleep_secs = 60;
    run_one(&cx, &s);
}

#[test]
fn killed_step_is_redone_on_rerun() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = spawn_child_test(
        "child_runs_slow_step",
        "ALPINIST_TEST_CHILD_DIR",
        tmp.path(),
    );
    let cx = context(tmp.path());
    // Wait until the child is inside the step (its temporary output exists).
    let t0 = Instant::now();
    while leftovers(&cx).is_empty() {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "child never started the step"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap();
    child.wait().unwrap();
    let s = FileStep::new("slow");
    let mut g = Graph::new();
    g.add(s.clone(), &[]);
    let planned = engine::plan(&cx, &g).unwrap();
    assert!(
        !planned[0].out.exists(),
        "no output may appear for an interrupted step"
    );
    assert_eq!(
        leftovers(&cx).len(),
        1,
        "the interrupted temporary output is still there"
    );
    assert_eq!(planned[0].status, Status::NeverBuilt);
    let r = engine::execute(&cx, &g, &planned).unwrap();
    assert_eq!(r[0].outcome, Outcome::Built);
    assert_eq!(s.runs(), 1);
    assert!(
        leftovers(&cx).is_empty(),
        "the rerun removes what the killed run left"
    );
    assert_eq!(
        std::fs::read_to_string(r[0].out.join("out.txt")).unwrap(),
        "hello\n"
    );
}

#[test]
fn concurrent_runs_of_one_step_build_it_once() {
    let tmp = tempfile::tempdir().unwrap();
    let mut s = FileStep::new("shared");
    s.sleep_secs = 2;
    let results: Vec<Vec<engine::Report>> = std::thread::scope(|sc| {
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let s = s.clone();
                let path = tmp.path().to_path_buf();
                sc.spawn(move || {
                    let cx = context(&path);
                    run_one(&cx, &s)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for r in &results {
        assert_eq!(r[0].outcome, Outcome::Built, "both runs succeed");
        assert!(r[0].out.join("out.txt").is_file());
    }
    assert_eq!(
        s.runs(),
        1,
        "the second run waited for the first instead of building"
    );
}

type Started = std::sync::Arc<std::sync::Mutex<Option<Instant>>>;

/// A step "early" that notes when it started, then asks for its dependency `dep`
/// (declared "later") and copies what that dependency wrote.
fn early_step(dep: &str, started: &Started) -> FnStep {
    let (dep, started) = (dep.to_string(), started.clone());
    FnStep::new("early", move |run| {
        *started.lock().unwrap() = Some(Instant::now());
        let d = run.dep(&dep)?.to_path_buf();
        std::fs::copy(d.join("out.txt"), run.out.join("copied.txt"))?;
        Ok(())
    })
}

#[test]
fn a_later_dependency_lets_the_step_start_first_and_wait_inside() {
    let tmp = tempfile::tempdir().unwrap();
    let cx = context(tmp.path());
    let mut slow = FileStep::new("slow");
    slow.sleep_secs = 2;
    slow.content = "from slow\n".into();
    let started = Started::default();
    let mut g = Graph::new();
    let s = g.add(slow.clone(), &[]);
    g.add_later(early_step("slow", &started), &[s], &[s]);
    let planned = engine::plan(&cx, &g).unwrap();
    let t0 = Instant::now();
    let r = engine::execute(&cx, &g, &planned).unwrap();
    assert_eq!(r[0].outcome, Outcome::Built);
    assert_eq!(r[1].outcome, Outcome::Built, "{:?}", r[1].outcome);
    let started = started.lock().unwrap().expect("early ran");
    assert!(
        started.duration_since(t0) < Duration::from_millis(1500),
        "the step started {:?} after the run began, not while its dependency slept",
        started.duration_since(t0)
    );
    assert_eq!(
        std::fs::read_to_string(r[1].out.join("copied.txt")).unwrap(),
        "from slow\n",
        "it read the dependency's finished output"
    );
    // The dependency's key is part of the step's key as with `add`.
    assert!(planned[1].inputs.iter().any(|i| i.name == "slow"));
}

#[test]
fn a_failed_later_dependency_fails_the_waiting_step() {
    let tmp = tempfile::tempdir().unwrap();
    let cx = context(tmp.path());
    let mut bad = FileStep::new("bad");
    bad.sleep_secs = 1;
    bad.fail = true;
    let started = Started::default();
    let mut g = Graph::new();
    let b = g.add(bad, &[]);
    g.add_later(early_step("bad", &started), &[b], &[b]);
    let planned = engine::plan(&cx, &g).unwrap();
    let r = engine::execute(&cx, &g, &planned).unwrap();
    assert!(matches!(r[0].outcome, Outcome::Failed(_)));
    let Outcome::Failed(msg) = &r[1].outcome else {
        panic!("expected the waiting step to fail, got {:?}", r[1].outcome)
    };
    assert!(
        msg.contains("early needs bad, which did not build"),
        "{msg}"
    );
    assert!(started.lock().unwrap().is_some());
}

/// A step "pid" whose command records its pid in `pidfile`, then sleeps.
fn pid_step(pidfile: std::path::PathBuf) -> FnStep {
    FnStep::new("pid", move |run| {
        run.log.run(&xtask::exec::Cmd::new("sh").args([
            "-c".to_string(),
            format!("echo $$ > {}; exec sleep 60", pidfile.display()),
        ]))
    })
}

/// Runs inside a child process (see `a_stopped_alpinist_stops_its_commands`).
#[test]
fn child_forwards_signals() {
    let Some(dir) = std::env::var_os("ALPINIST_TEST_SIGNAL_DIR") else {
        return;
    };
    xtask::exec::signals::forward_signals();
    let dir = std::path::PathBuf::from(dir);
    let cx = context(&dir);
    let mut g = Graph::new();
    g.add(pid_step(dir.join("pid")), &[]);
    let planned = engine::plan(&cx, &g).unwrap();
    let _ = engine::execute(&cx, &g, &planned);
    // As main() does: the signal thread, not this one, ends the process.
    xtask::exec::signals::wait_if_stopping();
}

#[test]
fn a_stopped_alpinist_stops_its_commands() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = spawn_child_test(
        "child_forwards_signals",
        "ALPINIST_TEST_SIGNAL_DIR",
        tmp.path(),
    );
    let pidfile = tmp.path().join("pid");
    let t0 = Instant::now();
    let pid: i32 = loop {
        if let Some(p) = std::fs::read_to_string(&pidfile)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            break p;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "the command never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    // Only alpinist's own pid is signalled, as `kill <pid>` does.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(128 + libc::SIGTERM), "{status:?}");
    let gone = (0..50).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        // SAFETY: signal 0 only checks that the process exists.
        let alive = unsafe { libc::kill(pid, 0) } == 0;
        !alive
    });
    assert!(gone, "the step's command (pid {pid}) outlived alpinist");
    // Stopped, not failed: the tree is not marked for resuming.
    let work = tmp.path().join("build/work");
    for e in std::fs::read_dir(&work).unwrap().flatten() {
        assert!(
            !e.path().join(".alpinist-failed").exists(),
            "{} is marked as a failed (resumable) tree",
            e.path().display()
        );
    }
}
