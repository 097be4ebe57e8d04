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
//!   journal/        sled database; tree "journal": key = first seq (BE), value = block
//!   snapshots/      snapshot-<seq>.trv files, newest few kept
//! ```
//!
//! ## Invariants
//!
//! - Only this crate knows sled and bincode.
//! - Sequence numbers are gapless; blocks are hash-chained; every block is
//!   checked before any record in it is used. Damage stops recovery with its
//!   position: recovery never returns state built from a damaged journal.
//! - A sequence is reported durable only once the rule of its record class
//!   holds (see `docs/DURABILITY.md`): decisions after a `syncfs` of the data
//!   volume, events in the default mode after sled's flush. A failed write
//!   fail-stops the journal.
//! - Nothing read back at open is served before it is synced: a record that
//!   a dead process left in the page cache is made durable first.
//! - One process per data folder (an exclusive `flock` on `DATA/LOCK`).

pub mod audit;
pub mod blocks;
pub mod codec;
pub mod durable;
pub mod hwm;
mod journal;
pub mod retention;
pub mod scan;
pub mod snapshot;

pub use journal::{DurabilityMode, SledJournal};
pub use scan::{JournalDamage, JournalEnd};

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
    /// sled's page cache, in bytes.
    pub cache_capacity: u64,
    /// Journal blocks are cut at about this size. Under load a commit carries
    /// hundreds of KiB; 256 KiB blocks go to sled blob files (one sequential
    /// write each), while smaller blocks live in sled's log, whose node
    /// rewrites wrote 6x the payload to disk with 32 KiB blocks against 3.6x
    /// with 256 KiB, and took 1.07M events/s instead of 0.76M (BENCHMARKS.md).
    /// A quiet commit (a few claims) is one small inline block either way.
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
            cache_capacity: 256 << 20,
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
    #[error("sled: {0}")]
    Sled(#[from] sled::Error),
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
    #[error("snapshot: {0}")]
    Snapshot(String),
    #[error(transparent)]
    Engine(#[from] trove_engine::EngineError),
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> StoreError {
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

fn open_sled(dir: &Path, options: &StoreOptions) -> Result<(sled::Db, sled::Tree), StoreError> {
    let (db, tree, _) = open_sled_audit(dir, options)?;
    Ok((db, tree))
}

/// The sled database of a data folder.
const JOURNAL_DIR: &str = "journal";
/// A compacted copy of the journal being built, and its completion mark.
const NEXT_JOURNAL_DIR: &str = "journal.next";
const COMPLETE_MARK: &str = "COMPLETE";
/// The journal a compaction replaced, until it is deleted.
const OLD_JOURNAL_DIR: &str = "journal.old";

/// Finishes or undoes a journal swap that a crash interrupted (see
/// [`Archive::compact`]): a complete `journal.next` replaces `journal`, an
/// incomplete one is deleted. A leftover `journal.old` stays until the
/// journal has been opened and checked ([`drop_old_journal`]).
/// Called with the folder's lock held, before sled opens the journal.
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

/// After a swap: once `tree` (the journal now in place) reads end to end
/// with every block checked, reaches the acknowledged mark, and, when
/// `expect` is given, ends at that sequence and hash, deletes `journal.old`.
/// Until then the original journal is kept.
fn drop_old_journal(dir: &Path, tree: &sled::Tree, expect: Option<hwm::Mark>) -> Result<(), StoreError> {
    let old = dir.join(OLD_JOURNAL_DIR);
    if !old.exists() {
        return Ok(());
    }
    let end =
        scan::scan_entries(tree, 0, false, |_, _, _| Ok::<(), std::convert::Infallible>(())).map_err(|e| match e {
            Ok(never) => match never {},
            Err(damage) => StoreError::SwapCheck(damage.to_string()),
        })?;
    if let Some(mark) = hwm::read(dir).map_err(StoreError::SwapCheck)? {
        hwm::check(tree, mark, end.last_seq).map_err(StoreError::SwapCheck)?;
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

fn sled_config(path: &Path, options: &StoreOptions) -> sled::Config {
    sled::Config::new()
        .path(path)
        .cache_capacity(options.cache_capacity)
        // We flush explicitly at every group commit; a background timer would
        // only add flushes that nobody waits for.
        .flush_every_ms(None)
        .mode(sled::Mode::HighThroughput)
}

/// Opens the folder's journal, first finishing an interrupted swap, and
/// deleting a leftover `journal.old` once the journal checks out.
fn open_sled_audit(dir: &Path, options: &StoreOptions) -> Result<(sled::Db, sled::Tree, sled::Tree), StoreError> {
    finish_journal_swap(dir)?;
    let (db, tree, audit) = open_sled_raw(dir, options)?;
    drop_old_journal(dir, &tree, None)?;
    Ok((db, tree, audit))
}

fn open_sled_raw(dir: &Path, options: &StoreOptions) -> Result<(sled::Db, sled::Tree, sled::Tree), StoreError> {
    let config = sled_config(&dir.join(JOURNAL_DIR), options);
    // sled lets go of its own lock on `journal/db` only when its background
    // threads drop the file, a moment after the last handle is gone
    // (spacejam/sled#1234), so reopening right after a close can find it still
    // held. DirLock already keeps other Trove processes out: wait, briefly.
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
    let tree = db.open_tree("journal")?;
    let audit = db.open_tree(audit::TREE)?;
    Ok((db, tree, audit))
}

/// Snapshot files that failed their checks, with the reason.
type Skipped = Vec<(PathBuf, String)>;

/// Reads a snapshot and checks that it belongs to this journal: the block
/// holding its sequence must have the hash it recorded.
fn read_snapshot(path: &Path, tree: &sled::Tree) -> Result<World, String> {
    let snap = snapshot::read(path)?;
    let seq = snap.world.last_seq;
    if blocks::last_seq(tree).is_ok_and(|last| last < seq) {
        // The journal lost records the snapshot saw: recovery reports that
        // as `SnapshotAhead` rather than quietly using an older snapshot.
        return Ok(snap.world);
    }
    match blocks::hash_at(tree, seq) {
        Ok(hash) if hash == snap.block_hash => Ok(snap.world),
        Ok(_) => Err(format!(
            "the journal's block holding sequence {seq} is not the one this snapshot was taken after: \
             it belongs to another journal history"
        )),
        Err(e) => Err(format!("cannot be tied to the journal: {e}")),
    }
}

/// Loads the newest snapshot that passes its checks, reporting the others.
fn newest_snapshot(dir: &Path, tree: &sled::Tree) -> Result<(Option<World>, Skipped), StoreError> {
    let mut skipped = Vec::new();
    for (_, path) in snapshot::list(dir).map_err(io("list snapshots"))? {
        match read_snapshot(&path, tree) {
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
fn recover(dir: &Path, tree: &sled::Tree) -> Result<(World, JournalEnd, RecoveryReport), StoreError> {
    let started = Instant::now();
    let (snap, skipped) = newest_snapshot(dir, tree)?;
    let snapshot_seq = snap.as_ref().map(|w| w.last_seq);
    let mut world = snap.unwrap_or_default();
    let from = world.last_seq;
    let mut tail = 0u64;
    let end = scan::scan_entries(tree, from, false, |seq, _, entry| {
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
        Ok(Some(mark)) => hwm::check(tree, mark, end.last_seq).map_err(StoreError::AcknowledgedLost)?,
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

/// An open data folder: the lock, sled, and the running journal writer.
pub struct Store {
    dir: PathBuf,
    /// For readers (feeds, exports) while the writer runs; sled allows both.
    tree: sled::Tree,
    audit: sled::Tree,
    journal: Arc<SledJournal>,
    options: StoreOptions,
    _lock: DirLock,
}

impl Store {
    /// Locks `dir`, recovers its state, and starts the journal writer.
    pub fn open(dir: &Path, options: StoreOptions) -> Result<(Store, World, RecoveryReport), StoreError> {
        let lock = DirLock::acquire(dir)?;
        let (db, tree, audit_tree) = open_sled_audit(dir, &options)?;
        snapshot::remove_stale_tmp(dir);
        let (world, end, report) = recover(dir, &tree)?;
        let caught_up = audit::catch_up(&tree, &audit_tree)?;
        if caught_up > 0 {
            tracing::info!(records = caught_up, "audit projection caught up with the journal");
        }
        let reader = tree.clone();
        // What recovery read may still be only in the page cache of a process
        // that died before its sync (and sled's `conf` may be new): make it
        // durable before anything is served, and move the mark to it.
        let synced = hwm::read(dir)
            .ok()
            .flatten()
            .unwrap_or(hwm::Mark { seq: 0, hash: [0; 32] });
        let mut syncer = durable::Syncer::open(dir, synced).map_err(io(format!("open {}", hwm::FILE)))?;
        syncer
            .sync(hwm::Mark {
                seq: end.last_seq,
                hash: end.last_hash,
            })
            .map_err(|e| StoreError::Io {
                context: "sync the data folder at open".into(),
                source: std::io::Error::other(e),
            })?;
        let journal = SledJournal::start(journal::WriterStart {
            syncer,
            db,
            tree,
            audit: audit_tree.clone(),
            mode: options.durability,
            block_target_bytes: options.block_target_bytes,
            commit_interval: options.commit_interval,
            clock: options.clock.clone(),
        })
        .map_err(io("open sled data file"))?;
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
                tree: reader,
                audit: audit_tree,
                journal: Arc::new(journal),
                options,
                _lock: lock,
            },
            world,
            report,
        ))
    }

    pub fn journal(&self) -> Arc<SledJournal> {
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
        let result = scan::scan_entries(&self.tree, after, false, |seq, at, entry| {
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
        audit::report_live(&self.tree, &self.audit, from, to, self.durable_seq())
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
        blocks::visit(&self.tree, from, visit)
    }

    /// Dumps the engine's state at one sequence and writes it as a snapshot.
    pub async fn snapshot(&self, engine: &Engine) -> Result<Seq, StoreError> {
        let world = engine.dump().await?;
        let seq = world.last_seq;
        let dir = self.dir.clone();
        let keep = self.options.snapshots_kept;
        let tree = self.tree.clone();
        // Encoding and fsync take a while for 200k players; keep them off the actors' threads.
        tokio::task::spawn_blocking(move || write_snapshot_of(&dir, &tree, &world, keep))
            .await
            .map_err(|e| StoreError::Snapshot(e.to_string()))??;
        Ok(seq)
    }

    /// Writes a snapshot of an already dumped state (at a durable sequence).
    pub fn write_snapshot(&self, world: &World) -> Result<PathBuf, StoreError> {
        write_snapshot_of(&self.dir, &self.tree, world, self.options.snapshots_kept)
    }

    /// The hash of the journal block holding `seq`: what a snapshot or
    /// checkpoint taken at `seq` records to be tied to this journal.
    pub fn block_hash_at(&self, seq: Seq) -> Result<codec::Hash, StoreError> {
        blocks::hash_at(&self.tree, seq).map_err(StoreError::Snapshot)
    }

    /// Waits for everything appended to be durable and stops taking appends.
    pub async fn close(&self) -> Result<Seq, StoreError> {
        Ok(self.journal.close().await.map_err(trove_engine::EngineError::from)?)
    }
}

/// Writes a snapshot of `world`, tied to the block of `tree` holding its sequence.
fn write_snapshot_of(dir: &Path, tree: &sled::Tree, world: &World, keep: usize) -> Result<PathBuf, StoreError> {
    let hash = blocks::hash_at(tree, world.last_seq).map_err(StoreError::Snapshot)?;
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
    let (_db, tree) = open_sled(dir, &StoreOptions::default())?;
    sync_volume(dir)?;
    verify_tree(dir, &tree, &mut |_| {})
}

/// `syncfs` of the data folder's volume: what a dead process left in the
/// page cache is durable before a tool reports on it.
fn sync_volume(dir: &Path) -> Result<(), StoreError> {
    durable::syncfs_dir(dir).map_err(io(format!("syncfs {}", dir.display())))
}

fn verify_tree(dir: &Path, tree: &sled::Tree, progress: &mut dyn FnMut(Seq)) -> Result<VerifyReport, StoreError> {
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
        match read_snapshot(&path, tree) {
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
    let scanned = scan::scan_entries(tree, 0, true, |seq, _, entry| {
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
                    "{} records in {} blocks{}; checksums, leaf roots, hash chain and sequence intact; replayed at {:.0} records/s",
                    end.last_seq,
                    end.blocks,
                    if removed > 0 {
                        format!(" ({removed} telemetry records removed by retention, accounted for by their blocks' counts)")
                    } else {
                        String::new()
                    },
                    rate
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
            Ok(Some(mark)) => match hwm::check(tree, mark, end.last_seq) {
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
        match recover(dir, tree) {
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
    let (_db, tree) = open_sled(dir, &StoreOptions::default())?;
    scan::scan(&tree, after, |s, t, r| {
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
    _db: sled::Db,
    tree: sled::Tree,
    audit: sled::Tree,
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
        let (db, tree, audit) = open_sled_audit(dir, &StoreOptions::default())?;
        sync_volume(dir)?;
        snapshot::remove_stale_tmp(dir);
        Ok(Archive {
            dir: dir.to_path_buf(),
            _db: db,
            tree,
            audit,
            _lock: lock,
        })
    }

    /// Brings the audit projection up to date (a no-op unless the server
    /// crashed between its writes, or the projection was deleted).
    pub fn catch_up(&self) -> Result<u64, StoreError> {
        let n = audit::catch_up(&self.tree, &self.audit)?;
        if n > 0 {
            // sled assumes its flushes are durable (see `journal.rs`): make them so.
            self._db.flush()?;
            sync_volume(&self.dir)?;
        }
        Ok(n)
    }

    pub fn report(&self, from: Millis, to: Millis) -> Result<audit::Rollup, StoreError> {
        self.catch_up()?;
        audit::report(&self.audit, from, to)
    }

    pub fn first_seq_at(&self, at: Millis) -> Result<Option<Seq>, StoreError> {
        self.catch_up()?;
        Ok(audit::first_seq_at(&self.audit, at)?)
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
            &self.tree,
            after,
            |s, t, r| if visit(s, t, r) { Ok(()) } else { Err(Stop) },
        ) {
            Ok(end) => Ok(Some(end)),
            Err(Ok(Stop)) => Ok(None),
            Err(Err(d)) => Err(StoreError::Damaged(d)),
        }
    }

    /// Every block, header fields and leaf hashes, for export proofs.
    pub fn tree(&self) -> &sled::Tree {
        &self.tree
    }

    pub fn verify(&self) -> Result<VerifyReport, StoreError> {
        verify_tree(&self.dir, &self.tree, &mut |_| {})
    }

    /// [`Archive::verify`], calling `progress` with the replayed sequence now and then.
    pub fn verify_with_progress(&self, mut progress: impl FnMut(Seq)) -> Result<VerifyReport, StoreError> {
        verify_tree(&self.dir, &self.tree, &mut progress)
    }

    /// Checked journal blocks from the one holding `from` on (see [`blocks::visit`]).
    pub fn blocks<E>(
        &self,
        from: Seq,
        visit: impl FnMut(&codec::Block<'_>) -> Result<bool, E>,
    ) -> Result<(), Result<E, JournalDamage>> {
        blocks::visit(&self.tree, from, visit)
    }

    /// The oldest sequence recovery may start from: the lowest of the valid
    /// snapshots' (0 without one). Retention compacts only up to here.
    pub fn oldest_snapshot_seq(&self) -> Result<Seq, StoreError> {
        let mut oldest: Option<Seq> = None;
        for (_, path) in snapshot::list(&self.dir).map_err(io("list snapshots"))? {
            if let Ok(world) = read_snapshot(&path, &self.tree) {
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
    /// 1. build `journal.next` (the journal and the audit projection), flush;
    /// 2. write `journal.next/COMPLETE`, fsync it and the folder;
    /// 3. rename `journal` to `journal.old`, `journal.next` to `journal`,
    ///    fsync the folder; delete `journal.old`.
    ///
    /// A crash before 2 leaves an incomplete `journal.next`, deleted at the
    /// next open; after 2, the next open finishes 3. Either way the folder
    /// holds one whole journal. Consumes the archive: its sled handles must
    /// be closed before the swap. Nothing is swapped when nothing was
    /// compacted or the run was interrupted.
    pub fn compact(
        self,
        bound: Seq,
        cutoff: Millis,
        progress: &mut dyn FnMut(Seq),
        cancelled: &dyn Fn() -> bool,
    ) -> Result<retention::CompactReport, StoreError> {
        if !retention::has_work(&self.tree, bound, cutoff)? {
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
            let db = sled_config(&next, &StoreOptions::default()).open()?;
            let journal = db.open_tree("journal")?;
            let audit_copy = db.open_tree(audit::TREE)?;
            let report = retention::compact_into(
                &self.tree,
                &journal,
                bound,
                cutoff,
                SystemClock.now_ms(),
                progress,
                cancelled,
            )?;
            if !report.interrupted && report.blocks_compacted > 0 {
                let mut batch = sled::Batch::default();
                for item in self.audit.iter() {
                    let (k, v) = item?;
                    batch.insert(k, v);
                }
                audit_copy.apply_batch(batch)?;
                db.flush()?;
                // Everything sled wrote under journal.next (its log, blob
                // files, conf, directories) is durable before COMPLETE.
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
        let original = blocks::last_block(&self.tree)?;
        let Archive {
            dir,
            _db,
            tree,
            audit,
            _lock,
        } = self;
        drop((tree, audit, _db));
        finish_journal_swap(&dir)?;
        // The original is deleted only once the journal now in place opens
        // and reads end to end, checked, to the same chain head.
        let (db, tree, audit) = open_sled_raw(&dir, &StoreOptions::default())?;
        drop_old_journal(&dir, &tree, Some(original))?;
        drop((tree, audit, db));
        drop(_lock);
        Ok(report)
    }

    /// The journal's last sequence, from its last block header (unchecked;
    /// for progress bars).
    pub fn last_seq(&self) -> Result<Seq, StoreError> {
        Ok(blocks::last_seq(&self.tree)?)
    }

    /// Recreates snapshots and the audit projection from the journal alone:
    /// the recovery after an operator deleted derived data (the seed's DELETE).
    /// Existing snapshots are replaced only once the new one is written.
    pub fn rebuild(&self, mut progress: impl FnMut(Seq)) -> Result<RebuildReport, StoreError> {
        let started = Instant::now();
        let mut world = World::default();
        let mut n = 0u64;
        let end = blocks::scan_pipelined(&self.tree, |seq, _, entry| {
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
        let path = write_snapshot_of(&self.dir, &self.tree, &world, usize::MAX)?;
        for (_, p) in old {
            if p != path {
                let _ = std::fs::remove_file(p);
            }
        }
        audit::reset(&self.audit)?;
        audit::catch_up(&self.tree, &self.audit)?;
        self._db.flush()?;
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
