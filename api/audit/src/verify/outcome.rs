//! What verify concludes about an export: [`VerifyOutcome`], how its start
//! is anchored ([`Start`]), and the lines `trove audit verify` prints.

use super::head::ChainHead;
use super::problem::Problem;
use crate::hash::{hex, Hash};
use serde_json::Value;
use trove_engine::Seq;

/// How the start of an export is anchored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Start {
    /// No blocks.
    #[default]
    Empty,
    /// The first block holds seq 1 and has a zero `prev_hash`.
    Journal,
    /// The first block holds `after_seq + 1`.
    AfterSeq(Seq),
    /// Not provable from the export (a `from` filter, `--no-proof`).
    NotProven(&'static str),
}

/// The result of [`verify_export`](crate::verify_export).
#[derive(Clone, Debug, Default)]
pub struct VerifyOutcome {
    /// Record lines checked.
    pub records: u64,
    /// Block lines checked.
    pub blocks: u64,
    /// The sequence range the export covers.
    pub first_seq: Option<Seq>,
    /// The end of that range.
    pub last_seq: Option<Seq>,
    /// The chain's anchors: the first block's `prev_hash`, the last block's `hash`.
    pub anchor_prev_hash: Option<Hash>,
    /// The last block's hash.
    pub last_hash: Option<Hash>,
    /// The export's filters, as its header gives them.
    pub filters: Value,
    /// The cluster partition the header names, if any.
    pub partition: Option<u32>,
    /// Whether the export proves it holds every record of its range.
    pub complete: bool,
    /// How its start is anchored.
    pub start: Start,
    /// The recorded chain head the export was checked against (and matched).
    pub head: Option<ChainHead>,
    /// Telemetry records absent from blocks marked compacted (the chain
    /// proves where they were and how many).
    pub removed: u64,
    /// Blocks marked compacted.
    pub compacted_blocks: u64,
    /// The first problem, if any: then nothing else here is meaningful.
    pub problem: Option<Problem>,
}

impl VerifyOutcome {
    /// Whether the export passed every check.
    pub fn ok(&self) -> bool {
        self.problem.is_none()
    }

    /// The stable code of the problem found (`record_missing`, …), if any.
    pub fn code(&self) -> Option<&'static str> {
        self.problem.as_ref().map(|p| p.code)
    }

    /// The lines `trove audit verify` prints.
    pub fn render(&self) -> String {
        let mut s = String::new();
        if let Some(p) = &self.problem {
            match p.seq {
                Some(seq) => s.push_str(&format!("line {} (seq {seq}): {}\n", p.line, p.reason)),
                None => s.push_str(&format!("line {}: {}\n", p.line, p.reason)),
            }
            s.push_str(&format!("verify: FAILED ({})\n", p.code));
            return s;
        }
        let range = match (self.first_seq, self.last_seq) {
            (Some(a), Some(b)) => format!("seq {a}..{b}"),
            _ => "no sequence range".into(),
        };
        s.push_str(&format!(
            "OK: {} records in {} blocks, {range}, intact\n",
            self.records, self.blocks
        ));
        self.render_chain(&mut s);
        self.render_start(&mut s);
        self.render_head(&mut s);
        self.render_coverage(&mut s, &range);
        s
    }

    fn render_chain(&self, s: &mut String) {
        if let (Some(p), Some(h)) = (self.anchor_prev_hash, self.last_hash) {
            s.push_str(&format!(
                "chain: first block's prev_hash {} (block before seq {}), last block hash {} (through seq {})\n",
                hex(&p),
                self.first_seq.unwrap_or(0),
                hex(&h),
                self.last_seq.unwrap_or(0)
            ));
        }
        let no_filters = self.filters.as_object().is_none_or(|m| m.is_empty());
        s.push_str(&format!(
            "filters: {} (every record shown matches them)\n",
            if no_filters {
                "none".to_string()
            } else {
                self.filters.to_string()
            }
        ));
    }

    fn render_start(&self, s: &mut String) {
        match &self.start {
            Start::Empty => {}
            Start::Journal => s.push_str(
                "start: the start of the journal (the first block holds seq 1 and has a zero prev_hash)\n",
            ),
            Start::AfterSeq(a) => s.push_str(&format!(
                "start: the block holding seq {} (after_seq {a}): nothing after seq {a} is missing before it\n",
                a + 1
            )),
            Start::NotProven(why) => s.push_str(&format!(
                "start: not proven ({why}): blocks before seq {} could have been left out; check its first prev_hash against the block before it (an earlier export), or export with --after-seq\n",
                self.first_seq.unwrap_or(0)
            )),
        }
    }

    fn render_head(&self, s: &mut String) {
        match &self.head {
            Some(h) => {
                s.push_str(&format!(
                    "head: the block ending at seq {} has the hash you recorded ({}): this export is the journal you recorded through seq {}",
                    h.seq,
                    hex(&h.hash),
                    h.seq
                ));
                match self.last_seq {
                    Some(b) if b > h.seq => s.push_str(&format!(
                        "; seq {}..{b} is newer than that head (a cut after seq {} is not detectable)\n",
                        h.seq + 1,
                        h.seq
                    )),
                    _ => s.push('\n'),
                }
            }
            None => s.push_str(
                "end: not proven: removing the last blocks (and rewriting the footer) is detectable only against a chain head recorded earlier: trove audit verify FILE --head SEQ:HASH\n",
            ),
        }
    }

    fn render_coverage(&self, s: &mut String, range: &str) {
        if self.removed > 0 {
            s.push_str(&format!(
                "retention: {} telemetry records were removed from {} compacted blocks; their blocks' hashes, counts and telemetry roots are intact (the chain proves they were checkins or interactions, how many and where, not their content, nor that retention rather than whoever made this file removed them; no claim, clue find, hunt definition or stock change can be hidden this way)\n",
                self.removed, self.compacted_blocks
            ));
        }
        if self.complete {
            s.push_str(&format!(
                "complete: every record of {range} (within its time window) is present and authentic{}\n",
                if self.removed > 0 {
                    ", but for the removed telemetry above"
                } else {
                    ""
                }
            ));
        } else {
            s.push_str(&format!(
                "filtered ({}): every record present is authentic, in place in the hash chain and matches the filters, but this export cannot prove that no other matching record was left out\n",
                self.filters
            ));
        }
    }
}
