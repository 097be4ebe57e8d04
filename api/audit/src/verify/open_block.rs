//! The block being checked and the records seen in it so far.

use crate::chain::{Header, LeafRoots};
use crate::hash::Hash;
use trove_engine::Seq;

/// The block being checked and the records seen in it.
pub(crate) struct OpenBlock {
    pub(crate) line: u64,
    pub(crate) header: Header,
    pub(crate) hash: Hash,
    /// `committed_at` as record lines of this block must spell it.
    pub(crate) at_text: String,
    /// Per position: `k` kept, `t` telemetry, `-` removed by retention.
    pub(crate) classes: Option<Vec<u8>>,
    /// Of a compacted block: stands for its removed records.
    pub(crate) telemetry_root: Option<Hash>,
    pub(crate) removed: u32,
    pub(crate) leaves: Option<Vec<Option<Hash>>>,
    /// (line, seq, leaf, telemetry) of its records.
    pub(crate) seen: Vec<(u64, Seq, Hash, bool)>,
    /// Whether a record seen defines a hunt.
    pub(crate) defines_hunt: bool,
}

impl OpenBlock {
    pub(crate) fn last(&self) -> Seq {
        self.header.last_seq()
    }

    pub(crate) fn class(&self, seq: Seq) -> Option<u8> {
        self.classes.as_ref().map(|c| c[(seq - self.header.first_seq) as usize])
    }

    pub(crate) fn is_removed(&self, seq: Seq) -> bool {
        self.class(seq) == Some(b'-')
    }

    /// The block's sequences the export can hold: all but the removed.
    pub(crate) fn present(&self, lo: Seq, hi: Seq) -> Vec<Seq> {
        (lo..=hi).filter(|s| !self.is_removed(*s)).collect()
    }

    /// The leaf root of the records seen (and the telemetry root, if compacted).
    pub(crate) fn root_of_seen(&self) -> Hash {
        let mut roots = LeafRoots::default();
        for &(_, seq, leaf, t) in &self.seen {
            roots.add((seq - self.header.first_seq) as u32, &leaf, t);
        }
        roots.root(self.telemetry_root.as_ref())
    }

    /// Whether the block still holds telemetry and is known not to define a
    /// hunt (every kept record of it was seen): retention would have
    /// compacted it before any later block.
    pub(crate) fn compactable_but_whole(&self) -> bool {
        if self.removed > 0 || self.defines_hunt {
            return false;
        }
        match &self.classes {
            None => self.leaves.is_none() && self.seen.iter().any(|s| s.3),
            Some(c) => {
                let kept = c.iter().filter(|b| **b == b'k').count();
                let kept_seen = self.seen.iter().filter(|s| !s.3).count();
                c.contains(&b't') && kept == kept_seen
            }
        }
    }
}
