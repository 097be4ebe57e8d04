//! The lines of a JSONL export, written by hand to keep the documented key
//! order and spelling: the header, block lines with their proofs, record
//! lines and the footer. The export writes them; the verifier regenerates
//! them from what it proved and compares bytes.

use crate::chain::Header;
use crate::filter::type_name;
use crate::hash::{hex, Hash};
use serde_json::value::RawValue;
use serde_json::Value;
use trove_engine::{EventKindView, Millis, RecordView, Seq};

/// The `format` of an export's header line.
pub const FORMAT_NAME: &str = "trove-export";
/// The `version` of an export's header line.
/// 2: journal format 2 (leaf roots split by class; compacted blocks).
pub const FORMAT_VERSION: u64 = 2;

fn push_json_str(buf: &mut Vec<u8>, s: &str) {
    serde_json::to_writer(&mut *buf, s).expect("writing to a Vec");
}

/// Appends the decimal digits of `n` (no allocation: this runs per record).
pub(crate) fn push_u64(buf: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[i..]);
}

pub(crate) fn push_i64(buf: &mut Vec<u8>, n: i64) {
    if n < 0 {
        buf.push(b'-');
    }
    push_u64(buf, n.unsigned_abs());
}

fn push_hash_field(buf: &mut Vec<u8>, name: &str, h: &Hash) {
    buf.extend_from_slice(b",\"");
    buf.extend_from_slice(name.as_bytes());
    buf.extend_from_slice(b"\":\"");
    buf.extend_from_slice(hex(h).as_bytes());
    buf.push(b'"');
}

/// Whether `text` is a JSON document that a reader gives back byte for byte
/// as a raw value (customs from the API always are).
pub(crate) fn is_raw_json(text: &str) -> bool {
    serde_json::from_str::<&RawValue>(text).is_ok_and(|r| r.get().len() == text.len())
}

/// One JSONL record line (without the newline).
pub(crate) fn record_line(buf: &mut Vec<u8>, seq: Seq, at_text: &str, at: Millis, r: &RecordView<'_>) {
    buf.extend_from_slice(b"{\"type\":\"record\",\"seq\":");
    push_u64(buf, seq);
    buf.extend_from_slice(b",\"committed_at\":\"");
    buf.extend_from_slice(at_text.as_bytes());
    buf.extend_from_slice(b"\",\"committed_at_ms\":");
    push_i64(buf, at);
    buf.extend_from_slice(b",\"record_type\":\"");
    buf.extend_from_slice(type_name(r).as_bytes());
    buf.push(b'"');
    let field = |buf: &mut Vec<u8>, name: &str, v: &str| {
        buf.extend_from_slice(b",\"");
        buf.extend_from_slice(name.as_bytes());
        buf.extend_from_slice(b"\":");
        push_json_str(buf, v);
    };
    match r {
        RecordView::Claim { request, outcome } => {
            field(buf, "claim_id", request.claim_id);
            field(buf, "player", request.player);
            field(buf, "hunt", request.hunt);
            field(buf, "sku", request.sku);
            if is_raw_json(request.customs) {
                buf.extend_from_slice(b",\"customs\":");
                buf.extend_from_slice(request.customs.as_bytes());
            } else {
                // Not JSON (never from the API): kept as a string instead.
                field(buf, "customs_text", request.customs);
            }
            field(buf, "status", outcome.status());
            if let Some(reason) = outcome.reason() {
                field(buf, "reason", reason.code());
            }
        }
        RecordView::Event(e) => {
            field(buf, "player", e.player);
            field(buf, "hunt", e.hunt);
            match e.kind {
                EventKindView::ClueFound { clue } => field(buf, "clue", clue),
                EventKindView::Checkin { location } => field(buf, "location", location),
                EventKindView::Interaction { kind } => field(buf, "kind", kind),
            }
        }
        RecordView::StockAdded { hunt, sku, added } => {
            field(buf, "hunt", hunt);
            field(buf, "sku", sku);
            buf.extend_from_slice(b",\"added\":");
            push_u64(buf, *added);
        }
        RecordView::HuntDefined(def) => {
            field(buf, "hunt", &def.id);
            // The definition's own fields: id, name, opens_at, closes_at, clues, products.
            let def_json = serde_json::to_vec(def.as_ref()).expect("hunt definitions encode");
            buf.push(b',');
            buf.extend_from_slice(&def_json[1..def_json.len() - 1]);
        }
    }
    buf.push(b'}');
}

/// What a block line carries besides the header fields: per-position classes
/// and leaves when the export does not hold the whole block.
pub(crate) struct BlockProof<'a> {
    pub(crate) classes: &'a str,
    pub(crate) leaves: Option<&'a [Option<Hash>]>,
}

/// A block line (without the newline) from the header fields: what the
/// export writes, and what verify regenerates to compare with what it reads.
/// `compacted` is (records removed, telemetry root).
pub(crate) fn block_line(
    buf: &mut Vec<u8>,
    h: &Header,
    hash: &Hash,
    at_text: &str,
    compacted: Option<(u32, &Hash)>,
    proof: Option<BlockProof<'_>>,
) {
    buf.extend_from_slice(b"{\"type\":\"block\",\"first_seq\":");
    push_u64(buf, h.first_seq);
    buf.extend_from_slice(b",\"count\":");
    push_u64(buf, u64::from(h.count));
    buf.extend_from_slice(b",\"payload_len\":");
    push_u64(buf, u64::from(h.payload_len));
    buf.extend_from_slice(b",\"committed_at\":\"");
    buf.extend_from_slice(at_text.as_bytes());
    buf.extend_from_slice(b"\",\"committed_at_ms\":");
    push_i64(buf, h.committed_at);
    for (name, v) in [
        ("prev_hash", &h.prev_hash),
        ("leaf_root", &h.leaf_root),
        ("payload_hash", &h.payload_hash),
        ("hash", hash),
    ] {
        push_hash_field(buf, name, v);
    }
    if let Some((removed, telemetry_root)) = compacted {
        buf.extend_from_slice(b",\"removed\":");
        push_u64(buf, u64::from(removed));
        push_hash_field(buf, "telemetry_root", telemetry_root);
    }
    if let Some(proof) = proof {
        push_proof(buf, &proof);
    }
    buf.push(b'}');
}

fn push_proof(buf: &mut Vec<u8>, proof: &BlockProof<'_>) {
    buf.extend_from_slice(b",\"classes\":\"");
    buf.extend_from_slice(proof.classes.as_bytes());
    buf.push(b'"');
    if let Some(leaves) = proof.leaves {
        buf.extend_from_slice(b",\"leaves\":[");
        for (i, l) in leaves.iter().enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            match l {
                Some(l) => {
                    buf.push(b'"');
                    buf.extend_from_slice(hex(l).as_bytes());
                    buf.push(b'"');
                }
                None => buf.extend_from_slice(b"null"),
            }
        }
        buf.push(b']');
    }
}

/// The header line (without the newline).
/// A cluster partition's export names it last: `,"partition":N`.
pub(crate) fn header_line(buf: &mut Vec<u8>, filters: &Value, generated_at: &str, partition: Option<u32>) {
    buf.extend_from_slice(
        format!(
            "{{\"type\":\"header\",\"format\":\"{FORMAT_NAME}\",\"version\":{FORMAT_VERSION},\"filters\":{filters},\"generated_at\":\"{generated_at}\""
        )
        .as_bytes(),
    );
    if let Some(p) = partition {
        buf.extend_from_slice(format!(",\"partition\":{p}").as_bytes());
    }
    buf.push(b'}');
}

/// The footer line (without the newline).
pub(crate) fn footer_line(
    buf: &mut Vec<u8>,
    records: u64,
    blocks: u64,
    range: Option<(Seq, Seq)>,
    last_hash: Option<&Hash>,
) {
    let opt = |v: Option<Seq>| v.map_or("null".to_string(), |s| s.to_string());
    buf.extend_from_slice(
        format!(
            "{{\"type\":\"footer\",\"records\":{records},\"blocks\":{blocks},\"first_seq\":{},\"last_seq\":{},\"last_hash\":{}}}",
            opt(range.map(|r| r.0)),
            opt(range.map(|r| r.1)),
            last_hash.map_or("null".to_string(), |h| format!("\"{}\"", hex(h)))
        )
        .as_bytes(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_format() {
        for n in [0i64, 7, 10, 1795908678744, -5, i64::MIN, i64::MAX] {
            let mut b = Vec::new();
            push_i64(&mut b, n);
            assert_eq!(String::from_utf8(b).unwrap(), n.to_string());
        }
        let mut b = Vec::new();
        push_u64(&mut b, u64::MAX);
        assert_eq!(String::from_utf8(b).unwrap(), u64::MAX.to_string());
    }
}
