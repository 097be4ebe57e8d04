//! The hash chain, as a verifier recomputes it: what a block's hash covers
//! and how its leaf root is built from its records' leaves.
//!
//! Every journal block has a 160-byte [`Header`] whose [`Header::hash`] is
//! the block's hash; each header names the hash of the block before it
//! (`prev_hash`), so the blocks form a chain. The header commits to its
//! records through `leaf_root`:
//!
//! ```text
//! leaf_i         = blake3(encoded record i)                      (leaf_hash)
//! kept_root      = blake3(over kept records i:      i u32 LE ++ leaf_i)
//! telemetry_root = blake3(over telemetry records i: i u32 LE ++ leaf_i)
//! leaf_root      = blake3(kept_root ++ telemetry_root)           (leaf_root)
//! ```
//!
//! An audit export carries the header fields and, for a block it does not
//! hold whole, every position's leaf: a verifier recomputes the leaves of
//! the records it holds ([`crate::record_leaf`]), the class roots
//! ([`ClassRoot`]), the leaf root, the block hash, and follows the chain.
//! This module has no I/O and knows no storage; the byte layout is in
//! `docs/DURABILITY.md` and pinned by the golden tests.
//!
//! ```
//! use trove_persistence::chain::{leaf_hash, leaf_root, ClassRoot, Header};
//!
//! // A block of one kept record (index 0) and no telemetry.
//! let mut kept = ClassRoot::default();
//! kept.add(0, &leaf_hash(b"record bytes"));
//! let header = Header {
//!     first_seq: 1,
//!     count: 1,
//!     payload_len: 16,
//!     committed_at: 1_777_000_000_000,
//!     prev_hash: [0; 32], // the first block of a journal
//!     leaf_root: leaf_root(&kept.finish(), &ClassRoot::default().finish()),
//!     payload_hash: [0; 32],
//! };
//! assert_eq!(header.bytes()[128..], header.hash());
//! ```

use trove_engine::{Millis, Seq};

/// A blake3 hash: block hashes, leaves, roots.
pub type Hash = [u8; 32];

/// The block magic, `TRVJ`.
pub(crate) const MAGIC: &[u8; 4] = b"TRVJ";
/// The journal block format version; a change to any layout here bumps it.
pub const FORMAT_VERSION: u8 = 2;
/// Bytes of a block header (its hash is the last 32).
pub const HEADER_LEN: usize = 160;

/// The hash of one encoded record (without its length prefix).
pub fn leaf_hash(record: &[u8]) -> Hash {
    *blake3::hash(record).as_bytes()
}

/// One record's place in its block's leaf root.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Leaf {
    /// Index of the record in its block.
    pub(crate) index: u32,
    /// The record is telemetry.
    pub(crate) telemetry: bool,
    /// Its leaf hash.
    pub(crate) hash: Hash,
}

/// Accumulates one class root: blake3 over `index ++ leaf` of its records.
/// Entries are gathered in a small buffer and handed to blake3 a few KiB at
/// a time: it hashes long inputs several times faster than 36-byte updates,
/// and this is on the journal writer's path, once per record.
pub struct ClassRoot {
    hasher: blake3::Hasher,
    buf: Vec<u8>,
}

impl Default for ClassRoot {
    fn default() -> Self {
        ClassRoot {
            hasher: blake3::Hasher::new(),
            buf: Vec::with_capacity(Self::BUF),
        }
    }
}

impl ClassRoot {
    const ENTRY: usize = 36;
    const BUF: usize = Self::ENTRY * 128;

    /// Adds the record at `index` in its block, with leaf hash `leaf` (in index order).
    pub fn add(&mut self, index: u32, leaf: &Hash) {
        if self.buf.len() + Self::ENTRY > Self::BUF {
            self.hasher.update(&self.buf);
            self.buf.clear();
        }
        self.buf.extend_from_slice(&index.to_le_bytes());
        self.buf.extend_from_slice(leaf);
    }

    /// The root of the records added so far (of none: blake3 of nothing).
    pub fn finish(&self) -> Hash {
        let mut h = self.hasher.clone();
        h.update(&self.buf);
        *h.finalize().as_bytes()
    }
}

/// (kept_root, telemetry_root) of a block's leaves.
pub(crate) fn class_roots(leaves: impl IntoIterator<Item = Leaf>) -> (Hash, Hash) {
    let (mut kept, mut telemetry) = (ClassRoot::default(), ClassRoot::default());
    for l in leaves {
        if l.telemetry {
            telemetry.add(l.index, &l.hash);
        } else {
            kept.add(l.index, &l.hash);
        }
    }
    (kept.finish(), telemetry.finish())
}

/// A block's leaf root from its two class roots.
pub fn leaf_root(kept_root: &Hash, telemetry_root: &Hash) -> Hash {
    let mut h = blake3::Hasher::new();
    h.update(kept_root);
    h.update(telemetry_root);
    *h.finalize().as_bytes()
}

/// The fields of a block header; enough to recompute its hash and follow the
/// chain without the payload (what an audit export carries per block).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The sequence of the block's first record.
    pub first_seq: Seq,
    /// Records the block was written with (retention never changes it).
    pub count: u32,
    /// Bytes of the payload as written.
    pub payload_len: u32,
    /// Wall-clock time of the group commit, in milliseconds.
    pub committed_at: Millis,
    /// Hash of the previous block (zeros for the journal's first).
    pub prev_hash: Hash,
    /// The records' leaf root (see the module docs).
    pub leaf_root: Hash,
    /// blake3 of the payload as written.
    pub payload_hash: Hash,
}

impl Header {
    /// The block hash these fields give.
    pub fn hash(&self) -> Hash {
        *blake3::hash(&self.unhashed()).as_bytes()
    }

    /// The 160 header bytes these fields give.
    pub fn bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[..128].copy_from_slice(&self.unhashed());
        out[128..].copy_from_slice(&self.hash());
        out
    }

    fn unhashed(&self) -> Vec<u8> {
        let mut head = Vec::with_capacity(128);
        head.extend_from_slice(MAGIC);
        head.push(FORMAT_VERSION);
        head.extend_from_slice(&[0; 3]);
        head.extend_from_slice(&self.first_seq.to_le_bytes());
        head.extend_from_slice(&self.count.to_le_bytes());
        head.extend_from_slice(&self.payload_len.to_le_bytes());
        head.extend_from_slice(&self.committed_at.to_le_bytes());
        head.extend_from_slice(&self.prev_hash);
        head.extend_from_slice(&self.leaf_root);
        head.extend_from_slice(&self.payload_hash);
        head
    }
}
