//! Monte Carlo: the same scenario with N seeds (`seed`, `seed + 1`, …), each
//! run in-process and checked, summarized per figure as mean, median, p5 and
//! p95 across runs.

use crate::error::SimError;
use crate::inprocess::{run_in_process, RunOptions};
use crate::observe::Check;
use crate::report::{r4, Report, ScenarioSummary, FORMAT};
use crate::scenario::Scenario;
use serde::Serialize;
use trove_engine::RejectReason;

/// One run's figures, by name, in a fixed order. `None` where a run has no
/// value (a product that did not sell out has no sell-out time).
pub(crate) fn figures(r: &Report) -> Vec<(String, Option<f64>)> {
    let mut f: Vec<(String, Option<f64>)> = vec![
        ("players.claimed_share".into(), Some(r.players.claimed_share)),
        ("players.eligible_share".into(), Some(r.players.eligible_share)),
        ("scores.mean".into(), Some(r.scores.mean)),
        ("scores.median".into(), Some(r.scores.median as f64)),
        ("scores.p95".into(), Some(r.scores.p95 as f64)),
        ("claims.requests".into(), Some(r.totals.claim_requests as f64)),
        ("claims.granted".into(), Some(r.totals.granted as f64)),
    ];
    for reason in RejectReason::ALL {
        let v = r.totals.rejected.get(reason.code()).copied().unwrap_or(0);
        f.push((format!("claims.rejected.{}", reason.code()), Some(v as f64)));
    }
    f.push(("rates.events_per_sec".into(), Some(r.totals.events_per_sec)));
    f.push(("rates.peak_events_per_sec".into(), Some(r.totals.peak_events_per_sec)));
    f.push(("rates.claims_per_sec".into(), Some(r.totals.claims_per_sec)));
    f.push(("rates.peak_claims_per_sec".into(), Some(r.totals.peak_claims_per_sec)));
    for p in &r.products {
        f.push((
            format!("product.{}.time_to_sell_out_secs", p.sku),
            p.time_to_sell_out_secs.map(f64::from),
        ));
        f.push((format!("product.{}.granted", p.sku), Some(p.granted as f64)));
        f.push((format!("product.{}.remaining", p.sku), Some(p.remaining as f64)));
    }
    f
}

/// One figure summarized across runs; `None` when no run had a value.
#[derive(Clone, Debug, Serialize)]
pub struct Stats {
    /// The figure, e.g. `players.claimed_share` or `product.mug.granted`.
    pub name: String,
    /// Runs that have a value for this figure.
    pub runs: usize,
    /// Mean over the runs.
    pub mean: Option<f64>,
    /// Median (interpolated).
    pub median: Option<f64>,
    /// 5th percentile (interpolated).
    pub p5: Option<f64>,
    /// 95th percentile (interpolated).
    pub p95: Option<f64>,
    /// Lowest value.
    pub min: Option<f64>,
    /// Highest value.
    pub max: Option<f64>,
}

/// Percentile with linear interpolation between closest ranks.
pub(crate) fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let pos = p / 100.0 * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64))
}

/// Summarizes `values` of the figure `name`.
pub(crate) fn stats(name: &str, values: &[f64]) -> Stats {
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    Stats {
        name: name.to_owned(),
        runs: n,
        mean: (n > 0).then(|| r4(v.iter().sum::<f64>() / n as f64)),
        median: percentile(&v, 50.0).map(r4),
        p5: percentile(&v, 5.0).map(r4),
        p95: percentile(&v, 95.0).map(r4),
        min: v.first().copied().map(r4),
        max: v.last().copied().map(r4),
    }
}

/// The figures of one run of a Monte Carlo.
#[derive(Clone, Debug, Serialize)]
pub struct RunFigures {
    /// The run's seed.
    pub seed: u64,
    /// True when every invariant held in this run.
    pub invariants_ok: bool,
    /// The checks that failed in this run.
    pub failed_checks: Vec<Check>,
    /// Every figure, by name, in the same order in every run.
    pub figures: Vec<(String, Option<f64>)>,
}

/// The report of a Monte Carlo; its `report.json` is this, serialized.
#[derive(Clone, Debug, Serialize)]
pub struct McReport {
    /// Always [`FORMAT`].
    pub format: String,
    /// Always "monte-carlo".
    pub mode: String,
    /// What ran (with the first seed).
    pub scenario: ScenarioSummary,
    /// Number of runs.
    pub runs: usize,
    /// The seed of each run, in order.
    pub seeds: Vec<u64>,
    /// Sentences on how the runs were carried out.
    pub notes: Vec<String>,
    /// True if every run held every invariant.
    pub invariants_ok: bool,
    /// Every figure summarized across runs.
    pub summary: Vec<Stats>,
    /// Every run's figures.
    pub per_run: Vec<RunFigures>,
}

/// A Monte Carlo's report and its wall-clock figures (not in the report).
pub struct McOutput {
    /// The report.
    pub report: McReport,
    /// Wall seconds for all runs.
    pub wall_secs: f64,
    /// Simulated player-seconds over all runs.
    pub player_secs: u64,
}

/// Runs `runs` seeds from `seed` and summarizes them.
pub fn run_monte_carlo(
    sc: &Scenario,
    seed: u64,
    runs: usize,
    opts: &RunOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<McOutput, SimError> {
    let started = std::time::Instant::now();
    let mut per_run = Vec::with_capacity(runs);
    let mut first: Option<Report> = None;
    let mut player_secs = 0;
    let per = u64::from(sc.duration_secs);
    for i in 0..runs {
        let s = seed.wrapping_add(i as u64);
        let base = i as u64 * per;
        let out = run_in_process(sc, s, opts, &mut |done, _| {
            progress(base + u64::from(done), per * runs as u64)
        })?;
        player_secs += out.timing.simulated_player_secs;
        per_run.push(RunFigures {
            seed: s,
            invariants_ok: out.report.invariants.ok,
            failed_checks: out.report.invariants.failed().into_iter().cloned().collect(),
            figures: figures(&out.report),
        });
        first.get_or_insert(out.report);
    }
    let first = first.ok_or_else(|| SimError::Other("--runs must be at least 1".into()))?;
    let names: Vec<String> = per_run[0].figures.iter().map(|(n, _)| n.clone()).collect();
    let summary = names
        .iter()
        .enumerate()
        .map(|(k, name)| {
            let values: Vec<f64> = per_run.iter().filter_map(|r| r.figures[k].1).collect();
            stats(name, &values)
        })
        .collect();
    let mut scenario = first.scenario.clone();
    scenario.seed = seed;
    let mut notes = vec![format!(
        "{runs} in-process runs with seeds {seed} to {}; each figure is summarized over the runs that have a value (a product that never sold out in a run has no sell-out time there).",
        seed.wrapping_add(runs as u64 - 1)
    )];
    notes.extend(first.notes.iter().skip(1).cloned());
    Ok(McOutput {
        report: McReport {
            format: FORMAT.to_owned(),
            mode: "monte-carlo".into(),
            scenario,
            runs,
            seeds: per_run.iter().map(|r| r.seed).collect(),
            notes,
            invariants_ok: per_run.iter().all(|r| r.invariants_ok),
            summary,
            per_run,
        },
        wall_secs: started.elapsed().as_secs_f64(),
        player_secs,
    })
}

impl McReport {
    /// The summary of the figure called `name`, if any run had it.
    pub(crate) fn stat(&self, name: &str) -> Option<&Stats> {
        self.summary.iter().find(|s| s.name == name)
    }
}
