//! `perf record` on this process during a measured window, and the top
//! functions from `perf report` afterwards. Without perf installed the
//! benchmark says so and carries on.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Starts `perf record -e cpu-clock -g` on this process, writing to `out`.
pub(crate) fn start_perf(out: &Path) -> Option<Child> {
    let child = Command::new("perf")
        .args(["record", "-e", "cpu-clock", "-F", "999", "-g", "-o"])
        .arg(out)
        .args(["-p", &std::process::id().to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match child {
        Ok(c) => {
            std::thread::sleep(Duration::from_millis(300)); // let perf attach
            println!("  perf recording to {}", out.display());
            Some(c)
        }
        Err(e) => {
            println!("  (perf not available: {e})");
            None
        }
    }
}

/// Stops a recording started by [`start_perf`] (SIGINT, so perf writes its file).
pub(crate) fn stop_perf(mut child: Child) {
    // SAFETY: signalling our own child by pid.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let _ = child.wait();
}

/// Prints the functions with the most self time in a recording.
pub(crate) fn perf_report(file: &Path) {
    let out = Command::new("perf")
        .args([
            "report",
            "--stdio",
            "--no-children",
            "-g",
            "none",
            "--percent-limit",
            "0.7",
            "-i",
        ])
        .arg(file)
        .args(["--sort", "comm,dso,symbol"])
        .output();
    match out {
        Ok(o) => {
            let text = String::from_utf8_lossy(&o.stdout);
            println!("  perf top functions (self time, all threads):");
            for l in text
                .lines()
                .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
                .take(40)
            {
                println!("    {}", l.trim_end());
            }
        }
        Err(e) => println!("  (perf report failed: {e})"),
    }
}
