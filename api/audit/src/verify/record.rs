//! Record lines: in their block, in order, re-encoded into the journal's
//! exact bytes and checked against their leaf and class, matching the
//! filters, and byte for byte as the export writes them.

use super::canonical::canonical_diff;
use super::line::{need, record_of, Line};
use super::open_block::OpenBlock;
use super::problem::{fail, LineResult};
use super::state::Verifier;
use crate::chain::record_leaf;
use crate::export::jsonl::record_line;
use crate::filter::type_name;
use trove_engine::{Record, Seq};

/// Where a record sits in its block: inside it, after the record before,
/// not at a removed position, and, in a block the export holds whole, the
/// next one.
fn check_position(b: &OpenBlock, seq: Seq) -> LineResult {
    let (first, last) = (b.header.first_seq, b.last());
    if seq < first || seq > last {
        return fail(
            Some(seq),
            "record_misplaced",
            format!("record outside its block (seq {first}..{last}): records reordered or moved"),
        );
    }
    if let Some(&(_, prev, _, _)) = b.seen.last() {
        if seq <= prev {
            return fail(
                Some(seq),
                "record_misplaced",
                format!("seq {seq} after seq {prev}: records out of order or duplicated"),
            );
        }
    }
    if b.is_removed(seq) {
        return fail(
            Some(seq),
            "record_misplaced",
            format!("record {seq} is where its block says retention removed a record"),
        );
    }
    if b.leaves.is_none() {
        // A whole block: its records must all be here, in order.
        let after = b.seen.last().map_or(first, |s| s.1 + 1);
        let expected = (after..=last).find(|s| !b.is_removed(*s)).unwrap_or(last + 1);
        if seq != expected {
            return fail(
                Some(expected),
                "record_missing",
                format!("record {expected} is missing or out of order: found seq {seq} in its place"),
            );
        }
    }
    Ok(())
}

impl Verifier {
    pub(crate) fn record(&mut self, n: u64, text: &str, l: Line) -> LineResult {
        let seq = l.seq;
        let Some(b) = self.open.as_mut() else {
            return fail(seq, "record_misplaced", "a record before any block line");
        };
        let seq = need(seq, "seq").map_err(|e| (None, "bad_line", e))?;
        check_position(b, seq)?;
        let first = b.header.first_seq;
        let record = record_of(l).map_err(|e| (Some(seq), "bad_line", e))?;
        let leaf = record_leaf(&record).map_err(|e| (Some(seq), "bad_line", e))?;
        let telemetry = record.is_telemetry();
        if let Some(class) = b.class(seq) {
            if class != if telemetry { b't' } else { b'k' } {
                return fail(
                    Some(seq),
                    "record_altered",
                    "record's type does not match its class in the block: its content was altered",
                );
            }
        }
        if let Some(leaves) = &b.leaves {
            if leaves[(seq - first) as usize] != Some(leaf) {
                return fail(
                    Some(seq),
                    "record_altered",
                    "record does not match its leaf hash in the block: its content was altered",
                );
            }
        }
        let view = record.view();
        let f = &self.filters;
        let in_seq = f.after_seq.is_none_or(|a| seq > a) && f.until_seq.is_none_or(|u| seq <= u);
        if !in_seq || !f.time_ok(b.header.committed_at) || !f.matches(&view) {
            return fail(
                Some(seq),
                "filter_mismatch",
                format!(
                    "record {seq} ({}) does not match the export's filters {}: an export holds only matching records (its header's filters were edited?)",
                    type_name(&view),
                    self.filters_json
                ),
            );
        }
        // Every field of the line as the export writes it from this record
        // and its block: nothing a reader sees escapes the proof.
        self.line_buf.clear();
        record_line(&mut self.line_buf, seq, &b.at_text, b.header.committed_at, &view);
        if self.line_buf != text.as_bytes() {
            return fail(
                Some(seq),
                "not_canonical",
                canonical_diff(
                    text,
                    &self.line_buf,
                    &format!("a {} record line", type_name(&view)),
                    "the proven record with its block's commit time",
                ),
            );
        }
        if matches!(record, Record::HuntDefined(_)) {
            if b.removed > 0 {
                return fail(
                    Some(seq),
                    "compaction_impossible",
                    format!(
                        "block seq {first}..{} is marked compacted but defines a hunt: retention never compacts such a block",
                        b.last()
                    ),
                );
            }
            b.defines_hunt = true;
        }
        b.seen.push((n, seq, leaf, telemetry));
        self.records += 1;
        self.last_record_seq = Some(seq);
        Ok(())
    }
}
