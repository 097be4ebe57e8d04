//! # trove-persistence
//!
//! Durable storage for Trove: the journal (the source of truth), snapshots
//! (a shortcut for recovery), and the checks that prove the two agree.
//!
//! The seed project lost $24k because two stores disagreed about how many
//! players existed and nobody could say which was right. Here there is one
//! answer: the journal. Everything else, the live actors, the snapshots, later
//! the projections, can be rebuilt from it and compared with it ([`verify`]).
//!
//! ## Layout of a data folder
//!
//! ```text
//! DATA/
//!   LOCK            flock-ed by the one process that owns the folder
//!   journal/
//!     blocks.log    the journal: append-only frames, one per block (`log`)
//!   journal.hwm     the acknowledged high-water mark (`hwm`)
//!   audit/          sled database: the audit projection, derived (`audit`)
//!   snapshots/      snapshot-<seq>.trv files, newest few kept
//! ```
//!
//! ## Invariants
//!
//! - Only this crate knows sled, bincode and the files of a data folder.
//! - Sequence numbers are gapless; blocks are hash-chained; every block is
//!   checked before any record in it is used. Damage stops recovery with its
//!   position: recovery never returns state built from a damaged journal.
//! - A sequence is reported durable only once the rule of its record class
//!   holds (see `docs/DURABILITY.md`): decisions after an `fdatasync` of the
//!   block log and of the mark, events in the default mode once written. A
//!   failed write fail-stops the journal.
//! - Nothing read back at open is served before it is synced: a record that
//!   a dead process left in the page cache is made durable first.
//! - One process per data folder (an exclusive `flock` on `DATA/LOCK`).
//!
//! ## Main types and how they fit
//!
//! - [`Store`] is an open data folder while a server runs: it holds the
//!   folder's [`DirLock`], recovers the state ([`RecoveryReport`]) and runs
//!   the journal writer ([`FileJournal`], the engine's `Journal`), configured
//!   by [`StoreOptions`]. [`open_engine`] opens one and starts an engine on it.
//! - [`Archive`] is the same folder offline, for the auditors' tools:
//!   reports, [`verify`] ([`VerifyReport`]), rebuild, retention's compaction.
//! - Every read of the journal goes through one walk (`walk`) that checks
//!   each block before handing anything out, and fails with one error type,
//!   [`WalkError`]: the visitor's own error or the [`JournalDamage`] found.
//!   Readers in other crates get [`Item`]s ([`Store::read_after`]), records
//!   ([`Archive::scan`], [`read_journal`]) or [`CheckedBlock`]s
//!   ([`Store::blocks`], [`Archive::blocks`]).
//! - A [`CheckedBlock`] carries what a per-block proof needs; [`chain`] has
//!   the hash functions a verifier recomputes ([`record_leaf`] for a record
//!   given as data). The byte layout itself stays private to this crate.
//! - Every failure is a [`StoreError`].
//!
//! ```no_run
//! use trove_persistence::{Archive, StoreError};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let archive = Archive::open(std::path::Path::new("DATA"))?;
//! let mut claims = 0;
//! archive.blocks(1, |block| {
//!     for record in block.records() {
//!         let record = record?;
//!         if matches!(record.view()?, trove_engine::RecordView::Claim { .. }) {
//!             claims += 1;
//!         }
//!     }
//!     Ok::<bool, StoreError>(true)
//! })
//! .map_err(|e| e.flatten())?;
//! println!("{claims} claims, chain intact");
//! # Ok(())
//! # }
//! ```

mod archive;
pub mod audit;
mod block;
pub mod chain;
mod codec;
mod durable;
mod error;
mod folder;
mod gate;
pub mod hwm;
mod journal;
mod legacy;
mod lock;
pub mod log;
mod lookup;
mod open;
mod options;
mod recovery;
pub mod retention;
pub mod snapshot;
mod store;
mod swap;
mod verify;
mod walk;

pub use archive::{read_journal, Archive, RebuildReport};
pub use block::{record_leaf, BlockRecord, CheckedBlock};
pub use error::{JournalDamage, StoreError};
pub use gate::WriteGate;
pub use journal::{DurabilityMode, FileJournal};
pub use lock::DirLock;
pub use options::StoreOptions;
pub use recovery::RecoveryReport;
pub use store::{open_engine, Item, Store};
pub use verify::{verify, Check, VerifyReport};
pub use walk::{JournalEnd, WalkError};

/// Test support: the journal's encoding, for tests that forge damage (a
/// flipped byte, a rewritten block). Not an API: exports and verifiers use
/// [`CheckedBlock`] and [`chain`].
#[doc(hidden)]
pub mod testing {
    pub use crate::codec::*;
}
