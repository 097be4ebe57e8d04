//! [`Store`]: an open data folder with its running journal writer, and what
//! the server reads from it while it runs ([`Item`]s after a sequence,
//! checked blocks for exports, live audit reports, snapshots).

use crate::audit;
use crate::block::CheckedBlock;
use crate::chain::Hash;
use crate::durable;
use crate::error::{io, StoreError};
use crate::folder::sync_volume;
use crate::hwm;
use crate::journal::{self, DurabilityMode, FileJournal};
use crate::lock::DirLock;
use crate::log::{BlockLog, LogWriter};
use crate::lookup;
use crate::open::{open_audit, open_journal};
use crate::options::StoreOptions;
use crate::recovery::{recover, write_snapshot_of, RecoveryReport};
use crate::snapshot;
use crate::walk::{self, Entries, Entry, WalkError};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use trove_engine::{Engine, EngineConfig, Journal, Millis, Record, ReplayError, Seq, World};

/// One journal entry, owned: what [`Store::read_after`] hands out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// The record at this sequence.
    Record(Record),
    /// Records `first..=seq` were telemetry that retention removed.
    Removed {
        /// The first removed sequence of the range.
        first: Seq,
    },
    /// What the telemetry removed from the block starting at this sequence
    /// did (see `Entry::RemovedTelemetry`).
    RemovedTelemetry {
        /// Removed per hunt, this block.
        hunts: Vec<trove_engine::HuntTelemetry>,
        /// Removed per player and hunt, over the run of compacted blocks this one starts.
        players: Vec<trove_engine::TelemetryCount>,
    },
}

impl Item {
    fn from_entry(entry: Entry<'_>) -> Item {
        match entry {
            Entry::Record(r) => Item::Record(r.to_record()),
            Entry::Removed { first } => Item::Removed { first },
            Entry::RemovedTelemetry { hunts, players } => Item::RemovedTelemetry {
                hunts: hunts.to_vec(),
                players: players.to_vec(),
            },
        }
    }

    /// The same entry, borrowed.
    pub(crate) fn as_entry(&self) -> Entry<'_> {
        match self {
            Item::Record(r) => Entry::Record(r.view()),
            Item::Removed { first } => Entry::Removed { first: *first },
            Item::RemovedTelemetry { hunts, players } => Entry::RemovedTelemetry { hunts, players },
        }
    }

    /// Applies this entry at `seq` to a replayed state (what a replay of the journal does with it).
    pub fn replay(&self, world: &mut World, seq: Seq) -> Result<(), ReplayError> {
        walk::replay(world, seq, self.as_entry())
    }
}

/// An open data folder: the lock, the journal and its running writer, the
/// audit projection.
pub struct Store {
    dir: PathBuf,
    /// For readers (feeds, exports) while the writer appends.
    log: BlockLog,
    audit: sled::Tree,
    journal: Arc<FileJournal>,
    options: StoreOptions,
    _lock: DirLock,
}

impl Store {
    /// Locks `dir`, recovers its state, and starts the journal writer.
    pub fn open(dir: &Path, options: StoreOptions) -> Result<(Store, World, RecoveryReport), StoreError> {
        let lock = DirLock::acquire(dir)?;
        let log = open_journal(dir)?;
        snapshot::remove_stale_tmp(dir);
        let (world, end, report) = recover(dir, &log)?;
        let (db, audit_tree) = open_audit(dir, &options, &log)?;
        let caught_up = audit::catch_up(&log, &audit_tree)?;
        if caught_up > 0 {
            tracing::info!(records = caught_up, "audit projection caught up with the journal");
        }
        db.flush()?;
        // Cuts an unacknowledged torn tail off the file, if any.
        let writer = LogWriter::open(&log).map_err(io(format!("open {} for writing", log.path().display())))?;
        // What recovery read may still be only in the page cache of a process
        // that died before its sync: make it durable before anything is
        // served, and move the mark to it.
        sync_volume(dir)?;
        let synced = hwm::read(dir)
            .ok()
            .flatten()
            .unwrap_or(hwm::Mark { seq: 0, hash: [0; 32] });
        let mut syncer = durable::Syncer::open(dir, synced).map_err(io(format!("open {}", hwm::FILE)))?;
        syncer
            .sync(
                &writer,
                hwm::Mark {
                    seq: end.last_seq,
                    hash: end.last_hash,
                },
            )
            .map_err(|e| StoreError::Io {
                context: "sync the data folder at open".into(),
                source: std::io::Error::other(e),
            })?;
        let journal = FileJournal::start(journal::WriterStart {
            syncer,
            log: writer,
            db,
            audit: audit_tree.clone(),
            mode: options.durability,
            block_target_bytes: options.block_target_bytes,
            commit_interval: options.commit_interval,
            write_gate: options.write_gate.clone(),
            clock: options.clock.clone(),
        })
        .map_err(io("start the journal writer"))?;
        tracing::info!(
            last_seq = report.last_seq,
            snapshot = ?report.snapshot_seq,
            tail = report.tail_records,
            players = report.players,
            ms = report.elapsed.as_millis() as u64,
            "recovered"
        );
        Ok((
            Store {
                dir: dir.to_path_buf(),
                log,
                audit: audit_tree,
                journal: Arc::new(journal),
                options,
                _lock: lock,
            },
            world,
            report,
        ))
    }

    /// The journal the engine appends to.
    pub fn journal(&self) -> Arc<FileJournal> {
        self.journal.clone()
    }

    /// The data folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The durability mode the journal runs in.
    pub fn durability(&self) -> DurabilityMode {
        self.journal.shared().mode()
    }

    /// Reads up to `limit` durable records with sequence greater than `after`,
    /// in order, with their commit time. Never returns a record that is not
    /// yet durable, so a consumer never sees something a crash could undo.
    ///
    /// Telemetry that retention removed comes as [`Item::Removed`] and
    /// [`Item::RemovedTelemetry`]: a consumer that counts (a projection, a
    /// replay) accounts for it; one that wants claims skips it.
    pub fn read_after(&self, after: Seq, limit: usize) -> Result<Vec<(Seq, Millis, Item)>, StoreError> {
        let durable = self.journal.durability().borrow().seq;
        let mut out: Vec<(Seq, Millis, Item)> = Vec::new();
        if after >= durable || limit == 0 {
            return Ok(out);
        }
        struct Enough;
        let result = Entries::after(after).run(&self.log, |seq, at, entry| {
            // Never end a page on a block's counts: the next page, starting
            // after the last sequence handed out, would not repeat them.
            let open = matches!(out.last(), Some((_, _, Item::RemovedTelemetry { .. })));
            if seq > durable || (out.len() >= limit && !open) {
                return Err(Enough);
            }
            out.push((seq, at, Item::from_entry(entry)));
            Ok(())
        });
        match result {
            Ok(_) | Err(WalkError::Visitor(Enough)) => Ok(out),
            Err(WalkError::Damage(damage)) => Err(StoreError::Damaged(damage)),
        }
    }

    /// Counts per hunt, product, outcome and event type over `[from, to)`
    /// (milliseconds, taken to whole seconds), from the audit rollups plus
    /// the durable records they do not include yet.
    pub fn report(&self, from: Millis, to: Millis) -> Result<audit::Rollup, StoreError> {
        audit::report_live(&self.log, &self.audit, from, to, self.durable_seq())
    }

    /// Where a reader of records committed from `at` on should start.
    pub fn first_seq_at(&self, at: Millis) -> Result<Option<Seq>, StoreError> {
        Ok(audit::first_seq_at(&self.audit, at)?)
    }

    /// The last durable sequence: what readers may hand out.
    pub fn durable_seq(&self) -> Seq {
        self.journal.durability().borrow().seq
    }

    /// Checked journal blocks from the one holding `from` on, in order, for
    /// audit exports; the visitor stops the walk by returning `Ok(false)`.
    /// The caller stops at [`Store::durable_seq`].
    pub fn blocks<E>(
        &self,
        from: Seq,
        visit: impl FnMut(&CheckedBlock<'_>) -> Result<bool, E>,
    ) -> Result<(), WalkError<E>> {
        walk::checked_blocks(&self.log, from, visit)
    }

    /// Dumps the engine's state at one sequence and writes it as a snapshot.
    pub async fn snapshot(&self, engine: &Engine) -> Result<Seq, StoreError> {
        if let Some(why) = self.options.write_gate.as_ref().and_then(|g| g.check().err()) {
            return Err(StoreError::Snapshot(format!("writes fenced: {why}")));
        }
        let world = engine.dump().await?;
        let seq = world.last_seq;
        let dir = self.dir.clone();
        let keep = self.options.snapshots_kept;
        let log = self.log.clone();
        // Encoding and fsync take a while for 200k players; keep them off the actors' threads.
        tokio::task::spawn_blocking(move || write_snapshot_of(&dir, &log, &world, keep))
            .await
            .map_err(|e| StoreError::Snapshot(e.to_string()))??;
        Ok(seq)
    }

    /// Writes a snapshot of an already dumped state (at a durable sequence).
    pub fn write_snapshot(&self, world: &World) -> Result<PathBuf, StoreError> {
        write_snapshot_of(&self.dir, &self.log, world, self.options.snapshots_kept)
    }

    /// The hash of the journal block holding `seq`: what a snapshot or
    /// checkpoint taken at `seq` records to be tied to this journal.
    pub fn block_hash_at(&self, seq: Seq) -> Result<Hash, StoreError> {
        lookup::hash_at(&self.log, seq).map_err(StoreError::Snapshot)
    }

    /// Waits for everything appended to be durable and stops taking appends.
    pub async fn close(&self) -> Result<Seq, StoreError> {
        Ok(self.journal.close().await.map_err(trove_engine::EngineError::from)?)
    }
}

/// Opens a data folder and starts an engine on its recovered state.
pub fn open_engine(
    dir: &Path,
    options: StoreOptions,
    config: EngineConfig,
) -> Result<(Engine, Store, RecoveryReport), StoreError> {
    let (store, world, report) = Store::open(dir, options)?;
    let journal: Arc<dyn Journal> = store.journal();
    let engine = Engine::start(config, journal, world);
    Ok((engine, store, report))
}
