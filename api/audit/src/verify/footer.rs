//! The footer line: its counts, range and last hash are what the export
//! holds; then the recorded chain head, if any, was reached.

use super::canonical::canonical_diff;
use super::line::Line;
use super::outcome::VerifyOutcome;
use super::problem::{fail, LineResult};
use super::state::Verifier;
use crate::export::jsonl::footer_line;
use crate::hash::hex;

impl Verifier {
    pub(crate) fn footer(&mut self, text: &str, l: Line, out: &mut VerifyOutcome) -> LineResult {
        let last_hash = self.prev.map(|p| p.0);
        if self.filters.no_proof {
            self.no_proof_range(&l)?;
        }
        let checks: [(&str, String, String); 5] = [
            (
                "records",
                format!("{:?}", l.records),
                format!("{:?}", Some(self.records)),
            ),
            ("blocks", format!("{:?}", l.blocks), format!("{:?}", Some(self.blocks))),
            (
                "first_seq",
                format!("{:?}", l.first_seq),
                format!("{:?}", self.range.map(|r| r.0)),
            ),
            (
                "last_seq",
                format!("{:?}", l.last_seq),
                format!("{:?}", self.range.map(|r| r.1)),
            ),
            (
                "last_hash",
                format!("{:?}", l.last_hash),
                format!("{:?}", last_hash.as_ref().map(hex)),
            ),
        ];
        for (name, said, found) in checks {
            if said != found {
                return fail(
                    self.last_record_seq,
                    "footer_mismatch",
                    format!("footer says {name} {said}, the export holds {found} (lines removed or added)"),
                );
            }
        }
        self.line_buf.clear();
        footer_line(
            &mut self.line_buf,
            self.records,
            self.blocks,
            self.range,
            last_hash.as_ref(),
        );
        if self.line_buf != text.as_bytes() {
            return fail(
                self.last_record_seq,
                "not_canonical",
                canonical_diff(text, &self.line_buf, "the footer", "the export's content"),
            );
        }
        self.head_reached(out)?;
        out.records = self.records;
        out.blocks = self.blocks;
        out.removed = self.removed;
        out.compacted_blocks = self.compacted_blocks;
        out.first_seq = self.range.map(|r| r.0);
        out.last_seq = self.range.map(|r| r.1);
        out.last_hash = last_hash;
        out.complete = !self.filters.by_content() && !self.filters.no_proof;
        Ok(())
    }

    /// With `no_proof`, blocks without matching records were left out: the
    /// footer's range (the one scanned) may be wider than the blocks
    /// present. Its start is known without a from filter.
    fn no_proof_range(&mut self, l: &Line) -> LineResult {
        if let (Some(fa), Some(fb)) = (l.first_seq, l.last_seq) {
            let start_ok = self.filters.from.is_some() || fa == self.filters.after_seq.map_or(1, |s| s + 1);
            if !start_ok {
                return fail(
                    Some(fa),
                    "start_missing",
                    format!(
                        "footer says the export scanned from seq {fa}, but its filters make it start at seq {}",
                        self.filters.after_seq.map_or(1, |s| s + 1)
                    ),
                );
            }
            if fa <= fb && self.range.is_none_or(|(a, b)| fa <= a && fb >= b) {
                self.range = Some((fa, fb));
            }
        }
        Ok(())
    }

    /// Given a recorded chain head, the export held its block (or the one after).
    fn head_reached(&self, out: &mut VerifyOutcome) -> LineResult {
        let Some(head) = self.head else {
            return Ok(());
        };
        if !self.head_found {
            let ends = self.prev.map(|p| p.1 - 1);
            return match ends {
                Some(e) if e > head.seq => fail(
                    self.last_record_seq,
                    "head_not_covered",
                    format!(
                        "the export does not hold the block ending at seq {} (nor the block after it): it cannot be checked against the head you recorded; export a range that covers seq {}",
                        head.seq, head.seq
                    ),
                ),
                _ => fail(
                    self.last_record_seq,
                    "head_not_reached",
                    format!(
                        "the export ends at {}, before the head you recorded at seq {}: its end was cut (or it was made with to or until_seq before the head)",
                        ends.map_or("its start (no blocks)".to_string(), |e| format!("seq {e}")),
                        head.seq
                    ),
                ),
            };
        }
        out.head = Some(head);
        Ok(())
    }
}
