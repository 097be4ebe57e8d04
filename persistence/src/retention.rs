//! Retention: compacting old telemetry out of the journal.
//!
//! Telemetry (`checkin`, `interaction`) is most of the journal by volume and
//! none of its audit value: it changes no score and decides no claim. The
//! seed kept it for 7 days (its tombstone retention). Claims, clue finds,
//! hunt definitions and stock changes are the audit trail and are kept
//! forever.
//!
//! Compaction rewrites one old block at a time, under its own key, into the
//! compacted layout of [`crate::codec`]: the original header (so the block's
//! hash, and with it the whole chain, is unchanged), the kept records with
//! their indices, the telemetry root (so the kept records still prove
//! `leaf_root`), and per (player, hunt) counts of what was removed (so a
//! replay from the journal alone still reaches the same state).
//!
//! A block is compacted only if all of these hold, and the walk stops at the
//! first block that is too new:
//!
//! 1. it was committed before the cutoff (now minus the retention age);
//! 2. it ends at or before `bound`, the oldest state that recovery may start
//!    from (the oldest valid snapshot; the caller may lower it for its own
//!    checkpoints). Recovery then never replays a compacted block: every
//!    snapshot already holds what its telemetry did;
//! 3. it holds telemetry, and no hunt definition (a replay applies the
//!    removed telemetry's counts at the start of the block, when every hunt
//!    they name must already exist);
//! 4. its leaves check out: damage is reported, never rewritten into a
//!    block that would then look intact.
//!
//! Each rewrite is one sled compare-and-swap of one key, checked before it
//! is written (the new value decodes, has the old hash and leaf root, and
//! keeps every kept record byte for byte); the whole run ends with one flush.
//! An interruption or crash leaves every block either as written or
//! compacted, both valid: run it again to finish.

use crate::codec::{self, ClassRoot, Hash};
use crate::scan::JournalDamage;
use crate::StoreError;
use std::collections::HashMap;
use std::time::Duration;
use trove_engine::{Millis, RecordView, Seq, TelemetryCount};

/// The seed's tombstone retention.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// Blocks rewritten between checks of the cancel flag and progress calls.
const PROGRESS_EVERY_BLOCKS: u64 = 64;

/// What a compaction run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactReport {
    /// Blocks committed before this time were eligible.
    pub cutoff: Millis,
    /// Blocks ending at or before this sequence were eligible.
    pub bound: Seq,
    /// Blocks looked at (from the start of the journal).
    pub blocks_examined: u64,
    pub blocks_compacted: u64,
    /// Blocks compacted by an earlier run.
    pub blocks_already_compacted: u64,
    /// Old enough blocks left alone because they hold a hunt definition.
    pub blocks_with_hunt_definitions: u64,
    pub records_removed: u64,
    /// Records kept in the blocks compacted by this run.
    pub records_kept: u64,
    /// Stored bytes of the blocks compacted by this run, before and after.
    pub bytes_before: u64,
    pub bytes_after: u64,
    /// Last sequence of the last block examined.
    pub reached_seq: Seq,
    /// Why the walk stopped before the end of the journal, if it did.
    pub stopped_by: Option<String>,
    pub interrupted: bool,
}

/// Compacts telemetry out of `tree`'s blocks that end at or before `bound`
/// and were committed before `cutoff`. `progress` gets the last sequence
/// examined now and then; `cancelled` is polled between groups of blocks.
pub fn compact(
    db: &sled::Db,
    tree: &sled::Tree,
    bound: Seq,
    cutoff: Millis,
    now: Millis,
    progress: &mut dyn FnMut(Seq),
    cancelled: &dyn Fn() -> bool,
) -> Result<CompactReport, StoreError> {
    let mut report = CompactReport {
        cutoff,
        bound,
        ..CompactReport::default()
    };
    let mut writes: Vec<(Seq, sled::IVec, Vec<u8>)> = Vec::new();
    let walked = crate::blocks::visit_raw(tree, 1, |stored, block| -> Result<bool, StoreError> {
        if block.committed_at >= cutoff {
            report.stopped_by = Some(format!(
                "block at sequence {} was committed after the cutoff",
                block.first_seq
            ));
            return Ok(false);
        }
        if block.last_seq() > bound {
            report.stopped_by = Some(format!(
                "block at sequence {} ends after {bound}, the oldest state recovery may start from",
                block.first_seq
            ));
            return Ok(false);
        }
        report.blocks_examined += 1;
        report.reached_seq = block.last_seq();
        if block.compacted.is_some() {
            report.blocks_already_compacted += 1;
        } else if let Some(value) = compacted_value(block, now, &mut report)? {
            writes.push((block.first_seq, stored.clone(), value));
        }
        if report.blocks_examined.is_multiple_of(PROGRESS_EVERY_BLOCKS) {
            write_all(tree, &mut writes)?;
            progress(block.last_seq());
            if cancelled() {
                report.interrupted = true;
                return Ok(false);
            }
        }
        Ok(true)
    });
    match walked {
        Ok(()) => {}
        Err(Ok(e)) => return Err(e),
        Err(Err(damage)) => return Err(StoreError::Damaged(damage)),
    }
    write_all(tree, &mut writes)?;
    db.flush()?;
    progress(report.reached_seq);
    Ok(report)
}

fn write_all(tree: &sled::Tree, writes: &mut Vec<(Seq, sled::IVec, Vec<u8>)>) -> Result<(), StoreError> {
    for (first_seq, old, new) in writes.drain(..) {
        let swapped = tree.compare_and_swap(codec::key_of(first_seq), Some(old), Some(new))?;
        if swapped.is_err() {
            // Nothing else rewrites old blocks; if one changed, stop rather than guess.
            return Err(StoreError::Damaged(JournalDamage::CorruptBlock {
                first_seq,
                reason: "the block changed while it was being compacted".into(),
            }));
        }
    }
    Ok(())
}

/// The compacted value of `block`, or `None` if it is to stay as it is.
fn compacted_value(
    block: &codec::Block<'_>,
    now: Millis,
    report: &mut CompactReport,
) -> Result<Option<Vec<u8>>, StoreError> {
    let damaged = |seq: Seq, reason: String| StoreError::Damaged(JournalDamage::CorruptRecord { seq, reason });
    block.check_leaves().map_err(|reason| {
        StoreError::Damaged(JournalDamage::CorruptBlock {
            first_seq: block.first_seq,
            reason,
        })
    })?;
    let mut kept = Vec::with_capacity(block.payload.len() / 4);
    let mut kept_count = 0u32;
    let mut removed = 0u64;
    let mut telemetry_root = ClassRoot::default();
    let mut counts: Vec<TelemetryCount> = Vec::new();
    let mut index_of: HashMap<(&str, &str), usize> = HashMap::new();
    for r in block.raw_records() {
        let r = r.map_err(|(seq, reason)| damaged(seq, reason))?;
        let view = codec::decode_view(r.body).map_err(|e| damaged(r.seq, e.to_string()))?;
        if view.is_telemetry() != r.telemetry {
            return Err(damaged(r.seq, "its class bit does not match its content".into()));
        }
        let index = (r.seq - block.first_seq) as u32;
        match view {
            RecordView::HuntDefined(_) => {
                report.blocks_with_hunt_definitions += 1;
                return Ok(None);
            }
            RecordView::Event(ev) if r.telemetry => {
                removed += 1;
                telemetry_root.add(index, &codec::leaf_hash(r.body));
                let i = *index_of.entry((ev.player, ev.hunt)).or_insert_with(|| {
                    counts.push(TelemetryCount {
                        player: ev.player.to_owned(),
                        hunt: ev.hunt.to_owned(),
                        first_seq: r.seq,
                        checkins: 0,
                        interactions: 0,
                    });
                    counts.len() - 1
                });
                match ev.kind {
                    trove_engine::EventKindView::Checkin { .. } => counts[i].checkins += 1,
                    _ => counts[i].interactions += 1,
                }
            }
            _ => {
                kept.extend_from_slice(&index.to_le_bytes());
                kept.extend_from_slice(&(r.body.len() as u32).to_le_bytes());
                kept.extend_from_slice(r.body);
                kept_count += 1;
            }
        }
    }
    if removed == 0 {
        return Ok(None);
    }
    let telemetry_root: Hash = telemetry_root.finish();
    let value = codec::encode_compacted(block, &telemetry_root, now, kept_count, &kept, &counts)
        .map_err(|e| damaged(block.first_seq, e.to_string()))?;
    // Check the rewrite before it replaces the only copy.
    {
        let check =
            codec::decode_block(&value).map_err(|e| damaged(block.first_seq, format!("compacted block: {e}")))?;
        assert_eq!(check.hash, block.hash, "compaction must keep the block hash");
        assert_eq!(check.held(), kept_count);
        assert_eq!(u64::from(kept_count) + removed, u64::from(block.count));
        check
            .check_leaves()
            .map_err(|e| damaged(block.first_seq, format!("compacted block: {e}")))?;
        let originals = block.bodies().filter_map(|r| r.ok());
        let mut retained = check.bodies().filter_map(|r| r.ok()).peekable();
        for (seq, body) in originals {
            if retained.peek().is_some_and(|(s, _)| *s == seq) {
                let (_, kept_body) = retained.next().expect("peeked");
                assert_eq!(kept_body, body, "kept record {seq} must be unchanged");
            }
        }
    }
    report.blocks_compacted += 1;
    report.records_removed += removed;
    report.records_kept += u64::from(kept_count);
    report.bytes_before += (codec::HEADER_LEN + block.payload.len()) as u64;
    report.bytes_after += value.len() as u64;
    Ok(Some(value))
}

/// The retention age as the CLI and config write it: `7d`, `36h`, `90m`,
/// `45s`, or a number of seconds.
pub fn parse_age(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (digits, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not an age like 7d, 36h, 90m or 45s"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (use d, h, m or s)")),
    };
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_parse_with_units() {
        assert_eq!(parse_age("7d").unwrap(), DEFAULT_RETENTION);
        assert_eq!(parse_age("36h").unwrap(), Duration::from_secs(36 * 3600));
        assert_eq!(parse_age("90m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_age("45").unwrap(), Duration::from_secs(45));
        assert_eq!(parse_age("0s").unwrap(), Duration::ZERO);
        for bad in ["", "d", "7w", "-1d", "7 d", "1.5h"] {
            assert!(parse_age(bad).is_err(), "{bad:?}");
        }
    }
}
