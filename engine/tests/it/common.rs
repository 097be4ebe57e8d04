//! Shared scaffolding: an engine on a [`MemoryJournal`] and a [`ManualClock`],
//! restarts (journal replay, snapshot + tail replay) and the consistency check
//! every scenario ends with (live dump == journal replay, invariants hold).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use trove_engine::*;

/// No test body needs more than a few seconds; past this, the engine hung
/// (e.g. waiting for the durability of a sequence that will never exist).
const TEST_TIMEOUT: Duration = Duration::from_secs(20);

/// Runs a test body inside a fresh actix `System` (engines need one), and
/// turns a hang into a failure.
pub fn run<F: Future>(f: F) -> F::Output {
    run_with_timeout(TEST_TIMEOUT, f)
}

pub fn run_with_timeout<F: Future>(timeout: Duration, f: F) -> F::Output {
    actix::System::new().block_on(async {
        tokio::time::timeout(timeout, f)
            .await
            .expect("test timed out: the engine hung")
    })
}

/// Replays `records` (sequence = index + 1) into a fresh [`World`].
pub fn replay(records: &[Record]) -> World {
    replay_onto(World::default(), records)
}

/// Replays the records after `world.last_seq` onto `world` (a snapshot).
pub fn replay_onto(mut world: World, records: &[Record]) -> World {
    let from = world.last_seq as usize;
    assert!(from <= records.len(), "snapshot is ahead of the journal");
    for (i, r) in records.iter().enumerate().skip(from) {
        let seq = i as Seq + 1;
        world
            .apply(seq, r)
            .unwrap_or_else(|e| panic!("replay failed at {seq}: {e} ({r:?})"));
    }
    world
}

/// Asserts that two views of the same journal are the same state.
pub fn assert_same_state(live: &World, replayed: &World, what: &str) {
    let diff = live.diff(replayed, 5);
    assert!(diff.is_empty(), "{what}: live state differs from replay: {diff:#?}");
    assert_eq!(
        live.digest(),
        replayed.digest(),
        "{what}: digest differs (diff was empty)"
    );
    live.check_invariants()
        .unwrap_or_else(|e| panic!("{what}: live invariants: {e}"));
    replayed
        .check_invariants()
        .unwrap_or_else(|e| panic!("{what}: replayed invariants: {e}"));
}

pub struct Harness {
    pub engine: Engine,
    pub journal: Arc<MemoryJournal>,
    pub clock: Arc<ManualClock>,
    pub config: EngineConfig,
}

impl Harness {
    /// A fresh engine with 2 shards, clock at `now`. Call inside [`run`].
    pub fn new(now: Millis) -> Harness {
        Harness::with_shards(now, 2)
    }

    pub fn with_shards(now: Millis, shards: usize) -> Harness {
        let clock = Arc::new(ManualClock::new(now));
        let config = EngineConfig {
            shards,
            admission_units: 1 << 20,
            decision_units: 1 << 16,
            admission_timeout: Duration::from_secs(10),
            clock: clock.clone(),
        };
        let journal = MemoryJournal::new();
        let engine = Engine::start(config.clone(), journal.clone(), World::default());
        Harness {
            engine,
            journal,
            clock,
            config,
        }
    }

    pub fn records(&self) -> Vec<Record> {
        self.journal.records()
    }

    pub fn last_seq(&self) -> Seq {
        self.journal.last_seq()
    }

    /// The live state (dump) must equal a full replay of the journal, and
    /// both must satisfy the invariants. Returns the dump.
    pub async fn check(&self) -> World {
        let live = self.engine.dump().await.expect("dump");
        assert_eq!(live.last_seq, self.last_seq(), "dump covers the whole journal");
        let replayed = replay(&self.records());
        assert_same_state(&live, &replayed, "dump vs replay");
        live
    }

    /// Restart: stop the engine, rebuild state by replaying the whole journal,
    /// start a new engine on a journal holding the same records.
    pub async fn restart(&mut self) {
        let world = {
            self.engine.stop();
            replay(&self.records())
        };
        self.start_from(world);
        self.check().await;
    }

    /// Restart from a snapshot (a dump taken earlier) plus the journal records
    /// after it.
    pub async fn restart_from_snapshot(&mut self, snapshot: World) {
        self.engine.stop();
        let records = self.records();
        let world = replay_onto(snapshot, &records);
        let full = replay(&records);
        assert_same_state(&world, &full, "snapshot + tail vs full replay");
        self.start_from(world);
        self.check().await;
    }

    fn start_from(&mut self, world: World) {
        let journal = MemoryJournal::with_records(self.records());
        self.engine = Engine::start(self.config.clone(), journal.clone(), world);
        self.journal = journal;
    }

    pub async fn define(&self, def: HuntDef) -> DefineResult {
        self.engine.define_hunt(def).await.expect("define_hunt")
    }

    pub async fn claim(&self, player: &str, claim_id: &str, hunt: &str, sku: &str) -> Result<ClaimResult, EngineError> {
        self.engine.claim(claim(player, claim_id, hunt, sku)).await
    }

    pub async fn clues(&self, player: &str, hunt: &str, clues: &[&str]) -> IngestResult {
        let events = clues.iter().map(|c| clue(player, hunt, c)).collect();
        self.engine.ingest(events).await.expect("ingest")
    }

    pub async fn score(&self, player: &str, hunt: &str) -> u64 {
        self.engine
            .player(player)
            .await
            .expect("player query")
            .map_or(0, |p| p.score(hunt))
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.engine.stop();
    }
}

pub fn claim(player: &str, claim_id: &str, hunt: &str, sku: &str) -> ClaimRequest {
    ClaimRequest {
        claim_id: claim_id.into(),
        player: player.into(),
        hunt: hunt.into(),
        sku: sku.into(),
        customs: r#"{"addr":"1 Main St"}"#.into(),
    }
}

pub fn clue(player: &str, hunt: &str, clue: &str) -> GameEvent {
    GameEvent {
        player: player.into(),
        hunt: hunt.into(),
        kind: EventKind::ClueFound { clue: clue.into() },
    }
}

pub fn checkin(player: &str, hunt: &str, location: &str) -> GameEvent {
    GameEvent {
        player: player.into(),
        hunt: hunt.into(),
        kind: EventKind::Checkin {
            location: location.into(),
        },
    }
}

pub fn product(sku: &str, stock: u64, per_player_limit: u32, min_score: u64) -> ProductDef {
    ProductDef {
        sku: sku.into(),
        stock,
        per_player_limit,
        min_score,
    }
}

pub fn hunt(
    id: &str,
    window: (Option<Millis>, Option<Millis>),
    clues: &[(&str, u32)],
    products: Vec<ProductDef>,
) -> HuntDef {
    HuntDef {
        id: id.into(),
        name: format!("The {id} hunt"),
        opens_at: window.0,
        closes_at: window.1,
        clues: clues
            .iter()
            .map(|(id, points)| ClueDef {
                id: (*id).into(),
                points: *points,
            })
            .collect(),
        products,
    }
}

/// An always-open hunt with clues c1 (10), c2 (20), c3 (5).
pub fn open_hunt(id: &str, products: Vec<ProductDef>) -> HuntDef {
    hunt(id, (None, None), &[("c1", 10), ("c2", 20), ("c3", 5)], products)
}

pub const GRANTED: Outcome = Outcome::Granted;

pub fn rejected(r: RejectReason) -> Outcome {
    Outcome::Rejected(r)
}

/// Spawns every future on the current actix arbiter at once, then waits for
/// all of them; results come back in input order. (A `join_all` without the
/// `futures` crate; spawned tasks run concurrently with each other.)
pub async fn join_all<T: 'static>(futures: Vec<impl Future<Output = T> + 'static>) -> Vec<T> {
    let handles: Vec<_> = futures.into_iter().map(actix::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.expect("task panicked"));
    }
    out
}

/// The state of one player in a dump (default if absent).
pub fn player_in(world: &World, player: &str) -> PlayerState {
    world.players.get(player).cloned().unwrap_or_default()
}
