//! Snapshot files: the whole [`World`] at one sequence, so recovery replays
//! only the journal tail.
//!
//! A snapshot is a plain file `snapshots/snapshot-<seq, 20 digits>.trv`:
//!
//! ```text
//! 0   4   magic "TRVS"
//! 4   1   format version (2)
//! 5   3   reserved, zero
//! 8   8   seq          u64 LE (last journal sequence it includes)
//! 16  8   payload_len  u64 LE
//! 24  32  blake3(payload)
//! 56  32  block_hash: hash of the journal block holding `seq` (zero at 0)
//! 88  ... payload: bincode(World)
//! ```
//!
//! `block_hash` ties the snapshot to one journal history: recovery and
//! verify use a snapshot only if the journal's block holding `seq` has that
//! hash, so a snapshot copied from another folder, or left over from a
//! journal that was restored from an older backup and written on since, is
//! refused instead of mixed with records it never saw. Version 1 files (no
//! block hash) are refused for the same reason.
//!
//! Written to a temporary name unique to this writer (admin, periodic and
//! shutdown snapshots may run at once), fsynced, renamed, and the directory
//! fsynced: a crash leaves either the old set of snapshots or the new one,
//! never a half-written file under a snapshot name. A snapshot that fails its
//! checks anyway is skipped (and reported), and recovery falls back to an
//! older one or to a full replay. Files are 0600 in a 0700 folder: they hold
//! the customs data of every claim.

use crate::chain::Hash;
use crate::codec;

/// The encoding of snapshot payloads, also used for other state files
/// (the read model's checkpoint): bincode's standard configuration.
pub use crate::codec::{decode_value, encode_value, CodecError};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use trove_engine::{Seq, World};

const MAGIC: &[u8; 4] = b"TRVS";
const VERSION: u8 = 2;
const HEADER_LEN: usize = 88;

/// A snapshot file's contents.
pub struct Snapshot {
    /// The state at its sequence (`world.last_seq`).
    pub world: World,
    /// Hash of the journal block holding `world.last_seq` (zero at 0).
    pub block_hash: Hash,
}

/// The snapshot folder of a data folder: `DATA/snapshots`.
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

/// A temporary file name no other writer in this process or another uses.
pub(crate) fn unique_tmp(final_name: &str) -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{final_name}.tmp-{}-{n}", std::process::id())
}

/// Whether `name` is a temporary file that [`unique_tmp`] made.
pub(crate) fn is_tmp(name: &str) -> bool {
    name.contains(".tmp-")
}

/// Removes the temporary files that writers killed mid-write left behind in
/// the data folder (checkpoints) and its snapshot folder. Only while holding
/// the folder's lock: no writer of this folder is running.
pub(crate) fn remove_stale_tmp(data_dir: &Path) {
    for dir in [data_dir.to_path_buf(), dir_of(data_dir)] {
        let Ok(entries) = fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            if entry.file_name().to_str().is_some_and(is_tmp) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

/// Creates `dir` (and parents) as 0700 if it does not exist: data folders
/// hold customs data (journal, snapshots, exports, keys).
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// Writes `bytes` as `dir/name`, durably and all or nothing: to a temporary
/// name no other writer uses, 0600, fsynced, renamed, and `dir` fsynced.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, String> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(name);
    let tmp = dir.join(unique_tmp(name));
    let io = |e: std::io::Error| format!("write {}: {e}", tmp.display());
    let written = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, &path)?;
        fs::File::open(dir).and_then(|d| d.sync_all())
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written.map_err(io)?;
    Ok(path)
}

/// Writes a snapshot durably and removes all but the newest `keep`.
/// `block_hash` is the hash of the journal block holding `world.last_seq`.
pub fn write(data_dir: &Path, world: &World, block_hash: &Hash, keep: usize) -> Result<PathBuf, String> {
    let dir = dir_of(data_dir);
    create_private_dir(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let payload = codec::encode_value(world).map_err(|e| e.to_string())?;
    let mut bytes = Vec::with_capacity(HEADER_LEN + payload.len());
    bytes.extend_from_slice(MAGIC);
    bytes.push(VERSION);
    bytes.extend_from_slice(&[0; 3]);
    bytes.extend_from_slice(&world.last_seq.to_le_bytes());
    bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    bytes.extend_from_slice(blake3::hash(&payload).as_bytes());
    bytes.extend_from_slice(block_hash);
    bytes.extend_from_slice(&payload);
    let path = write_atomic(&dir, &file_name(world.last_seq), &bytes)?;
    if let Ok(all) = list(data_dir) {
        for (_, old) in all.into_iter().skip(keep.max(1)) {
            let _ = fs::remove_file(old);
        }
    }
    Ok(path)
}

/// Reads and checks one snapshot file.
pub fn read(path: &Path) -> Result<Snapshot, String> {
    let bytes = fs::read(path).map_err(|e| format!("read: {e}"))?;
    if bytes.len() < HEADER_LEN {
        return Err("shorter than its header".into());
    }
    if &bytes[..4] != MAGIC {
        return Err("bad magic".into());
    }
    if bytes[4] == 1 {
        return Err("version 1 carries no journal block hash, so nothing ties it to this journal".into());
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
    let block_hash: Hash = bytes[56..88].try_into().expect("32 bytes");
    Ok(Snapshot { world, block_hash })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Admin, periodic and shutdown snapshots (and checkpoints) may be
    /// written at once: with one shared temporary name, one writer's rename
    /// took the other's half-written file or failed with ENOENT.
    #[test]
    fn concurrent_writers_never_share_a_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let writers: Vec<_> = (0u8..8)
            .map(|w| {
                let dir = dir.path().to_path_buf();
                std::thread::spawn(move || {
                    let bytes = vec![w; 256 << 10];
                    for _ in 0..20 {
                        write_atomic(&dir, "shared.ckpt", &bytes).unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        let got = fs::read(dir.path().join("shared.ckpt")).unwrap();
        assert_eq!(got.len(), 256 << 10);
        assert!(got.iter().all(|b| *b == got[0]), "one writer's bytes, whole");
        let left: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left.len(), 1, "no temporary file left behind: {left:?}");
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(dir.path().join("shared.ckpt"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
