//! Retention: compacting old telemetry out of the journal.
//!
//! Telemetry (`checkin`, `interaction`) is most of the journal by volume and
//! none of its audit value: it changes no score and decides no claim. The
//! seed kept it for 7 days (its tombstone retention). Claims, clue finds,
//! hunt definitions and stock changes are the audit trail and are kept
//! forever.
//!
//! Compaction copies the journal into a new block log, block by block,
//! writing each eligible block in the compacted layout of `codec` (`docs/DURABILITY.md`):
//! the original header (so the block's hash, and with it the whole chain, is
//! unchanged), the kept records with their indices, the telemetry root (so
//! the kept records still prove `leaf_root`), the removed telemetry per hunt
//! (for the audit rollups), and, in the first block of each *run* of up to
//! [`RUN_BLOCKS`] compacted blocks, the removed telemetry per player and hunt
//! over the whole run (so a replay from the journal alone still reaches the
//! same state). [`crate::Archive::compact`] then swaps the new log in.
//!
//! Why a copy and not a rewrite in place: the block log is append-only (a
//! power cut in the middle of an in-place rewrite would leave a block that
//! is neither), and a fresh log holds only what is live.
//!
//! A block is compacted only if all of these hold; the first block that is
//! too new or past the bound ends compaction (the rest is copied as is):
//!
//! 1. it was committed before the cutoff (now minus the retention age);
//! 2. it ends at or before `bound`, the oldest state that recovery may start
//!    from (the oldest valid snapshot; the caller may lower it for its own
//!    checkpoints). Recovery then never replays a compacted block: every
//!    snapshot already holds what its telemetry did;
//! 3. it holds telemetry, and no hunt definition (a replay applies a run's
//!    per-player counts at the start of the run, when every hunt they name
//!    must already exist, so a hunt definition also ends a run);
//! 4. its leaves check out: damage is reported, never rewritten into a
//!    block that would then look intact.
//!
//! Every compacted value is checked before it is written (it decodes, has the
//! old hash and leaf root, and keeps every kept record byte for byte).

use crate::codec::{self, ClassRoot, Hash, Header};
use crate::error::{io, JournalDamage, StoreError};
use crate::log::{BlockLog, LogWriter};
use crate::walk::{self, WalkError};
use std::collections::HashMap;
use std::time::Duration;
use trove_engine::{EventKindView, HuntTelemetry, Millis, RecordView, Seq, TelemetryCount};

/// The seed's tombstone retention.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// Compacted blocks per run: the per-player counts of a run live in its first
/// block. Longer runs make the counts smaller (one entry per player and hunt
/// per run instead of per block); 1024 blocks of 256 KiB is ~256 MiB of
/// journal per entry.
pub const RUN_BLOCKS: u32 = 1024;

/// Bytes of the blocks after a run's first one held in memory until the run
/// closes (the first block, which carries the run's counts, is written only
/// then, and the log is written in order): a run closes when it reaches this.
const RUN_HELD_BYTES: usize = 64 << 20;

/// Blocks between progress calls and checks of the cancel flag.
const PROGRESS_EVERY_BLOCKS: u64 = 64;

/// Bytes of frames gathered before one append to the new log: bounds
/// compaction's memory.
const BATCH_BYTES: usize = 32 << 20;

/// What a compaction run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactReport {
    /// Blocks committed before this time were eligible.
    pub cutoff: Millis,
    /// Blocks ending at or before this sequence were eligible.
    pub bound: Seq,
    /// Blocks copied (all of the journal).
    pub blocks: u64,
    /// Blocks compacted by this run.
    pub blocks_compacted: u64,
    /// Blocks compacted by an earlier run.
    pub blocks_already_compacted: u64,
    /// Old enough blocks left whole because they hold a hunt definition.
    pub blocks_with_hunt_definitions: u64,
    /// Runs of compacted blocks (each carries its per-player counts once).
    pub runs: u64,
    /// Telemetry records removed by this run.
    pub records_removed: u64,
    /// Records kept in the blocks compacted by this run.
    pub records_kept: u64,
    /// Stored bytes of the blocks compacted by this run, before and after.
    pub bytes_before: u64,
    /// See `bytes_before`.
    pub bytes_after: u64,
    /// Last sequence of the last block compaction could reach.
    pub reached_seq: Seq,
    /// Why compaction stopped before the end of the journal, if it did.
    pub stopped_by: Option<String>,
    /// The run was cancelled: nothing was swapped in.
    pub interrupted: bool,
}

impl CompactReport {
    /// Whether compaction still reaches `block` (committed before the
    /// cutoff, ending within the bound); the first block it does not reach
    /// sets `stopped_by`, for good.
    fn note_reach(&mut self, block: &codec::Block<'_>) {
        if self.stopped_by.is_some() {
            return;
        }
        if block.committed_at >= self.cutoff {
            self.stopped_by = Some(format!(
                "block at sequence {} was committed after the cutoff",
                block.first_seq
            ));
        } else if block.last_seq() > self.bound {
            self.stopped_by = Some(format!(
                "block at sequence {} ends after {}, the oldest state recovery may start from",
                block.first_seq, self.bound
            ));
        } else {
            self.reached_seq = block.last_seq();
        }
    }
}

/// A run's first block, written when the run closes (it carries the run's
/// per-player counts).
struct RunStart {
    header: Header,
    kept_count: u32,
    kept: Vec<u8>,
    telemetry_root: Hash,
    hunts: Vec<HuntTelemetry>,
    blocks: u32,
    players: Vec<TelemetryCount>,
    /// hunt -> player -> index in `players` (looked up by `&str`, so only a
    /// new entry allocates).
    index: HashMap<String, HashMap<String, usize>>,
}

/// One block's compaction, before it is encoded.
struct Compacted<'a> {
    kept_count: u32,
    kept: Vec<u8>,
    removed: u64,
    telemetry_root: Hash,
    hunts: Vec<HuntTelemetry>,
    /// (player, hunt, seq, checkin?) of each removed record, in order.
    events: Vec<(&'a str, &'a str, Seq, bool)>,
}

/// Whether any block of `src` is eligible: old enough, within the bound, not
/// compacted yet, holding telemetry. Reads blocks up to the first that is
/// too new, writes nothing: the copy is skipped when there is nothing to do.
/// (A block whose telemetry sits next to a hunt definition counts as work
/// here and is then left whole; the copy finds nothing and is discarded.)
pub(crate) fn has_work(src: &BlockLog, bound: Seq, cutoff: Millis) -> Result<bool, StoreError> {
    let mut found = false;
    let walked = walk::blocks(src, 1, |_, block| -> Result<bool, StoreError> {
        if block.committed_at >= cutoff || block.last_seq() > bound {
            return Ok(false);
        }
        found = block.compacted.is_none() && block.raw_records().any(|r| r.is_ok_and(|r| r.telemetry));
        Ok(!found)
    });
    walked.map_err(WalkError::flatten)?;
    Ok(found)
}

/// Copies every block of `src` into `dst` (a new, empty log), compacting the
/// telemetry of blocks that end at or before `bound` and were committed
/// before `cutoff`. `progress` gets the last sequence copied now and then;
/// `cancelled` is polled between groups of blocks (then `interrupted` is set
/// and `dst` is incomplete: discard it).
pub(crate) fn compact_into(
    src: &BlockLog,
    dst: &mut LogWriter,
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
    let mut out = Output {
        dst,
        frames: Vec::new(),
        blocks: Vec::new(),
        held: None,
    };
    let mut run: Option<RunStart> = None;
    let walked = walk::blocks(src, 1, |stored, block| -> Result<bool, StoreError> {
        report.blocks += 1;
        report.note_reach(block);
        let compacted = if report.stopped_by.is_some() {
            None
        } else if block.compacted.is_some() {
            report.blocks_already_compacted += 1;
            None
        } else {
            match compact_block(block)? {
                Outcome::Compacted(c) => Some(c),
                Outcome::HuntDefinition => {
                    report.blocks_with_hunt_definitions += 1;
                    close_run(&mut run, now, &mut out, &mut report)?;
                    None
                }
                Outcome::NoTelemetry => None,
            }
        };
        match compacted {
            None => {
                if report.stopped_by.is_some() || block.compacted.is_some() || out.held_bytes() >= RUN_HELD_BYTES {
                    close_run(&mut run, now, &mut out, &mut report)?;
                }
                out.put(block.first_seq, stored)?;
            }
            Some(c) => {
                report.blocks_compacted += 1;
                report.records_removed += c.removed;
                report.records_kept += u64::from(c.kept_count);
                report.bytes_before += stored.len() as u64;
                if run.as_ref().is_some_and(|r| r.blocks >= RUN_BLOCKS) || out.held_bytes() >= RUN_HELD_BYTES {
                    close_run(&mut run, now, &mut out, &mut report)?;
                }
                match &mut run {
                    Some(r) => {
                        r.blocks += 1;
                        add_players(r, &c.events);
                        let removed = codec::Removed {
                            telemetry_root: c.telemetry_root,
                            compacted_at: now,
                            hunts: &c.hunts,
                            players: &[],
                        };
                        let value = encode_checked(block, c.kept_count, &c.kept, &removed)?;
                        report.bytes_after += value.len() as u64;
                        out.put(block.first_seq, &value)?;
                    }
                    None => {
                        let mut r = RunStart {
                            header: block.header(),
                            kept_count: c.kept_count,
                            kept: c.kept,
                            telemetry_root: c.telemetry_root,
                            hunts: c.hunts,
                            blocks: 1,
                            players: Vec::new(),
                            index: HashMap::new(),
                        };
                        add_players(&mut r, &c.events);
                        out.hold();
                        run = Some(r);
                    }
                }
            }
        }
        if report.blocks.is_multiple_of(PROGRESS_EVERY_BLOCKS) {
            progress(block.last_seq());
            if cancelled() {
                report.interrupted = true;
                return Ok(false);
            }
        }
        Ok(true)
    });
    walked.map_err(WalkError::flatten)?;
    if !report.interrupted {
        close_run(&mut run, now, &mut out, &mut report)?;
        out.flush()?;
    }
    Ok(report)
}

/// Frames and, per frame, its first sequence and record count.
type Frames = (Vec<u8>, Vec<(Seq, u32)>);

/// Batched appends to the new log, in sequence order.
struct Output<'a> {
    dst: &'a mut LogWriter,
    frames: Vec<u8>,
    blocks: Vec<(Seq, u32)>,
    /// While a run is open: the frames after its first block, which is
    /// written when the run closes ([`Output::put_run_start`]).
    held: Option<Frames>,
}

impl Output<'_> {
    fn put(&mut self, first_seq: Seq, value: &[u8]) -> Result<(), StoreError> {
        let count = codec::decode_checked_block(value)
            .map_err(|reason| StoreError::Damaged(JournalDamage::CorruptBlock { first_seq, reason }))?
            .count;
        let (frames, blocks) = match &mut self.held {
            Some((frames, blocks)) => (frames, blocks),
            None => (&mut self.frames, &mut self.blocks),
        };
        crate::log::frame(first_seq, count, value, frames);
        blocks.push((first_seq, count));
        if self.held.is_none() && self.frames.len() >= BATCH_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    /// A run opens: what is put from now on waits for its first block.
    fn hold(&mut self) {
        debug_assert!(self.held.is_none(), "one run at a time");
        self.held = Some((Vec::new(), Vec::new()));
    }

    fn held_bytes(&self) -> usize {
        self.held.as_ref().map_or(0, |(frames, _)| frames.len())
    }

    /// A run closes: its first block, then what was held behind it.
    fn put_run_start(&mut self, first_seq: Seq, value: &[u8]) -> Result<(), StoreError> {
        let (frames, blocks) = self.held.take().expect("a run is open");
        debug_assert!(
            blocks.first().is_none_or(|b| b.0 > first_seq),
            "held blocks follow the run's first"
        );
        self.put(first_seq, value)?;
        self.frames.extend_from_slice(&frames);
        self.blocks.extend_from_slice(&blocks);
        if self.frames.len() >= BATCH_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        debug_assert!(self.held.is_none(), "no run is open");
        self.dst
            .append(&self.frames, &self.blocks)
            .map_err(io("write the compacted journal"))?;
        self.frames.clear();
        self.blocks.clear();
        Ok(())
    }
}

fn add_players(run: &mut RunStart, events: &[(&str, &str, Seq, bool)]) {
    for &(player, hunt, seq, checkin) in events {
        if !run.index.contains_key(hunt) {
            run.index.insert(hunt.to_owned(), HashMap::new());
        }
        let by_player = run.index.get_mut(hunt).expect("inserted above");
        let i = match by_player.get(player) {
            Some(&i) => i,
            None => {
                run.players.push(TelemetryCount {
                    player: player.to_owned(),
                    hunt: hunt.to_owned(),
                    first_seq: seq,
                    checkins: 0,
                    interactions: 0,
                });
                by_player.insert(player.to_owned(), run.players.len() - 1);
                run.players.len() - 1
            }
        };
        if checkin {
            run.players[i].checkins += 1;
        } else {
            run.players[i].interactions += 1;
        }
    }
}

/// Writes the open run's first block, with the run's per-player counts.
fn close_run(
    run: &mut Option<RunStart>,
    now: Millis,
    out: &mut Output<'_>,
    report: &mut CompactReport,
) -> Result<(), StoreError> {
    let Some(r) = run.take() else {
        return Ok(());
    };
    let removed = codec::Removed {
        telemetry_root: r.telemetry_root,
        compacted_at: now,
        hunts: &r.hunts,
        players: &r.players,
    };
    let value = codec::encode_compacted(&r.header, r.kept_count, &r.kept, &removed)
        .map_err(|e| damaged(r.header.first_seq, e.to_string()))?;
    check_compacted(&value, &r.header.hash(), r.kept_count)?;
    report.bytes_after += value.len() as u64;
    report.runs += 1;
    out.put_run_start(r.header.first_seq, &value)
}

fn damaged(seq: Seq, reason: String) -> StoreError {
    StoreError::Damaged(JournalDamage::CorruptRecord { seq, reason })
}

enum Outcome<'a> {
    Compacted(Compacted<'a>),
    HuntDefinition,
    NoTelemetry,
}

/// Splits one checked block into what it keeps and what it removes.
fn compact_block<'a>(block: &codec::Block<'a>) -> Result<Outcome<'a>, StoreError> {
    block.check_leaves().map_err(|reason| {
        StoreError::Damaged(JournalDamage::CorruptBlock {
            first_seq: block.first_seq,
            reason,
        })
    })?;
    let mut c = Compacted {
        kept_count: 0,
        kept: Vec::with_capacity(block.payload.len() / 3),
        removed: 0,
        telemetry_root: [0; 32],
        hunts: Vec::new(),
        events: Vec::new(),
    };
    let mut telemetry_root = ClassRoot::default();
    for r in block.raw_records() {
        let r = r.map_err(|(seq, reason)| damaged(seq, reason))?;
        let view = codec::decode_view(r.body).map_err(|e| damaged(r.seq, e.to_string()))?;
        if view.is_telemetry() != r.telemetry {
            return Err(damaged(r.seq, "its class bit does not match its content".into()));
        }
        let index = (r.seq - block.first_seq) as u32;
        match view {
            RecordView::HuntDefined(_) => return Ok(Outcome::HuntDefinition),
            RecordView::Event(ev) if r.telemetry => {
                c.removed += 1;
                telemetry_root.add(index, &codec::leaf_hash(r.body));
                let checkin = matches!(ev.kind, EventKindView::Checkin { .. });
                let h = match c.hunts.iter().position(|h| h.hunt == ev.hunt) {
                    Some(i) => &mut c.hunts[i],
                    None => {
                        c.hunts.push(HuntTelemetry {
                            hunt: ev.hunt.to_owned(),
                            checkins: 0,
                            interactions: 0,
                        });
                        c.hunts.last_mut().expect("pushed")
                    }
                };
                if checkin {
                    h.checkins += 1;
                } else {
                    h.interactions += 1;
                }
                c.events.push((ev.player, ev.hunt, r.seq, checkin));
            }
            _ => {
                c.kept.extend_from_slice(&index.to_le_bytes());
                c.kept.extend_from_slice(&(r.body.len() as u32).to_le_bytes());
                c.kept.extend_from_slice(r.body);
                c.kept_count += 1;
            }
        }
    }
    if c.removed == 0 {
        return Ok(Outcome::NoTelemetry);
    }
    assert_eq!(u64::from(c.kept_count) + c.removed, u64::from(block.count));
    c.telemetry_root = telemetry_root.finish();
    Ok(Outcome::Compacted(c))
}

/// Encodes a compacted block and checks it against the original.
fn encode_checked(
    block: &codec::Block<'_>,
    kept_count: u32,
    kept: &[u8],
    removed: &codec::Removed<'_>,
) -> Result<Vec<u8>, StoreError> {
    let value = codec::encode_compacted(&block.header(), kept_count, kept, removed)
        .map_err(|e| damaged(block.first_seq, e.to_string()))?;
    check_compacted(&value, &block.hash, kept_count)?;
    {
        let check = codec::decode_block(&value).map_err(|e| damaged(block.first_seq, e))?;
        let mut retained = check.bodies().filter_map(|r| r.ok()).peekable();
        for (seq, body) in block.bodies().filter_map(|r| r.ok()) {
            if retained.peek().is_some_and(|(s, _)| *s == seq) {
                let (_, kept_body) = retained.next().expect("peeked");
                assert_eq!(kept_body, body, "kept record {seq} must be unchanged");
            }
        }
        assert!(retained.next().is_none(), "every kept record is one of the block's");
    }
    Ok(value)
}

/// A compacted value must decode, keep the block hash and give its leaf root.
fn check_compacted(value: &[u8], hash: &Hash, kept_count: u32) -> Result<(), StoreError> {
    let check = codec::decode_block(value).map_err(|e| damaged(0, format!("compacted block: {e}")))?;
    assert_eq!(&check.hash, hash, "compaction must keep the block hash");
    assert_eq!(check.held(), kept_count);
    check
        .check_leaves()
        .map_err(|e| damaged(check.first_seq, format!("compacted block: {e}")))
}

/// The retention age as the CLI and config write it: a number of seconds, or
/// a `humantime` duration such as `7d`, `36h`, `90m`, `45s` or `1d 12h`. Too
/// large an age is an error, never an overflow.
pub fn parse_age(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse()
            .map(Duration::from_secs)
            .map_err(|_| format!("{s:?} is too large an age"));
    }
    humantime::parse_duration(s).map_err(|e| format!("{s:?} is not an age like 7d, 36h, 90m or 45s: {e}"))
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
        assert_eq!(parse_age("1d 12h").unwrap(), Duration::from_secs(36 * 3600));
        assert_eq!(parse_age("1.5h").unwrap(), Duration::from_secs(5400));
        for bad in ["", "d", "7x", "-1d", "99999999999999999999", "99999999999999999999d"] {
            assert!(parse_age(bad).is_err(), "{bad:?}");
        }
    }
}
