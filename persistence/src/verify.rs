//! `verify`: rebuilds all state from the full journal (every block's leaves
//! and every record's class checked too) and compares it with every
//! snapshot at its sequence, with the acknowledged mark, with the engine's
//! invariants, and with what recovery (snapshot + tail) gives. The result is
//! a [`VerifyReport`] of named [`Check`]s, in a fixed order.

use crate::error::{io, StoreError};
use crate::folder::sync_volume;
use crate::hwm;
use crate::lock::DirLock;
use crate::log::BlockLog;
use crate::open::open_journal;
use crate::recovery::{read_snapshot, recover};
use crate::snapshot;
use crate::walk::{replay, Entries, Entry, JournalEnd, WalkError};
use std::path::Path;
use std::time::Instant;
use trove_engine::{Seq, World};

/// One named check of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was checked, e.g. `journal readable`.
    pub name: String,
    /// Whether it passed.
    pub ok: bool,
    /// What was found.
    pub detail: String,
}

/// The result of [`verify`].
#[derive(Debug, Clone)]
pub struct VerifyReport {
    /// The journal's last sequence (as far as it could be read).
    pub journal_last_seq: Seq,
    /// Blocks read.
    pub journal_blocks: u64,
    /// Hash of the journal's last block (the chain head), if it could be read.
    pub journal_last_hash: Option<crate::chain::Hash>,
    /// Every check, in order.
    pub checks: Vec<Check>,
    /// State rebuilt from the full journal (if it could be read).
    pub replayed: Option<World>,
}

impl VerifyReport {
    /// Whether every check passed.
    pub fn ok(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }
}

/// Rebuilds all state from the full journal and compares it with the state
/// restored from snapshots + tail, and with every snapshot at its sequence.
///
/// Offline: takes the folder's lock, so it fails while a server runs on it.
pub fn verify(dir: &Path) -> Result<VerifyReport, StoreError> {
    let _lock = DirLock::acquire(dir)?;
    let log = open_journal(dir)?;
    sync_volume(dir)?;
    verify_log(dir, &log, &mut |_| {})
}

/// The checks gathered so far.
#[derive(Default)]
struct Checks(Vec<Check>);

impl Checks {
    fn check(&mut self, name: &str, ok: bool, detail: String) {
        self.0.push(Check {
            name: name.into(),
            ok,
            detail,
        });
    }
}

/// [`verify`] on an open journal, with `progress` called with the replayed
/// sequence now and then.
pub(crate) fn verify_log(
    dir: &Path,
    log: &BlockLog,
    progress: &mut dyn FnMut(Seq),
) -> Result<VerifyReport, StoreError> {
    let mut checks = Checks::default();
    let snapshots = snapshot_files(dir, log, &mut checks)?;
    let full = replay_all(log, &snapshots, progress);
    let end = full.report_read(log, &mut checks);
    if let Some(end) = &end {
        check_mark(dir, log, end, &mut checks);
    }
    for (seq, ok, diff) in &full.snapshot_results {
        checks.check(
            &format!("snapshot {seq} equals replay"),
            *ok,
            if *ok { "digests equal".into() } else { diff.join("; ") },
        );
    }
    for s in &snapshots[full.compared..] {
        checks.check(
            &format!("snapshot {} within journal", s.last_seq),
            false,
            format!("journal ends at {}", end.map_or(0, |e| e.last_seq)),
        );
    }
    let replay_ok = full.scanned.is_ok();
    if replay_ok {
        check_state(dir, log, &full.replayed, &mut checks);
    }
    Ok(VerifyReport {
        journal_last_seq: end.map_or(full.replayed.last_seq, |e| e.last_seq),
        journal_blocks: end.map_or(0, |e| e.blocks),
        journal_last_hash: end.map(|e| e.last_hash),
        checks: checks.0,
        replayed: replay_ok.then_some(full.replayed),
    })
}

/// Every snapshot file, checked on its own; the readable ones by sequence.
fn snapshot_files(dir: &Path, log: &BlockLog, checks: &mut Checks) -> Result<Vec<World>, StoreError> {
    let mut snapshots = Vec::new();
    for (seq, path) in snapshot::list(dir).map_err(io("list snapshots"))? {
        match read_snapshot(&path, log) {
            Ok(w) => snapshots.push(w),
            Err(e) => checks.check(
                &format!("snapshot {seq} readable"),
                false,
                format!("{}: {e}", path.display()),
            ),
        }
    }
    snapshots.sort_by_key(|w| w.last_seq);
    Ok(snapshots)
}

/// What the full replay found.
struct FullReplay {
    replayed: World,
    scanned: Result<JournalEnd, WalkError<trove_engine::ReplayError>>,
    /// (sequence, equal, differences) of each snapshot replay reached.
    snapshot_results: Vec<(Seq, bool, Vec<String>)>,
    /// How many of the sorted snapshots were compared.
    compared: usize,
    /// Telemetry records removed by retention.
    removed: u64,
    elapsed: std::time::Duration,
}

/// Full replay, comparing each snapshot when replay reaches its sequence.
fn replay_all(log: &BlockLog, snapshots: &[World], progress: &mut dyn FnMut(Seq)) -> FullReplay {
    let mut replayed = World::default();
    let mut pending = snapshots.iter().peekable();
    let mut snapshot_results = Vec::new();
    while let Some(s) = pending.peek() {
        if s.last_seq == 0 {
            snapshot_results.push((s.last_seq, replayed.digest() == s.digest(), replayed.diff(s, 5)));
            pending.next();
        } else {
            break;
        }
    }
    let started = Instant::now();
    let mut removed = 0u64;
    let scanned = Entries::after(0).check_leaves().run(log, |seq, _, entry| {
        if let Entry::Removed { first } = entry {
            removed += seq - first + 1;
        }
        let before = replayed.last_seq;
        replay(&mut replayed, seq, entry)?;
        if replayed.last_seq / 65_536 != before / 65_536 {
            progress(replayed.last_seq);
        }
        // A snapshot is compared where replay reaches its sequence. Removed
        // telemetry's counts come at the start of its block, and compaction
        // only reaches blocks that end at or before every snapshot, so state
        // is complete wherever `last_seq` lands.
        while let Some(s) = pending.peek() {
            if s.last_seq > replayed.last_seq {
                break;
            }
            let at = replayed.last_seq;
            if s.last_seq == at {
                snapshot_results.push((at, replayed.digest() == s.digest(), replayed.diff(s, 5)));
            } else {
                snapshot_results.push((
                    s.last_seq,
                    false,
                    vec![format!(
                        "the journal skips sequence {} (replay went from {before} to {at})",
                        s.last_seq
                    )],
                ));
            }
            pending.next();
        }
        Ok::<(), trove_engine::ReplayError>(())
    });
    let compared = snapshots.len() - pending.count();
    FullReplay {
        replayed,
        scanned,
        snapshot_results,
        compared,
        removed,
        elapsed: started.elapsed(),
    }
}

impl FullReplay {
    /// The `journal readable` (or `journal replays`) check; the journal's end if it read.
    fn report_read(&self, log: &BlockLog, checks: &mut Checks) -> Option<JournalEnd> {
        match &self.scanned {
            Ok(end) => {
                let rate = self.replayed.last_seq as f64 / self.elapsed.as_secs_f64().max(1e-9);
                let removed = self.removed;
                checks.check(
                    "journal readable",
                    true,
                    format!(
                        "{} records in {} blocks{}; checksums, leaf roots, hash chain and sequence intact; replayed at {:.0} records/s{}",
                        end.last_seq,
                        end.blocks,
                        if removed > 0 {
                            format!(" ({removed} telemetry records removed by retention, accounted for by their blocks' counts)")
                        } else {
                            String::new()
                        },
                        rate,
                        match log.torn() {
                            Some(torn) => format!("; after it, {torn}: a write cut short, never acknowledged (the next start cuts it)"),
                            None => String::new(),
                        }
                    ),
                );
                Some(*end)
            }
            Err(WalkError::Damage(damage)) => {
                checks.check("journal readable", false, damage.to_string());
                None
            }
            Err(WalkError::Visitor(replay)) => {
                checks.check("journal replays", false, replay.to_string());
                None
            }
        }
    }
}

/// The journal reaches the acknowledged high-water mark.
fn check_mark(dir: &Path, log: &BlockLog, end: &JournalEnd, checks: &mut Checks) {
    match hwm::read(dir) {
        Ok(Some(mark)) => match hwm::check(log, mark, end.last_seq) {
            Ok(()) => checks.check(
                "acknowledged records present",
                true,
                format!("journal reaches the acknowledged high-water mark {}", mark.seq),
            ),
            Err(e) => checks.check("acknowledged records present", false, e),
        },
        Ok(None) => checks.check(
            "acknowledged records present",
            true,
            "no high-water mark recorded yet".into(),
        ),
        Err(e) => checks.check(
            "acknowledged records present",
            false,
            format!("{e}: cannot tell whether acknowledged records are missing"),
        ),
    }
}

/// The replayed state's invariants, and recovery's state equal to it.
fn check_state(dir: &Path, log: &BlockLog, replayed: &World, checks: &mut Checks) {
    match replayed.check_invariants() {
        Ok(()) => checks.check(
            "invariants",
            true,
            "stock ledgers balance; grants match; limits held".into(),
        ),
        Err(e) => checks.check("invariants", false, e),
    }
    // The recovery path: newest valid snapshot + tail must equal the full replay.
    match recover(dir, log) {
        Ok((restored, _, report)) => {
            let same = restored.digest() == replayed.digest();
            let (a, b) = (replayed.summary(), restored.summary());
            checks.check(
                "snapshot+tail equals full replay",
                same,
                if same {
                    format!(
                        "digest {}; {} players, {} claims, from snapshot {:?} + {} records",
                        replayed.digest(),
                        a.players,
                        a.claims,
                        report.snapshot_seq,
                        report.tail_records
                    )
                } else {
                    replayed.diff(&restored, 10).join("; ")
                },
            );
            debug_assert!(!same || a == b);
        }
        Err(e) => checks.check("snapshot+tail equals full replay", false, e.to_string()),
    }
}
