//! The report of one run, as plain data: what ran, the invariant checks, the
//! totals, per-product and per-segment figures, the score distribution, the
//! leaderboard and the time series.
//!
//! This module only defines the data. The private `assemble` module fills it
//! in from a run's observations; the rendering methods (`to_json`, `write`,
//! `summary_text`, the CSV files) are implemented in the crate's private
//! `render` module, which depends on this one and never the reverse.
//!
//! Nothing here depends on the wall clock or on where files live, so two
//! in-process runs of the same scenario and seed give equal reports.

pub use crate::model::ClientStats;
use crate::observe::Check;
use serde::Serialize;
use std::collections::BTreeMap;

/// The value of every report's `format` field.
pub const FORMAT: &str = "trove-sim report 1";

/// Rounds to 4 decimals, so reports stay readable; NaN and infinities become 0.
pub(crate) fn r4(x: f64) -> f64 {
    if x.is_finite() {
        (x * 1e4).round() / 1e4
    } else {
        0.0
    }
}

/// Nearest-rank percentile (`p` from 0 to 100) of sorted values; 0 when empty.
pub(crate) fn percentile_u64(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The report of one run (in-process or live); `report.json` is this,
/// serialized.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Always [`FORMAT`].
    pub format: String,
    /// "in-process" or "live".
    pub mode: String,
    /// What ran.
    pub scenario: ScenarioSummary,
    /// Sentences on how the run was carried out, shown under the checks.
    pub notes: Vec<String>,
    /// The invariant checks and whether all held.
    pub invariants: Invariants,
    /// Counts over the whole run.
    pub totals: Totals,
    /// One entry per product, in scenario order.
    pub products: Vec<ProductReport>,
    /// How many players arrived, claimed and could claim.
    pub players: PlayersReport,
    /// One entry per segment (casual, active, power).
    pub segments: Vec<SegmentReport>,
    /// The final score distribution.
    pub scores: ScoreReport,
    /// The top players, best first.
    pub leaderboard: Vec<LeaderEntry>,
    /// Figures per interval of the run.
    pub series: Series,
    /// Live mode only: offered and accepted load, latencies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live: Option<LiveReport>,
}

/// The scenario as it ran: an echo of its main settings.
#[derive(Clone, Debug, Serialize)]
pub struct ScenarioSummary {
    /// The scenario's name.
    pub name: String,
    /// The seed the run used.
    pub seed: u64,
    /// Simulated seconds.
    pub duration_secs: u32,
    /// The hunt id the engine (or server) knew the hunt by.
    pub hunt: String,
    /// Second of the run at which the hunt opens.
    pub opens_at_secs: u32,
    /// Second of the run at which the hunt closes.
    pub closes_at_secs: u32,
    /// Players in the population.
    pub players: u32,
    /// The arrival preset's name, or "custom".
    pub arrival: String,
    /// Share of each segment, by segment name.
    pub segments: BTreeMap<String, f64>,
    /// Number of clues.
    pub clues: usize,
    /// The highest possible score (all clues found).
    pub max_score: u64,
    /// Number of products.
    pub products: usize,
    /// The scheduled restocks, by time.
    pub restocks: Vec<RestockEcho>,
    /// "aggregate", "engine" or "sent" (live).
    pub telemetry: String,
}

/// One scheduled restock, as the report echoes it.
#[derive(Clone, Debug, Serialize)]
pub struct RestockEcho {
    /// Second of the run.
    pub at_secs: u32,
    /// The product restocked.
    pub sku: String,
    /// Units added.
    pub add: u64,
}

/// The invariant checks of a run.
#[derive(Clone, Debug, Serialize)]
pub struct Invariants {
    /// True when every check held.
    pub ok: bool,
    /// Every check, held or not.
    pub checks: Vec<Check>,
}

impl Invariants {
    /// The checks that did not hold.
    pub fn failed(&self) -> Vec<&Check> {
        self.checks.iter().filter(|c| !c.ok).collect()
    }
}

/// Counts over the whole run.
#[derive(Clone, Debug, Serialize)]
pub struct Totals {
    /// Every event the players produced: clue find sends plus telemetry.
    pub events: u64,
    /// Events sent to the engine (or server).
    pub events_sent: u64,
    /// Events the engine accepted.
    pub events_accepted: u64,
    /// Telemetry counted by the simulator instead of sent.
    pub telemetry_aggregated: u64,
    /// Mean events per second of the run.
    pub events_per_sec: f64,
    /// Most events in one second.
    pub peak_events_per_sec: f64,
    /// Claim requests sent, retries and duplicates included.
    pub claim_requests: u64,
    /// Mean claim requests per second of the run.
    pub claims_per_sec: f64,
    /// Most claim requests in one second.
    pub peak_claims_per_sec: f64,
    /// Distinct claim ids the server decided.
    pub claims_decided: u64,
    /// Units granted.
    pub granted: u64,
    /// Rejected claims, by reason code (every reason present).
    pub rejected: BTreeMap<String, u64>,
    /// Answers to claim ids already decided (retries and double sends).
    pub duplicate_answers: u64,
    /// Error answers, by code.
    pub errors: BTreeMap<String, u64>,
    /// What the clients did, as they saw it.
    pub client: ClientStats,
}

/// The figures of one product.
#[derive(Clone, Debug, Serialize)]
pub struct ProductReport {
    /// The product.
    pub sku: String,
    /// Stock at the start.
    pub initial_stock: u64,
    /// Units added by restocks.
    pub restocked: u64,
    /// Units granted.
    pub granted: u64,
    /// Units left at the end (negative only if the engine oversold).
    pub remaining: i64,
    /// Most units one player may get.
    pub per_player_limit: u32,
    /// Score needed to claim it.
    pub min_score: u64,
    /// True when the stock ran out and stayed out.
    pub sold_out: bool,
    /// Seconds after the hunt opened when the last unit first went.
    pub time_to_sell_out_secs: Option<u32>,
    /// Every moment the stock hit zero (seconds since the start of the run).
    pub sold_out_at_secs: Vec<u32>,
    /// Second of the run of the first grant.
    pub first_grant_at_secs: Option<u32>,
    /// Rejected claims for this product, by reason code (only reasons seen).
    pub rejected: BTreeMap<String, u64>,
}

/// How many players arrived, claimed and could claim.
#[derive(Clone, Debug, Serialize)]
pub struct PlayersReport {
    /// Players in the population.
    pub total: u64,
    /// Players who arrived during the run.
    pub arrived: u64,
    /// Arrived players holding at least one grant.
    pub claimed: u64,
    /// Share of arrived players holding at least one grant.
    pub claimed_share: f64,
    /// Arrived players whose final score reaches the lowest `min_score`.
    pub eligible_any: u64,
    /// `eligible_any` as a share of arrived players.
    pub eligible_share: f64,
}

/// The figures of one player segment.
#[derive(Clone, Debug, Serialize)]
pub struct SegmentReport {
    /// "casual", "active" or "power".
    pub segment: String,
    /// Players of the segment who arrived.
    pub arrived: u64,
    /// Of those, players holding a grant.
    pub claimed: u64,
    /// `claimed` as a share of `arrived`.
    pub claimed_share: f64,
    /// Mean final score.
    pub mean_score: f64,
    /// Median final score.
    pub median_score: u64,
}

/// The final score distribution of the arrived players.
#[derive(Clone, Debug, Serialize)]
pub struct ScoreReport {
    /// "engine" (final state) or "clients" (what clients saw acknowledged).
    pub source: String,
    /// Players counted.
    pub players: u64,
    /// Mean score.
    pub mean: f64,
    /// 5th percentile.
    pub p5: u64,
    /// 25th percentile.
    pub p25: u64,
    /// Median.
    pub median: u64,
    /// 75th percentile.
    pub p75: u64,
    /// 95th percentile.
    pub p95: u64,
    /// Highest score.
    pub max: u64,
    /// Share of players who scored nothing.
    pub zero_share: f64,
    /// About 20 equal-width bins from 0 to the highest possible score.
    pub histogram: Vec<Bin>,
}

/// One histogram bin: players whose score is in `from..=to`.
#[derive(Clone, Debug, Serialize)]
pub struct Bin {
    /// Lowest score of the bin.
    pub from: u64,
    /// Highest score of the bin.
    pub to: u64,
    /// Players in the bin.
    pub players: u64,
}

/// One row of the leaderboard.
#[derive(Clone, Debug, Serialize)]
pub struct LeaderEntry {
    /// Rank; equal scores share a rank.
    pub rank: u64,
    /// The player id.
    pub player: String,
    /// The final score.
    pub score: u64,
}

/// A named series of values, one per interval.
#[derive(Clone, Debug, Serialize)]
pub struct NamedSeries<T> {
    /// What the values are of (a reason code, a product).
    pub name: String,
    /// One value per interval.
    pub values: Vec<T>,
}

/// Figures per interval of the run; every vector has one value per interval.
#[derive(Clone, Debug, Serialize)]
pub struct Series {
    /// Seconds per interval.
    pub interval_secs: u32,
    /// Start of each interval, seconds since the start of the run.
    pub t_secs: Vec<u32>,
    /// Players in the hunt at the end of each interval.
    pub active_players: Vec<u64>,
    /// Mean events per second.
    pub events_per_sec: Vec<f64>,
    /// Clue finds sent.
    pub clue_finds: Vec<u64>,
    /// Mean claim requests per second.
    pub claims_per_sec: Vec<f64>,
    /// Units granted.
    pub granted: Vec<u64>,
    /// Rejected claims, one series per reason code.
    pub rejected: Vec<NamedSeries<u64>>,
    /// Answers to claim ids already decided.
    pub duplicate_answers: Vec<u64>,
    /// Error answers.
    pub errors: Vec<u64>,
    /// Share of arrived players who hold a grant, at the end of each interval.
    pub claimed_share: Vec<f64>,
    /// Stock at the end of each interval, per product.
    pub stock: Vec<NamedSeries<i64>>,
}

/// Live mode only: load offered and accepted, and latencies.
#[derive(Clone, Debug, Serialize)]
pub struct LiveReport {
    /// The server's WebSocket URL.
    pub url: String,
    /// Game-server connections used.
    pub connections: usize,
    /// Their WebSocket subprotocol: `trove.v1.json` or `trove.v1.msgpack`.
    pub protocol: String,
    /// From the first send to the last answer (at least the seconds played).
    /// Offered rates are per second played, accepted rates per `run_secs`.
    pub run_secs: f64,
    /// Load and latency per operation.
    pub ops: Vec<OpLoad>,
    /// Events sent.
    pub events_offered: u64,
    /// Events the server accepted.
    pub events_accepted: u64,
    /// Events sent per second played.
    pub events_offered_per_sec: f64,
    /// Events accepted per second of `run_secs`.
    pub events_accepted_per_sec: f64,
    /// How far the sender fell behind its schedule at worst (latencies are
    /// measured from the intended send time, so lag counts as latency).
    pub sender_max_lag_ms: f64,
    /// Transport and protocol errors, by kind.
    pub errors: BTreeMap<String, u64>,
    /// The server's own view: its stock ledger and consistency check.
    pub server_checks: Vec<Check>,
}

/// Load and latency of one operation in a live run.
#[derive(Clone, Debug, Serialize)]
pub struct OpLoad {
    /// The operation ("events", "claim", ...).
    pub op: String,
    /// Requests sent.
    pub offered: u64,
    /// Requests answered with success.
    pub answered_ok: u64,
    /// Requests answered with an error.
    pub answered_error: u64,
    /// Requests never answered.
    pub no_answer: u64,
    /// Requests sent per second played.
    pub offered_per_sec: f64,
    /// Requests answered with success per second of the run.
    pub accepted_per_sec: f64,
    /// Median latency in milliseconds.
    pub p50_ms: f64,
    /// 90th percentile latency in milliseconds.
    pub p90_ms: f64,
    /// 99th percentile latency in milliseconds.
    pub p99_ms: f64,
    /// 99.9th percentile latency in milliseconds.
    pub p999_ms: f64,
    /// Highest latency in milliseconds.
    pub max_ms: f64,
}
