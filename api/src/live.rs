//! The `stats` and `hunts` push topics: one sampler for the whole server.
//!
//! Every [`LIVE_INTERVAL`] the sampler looks at who listens. For `stats`
//! (admin) it reads the counters the server already keeps (the rendered
//! Prometheus text, module `promtext`), the journal's durable sequence and
//! chain head, the last snapshot, readiness and the last consistency check,
//! and turns counters into rates over the interval. For `hunts` it asks the
//! leaderboard projection for its hunt summaries when the projection moved.
//! Each result is published once on a `watch` channel of [`Live`]; a subscription only
//! stamps its id on the latest value and sends it. Nothing is sampled while
//! nobody listens, and nothing here runs on a request's path.

use crate::promtext;
use crate::state::{AppState, Core};
#[cfg(doc)]
use crate::topics::Live;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use trove_protocol::{self as p, HuntsPush, StatsPush};

/// How often the topics are sampled (and at most how often they push).
pub(crate) const LIVE_INTERVAL: Duration = Duration::from_millis(500);
/// Most hunts one `hunts` push holds.
pub(crate) const MAX_PUSHED_HUNTS: usize = 1000;
/// Ops whose `trove_api_ack_seconds` make the ack latency.
const ACK_OPS: [&str; 2] = ["events", "claim"];

/// Counter readings, to turn into rates at the next sample.
struct Reading {
    at: Instant,
    events: f64,
    claims: BTreeMap<String, f64>,
    ack: Vec<(f64, f64)>,
}

impl Reading {
    fn of(text: &str) -> Reading {
        let mut claims = BTreeMap::new();
        for s in promtext::samples(text, "trove_claims_total") {
            // Decisions only: a retried claim id answered again is not a new claim.
            if s.labels.get("duplicate").map(String::as_str) == Some("true") {
                continue;
            }
            if let Some(outcome) = s.labels.get("outcome") {
                *claims.entry(outcome.clone()).or_insert(0.0) += s.value;
            }
        }
        Reading {
            at: Instant::now(),
            events: promtext::sum(text, "trove_events_total", &[]),
            claims,
            ack: promtext::buckets(text, "trove_api_ack_seconds", "op", &ACK_OPS),
        }
    }
}

/// Runs the sampler until the server stops.
pub(crate) async fn run(state: Arc<AppState>, core: Arc<Core>) {
    let mut tick = tokio::time::interval(LIVE_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last: Option<Reading> = None;
    let mut hunts_seq: Option<u64> = None;
    loop {
        tick.tick().await;
        if state.live.stats.receiver_count() > 0 {
            let started = Instant::now();
            let (push, reading) = sample_stats(&state, &core, last.take()).await;
            metrics::histogram!("trove_live_sample_seconds", "topic" => "stats")
                .record(started.elapsed().as_secs_f64());
            state.live.stats.send_replace(Some(Arc::new(push)));
            last = Some(reading);
        } else if last.take().is_some() {
            // Nobody listens: a later subscriber must not get stale figures.
            state.live.stats.send_replace(None);
        }
        if state.live.hunts.receiver_count() > 0 {
            let started = Instant::now();
            sample_hunts(&state, &core, &mut hunts_seq).await;
            metrics::histogram!("trove_live_sample_seconds", "topic" => "hunts")
                .record(started.elapsed().as_secs_f64());
        } else {
            hunts_seq = None;
        }
    }
}

/// Publishes the hunt summaries if the projection moved since `seen`.
async fn sample_hunts(state: &AppState, core: &Core, seen: &mut Option<u64>) {
    let applied = core.projection.as_of_seq();
    if *seen == Some(applied) {
        return;
    }
    let (as_of_seq, truncated, hunts) = core.projection.hunt_summaries(MAX_PUSHED_HUNTS).await;
    *seen = Some(applied);
    let push = HuntsPush {
        push: "hunts".into(),
        subscription: 0,
        as_of_seq,
        truncated,
        hunts,
    };
    state.live.hunts.send_if_modified(|cur| {
        let changed = cur
            .as_ref()
            .is_none_or(|c| c.hunts != push.hunts || c.truncated != push.truncated);
        if changed {
            *cur = Some(Arc::new(push));
        }
        changed
    });
}

async fn sample_stats(state: &AppState, core: &Core, last: Option<Reading>) -> (StatsPush, Reading) {
    let text = state.metrics.as_ref().map(|h| h.render()).unwrap_or_default();
    let now = Reading::of(&text);
    let rates = last.as_ref().filter(|l| now.at > l.at);
    let secs = rates.map_or(1.0, |l| (now.at - l.at).as_secs_f64());
    let rate = |new: f64, old: f64| ((new - old).max(0.0) / secs * 10.0).round() / 10.0;
    let claims_per_s = now
        .claims
        .iter()
        .map(|(k, v)| {
            let old = rates.and_then(|l| l.claims.get(k)).copied().unwrap_or(*v);
            (k.clone(), rate(*v, old))
        })
        .collect();
    let before = rates.map_or(&now.ack[..], |l| &l.ack[..]);
    let ms = |q| promtext::quantile(before, &now.ack, q).map(|s| (s * 1e5).round() / 100.0);
    let journal = journal_stats(core).await;
    let push = StatsPush {
        push: "stats".into(),
        subscription: 0,
        at: unix_ms(SystemTime::now()),
        events_per_s: rate(now.events, rates.map_or(now.events, |l| l.events)),
        claims_per_s,
        events_total: now.events as u64,
        claims_total: now.claims.iter().map(|(k, v)| (k.clone(), *v as u64)).collect(),
        ack_p50_ms: ms(0.5),
        ack_p99_ms: ms(0.99),
        connections: promtext::sum(&text, "trove_ws_connections", &[]).max(0.0) as u64,
        players_resident: promtext::sum(&text, "trove_players_resident", &[]).max(0.0) as u64,
        journal,
        snapshot: last_snapshot(core.store.dir()),
        ready: match state.readiness() {
            Ok(()) => p::Readiness {
                ready: true,
                reason: None,
            },
            Err(reason) => p::Readiness {
                ready: false,
                reason: Some(reason),
            },
        },
        consistency: state.live.last_consistency(),
        projection_lag: core.engine.durable_seq().saturating_sub(core.projection.as_of_seq()),
    };
    (push, now)
}

/// The journal's sequences, chain head and durability mode.
async fn journal_stats(core: &Core) -> p::JournalStats {
    let durable = core.store.durable_seq();
    let chain_head = crate::ops::chain_head(core).await.unwrap_or_else(|e| p::ChainHead {
        seq: durable,
        hash: format!("unavailable: {}", e.message),
    });
    p::JournalStats {
        durable_seq: chain_head.seq,
        last_seq: core.engine.last_seq(),
        chain_head,
        durability: match core.store.durability() {
            trove_persistence::DurabilityMode::Flush => "flush".into(),
            trove_persistence::DurabilityMode::Strict => "strict".into(),
        },
    }
}

/// The newest snapshot's sequence and age, if there is one.
fn last_snapshot(dir: &std::path::Path) -> Option<p::SnapshotStats> {
    let (seq, path) = trove_persistence::snapshot::list(dir)
        .ok()?
        .into_iter()
        .max_by_key(|(s, _)| *s)?;
    let written = std::fs::metadata(&path).and_then(|m| m.modified()).ok()?;
    let age = SystemTime::now().duration_since(written).unwrap_or_default();
    Some(p::SnapshotStats {
        seq,
        age_s: (age.as_secs_f64() * 10.0).round() / 10.0,
    })
}

fn unix_ms(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
