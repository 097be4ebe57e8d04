//! The journal's on-disk format. The only module that knows bincode.
//!
//! A journal *block* is one sled value holding consecutive records:
//!
//! ```text
//! offset size  field
//! 0      4     magic "TRVJ"
//! 4      1     format version (1)
//! 5      3     reserved, zero
//! 8      8     first_seq       u64 LE  (also the sled key, big-endian)
//! 16     4     count           u32 LE  (records in the block)
//! 20     4     payload_len     u32 LE
//! 24     8     committed_at_ms i64 LE  (wall clock at group commit)
//! 32     32    prev_hash       (hash of the previous block; zeros for the first)
//! 64     32    leaf_root       blake3(leaf_1 ++ ... ++ leaf_count), leaf_i = blake3(record_i)
//! 96     32    payload_hash    blake3(payload)
//! 128    32    hash            blake3(bytes 0..128)
//! 160    ...   payload: count x (len u32 LE, bincode(Record))
//! ```
//!
//! `hash` covers the header, and the header commits to the payload twice:
//! `payload_hash` (one fast pass of blake3, what recovery checks: a torn or
//! flipped block fails it) and `leaf_root` (one hash per record). `prev_hash`
//! chains the blocks: a removed, inserted or reordered block breaks it.
//!
//! `leaf_root` lets a record be proven part of a block without the block's
//! other records: given a record, the leaf hashes of its block and the header
//! fields, anyone can recompute `leaf_root`, then `hash`, and follow the chain.
//! A filtered audit export (one player's claims) so proves each record it holds
//! authentic and in place without disclosing other players' records.

use thiserror::Error;
use trove_engine::{Millis, Record, RecordView, Seq};

pub const MAGIC: &[u8; 4] = b"TRVJ";
pub const FORMAT_VERSION: u8 = 1;
pub const HEADER_LEN: usize = 160;
/// Largest single encoded record. Bigger than any record the engine's input
/// limits allow (a hunt of 4096 clues and 1024 products is well under this).
pub const MAX_RECORD_BYTES: usize = 4 << 20;

pub type Hash = [u8; 32];

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<MAX_RECORD_BYTES>()
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CodecError {
    #[error("encode: {0}")]
    Encode(String),
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
    out[at..at + 4].copy_from_slice(&(len as u32).to_le_bytes());
    Ok(())
}

pub fn decode_record(bytes: &[u8]) -> Result<Record, CodecError> {
    let (record, used) =
        bincode::serde::decode_from_slice(bytes, config()).map_err(|e| CodecError::Decode(e.to_string()))?;
    if used != bytes.len() {
        return Err(CodecError::Decode(format!("{} trailing bytes", bytes.len() - used)));
    }
    Ok(record)
}

/// Generic bincode helpers for snapshots.
pub fn encode_value<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
    bincode::serde::encode_to_vec(value, bincode::config::standard()).map_err(|e| CodecError::Encode(e.to_string()))
}

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
    out.extend_from_slice(&leaf_root(leaf_hashes(payload)));
    out.extend_from_slice(blake3::hash(payload).as_bytes());
    let hash = *blake3::hash(&out[..128]).as_bytes();
    out.extend_from_slice(&hash);
    out.extend_from_slice(payload);
    (out, hash)
}

/// The hash of one encoded record (without its length prefix).
pub fn leaf_hash(record: &[u8]) -> Hash {
    *blake3::hash(record).as_bytes()
}

/// Leaf hashes of the length-prefixed records in `payload`, stopping at the
/// first framing error (which `Block::bodies` reports).
pub fn leaf_hashes(payload: &[u8]) -> impl Iterator<Item = Hash> + '_ {
    let mut rest = payload;
    std::iter::from_fn(move || {
        let len = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
        let body = rest.get(4..4 + len)?;
        rest = &rest[4 + len..];
        Some(leaf_hash(body))
    })
}

/// The root over a block's leaf hashes, in order.
pub fn leaf_root(leaves: impl IntoIterator<Item = Hash>) -> Hash {
    let mut h = blake3::Hasher::new();
    for leaf in leaves {
        h.update(&leaf);
    }
    *h.finalize().as_bytes()
}

/// The fields of a block header; enough to recompute its hash and follow the
/// chain without the payload (what an audit export carries per block).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub first_seq: Seq,
    pub count: u32,
    pub payload_len: u32,
    pub committed_at: Millis,
    pub prev_hash: Hash,
    pub leaf_root: Hash,
    pub payload_hash: Hash,
}

impl Header {
    /// The block hash these fields give.
    pub fn hash(&self) -> Hash {
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
        *blake3::hash(&head).as_bytes()
    }
}

/// A block whose header and hash have been checked.
#[derive(Debug)]
pub struct Block<'a> {
    pub first_seq: Seq,
    pub count: u32,
    pub committed_at: Millis,
    pub prev_hash: Hash,
    pub leaf_root: Hash,
    pub payload_hash: Hash,
    pub hash: Hash,
    pub payload: &'a [u8],
}

/// Parses and checks a block: magic, version, lengths, hash.
pub fn decode_block(bytes: &[u8]) -> Result<Block<'_>, String> {
    if bytes.len() < HEADER_LEN {
        return Err(format!("block of {} bytes is shorter than its header", bytes.len()));
    }
    if &bytes[0..4] != MAGIC {
        return Err("bad magic".into());
    }
    if bytes[4] != FORMAT_VERSION {
        return Err(format!("unsupported format version {}", bytes[4]));
    }
    let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().expect("4 bytes"));
    let u64_at = |o: usize| u64::from_le_bytes(bytes[o..o + 8].try_into().expect("8 bytes"));
    let first_seq = u64_at(8);
    let count = u32_at(16);
    let payload_len = u32_at(20) as usize;
    if bytes.len() != HEADER_LEN + payload_len {
        return Err(format!(
            "payload is {} bytes, header says {payload_len} (torn write?)",
            bytes.len() - HEADER_LEN
        ));
    }
    let payload = &bytes[HEADER_LEN..];
    let hash: Hash = bytes[128..160].try_into().expect("32 bytes");
    if blake3::hash(&bytes[..128]).as_bytes() != &hash {
        return Err("header checksum mismatch".into());
    }
    let payload_hash: Hash = bytes[96..128].try_into().expect("32 bytes");
    if blake3::hash(payload).as_bytes() != &payload_hash {
        return Err("checksum mismatch".into());
    }
    Ok(Block {
        first_seq,
        count,
        committed_at: u64_at(24) as i64,
        prev_hash: bytes[32..64].try_into().expect("32 bytes"),
        leaf_root: bytes[64..96].try_into().expect("32 bytes"),
        payload_hash,
        hash,
        payload,
    })
}

impl<'a> Block<'a> {
    pub fn header(&self) -> Header {
        Header {
            first_seq: self.first_seq,
            count: self.count,
            payload_len: self.payload.len() as u32,
            committed_at: self.committed_at,
            prev_hash: self.prev_hash,
            leaf_root: self.leaf_root,
            payload_hash: self.payload_hash,
        }
    }

    /// Checks `leaf_root` against the records (the block hash only proves the
    /// writer's bytes are intact; this proves the leaves match them too).
    pub fn check_leaves(&self) -> Result<(), String> {
        if leaf_root(leaf_hashes(self.payload)) == self.leaf_root {
            Ok(())
        } else {
            Err("leaf root does not match the records".into())
        }
    }

    /// The encoded records of the block with their sequence numbers; framing
    /// errors (a length running past the payload, trailing bytes) are errors.
    pub fn bodies(&self) -> impl Iterator<Item = Result<(Seq, &'a [u8]), (Seq, String)>> + 'a {
        let mut rest = self.payload;
        let first = self.first_seq;
        let count = u64::from(self.count);
        let mut i = 0u64;
        let mut done = false;
        std::iter::from_fn(move || {
            if done {
                return None;
            }
            if i == count {
                done = true;
                return (!rest.is_empty())
                    .then(|| Err((first + count, format!("{} bytes after the last record", rest.len()))));
            }
            let seq = first + i;
            i += 1;
            let len = rest
                .get(..4)
                .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize);
            match len {
                Some(len) if rest.len() >= 4 + len => {
                    let body = &rest[4..4 + len];
                    rest = &rest[4 + len..];
                    Some(Ok((seq, body)))
                }
                _ => {
                    done = true;
                    Some(Err((seq, "record cut short".into())))
                }
            }
        })
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

pub fn key_of(first_seq: Seq) -> [u8; 8] {
    first_seq.to_be_bytes()
}

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
        for i in 0..5 {
            let r = Record::StockAdded {
                hunt: "h".into(),
                sku: format!("s{i}"),
                added: i,
            };
            encode_record(&r, &mut payload).unwrap();
        }
        let (bytes, hash) = encode_block(7, 5, 1234, &[9; 32], &payload);
        let block = decode_block(&bytes).unwrap();
        assert_eq!(block.hash, hash);
        assert_eq!(block.header().hash(), hash);
        block.check_leaves().unwrap();
        let leaves: Vec<Hash> = block.bodies().map(|b| leaf_hash(b.unwrap().1)).collect();
        assert_eq!(leaf_root(leaves.iter().copied()), block.leaf_root);
        let mut forged = block.header();
        forged.committed_at += 1;
        assert_ne!(forged.hash(), hash);
        let mut flipped = bytes.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(decode_block(&flipped).is_err());
    }
}
