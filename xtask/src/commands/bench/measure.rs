//! Measurements: CPU seconds of this process and its children, disk use.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, Default)]
pub struct Cpu {
    pub user: f64,
    pub sys: f64,
    pub child_user: f64,
    pub child_sys: f64,
}

impl std::ops::Sub for Cpu {
    type Output = Cpu;
    fn sub(self, o: Cpu) -> Cpu {
        Cpu {
            user: self.user - o.user,
            sys: self.sys - o.sys,
            child_user: self.child_user - o.child_user,
            child_sys: self.child_sys - o.child_sys,
        }
    }
}

/// CPU seconds of this process and of its waited-for children, from /proc/self/stat.
pub fn self_cpu() -> Cpu {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    // Fields after the command name start at field 3: utime 14, stime 15, cutime 16, cstime 17.
    let get = |n: usize| {
        f.get(n - 3)
            .and_then(|x| x.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 100.0
    };
    Cpu {
        user: get(14),
        sys: get(15),
        child_user: get(16),
        child_sys: get(17),
    }
}

/// CPU seconds (user, nice and system time, interrupts included) the whole machine has
/// spent since boot, from the `cpu` line of /proc/stat. Builds run in bubblewrap
/// sandboxes with their own PID namespace, and bubblewrap's init does not pass its
/// children's times on to the process that started it (measured: a 2 s busy loop under
/// `bwrap --unshare-pid` shows 0.00 s user in `time`), so a build's CPU is only seen
/// machine-wide; the machine must be otherwise idle, as for any benchmark.
pub fn machine_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    parse_machine_cpu(&stat)
}

fn parse_machine_cpu(stat: &str) -> f64 {
    let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return 0.0;
    };
    // user nice system idle iowait irq softirq steal guest guest_nice, in USER_HZ (100);
    // guest time is already counted in user.
    let f: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    let at = |i: usize| f.get(i).copied().unwrap_or(0.0);
    (at(0) + at(1) + at(2) + at(5) + at(6)) / 100.0
}

/// Used bytes of the file systems holding `dirs` (each file system counted once).
pub fn fs_used(dirs: &[PathBuf]) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut seen = std::collections::BTreeSet::new();
    let mut total = 0u64;
    for d in dirs {
        let Ok(m) = std::fs::metadata(d) else {
            continue;
        };
        if !seen.insert(m.dev()) {
            continue;
        }
        let Ok(c) = std::ffi::CString::new(d.as_os_str().as_encoded_bytes()) else {
            continue;
        };
        // SAFETY: statvfs fills the zeroed struct we pass; the path is NUL-terminated.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        if unsafe { libc::statvfs(c.as_ptr(), &mut st) } == 0 {
            total += (st.f_blocks - st.f_bfree) as u64 * st.f_frsize as u64;
        }
    }
    total
}

/// Bytes allocated on disk under a directory (hard links counted once per walk).
pub fn disk_usage(dir: &Path) -> u64 {
    use std::collections::HashSet;
    use std::os::unix::fs::MetadataExt;
    let mut seen: HashSet<(u64, u64)> = HashSet::new();
    let mut total = 0u64;
    let mut stack: Vec<PathBuf> = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                stack.push(e.path());
            }
            if m.nlink() > 1 && !m.is_dir() && !seen.insert((m.dev(), m.ino())) {
                continue;
            }
            total += m.blocks() * 512;
        }
    }
    total
}

pub fn mib(b: u64) -> String {
    if b >= 1 << 30 {
        format!("{:.2} GiB", b as f64 / (1u64 << 30) as f64)
    } else {
        format!("{:.0} MiB", b as f64 / (1u64 << 20) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_cpu_counts_user_nice_system_and_interrupts_not_idle() {
        let stat = "cpu  1000 200 300 99999 888 40 60 7 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n";
        assert_eq!(parse_machine_cpu(stat), 16.0);
        assert_eq!(parse_machine_cpu("intr 1 2\n"), 0.0);
    }

    #[test]
    fn machine_cpu_includes_this_process_s_own_work() {
        let (m0, c0) = (machine_cpu(), self_cpu());
        // Busy until this process has spent 0.3 s of CPU of its own (preemption aside).
        while {
            let c = self_cpu() - c0;
            c.user + c.sys < 0.3
        } {
            std::hint::black_box(0u64);
        }
        let seen = machine_cpu() - m0;
        assert!(
            seen >= 0.28,
            "0.3 s of this process's CPU, {seen} s machine-wide"
        );
    }
}
