//! Snapshot files: the whole [`World`] at one sequence, so recovery replays
//! only the journal tail.
//!
//! A snapshot is a plain file `snapshots/snapshot-<seq, 20 digits>.trv`:
//!
//! ```text
//! 0   4   magic "TRVS"
//! 4   1   format version (1)
//! 5   3   reserved, zero
//! 8   8   seq          u64 LE (last journal sequence it includes)
//! 16  8   payload_len  u64 LE
//! 24  32  blake3(payload)
//! 56  ... payload: bincode(World)
//! ```
//!
//! Written to a temporary name, fsynced, renamed, and the directory fsynced:
//! a crash leaves either the old set of snapshots or the new one, never a
//! half-written file under a snapshot name. A snapshot that fails its checks
//! anyway is skipped (and reported), and recovery falls back to an older one
//! or to a full replay.

use crate::codec;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use trove_engine::{Seq, World};

const MAGIC: &[u8; 4] = b"TRVS";
const VERSION: u8 = 1;
const HEADER_LEN: usize = 56;

pub fn dir_of(data_dir: &Path) -> PathBuf {
    data_dir.join("snapshots")
}

fn file_name(seq: Seq) -> String {
    format!("snapshot-{seq:020}.trv")
}

/// Sequences of the snapshot files present, newest first.
pub fn list(data_dir: &Path) -> std::io::Result<Vec<(Seq, PathBuf)>> {
    let dir = dir_of(data_dir);
    let mut out = Vec::new();
    if !dir.exists() {
        return Ok(out);
    }
    for entry in fs::read_dir(&dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(seq) = name.strip_prefix("snapshot-").and_then(|s| s.strip_suffix(".trv")) {
            if let Ok(seq) = seq.parse::<Seq>() {
                out.push((seq, entry.path()));
            }
        }
    }
    out.sort_by_key(|s| std::cmp::Reverse(s.0));
    Ok(out)
}

/// Writes a snapshot durably and removes all but the newest `keep`.
pub fn write(data_dir: &Path, world: &World, keep: usize) -> Result<PathBuf, String> {
    let dir = dir_of(data_dir);
    fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let payload = codec::encode_value(world).map_err(|e| e.to_string())?;
    let mut bytes = Vec::with_capacity(HEADER_LEN + payload.len());
    bytes.extend_from_slice(MAGIC);
    bytes.push(VERSION);
    bytes.extend_from_slice(&[0; 3]);
    bytes.extend_from_slice(&world.last_seq.to_le_bytes());
    bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    bytes.extend_from_slice(blake3::hash(&payload).as_bytes());
    bytes.extend_from_slice(&payload);
    let path = dir.join(file_name(world.last_seq));
    let tmp = dir.join(format!("{}.tmp", file_name(world.last_seq)));
    let io = |e: std::io::Error| format!("write snapshot {}: {e}", tmp.display());
    {
        let mut f = fs::File::create(&tmp).map_err(io)?;
        f.write_all(&bytes).map_err(io)?;
        f.sync_all().map_err(io)?;
    }
    fs::rename(&tmp, &path).map_err(io)?;
    fs::File::open(&dir).and_then(|d| d.sync_all()).map_err(io)?;
    if let Ok(all) = list(data_dir) {
        for (_, old) in all.into_iter().skip(keep.max(1)) {
            let _ = fs::remove_file(old);
        }
    }
    Ok(path)
}

/// Reads and checks one snapshot file.
pub fn read(path: &Path) -> Result<World, String> {
    let bytes = fs::read(path).map_err(|e| format!("read: {e}"))?;
    if bytes.len() < HEADER_LEN {
        return Err("shorter than its header".into());
    }
    if &bytes[..4] != MAGIC {
        return Err("bad magic".into());
    }
    if bytes[4] != VERSION {
        return Err(format!("unsupported version {}", bytes[4]));
    }
    let seq = u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes"));
    let len = u64::from_le_bytes(bytes[16..24].try_into().expect("8 bytes")) as usize;
    if bytes.len() - HEADER_LEN != len {
        return Err(format!(
            "payload is {} bytes, header says {len}",
            bytes.len() - HEADER_LEN
        ));
    }
    let payload = &bytes[HEADER_LEN..];
    if blake3::hash(payload).as_bytes() != &bytes[24..56] {
        return Err("checksum mismatch".into());
    }
    let mut world: World = codec::decode_value(payload).map_err(|e| e.to_string())?;
    if world.last_seq != seq {
        return Err(format!("header says sequence {seq}, state says {}", world.last_seq));
    }
    world.intern();
    Ok(world)
}
