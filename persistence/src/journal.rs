//! The journal and its group-commit writer.
//!
//! Appending is a memcpy under a mutex: the caller's records are encoded
//! outside the lock, then given the next sequence numbers and added to the
//! pending buffer. One writer (a dedicated thread with its own mailbox)
//! takes whatever is pending, cuts it into blocks of about
//! `block_target_bytes`, appends them to the block log ([`crate::log`]) with
//! one `pwrite`, and then advances the durable sequence that every waiter
//! watches. While it writes and syncs, new appends pile up and go out
//! together in the next round: the batch grows with load.
//!
//! The writer is a plain thread rather than an actix `SyncArbiter` actor on
//! purpose: its writes and syncs block, and closing the store must drop the
//! last handle on the audit projection's sled database at a known moment
//! (sled holds a file lock until then), which a thread we join gives us and
//! an arbiter that restarts actors does not.
//!
//! Every commit is synced ([`crate::durable::Syncer`]: `fdatasync` of the
//! log, then the mark) before the next one is written. What differs per
//! record class (`docs/DURABILITY.md`) is when a commit is published: one
//! holding a decision (a claim, a hunt definition, a stock change), and
//! every commit in [`DurabilityMode::Strict`], after its sync; a commit of
//! events only, in the default mode, as soon as its blocks are written (in
//! the kernel's page cache: they survive a process crash), while its sync
//! runs. A sync also covers everything before it, so the synced prefix only
//! grows.
//!
//! The audit projection's rows for a commit go to sled after its blocks,
//! unsynced: it is derived, and recovery catches it up, or rebuilds it when
//! it leads the journal (`crate::audit`).
//!
//! A write or sync error fail-stops the journal: the error is published to
//! every waiter, and every later append is refused. Nothing past the last
//! successful write is ever reported durable.

use crate::audit::{Projector, Rollup};
use crate::codec;
use crate::durable::Syncer;
use crate::hwm::Mark;
use crate::log::{self, LogWriter};
use parking_lot::Mutex;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;
use tokio::sync::watch;
use trove_engine::{Clock, Durability, Journal, JournalError, Record, Seq};

/// How hard a commit pushes data towards the disk before it is acknowledged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DurabilityMode {
    /// Decisions (claims, hunt definitions, stock changes) are synced to the
    /// disk before they are acknowledged and survive power loss. Commits of
    /// events only are acknowledged once written (they survive a
    /// process crash) and synced right after, before the next commit: a
    /// power cut loses at most the events acknowledged during the sync in
    /// flight (the documented bound is one second).
    #[default]
    Flush,
    /// Every commit is synced before it is acknowledged: nothing
    /// acknowledged is lost to a power cut.
    Strict,
}

impl std::str::FromStr for DurabilityMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "flush" => Ok(DurabilityMode::Flush),
            "strict" => Ok(DurabilityMode::Strict),
            _ => Err(format!("unknown durability mode {s:?} (expected flush or strict)")),
        }
    }
}

pub(crate) struct Shared {
    pending: Mutex<Pending>,
    durable: watch::Sender<Durability>,
    mode: DurabilityMode,
}

struct Pending {
    /// Last sequence handed out.
    last_seq: Seq,
    /// Sequence of the first record in `buf`.
    buf_first: Seq,
    /// Length-prefixed encoded records waiting for the writer.
    buf: Vec<u8>,
    /// Counts of the records in `buf`, for the audit projection.
    rollup: Rollup,
    /// `buf` holds a decision (anything but an event): its commit is synced
    /// before it is published, in every mode.
    decisions: bool,
    /// A `Commit` message is on its way or being handled.
    scheduled: bool,
    failure: Option<Arc<str>>,
    closed: bool,
    /// A failure injected by the test hook, taken by the next commit round.
    injected: Option<String>,
}

/// The journal in its block log. Implements the engine's [`Journal`] boundary.
pub struct FileJournal {
    shared: Arc<Shared>,
    mailbox: mpsc::Sender<WriterMsg>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

pub(crate) struct WriterStart {
    /// Synced at open: the mark names the journal's last block.
    pub syncer: Syncer,
    pub log: LogWriter,
    /// The audit projection's database and tree.
    pub db: sled::Db,
    pub audit: sled::Tree,
    pub mode: DurabilityMode,
    pub block_target_bytes: usize,
    pub commit_interval: std::time::Duration,
    pub clock: Arc<dyn Clock>,
    pub write_gate: Option<Arc<dyn crate::gate::WriteGate>>,
}

impl FileJournal {
    /// Starts the writer thread.
    pub(crate) fn start(s: WriterStart) -> std::io::Result<FileJournal> {
        let written = s.syncer.synced();
        let (durable, _) = watch::channel(Durability {
            seq: written.seq,
            failure: None,
        });
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending {
                last_seq: written.seq,
                buf_first: written.seq + 1,
                buf: Vec::new(),
                rollup: Rollup::default(),
                decisions: false,
                scheduled: false,
                failure: None,
                closed: false,
                injected: None,
            }),
            durable,
            mode: s.mode,
        });
        let (mailbox, inbox) = mpsc::channel();
        let mut writer = JournalWriter {
            shared: shared.clone(),
            syncer: s.syncer,
            log: s.log,
            db: s.db,
            audit: s.audit,
            projector: Projector::default(),
            mode: s.mode,
            written,
            unsynced: false,
            block_target_bytes: s.block_target_bytes,
            commit_interval: s.commit_interval,
            write_gate: s.write_gate,
            last_commit: None,
            clock: s.clock,
        };
        let thread = std::thread::Builder::new()
            .name("trove-journal".into())
            .spawn(move || writer.run(inbox))?;
        Ok(FileJournal {
            shared,
            mailbox,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Refuses new appends and waits until everything appended is durable
    /// (or the journal failed).
    pub async fn close(&self) -> Result<Seq, JournalError> {
        let last = {
            let mut p = self.shared.pending.lock();
            p.closed = true;
            p.last_seq
        };
        let mut rx = self.shared.durable.subscribe();
        let d = rx
            .wait_for(|d| d.seq >= last || d.failure.is_some())
            .await
            .map_err(|_| JournalError::Closed)?;
        let result = match &d.failure {
            Some(f) if d.seq < last => Err(JournalError::Failed(f.clone())),
            _ => Ok(last),
        };
        drop(d);
        // Stop the writer and wait for it, so its handles are gone when we return.
        let _ = self.mailbox.send(WriterMsg::Stop);
        if let Some(t) = self.thread.lock().take() {
            let _ = t.join();
        }
        result
    }

    /// Test hook: makes the next commit fail as a disk error would.
    #[doc(hidden)]
    pub fn inject_write_failure(&self, why: &str) {
        // Also under the pending lock: a commit loop that is already running
        // does not read the mailbox, and must not write what is appended now.
        self.shared.pending.lock().injected = Some(why.to_owned());
        let _ = self.mailbox.send(WriterMsg::InjectFailure(why.to_owned()));
    }
}

impl Journal for FileJournal {
    fn append(&self, records: &[Record]) -> Result<Seq, JournalError> {
        let mut encoded = Vec::with_capacity(records.len() * 48);
        let mut delta = Rollup::default();
        let mut decisions = false;
        for r in records {
            codec::encode_record(r, &mut encoded).map_err(|e| JournalError::Refused(e.to_string()))?;
            delta.add(&r.view());
            decisions |= !matches!(r, Record::Event(_));
        }
        let (last, wake) = {
            let mut p = self.shared.pending.lock();
            if let Some(f) = &p.failure {
                return Err(JournalError::Failed(f.clone()));
            }
            if p.closed {
                return Err(JournalError::Closed);
            }
            if p.buf.is_empty() {
                p.buf_first = p.last_seq + 1;
                if p.buf.capacity() == 0 {
                    p.buf = encoded;
                } else {
                    p.buf.extend_from_slice(&encoded);
                }
            } else {
                p.buf.extend_from_slice(&encoded);
            }
            p.last_seq += records.len() as Seq;
            p.rollup.absorb(delta);
            p.decisions |= decisions;
            let wake = !p.scheduled;
            p.scheduled = true;
            (p.last_seq, wake)
        };
        if wake && self.mailbox.send(WriterMsg::Commit).is_err() {
            return Err(JournalError::Closed);
        }
        Ok(last)
    }

    fn last_seq(&self) -> Seq {
        self.shared.pending.lock().last_seq
    }

    fn durability(&self) -> watch::Receiver<Durability> {
        self.shared.durable.subscribe()
    }
}

/// The persistence actor: the only writer of the journal.
struct JournalWriter {
    shared: Arc<Shared>,
    syncer: Syncer,
    log: LogWriter,
    db: sled::Db,
    audit: sled::Tree,
    projector: Projector,
    mode: DurabilityMode,
    /// The last block written (the chain head).
    written: Mark,
    /// The log was written since the last sync.
    unsynced: bool,
    block_target_bytes: usize,
    /// Shortest time between the starts of two commits (see `commit_all`).
    commit_interval: std::time::Duration,
    write_gate: Option<Arc<dyn crate::gate::WriteGate>>,
    last_commit: Option<Instant>,
    clock: Arc<dyn Clock>,
}

enum WriterMsg {
    /// Something is pending; write it all.
    Commit,
    InjectFailure(String),
    Stop,
}

impl JournalWriter {
    /// Writes the audit row the projector holds in memory (at shutdown), so
    /// the next start need not catch it up.
    fn write_projection_row(&mut self) {
        if self.shared.pending.lock().failure.is_some() {
            return;
        }
        if self.write_gate.as_ref().is_some_and(|g| g.check().is_err()) {
            return;
        }
        let mut batch = sled::Batch::default();
        self.projector.write_row(&mut batch);
        let written = self.audit.apply_batch(batch).and_then(|_| self.db.flush());
        if let Err(e) = written {
            tracing::warn!(error = %e, "could not write the last audit row; the next start catches it up");
        }
    }

    fn run(&mut self, inbox: mpsc::Receiver<WriterMsg>) {
        while let Ok(msg) = inbox.recv() {
            match msg {
                WriterMsg::Commit => self.commit_all(),
                WriterMsg::InjectFailure(why) => {
                    if self.shared.pending.lock().injected.take().is_some() {
                        self.fail(why)
                    }
                }
                WriterMsg::Stop => {
                    self.write_projection_row();
                    self.sync_now();
                    break;
                }
            }
        }
    }

    /// Group commit: write whatever is pending, sync once, publish; repeat
    /// until nothing is pending.
    ///
    /// Commits start at least `commit_interval` apart. Under a stream of small
    /// requests (claims) a commit would otherwise carry a handful of records,
    /// and each costs two `fdatasync`s whatever it carries; waiting a
    /// fraction of a millisecond lets the next commit carry many more. Under
    /// heavy load a commit takes longer than the interval anyway, and this
    /// never waits.
    fn commit_all(&mut self) {
        loop {
            if let Some(last) = self.last_commit {
                let since = last.elapsed();
                if since < self.commit_interval {
                    std::thread::sleep(self.commit_interval - since);
                }
            }
            let (first, buf, rollup, decisions) = {
                let mut p = self.shared.pending.lock();
                if p.buf.is_empty() || p.failure.is_some() {
                    p.scheduled = false;
                    return;
                }
                if let Some(why) = p.injected.take() {
                    drop(p);
                    self.fail(why);
                    return;
                }
                (
                    p.buf_first,
                    std::mem::take(&mut p.buf),
                    std::mem::take(&mut p.rollup),
                    std::mem::take(&mut p.decisions),
                )
            };
            // The fence is asked last, right before the write: after a
            // refusal nothing of this commit reaches the log.
            if let Some(why) = self.write_gate.as_ref().and_then(|g| g.check().err()) {
                self.fail(format!("writes fenced: {why}"));
                return;
            }
            let started = Instant::now();
            self.last_commit = Some(started);
            // A panic in the writer must not leave callers waiting forever
            // for a durability that will never come: it fail-stops instead.
            let written = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.write(first, &buf, &rollup)))
                .unwrap_or_else(|panic| {
                    Err(format!(
                        "journal writer panicked: {}",
                        crate::error::panic_text(&*panic)
                    ))
                });
            let (last, count) = match written {
                Ok(written) => written,
                Err(e) => {
                    self.fail(e);
                    return;
                }
            };
            metrics::histogram!("trove_journal_flush_seconds").record(started.elapsed().as_secs_f64());
            metrics::histogram!("trove_journal_batch_records").record(count as f64);
            metrics::counter!("trove_journal_bytes_total").increment(buf.len() as u64);
            debug_assert_eq!(self.written.seq, last);
            // Decisions survive power loss in every mode: sync, then publish.
            // Events in the default mode: publish, then sync. Either way the
            // sync is done before the log is written again.
            let publish_first = !decisions && self.mode == DurabilityMode::Flush;
            if publish_first {
                self.shared.durable.send_modify(|d| d.seq = last);
            }
            if let Err(e) = self.sync() {
                self.fail(e);
                return;
            }
            if !publish_first {
                self.shared.durable.send_modify(|d| d.seq = last);
            }
        }
    }

    /// Syncs everything written so far and moves the mark to it.
    fn sync(&mut self) -> Result<(), String> {
        let started = Instant::now();
        self.syncer.sync(&self.log, self.written)?;
        self.unsynced = false;
        metrics::histogram!("trove_journal_sync_seconds").record(started.elapsed().as_secs_f64());
        Ok(())
    }

    /// [`JournalWriter::sync`] if anything is unsynced; a failure fail-stops.
    fn sync_now(&mut self) {
        if self.unsynced && self.shared.pending.lock().failure.is_none() {
            if let Err(e) = self.sync() {
                self.fail(e);
            }
        }
    }

    fn fail(&mut self, why: String) {
        tracing::error!(error = %why, "journal write failed; refusing all further writes");
        let why: Arc<str> = Arc::from(why);
        {
            let mut p = self.shared.pending.lock();
            p.failure = Some(why.clone());
            p.scheduled = false;
            p.buf.clear();
            p.rollup = Rollup::default();
        }
        self.shared.durable.send_modify(|d| d.failure = Some(why));
    }

    /// Writes records `first..` held in `buf` as blocks, with one `pwrite`,
    /// then stages their audit rows. Returns the last sequence written and
    /// the number of records.
    fn write(&mut self, first: Seq, buf: &[u8], rollup: &Rollup) -> Result<(Seq, u64), String> {
        let now = self.clock.now_ms();
        debug_assert_eq!(first, self.written.seq + 1, "commits follow each other");
        debug_assert!(!self.unsynced, "the previous commit was synced before this write");
        // Each block adds its header and its frame's to the records.
        let blocks_max = buf.len() / self.block_target_bytes.max(1) + 1;
        let mut frames = Vec::with_capacity(buf.len() + blocks_max * (codec::HEADER_LEN + log::FRAME_HEADER));
        let mut blocks = Vec::new();
        let mut prev = self.written.hash;
        let (mut block_first, mut start, mut pos, mut count) = (first, 0usize, 0usize, 0u32);
        while pos < buf.len() {
            let word = u32::from_le_bytes(buf[pos..pos + 4].try_into().expect("4 bytes"));
            let len = (word & !codec::TELEMETRY_BIT) as usize;
            pos += 4 + len;
            count += 1;
            if pos - start >= self.block_target_bytes || pos == buf.len() {
                let (value, hash) = codec::encode_block(block_first, count, now, &prev, &buf[start..pos]);
                log::frame(block_first, count, &value, &mut frames);
                blocks.push((block_first, count));
                prev = hash;
                block_first += u64::from(count);
                start = pos;
                count = 0;
            }
        }
        self.unsynced = true;
        self.log
            .append(&frames, &blocks)
            .map_err(|e| format!("write {}: {e}", log::FILE))?;
        self.written = Mark {
            seq: block_first - 1,
            hash: prev,
        };
        // The audit projection after the blocks, not synced: recovery
        // catches it up when it lags and rebuilds it when it leads.
        let mut audit = sled::Batch::default();
        // A failed write of the projection fail-stops like one of the log:
        // rows after a lost one would be counted under a later watermark.
        // Most commits stage nothing, and sled charges an empty batch.
        self.projector
            .stage(&self.audit, &mut audit, now, first, block_first - 1, rollup)
            .and_then(|staged| match staged {
                true => self.audit.apply_batch(audit),
                false => Ok(()),
            })
            .map_err(|e| format!("audit projection (sled): {e}"))?;
        Ok((block_first - 1, block_first - first))
    }
}

impl Shared {
    pub(crate) fn mode(&self) -> DurabilityMode {
        self.mode
    }
}

impl FileJournal {
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }
}
