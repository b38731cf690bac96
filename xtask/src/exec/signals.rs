//! The process groups of the commands running now, so that a signal that stops alpinist
//! stops them too ([`forward_signals`]). Commands run in their own groups, so a
//! terminal's Ctrl-C reaches only alpinist, which passes it on.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Mutex;

static GROUPS: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());

pub fn register(pids: &[u32]) {
    GROUPS.lock().expect("groups").extend(pids.iter().copied());
}

pub fn unregister(pids: &[u32]) {
    let mut g = GROUPS.lock().expect("groups");
    for p in pids {
        g.remove(p);
    }
}

/// Sends `sig` to every running command's process group.
pub fn signal_all(sig: i32) -> usize {
    let g = GROUPS.lock().expect("groups");
    for &pgid in g.iter() {
        // SAFETY: kill(2) with a negative pid signals a process group; no memory is
        // involved.
        unsafe {
            libc::kill(-(pgid as i32), sig);
        }
    }
    g.len()
}

/// Installs a thread that, on SIGINT, SIGTERM or SIGHUP, stops every running command
/// (SIGTERM, then SIGKILL after two seconds) and exits with 128 + the signal. What
/// was built stays in the store; unfinished steps start over on the next run.
pub fn forward_signals() {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
        return;
    };
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            STOPPING.store(sig, Ordering::SeqCst);
            let n = signal_all(libc::SIGTERM);
            if n > 0 {
                eprintln!(
                    "\nalpinist: stopping {n} running command(s); finished steps stay cached, \
                     unfinished ones start over next time"
                );
                // Commands leave the registry as they are reaped.
                for _ in 0..20 {
                    if GROUPS.lock().expect("groups").is_empty() {
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                signal_all(libc::SIGKILL);
            }
            std::process::exit(128 + sig);
        }
    });
}

static STOPPING: AtomicI32 = AtomicI32::new(0);

/// True once a stop signal arrived: commands failing now were killed, not broken.
pub fn stopping() -> bool {
    STOPPING.load(Ordering::SeqCst) != 0
}

/// When a stop signal arrived, blocks until the signal thread ends the process (with
/// 128 + the signal), so that the main thread, seeing its commands fail, does not
/// exit first with another status.
pub fn wait_if_stopping() {
    if stopping() {
        loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    }
}
