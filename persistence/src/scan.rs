//! Reading the journal back: every block checked (hash, chain, gapless
//! sequence) before any of its records is handed out.

use crate::codec::{self, Block, Hash};
use trove_engine::{HuntTelemetry, Millis, RecordView, ReplayError, Seq, TelemetryCount, World};

/// Where and why the journal cannot be read past some point.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JournalDamage {
    #[error("journal block at sequence {first_seq} is corrupt: {reason}")]
    CorruptBlock { first_seq: Seq, reason: String },
    #[error("journal record {seq} is corrupt: {reason}")]
    CorruptRecord { seq: Seq, reason: String },
    #[error("journal gap: expected sequence {expected}, found block starting at {found}")]
    Gap { expected: Seq, found: Seq },
    #[error("journal hash chain broken at block {first_seq}: it does not follow the block before it")]
    BrokenChain { first_seq: Seq },
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

/// The end of a scanned journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalEnd {
    pub last_seq: Seq,
    pub last_hash: Hash,
    pub blocks: u64,
}

/// One step of reading the journal in order.
#[derive(Debug, Clone)]
pub enum Entry<'a> {
    /// The record at this sequence.
    Record(RecordView<'a>),
    /// Records `first..=seq` were telemetry that retention removed.
    Removed { first: Seq },
    /// What the telemetry removed from the compacted block starting at this
    /// sequence did: per hunt for this block, and per player and hunt for
    /// the whole run of compacted blocks it starts (empty inside a run).
    /// Comes before the block's other entries: a run never holds a hunt
    /// definition, so every hunt these name is already defined.
    RemovedTelemetry {
        hunts: &'a [HuntTelemetry],
        players: &'a [TelemetryCount],
    },
}

/// Visits every record with a sequence greater than `after`, in order, with
/// the time its block was committed, as a borrowed view (no string copies);
/// telemetry removed by retention is skipped (see [`scan_entries`] for
/// readers that must account for it). Stops at the first damage, or when the
/// visitor returns an error (which is passed through as `Err(Ok(e))`).
pub fn scan<E>(
    log: &crate::log::BlockLog,
    after: Seq,
    mut visit: impl FnMut(Seq, Millis, RecordView<'_>) -> Result<(), E>,
) -> Result<JournalEnd, Result<E, JournalDamage>> {
    scan_entries(log, after, false, |seq, at, entry| match entry {
        Entry::Record(r) => visit(seq, at, r),
        Entry::Removed { .. } | Entry::RemovedTelemetry { .. } => Ok(()),
    })
}

/// Every [`Entry`] after `after`, in order: what a replay needs. With
/// `check_leaves` (what `verify` does; recovery relies on the block hash
/// alone), also checks every block's leaf root and every record's class bit.
pub fn scan_entries<E>(
    log: &crate::log::BlockLog,
    after: Seq,
    check_leaves: bool,
    mut visit: impl FnMut(Seq, Millis, Entry<'_>) -> Result<(), E>,
) -> Result<JournalEnd, Result<E, JournalDamage>> {
    let mut end = JournalEnd {
        last_seq: 0,
        last_hash: [0; 32],
        blocks: 0,
    };
    // The block walk checks hashes, keys, sequence and chain; this decodes.
    let walked = crate::blocks::visit(log, after + 1, |block| -> Result<bool, Result<E, JournalDamage>> {
        if check_leaves {
            block.check_leaves().map_err(|reason| {
                Err(JournalDamage::CorruptBlock {
                    first_seq: block.first_seq,
                    reason,
                })
            })?;
        }
        block_entries(block, after, check_leaves, &mut visit)?;
        end = JournalEnd {
            last_seq: block.last_seq(),
            last_hash: block.hash,
            blocks: end.blocks + 1,
        };
        Ok(true)
    });
    match walked {
        Ok(()) => Ok(end),
        Err(Ok(inner)) => Err(inner),
        Err(Err(damage)) => Err(Err(damage)),
    }
}

/// Hands the entries of one checked block with sequence greater than `after`
/// to `visit`. With `check_classes`, a record whose class bit disagrees with
/// its content is damage.
pub(crate) fn block_entries<E>(
    block: &Block<'_>,
    after: Seq,
    check_classes: bool,
    visit: &mut impl FnMut(Seq, Millis, Entry<'_>) -> Result<(), E>,
) -> Result<(), Result<E, JournalDamage>> {
    let at = block.committed_at;
    if let Some(c) = &block.compacted {
        if block.first_seq > after {
            let damaged = |e: codec::CodecError| {
                Err(JournalDamage::CorruptBlock {
                    first_seq: block.first_seq,
                    reason: format!("removed telemetry counts: {e}"),
                })
            };
            let hunts = c.hunts().map_err(damaged)?;
            let players = c.players().map_err(damaged)?;
            visit(
                block.first_seq,
                at,
                Entry::RemovedTelemetry {
                    hunts: &hunts,
                    players: &players,
                },
            )
            .map_err(Ok)?;
        }
    }
    let removed = |visit: &mut dyn FnMut(Seq, Millis, Entry<'_>) -> Result<(), E>,
                   first: Seq,
                   last: Seq|
     -> Result<(), Result<E, JournalDamage>> {
        let first = first.max(after + 1);
        if last >= first {
            visit(last, at, Entry::Removed { first }).map_err(Ok)?;
        }
        Ok(())
    };
    let mut next = block.first_seq;
    for r in block.raw_records() {
        let r = r.map_err(|(seq, reason)| Err(JournalDamage::CorruptRecord { seq, reason }))?;
        if r.seq > next {
            removed(visit, next, r.seq - 1)?;
        }
        next = r.seq + 1;
        if r.seq <= after {
            continue;
        }
        let record = codec::decode_view(r.body).map_err(|e| {
            Err(JournalDamage::CorruptRecord {
                seq: r.seq,
                reason: e.to_string(),
            })
        })?;
        if check_classes && record.is_telemetry() != r.telemetry {
            return Err(Err(JournalDamage::CorruptRecord {
                seq: r.seq,
                reason: "its class bit does not match its content (telemetry or kept)".into(),
            }));
        }
        visit(r.seq, at, Entry::Record(record)).map_err(Ok)?;
    }
    if next <= block.last_seq() {
        removed(visit, next, block.last_seq())?;
    }
    Ok(())
}

/// The result of a walk whose visitor fails with `E`, with damage turned
/// into an `E` too (the walks return damage and the visitor's own errors
/// apart, as `Err(Err(damage))` and `Err(Ok(e))`).
pub fn flatten<T, E: From<JournalDamage>>(walked: Result<T, Result<E, JournalDamage>>) -> Result<T, E> {
    walked.map_err(|e| e.unwrap_or_else(E::from))
}

/// Applies one entry to a replayed state.
pub fn replay(world: &mut World, seq: Seq, entry: Entry<'_>) -> Result<(), ReplayError> {
    match entry {
        Entry::Record(r) => world.apply_view(seq, &r),
        Entry::Removed { first } => world.skip_removed(first, seq),
        Entry::RemovedTelemetry { players, .. } => world.apply_removed_telemetry(seq, players),
    }
}
