//! A measured window: [`Window::start`] samples the process (CPU, threads,
//! I/O, journal metrics, the engine's sequence) and optionally starts perf;
//! [`Window::end`] takes the differences as a [`WindowEnd`], which prints
//! itself and becomes the `"window"` object of a JSON line.

use crate::hist::HistSummary;
use crate::perf::{start_perf, stop_perf};
use crate::proc::{proc_io, process_cpu_secs, thread_cpu};
use crate::recorder;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;
use trove_engine::Engine;

/// Everything sampled at the start of a measured window.
pub(crate) struct Window {
    pub(crate) at: Instant,
    cpu: f64,
    threads: HashMap<u32, (String, f64)>,
    io: (u64, u64),
    journal_bytes: u64,
    seq: u64,
    perf: Option<std::process::Child>,
}

/// What happened during a window.
pub(crate) struct WindowEnd {
    pub(crate) secs: f64,
    pub(crate) cpu: f64,
    /// (tid, name, secs) sorted by CPU, descending.
    threads: Vec<(u32, String, f64)>,
    wchar: u64,
    disk_write: u64,
    journal_payload_bytes: u64,
    journal_records: u64,
    commits: u64,
    records_per_commit_mean: f64,
    flush_us: HistSummary,
    sync_us: HistSummary,
    decide_us: HistSummary,
}

impl Window {
    /// Starts a window (and perf into `perf`, when given).
    pub(crate) fn start(engine: &Engine, perf: Option<&Path>) -> Window {
        recorder::reset_journal_histograms();
        let perf = perf.and_then(start_perf);
        Window {
            at: Instant::now(),
            cpu: process_cpu_secs(),
            threads: thread_cpu(),
            io: proc_io(),
            journal_bytes: recorder::journal_bytes(),
            seq: engine.last_seq(),
            perf,
        }
    }

    /// Ends the window (and perf).
    pub(crate) fn end(self, engine: &Engine) -> WindowEnd {
        let secs = self.at.elapsed().as_secs_f64();
        let cpu = process_cpu_secs() - self.cpu;
        let io = proc_io();
        if let Some(child) = self.perf {
            stop_perf(child);
        }
        let mut threads: Vec<(u32, String, f64)> = thread_cpu()
            .into_iter()
            .map(|(tid, (name, s))| {
                let before = self.threads.get(&tid).map_or(0.0, |t| t.1);
                (tid, name, s - before)
            })
            .filter(|t| t.2 > 0.0)
            .collect();
        threads.sort_by(|a, b| b.2.total_cmp(&a.2));
        let flush = recorder::journal_flush_us();
        let batch = recorder::journal_batch();
        WindowEnd {
            secs,
            cpu,
            threads,
            wchar: io.0 - self.io.0,
            disk_write: io.1 - self.io.1,
            journal_payload_bytes: recorder::journal_bytes() - self.journal_bytes,
            journal_records: engine.last_seq() - self.seq,
            commits: batch.len(),
            records_per_commit_mean: batch.mean(),
            flush_us: HistSummary::of(&flush),
            sync_us: HistSummary::of(&recorder::journal_sync_us()),
            decide_us: HistSummary::of(&recorder::claim_decide_us()),
        }
    }
}

impl WindowEnd {
    /// Prints CPU (process and threads) and journal figures.
    pub(crate) fn print(&self, label: &str) {
        let s = self.secs.max(1e-9);
        println!(
            "  process CPU: {:.2} s in {:.2} s wall = {:.2} cores busy",
            self.cpu,
            self.secs,
            self.cpu / s
        );
        let shown: Vec<String> = self
            .threads
            .iter()
            .take(8)
            .map(|(tid, n, c)| format!("{n}[{tid}] {:.0}%", 100.0 * c / s))
            .collect();
        println!("  CPU by thread (% of one core): {}", shown.join(", "));
        println!(
            "  journal ({label}): {} records, {} group commits ({:.0} records/commit), flush p50 {} p99 {} max {} us",
            self.journal_records,
            self.commits,
            self.records_per_commit_mean,
            self.flush_us.p50,
            self.flush_us.p99,
            self.flush_us.max
        );
        println!(
            "  journal sync p50 {} p99 {} max {} us; claims admitted to decided p50 {} p99 {} max {} us (n = {})",
            self.sync_us.p50,
            self.sync_us.p99,
            self.sync_us.max,
            self.decide_us.p50,
            self.decide_us.p99,
            self.decide_us.max,
            self.decide_us.count
        );
        println!(
            "  journal bytes: {:.1} MB/s record payload, {:.1} MB/s written by the process (wchar), {:.1} MB/s to the block device",
            self.journal_payload_bytes as f64 / s / 1e6,
            self.wchar as f64 / s / 1e6,
            self.disk_write as f64 / s / 1e6
        );
    }

    /// The `"window"` object of a JSON line.
    pub(crate) fn json(&self) -> Value {
        let s = self.secs.max(1e-9);
        json!({
            "wall_s": self.secs,
            "cpu_s": self.cpu,
            "cores_busy": self.cpu / s,
            "threads": self.threads.iter().take(12).map(|(tid, n, c)| json!({"tid": tid, "name": n, "cpu_s": c})).collect::<Vec<_>>(),
            "claim_decide_us": self.decide_us.json(),
            "journal": {
                "records": self.journal_records,
                "records_per_s": self.journal_records as f64 / s,
                "group_commits": self.commits,
                "records_per_commit_mean": self.records_per_commit_mean,
                "flush_us": self.flush_us.json(),
                "sync_us": self.sync_us.json(),
                "payload_bytes_per_s": self.journal_payload_bytes as f64 / s,
                "wchar_bytes_per_s": self.wchar as f64 / s,
                "disk_write_bytes_per_s": self.disk_write as f64 / s,
            }
        })
    }
}
