//! The operations behind both transports. Each takes its request (the
//! [`Fields`] of a request, in its codec, or parsed input) and
//! returns the typed reply (`"ok": true` and the op's fields); the transport
//! serializes it with the connection's codec and adds the request id
//! (WebSocket) or the status code (HTTP, always JSON).

use crate::error::ApiError;
use crate::route::Target;
use crate::state::Core;
use crate::wire;
use std::borrow::Cow;
use std::time::Instant;
use trove_audit::trail::{self, TrailError};
use trove_engine::{limits, Seq};
use trove_protocol::{self as p, ErrorCode, Fields};
use trove_readmodel::consistency::ConsistencyReport;
pub(crate) use trove_readmodel::consistency::Replay;

pub(crate) use crate::params::{DEFAULT_LEADERBOARD_LIMIT, MAX_LEADERBOARD_LIMIT};

fn record_ack<T>(op: &'static str, started: Instant, result: &Result<T, ApiError>) {
    let code = match result {
        Ok(_) => "ok",
        Err(e) => e.code.as_str(),
    };
    metrics::counter!("trove_api_requests_total", "op" => op, "code" => code).increment(1);
    metrics::histogram!("trove_api_ack_seconds", "op" => op).record(started.elapsed().as_secs_f64());
}

/// An events request: `body` is the request (an HTTP body or a WebSocket
/// frame), parsed here.
pub(crate) async fn events(target: &Target, body: Fields<'_>) -> Result<p::EventsReply, ApiError> {
    let started = Instant::now();
    let result: Result<p::EventsReply, ApiError> = async {
        let events: Vec<_> = body
            .events(limits::MAX_BATCH_EVENTS)?
            .into_iter()
            .map(wire::event)
            .collect();
        let n = events.len();
        let core = target.for_batch(events.iter().map(|e| e.player.as_str()))?;
        // In a cluster a hunt defined a moment ago on another node may not
        // be applied to this partition yet: apply the catalog first.
        #[cfg(feature = "cluster")]
        if let Target::Cluster(node) = target {
            node.ensure_hunts(&core, events.iter().map(|e| e.hunt.as_str())).await;
        }
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

/// A claim request: `customs` is taken from `body` byte for byte (JSON) or
/// as the JSON text of its map (MessagePack).
pub(crate) async fn claim(target: &Target, body: Fields<'_>) -> Result<p::ClaimReply<'static>, ApiError> {
    let started = Instant::now();
    let result: Result<p::ClaimReply<'static>, ApiError> = async {
        let (req, customs) = body.claim()?;
        let req = wire::claim_request(req, customs);
        let r = match target {
            Target::Single(core) => core.engine.claim(req).await?,
            #[cfg(feature = "cluster")]
            Target::Cluster(node) => node.claim(req).await?,
        };
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
pub(crate) async fn player<R>(
    target: &Target,
    hunt: &str,
    player: &str,
    answer: impl FnOnce(&p::PlayerReply<'_>) -> R,
) -> Result<R, ApiError> {
    let core = target.for_player(player)?;
    let h = core.engine.hunt(hunt).await?;
    let p = core.engine.player_read(player).await?;
    Ok(answer(&wire::player_reply(&h, player, p.as_ref())))
}

/// Parses and checks a leaderboard `limit`.
pub(crate) fn leaderboard_limit(limit: Option<u64>) -> Result<usize, ApiError> {
    let limit = limit.unwrap_or(DEFAULT_LEADERBOARD_LIMIT);
    if limit == 0 || limit > MAX_LEADERBOARD_LIMIT {
        return Err(ApiError::invalid_request(format!(
            "limit must be between 1 and {MAX_LEADERBOARD_LIMIT}"
        )));
    }
    Ok(limit as usize)
}

/// A hunt's published leaderboard; `unknown_hunt` if the engine does not know it.
pub(crate) async fn leaderboard(
    target: &Target,
    hunt: &str,
    limit: usize,
    around: Option<&str>,
) -> Result<p::LeaderboardReply<'static>, ApiError> {
    match target {
        Target::Single(core) => {
            // The engine is the authority on which hunts exist.
            core.engine.hunt(hunt).await?;
            Ok(leaderboard_now(core, hunt, limit, around))
        }
        #[cfg(feature = "cluster")]
        Target::Cluster(node) => {
            // The catalog is the authority in a cluster.
            crate::cluster::check_hunt(node, hunt).await?;
            let entries = node.merged_leaderboard(hunt, limit, around).await;
            Ok(p::LeaderboardReply {
                ok: true,
                hunt: Cow::Owned(hunt.to_owned()),
                entries: entries
                    .into_iter()
                    .map(|(rank, player, score)| p::LeaderboardEntry {
                        rank,
                        player: Cow::Owned(player),
                        score,
                    })
                    .collect(),
                as_of_seq: 0,
            })
        }
    }
}

/// The current published leaderboard of a hunt (which must exist).
pub(crate) fn leaderboard_now(
    core: &Core,
    hunt: &str,
    limit: usize,
    around: Option<&str>,
) -> p::LeaderboardReply<'static> {
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
pub(crate) async fn consistency(core: &Core) -> Result<ConsistencyReport, ApiError> {
    consistency_with(core, Replay::Full).await
}

/// The consistency check, with or without the full journal replay.
pub(crate) async fn consistency_with(core: &Core, replay: Replay) -> Result<ConsistencyReport, ApiError> {
    Ok(trove_readmodel::consistency::check(&core.projection, &core.engine, replay).await?)
}

/// One page of the claim audit trail: every decided claim (granted or
/// rejected) after journal sequence `after`, with its customs document as
/// stored. The JSON text of the answer (customs are embedded byte for byte);
/// see [`trove_audit::trail::claim_page`].
pub(crate) async fn audit_claims(core: &Core, after: Seq, limit: u64) -> Result<String, ApiError> {
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

/// The chain head: the last durable block's last sequence and hash.
pub(crate) async fn chain_head(core: &Core) -> Result<p::ChainHead, ApiError> {
    crate::folder::chain_head(core).await.map_err(ApiError::internal)
}
