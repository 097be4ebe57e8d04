//! Recovery: the newest snapshot that passes its checks and belongs to this
//! journal, then the journal tail replayed on it, then the acknowledged
//! mark checked. Also writes snapshots tied to the journal block they were
//! taken after.

use crate::error::{io, StoreError};
use crate::hwm;
use crate::log::BlockLog;
use crate::lookup;
use crate::snapshot;
use crate::walk::{replay, Entries, JournalEnd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use trove_engine::{Seq, World};

/// What recovery did.
#[derive(Debug, Clone)]
pub struct RecoveryReport {
    /// Sequence of the snapshot recovery started from, if any.
    pub snapshot_seq: Option<Seq>,
    /// Snapshots that failed their checks and were skipped, with the reason.
    pub skipped_snapshots: Vec<(PathBuf, String)>,
    /// Records replayed after the snapshot.
    pub tail_records: u64,
    /// The last sequence of the journal (and of the recovered state).
    pub last_seq: Seq,
    /// Players in the recovered state.
    pub players: usize,
    /// How long recovery took.
    pub elapsed: Duration,
}

/// Snapshot files that failed their checks, with the reason.
type Skipped = Vec<(PathBuf, String)>;

/// Reads a snapshot and checks that it belongs to this journal: the block
/// holding its sequence must have the hash it recorded.
pub(crate) fn read_snapshot(path: &Path, log: &BlockLog) -> Result<World, String> {
    let snap = snapshot::read(path)?;
    let seq = snap.world.last_seq;
    if lookup::last_seq(log).is_ok_and(|last| last < seq) {
        // The journal lost records the snapshot saw: recovery reports that
        // as `SnapshotAhead` rather than quietly using an older snapshot.
        return Ok(snap.world);
    }
    match lookup::hash_at(log, seq) {
        Ok(hash) if hash == snap.block_hash => Ok(snap.world),
        Ok(_) => Err(format!(
            "the journal's block holding sequence {seq} is not the one this snapshot was taken after: \
             it belongs to another journal history"
        )),
        Err(e) => Err(format!("cannot be tied to the journal: {e}")),
    }
}

/// Loads the newest snapshot that passes its checks, reporting the others.
pub(crate) fn newest_snapshot(dir: &Path, log: &BlockLog) -> Result<(Option<World>, Skipped), StoreError> {
    let mut skipped = Vec::new();
    for (_, path) in snapshot::list(dir).map_err(io("list snapshots"))? {
        match read_snapshot(&path, log) {
            Ok(world) => return Ok((Some(world), skipped)),
            Err(reason) => {
                tracing::warn!(path = %path.display(), %reason, "skipping damaged snapshot");
                skipped.push((path, reason));
            }
        }
    }
    Ok((None, skipped))
}

/// Recovery: newest valid snapshot, then the journal tail.
pub(crate) fn recover(dir: &Path, log: &BlockLog) -> Result<(World, JournalEnd, RecoveryReport), StoreError> {
    let started = Instant::now();
    let (snap, skipped) = newest_snapshot(dir, log)?;
    let snapshot_seq = snap.as_ref().map(|w| w.last_seq);
    let mut world = snap.unwrap_or_default();
    let from = world.last_seq;
    let mut tail = 0u64;
    let end = Entries::after(from)
        .run(log, |seq, _, entry| {
            tail += 1;
            replay(&mut world, seq, entry).map_err(StoreError::Replay)
        })
        .map_err(|e| e.flatten())?;
    if end.last_seq < from {
        return Err(StoreError::SnapshotAhead {
            snapshot_seq: from,
            journal_last: end.last_seq,
        });
    }
    match hwm::read(dir) {
        Ok(Some(mark)) => hwm::check(log, mark, end.last_seq).map_err(|e| match log.torn() {
            Some(torn) => StoreError::AcknowledgedLost(format!("{e}; {torn}")),
            None => StoreError::AcknowledgedLost(e),
        })?,
        Ok(None) => {}
        // Ignoring a damaged mark would switch off the check it exists for.
        Err(reason) => {
            return Err(StoreError::MarkDamaged {
                path: dir.join(hwm::FILE),
                reason,
            })
        }
    }
    let report = RecoveryReport {
        snapshot_seq,
        skipped_snapshots: skipped,
        tail_records: tail,
        last_seq: end.last_seq,
        players: world.players.len(),
        elapsed: started.elapsed(),
    };
    Ok((world, end, report))
}

/// Writes a snapshot of `world`, tied to the block of `log` holding its sequence.
pub(crate) fn write_snapshot_of(dir: &Path, log: &BlockLog, world: &World, keep: usize) -> Result<PathBuf, StoreError> {
    let hash = lookup::hash_at(log, world.last_seq).map_err(StoreError::Snapshot)?;
    snapshot::write(dir, world, &hash, keep).map_err(StoreError::Snapshot)
}
