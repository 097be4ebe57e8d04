//! Closing a block at the next block line or the footer: a block held whole
//! has all its records and they give its leaf root; the records held are
//! those the filters select, where the export can prove it.

use super::open_block::OpenBlock;
use super::problem::{fail, Fault, LineResult};
use super::state::Verifier;
use trove_engine::Seq;

impl Verifier {
    pub(crate) fn close_block(&mut self) -> LineResult {
        let Some(b) = self.open.take() else {
            return Ok(());
        };
        let (first, last) = (b.header.first_seq, b.last());
        if b.leaves.is_none() {
            self.check_whole(&b)?;
        }
        // The range this block contributes, and completeness where provable.
        let lo = first.max(self.filters.after_seq.map_or(0, |s| s + 1));
        let hi = last.min(self.filters.until_seq.unwrap_or(Seq::MAX));
        if lo > hi {
            self.at_line = Some(b.line);
            return fail(
                Some(first),
                "filter_mismatch",
                "block lies outside the export's sequence filters",
            );
        }
        let time_ok = self.filters.time_ok(b.header.committed_at);
        if !self.filters.by_content() && !self.filters.no_proof {
            self.check_selected(&b, lo, hi, time_ok)?;
        } else if time_ok && b.leaves.is_some() {
            self.check_classes_selected(&b, lo, hi)?;
        }
        if self.whole_telemetry.is_none() && b.compactable_but_whole() {
            self.whole_telemetry = Some((b.line, first, last));
        }
        self.range = Some(match self.range {
            None => (lo, hi),
            Some((a, _)) => (a, hi),
        });
        self.blocks += 1;
        if b.removed > 0 {
            self.removed += u64::from(b.removed);
            self.compacted_blocks += 1;
        }
        self.prev = Some((b.hash, last + 1));
        Ok(())
    }

    /// A block without leaves: the export holds all its records, and they
    /// give its leaf root.
    fn check_whole(&mut self, b: &OpenBlock) -> LineResult {
        let (first, last) = (b.header.first_seq, b.last());
        let held = b.header.count - b.removed;
        if b.seen.len() != held as usize {
            let present = b.present(first, last);
            let missing = present.get(b.seen.len()).copied().unwrap_or(last);
            self.at_line = Some(b.seen.last().map_or(b.line, |s| s.0) + 1);
            return fail(
                Some(missing),
                "record_missing",
                format!(
                    "block seq {first}..{last} (line {}) holds {held} records but the export holds {}: record {missing} is missing",
                    b.line,
                    b.seen.len()
                ),
            );
        }
        if b.root_of_seen() != b.header.leaf_root {
            self.at_line = Some(b.seen.first().map_or(b.line, |s| s.0));
            return fail(
                Some(first),
                "record_altered",
                format!(
                    "the records of block seq {first}..{last} (lines {}..{}) do not give its leaf_root: one of them was altered",
                    b.seen.first().map_or(b.line, |s| s.0),
                    b.seen.last().map_or(b.line, |s| s.0)
                ),
            );
        }
        Ok(())
    }

    /// Without content filters: the records held are exactly those of
    /// `lo..=hi` still present (none when the block is outside the time window).
    fn check_selected(&mut self, b: &OpenBlock, lo: Seq, hi: Seq, time_ok: bool) -> LineResult {
        let (first, last) = (b.header.first_seq, b.last());
        let expect: Vec<Seq> = if time_ok { b.present(lo, hi) } else { Vec::new() };
        let got: Vec<Seq> = b.seen.iter().map(|s| s.1).collect();
        if got == expect {
            return Ok(());
        }
        let missing = expect.iter().find(|s| !got.contains(s)).copied();
        let extra = got.iter().find(|s| !expect.contains(s)).copied();
        self.at_line = Some(match (missing, extra) {
            (Some(m), _) => b.seen.iter().rfind(|s| s.1 < m).map_or(b.line, |s| s.0) + 1,
            (None, Some(x)) => b.seen.iter().find(|s| s.1 == x).map_or(b.line, |s| s.0),
            _ => b.line,
        });
        let fault: Fault = match (missing, extra) {
            (Some(m), _) => (
                Some(m),
                "record_missing",
                format!("record {m} is missing from block seq {first}..{last} (line {})", b.line),
            ),
            (None, Some(x)) => (
                Some(x),
                "filter_mismatch",
                format!("record {x} is outside the export's filters"),
            ),
            _ => (
                Some(first),
                "filter_mismatch",
                "records do not match the filters".into(),
            ),
        };
        Err(fault)
    }

    /// Content filters: a leaf says a record exists, not what it holds.
    /// Where the filters select every record of a class, a position of that
    /// class left out is a record removed.
    fn check_classes_selected(&mut self, b: &OpenBlock, lo: Seq, hi: Seq) -> LineResult {
        let (first, last) = (b.header.first_seq, b.last());
        for s in lo..=hi {
            let class = b.class(s).unwrap_or(b'-');
            if class != b'-' && self.filters.selects_class(class) && !b.seen.iter().any(|x| x.1 == s) {
                self.at_line = Some(b.seen.iter().rfind(|x| x.1 < s).map_or(b.line, |x| x.0) + 1);
                return fail(
                    Some(s),
                    "record_omitted",
                    format!(
                        "record {s} is missing from block seq {first}..{last} (line {}): the filters {} select every {} record, and the block's leaves show one at seq {s}",
                        b.line,
                        self.filters_json,
                        if class == b't' { "telemetry" } else { "kept" }
                    ),
                );
            }
        }
        Ok(())
    }
}
