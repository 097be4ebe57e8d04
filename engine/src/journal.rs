//! The boundary between the engine and durable storage.
//!
//! The engine never does I/O. It hands records to a [`Journal`], which gives
//! each one the next sequence number synchronously, and later reports through
//! a watch channel that everything up to some sequence is durable. Callers
//! acknowledge a client only once the record that decided its request is
//! durable. `trove-persistence` implements this trait on sled; the
//! [`MemoryJournal`] here serves tests and simulations.

use crate::model::{Record, Seq};
use parking_lot::Mutex;
use std::sync::Arc;
use tokio::sync::watch;

/// What is durable. Sequence numbers only ever grow; once `failure` is set the
/// journal accepts nothing more (fail-stop) and it is never cleared.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Durability {
    /// Every record with a sequence at or below this one is durable.
    pub seq: Seq,
    /// Why the journal stopped, if it did.
    pub failure: Option<Arc<str>>,
}

/// Why [`Journal::append`] appended nothing. The engine passes it on inside
/// [`EngineError::Journal`](crate::EngineError::Journal).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JournalError {
    /// A write or flush failed earlier; the journal is fail-stopped.
    #[error("journal stopped after a write error: {0}")]
    Failed(Arc<str>),
    /// This append was refused (e.g. a record over the size limit); the
    /// journal is fine and nothing was appended.
    #[error("record refused by the journal: {0}")]
    Refused(String),
    /// The journal was closed (shutdown).
    #[error("journal is closed")]
    Closed,
}

/// An append-only, totally ordered, durable log of [`Record`]s.
pub trait Journal: Send + Sync + 'static {
    /// Appends `records` as one atomic unit, in order, and returns the sequence
    /// of the last one (the first is `last - len + 1`). Sequences are gapless
    /// and follow the order of `append` calls. Returning does not mean durable:
    /// wait on [`Journal::durability`] for that. Must not block on I/O.
    fn append(&self, records: &[Record]) -> Result<Seq, JournalError>;

    /// The last sequence handed out.
    fn last_seq(&self) -> Seq;

    /// A receiver that sees the durable sequence advance.
    fn durability(&self) -> watch::Receiver<Durability>;
}

/// A journal in memory: durable on append (by definition), for tests and
/// in-process simulations. It can be told to fail, to test fail-stop, and to
/// hold durability back ([`MemoryJournal::hold_durability`]), to test what
/// the engine shows while a record is appended but not yet durable.
pub struct MemoryJournal {
    inner: Mutex<MemoryInner>,
    durable: watch::Sender<Durability>,
}

struct MemoryInner {
    records: Vec<Record>,
    failure: Option<Arc<str>>,
    /// While set, appends do not advance the durable sequence.
    held: bool,
}

impl MemoryJournal {
    /// An empty journal: the next append gets sequence 1.
    pub fn new() -> Arc<Self> {
        Self::with_records(Vec::new())
    }

    /// A journal that already holds `records` (sequences 1..=len).
    pub fn with_records(records: Vec<Record>) -> Arc<Self> {
        let seq = records.len() as Seq;
        let (durable, _) = watch::channel(Durability { seq, failure: None });
        Arc::new(MemoryJournal {
            inner: Mutex::new(MemoryInner {
                records,
                failure: None,
                held: false,
            }),
            durable,
        })
    }

    /// Every record so far, in sequence order (record i has sequence i + 1).
    pub fn records(&self) -> Vec<Record> {
        self.inner.lock().records.clone()
    }

    /// Until [`MemoryJournal::release_durability`], appends are accepted but
    /// not reported durable, as records waiting for a slow flush.
    pub fn hold_durability(&self) {
        self.inner.lock().held = true;
    }

    /// Ends a hold: everything appended so far becomes durable.
    pub fn release_durability(&self) {
        let mut inner = self.inner.lock();
        inner.held = false;
        let seq = inner.records.len() as Seq;
        self.durable.send_modify(|d| d.seq = seq);
    }

    /// Makes every later append fail, as a failed disk would.
    pub fn fail(&self, why: &str) {
        let why: Arc<str> = Arc::from(why);
        self.inner.lock().failure = Some(why.clone());
        self.durable.send_modify(|d| d.failure = Some(why));
    }
}

impl Journal for MemoryJournal {
    fn append(&self, records: &[Record]) -> Result<Seq, JournalError> {
        let mut inner = self.inner.lock();
        if let Some(f) = &inner.failure {
            return Err(JournalError::Failed(f.clone()));
        }
        inner.records.extend_from_slice(records);
        let seq = inner.records.len() as Seq;
        if !inner.held {
            self.durable.send_modify(|d| d.seq = seq);
        }
        Ok(seq)
    }

    fn last_seq(&self) -> Seq {
        self.inner.lock().records.len() as Seq
    }

    fn durability(&self) -> watch::Receiver<Durability> {
        self.durable.subscribe()
    }
}
