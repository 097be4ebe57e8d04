//! The report of one run: built from the observer, the clients' own counts,
//! the final scores and the invariant checks, then written as JSON, CSV,
//! SVG charts and one HTML page.
//!
//! Nothing here depends on the wall clock or on where files live, so two
//! in-process runs of the same scenario and seed write the same bytes.

use crate::model::{ClientStats, Tick};
use crate::observe::{Check, Recorder};
use crate::scenario::{Scenario, Segment, TelemetryMode};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use trove_engine::RejectReason;

pub const FORMAT: &str = "trove-sim report 1";

/// Rounds to 4 decimals, so reports stay readable.
pub fn r4(x: f64) -> f64 {
    if x.is_finite() {
        (x * 1e4).round() / 1e4
    } else {
        0.0
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub format: String,
    /// "in-process" or "live".
    pub mode: String,
    pub scenario: ScenarioSummary,
    pub notes: Vec<String>,
    pub invariants: Invariants,
    pub totals: Totals,
    pub products: Vec<ProductReport>,
    pub players: PlayersReport,
    pub segments: Vec<SegmentReport>,
    pub scores: ScoreReport,
    pub leaderboard: Vec<LeaderEntry>,
    pub series: Series,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live: Option<LiveReport>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ScenarioSummary {
    pub name: String,
    pub seed: u64,
    pub duration_secs: u32,
    pub hunt: String,
    pub opens_at_secs: u32,
    pub closes_at_secs: u32,
    pub players: u32,
    pub arrival: String,
    pub segments: BTreeMap<String, f64>,
    pub clues: usize,
    pub max_score: u64,
    pub products: usize,
    pub restocks: Vec<RestockEcho>,
    /// "aggregate", "engine" or "sent" (live).
    pub telemetry: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct RestockEcho {
    pub at_secs: u32,
    pub sku: String,
    pub add: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Invariants {
    pub ok: bool,
    pub checks: Vec<Check>,
}

impl Invariants {
    pub fn failed(&self) -> Vec<&Check> {
        self.checks.iter().filter(|c| !c.ok).collect()
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Totals {
    /// Every event the players produced: clue find sends plus telemetry.
    pub events: u64,
    pub events_sent: u64,
    pub events_accepted: u64,
    pub telemetry_aggregated: u64,
    pub events_per_sec: f64,
    pub peak_events_per_sec: f64,
    pub claim_requests: u64,
    pub claims_per_sec: f64,
    pub peak_claims_per_sec: f64,
    /// Distinct claim ids the server decided.
    pub claims_decided: u64,
    pub granted: u64,
    pub rejected: BTreeMap<String, u64>,
    pub duplicate_answers: u64,
    pub errors: BTreeMap<String, u64>,
    pub client: ClientStats,
}

#[derive(Clone, Debug, Serialize)]
pub struct ProductReport {
    pub sku: String,
    pub initial_stock: u64,
    pub restocked: u64,
    pub granted: u64,
    pub remaining: i64,
    pub per_player_limit: u32,
    pub min_score: u64,
    pub sold_out: bool,
    /// Seconds after the hunt opened when the last unit first went.
    pub time_to_sell_out_secs: Option<u32>,
    /// Every moment the stock hit zero (seconds since the start of the run).
    pub sold_out_at_secs: Vec<u32>,
    pub first_grant_at_secs: Option<u32>,
    pub rejected: BTreeMap<String, u64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct PlayersReport {
    pub total: u64,
    pub arrived: u64,
    pub claimed: u64,
    /// Share of arrived players holding at least one grant.
    pub claimed_share: f64,
    /// Arrived players whose final score reaches the lowest `min_score`.
    pub eligible_any: u64,
    pub eligible_share: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct SegmentReport {
    pub segment: String,
    pub arrived: u64,
    pub claimed: u64,
    pub claimed_share: f64,
    pub mean_score: f64,
    pub median_score: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct ScoreReport {
    /// "engine" (final state) or "clients" (what clients saw acknowledged).
    pub source: String,
    pub players: u64,
    pub mean: f64,
    pub p5: u64,
    pub p25: u64,
    pub median: u64,
    pub p75: u64,
    pub p95: u64,
    pub max: u64,
    pub zero_share: f64,
    pub histogram: Vec<Bin>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Bin {
    pub from: u64,
    pub to: u64,
    pub players: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct LeaderEntry {
    pub rank: u64,
    pub player: String,
    pub score: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct NamedSeries<T> {
    pub name: String,
    pub values: Vec<T>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Series {
    pub interval_secs: u32,
    /// Start of each interval, seconds since the start of the run.
    pub t_secs: Vec<u32>,
    pub active_players: Vec<u64>,
    pub events_per_sec: Vec<f64>,
    pub clue_finds: Vec<u64>,
    pub claims_per_sec: Vec<f64>,
    pub granted: Vec<u64>,
    pub rejected: Vec<NamedSeries<u64>>,
    pub duplicate_answers: Vec<u64>,
    pub errors: Vec<u64>,
    /// Share of arrived players who hold a grant, at the end of each interval.
    pub claimed_share: Vec<f64>,
    /// Stock at the end of each interval, per product.
    pub stock: Vec<NamedSeries<i64>>,
}

/// Live mode only: load offered and accepted, and latencies.
#[derive(Clone, Debug, Serialize)]
pub struct LiveReport {
    pub url: String,
    pub connections: usize,
    /// From the first send to the last answer (at least the seconds played).
    /// Offered rates are per second played, accepted rates per `run_secs`.
    pub run_secs: f64,
    pub ops: Vec<OpLoad>,
    pub events_offered: u64,
    pub events_accepted: u64,
    pub events_offered_per_sec: f64,
    pub events_accepted_per_sec: f64,
    /// How far the sender fell behind its schedule at worst (latencies are
    /// measured from the intended send time, so lag counts as latency).
    pub sender_max_lag_ms: f64,
    pub errors: BTreeMap<String, u64>,
    pub server_checks: Vec<Check>,
}

#[derive(Clone, Debug, Serialize)]
pub struct OpLoad {
    pub op: String,
    pub offered: u64,
    pub answered_ok: u64,
    pub answered_error: u64,
    pub no_answer: u64,
    pub offered_per_sec: f64,
    pub accepted_per_sec: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

/// Final scores of the arrived players, by player index.
pub struct Scores {
    pub source: &'static str,
    /// (player index, score) of every arrived player.
    pub by_player: Vec<(u32, u64)>,
    /// Top entries: (player id, score), best first.
    pub leaderboard: Vec<(String, u64)>,
}

pub struct ReportInput<'a> {
    pub sc: &'a Scenario,
    pub seed: u64,
    pub mode: &'a str,
    pub hunt_id: &'a str,
    pub recorder: &'a Recorder,
    pub client: &'a ClientStats,
    pub segment_of: &'a dyn Fn(u32) -> Segment,
    pub scores: Scores,
    pub checks: Vec<Check>,
    pub notes: Vec<String>,
    pub live: Option<LiveReport>,
    /// Ticks actually run (live runs may stop early).
    pub ticks_run: Tick,
}

/// Nearest-rank percentile of sorted values.
pub fn percentile_u64(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn build(input: ReportInput<'_>) -> Report {
    let ReportInput {
        sc,
        seed,
        mode,
        hunt_id,
        recorder: rec,
        client,
        segment_of,
        scores,
        checks,
        notes,
        live,
        ticks_run,
    } = input;
    let ticks = &rec.ticks[..(ticks_run as usize).min(rec.ticks.len())];
    let run_secs = ticks.len().max(1) as f64;
    let telemetry = match (mode, sc.behaviour.telemetry) {
        ("live", _) => "sent",
        (_, TelemetryMode::Aggregate) => "aggregate",
        (_, TelemetryMode::Engine) => "engine",
    };
    let scenario = ScenarioSummary {
        name: sc.name.clone(),
        seed,
        duration_secs: sc.duration_secs,
        hunt: hunt_id.to_owned(),
        opens_at_secs: sc.hunt.opens_at_secs,
        closes_at_secs: sc.hunt.closes_at_secs,
        players: sc.population.players,
        arrival: sc.population.arrival.clone(),
        segments: Segment::ALL
            .iter()
            .zip(sc.population.segments)
            .map(|(s, v)| (s.name().to_owned(), r4(v)))
            .collect(),
        clues: sc.hunt.clues.len(),
        max_score: sc.max_score(),
        products: sc.hunt.products.len(),
        restocks: sc
            .hunt
            .restocks
            .iter()
            .map(|r| RestockEcho {
                at_secs: r.at_secs,
                sku: r.sku.clone(),
                add: r.add,
            })
            .collect(),
        telemetry: telemetry.to_owned(),
    };

    // Totals.
    let sum = |f: &dyn Fn(&crate::observe::TickObs) -> u64| ticks.iter().map(f).sum::<u64>();
    let events_sent = sum(&|t| t.events_sent);
    let telemetry_aggregated = sum(&|t| t.telemetry_aggregated);
    let claim_requests = sum(&|t| t.claim_requests);
    let mut rejected = BTreeMap::new();
    for (i, r) in RejectReason::ALL.iter().enumerate() {
        rejected.insert(r.code().to_owned(), sum(&|t| t.rejected[i]));
    }
    let peak_events = ticks
        .iter()
        .map(|t| t.events_sent + t.telemetry_aggregated)
        .max()
        .unwrap_or(0);
    let peak_claims = ticks.iter().map(|t| t.claim_requests).max().unwrap_or(0);
    let totals = Totals {
        events: events_sent + telemetry_aggregated,
        events_sent,
        events_accepted: sum(&|t| t.events_accepted),
        telemetry_aggregated,
        events_per_sec: r4((events_sent + telemetry_aggregated) as f64 / run_secs),
        peak_events_per_sec: peak_events as f64,
        claim_requests,
        claims_per_sec: r4(claim_requests as f64 / run_secs),
        peak_claims_per_sec: peak_claims as f64,
        claims_decided: rec.claims_decided(),
        granted: sum(&|t| t.granted),
        rejected,
        duplicate_answers: sum(&|t| t.duplicate_answers),
        errors: rec.errors.clone(),
        client: client.clone(),
    };

    // Products.
    let opens = sc.hunt.opens_at_secs;
    let products = sc
        .hunt
        .products
        .iter()
        .zip(&rec.products)
        .map(|(p, o)| ProductReport {
            sku: p.sku.clone(),
            initial_stock: o.initial,
            restocked: o.added,
            granted: o.granted,
            remaining: o.remaining(),
            per_player_limit: p.per_player_limit,
            min_score: p.min_score,
            sold_out: o.remaining() <= 0 && !o.sellouts.is_empty(),
            time_to_sell_out_secs: o.sellouts.first().map(|t| t.saturating_sub(opens) + 1),
            sold_out_at_secs: o.sellouts.clone(),
            first_grant_at_secs: o.first_grant,
            rejected: RejectReason::ALL
                .iter()
                .enumerate()
                .filter(|(i, _)| o.rejected[*i] > 0)
                .map(|(i, r)| (r.code().to_owned(), o.rejected[i]))
                .collect(),
        })
        .collect();

    // Players and scores.
    let arrived = scores.by_player.len() as u64;
    let min_min_score = sc.hunt.products.iter().map(|p| p.min_score).min();
    let mut sorted: Vec<u64> = scores.by_player.iter().map(|(_, s)| *s).collect();
    sorted.sort_unstable();
    let claimed = scores.by_player.iter().filter(|(p, _)| rec.claimed(*p)).count() as u64;
    let eligible_any = match min_min_score {
        Some(m) => sorted.iter().filter(|s| **s >= m).count() as u64,
        None => 0,
    };
    let share = |n: u64, d: u64| if d == 0 { 0.0 } else { r4(n as f64 / d as f64) };
    let players = PlayersReport {
        total: u64::from(sc.population.players),
        arrived,
        claimed,
        claimed_share: share(claimed, arrived),
        eligible_any,
        eligible_share: share(eligible_any, arrived),
    };
    let segments = Segment::ALL
        .iter()
        .map(|seg| {
            let mut s: Vec<u64> = Vec::new();
            let mut claimed = 0;
            for (p, score) in &scores.by_player {
                if segment_of(*p) == *seg {
                    s.push(*score);
                    claimed += u64::from(rec.claimed(*p));
                }
            }
            s.sort_unstable();
            let n = s.len() as u64;
            SegmentReport {
                segment: seg.name().to_owned(),
                arrived: n,
                claimed,
                claimed_share: share(claimed, n),
                mean_score: if n == 0 {
                    0.0
                } else {
                    r4(s.iter().sum::<u64>() as f64 / n as f64)
                },
                median_score: percentile_u64(&s, 50.0),
            }
        })
        .collect();
    let max = sorted.last().copied().unwrap_or(0);
    let top = max.max(sc.max_score());
    let width = (top + 1).div_ceil(20).max(1);
    let mut histogram: Vec<Bin> = (0..(top + 1).div_ceil(width))
        .map(|i| Bin {
            from: i * width,
            to: (i + 1) * width - 1,
            players: 0,
        })
        .collect();
    for s in &sorted {
        histogram[(s / width) as usize].players += 1;
    }
    let n = sorted.len() as u64;
    let score_report = ScoreReport {
        source: scores.source.to_owned(),
        players: n,
        mean: if n == 0 {
            0.0
        } else {
            r4(sorted.iter().sum::<u64>() as f64 / n as f64)
        },
        p5: percentile_u64(&sorted, 5.0),
        p25: percentile_u64(&sorted, 25.0),
        median: percentile_u64(&sorted, 50.0),
        p75: percentile_u64(&sorted, 75.0),
        p95: percentile_u64(&sorted, 95.0),
        max,
        zero_share: share(sorted.iter().filter(|s| **s == 0).count() as u64, n),
        histogram,
    };
    let mut leaderboard = Vec::new();
    let mut rank = 0;
    let mut last = None;
    for (i, (player, score)) in scores.leaderboard.iter().enumerate() {
        if last != Some(*score) {
            rank = i as u64 + 1;
            last = Some(*score);
        }
        leaderboard.push(LeaderEntry {
            rank,
            player: player.clone(),
            score: *score,
        });
    }

    // Series.
    let iv = rec.interval as usize;
    let mut series = Series {
        interval_secs: rec.interval,
        t_secs: Vec::new(),
        active_players: Vec::new(),
        events_per_sec: Vec::new(),
        clue_finds: Vec::new(),
        claims_per_sec: Vec::new(),
        granted: Vec::new(),
        rejected: RejectReason::ALL
            .iter()
            .map(|r| NamedSeries {
                name: r.code().to_owned(),
                values: Vec::new(),
            })
            .collect(),
        duplicate_answers: Vec::new(),
        errors: Vec::new(),
        claimed_share: Vec::new(),
        stock: sc
            .hunt
            .products
            .iter()
            .zip(&rec.products)
            .map(|(p, o)| NamedSeries {
                name: p.sku.clone(),
                values: o.stock_samples.iter().take(ticks.len().div_ceil(iv)).copied().collect(),
            })
            .collect(),
    };
    let mut claimers = 0u64;
    for (k, chunk) in ticks.chunks(iv).enumerate() {
        let secs = chunk.len() as f64;
        let total = |f: &dyn Fn(&crate::observe::TickObs) -> u64| chunk.iter().map(f).sum::<u64>();
        series.t_secs.push((k * iv) as u32);
        series.active_players.push(chunk.last().map_or(0, |t| t.active_players));
        series
            .events_per_sec
            .push(r4(total(&|t| t.events_sent + t.telemetry_aggregated) as f64 / secs));
        series.clue_finds.push(total(&|t| t.clue_finds_sent));
        series
            .claims_per_sec
            .push(r4(total(&|t| t.claim_requests) as f64 / secs));
        series.granted.push(total(&|t| t.granted));
        for (i, s) in series.rejected.iter_mut().enumerate() {
            s.values.push(total(&|t| t.rejected[i]));
        }
        series.duplicate_answers.push(total(&|t| t.duplicate_answers));
        series.errors.push(total(&|t| t.errors));
        claimers += total(&|t| t.new_claimers);
        series.claimed_share.push(share(claimers, arrived));
    }

    Report {
        format: FORMAT.to_owned(),
        mode: mode.to_owned(),
        scenario,
        notes,
        invariants: Invariants {
            ok: checks.iter().all(|c| c.ok),
            checks,
        },
        totals,
        products,
        players,
        segments,
        scores: score_report,
        leaderboard,
        series,
        live,
    }
}

// ------------------------------------------------------------------ files

pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

impl Report {
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("a report always serializes");
        s.push('\n');
        s
    }

    /// The time series, one row per interval.
    pub fn series_csv(&self) -> String {
        let s = &self.series;
        let mut out = String::from("t_secs,active_players,events_per_sec,clue_finds,claims_per_sec,granted");
        for r in &s.rejected {
            let _ = write!(out, ",rejected_{}", r.name);
        }
        out.push_str(",duplicate_answers,errors,claimed_share");
        for st in &s.stock {
            let _ = write!(out, ",{}", csv_field(&format!("stock_{}", st.name)));
        }
        out.push('\n');
        for i in 0..s.t_secs.len() {
            let _ = write!(
                out,
                "{},{},{},{},{},{}",
                s.t_secs[i],
                s.active_players[i],
                s.events_per_sec[i],
                s.clue_finds[i],
                s.claims_per_sec[i],
                s.granted[i]
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

    pub fn products_csv(&self) -> String {
        let mut out = String::from(
            "sku,initial_stock,restocked,granted,remaining,per_player_limit,min_score,sold_out,time_to_sell_out_secs",
        );
        for r in RejectReason::ALL {
            let _ = write!(out, ",rejected_{}", r.code());
        }
        out.push('\n');
        for p in &self.products {
            let _ = write!(
                out,
                "{},{},{},{},{},{},{},{},{}",
                csv_field(&p.sku),
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

    pub fn scores_csv(&self) -> String {
        let mut out = String::from("from,to,players\n");
        for b in &self.scores.histogram {
            let _ = writeln!(out, "{},{},{}", b.from, b.to, b.players);
        }
        out
    }

    pub fn leaderboard_csv(&self) -> String {
        let mut out = String::from("rank,player,score\n");
        for e in &self.leaderboard {
            let _ = writeln!(out, "{},{},{}", e.rank, csv_field(&e.player), e.score);
        }
        out
    }

    /// Writes report.json, the CSV files, the charts and report.html into `dir`.
    pub fn write(&self, dir: &Path) -> std::io::Result<Vec<String>> {
        let charts = crate::charts::run_charts(self);
        let html = crate::html::run_page(self, &charts);
        let files = vec![
            ("report.json".to_owned(), self.to_json()),
            ("series.csv".to_owned(), self.series_csv()),
            ("products.csv".to_owned(), self.products_csv()),
            ("scores.csv".to_owned(), self.scores_csv()),
            ("leaderboard.csv".to_owned(), self.leaderboard_csv()),
            ("report.html".to_owned(), html),
        ];
        write_files(dir, files, &charts)
    }

    /// A few lines for the terminal.
    pub fn summary_text(&self) -> String {
        let mut s = String::new();
        let sc = &self.scenario;
        let _ = writeln!(
            s,
            "{} ({} mode, seed {}): {} players, {} s",
            sc.name, self.mode, sc.seed, sc.players, sc.duration_secs
        );
        let t = &self.totals;
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
        for p in &self.products {
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
            self.players.claimed_share * 100.0,
            self.players.arrived,
            self.scores.median,
            self.scores.p95,
            self.scores.max
        );
        if let Some(l) = &self.live {
            let _ = writeln!(
                s,
                "  live: {:.1} s over {} connections; events offered {:.0}/s, accepted {:.0}/s; sender lag at most {:.1} ms",
                l.run_secs, l.connections, l.events_offered_per_sec, l.events_accepted_per_sec, l.sender_max_lag_ms
            );
            for op in &l.ops {
                let _ = writeln!(
                    s,
                    "  {:<7} requests offered {:.1}/s accepted {:.1}/s  p50 {:.2} ms  p99 {:.2} ms  p99.9 {:.2} ms  max {:.2} ms",
                    op.op, op.offered_per_sec, op.accepted_per_sec, op.p50_ms, op.p99_ms, op.p999_ms, op.max_ms
                );
            }
        }
        let _ = writeln!(
            s,
            "  invariants: {}",
            if self.invariants.ok {
                "all held".to_owned()
            } else {
                "VIOLATED".to_owned()
            }
        );
        for c in &self.invariants.checks {
            let _ = writeln!(s, "    [{}] {}: {}", if c.ok { "ok" } else { "FAIL" }, c.name, c.detail);
        }
        s
    }
}

/// "1h 02m 03s", "4m 10s", "12s".
pub fn fmt_secs(secs: u32) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}h {m:02}m {s:02}s")
    } else if m > 0 {
        format!("{m}m {s:02}s")
    } else {
        format!("{s}s")
    }
}

/// Creates `dir` and writes `files` and the charts (`name.svg` each) into it;
/// returns the file names written. Shared by single runs and Monte Carlo.
pub(crate) fn write_files(
    dir: &Path,
    mut files: Vec<(String, String)>,
    charts: &[(String, String)],
) -> std::io::Result<Vec<String>> {
    std::fs::create_dir_all(dir)?;
    for (name, svg) in charts {
        files.push((format!("{name}.svg"), svg.clone()));
    }
    let mut written = Vec::new();
    for (name, text) in files {
        std::fs::write(dir.join(&name), text)?;
        written.push(name);
    }
    Ok(written)
}
