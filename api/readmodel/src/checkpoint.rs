//! The checkpoint file, `DATA/leaderboard.proj`: a [`ProjectionState`] at a
//! journal sequence, tied to the journal block holding that sequence.
//!
//! Format (76-byte header, then the payload):
//!
//! | bytes  | content                                               |
//! |--------|-------------------------------------------------------|
//! | 0..4   | magic `TRV2` (`TRVL` before per-product rejections)   |
//! | 4..12  | sequence, u64 little-endian                           |
//! | 12..44 | hash of the journal block holding the sequence        |
//! | 44..76 | blake3 of the payload                                 |
//! | 76..   | payload: the state, bincode (`snapshot::encode_value`)   |
//!
//! The payload's layout (hunts, their players with score, reached sequence
//! and clue bits, the player set, counts) is in `payload.rs`, which writes
//! the dense state in the layout this format has had from the start.
//!
//! A checkpoint is used only if it passes its checksum, is not ahead of the
//! journal, and the journal's block at its sequence still has the recorded
//! hash (same history). The golden test in `tests/it/checkpoint.rs` pins the
//! bytes: changing them needs a new magic (a version bump). A file of an
//! older format (`TRVL`) is refused like a damaged one: the start rebuilds
//! the projection from the journal and the next snapshot writes a `TRV2`.

use crate::error::CheckpointError;
use crate::state::ProjectionState;
use std::path::Path;
use trove_engine::Seq;
use trove_persistence::chain::Hash;
use trove_persistence::Store;

/// The projection checkpoint in the data folder.
pub const CHECKPOINT_FILE: &str = "leaderboard.proj";
const CHECKPOINT_MAGIC: &[u8; 4] = b"TRV2";
/// Magic, sequence, block hash, payload hash.
const HEADER_LEN: usize = 76;

/// The sequence a data folder's leaderboard checkpoint resumes from, if it
/// has one that looks usable: the projection will read the journal after it,
/// so retention must not compact past it.
pub fn checkpoint_seq(dir: &Path) -> Option<Seq> {
    header_seq(&std::fs::read(dir.join(CHECKPOINT_FILE)).ok()?).ok()
}

/// The sequence in a checkpoint's header, if the header is one.
fn header_seq(bytes: &[u8]) -> Result<Seq, CheckpointError> {
    if bytes.len() < HEADER_LEN || &bytes[..4] != CHECKPOINT_MAGIC {
        return Err(CheckpointError::Damaged);
    }
    Ok(u64::from_le_bytes(bytes[4..12].try_into().expect("8 bytes")))
}

/// The bytes of a checkpoint of `state`, whose sequence is in the journal
/// block with hash `block_hash` (zeros for sequence 0).
pub fn encode(state: &ProjectionState, block_hash: &Hash) -> Result<Vec<u8>, CheckpointError> {
    let payload = trove_persistence::snapshot::encode_value(state)?;
    let mut bytes = Vec::with_capacity(HEADER_LEN + payload.len());
    bytes.extend_from_slice(CHECKPOINT_MAGIC);
    bytes.extend_from_slice(&state.applied.to_le_bytes());
    bytes.extend_from_slice(block_hash);
    bytes.extend_from_slice(blake3::hash(&payload).as_bytes());
    bytes.extend_from_slice(&payload);
    Ok(bytes)
}

/// Checks a checkpoint's own integrity (header, checksum, header against
/// state) and decodes it: the state and the hash of the journal block it was
/// tied to. Whether it belongs to a given journal is [`load`]'s question.
pub fn decode(bytes: &[u8]) -> Result<(ProjectionState, Hash), CheckpointError> {
    let (seq, payload) = open(bytes)?;
    let hash: Hash = bytes[12..44].try_into().expect("32 bytes");
    Ok((state_of(seq, payload)?, hash))
}

/// The header's sequence and the payload, if the header is one and the
/// payload passes its checksum.
fn open(bytes: &[u8]) -> Result<(Seq, &[u8]), CheckpointError> {
    let seq = header_seq(bytes)?;
    let payload = &bytes[HEADER_LEN..];
    if blake3::hash(payload).as_bytes() != &bytes[44..HEADER_LEN] {
        return Err(CheckpointError::Checksum);
    }
    Ok((seq, payload))
}

/// The state in a checked payload, ranked and ready to publish.
fn state_of(seq: Seq, payload: &[u8]) -> Result<ProjectionState, CheckpointError> {
    let st: ProjectionState = trove_persistence::snapshot::decode_value(payload)?;
    if st.applied != seq {
        return Err(CheckpointError::HeaderMismatch);
    }
    Ok(st)
}

/// Writes `bytes` as the checkpoint in `dir` (temporary file, fsync, rename).
pub fn write(dir: &Path, bytes: &[u8]) -> Result<(), CheckpointError> {
    // A temporary name of its own: periodic, admin and shutdown checkpoints may overlap.
    trove_persistence::snapshot::write_atomic(dir, CHECKPOINT_FILE, bytes).map_err(CheckpointError::Io)?;
    Ok(())
}

/// Reads the checkpoint in `dir` and checks it against `store`'s journal:
/// `None` if there is none, the state if it is intact and from this journal's
/// history.
pub fn load(dir: &Path, store: &Store) -> Result<Option<ProjectionState>, CheckpointError> {
    let path = dir.join(CHECKPOINT_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(CheckpointError::Io(format!("read {}: {e}", path.display()))),
    };
    let (seq, payload) = open(&bytes)?;
    if seq > store.durable_seq() {
        return Err(CheckpointError::AheadOfJournal(seq));
    }
    if store.block_hash_at(seq)?[..] != bytes[12..44] {
        return Err(CheckpointError::OtherHistory);
    }
    Ok(Some(state_of(seq, payload)?))
}
