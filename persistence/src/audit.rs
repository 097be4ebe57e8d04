//! The audit projection: per-second rollups and a sparse time index.
//!
//! Auditors ask two kinds of question: "what happened between 14:00 and
//! 15:00" (counts: claims per hunt, product and outcome; events per type) and
//! "give me every record of that hour" (an export). The seed answered both
//! from a TimescaleDB hypertable kept next to the event store. Trove answers
//! them from the journal plus two small derived structures kept in sled
//! (`DATA/audit/`, tree `audit`), written by the journal writer in the same
//! commit round as the blocks they describe:
//!
//! - `r` + second (i64 BE, sign-flipped): the [`Rollup`] of every record
//!   committed in that second. A report over a window sums at most one row per
//!   second, so an hour is 3,600 small rows whatever the journal's size.
//! - `t` + second: the first sequence committed in that second. The sparse
//!   time -> sequence index (what BRIN was to the seed): an export from time T
//!   starts reading the journal at the right block instead of at the start.
//! - `w`: the watermark, the last sequence the two above include.
//!
//! They are a projection: rebuildable from the journal alone, and never
//! synced. The writer applies them after the blocks, so after a process
//! crash they can lag the journal, and recovery catches them up from the
//! watermark (`catch_up`). After a power cut they can also lead it (sled's
//! pages reached the disk, the log's unacknowledged tail did not), or sled
//! may not open them at all: then they are rebuilt (`crate::open::open_audit`).

use crate::codec;
use crate::error::StoreError;
use crate::log::BlockLog;
use crate::walk::{Entries, Entry, WalkError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use trove_engine::{HuntTelemetry, Millis, Outcome, RecordView, Seq};

/// The sled tree of the projection inside `DATA/audit/`.
pub const TREE: &str = "audit";

/// Counts of records, by kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollup {
    /// (hunt, event type) -> events.
    pub events: BTreeMap<(String, String), u64>,
    /// (hunt, sku, outcome: "granted" or the reject reason) -> claims.
    pub claims: BTreeMap<(String, String, String), u64>,
    /// Hunt definitions.
    pub hunts_defined: u64,
    /// Stock changes.
    pub stock_changes: u64,
    /// Records of every kind (removed telemetry included).
    pub records: u64,
}

impl Rollup {
    /// Counts one record.
    pub fn add(&mut self, record: &RecordView<'_>) {
        self.records += 1;
        match record {
            RecordView::HuntDefined(_) => self.hunts_defined += 1,
            RecordView::StockAdded { .. } => self.stock_changes += 1,
            RecordView::Event(ev) => {
                let kind = match ev.kind {
                    trove_engine::EventKindView::ClueFound { .. } => "clue_found",
                    trove_engine::EventKindView::Checkin { .. } => "checkin",
                    trove_engine::EventKindView::Interaction { .. } => "interaction",
                };
                // Batches are mostly one hunt: look up by borrowed key first.
                match self.events.iter_mut().find(|((h, k), _)| h == ev.hunt && k == kind) {
                    Some((_, n)) => *n += 1,
                    None => {
                        self.events.insert((ev.hunt.to_owned(), kind.to_owned()), 1);
                    }
                }
            }
            RecordView::Claim { request, outcome } => {
                let outcome = match outcome {
                    Outcome::Granted => "granted",
                    Outcome::Rejected(r) => r.code(),
                };
                *self
                    .claims
                    .entry((request.hunt.to_owned(), request.sku.to_owned(), outcome.to_owned()))
                    .or_default() += 1;
            }
        }
    }

    /// Adds `other`'s counts; copies a key only when it is new here.
    pub fn merge(&mut self, other: &Rollup) {
        for (k, v) in &other.events {
            match self.events.get_mut(k) {
                Some(n) => *n += v,
                None => {
                    self.events.insert(k.clone(), *v);
                }
            }
        }
        for (k, v) in &other.claims {
            match self.claims.get_mut(k) {
                Some(n) => *n += v,
                None => {
                    self.claims.insert(k.clone(), *v);
                }
            }
        }
        self.hunts_defined += other.hunts_defined;
        self.stock_changes += other.stock_changes;
        self.records += other.records;
    }

    /// [`Rollup::merge`] that takes `other`'s keys instead of copying them:
    /// what the journal's append does under its lock.
    pub fn absorb(&mut self, other: Rollup) {
        for (k, v) in other.events {
            *self.events.entry(k).or_default() += v;
        }
        for (k, v) in other.claims {
            *self.claims.entry(k).or_default() += v;
        }
        self.hunts_defined += other.hunts_defined;
        self.stock_changes += other.stock_changes;
        self.records += other.records;
    }

    /// Adds telemetry that retention removed from a block (each removed
    /// record still counts, in the second its block was committed).
    pub fn add_removed(&mut self, hunts: &[HuntTelemetry]) {
        for c in hunts {
            for (kind, n) in [("checkin", c.checkins), ("interaction", c.interactions)] {
                if n > 0 {
                    *self.events.entry((c.hunt.clone(), kind.to_owned())).or_default() += n;
                    self.records += n;
                }
            }
        }
    }

    /// What one journal entry adds.
    pub(crate) fn add_entry(&mut self, entry: &Entry<'_>) {
        match entry {
            Entry::Record(r) => self.add(r),
            Entry::RemovedTelemetry { hunts, .. } => self.add_removed(hunts),
            Entry::Removed { .. } => {}
        }
    }

    /// Whether it counts no record.
    pub fn is_empty(&self) -> bool {
        self.records == 0
    }
}

fn second_key(prefix: u8, second: i64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = prefix;
    // Flip the sign bit so negative times sort before positive ones.
    k[1..].copy_from_slice(&((second as u64) ^ (1 << 63)).to_be_bytes());
    k
}

pub(crate) fn second_of(ms: Millis) -> i64 {
    ms.div_euclid(1000)
}

const WATERMARK: &[u8] = b"w";

/// How often the writer rewrites the current second's rollup row. Between
/// rewrites the row accumulates in memory; the watermark written with each
/// row says what it includes, so a crash loses nothing (recovery catches up
/// from the watermark) and a live report lags by at most this much.
pub(crate) const ROW_REWRITE_INTERVAL: std::time::Duration = std::time::Duration::from_millis(200);

/// The writer's side: adds each commit's records to the projection.
#[derive(Default)]
pub(crate) struct Projector {
    /// The second being filled, its rollup so far, and the last sequence in it.
    current: Option<(i64, Rollup, Seq)>,
    /// The current row has records not yet written.
    dirty: bool,
    last_write: Option<std::time::Instant>,
}

impl Projector {
    /// Adds `delta` (records `first..=last`, committed at `at`) to the
    /// projection, staging writes into `batch` when a second ends or the
    /// current row is due for a rewrite. Returns whether it staged any:
    /// most commits stage none (rows are rewritten at most every
    /// [`ROW_REWRITE_INTERVAL`]), and sled charges an empty batch a log
    /// reservation and its IO threads a write, so the caller skips it.
    pub(crate) fn stage(
        &mut self,
        tree: &sled::Tree,
        batch: &mut sled::Batch,
        at: Millis,
        first: Seq,
        last: Seq,
        delta: &Rollup,
    ) -> sled::Result<bool> {
        let second = second_of(at);
        let mut staged = false;
        if self.current.as_ref().is_none_or(|(s, _, _)| *s != second) {
            // The previous second is complete: write its final row.
            staged |= self.write_row(batch);
            // Usually a new second; after a restart within the same second
            // the row already exists and is added to.
            let existing = match tree.get(second_key(b'r', second))? {
                Some(v) => codec::decode_value(&v).unwrap_or_default(),
                None => Rollup::default(),
            };
            if tree.get(second_key(b't', second))?.is_none() {
                batch.insert(&second_key(b't', second), &first.to_le_bytes());
                staged = true;
            }
            self.current = Some((second, existing, last));
        }
        let (_, rollup, seq) = self.current.as_mut().expect("set above");
        rollup.merge(delta);
        *seq = last;
        self.dirty = true;
        if self.last_write.is_none_or(|t| t.elapsed() >= ROW_REWRITE_INTERVAL) {
            staged |= self.write_row(batch);
        }
        Ok(staged)
    }

    /// Stages the current row (if it has unwritten records) with its
    /// watermark. Returns whether it did.
    pub(crate) fn write_row(&mut self, batch: &mut sled::Batch) -> bool {
        if let (true, Some((second, rollup, seq))) = (self.dirty, &self.current) {
            batch.insert(
                &second_key(b'r', *second),
                codec::encode_value(rollup).expect("rollups encode"),
            );
            batch.insert(WATERMARK, &seq.to_le_bytes());
            self.dirty = false;
            self.last_write = Some(std::time::Instant::now());
            return true;
        }
        false
    }
}

/// The last sequence the projection includes.
pub(crate) fn watermark(tree: &sled::Tree) -> sled::Result<Seq> {
    Ok(tree
        .get(WATERMARK)?
        .and_then(|v| Some(u64::from_le_bytes(v.as_ref().try_into().ok()?)))
        .unwrap_or(0))
}

/// Brings the projection up to the end of the journal (after a crash between
/// the writer's two batches, or for a journal written without it). Returns
/// the records added.
pub(crate) fn catch_up(journal: &BlockLog, audit: &sled::Tree) -> Result<u64, StoreError> {
    let from = watermark(audit)?;
    if from == 0 && !audit.is_empty() {
        // Rows without a watermark: a [`reset`] was interrupted. Start over.
        audit.clear()?;
    }
    let mut projector = Projector::default();
    let mut pending: Option<(Millis, Seq, Seq, Rollup)> = None;
    let mut added = 0u64;
    let flush = |p: (Millis, Seq, Seq, Rollup), projector: &mut Projector| -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        // Rebuilding: every chunk ends with its row written.
        let _staged = projector.stage(audit, &mut batch, p.0, p.1, p.2, &p.3)?;
        projector.write_row(&mut batch);
        audit.apply_batch(batch)?;
        Ok(())
    };
    let result = Entries::after(from).run(journal, |seq, at, entry| {
        added += u64::from(matches!(entry, Entry::Record(_)));
        match &mut pending {
            Some((t, _, last, r)) if *t == at => {
                *last = (*last).max(seq);
                r.add_entry(&entry);
            }
            _ => {
                if let Some(p) = pending.take() {
                    flush(p, &mut projector)?;
                }
                let mut r = Rollup::default();
                r.add_entry(&entry);
                let first = match entry {
                    Entry::Removed { first } => first,
                    _ => seq,
                };
                pending = Some((at, first, seq, r));
            }
        }
        Ok::<(), StoreError>(())
    });
    result.map_err(WalkError::flatten)?;
    if let Some(p) = pending.take() {
        flush(p, &mut projector)?;
    }
    Ok(added)
}

/// Empties the projection, watermark first, so that an interrupted reset
/// leaves rows without a watermark, which [`catch_up`] then discards.
pub(crate) fn reset(audit: &sled::Tree) -> sled::Result<()> {
    audit.remove(WATERMARK)?;
    audit.clear()
}

/// A rollup row decoded without copying its strings: the same bytes as a
/// [`Rollup`] (bincode writes a map as its length and its pairs, exactly as
/// it writes a sequence of pairs), fields in the same order.
#[derive(Deserialize)]
struct RollupRef<'a> {
    #[serde(borrow)]
    events: Vec<((&'a str, &'a str), u64)>,
    #[serde(borrow)]
    claims: Vec<((&'a str, &'a str, &'a str), u64)>,
    hunts_defined: u64,
    stock_changes: u64,
    records: u64,
}

/// Sums the rollups of the seconds in `[from, to)` (milliseconds; both are
/// taken to whole seconds: `from` rounded down, `to` rounded up).
///
/// An hour is 3,600 rows of up to a few hundred keys each: the rows are
/// decoded in place (no string copies) and summed in hash maps keyed by
/// borrowed strings; only the totals are copied out.
pub(crate) fn report(audit: &sled::Tree, from: Millis, to: Millis) -> Result<Rollup, StoreError> {
    use std::collections::HashMap;
    let mut total = Rollup::default();
    let (a, b) = (second_of(from), second_of(to.saturating_add(999)));
    if a >= b {
        return Ok(total);
    }
    let rows = audit
        .range(second_key(b'r', a)..second_key(b'r', b))
        .map(|item| item.map(|(_, v)| v))
        .collect::<Result<Vec<sled::IVec>, _>>()?;
    let mut events: HashMap<(&str, &str), u64> = HashMap::new();
    let mut claims: HashMap<(&str, &str, &str), u64> = HashMap::new();
    for v in &rows {
        let r: RollupRef<'_> =
            codec::decode_borrowed(v).map_err(|e| StoreError::Snapshot(format!("audit rollup: {e}")))?;
        for (k, n) in r.events {
            *events.entry(k).or_default() += n;
        }
        for (k, n) in r.claims {
            *claims.entry(k).or_default() += n;
        }
        total.hunts_defined += r.hunts_defined;
        total.stock_changes += r.stock_changes;
        total.records += r.records;
    }
    total.events = events
        .into_iter()
        .map(|((h, t), n)| ((h.to_owned(), t.to_owned()), n))
        .collect();
    total.claims = claims
        .into_iter()
        .map(|((h, s, o), n)| ((h.to_owned(), s.to_owned(), o.to_owned()), n))
        .collect();
    Ok(total)
}

/// [`report`] on a live journal: the rows hold the records up to the
/// watermark (the writer rewrites the current second's row only every
/// [`ROW_REWRITE_INTERVAL`]); the records after it, up to `upto` (the durable
/// sequence), are read from the journal and added, so a live report counts
/// every durable record. The tail is short: what one row interval, or the
/// time since the last commit, left unwritten.
pub(crate) fn report_live(
    journal: &BlockLog,
    audit: &sled::Tree,
    from: Millis,
    to: Millis,
    upto: Seq,
) -> Result<Rollup, StoreError> {
    // Rows and watermark from one moment: retry if the writer moved meanwhile.
    let (mut total, mark) = loop {
        let before = watermark(audit)?;
        let total = report(audit, from, to)?;
        if watermark(audit)? == before {
            break (total, before);
        }
    };
    if mark >= upto {
        return Ok(total);
    }
    let (a, b) = (second_of(from), second_of(to.saturating_add(999)));
    struct Done;
    let tail = Entries::after(mark).run(journal, |seq, at, entry| {
        if seq > upto {
            return Err(Done);
        }
        let s = second_of(at);
        if s >= a && s < b {
            total.add_entry(&entry);
        }
        Ok(())
    });
    match tail {
        Ok(_) | Err(WalkError::Visitor(Done)) => Ok(total),
        Err(WalkError::Damage(damage)) => Err(damage.into()),
    }
}

/// The first sequence committed at or after second `second_of(at)`, from the
/// sparse index: where an export from time `at` starts reading.
pub(crate) fn first_seq_at(audit: &sled::Tree, at: Millis) -> sled::Result<Option<Seq>> {
    let key = second_key(b't', second_of(at));
    match audit.range(key..second_key(b't', i64::MAX)).next() {
        Some(item) => {
            let (_, v) = item?;
            Ok(v.as_ref().try_into().ok().map(u64::from_le_bytes))
        }
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_decode_in_place_as_they_encode() {
        let mut r = Rollup::default();
        r.events.insert(("h".into(), "checkin".into()), 3);
        r.events.insert(("h2".into(), "clue_found".into()), 1);
        r.claims.insert(("h".into(), "mug".into(), "granted".into()), 2);
        r.claims.insert(("h".into(), "mug".into(), "out_of_stock".into()), 5);
        r.hunts_defined = 1;
        r.stock_changes = 4;
        r.records = 16;
        let bytes = codec::encode_value(&r).unwrap();
        let v: RollupRef<'_> = codec::decode_borrowed(&bytes).unwrap();
        assert_eq!(v.events, vec![(("h", "checkin"), 3), (("h2", "clue_found"), 1)]);
        assert_eq!(
            v.claims,
            vec![(("h", "mug", "granted"), 2), (("h", "mug", "out_of_stock"), 5)]
        );
        assert_eq!((v.hunts_defined, v.stock_changes, v.records), (1, 4, 16));
    }
}
