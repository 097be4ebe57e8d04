//! [`Archive`]: offline, read-mostly access to a stopped server's data
//! folder for the auditors' tools (export, report, verify, rebuild,
//! retention's compaction), and [`read_journal`], the offline read of every
//! record.

use crate::audit;
use crate::block::CheckedBlock;
use crate::durable;
use crate::error::{io, StoreError};
use crate::folder::{sync_volume, NEXT_JOURNAL_DIR};
use crate::hwm::Mark;
use crate::lock::DirLock;
use crate::log::{BlockLog, LogWriter};
use crate::lookup;
use crate::open::{open_audit, open_journal};
use crate::options::StoreOptions;
use crate::recovery::{read_snapshot, write_snapshot_of};
use crate::retention;
use crate::snapshot;
use crate::verify::{verify_log, VerifyReport};
use crate::walk::{self, replay, Entries, Entry, JournalEnd, WalkError};
use std::path::{Path, PathBuf};
use std::time::Instant;
use trove_engine::{Clock, Millis, Record, Seq, SystemClock, World};

/// Reads every record of a data folder's journal after `after`, offline.
pub fn read_journal(
    dir: &Path,
    after: Seq,
    mut visit: impl FnMut(Seq, Millis, Record),
) -> Result<JournalEnd, StoreError> {
    let _lock = DirLock::acquire(dir)?;
    let log = open_journal(dir)?;
    Entries::after(after)
        .records(&log, |s, t, r| {
            visit(s, t, r.to_record());
            Ok::<(), std::convert::Infallible>(())
        })
        .map_err(|e| StoreError::Damaged(e.damage()))
}

/// Offline, read-mostly access to a stopped server's data folder, for the
/// auditors' tools (export, report, verify, rebuild). Holds the folder's lock.
pub struct Archive {
    dir: PathBuf,
    log: BlockLog,
    /// The audit projection, opened when first asked for.
    audit: std::sync::OnceLock<(sled::Db, sled::Tree)>,
    _lock: DirLock,
}

/// What [`Archive::rebuild`] did.
#[derive(Debug, Clone)]
pub struct RebuildReport {
    /// Records replayed (removed telemetry included).
    pub records: u64,
    /// Players in the rebuilt state.
    pub players: usize,
    /// The rebuilt state's digest.
    pub digest: trove_engine::Digest,
    /// How long the replay took.
    pub replay_seconds: f64,
    /// The snapshot written.
    pub snapshot: PathBuf,
}

impl Archive {
    /// Locks `dir` and opens its journal (finishing an interrupted swap), syncing the volume first.
    pub fn open(dir: &Path) -> Result<Archive, StoreError> {
        let lock = DirLock::acquire(dir)?;
        let log = open_journal(dir)?;
        sync_volume(dir)?;
        snapshot::remove_stale_tmp(dir);
        Ok(Archive {
            dir: dir.to_path_buf(),
            log,
            audit: std::sync::OnceLock::new(),
            _lock: lock,
        })
    }

    /// The audit projection's database and tree, opened (and, if needed,
    /// rebuilt: [`open_audit`]) on first use.
    fn audit(&self) -> Result<&(sled::Db, sled::Tree), StoreError> {
        if let Some(opened) = self.audit.get() {
            return Ok(opened);
        }
        let opened = open_audit(&self.dir, &StoreOptions::default(), &self.log)?;
        Ok(self.audit.get_or_init(|| opened))
    }

    /// Brings the audit projection up to date (a no-op unless the server
    /// crashed between its writes, or the projection was deleted).
    pub fn catch_up(&self) -> Result<u64, StoreError> {
        let (db, tree) = self.audit()?;
        let n = audit::catch_up(&self.log, tree)?;
        if n > 0 {
            db.flush()?;
        }
        Ok(n)
    }

    /// Counts per hunt, product, outcome and event type over `[from, to)`
    /// (milliseconds, taken to whole seconds), after catching the projection up.
    pub fn report(&self, from: Millis, to: Millis) -> Result<audit::Rollup, StoreError> {
        self.catch_up()?;
        audit::report(&self.audit()?.1, from, to)
    }

    /// Where a reader of records committed from `at` on should start.
    pub fn first_seq_at(&self, at: Millis) -> Result<Option<Seq>, StoreError> {
        self.catch_up()?;
        Ok(audit::first_seq_at(&self.audit()?.1, at)?)
    }

    /// Visits every record after `after` as a borrowed view; the visitor
    /// stops the scan by returning `false`. Returns the journal's end, or
    /// `None` if the visitor stopped first.
    pub fn scan(
        &self,
        after: Seq,
        mut visit: impl FnMut(Seq, Millis, trove_engine::RecordView<'_>) -> bool,
    ) -> Result<Option<JournalEnd>, StoreError> {
        struct Stop;
        match Entries::after(after).records(&self.log, |s, t, r| if visit(s, t, r) { Ok(()) } else { Err(Stop) }) {
            Ok(end) => Ok(Some(end)),
            Err(WalkError::Visitor(Stop)) => Ok(None),
            Err(WalkError::Damage(d)) => Err(StoreError::Damaged(d)),
        }
    }

    /// Checks the whole folder: see [`crate::verify`].
    pub fn verify(&self) -> Result<VerifyReport, StoreError> {
        verify_log(&self.dir, &self.log, &mut |_| {})
    }

    /// [`Archive::verify`], calling `progress` with the replayed sequence now and then.
    pub fn verify_with_progress(&self, mut progress: impl FnMut(Seq)) -> Result<VerifyReport, StoreError> {
        verify_log(&self.dir, &self.log, &mut progress)
    }

    /// Checked journal blocks from the one holding `from` on, in order, for
    /// audit exports; the visitor stops the walk by returning `Ok(false)`.
    pub fn blocks<E>(
        &self,
        from: Seq,
        visit: impl FnMut(&CheckedBlock<'_>) -> Result<bool, E>,
    ) -> Result<(), WalkError<E>> {
        walk::checked_blocks(&self.log, from, visit)
    }

    /// The oldest sequence recovery may start from: the lowest of the valid
    /// snapshots' (0 without one). Retention compacts only up to here.
    pub fn oldest_snapshot_seq(&self) -> Result<Seq, StoreError> {
        let mut oldest: Option<Seq> = None;
        for (_, path) in snapshot::list(&self.dir).map_err(io("list snapshots"))? {
            if let Ok(world) = read_snapshot(&path, &self.log) {
                oldest = Some(oldest.map_or(world.last_seq, |o| o.min(world.last_seq)));
            }
        }
        Ok(oldest.unwrap_or(0))
    }

    /// Retention: copies the journal into `DATA/journal.next`, compacting
    /// the telemetry committed before `cutoff` out of the blocks that end at
    /// or before `bound` (see [`retention`]; the caller gives the bound,
    /// normally [`Archive::oldest_snapshot_seq`]), then swaps the copy in:
    ///
    /// 1. build `journal.next/blocks.log`, fdatasync it, syncfs its folder;
    /// 2. write `journal.next/COMPLETE`, fsync it and the folder;
    /// 3. rename `journal` to `journal.old`, `journal.next` to `journal`,
    ///    fsync the folder; delete `journal.old`.
    ///
    /// A crash before 2 leaves an incomplete `journal.next`, deleted at the
    /// next open; after 2, the next open finishes 3. Either way the folder
    /// holds one whole journal. Consumes the archive: its handles are closed
    /// before the swap. Nothing is swapped when nothing was
    /// compacted or the run was interrupted.
    pub fn compact(
        self,
        bound: Seq,
        cutoff: Millis,
        progress: &mut dyn FnMut(Seq),
        cancelled: &dyn Fn() -> bool,
    ) -> Result<retention::CompactReport, StoreError> {
        if !retention::has_work(&self.log, bound, cutoff)? {
            return Ok(retention::CompactReport {
                cutoff,
                bound,
                stopped_by: Some("no block is old enough, within the bound and still holding telemetry".into()),
                ..retention::CompactReport::default()
            });
        }
        let next = self.dir.join(NEXT_JOURNAL_DIR);
        if next.exists() {
            std::fs::remove_dir_all(&next).map_err(io(format!("remove {}", next.display())))?;
        }
        let built = (|| -> Result<retention::CompactReport, StoreError> {
            let mut writer = LogWriter::create(&next).map_err(io(format!("create {}", next.display())))?;
            let report = retention::compact_into(
                &self.log,
                &mut writer,
                bound,
                cutoff,
                SystemClock.now_ms(),
                progress,
                cancelled,
            )?;
            if !report.interrupted && report.blocks_compacted > 0 {
                // Everything under journal.next is durable before COMPLETE.
                writer.sync().map_err(io(format!("fdatasync {}", next.display())))?;
                durable::syncfs_dir(&next).map_err(io(format!("syncfs {}", next.display())))?;
            }
            Ok(report)
        })();
        let report = match built {
            Ok(report) => report,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&next);
                return Err(e);
            }
        };
        if report.interrupted || report.blocks_compacted == 0 {
            std::fs::remove_dir_all(&next).map_err(io(format!("remove {}", next.display())))?;
            return Ok(report);
        }
        let (seq, hash) = lookup::last_block(&self.log)?;
        let Archive { dir, log, audit, _lock } = self;
        drop((log, audit));
        // The original is deleted only once the journal now in place opens
        // and reads end to end, checked, to the same chain head.
        crate::swap::swap_in(&dir, Mark { seq, hash })?;
        drop(_lock);
        Ok(report)
    }

    /// The chain head: the last block's last sequence and hash, as lowercase
    /// hex (unchecked: `trove verify` checks the chain).
    pub fn chain_head(&self) -> Result<(Seq, String), StoreError> {
        let (seq, hash) = lookup::last_block(&self.log)?;
        Ok((seq, hash.iter().map(|b| format!("{b:02x}")).collect()))
    }

    /// The journal's last sequence, from its last block header (unchecked;
    /// for progress bars).
    pub fn last_seq(&self) -> Result<Seq, StoreError> {
        Ok(lookup::last_seq(&self.log)?)
    }

    /// Recreates snapshots and the audit projection from the journal alone:
    /// the recovery after an operator deleted derived data (the seed's DELETE).
    /// Existing snapshots are replaced only once the new one is written.
    pub fn rebuild(&self, mut progress: impl FnMut(Seq)) -> Result<RebuildReport, StoreError> {
        let started = Instant::now();
        let mut world = World::default();
        let mut n = 0u64;
        let end = Entries::after(0)
            .pipelined()
            .run(&self.log, |seq, _, entry| {
                let before = n;
                n += match &entry {
                    Entry::Record(_) => 1,
                    Entry::Removed { first } => seq - first + 1,
                    Entry::RemovedTelemetry { .. } => 0,
                };
                if n / 1_000_000 != before / 1_000_000 {
                    progress(seq);
                }
                replay(&mut world, seq, entry).map_err(StoreError::Replay)
            })
            .map_err(|e| e.flatten())?;
        let replay_seconds = started.elapsed().as_secs_f64();
        debug_assert_eq!(end.last_seq, world.last_seq);
        let old = snapshot::list(&self.dir).map_err(io("list snapshots"))?;
        let path = write_snapshot_of(&self.dir, &self.log, &world, usize::MAX)?;
        for (_, p) in old {
            if p != path {
                let _ = std::fs::remove_file(p);
            }
        }
        let (db, tree) = self.audit()?;
        audit::reset(tree)?;
        audit::catch_up(&self.log, tree)?;
        db.flush()?;
        sync_volume(&self.dir)?;
        Ok(RebuildReport {
            records: n,
            players: world.players.len(),
            digest: world.digest(),
            replay_seconds,
            snapshot: path,
        })
    }
}
