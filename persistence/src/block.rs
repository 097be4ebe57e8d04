//! [`CheckedBlock`]: the public, read-only view of one journal block that
//! the walk has checked (hash, payload or compaction checksum, key, gapless
//! sequence, chain link), for block-level readers such as audit exports.
//! It hands out the header fields, the records still held (as borrowed
//! views, with their leaves and classes) and, for a block retention
//! compacted, what was removed: everything a per-block proof needs, and
//! nothing of the byte layout.

use crate::chain::{leaf_hash, Hash, Header};
use crate::codec::{self, Block};
use crate::error::JournalDamage;
use trove_engine::{Millis, Record, RecordView, Seq};

/// A journal block that passed every check of the walk. Borrowed for the
/// visit only.
#[derive(Clone, Copy)]
pub struct CheckedBlock<'a>(&'a Block<'a>);

/// One record a [`CheckedBlock`] holds, still encoded.
#[derive(Clone, Copy, Debug)]
pub struct BlockRecord<'a> {
    seq: Seq,
    telemetry: bool,
    body: &'a [u8],
}

impl<'a> CheckedBlock<'a> {
    pub(crate) fn new(block: &'a Block<'a>) -> CheckedBlock<'a> {
        CheckedBlock(block)
    }

    /// The header fields: with [`CheckedBlock::hash`], what a proof of this block carries.
    pub fn header(&self) -> Header {
        self.0.header()
    }

    /// The block's hash (the chain link the next block names).
    pub fn hash(&self) -> Hash {
        self.0.hash
    }

    /// The hash of the block before it.
    pub fn prev_hash(&self) -> Hash {
        self.0.prev_hash
    }

    /// The sequence of its first record.
    pub fn first_seq(&self) -> Seq {
        self.0.first_seq
    }

    /// The sequence of its last record (as written; retention may have removed it).
    pub fn last_seq(&self) -> Seq {
        self.0.last_seq()
    }

    /// Records it was written with.
    pub fn count(&self) -> u32 {
        self.0.count
    }

    /// Records it still holds (fewer than [`CheckedBlock::count`] once compacted).
    pub fn held(&self) -> u32 {
        self.0.held()
    }

    /// When its group commit happened, in milliseconds.
    pub fn committed_at(&self) -> Millis {
        self.0.committed_at
    }

    /// For a block retention compacted: the number of records removed and
    /// the telemetry root they had (which, with the kept records' leaves,
    /// gives the header's leaf root again). `None` for a block as written.
    pub fn removed(&self) -> Option<(u32, Hash)> {
        self.0.compacted.map(|c| (self.0.count - c.kept, c.telemetry_root))
    }

    /// The records it holds, in order. A framing error is damage.
    pub fn records(&self) -> impl Iterator<Item = Result<BlockRecord<'a>, JournalDamage>> + 'a {
        self.0.raw_records().map(|r| {
            r.map(|r| BlockRecord {
                seq: r.seq,
                telemetry: r.telemetry,
                body: r.body,
            })
            .map_err(|(seq, reason)| JournalDamage::CorruptRecord { seq, reason })
        })
    }
}

impl<'a> BlockRecord<'a> {
    /// The record's sequence.
    pub fn seq(&self) -> Seq {
        self.seq
    }

    /// Whether the block stores it as telemetry (what retention may remove).
    pub fn telemetry(&self) -> bool {
        self.telemetry
    }

    /// Its leaf hash (see [`crate::chain`]).
    pub fn leaf(&self) -> Hash {
        leaf_hash(self.body)
    }

    /// The record, decoded without copying its strings.
    pub fn view(&self) -> Result<RecordView<'a>, JournalDamage> {
        codec::decode_view(self.body).map_err(|e| JournalDamage::CorruptRecord {
            seq: self.seq,
            reason: e.to_string(),
        })
    }
}

/// The leaf hash a record has in the journal: the hash of its encoding.
/// What a verifier recomputes for a record it was given as data.
pub fn record_leaf(record: &Record) -> Result<Hash, String> {
    let mut buf = Vec::new();
    codec::encode_record(record, &mut buf).map_err(|e| e.to_string())?;
    Ok(leaf_hash(&buf[4..]))
}
