//! # trove-persistence
//!
//! Durable storage for Trove: the journal (the source of truth), snapshots
//! (a shortcut for recovery), and the checks that prove the two agree.
//!
//! The seed project lost $24k because two stores disagreed about how many
//! players existed and nobody could say which was right. Here there is one
//! answer: the journal. Everything else, the live actors, the snapshots, later
//! the projections, can be rebuilt from it and compared with it ([`verify`]).
//!
//! ## Layout of a data folder
//!
//! ```text
//! DATA/
//!   LOCK            flock-ed by the one process that owns the folder
//!   journal/
//!     blocks.log    the journal: append-only frames, one per block (`log`)
//!   journal.hwm     the acknowledged high-water mark (`hwm`)
//!   audit/          sled database: the audit projection, derived (`audit`)
//!   snapshots/      snapshot-<seq>.trv files, newest few kept
//! ```
//!
//! ## Invariants
//!
//! - Only this crate knows sled, bincode and the files of a data folder.
//! - Sequence numbers are gapless; blocks are hash-chained; every block is
//!   checked before any record in it is used. Damage stops recovery with its
//!   position: recovery never returns state built from a damaged journal.
//! - A sequence is reported durable only once the rule of its record class
//!   holds (see `docs/DURABILITY.md`): decisions after an `fdatasync` of the
//!   block log and of the mark, events in the default mode once written. A
//!   failed write fail-stops the journal.
//! - Nothing read back at open is served before it is synced: a record that
//!   a dead process left in the page cache is made durable first.
//! - One process per data folder (an exclusive `flock` on `DATA/LOCK`).

pub mod audit;
pub mod blocks;
pub mod codec;
pub mod durable;
pub mod hwm;
mod journal;
mod legacy;
pub mod log;
pub mod retention;
pub mod scan;
pub mod snapshot;

pub use journal::{DurabilityMode, FileJournal};
pub use log::BlockLog;
pub use scan::{JournalDamage, JournalEnd};

use log::LogWriter;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use trove_engine::{Clock, Engine, EngineConfig, Journal, Millis, Record, ReplayError, Seq, SystemClock, World};

/// Storage settings.
#[derive(Clone)]
pub struct StoreOptions {
    pub durability: DurabilityMode,
    /// The audit projection's sled page cache, in bytes.
    pub cache_capacity: u64,
    /// Journal blocks are cut at about this size. Under load a commit carries
    /// hundreds of KiB; a block is the unit of hashing, checking and of an
    /// export's proof, so larger blocks cost less per record. A quiet commit
    /// (a few claims) is one small block either way.
    pub block_target_bytes: usize,
    /// Shortest time between the starts of two group commits: the window in
    /// which requests gather into one flush. Bounds flushes to 1/interval per
    /// second; adds at most this much to an acknowledgement's latency.
    pub commit_interval: Duration,
    /// Snapshot files kept (newest first).
    pub snapshots_kept: usize,
    /// Stamps journal blocks with their commit time.
    pub clock: Arc<dyn Clock>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            durability: DurabilityMode::Flush,
            cache_capacity: 64 << 20,
            block_target_bytes: 256 << 10,
            commit_interval: Duration::from_micros(200),
            snapshots_kept: 3,
            clock: Arc::new(SystemClock),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "data folder {path} is in use by another Trove process{holder}; stop it first or use another --data folder"
    )]
    Locked { path: PathBuf, holder: String },
    #[error(transparent)]
    Damaged(#[from] JournalDamage),
    #[error("journal cannot be replayed: {0}")]
    Replay(#[from] ReplayError),
    #[error("acknowledged records are missing: {0}")]
    AcknowledgedLost(String),
    #[error(
        "{path} is damaged ({reason}), so recovery cannot tell whether acknowledged records are missing. \
         Run `trove verify --data DIR`; if it passes and the journal ends where you expect, remove {path} \
         (the next start writes a new one); otherwise restore the folder from a backup (docs/OPERATIONS.md)"
    )]
    MarkDamaged { path: PathBuf, reason: String },
    #[error("the compacted journal failed its check after the swap ({0}); the original is kept in journal.old")]
    SwapCheck(String),
    #[error("snapshot at sequence {snapshot_seq} is ahead of the journal, which ends at {journal_last}: journal records were lost")]
    SnapshotAhead { snapshot_seq: Seq, journal_last: Seq },
    #[error("audit projection (sled): {0}")]
    Sled(#[from] sled::Error),
    #[error(
        "{path} holds a journal in a format this version does not read ({reason}); \
         restore the folder from a backup or run the version that wrote it"
    )]
    UnknownFormat { path: PathBuf, reason: String },
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
    #[error("snapshot: {0}")]
    Snapshot(String),
    #[error(transparent)]
    Engine(#[from] trove_engine::EngineError),
}

pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> StoreError {
    let context = context.into();
    move |source| StoreError::Io { context, source }
}

/// What recovery did.
#[derive(Debug, Clone)]
pub struct RecoveryReport {
    /// Sequence of the snapshot recovery started from, if any.
    pub snapshot_seq: Option<Seq>,
    /// Snapshots that failed their checks and were skipped, with the reason.
    pub skipped_snapshots: Vec<(PathBuf, String)>,
    /// Records replayed after the snapshot.
    pub tail_records: u64,
    pub last_seq: Seq,
    pub players: usize,
    pub elapsed: Duration,
}

/// The exclusive lock on a data folder, held for the life of the store.
pub struct DirLock {
    _file: File,
    held: PathBuf,
}

/// Folders this process holds a [`DirLock`] on.
static HELD: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

impl Drop for DirLock {
    fn drop(&mut self) {
        let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = held.iter().position(|p| *p == self.held) {
            held.swap_remove(i);
        }
    }
}

impl DirLock {
    pub fn acquire(dir: &Path) -> Result<DirLock, StoreError> {
        // 0700: the journal and snapshots hold customs data.
        snapshot::create_private_dir(dir).map_err(io(format!("create {}", dir.display())))?;
        let path = dir.join("LOCK");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(io(format!("open {}", path.display())))?;
        let held = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let e = match file.try_lock() {
                Ok(()) => break,
                Err(e) => e,
            };
            if let std::fs::TryLockError::Error(e) = e {
                return Err(io(format!("lock {}", path.display()))(e));
            }
            let mut holder = String::new();
            let _ = file.rewind().and_then(|_| file.read_to_string(&mut holder));
            let holder = holder.trim();
            // A child that another thread of this process is spawning holds
            // copies of our descriptors, locks included, from fork to exec: a
            // folder this process has just closed can look locked for that
            // moment. Wait that out; any other holder fails at once.
            let ours = holder == std::process::id().to_string()
                && !HELD.lock().unwrap_or_else(|e| e.into_inner()).contains(&held);
            if ours && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(2));
                continue;
            }
            let holder = if holder.is_empty() {
                String::new()
            } else {
                format!(" (pid {holder})")
            };
            return Err(StoreError::Locked {
                path: dir.to_path_buf(),
                holder,
            });
        }
        let _ = file
            .set_len(0)
            .and_then(|_| file.rewind())
            .and_then(|_| write!(file, "{}", std::process::id()));
        HELD.lock().unwrap_or_else(|e| e.into_inner()).push(held.clone());
        Ok(DirLock { _file: file, held })
    }
}

/// The folder of the journal's block log.
const JOURNAL_DIR: &str = "journal";
/// The audit projection's sled database.
const AUDIT_DIR: &str = "audit";
/// A compacted copy of the journal being built, and its completion mark.
const NEXT_JOURNAL_DIR: &str = "journal.next";
const COMPLETE_MARK: &str = "COMPLETE";
/// The journal a compaction replaced, until it is deleted.
const OLD_JOURNAL_DIR: &str = "journal.old";

/// Finishes or undoes a journal swap that a crash interrupted (see
/// [`Archive::compact`]): a complete `journal.next` replaces `journal`, an
/// incomplete one is deleted. A leftover `journal.old` stays until the
/// journal has been opened and checked ([`drop_old_journal`]).
/// Called with the folder's lock held, before the journal is opened.
fn finish_journal_swap(dir: &Path) -> Result<(), StoreError> {
    let (current, next, old) = (
        dir.join(JOURNAL_DIR),
        dir.join(NEXT_JOURNAL_DIR),
        dir.join(OLD_JOURNAL_DIR),
    );
    if next.exists() {
        if next.join(COMPLETE_MARK).exists() {
            if current.exists() {
                std::fs::rename(&current, &old).map_err(io(format!("rename {}", current.display())))?;
            }
            std::fs::rename(&next, &current).map_err(io(format!("rename {}", next.display())))?;
            sync_dir(dir)?;
            tracing::info!("finished replacing the journal with its compacted copy");
        } else {
            std::fs::remove_dir_all(&next).map_err(io(format!("remove {}", next.display())))?;
            sync_dir(dir)?;
        }
    }
    Ok(())
}

/// After a swap: once `log` (the journal now in place) reads end to end
/// with every block checked, reaches the acknowledged mark, and, when
/// `expect` is given, ends at that sequence and hash, deletes `journal.old`.
/// Until then the original journal is kept.
fn drop_old_journal(dir: &Path, log: &BlockLog, expect: Option<hwm::Mark>) -> Result<(), StoreError> {
    let old = dir.join(OLD_JOURNAL_DIR);
    if !old.exists() {
        return Ok(());
    }
    let end =
        scan::scan_entries(log, 0, false, |_, _, _| Ok::<(), std::convert::Infallible>(())).map_err(|e| match e {
            Ok(never) => match never {},
            Err(damage) => StoreError::SwapCheck(damage.to_string()),
        })?;
    if let Some(mark) = hwm::read(dir).map_err(StoreError::SwapCheck)? {
        hwm::check(log, mark, end.last_seq).map_err(StoreError::SwapCheck)?;
    }
    if let Some(want) = expect {
        if (end.last_seq, end.last_hash) != (want.seq, want.hash) {
            return Err(StoreError::SwapCheck(format!(
                "it ends at sequence {}, the original at {}",
                end.last_seq, want.seq
            )));
        }
    }
    // The completion mark has done its job; left in place it would say nothing.
    let mark = dir.join(JOURNAL_DIR).join(COMPLETE_MARK);
    match std::fs::remove_file(&mark) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(format!("remove {}", mark.display()))(e)),
    }
    std::fs::remove_dir_all(&old).map_err(io(format!("remove {}", old.display())))?;
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(io(format!("fsync {}", dir.display())))
}

/// Opens the folder's journal: finishes an interrupted swap, converts a
/// journal an earlier version wrote in sled ([`legacy`]), opens the block
/// log, and deletes a leftover `journal.old` once the journal checks out.
fn open_journal(dir: &Path) -> Result<BlockLog, StoreError> {
    finish_journal_swap(dir)?;
    legacy::convert(dir)?;
    let log = open_log(dir)?;
    drop_old_journal(dir, &log, None)?;
    Ok(log)
}

/// The block log, its blocks after the acknowledged mark checked in full
/// (all of them if there is no readable mark: recovery then reports a
/// damaged one).
fn open_log(dir: &Path) -> Result<BlockLog, StoreError> {
    let acknowledged = hwm::read(dir).ok().flatten().map_or(0, |m| m.seq);
    let path = dir.join(JOURNAL_DIR);
    let log = BlockLog::open(&path, acknowledged).map_err(io(format!("open {}", path.join(log::FILE).display())))?;
    if let Some(torn) = log.torn() {
        tracing::warn!(%torn, "the journal ends before its file does");
    }
    Ok(log)
}

/// Opens the audit projection, `DATA/audit/`. It is derived from the journal
/// (`audit`), so when sled cannot open it, or it describes records past the
/// end of the journal (sled's pages reached the disk before a power cut, the
/// log's unacknowledged tail did not), it is emptied and rebuilt by the next
/// [`audit::catch_up`]. Callers catch it up, then flush it.
fn open_audit(dir: &Path, options: &StoreOptions, log: &BlockLog) -> Result<(sled::Db, sled::Tree), StoreError> {
    let path = dir.join(AUDIT_DIR);
    let (db, tree) = match open_sled(&path, options) {
        Ok(opened) => opened,
        Err(reason) => {
            tracing::warn!(%reason, "the audit projection cannot be opened; rebuilding it from the journal");
            std::fs::remove_dir_all(&path).map_err(io(format!("remove {}", path.display())))?;
            open_sled(&path, options).map_err(|reason| StoreError::Io {
                context: format!("create {}", path.display()),
                source: std::io::Error::other(reason),
            })?
        }
    };
    let watermark = audit::watermark(&tree)?;
    if watermark > log.last_claimed_seq() {
        tracing::warn!(
            watermark,
            journal_last = log.last_claimed_seq(),
            "the audit projection is ahead of the journal; rebuilding it"
        );
        audit::reset(&tree)?;
    }
    Ok((db, tree))
}

/// sled's open, with its panics (seen on power-cut images) turned into errors.
fn open_sled(path: &Path, options: &StoreOptions) -> Result<(sled::Db, sled::Tree), String> {
    snapshot::create_private_dir(path).map_err(|e| format!("create {}: {e}", path.display()))?;
    let config = sled::Config::new()
        .path(path)
        .cache_capacity(options.cache_capacity)
        // Derived data: sled's own background flush is enough; open and close flush too.
        .flush_every_ms(Some(1000))
        .mode(sled::Mode::HighThroughput);
    let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // sled lets go of its own lock on `db` only when its background
        // threads drop the file, a moment after the last handle is gone
        // (spacejam/sled#1234), so reopening right after a close can find it
        // still held. DirLock already keeps other Trove processes out: wait.
        let deadline = Instant::now() + Duration::from_secs(5);
        let db = loop {
            match config.open() {
                Err(sled::Error::Io(e))
                    if e.to_string().contains("could not acquire lock") && Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(5))
                }
                result => break result?,
            }
        };
        let tree = db.open_tree(audit::TREE)?;
        Ok::<_, sled::Error>((db, tree))
    }));
    match opened {
        Ok(Ok(opened)) => Ok(opened),
        Ok(Err(e)) => Err(e.to_string()),
        Err(panic) => Err(format!("sled panicked: {}", panic_text(&*panic))),
    }
}

/// The message of a caught panic.
pub(crate) fn panic_text(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic")
}

/// Snapshot files that failed their checks, with the reason.
type Skipped = Vec<(PathBuf, String)>;

/// Reads a snapshot and checks that it belongs to this journal: the block
/// holding its sequence must have the hash it recorded.
fn read_snapshot(path: &Path, log: &BlockLog) -> Result<World, String> {
    let snap = snapshot::read(path)?;
    let seq = snap.world.last_seq;
    if blocks::last_seq(log).is_ok_and(|last| last < seq) {
        // The journal lost records the snapshot saw: recovery reports that
        // as `SnapshotAhead` rather than quietly using an older snapshot.
        return Ok(snap.world);
    }
    match blocks::hash_at(log, seq) {
        Ok(hash) if hash == snap.block_hash => Ok(snap.world),
        Ok(_) => Err(format!(
            "the journal's block holding sequence {seq} is not the one this snapshot was taken after: \
             it belongs to another journal history"
        )),
        Err(e) => Err(format!("cannot be tied to the journal: {e}")),
    }
}

/// Loads the newest snapshot that passes its checks, reporting the others.
fn newest_snapshot(dir: &Path, log: &BlockLog) -> Result<(Option<World>, Skipped), StoreError> {
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
fn recover(dir: &Path, log: &BlockLog) -> Result<(World, JournalEnd, RecoveryReport), StoreError> {
    let started = Instant::now();
    let (snap, skipped) = newest_snapshot(dir, log)?;
    let snapshot_seq = snap.as_ref().map(|w| w.last_seq);
    let mut world = snap.unwrap_or_default();
    let from = world.last_seq;
    let mut tail = 0u64;
    let end = scan::scan_entries(log, from, false, |seq, _, entry| {
        tail += 1;
        scan::replay(&mut world, seq, entry)
    })
    .map_err(|e| match e {
        Ok(replay) => StoreError::Replay(replay),
        Err(damage) => StoreError::Damaged(damage),
    })?;
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

/// One journal entry, owned: what [`Store::read_after`] hands out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Record(Record),
    /// Records `first..=seq` were telemetry that retention removed.
    Removed {
        first: Seq,
    },
    /// What the telemetry removed from the block starting at this sequence
    /// did (see [`scan::Entry::RemovedTelemetry`]).
    RemovedTelemetry {
        hunts: Vec<trove_engine::HuntTelemetry>,
        players: Vec<trove_engine::TelemetryCount>,
    },
}

impl From<scan::Entry<'_>> for Item {
    fn from(entry: scan::Entry<'_>) -> Item {
        match entry {
            scan::Entry::Record(r) => Item::Record(r.to_record()),
            scan::Entry::Removed { first } => Item::Removed { first },
            scan::Entry::RemovedTelemetry { hunts, players } => Item::RemovedTelemetry {
                hunts: hunts.to_vec(),
                players: players.to_vec(),
            },
        }
    }
}

impl Item {
    /// The same entry, borrowed.
    pub fn as_entry(&self) -> scan::Entry<'_> {
        match self {
            Item::Record(r) => scan::Entry::Record(r.view()),
            Item::Removed { first } => scan::Entry::Removed { first: *first },
            Item::RemovedTelemetry { hunts, players } => scan::Entry::RemovedTelemetry { hunts, players },
        }
    }

    /// Applies this entry at `seq` to a replayed state (see [`scan::replay`]).
    pub fn replay(&self, world: &mut World, seq: Seq) -> Result<(), ReplayError> {
        scan::replay(world, seq, self.as_entry())
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

    pub fn journal(&self) -> Arc<FileJournal> {
        self.journal.clone()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

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
        let result = scan::scan_entries(&self.log, after, false, |seq, at, entry| {
            // Never end a page on a block's counts: the next page, starting
            // after the last sequence handed out, would not repeat them.
            let open = matches!(out.last(), Some((_, _, Item::RemovedTelemetry { .. })));
            if seq > durable || (out.len() >= limit && !open) {
                return Err(Enough);
            }
            out.push((seq, at, Item::from(entry)));
            Ok(())
        });
        match result {
            Ok(_) | Err(Ok(Enough)) => Ok(out),
            Err(Err(damage)) => Err(StoreError::Damaged(damage)),
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

    /// Checked journal blocks from the one holding `from` on (see
    /// [`blocks::visit`]); for audit exports. The caller stops at
    /// [`Store::durable_seq`].
    pub fn blocks<E>(
        &self,
        from: Seq,
        visit: impl FnMut(&codec::Block<'_>) -> Result<bool, E>,
    ) -> Result<(), Result<E, JournalDamage>> {
        blocks::visit(&self.log, from, visit)
    }

    /// Dumps the engine's state at one sequence and writes it as a snapshot.
    pub async fn snapshot(&self, engine: &Engine) -> Result<Seq, StoreError> {
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
    pub fn block_hash_at(&self, seq: Seq) -> Result<codec::Hash, StoreError> {
        blocks::hash_at(&self.log, seq).map_err(StoreError::Snapshot)
    }

    /// Waits for everything appended to be durable and stops taking appends.
    pub async fn close(&self) -> Result<Seq, StoreError> {
        Ok(self.journal.close().await.map_err(trove_engine::EngineError::from)?)
    }
}

/// Writes a snapshot of `world`, tied to the block of `log` holding its sequence.
fn write_snapshot_of(dir: &Path, log: &BlockLog, world: &World, keep: usize) -> Result<PathBuf, StoreError> {
    let hash = blocks::hash_at(log, world.last_seq).map_err(StoreError::Snapshot)?;
    snapshot::write(dir, world, &hash, keep).map_err(StoreError::Snapshot)
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

/// One named check of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

/// The result of [`verify`].
#[derive(Debug, Clone)]
pub struct VerifyReport {
    pub journal_last_seq: Seq,
    pub journal_blocks: u64,
    /// Hash of the journal's last block (the chain head), if it could be read.
    pub journal_last_hash: Option<codec::Hash>,
    pub checks: Vec<Check>,
    /// State rebuilt from the full journal (if it could be read).
    pub replayed: Option<World>,
}

impl VerifyReport {
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

/// `syncfs` of the data folder's volume: what a dead process left in the
/// page cache is durable before a tool reports on it.
fn sync_volume(dir: &Path) -> Result<(), StoreError> {
    durable::syncfs_dir(dir).map_err(io(format!("syncfs {}", dir.display())))
}

fn verify_log(dir: &Path, log: &BlockLog, progress: &mut dyn FnMut(Seq)) -> Result<VerifyReport, StoreError> {
    let mut checks = Vec::new();
    let mut check = |name: &str, ok: bool, detail: String| {
        checks.push(Check {
            name: name.into(),
            ok,
            detail,
        })
    };

    // Every snapshot file, checked on its own.
    let mut snapshots = Vec::new();
    for (seq, path) in snapshot::list(dir).map_err(io("list snapshots"))? {
        match read_snapshot(&path, log) {
            Ok(w) => snapshots.push(w),
            Err(e) => check(
                &format!("snapshot {seq} readable"),
                false,
                format!("{}: {e}", path.display()),
            ),
        }
    }
    snapshots.sort_by_key(|w| w.last_seq);

    // Full replay, comparing each snapshot when replay reaches its sequence.
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
    let scanned = scan::scan_entries(log, 0, true, |seq, _, entry| {
        if let scan::Entry::Removed { first } = entry {
            removed += seq - first + 1;
        }
        let before = replayed.last_seq;
        scan::replay(&mut replayed, seq, entry)?;
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
        Ok::<(), ReplayError>(())
    });
    let elapsed = started.elapsed();
    let (end, replay_ok) = match scanned {
        Ok(end) => {
            let rate = replayed.last_seq as f64 / elapsed.as_secs_f64().max(1e-9);
            check(
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
            (Some(end), true)
        }
        Err(Err(damage)) => {
            check("journal readable", false, damage.to_string());
            (None, false)
        }
        Err(Ok(replay)) => {
            check("journal replays", false, replay.to_string());
            (None, false)
        }
    };
    if let Some(end) = &end {
        match hwm::read(dir) {
            Ok(Some(mark)) => match hwm::check(log, mark, end.last_seq) {
                Ok(()) => check(
                    "acknowledged records present",
                    true,
                    format!("journal reaches the acknowledged high-water mark {}", mark.seq),
                ),
                Err(e) => check("acknowledged records present", false, e),
            },
            Ok(None) => check(
                "acknowledged records present",
                true,
                "no high-water mark recorded yet".into(),
            ),
            Err(e) => check(
                "acknowledged records present",
                false,
                format!("{e}: cannot tell whether acknowledged records are missing"),
            ),
        }
    }
    for (seq, ok, diff) in snapshot_results {
        check(
            &format!("snapshot {seq} equals replay"),
            ok,
            if ok { "digests equal".into() } else { diff.join("; ") },
        );
    }
    for s in pending {
        check(
            &format!("snapshot {} within journal", s.last_seq),
            false,
            format!("journal ends at {}", end.map_or(0, |e| e.last_seq)),
        );
    }
    if replay_ok {
        match replayed.check_invariants() {
            Ok(()) => check(
                "invariants",
                true,
                "stock ledgers balance; grants match; limits held".into(),
            ),
            Err(e) => check("invariants", false, e),
        }
        // The recovery path: newest valid snapshot + tail must equal the full replay.
        match recover(dir, log) {
            Ok((restored, _, report)) => {
                let same = restored.digest() == replayed.digest();
                let (a, b) = (replayed.summary(), restored.summary());
                check(
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
            Err(e) => check("snapshot+tail equals full replay", false, e.to_string()),
        }
    }
    Ok(VerifyReport {
        journal_last_seq: end.map_or(replayed.last_seq, |e| e.last_seq),
        journal_blocks: end.map_or(0, |e| e.blocks),
        journal_last_hash: end.map(|e| e.last_hash),
        checks,
        replayed: replay_ok.then_some(replayed),
    })
}

/// Reads every record of a data folder's journal after `after`, offline.
pub fn read_journal(
    dir: &Path,
    after: Seq,
    mut visit: impl FnMut(Seq, Millis, Record),
) -> Result<JournalEnd, StoreError> {
    let _lock = DirLock::acquire(dir)?;
    let log = open_journal(dir)?;
    scan::scan(&log, after, |s, t, r| {
        visit(s, t, r.to_record());
        Ok::<(), std::convert::Infallible>(())
    })
    .map_err(|e| match e {
        Ok(never) => match never {},
        Err(d) => StoreError::Damaged(d),
    })
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
    pub records: u64,
    pub players: usize,
    pub digest: trove_engine::Digest,
    pub replay_seconds: f64,
    pub snapshot: PathBuf,
}

impl Archive {
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

    pub fn report(&self, from: Millis, to: Millis) -> Result<audit::Rollup, StoreError> {
        self.catch_up()?;
        audit::report(&self.audit()?.1, from, to)
    }

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
        match scan::scan(
            &self.log,
            after,
            |s, t, r| if visit(s, t, r) { Ok(()) } else { Err(Stop) },
        ) {
            Ok(end) => Ok(Some(end)),
            Err(Ok(Stop)) => Ok(None),
            Err(Err(d)) => Err(StoreError::Damaged(d)),
        }
    }

    /// The journal's block log (blocks, header fields and leaf hashes, for
    /// export proofs).
    pub fn log(&self) -> &BlockLog {
        &self.log
    }

    pub fn verify(&self) -> Result<VerifyReport, StoreError> {
        verify_log(&self.dir, &self.log, &mut |_| {})
    }

    /// [`Archive::verify`], calling `progress` with the replayed sequence now and then.
    pub fn verify_with_progress(&self, mut progress: impl FnMut(Seq)) -> Result<VerifyReport, StoreError> {
        verify_log(&self.dir, &self.log, &mut progress)
    }

    /// Checked journal blocks from the one holding `from` on (see [`blocks::visit`]).
    pub fn blocks<E>(
        &self,
        from: Seq,
        visit: impl FnMut(&codec::Block<'_>) -> Result<bool, E>,
    ) -> Result<(), Result<E, JournalDamage>> {
        blocks::visit(&self.log, from, visit)
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
        let mark = next.join(COMPLETE_MARK);
        File::create(&mark)
            .and_then(|f| f.sync_all())
            .map_err(io(format!("write {}", mark.display())))?;
        sync_dir(&next)?;
        let original = blocks::last_block(&self.log)?;
        let Archive { dir, log, audit, _lock } = self;
        drop((log, audit));
        finish_journal_swap(&dir)?;
        // The original is deleted only once the journal now in place opens
        // and reads end to end, checked, to the same chain head.
        let log = open_log(&dir)?;
        drop_old_journal(&dir, &log, Some(original))?;
        drop(_lock);
        Ok(report)
    }

    /// The journal's last sequence, from its last block header (unchecked;
    /// for progress bars).
    pub fn last_seq(&self) -> Result<Seq, StoreError> {
        Ok(blocks::last_seq(&self.log)?)
    }

    /// Recreates snapshots and the audit projection from the journal alone:
    /// the recovery after an operator deleted derived data (the seed's DELETE).
    /// Existing snapshots are replaced only once the new one is written.
    pub fn rebuild(&self, mut progress: impl FnMut(Seq)) -> Result<RebuildReport, StoreError> {
        let started = Instant::now();
        let mut world = World::default();
        let mut n = 0u64;
        let end = blocks::scan_pipelined(&self.log, |seq, _, entry| {
            let before = n;
            n += match &entry {
                scan::Entry::Record(_) => 1,
                scan::Entry::Removed { first } => seq - first + 1,
                scan::Entry::RemovedTelemetry { .. } => 0,
            };
            if n / 1_000_000 != before / 1_000_000 {
                progress(seq);
            }
            scan::replay(&mut world, seq, entry)
        })
        .map_err(|e| match e {
            Ok(replay) => StoreError::Replay(replay),
            Err(damage) => StoreError::Damaged(damage),
        })?;
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
