//! Reading the journal block by block, for audit exports: the header fields
//! and encoded records of every block, checked as [`crate::scan`] checks them
//! (block hash, payload checksum, key, gapless sequence, hash chain), without
//! decoding the records.

use crate::codec::{self, Block, Hash};
use crate::log::BlockLog;
use crate::scan::{block_entries, Entry, JournalDamage, JournalEnd};
use trove_engine::{Millis, Seq};

/// Visits, in order, every block from the one holding `from` (or the first
/// block, if `from` is before it) to the end of the journal, checking each
/// (and its link to the block before the first one visited) before handing it
/// out. The visitor stops the walk by returning `Ok(false)`; its errors are
/// passed through as `Err(Ok(e))`, damage as `Err(Err(d))`.
pub fn visit<E>(
    log: &BlockLog,
    from: Seq,
    mut visitor: impl FnMut(&Block<'_>) -> Result<bool, E>,
) -> Result<(), Result<E, JournalDamage>> {
    visit_raw(log, from, |_, block| visitor(block))
}

fn storage<T, E>(e: std::io::Error) -> Result<T, Result<E, JournalDamage>> {
    Err(Err(JournalDamage::Storage(format!("read {}: {e}", crate::log::FILE))))
}

/// [`visit`], also handing out the stored bytes the block was decoded from.
pub(crate) fn visit_raw<E>(
    log: &BlockLog,
    from: Seq,
    mut visitor: impl FnMut(&[u8], &Block<'_>) -> Result<bool, E>,
) -> Result<(), Result<E, JournalDamage>> {
    let start = log.position_at_or_before(from.max(1)).unwrap_or(0);
    let mut prev_hash: Hash = [0; 32];
    let mut expected: Seq = 1;
    if start > 0 {
        let (first_seq, v) = match log.get(start - 1) {
            Ok(Some(found)) => found,
            Ok(None) => return Ok(()),
            Err(e) => return storage(e),
        };
        let block = codec::decode_block(&v).map_err(|reason| Err(JournalDamage::CorruptBlock { first_seq, reason }))?;
        prev_hash = block.hash;
        expected = block.last_seq() + 1;
    }
    for index in start.. {
        let (key_seq, v) = match log.get(index) {
            Ok(Some(found)) => found,
            Ok(None) => break,
            Err(e) => return storage(e),
        };
        let block = codec::decode_block(&v).map_err(|reason| {
            Err(JournalDamage::CorruptBlock {
                first_seq: key_seq,
                reason,
            })
        })?;
        if block.first_seq != key_seq {
            return Err(Err(JournalDamage::CorruptBlock {
                first_seq: key_seq,
                reason: format!("stored under sequence {key_seq} but says {}", block.first_seq),
            }));
        }
        if block.first_seq != expected {
            return Err(Err(JournalDamage::Gap {
                expected,
                found: block.first_seq,
            }));
        }
        if block.prev_hash != prev_hash {
            return Err(Err(JournalDamage::BrokenChain {
                first_seq: block.first_seq,
            }));
        }
        if block.count == 0 {
            return Err(Err(JournalDamage::CorruptBlock {
                first_seq: key_seq,
                reason: "empty block".into(),
            }));
        }
        if !visitor(&v, &block).map_err(Ok)? {
            return Ok(());
        }
        prev_hash = block.hash;
        expected = block.last_seq() + 1;
    }
    Ok(())
}

/// The last sequence and hash of the checked block whose range holds `seq`
/// (`None` if no block does).
pub fn holding(log: &BlockLog, seq: Seq) -> Result<Option<(Seq, Hash)>, String> {
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
pub fn hash_at(log: &BlockLog, seq: Seq) -> Result<Hash, String> {
    if seq == 0 {
        return Ok([0; 32]);
    }
    holding(log, seq)?
        .map(|(_, hash)| hash)
        .ok_or_else(|| format!("the journal holds no block with sequence {seq}"))
}

/// The journal's last block: its last sequence and hash (the chain head),
/// zero for an empty journal.
pub fn last_block(log: &BlockLog) -> Result<crate::hwm::Mark, JournalDamage> {
    match log.last() {
        Ok(Some((_, v))) => {
            let b = codec::decode_block(&v).map_err(|e| JournalDamage::Storage(format!("last block: {e}")))?;
            Ok(crate::hwm::Mark {
                seq: b.last_seq(),
                hash: b.hash,
            })
        }
        Ok(None) => Ok(crate::hwm::Mark { seq: 0, hash: [0; 32] }),
        Err(e) => Err(JournalDamage::Storage(e.to_string())),
    }
}

/// The last sequence in the journal, from its last block's header (0 if
/// empty). Not a check of the journal: a progress bar's total.
pub fn last_seq(log: &BlockLog) -> Result<Seq, JournalDamage> {
    match log.last() {
        Ok(Some((first_seq, v))) => {
            let count = codec::decode_checked_block(&v).map_or(1, |b| b.count);
            Ok(first_seq + u64::from(count).max(1) - 1)
        }
        Ok(None) => Ok(0),
        Err(e) => Err(JournalDamage::Storage(e.to_string())),
    }
}

/// Visits every entry of the journal in order, as [`crate::scan::scan_entries`]
/// from the start does (same checks, same errors, entries before a damage
/// are visited), with reading and checking blocks (the log, checksums, chain) on
/// a second thread, a few blocks ahead of the visitor: a full replay then
/// costs about the larger of the two halves instead of their sum.
pub fn scan_pipelined<E>(
    log: &BlockLog,
    mut visit: impl FnMut(Seq, Millis, Entry<'_>) -> Result<(), E>,
) -> Result<JournalEnd, Result<E, JournalDamage>> {
    enum Item {
        Block(Seq, Vec<u8>),
        End(Result<JournalEnd, JournalDamage>),
    }
    let (tx, rx) = std::sync::mpsc::sync_channel::<Item>(64);
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let mut end = JournalEnd {
                last_seq: 0,
                last_hash: [0; 32],
                blocks: 0,
            };
            struct Gone;
            let walked = visit_raw(log, 1, |bytes, block| {
                tx.send(Item::Block(block.first_seq, bytes.to_vec()))
                    .map_err(|_| Gone)?;
                end = JournalEnd {
                    last_seq: block.last_seq(),
                    last_hash: block.hash,
                    blocks: end.blocks + 1,
                };
                Ok::<bool, Gone>(true)
            });
            let _ = match walked {
                Ok(()) => tx.send(Item::End(Ok(end))),
                Err(Err(damage)) => tx.send(Item::End(Err(damage))),
                Err(Ok(Gone)) => Ok(()),
            };
        });
        for item in rx {
            let (first_seq, bytes) = match item {
                Item::Block(first_seq, bytes) => (first_seq, bytes),
                Item::End(end) => return end.map_err(Err),
            };
            // Checked by the reader: only the fields are read here.
            let block = codec::decode_checked_block(&bytes)
                .map_err(|reason| Err(JournalDamage::CorruptBlock { first_seq, reason }))?;
            block_entries(&block, 0, false, &mut visit)?;
        }
        Err(Err(JournalDamage::Storage("journal reader stopped".into())))
    })
}
