//! [`Engine`]: the handle the API and simulations call.
//!
//! Every write follows the same path: validate, take admission permits, append
//! to the journal (which fixes the order), change the authoritative actor
//! state, then wait until the deciding record is durable and only then answer.

use crate::actors::*;
use crate::clock::{Clock, SystemClock};
use crate::error::EngineError;
use crate::hunt::HuntStock;
use crate::journal::{Durability, Journal};
use crate::model::*;
use crate::state::*;
use actix::prelude::*;
use dashmap::DashMap;
use parking_lot::Mutex;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, watch, Semaphore};

/// Engine settings. The defaults suit the 2-core machine in `docs/BENCHMARKS.md`.
#[derive(Clone)]
pub struct EngineConfig {
    /// Player shards, one arbiter thread each.
    pub shards: usize,
    /// Events' admission capacity in units: an event costs 1. (Claims and
    /// other decisions have their own, `decision_units`.)
    /// Work in flight beyond this waits up to `admission_timeout`, then is
    /// refused with `overloaded`. This is the engine's backpressure: actix
    /// mailboxes are unbounded for `do_send`, so the bound lives here.
    pub admission_units: u32,
    /// Admission capacity for decisions (claims, hunt definitions, stock
    /// additions), one unit each, apart from the events' `admission_units`:
    /// the claims' lane. Events never take from it, so when a flood of events
    /// fills their capacity and is refused with `overloaded`, claims still
    /// get in. The same `admission_timeout` applies.
    pub decision_units: u32,
    /// How long a request waits for admission units before it is refused
    /// with [`EngineError::Overloaded`].
    pub admission_timeout: Duration,
    /// Where the engine reads "now" (hunt open windows).
    pub clock: Arc<dyn Clock>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            shards: std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 64),
            admission_units: 1 << 20,
            decision_units: 1 << 16,
            admission_timeout: Duration::from_secs(2),
            clock: Arc::new(SystemClock),
        }
    }
}

/// The answer to a claim, once durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimResult {
    /// The request's claim id, echoed.
    pub claim_id: String,
    /// The decision: granted, or rejected with a reason.
    pub outcome: Outcome,
    /// True if this claim id was already decided; `outcome` is the original.
    pub duplicate: bool,
    /// Sequence of the journal record that decided the claim.
    pub seq: Seq,
}

/// The answer to an ingest batch, once durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IngestResult {
    /// Events journaled and applied: the whole batch (a batch is all or nothing).
    pub accepted: usize,
    /// Sequence of the batch's last record (or the last durable one if empty).
    pub seq: Seq,
}

/// The answer to a hunt definition, once durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefineResult {
    /// Sequence of the record that defined the hunt.
    pub seq: Seq,
    /// False if an identical definition already existed (idempotent re-post).
    pub created: bool,
}

/// The answer to a stock addition, once durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StockResult {
    /// Sequence of the [`Record::StockAdded`] it journaled.
    pub seq: Seq,
    /// The product's stock right after the addition.
    pub remaining: u64,
}

/// A player's state as [`Engine::player_read`] answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlayerRead {
    /// The player's state; its scores and events are durable, its claims may
    /// be pending (see [`PlayerRead::is_pending`]).
    pub state: PlayerState,
    /// The durable sequence when the state was read: claims above it are
    /// decided but not yet durable.
    pub durable_seq: Seq,
}

impl PlayerRead {
    /// Whether the claim's deciding record was not yet durable at the read: a
    /// crash could still undo it, and its claimant has had no answer yet.
    pub fn is_pending(&self, claim: &ClaimEntry) -> bool {
        claim.seq > self.durable_seq
    }
}

/// A cheap, cloneable handle to a running engine. Must be started inside an
/// actix `System`.
#[derive(Clone)]
pub struct Engine {
    core: Arc<Core>,
    shards: Arc<[Addr<ShardActor>]>,
    arbiters: Arc<Mutex<Vec<Arbiter>>>,
    /// Events' admission units.
    admission: Arc<Semaphore>,
    /// Decisions' admission units (the claims' lane).
    decisions: Arc<Semaphore>,
    config: EngineConfig,
    durable: watch::Receiver<Durability>,
    /// Picks a player's (or hunt's) shard.
    hasher: foldhash::fast::RandomState,
}

thread_local! {
    /// Claims gathered on this thread and not yet sent, per engine (keyed by
    /// its core's address) and shard. Only ever non-empty between a first
    /// claim's push and its [`FlushClaims`] guard's drop on this thread.
    static GATHERED: std::cell::RefCell<std::collections::HashMap<usize, Vec<Vec<Claim>>>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// Sends a thread's gathered claims for one shard when dropped.
struct FlushClaims {
    key: usize,
    shard: usize,
    addr: Addr<ShardActor>,
}

impl Drop for FlushClaims {
    fn drop(&mut self) {
        let claims = GATHERED.with(|g| {
            g.borrow_mut()
                .get_mut(&self.key)
                .map(|per_shard| std::mem::take(&mut per_shard[self.shard]))
                .unwrap_or_default()
        });
        debug_assert!(!claims.is_empty(), "the first claim is still gathered");
        if !claims.is_empty() {
            self.addr.do_send(RouteClaims(claims));
        }
    }
}

impl Engine {
    /// Starts the actors from `world` (recovered state) on top of `journal`,
    /// whose last sequence must equal `world.last_seq`.
    pub fn start(config: EngineConfig, journal: Arc<dyn Journal>, world: World) -> Engine {
        assert_eq!(
            journal.last_seq(),
            world.last_seq,
            "recovered state must cover the whole journal"
        );
        let core = Arc::new(Core {
            journal: journal.clone(),
            durable: journal.durability(),
            catalog: DashMap::new(),
            clock: config.clock.clone(),
        });
        let shard_count = config.shards.max(1);
        let mut arbiters = Vec::with_capacity(shard_count);
        let mut shards = Vec::with_capacity(shard_count);
        for _ in 0..shard_count {
            let arbiter = Arbiter::new();
            let core = core.clone();
            shards.push(ShardActor::start_in_arbiter(&arbiter.handle(), move |_| {
                ShardActor::new(core)
            }));
            arbiters.push(arbiter);
        }
        let engine = Engine {
            durable: journal.durability(),
            core,
            shards: shards.into(),
            arbiters: Arc::new(Mutex::new(arbiters)),
            admission: Arc::new(Semaphore::new(config.admission_units as usize)),
            decisions: Arc::new(Semaphore::new(config.decision_units as usize)),
            config,
            hasher: Default::default(),
        };
        let World { hunts, players, .. } = world;
        for (id, state) in hunts {
            let entry = engine.start_hunt(state);
            engine.core.catalog.insert(id, entry);
        }
        let mut per_shard: Vec<Vec<(PlayerId, PlayerState)>> = vec![Vec::new(); shard_count];
        for (id, state) in players {
            per_shard[engine.shard_of(&id)].push((id, state));
        }
        for (i, batch) in per_shard.into_iter().enumerate() {
            engine.shards[i].do_send(LoadPlayers(batch));
        }
        engine
    }

    fn start_hunt(&self, state: HuntState) -> HuntEntry {
        HuntEntry {
            id: state.id.clone(),
            def: state.def.clone(),
            skus: state.def.products.iter().map(|p| Arc::from(p.sku.as_str())).collect(),
            defined_at: state.defined_at,
            stock: Arc::new(HuntStock::new(state)),
        }
    }

    fn shard_of(&self, key: &str) -> usize {
        (self.hasher.hash_one(key) % self.shards.len() as u64) as usize
    }

    /// Takes `units` of the events' admission capacity.
    async fn admit_events(&self, units: u32) -> Result<Permit, EngineError> {
        self.admit(&self.admission, units).await
    }

    /// Takes one unit of the decisions' admission capacity (claims' lane).
    async fn admit_decision(&self) -> Result<Permit, EngineError> {
        self.admit(&self.decisions, 1).await
    }

    async fn admit(&self, pool: &Arc<Semaphore>, units: u32) -> Result<Permit, EngineError> {
        // Fast path without arming a timer: nearly always there is room.
        if let Ok(permit) = pool.clone().try_acquire_many_owned(units) {
            return Ok(permit);
        }
        match tokio::time::timeout(self.config.admission_timeout, pool.clone().acquire_many_owned(units)).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) => Err(EngineError::Stopped),
            Err(_) => {
                metrics::counter!("trove_admission_rejected_total").increment(1);
                Err(EngineError::Overloaded)
            }
        }
    }

    /// Waits until `seq` is durable. Errors if the journal failed first.
    pub(crate) async fn wait_durable(&self, seq: Seq) -> Result<(), EngineError> {
        let mut rx = self.durable.clone();
        let d = rx
            .wait_for(|d| d.seq >= seq || d.failure.is_some())
            .await
            .map_err(|_| EngineError::Stopped)?;
        if d.seq >= seq {
            Ok(())
        } else {
            Err(crate::journal::JournalError::Failed(d.failure.clone().unwrap_or_else(|| Arc::from("unknown"))).into())
        }
    }

    /// Defines a hunt, journaled as [`Record::HuntDefined`]. Re-posting an
    /// identical definition is idempotent (`created: false`, the original
    /// sequence); a different one under the same id is
    /// [`EngineError::HuntConflict`].
    pub async fn define_hunt(&self, def: HuntDef) -> Result<DefineResult, EngineError> {
        def.validate().map_err(EngineError::InvalidHunt)?;
        let _permit = self.admit_decision().await?;
        let result = match self.core.catalog.get(&def.id) {
            Some(existing) if *existing.def == def => DefineResult {
                seq: existing.defined_at,
                created: false,
            },
            Some(_) => return Err(EngineError::HuntConflict(def.id)),
            None => {
                // The catalog's entry lock makes define-vs-define races decide once.
                let entry = self.core.catalog.entry(def.id.clone());
                match entry {
                    dashmap::Entry::Occupied(e) if *e.get().def == def => DefineResult {
                        seq: e.get().defined_at,
                        created: false,
                    },
                    dashmap::Entry::Occupied(_) => return Err(EngineError::HuntConflict(def.id)),
                    dashmap::Entry::Vacant(v) => {
                        let seq = self.core.journal.append(&[Record::HuntDefined(def.clone())])?;
                        v.insert(self.start_hunt(HuntState::new(Arc::new(def), seq)));
                        DefineResult { seq, created: true }
                    }
                }
            }
        };
        self.wait_durable(result.seq).await?;
        Ok(result)
    }

    /// Adds `add` units (at least 1) of stock to a product, journaled as
    /// [`Record::StockAdded`] by the hunt's actor.
    pub async fn add_stock(&self, hunt: &str, sku: &str, add: u64) -> Result<StockResult, EngineError> {
        if add == 0 {
            return Err(EngineError::InvalidRequest("add must be at least 1".into()));
        }
        let entry = self.hunt_entry(hunt)?;
        let permit = self.admit_decision().await?;
        let (seq, remaining) = entry
            .stock
            .add_stock(&*self.core.journal, &self.core.durable, sku, add)?;
        drop(permit);
        self.wait_durable(seq).await?;
        Ok(StockResult { seq, remaining })
    }

    fn hunt_entry(&self, hunt: &str) -> Result<HuntEntry, EngineError> {
        self.core
            .catalog
            .get(hunt)
            .map(|e| e.clone())
            .ok_or_else(|| EngineError::UnknownHunt(hunt.to_owned()))
    }

    /// Ingests a batch of game events atomically: all are applied or, if one
    /// is invalid, none ([`EngineError::InvalidEvent`] names the first bad
    /// one). The batch is journaled as consecutive [`Record::Event`]s in one
    /// append. An empty batch journals nothing.
    pub async fn ingest(&self, events: Vec<GameEvent>) -> Result<IngestResult, EngineError> {
        if events.len() > limits::MAX_BATCH_EVENTS {
            return Err(EngineError::BatchTooLarge {
                len: events.len(),
                max: limits::MAX_BATCH_EVENTS,
            });
        }
        if events.is_empty() {
            return Ok(IngestResult {
                accepted: 0,
                seq: self.durable.borrow().seq,
            });
        }
        let now = self.core.clock.now_ms();
        let mut effects = Vec::with_capacity(events.len());
        let mut last: Option<HuntEntry> = None;
        for (index, ev) in events.iter().enumerate() {
            let invalid = |reason: String| EngineError::InvalidEvent { index, reason };
            check_id("player", &ev.player).map_err(invalid)?;
            if last.as_ref().is_none_or(|h| *h.id != *ev.hunt) {
                last = Some(
                    self.hunt_entry(&ev.hunt)
                        .map_err(|_| invalid(format!("unknown hunt {:?}", ev.hunt)))?,
                );
            }
            let hunt = last.as_ref().expect("set above");
            if matches!(ev.kind, EventKind::ClueFound { .. }) && !hunt.def.is_open_at(now) {
                return Err(invalid(format!("hunt {:?} is not open", ev.hunt)));
            }
            effects.push(effect_of(&hunt.def, &hunt.id, ev.kind.view()).map_err(invalid)?);
        }
        let accepted = events.len();
        let permit = Arc::new(self.admit_events(accepted as u32).await?);
        // From here to the last do_send nothing awaits: a caller that gives up
        // cannot leave a batch journaled but unrouted.
        let records: Vec<Record> = events.into_iter().map(Record::Event).collect();
        let seq = self.core.journal.append(&records)?;
        let first = seq + 1 - accepted as Seq;
        let mut routed: Vec<Vec<(String, EventEffect, Seq)>> = vec![Vec::new(); self.shards.len()];
        for (i, (record, effect)) in records.into_iter().zip(effects).enumerate() {
            let Record::Event(ev) = record else {
                unreachable!("built above")
            };
            let shard = self.shard_of(&ev.player);
            routed[shard].push((ev.player, effect, first + i as Seq));
        }
        for (shard, events) in routed.into_iter().enumerate() {
            if !events.is_empty() {
                self.shards[shard].do_send(RouteEvents {
                    events,
                    permit: permit.clone(),
                });
            }
        }
        drop(permit);
        self.wait_durable(seq).await?;
        metrics::counter!("trove_events_total").increment(accepted as u64);
        Ok(IngestResult { accepted, seq })
    }

    /// Adds `claim` to this thread's gathering for `shard`. Returns the guard
    /// that sends the gathering if it was empty (the caller is the first).
    fn gather_claim(&self, shard: usize, claim: Claim) -> Option<FlushClaims> {
        let key = Arc::as_ptr(&self.core) as usize;
        let first = GATHERED.with(|g| {
            let mut g = g.borrow_mut();
            let per_shard = g
                .entry(key)
                .or_insert_with(|| (0..self.shards.len()).map(|_| Vec::new()).collect());
            per_shard[shard].push(claim);
            per_shard[shard].len() == 1
        });
        first.then(|| FlushClaims {
            key,
            shard,
            addr: self.shards[shard].clone(),
        })
    }

    /// Claims one unit of a product, exactly once per `claim_id` and player.
    /// The first request with a claim id is decided and journaled as
    /// [`Record::Claim`]; every retry gets that decision back with
    /// `duplicate: true`. Answers only once the deciding record is durable.
    pub async fn claim(&self, request: ClaimRequest) -> Result<ClaimResult, EngineError> {
        let started = Instant::now();
        request.validate().map_err(EngineError::InvalidRequest)?;
        let permit = self.admit_decision().await?;
        let claim_id = request.claim_id.clone();
        let shard = self.shard_of(&request.player);
        let (tx, rx) = oneshot::channel();
        let claim = Claim {
            request,
            reply: tx,
            permit,
        };
        if let Some(flush) = self.gather_claim(shard, claim) {
            // First claim for this shard in this turn: let the other tasks of
            // this thread add theirs, then send them all in one message. The
            // guard sends even if this future is dropped while it waits.
            tokio::task::yield_now().await;
            drop(flush);
        }
        let decided = rx.await.map_err(|_| EngineError::Stopped)??;
        // Decision and durability timed apart: a claim's latency is the
        // actors' part plus the journal's commit.
        metrics::histogram!("trove_claim_decide_seconds").record(started.elapsed().as_secs_f64());
        self.wait_durable(decided.seq).await?;
        let outcome_label = match decided.outcome {
            Outcome::Granted => "granted",
            Outcome::Rejected(r) => r.code(),
        };
        metrics::counter!("trove_claims_total", "outcome" => outcome_label, "duplicate" => if decided.duplicate { "true" } else { "false" })
            .increment(1);
        metrics::histogram!("trove_claim_ack_seconds").record(started.elapsed().as_secs_f64());
        Ok(ClaimResult {
            claim_id,
            outcome: decided.outcome,
            duplicate: decided.duplicate,
            seq: decided.seq,
        })
    }

    /// A player's live state, or `None` if the engine has never seen the
    /// player. Live: it may include changes whose records are not durable
    /// yet; what clients are shown comes from [`Engine::player_read`].
    pub async fn player(&self, player: &str) -> Result<Option<PlayerState>, EngineError> {
        Ok(self.query_player(player).await?.map(|(state, _)| state))
    }

    async fn query_player(&self, player: &str) -> Result<Option<(PlayerState, Seq)>, EngineError> {
        let (tx, rx) = oneshot::channel();
        self.shards[self.shard_of(player)].do_send(RouteQuery {
            player: player.to_owned(),
            reply: tx,
        });
        rx.await.map_err(|_| EngineError::Stopped)
    }

    /// A player's state for a reader: nothing in it can be undone by a crash
    /// without being marked. Score, events and clues are durable: if an event
    /// of this player is not durable yet, this waits until it is (at most one
    /// journal flush; it errors if the journal fails first). Claims are
    /// answered at once: a claim whose record is not durable yet is pending
    /// ([`PlayerRead::is_pending`]) and must not be shown as decided.
    pub async fn player_read(&self, player: &str) -> Result<Option<PlayerRead>, EngineError> {
        let Some((state, events_seq)) = self.query_player(player).await? else {
            return Ok(None);
        };
        if events_seq > self.durable_seq() {
            self.wait_durable(events_seq).await?;
        }
        // Read after the state: every entry at or below it is durable now.
        let durable_seq = self.durable_seq();
        Ok(Some(PlayerRead { state, durable_seq }))
    }

    /// A hunt's definition and its durable stock ledger: `stock`, `granted`
    /// and `added` count only records that are durable, so a read never shows
    /// a grant or a stock addition that a crash could undo. (Live stock
    /// differs only while such a record waits for its flush.)
    pub async fn hunt(&self, hunt: &str) -> Result<HuntState, EngineError> {
        let entry = self.hunt_entry(hunt)?;
        Ok(entry.stock.durable_state(&self.core.durable))
    }

    /// Whether `hunt` is defined (no allocation: the hot path asks).
    pub fn has_hunt(&self, hunt: &str) -> bool {
        self.core.catalog.contains_key(hunt)
    }

    /// Every hunt id, sorted.
    pub fn hunt_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.core.catalog.iter().map(|e| e.key().clone()).collect();
        ids.sort();
        ids
    }

    /// Number of players resident in actors.
    pub async fn player_count(&self) -> Result<usize, EngineError> {
        let mut total = 0;
        for shard in self.shards.iter() {
            total += shard.send(CountPlayers).await.map_err(|_| EngineError::Stopped)?;
        }
        Ok(total)
    }

    /// The last sequence handed out by the journal.
    pub fn last_seq(&self) -> Seq {
        self.core.journal.last_seq()
    }

    /// Admission units held by work in flight: the engine's queue depth, for
    /// metrics.
    pub fn admission_in_use(&self) -> usize {
        let events = (self.config.admission_units as usize).saturating_sub(self.admission.available_permits());
        let decisions = (self.config.decision_units as usize).saturating_sub(self.decisions.available_permits());
        events + decisions
    }

    /// The last durable sequence.
    pub fn durable_seq(&self) -> Seq {
        self.durable.borrow().seq
    }

    /// A consistent copy of the whole live state at one journal sequence.
    ///
    /// Takes every admission permit of both pools, so it waits for work in
    /// flight to finish (up to the admission timeout) and holds new work back
    /// only while it fixes the cut: it reads the last sequence, copies the
    /// hunts' ledgers and *enqueues* a dump message to every shard. Then it
    /// lets new work in. Each shard's mailbox is FIFO and the messages were
    /// enqueued before any later request could take a permit, so every shard
    /// answers with exactly the players as of the cut; what arrives later
    /// queues behind the dump. (Holding the permits until the shards had
    /// answered stalled all ingest for the whole copy of 200k players, 0.3 to
    /// 0.5 s, at every snapshot; BENCHMARKS.md, issue 11.) Used for
    /// snapshots and consistency checks.
    pub async fn dump(&self) -> Result<World, EngineError> {
        let (last_seq, hunts, shards) = {
            // Decisions first, then events: a dump is the only caller that
            // holds both, so it cannot deadlock with itself.
            let _decisions = self
                .decisions
                .acquire_many(self.config.decision_units)
                .await
                .map_err(|_| EngineError::Stopped)?;
            let _events = self
                .admission
                .acquire_many(self.config.admission_units)
                .await
                .map_err(|_| EngineError::Stopped)?;
            let last_seq = self.core.journal.last_seq();
            let hunts: Vec<HuntState> = self.core.catalog.iter().map(|e| e.value().stock.live_state()).collect();
            let shards: Vec<_> = self
                .shards
                .iter()
                .map(|shard| {
                    let (tx, rx) = oneshot::channel();
                    shard.do_send(DumpPlayers(tx));
                    rx
                })
                .collect();
            debug_assert_eq!(self.core.journal.last_seq(), last_seq, "journal moved inside the cut");
            (last_seq, hunts, shards)
        };
        self.wait_durable(last_seq).await?;
        let mut world = World {
            last_seq,
            ..World::default()
        };
        for state in hunts {
            world.hunts.insert(state.def.id.clone(), state);
        }
        for rx in shards {
            world.players.extend(rx.await.map_err(|_| EngineError::Stopped)?);
        }
        Ok(world)
    }

    /// Stops the actors. Work in flight is answered with `stopped`.
    pub fn stop(&self) {
        self.admission.close();
        self.decisions.close();
        for arbiter in self.arbiters.lock().drain(..) {
            arbiter.stop();
            let _ = arbiter.join();
        }
    }
}
