//! The journal as the audit product sees it: checked blocks in order, their
//! header fields, the leaf hash of each record, and the claims after a
//! sequence.
//!
//! This is the only module of the crate that uses trove-persistence's block
//! format (`codec::Block`, `codec::Header`, `leaf_hash`, `ClassRoot`,
//! `leaf_root`, `encode_record`, `decode_view`) and its ways to walk the
//! journal (`Archive::blocks`, `Store::blocks`, `scan::flatten`,
//! `Store::read_after`). Everything else goes through the small types and
//! functions here, so a change in how persistence exposes its blocks touches
//! only this file.

use crate::error::ExportError;
use crate::hash::Hash;
use trove_engine::{ClaimRequest, Millis, Outcome, Record, RecordView, Seq};
use trove_persistence::codec;
use trove_persistence::{Archive, Item, Store, StoreError};

/// The fields of a block header: what its hash covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) first_seq: Seq,
    pub(crate) count: u32,
    pub(crate) payload_len: u32,
    pub(crate) committed_at: Millis,
    pub(crate) prev_hash: Hash,
    pub(crate) leaf_root: Hash,
    pub(crate) payload_hash: Hash,
}

impl Header {
    /// The block hash these fields give.
    pub(crate) fn hash(&self) -> Hash {
        codec::Header {
            first_seq: self.first_seq,
            count: self.count,
            payload_len: self.payload_len,
            committed_at: self.committed_at,
            prev_hash: self.prev_hash,
            leaf_root: self.leaf_root,
            payload_hash: self.payload_hash,
        }
        .hash()
    }

    /// The last sequence of the block.
    pub(crate) fn last_seq(&self) -> Seq {
        self.first_seq + u64::from(self.count) - 1
    }
}

/// One block of the journal, checked (its hash, chain link and framing) by
/// the walk that hands it out. Handed to the visitor of [`BlockSource::walk`].
pub struct Block<'b, 'a> {
    inner: &'b codec::Block<'a>,
}

impl<'a> Block<'_, 'a> {
    /// Its header fields.
    pub(crate) fn header(&self) -> Header {
        let h = self.inner.header();
        Header {
            first_seq: h.first_seq,
            count: h.count,
            payload_len: h.payload_len,
            committed_at: h.committed_at,
            prev_hash: h.prev_hash,
            leaf_root: h.leaf_root,
            payload_hash: h.payload_hash,
        }
    }

    pub(crate) fn first_seq(&self) -> Seq {
        self.inner.first_seq
    }

    pub(crate) fn last_seq(&self) -> Seq {
        self.inner.first_seq + u64::from(self.inner.count) - 1
    }

    pub(crate) fn committed_at(&self) -> Millis {
        self.inner.committed_at
    }

    pub(crate) fn hash(&self) -> Hash {
        self.inner.hash
    }

    /// Records the block still holds (all but those retention removed).
    pub(crate) fn held(&self) -> u32 {
        self.inner.held()
    }

    /// Of a compacted block: (records removed, telemetry root).
    pub(crate) fn compacted(&self) -> Option<(u32, Hash)> {
        self.inner
            .compacted
            .as_ref()
            .map(|c| (self.inner.count - c.kept, c.telemetry_root))
    }

    /// The encoded records the block holds, with their sequence numbers.
    pub(crate) fn bodies(&self) -> impl Iterator<Item = Result<(Seq, &'a [u8]), ExportError>> + 'a {
        self.inner
            .bodies()
            .map(|item| item.map_err(|(seq, reason)| ExportError::corrupt(seq, reason)))
    }

    /// The class of each position (`k` a kept record, `t` telemetry, `-`
    /// telemetry retention removed) and the leaf of each record still held.
    pub(crate) fn leaves(&self, classes: &mut String, leaves: &mut Vec<Option<Hash>>) -> Result<(), ExportError> {
        classes.clear();
        leaves.clear();
        for r in self.inner.raw_records() {
            let r = r.map_err(|(seq, reason)| ExportError::corrupt(seq, reason))?;
            let index = (r.seq - self.inner.first_seq) as usize;
            while leaves.len() < index {
                classes.push('-');
                leaves.push(None);
            }
            classes.push(if r.telemetry { 't' } else { 'k' });
            leaves.push(Some(codec::leaf_hash(r.body)));
        }
        while leaves.len() < self.inner.count as usize {
            classes.push('-');
            leaves.push(None);
        }
        Ok(())
    }
}

/// Decodes one record body of a block without copying its strings.
pub(crate) fn decode(seq: Seq, body: &[u8]) -> Result<RecordView<'_>, ExportError> {
    codec::decode_view(body).map_err(|e| ExportError::corrupt(seq, e.to_string()))
}

/// The leaf hash of a record: of its exact journal bytes.
pub(crate) fn record_leaf(record: &Record, buf: &mut Vec<u8>) -> Result<Hash, String> {
    buf.clear();
    codec::encode_record(record, buf).map_err(|e| e.to_string())?;
    Ok(codec::leaf_hash(&buf[4..]))
}

/// The leaf root of a block from its records' leaves, kept and telemetry
/// apart (as the journal builds it).
#[derive(Default)]
pub(crate) struct LeafRoots {
    kept: codec::ClassRoot,
    telemetry: codec::ClassRoot,
}

impl LeafRoots {
    /// Adds the leaf at position `index` of the block.
    pub(crate) fn add(&mut self, index: u32, leaf: &Hash, telemetry: bool) {
        if telemetry {
            self.telemetry.add(index, leaf);
        } else {
            self.kept.add(index, leaf);
        }
    }

    /// The leaf root; a compacted block's stored `telemetry_root` stands for
    /// its removed telemetry.
    pub(crate) fn root(&self, telemetry_root: Option<&Hash>) -> Hash {
        let telemetry = telemetry_root.copied().unwrap_or_else(|| self.telemetry.finish());
        codec::leaf_root(&self.kept.finish(), &telemetry)
    }
}

/// Where an export reads blocks from: an offline [`Archive`] or the server's
/// [`Store`]. Both hand out the same checked blocks, so both export the
/// same lines for the same filters.
pub trait BlockSource {
    /// The first sequence of the first block committed at or after `at`
    /// (the time index's answer), or `None` when every block is earlier.
    fn first_seq_at(&self, at: Millis) -> Result<Option<Seq>, StoreError>;

    /// Visits the blocks from the one holding `from`, in order, while
    /// `visit` returns `Ok(true)`.
    fn walk(
        &self,
        from: Seq,
        visit: &mut dyn FnMut(&Block<'_, '_>) -> Result<bool, ExportError>,
    ) -> Result<(), ExportError>;
}

impl BlockSource for Archive {
    fn first_seq_at(&self, at: Millis) -> Result<Option<Seq>, StoreError> {
        Archive::first_seq_at(self, at)
    }

    fn walk(
        &self,
        from: Seq,
        visit: &mut dyn FnMut(&Block<'_, '_>) -> Result<bool, ExportError>,
    ) -> Result<(), ExportError> {
        trove_persistence::scan::flatten(self.blocks(from, |b| visit(&Block { inner: b })))
    }
}

impl BlockSource for Store {
    fn first_seq_at(&self, at: Millis) -> Result<Option<Seq>, StoreError> {
        Store::first_seq_at(self, at)
    }

    fn walk(
        &self,
        from: Seq,
        visit: &mut dyn FnMut(&Block<'_, '_>) -> Result<bool, ExportError>,
    ) -> Result<(), ExportError> {
        trove_persistence::scan::flatten(self.blocks(from, |b| visit(&Block { inner: b })))
    }
}

/// One journal position as the claim trail reads it.
pub(crate) enum TrailItem {
    /// A decided claim.
    Claim(ClaimRequest, Outcome),
    /// Any other record, or records retention removed: a page may end here.
    Other,
    /// What retention removed from a compacted block, reported at its first
    /// sequence: a page never resumes from here.
    RemovedTelemetry,
}

/// Up to `limit` journal positions after `after`, with their commit times.
pub(crate) fn read_after(store: &Store, after: Seq, limit: usize) -> Result<Vec<(Seq, Millis, TrailItem)>, StoreError> {
    Ok(store
        .read_after(after, limit)?
        .into_iter()
        .map(|(seq, at, item)| {
            let item = match item {
                Item::Record(Record::Claim { request, outcome }) => TrailItem::Claim(request, outcome),
                Item::RemovedTelemetry { .. } => TrailItem::RemovedTelemetry,
                _ => TrailItem::Other,
            };
            (seq, at, item)
        })
        .collect())
}
