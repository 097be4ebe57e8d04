//! The operations behind both transports. Each takes parsed input and returns
//! the JSON reply body (`"ok": true` and the op's fields); the transport adds
//! the request id (WebSocket) or the status code (HTTP).

use crate::error::ApiError;
use crate::state::Core;
use crate::wire;
use std::borrow::Cow;
use std::time::Instant;
use trove_engine::{limits, Record, Seq, World};
use trove_persistence::{Check, Item};
use trove_protocol::{self as p, parse, ErrorCode};

/// Largest `limit` of a leaderboard query.
pub const MAX_LEADERBOARD_LIMIT: u64 = 1000;
/// `limit` of a leaderboard query that gives none.
pub const DEFAULT_LEADERBOARD_LIMIT: u64 = 10;
/// The consistency check replays the whole journal into a fresh state when it
/// holds at most this many records; above, it relies on the projection's counts.
pub const FULL_REPLAY_MAX_RECORDS: u64 = 2_000_000;
/// Most claim records one audit export page returns.
pub const MAX_AUDIT_LIMIT: u64 = 10_000;
/// Most journal records one audit export page scans.
pub const AUDIT_SCAN_BUDGET: u64 = 200_000;

fn record_ack<T>(op: &'static str, started: Instant, result: &Result<T, ApiError>) {
    let code = match result {
        Ok(_) => "ok",
        Err(e) => e.code.as_str(),
    };
    metrics::counter!("trove_api_requests_total", "op" => op, "code" => code).increment(1);
    metrics::histogram!("trove_api_ack_seconds", "op" => op).record(started.elapsed().as_secs_f64());
}

/// An events request: `body` is the request's JSON text (an HTTP body or a
/// WebSocket frame), parsed here.
pub async fn events(core: &Core, body: &[u8]) -> Result<p::EventsReply, ApiError> {
    let started = Instant::now();
    let result: Result<p::EventsReply, ApiError> = async {
        let events: Vec<_> = parse::events(body, limits::MAX_BATCH_EVENTS)?
            .into_iter()
            .map(wire::event)
            .collect();
        let n = events.len();
        let r = core.engine.ingest(events).await?;
        metrics::histogram!("trove_api_event_batch_size").record(n as f64);
        Ok(p::EventsReply {
            ok: true,
            accepted: r.accepted as u64,
            seq: r.seq,
        })
    }
    .await;
    if let Err(e) = &result {
        if e.code == ErrorCode::InvalidEvent {
            metrics::counter!("trove_events_rejected_total", "reason" => "invalid_event").increment(1);
        }
    }
    record_ack("events", started, &result);
    result
}

/// A claim request: `body` is the request's JSON text; `customs` is taken
/// from it byte for byte.
pub async fn claim(core: &Core, body: &[u8]) -> Result<p::ClaimReply<'static>, ApiError> {
    let started = Instant::now();
    let result: Result<p::ClaimReply<'static>, ApiError> = async {
        let (req, customs) = parse::claim(body)?;
        let r = core.engine.claim(wire::claim_request(req, customs)).await?;
        let reply = wire::claim_reply(&r);
        Ok(p::ClaimReply {
            claim_id: Cow::Owned(r.claim_id.clone()),
            ..reply
        })
    }
    .await;
    record_ack("claim", started, &result);
    result
}

/// A player's view of a hunt, handed to `answer` (which borrows it, e.g. to
/// serialize it).
pub async fn player<R>(
    core: &Core,
    hunt: &str,
    player: &str,
    answer: impl FnOnce(&p::PlayerReply<'_>) -> R,
) -> Result<R, ApiError> {
    let h = core.engine.hunt(hunt).await?;
    let p = core.engine.player_read(player).await?;
    Ok(answer(&wire::player_reply(&h, player, p.as_ref())))
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

/// A hunt's published leaderboard; `unknown_hunt` if the engine does not know it.
pub async fn leaderboard(
    core: &Core,
    hunt: &str,
    limit: usize,
    around: Option<&str>,
) -> Result<p::LeaderboardReply<'static>, ApiError> {
    // The engine is the authority on which hunts exist.
    core.engine.hunt(hunt).await?;
    Ok(leaderboard_now(core, hunt, limit, around))
}

/// The current published leaderboard of a hunt (which must exist).
pub fn leaderboard_now(core: &Core, hunt: &str, limit: usize, around: Option<&str>) -> p::LeaderboardReply<'static> {
    let as_of = core.projection.as_of_seq();
    let entries = core
        .projection
        .board(hunt)
        .map(|b| b.query(limit, around))
        .unwrap_or_default()
        .into_iter()
        .map(|(rank, player, score)| p::LeaderboardEntry {
            rank: rank as u64,
            player: Cow::Owned(player.to_string()),
            score,
        })
        .collect();
    p::LeaderboardReply {
        ok: true,
        hunt: Cow::Owned(hunt.to_owned()),
        entries,
        as_of_seq: as_of,
    }
}

/// Compares live state, the leaderboard projection and the journal.
pub async fn consistency(core: &Core) -> Result<p::ConsistencyReport, ApiError> {
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

/// The consistency check, replaying the journal or not (see [`Replay`]).
pub async fn consistency_with(core: &Core, replay: Replay) -> Result<p::ConsistencyReport, ApiError> {
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
    Ok(p::ConsistencyReport {
        ok,
        journal_seq: world.last_seq,
        checks: checks
            .into_iter()
            .map(|c| p::ConsistencyCheck {
                name: c.name,
                ok: c.ok,
                detail: c.detail,
            })
            .collect(),
    })
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

/// One claim of the audit trail, with its customs exactly as stored.
#[derive(serde::Serialize)]
struct AuditClaim {
    seq: Seq,
    at: trove_engine::Millis,
    claim_id: String,
    player: String,
    hunt: String,
    sku: String,
    customs: Box<serde_json::value::RawValue>,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
}

#[derive(serde::Serialize)]
struct AuditPage {
    ok: bool,
    claims: Vec<AuditClaim>,
    next_after: Seq,
}

/// One page of the claim audit trail: every decided claim (granted or
/// rejected) after journal sequence `after`, with its customs document as
/// stored. The JSON text of the answer (customs are embedded byte for byte).
pub async fn audit_claims(core: &Core, after: Seq, limit: u64) -> Result<String, ApiError> {
    if limit == 0 || limit > MAX_AUDIT_LIMIT {
        return Err(ApiError::invalid_request(format!(
            "limit must be between 1 and {MAX_AUDIT_LIMIT}"
        )));
    }
    let store = core.store.clone();
    let (items, next) = tokio::task::spawn_blocking(move || -> Result<(Vec<AuditClaim>, Seq), String> {
        let mut items = Vec::new();
        let mut cursor = after;
        let mut scanned = 0u64;
        while (items.len() as u64) < limit && scanned < AUDIT_SCAN_BUDGET {
            let recs = store.read_after(cursor, 4096).map_err(|e| e.to_string())?;
            if recs.is_empty() {
                break;
            }
            for (seq, at, r) in recs {
                scanned += 1;
                let resumable = !matches!(r, Item::RemovedTelemetry { .. });
                if let Item::Record(Record::Claim { request, outcome }) = r {
                    items.push(AuditClaim {
                        seq,
                        at,
                        customs: wire::customs_raw(&request.customs),
                        claim_id: request.claim_id,
                        player: request.player,
                        hunt: request.hunt,
                        sku: request.sku,
                        status: outcome.status(),
                        reason: outcome.reason().map(|r| r.code()),
                    });
                }
                if resumable {
                    cursor = seq;
                }
                if items.len() as u64 >= limit {
                    break;
                }
            }
        }
        Ok((items, cursor))
    })
    .await
    .map_err(|e| ApiError::internal(e.to_string()))?
    .map_err(ApiError::internal)?;
    serde_json::to_string(&AuditPage {
        ok: true,
        claims: items,
        next_after: next,
    })
    .map_err(|e| ApiError::internal(e.to_string()))
}
