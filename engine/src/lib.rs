//! # trove-engine
//!
//! The authoritative game state of Trove, held in actix actors.
//!
//! A treasure hunt is a small amount of state under a large write load:
//! 200,000 players each sending a few events a second, and now and then a
//! claim for a physical product that must be decided exactly once. The seed
//! project spread that over Kafka, EventStoreDB, Redis and TimescaleDB and
//! then lost money when two of those disagreed. Trove keeps one copy of the
//! state, in memory, owned by actors, and one log of every change, the journal.
//!
//! ## Main types
//!
//! - [`Engine`] is the cheap, cloneable handle the API, the simulations and
//!   the tests call: [`Engine::define_hunt`], [`Engine::add_stock`],
//!   [`Engine::ingest`], [`Engine::claim`], reads, and [`Engine::dump`]. It
//!   is started from a recovered [`World`] on top of a [`Journal`], with an
//!   [`EngineConfig`] (shards, admission capacity, [`Clock`]).
//! - Behind it run private actors: a *shard actor* per arbiter thread owns the
//!   players on that thread and applies their events; a *player actor* per
//!   player serializes that player's claims. Each hunt's stock ledger sits
//!   behind a lock (`HuntStock`), taken by the player's thread for the stock
//!   step of a claim: decide, journal, take the unit.
//! - [`Record`] is the journal's vocabulary: [`Record::HuntDefined`] (a
//!   [`HuntDef`]), [`Record::StockAdded`], [`Record::Event`] (a
//!   [`GameEvent`]) and [`Record::Claim`] (a [`ClaimRequest`] and its
//!   [`Outcome`]). Every change to the state is exactly one record.
//!   [`RecordView`] is the same record borrowed from decoded bytes.
//! - [`World`] is the whole state as plain data — [`HuntState`]s (definition
//!   and stock ledger) and [`PlayerState`]s (score, clues, every decided
//!   claim). Snapshots hold one, [`World::apply`] replays the journal into
//!   one, and [`Engine::dump`] copies the live actors into one;
//!   [`World::digest`] and [`World::diff`] compare them.
//! - The [`Journal`] trait is the boundary to storage: it orders records
//!   (hands out the [`Seq`]) and reports what is durable ([`Durability`]).
//!   `trove-persistence` implements it on disk; [`MemoryJournal`] serves
//!   tests and simulations.
//! - The [`Clock`] trait is the boundary to time ([`SystemClock`],
//!   [`ManualClock`]); it decides whether a hunt is open.
//! - [`EngineError`] is why a call decided nothing; [`EngineError::code`] is
//!   its stable protocol code.
//!
//! ## How a claim flows
//!
//! 1. [`Engine::claim`] checks the request's ids and customs size and takes an
//!    admission permit; past capacity the request is refused with
//!    [`EngineError::Overloaded`] instead of queueing without bound.
//! 2. It sends the claim to the shard that owns the player (a hash of the
//!    player id), which passes it to the player's actor. Claims started on
//!    one thread in the same scheduler turn for the same shard travel in one
//!    message (one wake-up of the shard thread), in the order they started.
//! 3. The player actor runs the player-side checks in the contract's order:
//!    a known claim id answers with its original outcome (`duplicate`); then
//!    unknown hunt or product, hunt closed, `min_score`, per-player limit. A
//!    rejection there is appended to the journal by the player actor.
//! 4. Otherwise, in the same handler, it takes the hunt's stock lock, grants
//!    if a unit is left, appends the [`Record::Claim`] (which fixes its
//!    sequence) and only then takes the unit from stock. The whole claim is
//!    one handler, so the player's next claim sees this one's outcome.
//! 5. The player actor remembers the decision forever, and the engine answers
//!    with a [`ClaimResult`] once the journal reports the record durable.
//!
//! Events take the same admission step, are validated as a batch, appended
//! in one call and routed to their players' shards; hunt definitions and
//! stock additions are journaled by the engine, the latter under the hunt's
//! stock lock.
//!
//! ## Invariants
//!
//! - The engine does no I/O. Storage sits behind the [`Journal`] trait, time
//!   behind [`Clock`]. It knows no JSON, no wire protocol and no file format;
//!   but the serde layout of [`Record`], [`World`] and [`HuntDef`] *is*
//!   persistence's format, so their field and variant order is frozen.
//! - Journal before state: a change is appended before any actor state
//!   changes; if the append fails, nothing changed.
//! - A player's claims are serialized by its actor; a hunt's stock steps by
//!   its stock lock, which is held across the append, so journal order is
//!   decision order. Stock never goes below zero; per-player limits are never
//!   exceeded.
//! - Dedup state is never dropped: a claim id, once decided, answers with the
//!   same outcome forever (including rejections).
//! - Replaying the journal through [`World::apply`] yields exactly the live
//!   state ([`Engine::dump`]); both use the same state functions.
//!
//! ## Example
//!
//! A hunt with one clue and a product that needs it, on an in-memory journal:
//! the claim is granted, and replaying the journal gives the live state.
//!
//! ```
//! use trove_engine::*;
//!
//! let hunt = HuntDef {
//!     id: "h1".into(),
//!     name: "Harbour hunt".into(),
//!     opens_at: None,
//!     closes_at: None,
//!     clues: vec![ClueDef { id: "c1".into(), points: 10 }],
//!     products: vec![ProductDef { sku: "mug".into(), stock: 1, per_player_limit: 1, min_score: 10 }],
//! };
//! hunt.validate().expect("a well-formed hunt");
//!
//! actix::System::new().block_on(async {
//!     let journal = MemoryJournal::new();
//!     let engine = Engine::start(EngineConfig::default(), journal.clone(), World::default());
//!     engine.define_hunt(hunt).await?;
//!     let found = GameEvent { player: "p1".into(), hunt: "h1".into(), kind: EventKind::ClueFound { clue: "c1".into() } };
//!     engine.ingest(vec![found]).await?;
//!     let claim = ClaimRequest {
//!         claim_id: "p1-mug-1".into(),
//!         player: "p1".into(),
//!         hunt: "h1".into(),
//!         sku: "mug".into(),
//!         customs: "{}".into(),
//!     };
//!     let result = engine.claim(claim).await?;
//!     assert_eq!(result.outcome, Outcome::Granted);
//!
//!     let mut replayed = World::default();
//!     for (i, record) in journal.records().iter().enumerate() {
//!         replayed.apply(i as Seq + 1, record).expect("the journal replays");
//!     }
//!     assert_eq!(replayed.digest(), engine.dump().await?.digest());
//!     engine.stop();
//!     Ok::<(), EngineError>(())
//! })
//! .unwrap();
//! ```
//!
//! ## Modules
//!
//! Everything public is re-exported here; the modules are private.
//! `model` is the vocabulary (hunts, events, claims, records, [`limits`]);
//! `state` the state types and the pure functions that change them (shared by
//! actors and replay); `actors` the actors; `engine` the [`Engine`] handle;
//! `journal` the [`Journal`] trait and [`MemoryJournal`]; `clock` time;
//! `error` [`EngineError`].

mod actors;
mod clock;
mod engine;
mod error;
mod hunt;
mod journal;
mod model;
mod state;

pub use clock::{Clock, ManualClock, SystemClock};
pub use engine::{ClaimResult, DefineResult, Engine, EngineConfig, IngestResult, PlayerRead, StockResult};
pub use error::EngineError;
pub use journal::{Durability, Journal, JournalError, MemoryJournal};
pub use model::{
    limits, ClaimRequest, ClaimRequestView, ClueDef, EventKind, EventKindView, GameEvent, GameEventView, HuntDef,
    HuntInvalid, HuntTelemetry, Millis, Outcome, ProductDef, Record, RecordView, RejectReason, Seq, TelemetryCount,
    MAX_STOCK,
};
pub use state::{
    ClaimEntry, Digest, HuntState, HuntSummary, IdHash, PlayerHunt, PlayerId, PlayerMap, PlayerState, ProductSummary,
    ReplayError, Summary, World,
};
