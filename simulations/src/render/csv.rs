//! The CSV files of the reports: one header line, then one row per interval,
//! product, score bin, leaderboard entry, figure or run. Fields are quoted
//! only when they hold a comma, a quote or a line break.

use crate::montecarlo::McReport;
use crate::report::Report;
use std::fmt::Write as _;
use trove_engine::RejectReason;

/// One CSV field, quoted when it must be.
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// An optional number; empty when absent.
fn opt(v: Option<f64>) -> String {
    v.map_or(String::new(), |x| x.to_string())
}

/// `series.csv`: the time series, one row per interval.
pub(super) fn series(r: &Report) -> String {
    let s = &r.series;
    let mut out = String::from("t_secs,active_players,events_per_sec,clue_finds,claims_per_sec,granted");
    for r in &s.rejected {
        let _ = write!(out, ",rejected_{}", r.name);
    }
    out.push_str(",duplicate_answers,errors,claimed_share");
    for st in &s.stock {
        let _ = write!(out, ",{}", field(&format!("stock_{}", st.name)));
    }
    out.push('\n');
    for i in 0..s.t_secs.len() {
        let _ = write!(
            out,
            "{},{},{},{},{},{}",
            s.t_secs[i], s.active_players[i], s.events_per_sec[i], s.clue_finds[i], s.claims_per_sec[i], s.granted[i]
        );
        for r in &s.rejected {
            let _ = write!(out, ",{}", r.values[i]);
        }
        let _ = write!(
            out,
            ",{},{},{}",
            s.duplicate_answers[i], s.errors[i], s.claimed_share[i]
        );
        for st in &s.stock {
            match st.values.get(i) {
                Some(v) => {
                    let _ = write!(out, ",{v}");
                }
                None => out.push(','),
            }
        }
        out.push('\n');
    }
    out
}

/// `products.csv`: one row per product.
pub(super) fn products(r: &Report) -> String {
    let mut out = String::from(
        "sku,initial_stock,restocked,granted,remaining,per_player_limit,min_score,sold_out,time_to_sell_out_secs",
    );
    for r in RejectReason::ALL {
        let _ = write!(out, ",rejected_{}", r.code());
    }
    out.push('\n');
    for p in &r.products {
        let _ = write!(
            out,
            "{},{},{},{},{},{},{},{},{}",
            field(&p.sku),
            p.initial_stock,
            p.restocked,
            p.granted,
            p.remaining,
            p.per_player_limit,
            p.min_score,
            p.sold_out,
            p.time_to_sell_out_secs.map_or(String::new(), |t| t.to_string())
        );
        for r in RejectReason::ALL {
            let _ = write!(out, ",{}", p.rejected.get(r.code()).copied().unwrap_or(0));
        }
        out.push('\n');
    }
    out
}

/// `scores.csv`: the score histogram.
pub(super) fn scores(r: &Report) -> String {
    let mut out = String::from("from,to,players\n");
    for b in &r.scores.histogram {
        let _ = writeln!(out, "{},{},{}", b.from, b.to, b.players);
    }
    out
}

/// `leaderboard.csv`: the top players.
pub(super) fn leaderboard(r: &Report) -> String {
    let mut out = String::from("rank,player,score\n");
    for e in &r.leaderboard {
        let _ = writeln!(out, "{},{},{}", e.rank, field(&e.player), e.score);
    }
    out
}

/// `summary.csv` of a Monte Carlo: every figure across runs.
pub(super) fn mc_summary(m: &McReport) -> String {
    let mut out = String::from("figure,runs,mean,median,p5,p95,min,max\n");
    for s in &m.summary {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{}",
            field(&s.name),
            s.runs,
            opt(s.mean),
            opt(s.median),
            opt(s.p5),
            opt(s.p95),
            opt(s.min),
            opt(s.max)
        );
    }
    out
}

/// `runs.csv` of a Monte Carlo: one row per run.
pub(super) fn mc_runs(m: &McReport) -> String {
    let mut out = String::from("seed,invariants_ok");
    if let Some(r) = m.per_run.first() {
        for (n, _) in &r.figures {
            let _ = write!(out, ",{}", field(n));
        }
    }
    out.push('\n');
    for r in &m.per_run {
        let _ = write!(out, "{},{}", r.seed, r.invariants_ok);
        for (_, v) in &r.figures {
            let _ = write!(out, ",{}", opt(*v));
        }
        out.push('\n');
    }
    out
}
