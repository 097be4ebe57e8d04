//! Plain-text output: the few lines the binary prints after a run, and the
//! number and duration formats the HTML page shares.

use crate::montecarlo::McReport;
use crate::report::Report;
use std::fmt::Write as _;

/// "1h 02m 03s", "4m 10s", "12s".
pub(super) fn fmt_secs(secs: u32) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}h {m:02}m {s:02}s")
    } else if m > 0 {
        format!("{m}m {s:02}s")
    } else {
        format!("{s}s")
    }
}

/// 1234567 → "1,234,567".
pub(super) fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// 0.1234 → "12.3%".
pub(super) fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// The terminal summary of one run.
pub(super) fn run_summary(r: &Report) -> String {
    let mut s = String::new();
    let sc = &r.scenario;
    let _ = writeln!(
        s,
        "{} ({} mode, seed {}): {} players, {} s",
        sc.name, r.mode, sc.seed, sc.players, sc.duration_secs
    );
    let t = &r.totals;
    let _ = writeln!(
        s,
        "  events {} ({:.0}/s, peak {:.0}/s), claims {} ({:.1}/s): {} granted, {} rejected",
        t.events,
        t.events_per_sec,
        t.peak_events_per_sec,
        t.claim_requests,
        t.claims_per_sec,
        t.granted,
        t.rejected.values().sum::<u64>()
    );
    for p in &r.products {
        let sold = match p.time_to_sell_out_secs {
            Some(secs) => format!("sold out {} after opening", fmt_secs(secs)),
            None => format!("{} left", p.remaining),
        };
        let _ = writeln!(
            s,
            "  {:<20} {:>7} granted of {:>7}: {}",
            p.sku,
            p.granted,
            p.initial_stock + p.restocked,
            sold
        );
    }
    let _ = writeln!(
        s,
        "  players claimed: {:.1}% of {} arrived; scores median {}, p95 {}, max {}",
        r.players.claimed_share * 100.0,
        r.players.arrived,
        r.scores.median,
        r.scores.p95,
        r.scores.max
    );
    live_summary(&mut s, r);
    let _ = writeln!(
        s,
        "  invariants: {}",
        if r.invariants.ok { "all held" } else { "VIOLATED" }
    );
    for c in &r.invariants.checks {
        let _ = writeln!(s, "    [{}] {}: {}", if c.ok { "ok" } else { "FAIL" }, c.name, c.detail);
    }
    s
}

/// The live lines of a run's summary, if it was live.
fn live_summary(s: &mut String, r: &Report) {
    let Some(l) = &r.live else { return };
    let _ = writeln!(
        s,
        "  live: {:.1} s over {} connections ({}); events offered {:.0}/s, accepted {:.0}/s; sender lag at most {:.1} ms",
        l.run_secs, l.connections, l.protocol, l.events_offered_per_sec, l.events_accepted_per_sec, l.sender_max_lag_ms
    );
    for op in &l.ops {
        let _ = writeln!(
            s,
            "  {:<7} requests offered {:.1}/s accepted {:.1}/s  p50 {:.2} ms  p99 {:.2} ms  p99.9 {:.2} ms  max {:.2} ms",
            op.op, op.offered_per_sec, op.accepted_per_sec, op.p50_ms, op.p99_ms, op.p999_ms, op.max_ms
        );
    }
}

/// The terminal summary of a Monte Carlo.
pub(super) fn monte_carlo_summary(m: &McReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} (Monte Carlo, {} runs from seed {})",
        m.scenario.name, m.runs, m.scenario.seed
    );
    let _ = writeln!(
        s,
        "  {:<44} {:>10} {:>10} {:>10} {:>10}",
        "figure", "mean", "median", "p5", "p95"
    );
    let f = |v: Option<f64>| v.map_or("-".to_owned(), |x| format!("{x:.2}"));
    for st in &m.summary {
        let _ = writeln!(
            s,
            "  {:<44} {:>10} {:>10} {:>10} {:>10}",
            st.name,
            f(st.mean),
            f(st.median),
            f(st.p5),
            f(st.p95)
        );
    }
    let _ = writeln!(
        s,
        "  invariants: {}",
        if m.invariants_ok {
            "held in every run"
        } else {
            "VIOLATED"
        }
    );
    for r in m.per_run.iter().filter(|r| !r.invariants_ok) {
        for c in &r.failed_checks {
            let _ = writeln!(s, "    [FAIL] seed {}: {}: {}", r.seed, c.name, c.detail);
        }
    }
    s
}
