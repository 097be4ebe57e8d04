//! Reading the journal back: every block checked (hash, chain, gapless
//! sequence) before any of its records is handed out.

use crate::codec::{self, Hash};
use trove_engine::{Millis, RecordView, Seq};

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

/// Visits every record with a sequence greater than `after`, in order, with
/// the time its block was committed, as a borrowed view (no string copies). Stops at the first damage, or when the
/// visitor returns an error (which is passed through as `Err(Ok(e))`).
pub fn scan<E>(
    tree: &sled::Tree,
    after: Seq,
    visit: impl FnMut(Seq, Millis, RecordView<'_>) -> Result<(), E>,
) -> Result<JournalEnd, Result<E, JournalDamage>> {
    scan_with(tree, after, false, visit)
}

/// [`scan`], optionally also checking every block's leaf root (what `verify`
/// does; recovery relies on the block hash alone).
pub fn scan_with<E>(
    tree: &sled::Tree,
    after: Seq,
    check_leaves: bool,
    mut visit: impl FnMut(Seq, Millis, RecordView<'_>) -> Result<(), E>,
) -> Result<JournalEnd, Result<E, JournalDamage>> {
    let mut end = JournalEnd {
        last_seq: 0,
        last_hash: [0; 32],
        blocks: 0,
    };
    // The block walk checks hashes, keys, sequence and chain; this decodes.
    let walked = crate::blocks::visit(tree, after + 1, |block| -> Result<bool, Result<E, JournalDamage>> {
        if check_leaves {
            block.check_leaves().map_err(|reason| {
                Err(JournalDamage::CorruptBlock {
                    first_seq: block.first_seq,
                    reason,
                })
            })?;
        }
        for r in block.bodies() {
            let (seq, body) = r.map_err(|(seq, reason)| Err(JournalDamage::CorruptRecord { seq, reason }))?;
            if seq > after {
                let record = codec::decode_view(body).map_err(|e| {
                    Err(JournalDamage::CorruptRecord {
                        seq,
                        reason: e.to_string(),
                    })
                })?;
                visit(seq, block.committed_at, record).map_err(Ok)?;
            }
        }
        end = JournalEnd {
            last_seq: block.first_seq + u64::from(block.count) - 1,
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
