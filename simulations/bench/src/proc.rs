//! Readings from /proc and the file system: CPU seconds of the process and of
//! each thread, RSS and other `/proc/self/status` fields, I/O counters,
//! folder sizes, the machine's description, and dropping the page cache.
//! Every reading degrades to 0 or empty when /proc does not have it.

use std::collections::HashMap;
use std::path::Path;

/// Clock ticks per second, for the CPU times in /proc/.../stat.
fn clk_tck() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// (utime + stime) in seconds from a /proc/.../stat line.
fn stat_cpu_secs(stat: &str) -> Option<f64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state); utime is field 14, stime field 15.
    let ut: f64 = f.get(11)?.parse().ok()?;
    let st: f64 = f.get(12)?.parse().ok()?;
    Some((ut + st) / clk_tck())
}

/// CPU seconds (user + system) this process has used so far.
pub(crate) fn process_cpu_secs() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| stat_cpu_secs(&s))
        .unwrap_or(0.0)
}

/// CPU seconds (user + system) process `pid` has used so far, `None` when
/// /proc has no such process.
pub(crate) fn pid_cpu_secs(pid: u32) -> Option<f64> {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| stat_cpu_secs(&s))
}

/// CPU seconds per live thread: tid -> (name, secs).
pub(crate) fn thread_cpu() -> HashMap<u32, (String, f64)> {
    let mut out = HashMap::new();
    if let Ok(rd) = std::fs::read_dir("/proc/self/task") {
        for e in rd.flatten() {
            let Some(tid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let name = std::fs::read_to_string(e.path().join("comm"))
                .unwrap_or_default()
                .trim()
                .to_owned();
            if let Some(secs) = std::fs::read_to_string(e.path().join("stat"))
                .ok()
                .and_then(|s| stat_cpu_secs(&s))
            {
                out.insert(tid, (name, secs));
            }
        }
    }
    out
}

/// A `kB` field of /proc/self/status (`"VmRSS:"`, `"VmHWM:"`), in kB.
pub(crate) fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Resident set size of this process, in bytes.
pub(crate) fn rss_bytes() -> u64 {
    status_kb("VmRSS:") * 1024
}

/// (wchar, write_bytes) of this process from /proc/self/io.
pub(crate) fn proc_io() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
    let get = |k: &str| {
        s.lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0u64)
    };
    (get("wchar:"), get("write_bytes:"))
}

/// Total size of the files under `p`, recursively.
pub(crate) fn dir_size(p: &Path) -> u64 {
    let mut total = 0;
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => total += dir_size(&e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

/// Syncs and drops the OS page cache (needs root; says so when it cannot).
pub(crate) fn drop_caches() {
    // SAFETY: sync has no preconditions.
    unsafe { libc::sync() };
    match std::fs::write("/proc/sys/vm/drop_caches", "3\n") {
        Ok(()) => println!("  (OS page cache dropped)"),
        Err(e) => println!("  (could not drop the OS page cache: {e}; measuring with a warm cache)"),
    }
}

/// What the machine is: CPUs, memory, kernel, load.
pub(crate) struct Machine {
    pub(crate) nproc: usize,
    pub(crate) cpu: String,
    pub(crate) mem_gb: f64,
    pub(crate) kernel: String,
    pub(crate) loadavg: String,
}

impl Machine {
    /// Reads /proc now (the load average is the one at this moment).
    pub(crate) fn read() -> Machine {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split(':').nth(1))
                    .map(|s| s.trim().to_owned())
            })
            .unwrap_or_default();
        let mem_gb = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("MemTotal:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse::<f64>().ok())
            })
            .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
            .to_owned();
        let loadavg = std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ");
        Machine {
            nproc: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu,
            mem_gb: (mem_gb * 10.0).round() / 10.0,
            kernel,
            loadavg,
        }
    }
}
