//! The in-process mode: the scenario's players drive the real engine (the
//! same actors, claim path and journal as `trove serve`) on a virtual
//! clock, one simulated second per tick, as fast as the engine answers.
//!
//! ## Why the report is byte-identical for a seed
//!
//! The model draws from seeded streams in a fixed order, and the engine's
//! answers are handed back to it in request order. What remains is the
//! engine's own concurrency (actors on several threads). Within a tick:
//!
//! 1. restocks are applied and awaited;
//! 2. events go out in batches whose first poll, in order and without tokio's
//!    cooperative budget, journals them and queues them to the player actors
//!    in that order; all are awaited;
//! 3. claims: a claim's outcome can depend on other claims only through the
//!    stock of its product. For a product with more units left than claims
//!    this tick (or none left), every claim's outcome is fixed whatever the
//!    interleaving: those claims go out together (first polls in request
//!    order, so a player's own claims reach its actor in order). For a product
//!    whose last units are contested this tick, its claims go one at a time in
//!    request order until the stock is gone.
//!
//! The journal's record order may still differ between two runs (two actors
//! appending at once); the report never shows sequence numbers or the state
//! digest, only what players and designers see, which is the same.

use crate::assemble::{self, ReportInput, Scores};
use crate::error::SimError;
use crate::model::{ClaimAnswer, EventPlan, Model, Names, PlannedClaim, PlannedEvent, INTERACTIONS};
use crate::observe::{Check, PlantedFault, Recorder};
use crate::report::Report;
use crate::scenario::{Scenario, TelemetryMode};
use futures_util::future::{join, join_all, maybe_done, MaybeDone};
use serde::Serialize;
use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Instant;
use trove_engine::{
    limits, ClaimRequest, Engine, EngineConfig, EngineError, EventKind, GameEvent, ManualClock, Millis, World,
};
use trove_persistence::{open_engine, StoreOptions};

/// Virtual time 0: 2026-01-01T00:00:00Z. Only the engine and the journal see
/// it; reports count seconds from the start of the run.
pub(crate) const EPOCH_MS: Millis = 1_767_225_600_000;

/// How to run a scenario in-process (the defaults suit most runs).
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Keep the engine's data folder here (it must not exist yet or be empty).
    /// By default a temporary folder is used and removed.
    pub data_dir: Option<PathBuf>,
    /// Engine shards (default: the engine's default, one per core).
    pub shards: Option<usize>,
    /// Tests only: plant a violation to prove the check catches it.
    pub fault: Option<PlantedFault>,
}

/// Wall-clock figures of a run. Not part of the report (they differ from
/// run to run); the binary prints them and writes `timing.json`.
#[derive(Clone, Debug, Serialize)]
pub struct Timing {
    /// Wall seconds for the whole run.
    pub wall_secs: f64,
    /// Wall seconds driving the engine.
    pub simulate_secs: f64,
    /// Wall seconds checking the invariants (journal replay included).
    pub verify_secs: f64,
    /// Sum over simulated seconds of the players in the hunt.
    pub simulated_player_secs: u64,
    /// Simulated player-seconds per wall second: the simulator's speed.
    pub player_secs_per_wall_sec: f64,
    /// Events the engine holds at the end.
    pub engine_events: u64,
    /// Claims the engine decided.
    pub engine_claims: u64,
    /// Records in the journal.
    pub journal_records: u64,
}

/// The result of an in-process run.
pub struct RunOutput {
    /// The report (identical for the same scenario and seed).
    pub report: Report,
    /// Wall-clock figures (differ from run to run).
    pub timing: Timing,
}

/// Polls every future once, in order, outside tokio's cooperative budget (so
/// none is put off), then waits for all of them. Each request's first poll is
/// what journals it or queues it to its actor; this fixes that order.
async fn issue_in_order<F: Future>(futs: Vec<F>) -> Vec<F::Output> {
    let mut futs: Vec<Pin<Box<MaybeDone<F>>>> = futs.into_iter().map(|f| Box::pin(maybe_done(f))).collect();
    tokio::task::unconstrained(std::future::poll_fn(|cx| {
        for f in futs.iter_mut() {
            let _ = f.as_mut().poll(cx);
        }
        Poll::Ready(())
    }))
    .await;
    join_all(futs.iter_mut().map(|f| f.as_mut())).await;
    futs.iter_mut()
        .map(|f| f.as_mut().take_output().expect("polled to completion"))
        .collect()
}

fn game_event(names: &Names, e: &PlannedEvent) -> GameEvent {
    GameEvent {
        player: names.player(e.player),
        hunt: names.hunt.clone(),
        kind: match e.kind {
            EventPlan::Clue { clue, .. } => EventKind::ClueFound {
                clue: names.clues[clue as usize].clone(),
            },
            EventPlan::Checkin(l) => EventKind::Checkin {
                location: names.locations[l as usize].clone(),
            },
            EventPlan::Interaction(k) => EventKind::Interaction {
                kind: INTERACTIONS[k as usize].to_owned(),
            },
        },
    }
}

fn claim_request(names: &Names, c: &PlannedClaim) -> ClaimRequest {
    ClaimRequest {
        claim_id: names.claim_id(c.claim_no),
        player: names.player(c.player),
        hunt: names.hunt.clone(),
        sku: names.skus[c.product as usize].clone(),
        customs: Names::customs(c.player),
    }
}

fn answer(r: Result<trove_engine::ClaimResult, EngineError>) -> ClaimAnswer {
    match r {
        Ok(c) => ClaimAnswer::Decided {
            outcome: c.outcome,
            duplicate: c.duplicate,
        },
        Err(e) => ClaimAnswer::Error(e.code().to_owned()),
    }
}

/// Sends one tick's claims (see the module docs) and returns the answers in
/// request order.
async fn claim_tick(engine: &Engine, names: &Names, claims: &[PlannedClaim], rec: &Recorder) -> Vec<ClaimAnswer> {
    let mut by_product: BTreeMap<u16, Vec<usize>> = BTreeMap::new();
    for (i, c) in claims.iter().enumerate() {
        by_product.entry(c.product).or_default().push(i);
    }
    let mut together = Vec::new();
    let mut contested = Vec::new();
    for (p, idx) in by_product {
        let left = rec.remaining(p as usize);
        if left > 0 && idx.len() as i64 > left {
            contested.push((left as u64, idx));
        } else {
            together.extend(idx);
        }
    }
    together.sort_unstable();
    let send = |i: usize| engine.claim(claim_request(names, &claims[i]));
    let all = issue_in_order(together.iter().map(|&i| send(i)).collect());
    let one_by_one = join_all(contested.into_iter().map(|(left, idx)| async move {
        let mut out = Vec::with_capacity(idx.len());
        let mut granted = 0u64;
        let mut k = 0;
        while k < idx.len() && granted < left {
            let r = send(idx[k]).await;
            if matches!(&r, Ok(c) if c.outcome.is_granted() && !c.duplicate) {
                granted += 1;
            }
            out.push(r);
            k += 1;
        }
        // The stock is gone: the rest cannot be granted, whatever the order.
        out.extend(issue_in_order(idx[k..].iter().map(|&i| send(i)).collect()).await);
        (idx, out)
    }));
    let (all, one_by_one) = join(all, one_by_one).await;
    let mut answers: Vec<Option<ClaimAnswer>> = vec![None; claims.len()];
    for (i, r) in together.into_iter().zip(all) {
        answers[i] = Some(answer(r));
    }
    for (idx, out) in one_by_one {
        for (i, r) in idx.into_iter().zip(out) {
            answers[i] = Some(answer(r));
        }
    }
    answers.into_iter().map(|a| a.expect("every claim answered")).collect()
}

struct Driven {
    world: World,
    player_secs: u64,
}

#[allow(clippy::too_many_arguments)]
async fn drive(
    sc: &Scenario,
    dir: &Path,
    model: &mut Model,
    rec: &mut Recorder,
    names: &Names,
    opts: &RunOptions,
    progress: &mut dyn FnMut(u32, u32),
) -> Result<Driven, SimError> {
    let clock = Arc::new(ManualClock::new(EPOCH_MS));
    let mut config = EngineConfig {
        clock: clock.clone(),
        ..EngineConfig::default()
    };
    if let Some(s) = opts.shards {
        config.shards = s.max(1);
    }
    let options = StoreOptions {
        clock: clock.clone(),
        ..StoreOptions::default()
    };
    let (engine, store, _) = open_engine(dir, options, config)?;
    let result: Result<Driven, SimError> = async {
        engine.define_hunt(sc.hunt_def(&names.hunt, EPOCH_MS)).await?;
        let duration = sc.duration_secs;
        let mut player_secs = 0u64;
        for t in 0..duration {
            clock.set(EPOCH_MS + i64::from(t) * 1000);
            let plan = model.plan(t);
            for &(p, add) in &plan.restocks {
                match engine.add_stock(&names.hunt, &names.skus[p], add).await {
                    Ok(_) => rec.restock(t, p, &names.skus[p], add),
                    Err(e) => rec.error(t, e.code()),
                }
            }
            rec.telemetry_aggregated(t, plan.telemetry_aggregated);
            if !plan.events.is_empty() {
                let events: Vec<GameEvent> = plan.events.iter().map(|e| game_event(names, e)).collect();
                let mut batches = Vec::new();
                let mut rest = events;
                while rest.len() > limits::MAX_BATCH_EVENTS {
                    let tail = rest.split_off(limits::MAX_BATCH_EVENTS);
                    batches.push(std::mem::replace(&mut rest, tail));
                }
                batches.push(rest);
                let sizes: Vec<usize> = batches.iter().map(Vec::len).collect();
                let results = issue_in_order(batches.into_iter().map(|b| engine.ingest(b)).collect()).await;
                let mut at = 0;
                for (n, r) in sizes.into_iter().zip(results) {
                    let planned = &plan.events[at..at + n];
                    at += n;
                    let finds = planned
                        .iter()
                        .filter(|e| matches!(e.kind, EventPlan::Clue { .. }))
                        .count() as u64;
                    let ok = r.is_ok();
                    match &r {
                        Ok(i) => rec.events(t, n as u64, finds, i.accepted as u64),
                        Err(e) => {
                            rec.events(t, n as u64, finds, 0);
                            rec.error(t, e.code());
                        }
                    }
                    for e in planned {
                        model.deliver_event(t, e, ok);
                    }
                }
            }
            if !plan.claims.is_empty() {
                let answers = claim_tick(&engine, names, &plan.claims, rec).await;
                for (c, a) in plan.claims.iter().zip(&answers) {
                    rec.claim_sent(t);
                    rec.claim_answer(t, c.player, c.claim_no, c.product, a);
                    model.deliver_claim(t, c, a);
                }
            }
            let active = model.active_players();
            player_secs += active;
            rec.end_tick(t, active);
            progress(t + 1, duration);
        }
        let world = engine.dump().await?;
        Ok(Driven { world, player_secs })
    }
    .await;
    let closed = store.close().await;
    engine.stop();
    drop(store);
    let driven = result?;
    closed?;
    Ok(driven)
}

/// Runs a scenario in-process with `seed` and checks the invariants.
/// `progress(done, total)` is called after every simulated second.
pub fn run_in_process(
    sc: &Scenario,
    seed: u64,
    opts: &RunOptions,
    progress: &mut dyn FnMut(u32, u32),
) -> Result<RunOutput, SimError> {
    let started = Instant::now();
    let (dir, _tmp) = data_folder(opts)?;
    let shared = Arc::new(sc.clone());
    let mut model = Model::new(shared, seed, sc.behaviour.telemetry == TelemetryMode::Engine);
    let mut rec = Recorder::new(sc);
    let names = Names::new(sc, &sc.hunt.id);
    let driven = actix::System::new().block_on(drive(sc, &dir, &mut model, &mut rec, &names, opts, progress))?;
    let simulate_secs = started.elapsed().as_secs_f64();

    let verify_started = Instant::now();
    let mut live = driven.world;
    let checks = verify(sc, &dir, &names, &mut rec, &mut live, opts.fault)?;
    let verify_secs = verify_started.elapsed().as_secs_f64();
    let (by_player, board) = final_scores(sc, &names, &model, &live);
    let notes = notes(sc, &rec);
    let client = model.stats().clone();
    let report = assemble::build(ReportInput {
        sc,
        seed,
        mode: "in-process",
        hunt_id: &names.hunt,
        recorder: &rec,
        client: &client,
        segment_of: &|p| model.segment(p),
        scores: Scores {
            source: "engine",
            by_player,
            leaderboard: board,
        },
        checks,
        notes,
        live: None,
        ticks_run: sc.duration_secs,
    });
    let summary = live.summary();
    let wall = started.elapsed().as_secs_f64();
    Ok(RunOutput {
        report,
        timing: Timing {
            wall_secs: wall,
            simulate_secs,
            verify_secs,
            simulated_player_secs: driven.player_secs,
            player_secs_per_wall_sec: driven.player_secs as f64 / wall.max(1e-9),
            engine_events: summary.events,
            engine_claims: summary.claims,
            journal_records: live.last_seq,
        },
    })
}

/// The engine's data folder: `opts.data_dir` if new or empty, else a
/// temporary folder (removed when the returned guard drops).
fn data_folder(opts: &RunOptions) -> Result<(PathBuf, Option<tempfile::TempDir>), SimError> {
    if let Some(d) = &opts.data_dir {
        if d.exists()
            && std::fs::read_dir(d)
                .map_err(|e| SimError::io(format!("read {}", d.display()), e))?
                .next()
                .is_some()
        {
            return Err(SimError::Other(format!(
                "data folder {} is not empty; give a new or empty folder",
                d.display()
            )));
        }
        return Ok((d.clone(), None));
    }
    let tmp = tempfile::Builder::new()
        .prefix("trove-sim-")
        .tempdir()
        .map_err(|e| SimError::io("create a temporary data folder", e))?;
    Ok((tmp.path().to_path_buf(), Some(tmp)))
}

/// The invariant checks after a run: the observer's, the engine's own, the
/// answers against the engine's state, and the journal replay against the
/// live state. Plants `fault` first, if any.
fn verify(
    sc: &Scenario,
    dir: &Path,
    names: &Names,
    rec: &mut Recorder,
    live: &mut World,
    fault: Option<PlantedFault>,
) -> Result<Vec<Check>, SimError> {
    if fault == Some(PlantedFault::ReplayMismatch) {
        let mut ids: Vec<&trove_engine::PlayerId> = live.players.keys().collect();
        ids.sort_unstable();
        if let Some(id) = ids.first().map(|id| (*id).clone()) {
            if let Some(h) = live.players.get_mut(&id).and_then(|p| p.hunts.first_mut()) {
                h.score += 1;
                rec.planted.push(format!("replay: live score of {id} raised by 1"));
            }
        }
    }
    if let Some(f) = fault {
        rec.plant(f);
    }
    let mut checks = rec.checks(sc, &|p| names.player(p));
    checks.push(match live.check_invariants() {
        Ok(()) => Check::new(
            "engine_invariants",
            true,
            "stock ledgers balance, grants held by players equal grants counted by the hunt, limits held",
        ),
        Err(e) => Check::new("engine_invariants", false, e),
    });
    checks.push(observed_vs_engine(sc, names, rec, live));
    let verified = trove_persistence::verify(dir)?;
    checks.push(match &verified.replayed {
        Some(replayed) if verified.ok() && replayed.digest() == live.digest() => Check::new(
            "journal_replay_equals_live_state",
            true,
            format!(
                "the journal's {} records replay to exactly the live state (same digest); checksums and hash chain intact",
                verified.journal_last_seq
            ),
        ),
        Some(replayed) => {
            let mut why: Vec<String> = verified
                .checks
                .iter()
                .filter(|c| !c.ok)
                .map(|c| format!("{}: {}", c.name, c.detail))
                .collect();
            if replayed.digest() != live.digest() {
                why.push(format!(
                    "replayed state differs from the live state: {}",
                    replayed.diff(live, 3).join("; ")
                ));
            }
            Check::new("journal_replay_equals_live_state", false, why.join("; "))
        }
        None => Check::new(
            "journal_replay_equals_live_state",
            false,
            verified
                .checks
                .iter()
                .filter(|c| !c.ok)
                .map(|c| format!("{}: {}", c.name, c.detail))
                .collect::<Vec<_>>()
                .join("; "),
        ),
    });
    Ok(checks)
}

/// Scores from the engine's final state: (player index, score) of every
/// arrived player, and the top ten (player id, score), best first.
#[allow(clippy::type_complexity, reason = "two plain lists, named at the call site")]
fn final_scores(sc: &Scenario, names: &Names, model: &Model, live: &World) -> (Vec<(u32, u64)>, Vec<(String, u64)>) {
    let n = sc.population.players as usize;
    let mut score = vec![0u64; n];
    let mut board: Vec<(String, u64)> = Vec::new();
    for (id, p) in &live.players {
        let s = p.score(&names.hunt);
        if let Some(i) = names.player_index(id) {
            if (i as usize) < n {
                score[i as usize] = s;
            }
        }
        if s > 0 {
            board.push((id.to_string(), s));
        }
    }
    board.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    board.truncate(10);
    let end = sc.duration_secs.saturating_sub(1);
    let by_player: Vec<(u32, u64)> = (0..n as u32)
        .filter(|p| model.arrived_by(*p, end))
        .map(|p| (p, score[p as usize]))
        .collect();
    (by_player, board)
}

/// The notes of an in-process report: how the run was carried out.
fn notes(sc: &Scenario, rec: &Recorder) -> Vec<String> {
    let mut notes = vec![format!(
        "In-process run on a virtual clock in 1-second ticks, through the real engine and its journal; {} simulated seconds.",
        sc.duration_secs
    )];
    notes.push(match sc.behaviour.telemetry {
        TelemetryMode::Aggregate => format!(
            "Telemetry aggregated: the {} checkins and interactions change no game state, so they were counted by the simulator and not sent to the engine. Every clue find and every claim went through the engine.",
            rec.ticks.iter().map(|t| t.telemetry_aggregated).sum::<u64>()
        ),
        TelemetryMode::Engine => "Every event, telemetry included, went through the engine.".to_owned(),
    });
    notes.push("Claims competing for the last units of a product within one simulated second were sent one at a time in request order, so outcomes do not depend on thread timing.".to_owned());
    notes.extend(rec.planted.iter().map(|p| format!("PLANTED FAULT (test): {p}")));
    notes
}

/// The engine's final counts must equal what the answers said.
fn observed_vs_engine(sc: &Scenario, names: &Names, rec: &Recorder, live: &World) -> Check {
    let Some(h) = live.hunts.get(&names.hunt) else {
        return Check::new(
            "answers_match_engine_state",
            false,
            format!("hunt {:?} missing from the engine", names.hunt),
        );
    };
    let mut diffs = Vec::new();
    for (i, p) in sc.hunt.products.iter().enumerate() {
        let (seen, engine) = (rec.products[i].granted, h.granted[i]);
        if seen != engine {
            diffs.push(format!("{:?}: answers granted {seen}, engine counted {engine}", p.sku));
        }
        let (seen, engine) = (rec.products[i].added, h.added[i]);
        if seen != engine {
            diffs.push(format!("{:?}: restocked {seen}, engine added {engine}", p.sku));
        }
    }
    let decided = live.summary().claims;
    if rec.claims_decided() != decided {
        diffs.push(format!(
            "answers decided {} claim ids, the engine holds {decided}",
            rec.claims_decided()
        ));
    }
    if diffs.is_empty() {
        Check::new(
            "answers_match_engine_state",
            true,
            format!("grants and restocks per product and the {decided} decided claims match the engine's final state"),
        )
    } else {
        Check::new("answers_match_engine_state", false, diffs.join("; "))
    }
}
