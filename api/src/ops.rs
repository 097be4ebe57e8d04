//! The operations behind both transports. Each takes parsed input and returns
//! the JSON reply body (`"ok": true` and the op's fields); the transport adds
//! the request id (WebSocket) or the status code (HTTP).

use crate::error::ApiError;
use crate::state::Core;
use crate::wire::{self, Obj};
use serde_json::{json, Value};
use std::time::Instant;
use trove_audit::trail::{self, TrailError};
use trove_engine::{Seq, World};
use trove_persistence::Check;

/// Largest `limit` of a leaderboard query.
pub const MAX_LEADERBOARD_LIMIT: u64 = 1000;
pub const DEFAULT_LEADERBOARD_LIMIT: u64 = 10;
/// The consistency check replays the whole journal into a fresh state when it
/// holds at most this many records; above, it relies on the projection's counts.
pub const FULL_REPLAY_MAX_RECORDS: u64 = 2_000_000;
/// Most claim records one audit trail page returns; most journal records it scans.
pub use trove_audit::trail::{AUDIT_SCAN_BUDGET, MAX_AUDIT_LIMIT};

fn record_ack(op: &'static str, started: Instant, result: &Result<Value, ApiError>) {
    let code = match result {
        Ok(_) => "ok",
        Err(e) => match e.code {
            std::borrow::Cow::Borrowed(c) => c,
            std::borrow::Cow::Owned(_) => "other",
        },
    };
    metrics::counter!("trove_api_requests_total", "op" => op, "code" => code).increment(1);
    metrics::histogram!("trove_api_ack_seconds", "op" => op).record(started.elapsed().as_secs_f64());
}

pub async fn events(core: &Core, body: &Obj) -> Result<Value, ApiError> {
    let started = Instant::now();
    let result: Result<Value, ApiError> = async {
        let events = wire::parse_events(body)?;
        let n = events.len();
        let r = core.engine.ingest(events).await?;
        metrics::histogram!("trove_api_event_batch_size").record(n as f64);
        Ok(json!({"ok": true, "accepted": r.accepted, "seq": r.seq}))
    }
    .await;
    if let Err(e) = &result {
        if e.code == "invalid_event" {
            metrics::counter!("trove_events_rejected_total", "reason" => "invalid_event").increment(1);
        }
    }
    record_ack("events", started, &result);
    result
}

/// `body` is `raw` (the request's JSON text) parsed; `customs` is taken from
/// `raw` byte for byte.
pub async fn claim(core: &Core, raw: &[u8], body: &Obj) -> Result<Value, ApiError> {
    let started = Instant::now();
    let result: Result<Value, ApiError> = async {
        let req = wire::parse_claim(body, raw)?;
        let r = core.engine.claim(req).await?;
        Ok(wire::claim_result(&r))
    }
    .await;
    record_ack("claim", started, &result);
    result
}

pub async fn player(core: &Core, hunt: &str, player: &str) -> Result<Value, ApiError> {
    let h = core.engine.hunt(hunt).await?;
    let p = core.engine.player_read(player).await?;
    Ok(wire::player_json(&h, player, p.as_ref()))
}

/// Parses and checks a leaderboard `limit`.
pub fn leaderboard_limit(limit: Option<u64>) -> Result<usize, ApiError> {
    let limit = limit.unwrap_or(DEFAULT_LEADERBOARD_LIMIT);
    if limit == 0 || limit > MAX_LEADERBOARD_LIMIT {
        return Err(ApiError::invalid_request(format!(
            "limit must be between 1 and {MAX_LEADERBOARD_LIMIT}"
        )));
    }
    Ok(limit as usize)
}

pub async fn leaderboard(core: &Core, hunt: &str, limit: usize, around: Option<&str>) -> Result<Value, ApiError> {
    // The engine is the authority on which hunts exist.
    core.engine.hunt(hunt).await?;
    Ok(leaderboard_now(core, hunt, limit, around))
}

/// The current published leaderboard of a hunt (which must exist).
pub fn leaderboard_now(core: &Core, hunt: &str, limit: usize, around: Option<&str>) -> Value {
    let as_of = core.projection.as_of_seq();
    let entries: Vec<Value> = core
        .projection
        .board(hunt)
        .map(|b| b.query(limit, around))
        .unwrap_or_default()
        .into_iter()
        .map(|(rank, player, score)| json!({"rank": rank, "player": &*player, "score": score}))
        .collect();
    json!({"ok": true, "hunt": hunt, "entries": entries, "as_of_seq": as_of})
}

/// Compares live state, the leaderboard projection and the journal.
pub async fn consistency(core: &Core) -> Result<Value, ApiError> {
    consistency_with(core, Replay::Full).await
}

/// Whether [`consistency_with`] replays the journal from the start.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    /// Up to [`FULL_REPLAY_MAX_RECORDS`]: the admin endpoint.
    Full,
    /// Not again: at startup the live state *is* a replay of the journal
    /// (recovery: a checked snapshot plus the checked tail), so replaying it
    /// once more would only double the restart time. Readiness uses this.
    Recovered,
}

pub async fn consistency_with(core: &Core, replay: Replay) -> Result<Value, ApiError> {
    let started = Instant::now();
    let (world, mut checks) = core.projection.compare_with_engine(&core.engine).await?;
    let invariants = match world.check_invariants() {
        Ok(()) => Check {
            name: "engine_invariants".into(),
            ok: true,
            detail: "stock ledgers balance; grants match; per-player limits held".into(),
        },
        Err(e) => Check {
            name: "engine_invariants".into(),
            ok: false,
            detail: e,
        },
    };
    checks.insert(0, invariants);
    checks.push(match replay {
        Replay::Full => replay_check(core, &world).await,
        Replay::Recovered => Check {
            name: "journal_replay".into(),
            ok: true,
            detail: "at startup: the live state was just recovered from the checked journal; \
                     GET /v1/admin/consistency replays it again"
                .into(),
        },
    });
    let ok = checks.iter().all(|c| c.ok);
    metrics::histogram!("trove_consistency_check_seconds").record(started.elapsed().as_secs_f64());
    metrics::gauge!("trove_consistency_ok").set(if ok { 1.0 } else { 0.0 });
    Ok(json!({
        "ok": ok,
        "journal_seq": world.last_seq,
        "checks": checks.iter().map(|c| json!({"name": c.name, "ok": c.ok, "detail": c.detail})).collect::<Vec<_>>(),
    }))
}

/// Replays the journal up to the dump's sequence into a fresh state and
/// compares digests with the live state.
async fn replay_check(core: &Core, live: &World) -> Check {
    let name = "journal_replay".to_string();
    let upto = live.last_seq;
    if upto > FULL_REPLAY_MAX_RECORDS {
        return Check {
            name,
            ok: true,
            detail: format!(
                "skipped: {upto} records exceed {FULL_REPLAY_MAX_RECORDS}; the projection checks above compare counts with the journal (run `trove verify` offline for a full replay)"
            ),
        };
    }
    let store = core.store.clone();
    let started = Instant::now();
    let replayed = tokio::task::spawn_blocking(move || -> Result<World, String> {
        let mut w = World::default();
        while w.last_seq < upto {
            let recs = store.read_after(w.last_seq, 8192).map_err(|e| e.to_string())?;
            if recs.is_empty() {
                return Err(format!("journal ends at {} before {upto}", w.last_seq));
            }
            for (seq, _, r) in recs {
                if seq > upto {
                    break;
                }
                r.replay(&mut w, seq).map_err(|e| e.to_string())?;
            }
        }
        Ok(w)
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r);
    match replayed {
        Ok(w) => {
            let (a, b) = (w.digest(), live.digest());
            if a == b {
                Check {
                    name,
                    ok: true,
                    detail: format!(
                        "{upto} records replayed in {} ms; digest {a} equals the live state",
                        started.elapsed().as_millis()
                    ),
                }
            } else {
                Check {
                    name,
                    ok: false,
                    detail: format!("replay differs from live state: {}", w.diff(live, 5).join("; ")),
                }
            }
        }
        Err(e) => Check {
            name,
            ok: false,
            detail: e,
        },
    }
}

/// One page of the claim audit trail: every decided claim (granted or
/// rejected) after journal sequence `after`, with its customs document as
/// stored. The JSON text of the answer (customs are embedded byte for byte);
/// see [`trove_audit::trail::claim_page`].
pub async fn audit_claims(core: &Core, after: Seq, limit: u64) -> Result<String, ApiError> {
    trail::check_limit(limit).map_err(|e| ApiError::invalid_request(e.to_string()))?;
    let store = core.store.clone();
    tokio::task::spawn_blocking(move || trail::claim_page(&store, after, limit))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|e| match e {
            TrailError::Limit => ApiError::invalid_request(e.to_string()),
            e => ApiError::internal(e.to_string()),
        })
}
