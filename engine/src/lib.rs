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
//! ## How a write flows
//!
//! 1. The [`Engine`] validates the request against the hunt catalog.
//! 2. It takes admission permits; past capacity the request is refused with
//!    `overloaded` instead of queueing without bound.
//! 3. The owning actor decides (a player actor for its own checks, a hunt
//!    actor for stock) and appends the deciding [`Record`] to the [`Journal`],
//!    which fixes its sequence number. State changes only after the append.
//! 4. The caller waits until the record is durable, then answers.
//!
//! ## Invariants
//!
//! - The engine does no I/O. Storage sits behind the [`Journal`] trait.
//! - A player's claims are serialized by its actor; a hunt's stock by its hunt
//!   actor. Stock never goes below zero; per-player limits are never exceeded.
//! - Dedup state is never dropped: a claim id, once decided, answers with the
//!   same outcome forever (including rejections).
//! - Replaying the journal through [`World::apply`] yields exactly the live
//!   state ([`Engine::dump`]); both use the same state functions.

mod actors;
pub mod clock;
mod engine;
pub mod error;
pub mod journal;
pub mod model;
pub mod state;

pub use clock::{Clock, ManualClock, SystemClock};
pub use engine::{ClaimResult, DefineResult, Engine, EngineConfig, IngestResult, PlayerRead, StockResult};
pub use error::EngineError;
pub use journal::{Durability, Journal, JournalError, MemoryJournal};
pub use model::*;
pub use state::{
    ClaimEntry, Digest, HuntState, IdHash, PlayerHunt, PlayerId, PlayerMap, PlayerState, ReplayError, Summary, World,
};
