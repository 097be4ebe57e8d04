//! The one walk over the journal: every reader in the crate reads through
//! here, and every block is checked (frame key, block hash and payload
//! checksum, gapless sequence, hash chain) before anything in it is handed
//! out.
//!
//! - [`blocks`] visits checked blocks (with the bytes they were decoded
//!   from, for compaction's copy);
//! - [`Entries`] decodes those blocks into [`Entry`]s after a sequence:
//!   records as borrowed views, and the telemetry retention removed, which a
//!   replay or a count must account for. Optionally it checks leaf roots and
//!   class bits (what `verify` does), or reads and checks blocks on a second
//!   thread a few blocks ahead of the decoding (what a full rebuild does: it
//!   then costs about the larger of the two halves instead of their sum).
//!
//! Errors are one named type, [`WalkError`]: the visitor's own error, or the
//! [`JournalDamage`] that ended the walk.

use crate::block::CheckedBlock;
use crate::codec::{self, Block, Hash};
use crate::error::JournalDamage;
use crate::log::BlockLog;
use trove_engine::{HuntTelemetry, Millis, RecordView, ReplayError, Seq, TelemetryCount, World};

/// Why a walk over the journal stopped early: its visitor failed, or the
/// journal is damaged. Entries before a damage were visited.
#[derive(Debug)]
pub enum WalkError<E> {
    /// The visitor returned this error.
    Visitor(E),
    /// The journal cannot be read past this point.
    Damage(JournalDamage),
}

impl<E> From<JournalDamage> for WalkError<E> {
    fn from(damage: JournalDamage) -> Self {
        WalkError::Damage(damage)
    }
}

impl<E: From<JournalDamage>> WalkError<E> {
    /// One error for both cases: damage turned into an `E`.
    pub fn flatten(self) -> E {
        match self {
            WalkError::Visitor(e) => e,
            WalkError::Damage(d) => E::from(d),
        }
    }
}

impl WalkError<std::convert::Infallible> {
    /// The damage of a walk whose visitor cannot fail.
    pub fn damage(self) -> JournalDamage {
        match self {
            WalkError::Visitor(never) => match never {},
            WalkError::Damage(d) => d,
        }
    }
}

impl<E: std::fmt::Display> std::fmt::Display for WalkError<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WalkError::Visitor(e) => e.fmt(f),
            WalkError::Damage(d) => d.fmt(f),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for WalkError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WalkError::Visitor(e) => Some(e),
            WalkError::Damage(d) => Some(d),
        }
    }
}

/// The end of a walked journal: its last sequence, the chain head, and the
/// number of blocks walked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalEnd {
    /// The last sequence read (0 for an empty journal).
    pub last_seq: Seq,
    /// The hash of the last block read (zeros for an empty journal).
    pub last_hash: Hash,
    /// Blocks read.
    pub blocks: u64,
}

impl JournalEnd {
    const EMPTY: JournalEnd = JournalEnd {
        last_seq: 0,
        last_hash: [0; 32],
        blocks: 0,
    };

    fn after(self, block: &Block<'_>) -> JournalEnd {
        JournalEnd {
            last_seq: block.last_seq(),
            last_hash: block.hash,
            blocks: self.blocks + 1,
        }
    }
}

/// One step of reading the journal in order.
#[derive(Debug, Clone)]
pub(crate) enum Entry<'a> {
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

/// Applies one entry to a replayed state.
pub(crate) fn replay(world: &mut World, seq: Seq, entry: Entry<'_>) -> Result<(), ReplayError> {
    match entry {
        Entry::Record(r) => world.apply_view(seq, &r),
        Entry::Removed { first } => world.skip_removed(first, seq),
        Entry::RemovedTelemetry { players, .. } => world.apply_removed_telemetry(seq, players),
    }
}

fn storage(e: std::io::Error) -> JournalDamage {
    JournalDamage::Storage(format!("read {}: {e}", crate::log::FILE))
}

/// Visits, in order, every block from the one holding `from` (or the first
/// block, if `from` is before it) to the end of the journal, checking each
/// (and its link to the block before the first one visited) before handing
/// it out with the stored bytes it was decoded from. The visitor stops the
/// walk by returning `Ok(false)`.
pub(crate) fn blocks<E>(
    log: &BlockLog,
    from: Seq,
    mut visitor: impl FnMut(&[u8], &Block<'_>) -> Result<bool, E>,
) -> Result<(), WalkError<E>> {
    let start = log.position_at_or_before(from.max(1)).unwrap_or(0);
    let mut prev_hash: Hash = [0; 32];
    let mut expected: Seq = 1;
    if start > 0 {
        let Some((first_seq, v)) = log.get(start - 1).map_err(storage)? else {
            return Ok(());
        };
        let block = codec::decode_block(&v).map_err(|reason| JournalDamage::CorruptBlock { first_seq, reason })?;
        prev_hash = block.hash;
        expected = block.last_seq() + 1;
    }
    for index in start.. {
        let Some((key_seq, v)) = log.get(index).map_err(storage)? else {
            break;
        };
        let block = codec::decode_block(&v).map_err(|reason| JournalDamage::CorruptBlock {
            first_seq: key_seq,
            reason,
        })?;
        check_link(&block, key_seq, expected, &prev_hash)?;
        if !visitor(&v, &block).map_err(WalkError::Visitor)? {
            return Ok(());
        }
        prev_hash = block.hash;
        expected = block.last_seq() + 1;
    }
    Ok(())
}

/// [`blocks`] as [`CheckedBlock`]s: the walk other crates get, through
/// `Store::blocks` and `Archive::blocks`.
pub(crate) fn checked_blocks<E>(
    log: &BlockLog,
    from: Seq,
    mut visit: impl FnMut(&CheckedBlock<'_>) -> Result<bool, E>,
) -> Result<(), WalkError<E>> {
    blocks(log, from, |_, block| visit(&CheckedBlock::new(block)))
}

/// A decoded block's place in the journal: stored under its own first
/// sequence, the one expected next, following `prev_hash`, not empty.
fn check_link(block: &Block<'_>, key_seq: Seq, expected: Seq, prev_hash: &Hash) -> Result<(), JournalDamage> {
    if block.first_seq != key_seq {
        return Err(JournalDamage::CorruptBlock {
            first_seq: key_seq,
            reason: format!("stored under sequence {key_seq} but says {}", block.first_seq),
        });
    }
    if block.first_seq != expected {
        return Err(JournalDamage::Gap {
            expected,
            found: block.first_seq,
        });
    }
    if &block.prev_hash != prev_hash {
        return Err(JournalDamage::BrokenChain {
            first_seq: block.first_seq,
        });
    }
    if block.count == 0 {
        return Err(JournalDamage::CorruptBlock {
            first_seq: key_seq,
            reason: "empty block".into(),
        });
    }
    Ok(())
}

/// A walk over the journal's [`Entry`]s with a sequence greater than
/// `after`, in order, with their blocks' commit times. Built with
/// [`Entries::after`]; run with [`Entries::run`].
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Entries {
    after: Seq,
    check_leaves: bool,
    pipelined: bool,
}

impl Entries {
    /// The entries after `after`, blocks checked by hash (what recovery relies on).
    pub(crate) fn after(after: Seq) -> Entries {
        Entries {
            after,
            ..Entries::default()
        }
    }

    /// Also checks every block's leaf root and every record's class bit
    /// (what `verify` does).
    pub(crate) fn check_leaves(self) -> Entries {
        Entries {
            check_leaves: true,
            ..self
        }
    }

    /// Reads and checks blocks on a second thread, a few blocks ahead of
    /// the visitor. Same entries, same checks, same errors.
    pub(crate) fn pipelined(self) -> Entries {
        Entries {
            pipelined: true,
            ..self
        }
    }

    /// Visits every entry; returns the journal's end.
    pub(crate) fn run<E>(
        self,
        log: &BlockLog,
        mut visit: impl FnMut(Seq, Millis, Entry<'_>) -> Result<(), E>,
    ) -> Result<JournalEnd, WalkError<E>> {
        if self.pipelined {
            return self.run_pipelined(log, visit);
        }
        let mut end = JournalEnd::EMPTY;
        blocks(log, self.after + 1, |_, block| {
            self.block_entries(block, &mut visit)?;
            end = end.after(block);
            Ok(true)
        })
        .map_err(|e| match e {
            WalkError::Visitor(inner) => inner,
            WalkError::Damage(d) => WalkError::Damage(d),
        })?;
        Ok(end)
    }

    /// [`Entries::run`] for the records alone: telemetry removed by
    /// retention is skipped.
    pub(crate) fn records<E>(
        self,
        log: &BlockLog,
        mut visit: impl FnMut(Seq, Millis, RecordView<'_>) -> Result<(), E>,
    ) -> Result<JournalEnd, WalkError<E>> {
        self.run(log, |seq, at, entry| match entry {
            Entry::Record(r) => visit(seq, at, r),
            Entry::Removed { .. } | Entry::RemovedTelemetry { .. } => Ok(()),
        })
    }

    /// The reading half on a scoped thread, sending checked blocks' bytes;
    /// this thread decodes them.
    fn run_pipelined<E>(
        self,
        log: &BlockLog,
        mut visit: impl FnMut(Seq, Millis, Entry<'_>) -> Result<(), E>,
    ) -> Result<JournalEnd, WalkError<E>> {
        enum Item {
            Block(Seq, Vec<u8>),
            End(Result<JournalEnd, JournalDamage>),
        }
        let (tx, rx) = std::sync::mpsc::sync_channel::<Item>(64);
        std::thread::scope(|scope| {
            scope.spawn(move || {
                let mut end = JournalEnd::EMPTY;
                struct Gone;
                let walked = blocks(log, self.after + 1, |bytes, block| {
                    tx.send(Item::Block(block.first_seq, bytes.to_vec()))
                        .map_err(|_| Gone)?;
                    end = end.after(block);
                    Ok::<bool, Gone>(true)
                });
                let _ = match walked {
                    Ok(()) => tx.send(Item::End(Ok(end))),
                    Err(WalkError::Damage(damage)) => tx.send(Item::End(Err(damage))),
                    Err(WalkError::Visitor(Gone)) => Ok(()),
                };
            });
            for item in rx {
                let (first_seq, bytes) = match item {
                    Item::Block(first_seq, bytes) => (first_seq, bytes),
                    Item::End(end) => return end.map_err(WalkError::Damage),
                };
                // Checked by the reader: only the fields are read here.
                let block = codec::decode_checked_block(&bytes)
                    .map_err(|reason| JournalDamage::CorruptBlock { first_seq, reason })?;
                self.block_entries(&block, &mut visit)?;
            }
            Err(WalkError::Damage(JournalDamage::Storage(
                "journal reader stopped".into(),
            )))
        })
    }

    /// Hands the entries of one checked block with sequence greater than
    /// `after` to `visit`, after the leaf and class checks if asked for.
    fn block_entries<E>(
        &self,
        block: &Block<'_>,
        visit: &mut impl FnMut(Seq, Millis, Entry<'_>) -> Result<(), E>,
    ) -> Result<(), WalkError<E>> {
        let (after, at) = (self.after, block.committed_at);
        let corrupt = |reason: String| JournalDamage::CorruptBlock {
            first_seq: block.first_seq,
            reason,
        };
        if self.check_leaves {
            block.check_leaves().map_err(corrupt)?;
        }
        if let Some(c) = &block.compacted {
            if block.first_seq > after {
                let damaged = |e: codec::CodecError| corrupt(format!("removed telemetry counts: {e}"));
                let hunts = c.hunts().map_err(damaged)?;
                let players = c.players().map_err(damaged)?;
                let entry = Entry::RemovedTelemetry {
                    hunts: &hunts,
                    players: &players,
                };
                visit(block.first_seq, at, entry).map_err(WalkError::Visitor)?;
            }
        }
        let mut next = block.first_seq;
        for r in block.raw_records() {
            let r = r.map_err(|(seq, reason)| JournalDamage::CorruptRecord { seq, reason })?;
            if r.seq > next {
                removed(visit, after, at, next, r.seq - 1)?;
            }
            next = r.seq + 1;
            if r.seq <= after {
                continue;
            }
            let record = codec::decode_view(r.body).map_err(|e| JournalDamage::CorruptRecord {
                seq: r.seq,
                reason: e.to_string(),
            })?;
            if self.check_leaves && record.is_telemetry() != r.telemetry {
                return Err(WalkError::Damage(JournalDamage::CorruptRecord {
                    seq: r.seq,
                    reason: "its class bit does not match its content (telemetry or kept)".into(),
                }));
            }
            visit(r.seq, at, Entry::Record(record)).map_err(WalkError::Visitor)?;
        }
        if next <= block.last_seq() {
            removed(visit, after, at, next, block.last_seq())?;
        }
        Ok(())
    }
}

/// The [`Entry::Removed`] for records `first..=last` that retention
/// removed, of those after `after`.
fn removed<E>(
    visit: &mut impl FnMut(Seq, Millis, Entry<'_>) -> Result<(), E>,
    after: Seq,
    at: Millis,
    first: Seq,
    last: Seq,
) -> Result<(), WalkError<E>> {
    let first = first.max(after + 1);
    if last >= first {
        visit(last, at, Entry::Removed { first }).map_err(WalkError::Visitor)?;
    }
    Ok(())
}
