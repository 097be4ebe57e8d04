//! Single-block look-ups by sequence, without walking the chain: the hash
//! of the block holding a sequence (what ties a snapshot or a mark to this
//! journal), and the journal's last block.

use crate::codec::{self, Hash};
use crate::error::JournalDamage;
use crate::log::BlockLog;
use trove_engine::Seq;

/// The last sequence and hash of the checked block whose range holds `seq`
/// (`None` if no block does).
pub(crate) fn holding(log: &BlockLog, seq: Seq) -> Result<Option<(Seq, Hash)>, String> {
    let Some(index) = log.position_at_or_before(seq) else {
        return Ok(None);
    };
    let Some((_, value)) = log.get(index).map_err(|e| format!("read journal: {e}"))? else {
        return Ok(None);
    };
    let block = codec::decode_block(&value).map_err(|e| format!("block holding {seq}: {e}"))?;
    Ok((block.last_seq() >= seq).then_some((block.last_seq(), block.hash)))
}

/// The hash of the block holding `seq` (zero for sequence 0): what ties a
/// snapshot or checkpoint at `seq` to this journal's history.
pub(crate) fn hash_at(log: &BlockLog, seq: Seq) -> Result<Hash, String> {
    if seq == 0 {
        return Ok([0; 32]);
    }
    holding(log, seq)?
        .map(|(_, hash)| hash)
        .ok_or_else(|| format!("the journal holds no block with sequence {seq}"))
}

/// The journal's last block: its last sequence and hash (the chain head),
/// zero for an empty journal.
pub(crate) fn last_block(log: &BlockLog) -> Result<(Seq, Hash), JournalDamage> {
    match log.last() {
        Ok(Some((_, v))) => {
            let b = codec::decode_block(&v).map_err(|e| JournalDamage::Storage(format!("last block: {e}")))?;
            Ok((b.last_seq(), b.hash))
        }
        Ok(None) => Ok((0, [0; 32])),
        Err(e) => Err(JournalDamage::Storage(e.to_string())),
    }
}

/// The last sequence in the journal, from its last block's header (0 if
/// empty). Not a check of the journal: a progress bar's total.
pub(crate) fn last_seq(log: &BlockLog) -> Result<Seq, JournalDamage> {
    match log.last() {
        Ok(Some((first_seq, v))) => {
            let count = codec::decode_checked_block(&v).map_or(1, |b| b.count);
            Ok(first_seq + u64::from(count).max(1) - 1)
        }
        Ok(None) => Ok(0),
        Err(e) => Err(JournalDamage::Storage(e.to_string())),
    }
}
