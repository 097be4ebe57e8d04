//! The operations behind both transports. Each takes parsed input and returns
//! the JSON reply body (`"ok": true` and the op's fields); the transport adds
//! the request id (WebSocket) or the status code (HTTP).

use crate::error::ApiError;
use crate::state::Core;
use crate::wire::{self, Obj};
use serde_json::{json, Value};
use std::time::Instant;
use trove_audit::trail::{self, TrailError};
use trove_engine::Seq;
use trove_readmodel::consistency::ConsistencyReport;
pub use trove_readmodel::consistency::Replay;

/// Largest `limit` of a leaderboard query.
pub const MAX_LEADERBOARD_LIMIT: u64 = 1000;
pub const DEFAULT_LEADERBOARD_LIMIT: u64 = 10;
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
pub async fn consistency(core: &Core) -> Result<ConsistencyReport, ApiError> {
    consistency_with(core, Replay::Full).await
}

/// The consistency check, with or without the full journal replay.
pub async fn consistency_with(core: &Core, replay: Replay) -> Result<ConsistencyReport, ApiError> {
    Ok(trove_readmodel::consistency::check(&core.projection, &core.engine, replay).await?)
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
