//! Block lines: the header fields against the block hash, the classes and
//! leaves against the leaf root, the line as the export writes it, the
//! chain link to the block before, retention's rules for compacted blocks,
//! and a recorded chain head.

use super::canonical::canonical_diff;
use super::line::{need, Line};
use super::open_block::OpenBlock;
use super::outcome::{Start, VerifyOutcome};
use super::problem::{fail, Fault, LineResult};
use super::state::Verifier;
use crate::chain::{Header, LeafRoots};
use crate::export::jsonl::{block_line, BlockProof};
use crate::hash::{hex, unhex, Hash};
use crate::time::format_ms;

/// A block line's proof fields, parsed and checked against each other.
struct Proof {
    telemetry_root: Option<Hash>,
    removed: u32,
    classes: Option<Vec<u8>>,
    leaves: Option<Vec<Option<Hash>>>,
}

/// The header fields and the hash of a block line.
fn parse_header(l: &mut Line) -> Result<(Header, Hash), Fault> {
    let first_seq = l.first_seq;
    let bad = |code: &'static str, reason: String| (first_seq, code, reason);
    let h = |v: Option<String>, name: &str| -> Result<Hash, Fault> {
        let s = need(v, name).map_err(|e| bad("bad_line", e))?;
        unhex(&s).ok_or_else(|| bad("bad_line", format!("{name} is not 64 hex digits")))
    };
    let header = Header {
        first_seq: need(l.first_seq, "first_seq").map_err(|e| bad("bad_line", e))?,
        count: need(l.count, "count").map_err(|e| bad("bad_line", e))?,
        payload_len: need(l.payload_len, "payload_len").map_err(|e| bad("bad_line", e))?,
        committed_at: need(l.committed_at_ms, "committed_at_ms").map_err(|e| bad("bad_line", e))?,
        prev_hash: h(l.prev_hash.take(), "prev_hash")?,
        leaf_root: h(l.leaf_root.take(), "leaf_root")?,
        payload_hash: h(l.payload_hash.take(), "payload_hash")?,
    };
    let hash = h(l.hash.take(), "hash")?;
    if header.count == 0 {
        return Err(bad("bad_block", "block of 0 records".into()));
    }
    if header.hash() != hash {
        return Err(bad(
            "block_altered",
            "block hash does not match its header fields (the block line was altered)".into(),
        ));
    }
    Ok((header, hash))
}

/// The per-position classes, `k`, `t` or `-`, one per record.
fn parse_classes(classes: Option<String>, header: &Header) -> Result<Option<Vec<u8>>, Fault> {
    let Some(c) = classes else {
        return Ok(None);
    };
    if c.len() != header.count as usize || !c.bytes().all(|b| matches!(b, b'k' | b't' | b'-')) {
        return fail(
            Some(header.first_seq),
            "bad_block",
            format!("classes must be {} characters of k, t and -", header.count),
        );
    }
    Ok(Some(c.into_bytes()))
}

/// The leaves of a block the export does not hold whole: they must agree
/// with the classes and give the block's leaf root.
fn parse_leaves(
    list: Vec<Option<String>>,
    classes: Option<&Vec<u8>>,
    header: &Header,
    telemetry_root: Option<&Hash>,
) -> Result<Vec<Option<Hash>>, Fault> {
    let seq = Some(header.first_seq);
    let Some(classes) = classes else {
        return fail(seq, "bad_block", "leaves without classes");
    };
    if list.len() != header.count as usize {
        return fail(
            seq,
            "bad_block",
            format!("block lists {} leaves for {} records", list.len(), header.count),
        );
    }
    let mut roots = LeafRoots::default();
    let mut leaves = Vec::with_capacity(list.len());
    for (i, (leaf, class)) in list.iter().zip(classes).enumerate() {
        let leaf = match (leaf, class) {
            (None, b'-') => None,
            (Some(l), b'k' | b't') => {
                Some(unhex(l).ok_or_else(|| (seq, "bad_line", "a leaf is not 64 hex digits".to_string()))?)
            }
            _ => return fail(seq, "bad_block", format!("leaf {i} does not agree with its class")),
        };
        if let Some(l) = leaf {
            roots.add(i as u32, &l, *class == b't');
        }
        leaves.push(leaf);
    }
    if roots.root(telemetry_root) != header.leaf_root {
        return fail(seq, "record_altered", "the block's leaves do not give its leaf_root");
    }
    Ok(leaves)
}

impl Verifier {
    pub(crate) fn block(&mut self, n: u64, text: &str, mut l: Line, out: &mut VerifyOutcome) -> LineResult {
        self.close_block()?;
        let (header, hash) = parse_header(&mut l)?;
        let proof = self.parse_proof(&mut l, &header)?;
        let seq = Some(header.first_seq);
        // Every field of the line is one of these, as the export writes it.
        let at_text = format_ms(header.committed_at);
        self.line_buf.clear();
        let line_proof = proof.classes.as_ref().map(|c| BlockProof {
            classes: std::str::from_utf8(c).expect("checked: k, t and -"),
            leaves: proof.leaves.as_deref(),
        });
        let compacted = proof.telemetry_root.as_ref().map(|t| (proof.removed, t));
        block_line(&mut self.line_buf, &header, &hash, &at_text, compacted, line_proof);
        if self.line_buf != text.as_bytes() {
            return fail(
                seq,
                "not_canonical",
                canonical_diff(text, &self.line_buf, "a block line", "the block's proven header"),
            );
        }
        if header.first_seq == 1 && header.prev_hash != [0u8; 32] {
            return fail(
                seq,
                "chain_broken",
                "the journal's first block (seq 1) must have a zero prev_hash",
            );
        }
        if let Some((_, to)) = &self.filters.to {
            if header.committed_at >= *to {
                return fail(
                    seq,
                    "filter_mismatch",
                    format!("block committed at {at_text}, at or after the export's to: an export stops before it"),
                );
            }
        }
        self.check_head(&header, &hash)?;
        self.check_link(&header, out)?;
        self.open = Some(OpenBlock {
            line: n,
            header,
            hash,
            at_text,
            classes: proof.classes,
            telemetry_root: proof.telemetry_root,
            removed: proof.removed,
            leaves: proof.leaves,
            seen: Vec::new(),
            defines_hunt: false,
        });
        Ok(())
    }

    /// The proof fields of a block line: classes, leaves and, of a compacted
    /// block, what retention removed.
    fn parse_proof(&self, l: &mut Line, header: &Header) -> Result<Proof, Fault> {
        let seq = Some(header.first_seq);
        let telemetry_root = match l.telemetry_root.take() {
            Some(t) => Some(unhex(&t).ok_or_else(|| (seq, "bad_line", "telemetry_root is not 64 hex digits".into()))?),
            None => None,
        };
        let removed = l.removed.unwrap_or(0);
        let classes = parse_classes(l.classes.take(), header)?;
        let dashes = classes.as_ref().map_or(0, |c| c.iter().filter(|b| **b == b'-').count());
        if removed > 0 || telemetry_root.is_some() || dashes > 0 {
            self.check_compacted(header, removed, telemetry_root.is_some(), classes.as_deref(), dashes)?;
        } else if classes.is_some() && l.leaves.is_none() {
            return fail(
                seq,
                "bad_block",
                "classes without leaves on a block that is not compacted",
            );
        }
        let leaves = match l.leaves.take() {
            None => None,
            Some(list) => Some(parse_leaves(list, classes.as_ref(), header, telemetry_root.as_ref())?),
        };
        Ok(Proof {
            telemetry_root,
            removed,
            classes,
            leaves,
        })
    }

    /// A compacted block: its fields agree, and retention could have made it.
    fn check_compacted(
        &self,
        header: &Header,
        removed: u32,
        has_telemetry_root: bool,
        classes: Option<&[u8]>,
        dashes: usize,
    ) -> LineResult {
        let seq = Some(header.first_seq);
        if removed == 0 || !has_telemetry_root || classes.is_none() {
            return fail(
                seq,
                "bad_block",
                "a compacted block needs removed, telemetry_root and classes together",
            );
        }
        if dashes != removed as usize {
            return fail(
                seq,
                "bad_block",
                format!("block says {removed} records were removed but its classes mark {dashes}"),
            );
        }
        if classes.is_some_and(|c| c.contains(&b't')) {
            return fail(seq, "bad_block", "a compacted block cannot still hold telemetry");
        }
        if let Some((wl, wf, wlast)) = self.whole_telemetry {
            // Retention compacts from the start of the journal and stops
            // for good at the first block it leaves whole (only blocks
            // that define a hunt are skipped).
            return fail(
                seq,
                "compaction_impossible",
                format!(
                    "block seq {}..{} is marked compacted, but block seq {wf}..{wlast} (line {wl}) before it still holds its telemetry and defines no hunt: retention never compacts a block after one it left whole, so these records were removed by whoever made this file",
                    header.first_seq,
                    header.last_seq()
                ),
            );
        }
        Ok(())
    }

    /// The block against the chain head the auditor recorded, if any.
    fn check_head(&mut self, header: &Header, hash: &Hash) -> LineResult {
        let Some(head) = self.head else {
            return Ok(());
        };
        let (seq, last) = (Some(header.first_seq), header.last_seq());
        if last == head.seq {
            if *hash != head.hash {
                return fail(
                    seq,
                    "head_mismatch",
                    format!(
                        "the block ending at seq {} has hash {}, but the head you recorded has {}: the journal was rewritten at or before seq {}",
                        head.seq,
                        hex(hash),
                        hex(&head.hash),
                        head.seq
                    ),
                );
            }
            self.head_found = true;
        } else if header.first_seq <= head.seq && head.seq < last {
            return fail(
                seq,
                "head_mismatch",
                format!(
                    "the head you recorded is a block ending at seq {}, but here seq {} lies inside block seq {}..{last}: the journal was rewritten",
                    head.seq, head.seq, header.first_seq
                ),
            );
        } else if header.first_seq == head.seq + 1 {
            if header.prev_hash != head.hash {
                return fail(
                    seq,
                    "head_mismatch",
                    format!(
                        "the block after seq {} has prev_hash {}, but the head you recorded has {}: the journal was rewritten at or before seq {}",
                        head.seq,
                        hex(&header.prev_hash),
                        hex(&head.hash),
                        head.seq
                    ),
                );
            }
            self.head_found = true;
        }
        Ok(())
    }

    /// The block against the one before it (or, for the first, the export's start).
    fn check_link(&self, header: &Header, out: &mut VerifyOutcome) -> LineResult {
        let seq = Some(header.first_seq);
        let Some((prev_hash, next)) = self.prev else {
            out.anchor_prev_hash = Some(header.prev_hash);
            out.start = self.start_of(header)?;
            return Ok(());
        };
        if self.filters.no_proof {
            // Blocks without matching records were left out: only order is checked.
            if header.first_seq < next {
                return fail(
                    seq,
                    "sequence_gap",
                    format!(
                        "block starts at seq {} but the previous block ended at {}",
                        header.first_seq,
                        next - 1
                    ),
                );
            }
            if header.first_seq == next && header.prev_hash != prev_hash {
                return fail(
                    seq,
                    "chain_broken",
                    "hash chain broken: prev_hash is not the previous block's hash",
                );
            }
            return Ok(());
        }
        if header.first_seq != next {
            return fail(
                seq,
                "sequence_gap",
                format!(
                    "sequence gap: expected a block starting at seq {next}, found {} (blocks missing, reordered or inserted)",
                    header.first_seq
                ),
            );
        }
        if header.prev_hash != prev_hash {
            return fail(
                seq,
                "chain_broken",
                "hash chain broken: prev_hash is not the previous block's hash",
            );
        }
        Ok(())
    }

    /// Checks where the first block of the export starts.
    fn start_of(&self, header: &Header) -> Result<Start, Fault> {
        if self.filters.no_proof {
            return Ok(Start::NotProven(
                "--no-proof leaves out blocks without matching records",
            ));
        }
        if !self.filters.time_ok(header.committed_at) {
            return fail(
                Some(header.first_seq),
                "filter_mismatch",
                "the first block was committed before the export's from: an export starts at the first block committed at or after it",
            );
        }
        if self.filters.from.is_some() {
            return Ok(Start::NotProven(
                "a from filter: the block before the first is not in the export",
            ));
        }
        let want = self.filters.after_seq.map_or(1, |s| s + 1);
        if header.first_seq > want {
            let rule = match self.filters.after_seq {
                None => "it has no after_seq filter, so its first block must hold seq 1".to_string(),
                Some(s) => format!("its after_seq is {s}, so its first block must hold seq {want}"),
            };
            return fail(
                Some(header.first_seq),
                "start_missing",
                format!(
                    "the export starts at seq {}, but {rule}: records {want}..{} were removed from its start",
                    header.first_seq,
                    header.first_seq - 1
                ),
            );
        }
        if header.last_seq() < want {
            return fail(
                Some(header.first_seq),
                "filter_mismatch",
                "block lies outside the export's sequence filters",
            );
        }
        Ok(match self.filters.after_seq {
            None | Some(0) => Start::Journal,
            Some(s) => Start::AfterSeq(s),
        })
    }
}
