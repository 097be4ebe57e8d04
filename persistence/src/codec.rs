//! The journal's on-disk format. The only module that knows bincode.
//!
//! A journal *block* is one sled value holding consecutive records:
//!
//! ```text
//! offset size  field
//! 0      4     magic "TRVJ"
//! 4      1     format version (2)
//! 5      3     reserved, zero
//! 8      8     first_seq       u64 LE  (also the sled key, big-endian)
//! 16     4     count           u32 LE  (records in the block)
//! 20     4     payload_len     u32 LE
//! 24     8     committed_at_ms i64 LE  (wall clock at group commit)
//! 32     32    prev_hash       (hash of the previous block; zeros for the first)
//! 64     32    leaf_root       blake3(kept_root ++ telemetry_root), see below
//! 96     32    payload_hash    blake3(payload)
//! 128    32    hash            blake3(bytes 0..128)
//! 160    ...   payload: count x (len u32 LE, bincode(Record))
//! ```
//!
//! Bit 31 of a record's `len` is its class: set for telemetry (`checkin`,
//! `interaction`: what retention may remove), clear for every other record
//! (claims, clue finds, hunt definitions, stock changes: kept forever).
//! With `leaf_i = blake3(record_i)` and `i` the record's index in the block:
//!
//! ```text
//! kept_root      = blake3(over kept records i, in order:      i u32 LE ++ leaf_i)
//! telemetry_root = blake3(over telemetry records i, in order: i u32 LE ++ leaf_i)
//! leaf_root      = blake3(kept_root ++ telemetry_root)
//! ```
//!
//! `hash` covers the header, and the header commits to the payload twice:
//! `payload_hash` (one fast pass of blake3, what recovery checks: a torn or
//! flipped block fails it) and `leaf_root` (one hash per record). `prev_hash`
//! chains the blocks: a removed, inserted or reordered block breaks it.
//!
//! `leaf_root` lets a record be proven part of a block without the block's
//! other records: given a record, its index, the leaf hashes of its block and
//! the header fields, anyone can recompute `leaf_root`, then `hash`, and follow
//! the chain. A filtered audit export (one player's claims) so proves each
//! record it holds authentic and in place without disclosing other players'
//! records.
//!
//! Splitting the root by class is what lets retention drop telemetry and keep
//! the chain: a *compacted* block replaces the block under the same key with
//!
//! ```text
//! 0      4     magic "TRVC"
//! 4      1     format version (2)
//! 5      3     reserved, zero
//! 8      160   the original block header, unchanged (so `hash` and the chain are)
//! 168    32    telemetry_root of the removed records
//! 200    8     compacted_at_ms i64 LE
//! 208    4     kept count      u32 LE
//! 212    4     kept_len        u32 LE
//! 216    4     hunts_len       u32 LE
//! 220    4     players_len     u32 LE
//! 224    ...   kept records: kept count x (index u32 LE, len u32 LE, bincode(Record))
//! ...    ...   hunts: bincode(Vec<HuntTelemetry>), removed per hunt, this block
//! ...    ...   players: bincode(Vec<TelemetryCount>), removed per player and
//!              hunt over the whole run of blocks this one starts (empty in
//!              the run's other blocks)
//! end-32 32    blake3(every byte before it)
//! ```
//!
//! The kept records and the telemetry root give `leaf_root` again, so the kept
//! records stay provable against the chain. The counts are not covered by the
//! chain (they are derived from the removed records); the trailing checksum
//! protects them from damage, and `trove verify` checks them against the
//! snapshots taken before compaction. Per-player counts are kept per run of
//! up to [`crate::retention::RUN_BLOCKS`] blocks, not per block: with 200k
//! players nearly every telemetry record of a block is a different player's,
//! and per-block counts would be almost as large as the records.

pub(crate) use crate::chain::{
    class_roots, leaf_hash, leaf_root, ClassRoot, Hash, Header, Leaf, FORMAT_VERSION, HEADER_LEN, MAGIC,
};
use thiserror::Error;
use trove_engine::{HuntTelemetry, Millis, Record, RecordView, Seq, TelemetryCount};

/// The magic of a compacted block.
pub const COMPACTED_MAGIC: &[u8; 4] = b"TRVC";
/// Fixed part of a compacted block before its kept records.
pub const COMPACTED_HEAD_LEN: usize = 224;
/// Bit 31 of a record's length prefix: the record is telemetry.
pub const TELEMETRY_BIT: u32 = 1 << 31;
/// Largest single encoded record. Bigger than any record the engine's input
/// limits allow (a hunt of 4096 clues and 1024 products is well under this).
pub const MAX_RECORD_BYTES: usize = 4 << 20;

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<MAX_RECORD_BYTES>()
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
/// Why a value did not encode or decode.
pub enum CodecError {
    /// Encoding failed (or the record is too large).
    #[error("encode: {0}")]
    Encode(String),
    /// The bytes are not a value of the type (or have bytes left over).
    #[error("decode: {0}")]
    Decode(String),
}

/// Appends `len u32 ++ bincode(record)` to `out`.
pub fn encode_record(record: &Record, out: &mut Vec<u8>) -> Result<(), CodecError> {
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    bincode::serde::encode_into_std_write(record, out, config()).map_err(|e| CodecError::Encode(e.to_string()))?;
    let len = out.len() - at - 4;
    if len > MAX_RECORD_BYTES {
        out.truncate(at);
        return Err(CodecError::Encode(format!(
            "record of {len} bytes exceeds {MAX_RECORD_BYTES}"
        )));
    }
    let class = if record.is_telemetry() { TELEMETRY_BIT } else { 0 };
    out[at..at + 4].copy_from_slice(&(len as u32 | class).to_le_bytes());
    Ok(())
}

/// Decodes one record's bincode (without its length prefix).
pub fn decode_record(bytes: &[u8]) -> Result<Record, CodecError> {
    let (record, used) =
        bincode::serde::decode_from_slice(bytes, config()).map_err(|e| CodecError::Decode(e.to_string()))?;
    if used != bytes.len() {
        return Err(CodecError::Decode(format!("{} trailing bytes", bytes.len() - used)));
    }
    Ok(record)
}

/// Encodes a value with bincode's standard configuration (snapshots, checkpoints, rollup rows).
pub fn encode_value<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
    bincode::serde::encode_to_vec(value, bincode::config::standard()).map_err(|e| CodecError::Encode(e.to_string()))
}

/// Decodes a value [`encode_value`] wrote; trailing bytes are an error.
pub fn decode_value<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let (v, used) = bincode::serde::decode_from_slice(bytes, bincode::config::standard())
        .map_err(|e| CodecError::Decode(e.to_string()))?;
    if used != bytes.len() {
        return Err(CodecError::Decode(format!("{} trailing bytes", bytes.len() - used)));
    }
    Ok(v)
}

/// [`decode_value`] into a type that borrows its strings from `bytes`.
pub fn decode_borrowed<'a, T: serde::Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, CodecError> {
    let (v, used) = bincode::serde::borrow_decode_from_slice(bytes, bincode::config::standard())
        .map_err(|e| CodecError::Decode(e.to_string()))?;
    if used != bytes.len() {
        return Err(CodecError::Decode(format!("{} trailing bytes", bytes.len() - used)));
    }
    Ok(v)
}

/// Builds one block from already length-prefixed records.
pub fn encode_block(
    first_seq: Seq,
    count: u32,
    committed_at: Millis,
    prev_hash: &Hash,
    payload: &[u8],
) -> (Vec<u8>, Hash) {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(MAGIC);
    out.push(FORMAT_VERSION);
    out.extend_from_slice(&[0; 3]);
    out.extend_from_slice(&first_seq.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&committed_at.to_le_bytes());
    out.extend_from_slice(prev_hash);
    let (kept, telemetry) = class_roots(leaf_hashes(payload));
    out.extend_from_slice(&leaf_root(&kept, &telemetry));
    out.extend_from_slice(blake3::hash(payload).as_bytes());
    let hash = *blake3::hash(&out[..128]).as_bytes();
    out.extend_from_slice(&hash);
    out.extend_from_slice(payload);
    (out, hash)
}

/// The leaves of the length-prefixed records in `payload`, stopping at the
/// first framing error (which `Block::bodies` reports).
pub(crate) fn leaf_hashes(payload: &[u8]) -> impl Iterator<Item = Leaf> + '_ {
    let mut rest = payload;
    let mut index = 0u32;
    std::iter::from_fn(move || {
        let word = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?);
        let len = (word & !TELEMETRY_BIT) as usize;
        let body = rest.get(4..4 + len)?;
        rest = &rest[4 + len..];
        index += 1;
        Some(Leaf {
            index: index - 1,
            telemetry: word & TELEMETRY_BIT != 0,
            hash: leaf_hash(body),
        })
    })
}

/// What retention left of a compacted block, besides its kept records.
#[derive(Debug, Clone, Copy)]
pub struct Compaction<'a> {
    /// The telemetry root of the removed records.
    pub telemetry_root: Hash,
    /// When retention compacted the block.
    pub compacted_at: Millis,
    /// Records still in the block.
    pub kept: u32,
    /// `bincode(Vec<HuntTelemetry>)`: see [`Compaction::hunts`].
    pub hunts: &'a [u8],
    /// `bincode(Vec<TelemetryCount>)`: see [`Compaction::players`].
    pub players: &'a [u8],
}

impl Compaction<'_> {
    /// What was removed from this block, per hunt.
    pub fn hunts(&self) -> Result<Vec<HuntTelemetry>, CodecError> {
        decode_value(self.hunts)
    }

    /// What the removed records of the run this block starts did, per player
    /// and hunt (empty for a block inside a run).
    pub fn players(&self) -> Result<Vec<TelemetryCount>, CodecError> {
        decode_value(self.players)
    }
}

/// A block whose header and hash have been checked.
#[derive(Debug)]
pub struct Block<'a> {
    /// The sequence of its first record.
    pub first_seq: Seq,
    /// Records the block was written with (a compacted block holds fewer).
    pub count: u32,
    /// Commit time.
    pub committed_at: Millis,
    /// Hash of the previous block.
    pub prev_hash: Hash,
    /// The records' leaf root.
    pub leaf_root: Hash,
    /// The header's payload length: of the block as written.
    pub payload_len: u32,
    /// blake3 of the payload as written.
    pub payload_hash: Hash,
    /// The block's hash.
    pub hash: Hash,
    /// The records: `len ++ record` each, or, compacted, `index ++ len ++ record`.
    pub payload: &'a [u8],
    /// What retention left, for a compacted block.
    pub compacted: Option<Compaction<'a>>,
}

/// One record of a block, still encoded.
#[derive(Debug, Clone, Copy)]
pub struct RawRecord<'a> {
    /// Its sequence.
    pub seq: Seq,
    /// Its class bit.
    pub telemetry: bool,
    /// Its encoding (bincode).
    pub body: &'a [u8],
}

fn u32_at(bytes: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(bytes[o..o + 4].try_into().expect("4 bytes"))
}

fn u64_at(bytes: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(bytes[o..o + 8].try_into().expect("8 bytes"))
}

fn hash_at(bytes: &[u8], o: usize) -> Hash {
    bytes[o..o + 32].try_into().expect("32 bytes")
}

/// Checks a 160-byte block header (magic, version, hash) and reads its fields.
fn decode_header(h: &[u8], check: bool) -> Result<Header, String> {
    if &h[0..4] != MAGIC {
        return Err("bad magic".into());
    }
    if h[4] != FORMAT_VERSION {
        return Err(format!("unsupported format version {}", h[4]));
    }
    if check && blake3::hash(&h[..128]).as_bytes() != &h[128..160] {
        return Err("header checksum mismatch".into());
    }
    Ok(Header {
        first_seq: u64_at(h, 8),
        count: u32_at(h, 16),
        payload_len: u32_at(h, 20),
        committed_at: u64_at(h, 24) as i64,
        prev_hash: hash_at(h, 32),
        leaf_root: hash_at(h, 64),
        payload_hash: hash_at(h, 96),
    })
}

/// Parses and checks a block, as written or compacted: magic, version,
/// lengths, hash, and the payload checksum or the compaction checksum.
pub fn decode_block(bytes: &[u8]) -> Result<Block<'_>, String> {
    parse_block(bytes, true)
}

/// [`decode_block`] without the hashing, for bytes it has already accepted
/// (a reader thread checks, another decodes).
pub fn decode_checked_block(bytes: &[u8]) -> Result<Block<'_>, String> {
    parse_block(bytes, false)
}

fn parse_block(bytes: &[u8], check: bool) -> Result<Block<'_>, String> {
    if bytes.len() < HEADER_LEN {
        return Err(format!("block of {} bytes is shorter than its header", bytes.len()));
    }
    if &bytes[0..4] == COMPACTED_MAGIC {
        return parse_compacted(bytes, check);
    }
    let header = decode_header(&bytes[..HEADER_LEN], check)?;
    if bytes.len() != HEADER_LEN + header.payload_len as usize {
        return Err(format!(
            "payload is {} bytes, header says {} (torn write?)",
            bytes.len() - HEADER_LEN,
            header.payload_len
        ));
    }
    let payload = &bytes[HEADER_LEN..];
    if check && blake3::hash(payload).as_bytes() != &header.payload_hash {
        return Err("checksum mismatch".into());
    }
    Ok(Block::from_header(&header, hash_at(bytes, 128), payload, None))
}

fn parse_compacted(bytes: &[u8], check: bool) -> Result<Block<'_>, String> {
    if bytes.len() < COMPACTED_HEAD_LEN + 32 {
        return Err(format!("compacted block of {} bytes is too short", bytes.len()));
    }
    if bytes[4] != FORMAT_VERSION {
        return Err(format!("unsupported compacted format version {}", bytes[4]));
    }
    let (body, sum) = bytes.split_at(bytes.len() - 32);
    if check && blake3::hash(body).as_bytes() != sum {
        return Err("compacted block checksum mismatch".into());
    }
    let header = decode_header(&bytes[8..8 + HEADER_LEN], check)?;
    let kept = u32_at(bytes, 208);
    let kept_len = u32_at(bytes, 212) as usize;
    let hunts_len = u32_at(bytes, 216) as usize;
    let players_len = u32_at(bytes, 220) as usize;
    if COMPACTED_HEAD_LEN + kept_len + hunts_len + players_len != body.len() {
        return Err("compacted block lengths do not add up".into());
    }
    if kept > header.count {
        return Err(format!("compacted block keeps {kept} of {} records", header.count));
    }
    let payload = &body[COMPACTED_HEAD_LEN..COMPACTED_HEAD_LEN + kept_len];
    let hunts_at = COMPACTED_HEAD_LEN + kept_len;
    let compaction = Compaction {
        telemetry_root: hash_at(bytes, 168),
        compacted_at: u64_at(bytes, 200) as i64,
        kept,
        hunts: &body[hunts_at..hunts_at + hunts_len],
        players: &body[hunts_at + hunts_len..],
    };
    Ok(Block::from_header(
        &header,
        hash_at(bytes, 8 + 128),
        payload,
        Some(compaction),
    ))
}

/// What replaces a block's removed telemetry.
pub struct Removed<'a> {
    /// The telemetry root of the removed records.
    pub telemetry_root: Hash,
    /// When retention compacted the block.
    pub compacted_at: Millis,
    /// Per hunt, this block.
    pub hunts: &'a [HuntTelemetry],
    /// Per player and hunt, the whole run (empty inside a run).
    pub players: &'a [TelemetryCount],
}

/// The stored value of the block with `header` with its telemetry removed:
/// `kept` holds the kept records as `index ++ len ++ record`, `kept_count`
/// of them.
pub fn encode_compacted(
    header: &Header,
    kept_count: u32,
    kept: &[u8],
    removed: &Removed<'_>,
) -> Result<Vec<u8>, CodecError> {
    let hunts = encode_value(&removed.hunts)?;
    let players = encode_value(&removed.players)?;
    let mut out = Vec::with_capacity(COMPACTED_HEAD_LEN + kept.len() + hunts.len() + players.len() + 32);
    out.extend_from_slice(COMPACTED_MAGIC);
    out.push(FORMAT_VERSION);
    out.extend_from_slice(&[0; 3]);
    out.extend_from_slice(&header.bytes());
    out.extend_from_slice(&removed.telemetry_root);
    out.extend_from_slice(&removed.compacted_at.to_le_bytes());
    out.extend_from_slice(&kept_count.to_le_bytes());
    out.extend_from_slice(&(kept.len() as u32).to_le_bytes());
    out.extend_from_slice(&(hunts.len() as u32).to_le_bytes());
    out.extend_from_slice(&(players.len() as u32).to_le_bytes());
    out.extend_from_slice(kept);
    out.extend_from_slice(&hunts);
    out.extend_from_slice(&players);
    let sum = *blake3::hash(&out).as_bytes();
    out.extend_from_slice(&sum);
    Ok(out)
}

impl<'a> Block<'a> {
    fn from_header(h: &Header, hash: Hash, payload: &'a [u8], compacted: Option<Compaction<'a>>) -> Block<'a> {
        Block {
            first_seq: h.first_seq,
            count: h.count,
            committed_at: h.committed_at,
            prev_hash: h.prev_hash,
            leaf_root: h.leaf_root,
            payload_len: h.payload_len,
            payload_hash: h.payload_hash,
            hash,
            payload,
            compacted,
        }
    }

    /// The header fields.
    pub fn header(&self) -> Header {
        Header {
            first_seq: self.first_seq,
            count: self.count,
            payload_len: self.payload_len,
            committed_at: self.committed_at,
            prev_hash: self.prev_hash,
            leaf_root: self.leaf_root,
            payload_hash: self.payload_hash,
        }
    }

    /// The sequence of its last record as written.
    pub fn last_seq(&self) -> Seq {
        self.first_seq + u64::from(self.count) - 1
    }

    /// Records the block still holds.
    pub fn held(&self) -> u32 {
        self.compacted.map_or(self.count, |c| c.kept)
    }

    /// Checks `leaf_root` against the records (the block hash only proves the
    /// writer's bytes are intact; this proves the leaves match them too). For
    /// a compacted block, the kept records and the stored telemetry root.
    pub fn check_leaves(&self) -> Result<(), String> {
        let mut kept = ClassRoot::default();
        let mut telemetry = ClassRoot::default();
        for r in self.raw_records() {
            let r = r.map_err(|(seq, reason)| format!("record {seq}: {reason}"))?;
            let index = (r.seq - self.first_seq) as u32;
            if r.telemetry {
                telemetry.add(index, &leaf_hash(r.body));
            } else {
                kept.add(index, &leaf_hash(r.body));
            }
        }
        let telemetry = match &self.compacted {
            Some(c) => c.telemetry_root,
            None => telemetry.finish(),
        };
        if leaf_root(&kept.finish(), &telemetry) == self.leaf_root {
            Ok(())
        } else {
            Err("leaf root does not match the records".into())
        }
    }

    /// The encoded records the block holds, with their sequence numbers and
    /// class, in order. Framing errors (a length running past the payload,
    /// trailing bytes, indices out of order, telemetry in a compacted block)
    /// are errors.
    pub fn raw_records(&self) -> impl Iterator<Item = Result<RawRecord<'a>, (Seq, String)>> + 'a {
        let mut rest = self.payload;
        let first = self.first_seq;
        let count = u64::from(self.count);
        let held = u64::from(self.held());
        let compacted = self.compacted.is_some();
        let mut i = 0u64;
        let mut next_index = 0u64;
        let mut done = false;
        std::iter::from_fn(move || {
            if done {
                return None;
            }
            if i == held {
                done = true;
                return (!rest.is_empty())
                    .then(|| Err((first + count, format!("{} bytes after the last record", rest.len()))));
            }
            i += 1;
            let index = if compacted {
                let Some(b) = rest.get(..4) else {
                    done = true;
                    return Some(Err((first + next_index, "record cut short".into())));
                };
                let index = u64::from(u32::from_le_bytes(b.try_into().expect("4 bytes")));
                rest = &rest[4..];
                if index < next_index || index >= count {
                    done = true;
                    return Some(Err((
                        first + next_index,
                        format!("kept record index {index} out of order"),
                    )));
                }
                index
            } else {
                next_index
            };
            let seq = first + index;
            next_index = index + 1;
            let word = rest
                .get(..4)
                .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")));
            match word {
                Some(word) if rest.len() >= 4 + (word & !TELEMETRY_BIT) as usize => {
                    let len = (word & !TELEMETRY_BIT) as usize;
                    let telemetry = word & TELEMETRY_BIT != 0;
                    let body = &rest[4..4 + len];
                    rest = &rest[4 + len..];
                    if telemetry && compacted {
                        done = true;
                        return Some(Err((seq, "telemetry left in a compacted block".into())));
                    }
                    Some(Ok(RawRecord { seq, telemetry, body }))
                }
                _ => {
                    done = true;
                    Some(Err((seq, "record cut short".into())))
                }
            }
        })
    }

    /// [`Block::raw_records`] without the class.
    pub fn bodies(&self) -> impl Iterator<Item = Result<(Seq, &'a [u8]), (Seq, String)>> + 'a {
        self.raw_records().map(|r| r.map(|r| (r.seq, r.body)))
    }

    /// The records of the block, decoded into owned values.
    pub fn records(&self) -> impl Iterator<Item = Result<(Seq, Record), (Seq, String)>> + 'a {
        self.bodies().map(|r| {
            r.and_then(|(seq, body)| {
                decode_record(body)
                    .map(|rec| (seq, rec))
                    .map_err(|e| (seq, e.to_string()))
            })
        })
    }
}

/// Decodes a record without copying its strings.
pub fn decode_view(bytes: &[u8]) -> Result<RecordView<'_>, CodecError> {
    let (record, used) =
        bincode::serde::borrow_decode_from_slice(bytes, config()).map_err(|e| CodecError::Decode(e.to_string()))?;
    if used != bytes.len() {
        return Err(CodecError::Decode(format!("{} trailing bytes", bytes.len() - used)));
    }
    Ok(record)
}

/// The sled key of a block (the legacy layout): its first sequence, big-endian.
pub fn key_of(first_seq: Seq) -> [u8; 8] {
    first_seq.to_be_bytes()
}

/// The first sequence a legacy sled key names.
pub fn seq_of_key(key: &[u8]) -> Option<Seq> {
    Some(Seq::from_be_bytes(key.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use trove_engine::*;

    #[test]
    fn views_decode_the_bytes_records_encode() {
        let def = HuntDef {
            id: "h".into(),
            name: "n".into(),
            opens_at: Some(1),
            closes_at: None,
            clues: vec![ClueDef {
                id: "c".into(),
                points: 3,
            }],
            products: vec![ProductDef {
                sku: "s".into(),
                stock: 2,
                per_player_limit: 1,
                min_score: 0,
            }],
        };
        let records = vec![
            Record::HuntDefined(def),
            Record::StockAdded {
                hunt: "h".into(),
                sku: "s".into(),
                added: 7,
            },
            Record::Event(GameEvent {
                player: "p".into(),
                hunt: "h".into(),
                kind: EventKind::ClueFound { clue: "c".into() },
            }),
            Record::Event(GameEvent {
                player: "p".into(),
                hunt: "h".into(),
                kind: EventKind::Checkin { location: "x".into() },
            }),
            Record::Event(GameEvent {
                player: "p".into(),
                hunt: "h".into(),
                kind: EventKind::Interaction { kind: "k".into() },
            }),
            Record::Claim {
                request: ClaimRequest {
                    claim_id: "k1".into(),
                    player: "p".into(),
                    hunt: "h".into(),
                    sku: "s".into(),
                    customs: r#"{"v":1}"#.into(),
                },
                outcome: Outcome::Rejected(RejectReason::LimitReached),
            },
        ];
        for r in records {
            let mut buf = Vec::new();
            encode_record(&r, &mut buf).unwrap();
            let view = decode_view(&buf[4..]).unwrap();
            assert_eq!(view, r.view());
            assert_eq!(view.to_record(), r);
            assert_eq!(decode_record(&buf[4..]).unwrap(), r);
        }
    }

    #[test]
    fn header_fields_and_leaves_reproduce_the_block_hash() {
        let mut payload = Vec::new();
        for r in mixed_records(5) {
            encode_record(&r, &mut payload).unwrap();
        }
        let (bytes, hash) = encode_block(7, 5, 1234, &[9; 32], &payload);
        let block = decode_block(&bytes).unwrap();
        assert_eq!(block.hash, hash);
        assert_eq!(block.header().hash(), hash);
        block.check_leaves().unwrap();
        let (kept, telemetry) = class_roots(block.raw_records().map(|r| {
            let r = r.unwrap();
            Leaf {
                index: (r.seq - 7) as u32,
                telemetry: r.telemetry,
                hash: leaf_hash(r.body),
            }
        }));
        assert_eq!(leaf_root(&kept, &telemetry), block.leaf_root);
        let mut forged = block.header();
        forged.committed_at += 1;
        assert_ne!(forged.hash(), hash);
        let mut flipped = bytes.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(decode_block(&flipped).is_err());
    }

    fn mixed_records(n: u64) -> Vec<Record> {
        (0..n)
            .map(|i| match i % 3 {
                0 => Record::StockAdded {
                    hunt: "h".into(),
                    sku: format!("s{i}"),
                    added: i,
                },
                1 => Record::Event(GameEvent {
                    player: format!("p{i}"),
                    hunt: "h".into(),
                    kind: EventKind::Checkin { location: "x".into() },
                }),
                _ => Record::Event(GameEvent {
                    player: format!("p{i}"),
                    hunt: "h".into(),
                    kind: EventKind::Interaction { kind: "k".into() },
                }),
            })
            .collect()
    }

    #[test]
    fn the_class_bit_marks_telemetry_and_stays_out_of_the_leaf() {
        for r in mixed_records(3) {
            let mut buf = Vec::new();
            encode_record(&r, &mut buf).unwrap();
            let word = u32::from_le_bytes(buf[..4].try_into().unwrap());
            assert_eq!(word & TELEMETRY_BIT != 0, r.is_telemetry());
            assert_eq!((word & !TELEMETRY_BIT) as usize, buf.len() - 4);
            assert_eq!(decode_record(&buf[4..]).unwrap(), r);
        }
    }

    #[test]
    fn a_compacted_block_keeps_its_hash_records_and_leaf_root() {
        let records = mixed_records(9);
        let mut payload = Vec::new();
        for r in &records {
            encode_record(r, &mut payload).unwrap();
        }
        let (bytes, hash) = encode_block(10, 9, 55, &[3; 32], &payload);
        let block = decode_block(&bytes).unwrap();
        let (_, telemetry_root) = class_roots(leaf_hashes(block.payload));
        let mut kept = Vec::new();
        let mut n = 0;
        for r in block.raw_records() {
            let r = r.unwrap();
            if !r.telemetry {
                kept.extend_from_slice(&((r.seq - 10) as u32).to_le_bytes());
                kept.extend_from_slice(&(r.body.len() as u32).to_le_bytes());
                kept.extend_from_slice(r.body);
                n += 1;
            }
        }
        let players = vec![TelemetryCount {
            player: "p1".into(),
            hunt: "h".into(),
            first_seq: 11,
            checkins: 1,
            interactions: 0,
        }];
        let hunts = vec![HuntTelemetry {
            hunt: "h".into(),
            checkins: 3,
            interactions: 3,
        }];
        let removed = |root: Hash| Removed {
            telemetry_root: root,
            compacted_at: 99,
            hunts: &hunts,
            players: &players,
        };
        let value = encode_compacted(&block.header(), n, &kept, &removed(telemetry_root)).unwrap();
        let c = decode_block(&value).unwrap();
        assert_eq!((c.hash, c.first_seq, c.count, c.held()), (hash, 10, 9, 3));
        c.check_leaves().unwrap();
        let seqs: Vec<Seq> = c.bodies().map(|b| b.unwrap().0).collect();
        assert_eq!(seqs, vec![10, 13, 16]);
        let got: Vec<Record> = c.records().map(|r| r.unwrap().1).collect();
        assert_eq!(got, vec![records[0].clone(), records[3].clone(), records[6].clone()]);
        assert_eq!(c.compacted.unwrap().players().unwrap(), players);
        assert_eq!(c.compacted.unwrap().hunts().unwrap(), hunts);
        // A wrong telemetry root breaks the leaf root; a flipped byte the checksum.
        let forged = encode_compacted(&block.header(), n, &kept, &removed([0; 32])).unwrap();
        assert!(decode_block(&forged).unwrap().check_leaves().is_err());
        for at in [0, 9, 170, COMPACTED_HEAD_LEN + 2, value.len() - 40, value.len() - 1] {
            let mut flipped = value.clone();
            flipped[at] ^= 1;
            assert!(decode_block(&flipped).is_err(), "flip at {at}");
        }
    }
}
