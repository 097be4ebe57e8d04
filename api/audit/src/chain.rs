//! The journal as the audit product sees it: checked blocks in order, their
//! header fields, the leaf hash of each record, and the claims after a
//! sequence.
//!
//! This is the only module of the crate that talks to trove-persistence about
//! blocks. It uses only persistence's public reading API: the checked walk
//! (`Archive::blocks`, `Store::blocks` handing out [`CheckedBlock`]s, with
//! `WalkError`), the hash-chain math of `trove_persistence::chain`
//! (`Header::hash`, `ClassRoot`, `leaf_root`), `record_leaf`, and
//! `Store::read_after`. It never sees a byte layout or bincode. Everything
//! else in the crate goes through the small types and functions here.

use crate::error::ExportError;
use crate::hash::Hash;
use trove_engine::{ClaimRequest, Millis, Outcome, Record, RecordView, Seq};
use trove_persistence::chain::{self, ClassRoot};
use trove_persistence::{Archive, BlockRecord, CheckedBlock, Item, Store, StoreError, WalkError};

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
        chain::Header {
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
    inner: &'b CheckedBlock<'a>,
}

/// One record a block holds: its sequence and class, not yet decoded.
pub(crate) type Body<'a> = BlockRecord<'a>;

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
        self.inner.first_seq()
    }

    pub(crate) fn last_seq(&self) -> Seq {
        self.inner.last_seq()
    }

    pub(crate) fn committed_at(&self) -> Millis {
        self.inner.committed_at()
    }

    pub(crate) fn hash(&self) -> Hash {
        self.inner.hash()
    }

    /// Records the block still holds (all but those retention removed).
    pub(crate) fn held(&self) -> u32 {
        self.inner.held()
    }

    /// Of a compacted block: (records removed, telemetry root).
    pub(crate) fn compacted(&self) -> Option<(u32, Hash)> {
        self.inner.removed()
    }

    /// The records the block holds, with their sequence numbers.
    pub(crate) fn bodies(&self) -> impl Iterator<Item = Result<(Seq, Body<'a>), ExportError>> + 'a {
        self.inner
            .records()
            .map(|r| r.map(|r| (r.seq(), r)).map_err(ExportError::from))
    }

    /// The class of each position (`k` a kept record, `t` telemetry, `-`
    /// telemetry retention removed) and the leaf of each record still held.
    pub(crate) fn leaves(&self, classes: &mut String, leaves: &mut Vec<Option<Hash>>) -> Result<(), ExportError> {
        classes.clear();
        leaves.clear();
        let first = self.inner.first_seq();
        for r in self.inner.records() {
            let r = r?;
            let index = (r.seq() - first) as usize;
            while leaves.len() < index {
                classes.push('-');
                leaves.push(None);
            }
            classes.push(if r.telemetry() { 't' } else { 'k' });
            leaves.push(Some(r.leaf()));
        }
        while leaves.len() < self.inner.count() as usize {
            classes.push('-');
            leaves.push(None);
        }
        Ok(())
    }
}

/// Decodes one record of a block without copying its strings.
pub(crate) fn decode(_seq: Seq, body: Body<'_>) -> Result<RecordView<'_>, ExportError> {
    Ok(body.view()?)
}

/// The leaf hash of a record given as data: of its exact journal bytes.
pub(crate) fn record_leaf(record: &Record) -> Result<Hash, String> {
    trove_persistence::record_leaf(record)
}

/// The leaf root of a block from its records' leaves, kept and telemetry
/// apart (as the journal builds it).
#[derive(Default)]
pub(crate) struct LeafRoots {
    kept: ClassRoot,
    telemetry: ClassRoot,
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
        chain::leaf_root(&self.kept.finish(), &telemetry)
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

/// Both journal owners walk the same way: their `blocks`, each block wrapped,
/// the walk's two errors flattened into one.
macro_rules! block_source {
    ($owner:ty) => {
        impl BlockSource for $owner {
            fn first_seq_at(&self, at: Millis) -> Result<Option<Seq>, StoreError> {
                <$owner>::first_seq_at(self, at)
            }

            fn walk(
                &self,
                from: Seq,
                visit: &mut dyn FnMut(&Block<'_, '_>) -> Result<bool, ExportError>,
            ) -> Result<(), ExportError> {
                self.blocks(from, |b| visit(&Block { inner: b }))
                    .map_err(WalkError::flatten)
            }
        }
    };
}

block_source!(Archive);
block_source!(Store);

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
