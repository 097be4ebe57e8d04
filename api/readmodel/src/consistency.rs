//! The consistency check: the live engine against the leaderboard projection
//! (built only from the journal) at one journal sequence, plus the engine's
//! own invariants and, for journals up to [`FULL_REPLAY_MAX_RECORDS`], a full
//! replay of the journal compared by digest.
//!
//! [`check`] returns a typed [`ConsistencyReport`]; its JSON serialization is
//! the body of `GET /v1/admin/consistency` (docs/PROTOCOL.md, "Consistency
//! report"), and readiness reads its fields directly.

use crate::error::ReadModelError;
use crate::projection::Projection;
use crate::state::ProjectionState;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;
use trove_engine::{Engine, Seq, World};
use trove_persistence::Store;

/// The check replays the whole journal into a fresh state when it holds at
/// most this many records; above, it relies on the projection's counts.
pub const FULL_REPLAY_MAX_RECORDS: u64 = 2_000_000;
/// Most differences one check's detail lists before "... N more".
const MAX_LISTED: usize = 10;

pub use trove_protocol::{ConsistencyCheck, ConsistencyReport};

/// One check's outcome.
fn outcome(name: &str, ok: bool, detail: String) -> ConsistencyCheck {
    ConsistencyCheck {
        name: name.into(),
        ok,
        detail,
    }
}

/// Whether [`check`] replays the journal from the start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replay {
    /// Up to [`FULL_REPLAY_MAX_RECORDS`]: the admin endpoint.
    Full,
    /// Not again: at startup the live state *is* a replay of the journal
    /// (recovery: a checked snapshot plus the checked tail), so replaying it
    /// once more would only double the restart time. Readiness uses this.
    Recovered,
}

/// Compares live state, the leaderboard projection and the journal the
/// projection tails. `Err` only when the check could not run (the engine
/// refused the dump, or the projection stopped); a disagreement is a report
/// with `ok: false`.
pub async fn check(
    projection: &Projection,
    engine: &Engine,
    replay: Replay,
) -> Result<ConsistencyReport, ReadModelError> {
    let started = Instant::now();
    let (world, mut checks) = projection.at_engine_dump(engine, compare).await?;
    let invariants = match world.check_invariants() {
        Ok(()) => outcome(
            "engine_invariants",
            true,
            "stock ledgers balance; grants match; per-player limits held".into(),
        ),
        Err(e) => outcome("engine_invariants", false, e),
    };
    checks.insert(0, invariants);
    checks.push(match replay {
        Replay::Full => replay_check(projection.store(), &world).await,
        Replay::Recovered => outcome(
            "journal_replay",
            true,
            "at startup: the live state was just recovered from the checked journal; \
             GET /v1/admin/consistency replays it again"
                .into(),
        ),
    });
    let ok = checks.iter().all(|c| c.ok);
    metrics::histogram!("trove_consistency_check_seconds").record(started.elapsed().as_secs_f64());
    metrics::gauge!("trove_consistency_ok").set(if ok { 1.0 } else { 0.0 });
    Ok(ConsistencyReport {
        checks,
        journal_seq: world.last_seq,
        ok,
    })
}

/// Replays the journal up to the dump's sequence into a fresh state and
/// compares digests with the live state.
async fn replay_check(store: &Arc<Store>, live: &World) -> ConsistencyCheck {
    let name = "journal_replay";
    let upto = live.last_seq;
    if upto > FULL_REPLAY_MAX_RECORDS {
        return outcome(
            name,
            true,
            format!(
                "skipped: {upto} records exceed {FULL_REPLAY_MAX_RECORDS}; the projection checks above compare counts with the journal (run `trove verify` offline for a full replay)"
            ),
        );
    }
    let store = store.clone();
    let started = Instant::now();
    let replayed = tokio::task::spawn_blocking(move || replay_upto(&store, upto))
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r);
    match replayed {
        Ok(w) => {
            let (a, b) = (w.digest(), live.digest());
            if a == b {
                outcome(
                    name,
                    true,
                    format!(
                        "{upto} records replayed in {} ms; digest {a} equals the live state",
                        started.elapsed().as_millis()
                    ),
                )
            } else {
                outcome(
                    name,
                    false,
                    format!("replay differs from live state: {}", w.diff(live, 5).join("; ")),
                )
            }
        }
        Err(e) => outcome(name, false, e),
    }
}

/// A fresh state replayed from the journal up to `upto`.
fn replay_upto(store: &Store, upto: Seq) -> Result<World, String> {
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
}

/// Compares the projection (journal-derived) with the engine's live state.
fn compare(st: &ProjectionState, world: &World) -> Vec<ConsistencyCheck> {
    let s = world.summary();
    let mut out = vec![
        outcome(
            "projection_seq",
            st.applied == world.last_seq,
            format!("projection at {}, engine at {}", st.applied, world.last_seq),
        ),
        outcome(
            "players",
            st.players.len() as u64 == s.players,
            format!("journal: {}, engine: {}", st.players.len(), s.players),
        ),
        outcome(
            "events",
            st.events == s.events,
            format!("journal: {}, engine: {}", st.events, s.events),
        ),
        outcome(
            "claims",
            st.claims == s.claims && st.granted == s.granted_by_players,
            format!(
                "decided: journal {} engine {}; granted: journal {} engine {}",
                st.claims, s.claims, st.granted, s.granted_by_players
            ),
        ),
    ];
    out.extend(compare_hunts(st, &s));
    out.push(compare_scores(st, world));
    out
}

/// Players per hunt, grants per product and stock, hunt by hunt.
fn compare_hunts(st: &ProjectionState, s: &trove_engine::Summary) -> [ConsistencyCheck; 3] {
    let mut hunt_diffs = Vec::new();
    let mut product_diffs = Vec::new();
    let mut stock_diffs = Vec::new();
    let (mut products, mut units_left) = (0usize, 0u64);
    let ours = st.hunts_by_id();
    let hunts = ours.len();
    let ids: BTreeSet<&str> = ours
        .into_iter()
        .map(|(id, _)| id)
        .chain(s.hunts.keys().map(String::as_str))
        .collect();
    for id in ids {
        let (h, e) = match (st.hunt(id), s.hunts.get(id)) {
            (Some(h), Some(e)) => (h, e),
            (a, b) => {
                hunt_diffs.push(format!("{id}: in journal {}, in engine {}", a.is_some(), b.is_some()));
                continue;
            }
        };
        if h.player_count() as u64 != e.players {
            hunt_diffs.push(format!("{id}: journal {} engine {}", h.player_count(), e.players));
        }
        for (i, p) in h.def.products.iter().enumerate() {
            products += 1;
            let Some(ep) = e.products.get(&p.sku) else {
                product_diffs.push(format!("{id}/{}: missing in engine", p.sku));
                continue;
            };
            if h.granted[i] != ep.granted {
                product_diffs.push(format!(
                    "{id}/{}: granted journal {} engine {}",
                    p.sku, h.granted[i], ep.granted
                ));
            }
            let remaining = (p.stock + h.added[i]).checked_sub(h.granted[i]);
            units_left += ep.remaining;
            if remaining != Some(ep.remaining) || h.added[i] != ep.added {
                stock_diffs.push(format!(
                    "{id}/{}: remaining journal {:?} engine {}, added journal {} engine {}",
                    p.sku, remaining, ep.remaining, h.added[i], ep.added
                ));
            }
        }
    }
    [
        outcome(
            "players_per_hunt",
            hunt_diffs.is_empty(),
            summarize(&hunt_diffs, format!("{hunts} hunts agree")),
        ),
        outcome(
            "claims_per_product",
            product_diffs.is_empty(),
            summarize(&product_diffs, format!("{products} products agree")),
        ),
        outcome(
            "stock",
            stock_diffs.is_empty(),
            summarize(
                &stock_diffs,
                format!("{units_left} units left; initial + added - granted = remaining everywhere"),
            ),
        ),
    ]
}

/// Every score on the leaderboard against the engine's player state.
fn compare_scores(st: &ProjectionState, world: &World) -> ConsistencyCheck {
    let mut score_diffs = Vec::new();
    let mut compared = 0u64;
    for (hid, h) in st.hunts_by_id() {
        for (pid, p) in st.standings(h) {
            compared += 1;
            let engine_score = world.players.get(pid).and_then(|ps| ps.hunt(hid)).map(|ph| ph.score);
            if engine_score != Some(p.score) {
                score_diffs.push(format!(
                    "{hid}/{pid}: leaderboard {} engine {:?}",
                    p.score, engine_score
                ));
            }
        }
    }
    outcome(
        "leaderboard_scores",
        score_diffs.is_empty(),
        summarize(&score_diffs, format!("{compared} player scores agree")),
    )
}

/// `ok_text` when nothing differs, else the first differences and how many more.
fn summarize(diffs: &[String], ok_text: String) -> String {
    if diffs.is_empty() {
        return ok_text;
    }
    let mut d: Vec<String> = diffs.iter().take(MAX_LISTED).cloned().collect();
    if diffs.len() > MAX_LISTED {
        d.push(format!("... {} more", diffs.len() - MAX_LISTED));
    }
    d.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_list_ten_differences_then_count_the_rest() {
        assert_eq!(summarize(&[], "all agree".into()), "all agree");
        let diffs: Vec<String> = (0..12).map(|i| format!("d{i}")).collect();
        assert_eq!(
            summarize(&diffs, String::new()),
            "d0; d1; d2; d3; d4; d5; d6; d7; d8; d9; ... 2 more"
        );
    }
}
