//! The crate's errors: [`StoreError`] for every public operation and
//! [`JournalDamage`] for where and why the journal cannot be read on. Every
//! other module depends on this one; it depends on nothing in the crate.

use std::path::PathBuf;
use trove_engine::{ReplayError, Seq};

/// Where and why the journal cannot be read past some point.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JournalDamage {
    /// A block fails its checks (hash, checksum, framing, key).
    #[error("journal block at sequence {first_seq} is corrupt: {reason}")]
    CorruptBlock {
        /// The first sequence the block claims (or is stored under).
        first_seq: Seq,
        /// What failed.
        reason: String,
    },
    /// One record of an otherwise intact block cannot be read.
    #[error("journal record {seq} is corrupt: {reason}")]
    CorruptRecord {
        /// The record's sequence.
        seq: Seq,
        /// What failed.
        reason: String,
    },
    /// Sequences are missing between two blocks.
    #[error("journal gap: expected sequence {expected}, found block starting at {found}")]
    Gap {
        /// The sequence the next block should start at.
        expected: Seq,
        /// The sequence it starts at.
        found: Seq,
    },
    /// A block's `prev_hash` is not the hash of the block before it.
    #[error("journal hash chain broken at block {first_seq}: it does not follow the block before it")]
    BrokenChain {
        /// The first sequence of the block that does not follow.
        first_seq: Seq,
    },
    /// The file could not be read.
    #[error("journal read failed: {0}")]
    Storage(String),
}

impl JournalDamage {
    /// The first sequence the damage affects.
    pub fn position(&self) -> Option<Seq> {
        match self {
            JournalDamage::CorruptBlock { first_seq, .. } | JournalDamage::BrokenChain { first_seq } => {
                Some(*first_seq)
            }
            JournalDamage::CorruptRecord { seq, .. } => Some(*seq),
            JournalDamage::Gap { expected, .. } => Some(*expected),
            JournalDamage::Storage(_) => None,
        }
    }
}

/// Why opening, reading, checking or writing a data folder failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process (or another store in this one) holds the folder's lock.
    #[error(
        "data folder {path} is in use by another Trove process{holder}; stop it first or use another --data folder"
    )]
    Locked {
        /// The data folder.
        path: PathBuf,
        /// ` (pid N)` when the lock file names its holder, else empty.
        holder: String,
    },
    /// The journal is damaged at a known position.
    #[error(transparent)]
    Damaged(#[from] JournalDamage),
    /// The journal reads but the engine refuses to replay it.
    #[error("journal cannot be replayed: {0}")]
    Replay(#[from] ReplayError),
    /// The journal ends before the acknowledged high-water mark.
    #[error("acknowledged records are missing: {0}")]
    AcknowledgedLost(String),
    /// The high-water mark file cannot be read.
    #[error(
        "{path} is damaged ({reason}), so recovery cannot tell whether acknowledged records are missing. \
         Run `trove verify --data DIR`; if it passes and the journal ends where you expect, remove {path} \
         (the next start writes a new one); otherwise restore the folder from a backup (docs/OPERATIONS.md)"
    )]
    MarkDamaged {
        /// The mark file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A swapped-in journal (compacted or converted) did not check out; the original is kept.
    #[error("the compacted journal failed its check after the swap ({0}); the original is kept in journal.old")]
    SwapCheck(String),
    /// A valid snapshot saw records the journal no longer holds.
    #[error("snapshot at sequence {snapshot_seq} is ahead of the journal, which ends at {journal_last}: journal records were lost")]
    SnapshotAhead {
        /// The snapshot's sequence.
        snapshot_seq: Seq,
        /// Where the journal ends.
        journal_last: Seq,
    },
    /// The audit projection's sled database failed.
    #[error("audit projection (sled): {0}")]
    Sled(#[from] sled::Error),
    /// The journal folder is in a layout this version cannot read.
    #[error(
        "{path} holds a journal in a format this version does not read ({reason}); \
         restore the folder from a backup or run the version that wrote it"
    )]
    UnknownFormat {
        /// The journal folder.
        path: PathBuf,
        /// What was found.
        reason: String,
    },
    /// A file operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, on which path.
        context: String,
        /// The error.
        source: std::io::Error,
    },
    /// Writing or tying a snapshot to the journal failed.
    #[error("snapshot: {0}")]
    Snapshot(String),
    /// The engine failed (dumping state for a snapshot, closing the journal).
    #[error(transparent)]
    Engine(#[from] trove_engine::EngineError),
}

/// Turns an I/O error into [`StoreError::Io`] with `context` (what was being done, on which path).
pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> StoreError {
    let context = context.into();
    move |source| StoreError::Io { context, source }
}

/// The message of a caught panic.
pub(crate) fn panic_text(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic")
}
