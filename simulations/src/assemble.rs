//! Builds a run's [`Report`] from what the run observed: the observer's
//! counts, the clients' own counts, the final scores and the invariant
//! checks. Shared by the in-process and the live mode; pure arithmetic, no
//! I/O and no clock.

use crate::model::{ClientStats, Tick};
use crate::observe::{Check, Recorder, TickObs};
use crate::report::{
    percentile_u64, r4, Bin, Invariants, LeaderEntry, LiveReport, NamedSeries, PlayersReport, ProductReport, Report,
    RestockEcho, ScenarioSummary, ScoreReport, SegmentReport, Series, Totals, FORMAT,
};
use crate::scenario::{Scenario, Segment, TelemetryMode};
use trove_engine::RejectReason;

/// Final scores of the arrived players, by player index.
pub(crate) struct Scores {
    /// "engine" (final state) or "clients" (what clients saw acknowledged).
    pub(crate) source: &'static str,
    /// (player index, score) of every arrived player.
    pub(crate) by_player: Vec<(u32, u64)>,
    /// Top entries: (player id, score), best first.
    pub(crate) leaderboard: Vec<(String, u64)>,
}

/// Everything a report is built from.
pub(crate) struct ReportInput<'a> {
    pub(crate) sc: &'a Scenario,
    pub(crate) seed: u64,
    /// "in-process" or "live".
    pub(crate) mode: &'a str,
    pub(crate) hunt_id: &'a str,
    pub(crate) recorder: &'a Recorder,
    pub(crate) client: &'a ClientStats,
    pub(crate) segment_of: &'a dyn Fn(u32) -> Segment,
    pub(crate) scores: Scores,
    pub(crate) checks: Vec<Check>,
    pub(crate) notes: Vec<String>,
    pub(crate) live: Option<LiveReport>,
    /// Ticks actually run (live runs may stop early).
    pub(crate) ticks_run: Tick,
}

/// `n / d` rounded to 4 decimals; 0 when `d` is 0.
fn share(n: u64, d: u64) -> f64 {
    if d == 0 {
        0.0
    } else {
        r4(n as f64 / d as f64)
    }
}

/// The mean of `values`, rounded to 4 decimals; 0 when empty.
fn mean(values: &[u64]) -> f64 {
    if values.is_empty() {
        0.0
    } else {
        r4(values.iter().sum::<u64>() as f64 / values.len() as f64)
    }
}

/// The sum of `f` over `ticks`.
fn total(ticks: &[TickObs], f: impl Fn(&TickObs) -> u64) -> u64 {
    ticks.iter().map(f).sum()
}

/// Builds the report of a run.
pub(crate) fn build(input: ReportInput<'_>) -> Report {
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
    let mut sorted: Vec<u64> = scores.by_player.iter().map(|(_, s)| *s).collect();
    sorted.sort_unstable();
    let arrived = scores.by_player.len() as u64;
    Report {
        format: FORMAT.to_owned(),
        mode: mode.to_owned(),
        scenario: scenario_summary(sc, seed, mode, hunt_id),
        notes,
        invariants: Invariants {
            ok: checks.iter().all(|c| c.ok),
            checks,
        },
        totals: totals(rec, ticks, client),
        products: products(sc, rec),
        players: players(sc, rec, &scores, &sorted),
        segments: segments(rec, &scores, segment_of),
        scores: score_report(sc, scores.source, &sorted),
        leaderboard: leaderboard(&scores.leaderboard),
        series: series(sc, rec, ticks, arrived),
        live,
    }
}

/// What ran.
fn scenario_summary(sc: &Scenario, seed: u64, mode: &str, hunt_id: &str) -> ScenarioSummary {
    let telemetry = match (mode, sc.behaviour.telemetry) {
        ("live", _) => "sent",
        (_, TelemetryMode::Aggregate) => "aggregate",
        (_, TelemetryMode::Engine) => "engine",
    };
    ScenarioSummary {
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
    }
}

/// Counts over the ticks run.
fn totals(rec: &Recorder, ticks: &[TickObs], client: &ClientStats) -> Totals {
    let run_secs = ticks.len().max(1) as f64;
    let events_sent = total(ticks, |t| t.events_sent);
    let telemetry_aggregated = total(ticks, |t| t.telemetry_aggregated);
    let claim_requests = total(ticks, |t| t.claim_requests);
    let rejected = RejectReason::ALL
        .iter()
        .enumerate()
        .map(|(i, r)| (r.code().to_owned(), total(ticks, |t| t.rejected[i])))
        .collect();
    let peak_events = ticks
        .iter()
        .map(|t| t.events_sent + t.telemetry_aggregated)
        .max()
        .unwrap_or(0);
    let peak_claims = ticks.iter().map(|t| t.claim_requests).max().unwrap_or(0);
    Totals {
        events: events_sent + telemetry_aggregated,
        events_sent,
        events_accepted: total(ticks, |t| t.events_accepted),
        telemetry_aggregated,
        events_per_sec: r4((events_sent + telemetry_aggregated) as f64 / run_secs),
        peak_events_per_sec: peak_events as f64,
        claim_requests,
        claims_per_sec: r4(claim_requests as f64 / run_secs),
        peak_claims_per_sec: peak_claims as f64,
        claims_decided: rec.claims_decided(),
        granted: total(ticks, |t| t.granted),
        rejected,
        duplicate_answers: total(ticks, |t| t.duplicate_answers),
        errors: rec.errors.clone(),
        client: client.clone(),
    }
}

/// One entry per product.
fn products(sc: &Scenario, rec: &Recorder) -> Vec<ProductReport> {
    let opens = sc.hunt.opens_at_secs;
    sc.hunt
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
        .collect()
}

/// Arrived, claimed and eligible players; `sorted` are the arrived players'
/// scores, ascending.
fn players(sc: &Scenario, rec: &Recorder, scores: &Scores, sorted: &[u64]) -> PlayersReport {
    let arrived = scores.by_player.len() as u64;
    let claimed = scores.by_player.iter().filter(|(p, _)| rec.claimed(*p)).count() as u64;
    let eligible_any = match sc.hunt.products.iter().map(|p| p.min_score).min() {
        Some(m) => sorted.iter().filter(|s| **s >= m).count() as u64,
        None => 0,
    };
    PlayersReport {
        total: u64::from(sc.population.players),
        arrived,
        claimed,
        claimed_share: share(claimed, arrived),
        eligible_any,
        eligible_share: share(eligible_any, arrived),
    }
}

/// One entry per segment.
fn segments(rec: &Recorder, scores: &Scores, segment_of: &dyn Fn(u32) -> Segment) -> Vec<SegmentReport> {
    Segment::ALL
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
                mean_score: mean(&s),
                median_score: percentile_u64(&s, 50.0),
            }
        })
        .collect()
}

/// The score distribution of `sorted` (ascending) scores.
fn score_report(sc: &Scenario, source: &str, sorted: &[u64]) -> ScoreReport {
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
    for s in sorted {
        histogram[(s / width) as usize].players += 1;
    }
    let n = sorted.len() as u64;
    ScoreReport {
        source: source.to_owned(),
        players: n,
        mean: mean(sorted),
        p5: percentile_u64(sorted, 5.0),
        p25: percentile_u64(sorted, 25.0),
        median: percentile_u64(sorted, 50.0),
        p75: percentile_u64(sorted, 75.0),
        p95: percentile_u64(sorted, 95.0),
        max,
        zero_share: share(sorted.iter().filter(|s| **s == 0).count() as u64, n),
        histogram,
    }
}

/// Ranks the top entries (best first); equal scores share a rank.
fn leaderboard(top: &[(String, u64)]) -> Vec<LeaderEntry> {
    let mut leaderboard = Vec::with_capacity(top.len());
    let mut rank = 0;
    let mut last = None;
    for (i, (player, score)) in top.iter().enumerate() {
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
    leaderboard
}

/// Figures per interval of `rec.interval` ticks.
fn series(sc: &Scenario, rec: &Recorder, ticks: &[TickObs], arrived: u64) -> Series {
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
        series.t_secs.push((k * iv) as u32);
        series.active_players.push(chunk.last().map_or(0, |t| t.active_players));
        series.events_per_sec.push(r4(
            total(chunk, |t| t.events_sent + t.telemetry_aggregated) as f64 / secs
        ));
        series.clue_finds.push(total(chunk, |t| t.clue_finds_sent));
        series
            .claims_per_sec
            .push(r4(total(chunk, |t| t.claim_requests) as f64 / secs));
        series.granted.push(total(chunk, |t| t.granted));
        for (i, s) in series.rejected.iter_mut().enumerate() {
            s.values.push(total(chunk, |t| t.rejected[i]));
        }
        series.duplicate_answers.push(total(chunk, |t| t.duplicate_answers));
        series.errors.push(total(chunk, |t| t.errors));
        claimers += total(chunk, |t| t.new_claimers);
        series.claimed_share.push(share(claimers, arrived));
    }
    series
}
