//! # trove-readmodel
//!
//! Trove's read models: views built only from the durable journal, never
//! from the engine's actors. Today that is the leaderboard.
//!
//! - [`state::ProjectionState`] is the journal-derived state, a plain value:
//!   each journal entry is applied in sequence ([`ProjectionState::apply_item`]).
//!   Hunt definitions give clue points, `clue_found` events score once per
//!   player and clue, claims and stock records keep per-product counts.
//! - [`leaderboard::Board`] is one published ranking of a hunt (higher score
//!   first, then who reached it first, then player id), immutable, with
//!   [`Board::query`] for the top or a window around a player.
//! - [`projection::Projection`] is the tailer: it owns a state behind a lock,
//!   reads the journal after what it applied (`Store::read_after`) every
//!   [`REFRESH_INTERVAL`] when the server asks it to
//!   ([`Projection::refresh`]), and publishes changed boards that queries read
//!   without locking.
//! - [`checkpoint`] is the file `DATA/leaderboard.proj`: a state at a
//!   sequence, tied to the hash of the journal block holding it. Rebuilding
//!   from sequence 0 costs a full journal read (80 s for 50M records) and
//!   readiness waits for it, so the server writes one with every snapshot and
//!   a start uses it only if the journal still has that history.
//! - Hunt summaries (module `summary`, [`ProjectionState::hunt_summaries`]):
//!   per product the durable ledger and the rejected claims by reason, for
//!   the `hunts` push topic; from the same records, so no second tailer.
//! - [`consistency::check`] compares the live engine with the projection at
//!   one journal sequence (the projection is an independent witness, since it
//!   never reads the engine) and returns a typed
//!   [`consistency::ConsistencyReport`].
//!
//! ## What an event costs
//!
//! The projection applies every durable record, so at full ingest it sees
//! hundreds of thousands of events a second; applying one costs a small
//! constant and ranking waits for publication:
//!
//! - Players are numbered once (module `players`): the first time the
//!   journal names a player its id becomes an `Arc<str>` and the next dense
//!   number; after that one foldhash probe with the record's borrowed id
//!   finds the number and the player's slot in its first hunt (ids of up to
//!   23 bytes sit in the table itself). Slots in further hunts are one probe
//!   of a map keyed by numbers.
//! - A hunt keeps its players' standings (score, the sequence that reached
//!   it, number) and found-clue bits in arrays by slot. A `clue_found` is a
//!   bit test, an add, and a changed mark on the slot: no allocation, no
//!   tree, no string comparison. A new player is a push on those arrays.
//! - Publishing (every refresh, for the hunts that changed) settles the
//!   ranking: it sorts the k changed standings and merges them, in place,
//!   into the order of the last publication (O(n + k log k) for n players),
//!   then builds the board (O(n), the size of the board itself). Player ids
//!   are compared only when score and sequence tie.
//! - The checkpoint payload keeps the first format's layout, written and
//!   read by hand (module `payload`) since the state is no longer a tree of
//!   maps; its golden test pins the bytes.
//!
//! Errors are [`ReadModelError`] (the projection or the check could not run)
//! and [`CheckpointError`] (a checkpoint was not written or not used, which
//! only costs a rebuild). Neither knows HTTP; the server maps them.
//!
//! ```
//! use trove_engine::{ClueDef, EventKind, GameEvent, HuntDef, Record};
//! use trove_readmodel::{checkpoint, state::ProjectionState};
//!
//! let mut st = ProjectionState::default();
//! let hunt = HuntDef {
//!     id: "h".into(),
//!     name: "Harbour".into(),
//!     opens_at: None,
//!     closes_at: None,
//!     clues: vec![ClueDef { id: "c1".into(), points: 10 }],
//!     products: vec![],
//! };
//! st.apply(1, &Record::HuntDefined(hunt)).unwrap();
//! for (seq, player) in [(2, "ann"), (3, "bob")] {
//!     let ev = GameEvent { player: player.into(), hunt: "h".into(), kind: EventKind::ClueFound { clue: "c1".into() } };
//!     st.apply(seq, &Record::Event(ev)).unwrap();
//! }
//! // Same score: ann reached it first.
//! let board = st.ranking("h").unwrap();
//! assert_eq!(board.query(10, None)[0].1.as_ref(), "ann");
//!
//! // A checkpoint round-trips the state (the block hash ties it to a journal).
//! let bytes = checkpoint::encode(&st, &[7; 32]).unwrap();
//! let (back, hash) = checkpoint::decode(&bytes).unwrap();
//! assert_eq!((back.applied(), hash), (3, [7; 32]));
//! ```
//!
//! [`ProjectionState::apply_item`]: state::ProjectionState::apply_item
//! [`ProjectionState::hunt_summaries`]: state::ProjectionState::hunt_summaries
//! [`Board::query`]: leaderboard::Board::query
//! [`REFRESH_INTERVAL`]: projection::REFRESH_INTERVAL
//! [`Projection::refresh`]: projection::Projection::refresh

pub mod checkpoint;
pub mod consistency;
pub mod error;
pub mod leaderboard;
mod payload;
mod players;
pub mod projection;
pub mod state;
mod summary;

pub use error::{ApplyError, CheckpointError, ReadModelError};
