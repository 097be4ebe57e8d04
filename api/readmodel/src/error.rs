//! The errors of the read models. Their texts are the ones operators already
//! see in logs, in `/readyz` and in `500 internal` replies; keep them stable.

use trove_engine::{EngineError, Seq};

/// Why the projection could not advance, or the consistency check could not run.
#[derive(Debug, thiserror::Error)]
pub enum ReadModelError {
    /// An earlier error stopped the projection for good (see
    /// [`Projection::failure`](crate::projection::Projection::failure)).
    #[error("leaderboard projection stopped: {0}")]
    Stopped(String),
    /// The blocking journal read panicked.
    #[error("journal reader panicked: {0}")]
    ReaderPanicked(String),
    /// The journal could not be read.
    #[error("journal read failed: {0}")]
    JournalRead(#[source] trove_persistence::StoreError),
    /// A durable record does not apply: a gap, or a record for a hunt the
    /// journal never defined. A bug or damage; the projection stops.
    #[error(transparent)]
    Apply(#[from] ApplyError),
    /// The engine refused the dump the consistency check needs (stopped,
    /// overloaded, journal failure): the caller maps it as any engine error.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// A journal entry that does not fit the state built so far.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// The entry is not the next sequence.
    #[error("projection expected record {expected}, got {got}")]
    Gap {
        /// The sequence the state needs next.
        expected: Seq,
        /// The sequence it was given.
        got: Seq,
    },
    /// An event for a hunt with no definition before it.
    #[error("record {seq}: event for unknown hunt {hunt:?}")]
    UnknownHuntEvent {
        /// The record's sequence.
        seq: Seq,
        /// The hunt it names.
        hunt: String,
    },
    /// More distinct players (or hunts) than the projection numbers
    /// (`u32::MAX - 1`); memory runs out long before.
    #[error("record {seq}: too many {what} for the leaderboard projection")]
    TooMany {
        /// The record's sequence.
        seq: Seq,
        /// `players` or `hunts`.
        what: &'static str,
    },
    /// Removed telemetry counted for a hunt with no definition before it.
    #[error("record {seq}: removed telemetry for unknown hunt {hunt:?}")]
    UnknownHuntTelemetry {
        /// The entry's sequence.
        seq: Seq,
        /// The hunt it names.
        hunt: String,
    },
}

/// Why a checkpoint file was not written or not used. Not using one only
/// costs a rebuild from the journal.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The file is shorter than its header or has the wrong magic.
    #[error("leaderboard checkpoint is damaged")]
    Damaged,
    /// The payload fails its blake3 checksum.
    #[error("leaderboard checkpoint fails its checksum")]
    Checksum,
    /// The checkpoint is at a sequence the journal does not hold.
    #[error("leaderboard checkpoint at {0} is ahead of the journal")]
    AheadOfJournal(Seq),
    /// The journal block at the checkpoint's sequence has another hash.
    #[error("leaderboard checkpoint was made from a different journal history")]
    OtherHistory,
    /// The header's sequence and the decoded state's differ.
    #[error("leaderboard checkpoint header and state disagree")]
    HeaderMismatch,
    /// The payload does not decode (or the state does not encode).
    #[error("{0}")]
    Codec(#[from] trove_persistence::snapshot::CodecError),
    /// The journal could not say which block holds the sequence.
    #[error("{0}")]
    Store(#[from] trove_persistence::StoreError),
    /// Reading or writing the file failed.
    #[error("{0}")]
    Io(String),
}
