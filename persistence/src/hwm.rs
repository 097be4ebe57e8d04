//! The acknowledged high-water mark: `DATA/journal.hwm`.
//!
//! The block log ([`crate::log`]) is read at open until the first frame that
//! fails its checks, and the rest is treated as a torn tail. That is right
//! for a write cut by a crash, but after a bit flip in the middle of the log
//! it would silently drop records that were acknowledged. The journal's own hash
//! chain cannot see a *shorter* journal. So after every successful commit the
//! writer also records the last durable sequence and the hash of the block it
//! ends, in this small file, and recovery refuses a journal that ends before
//! it or disagrees with it: acknowledged records are never silently lost.
//!
//! Format, 48 bytes: magic "TRVH", seq u64 LE, block hash (32 bytes), then
//! the first 4 bytes of blake3 of the preceding 44. Written in place with one
//! `pwrite` and fdatasynced, only after an `fdatasync` of the block log made
//! the blocks it names durable (`durable`), so it never claims more than the disk holds.
//! It names the last *synced* block: in the default mode, event-only commits
//! acknowledged after it may be lost by a power cut (within the documented
//! bound), never the records up to it.
//!
//! A mark that fails its checks stops recovery: silently ignoring it would
//! disable the very check it exists for. `docs/OPERATIONS.md` gives the
//! operator's action.

use crate::codec::Hash;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;
use trove_engine::Seq;

/// The mark file, in the data folder.
pub const FILE: &str = "journal.hwm";
const MAGIC: &[u8; 4] = b"TRVH";
const LEN: usize = 48;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Mark {
    pub(crate) seq: Seq,
    pub(crate) hash: Hash,
}

fn encode(mark: Mark) -> [u8; LEN] {
    let mut b = [0u8; LEN];
    b[..4].copy_from_slice(MAGIC);
    b[4..12].copy_from_slice(&mark.seq.to_le_bytes());
    b[12..44].copy_from_slice(&mark.hash);
    let check = blake3::hash(&b[..44]);
    b[44..48].copy_from_slice(&check.as_bytes()[..4]);
    b
}

/// The mark, `None` if the folder has none yet, or why it is unreadable.
pub(crate) fn read(dir: &Path) -> Result<Option<Mark>, String> {
    let bytes = match std::fs::read(dir.join(FILE)) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("read {FILE}: {e}")),
    };
    if bytes.is_empty() {
        // Created at open, not yet written: nothing was committed since.
        return Ok(None);
    }
    if bytes.len() != LEN || &bytes[..4] != MAGIC || blake3::hash(&bytes[..44]).as_bytes()[..4] != bytes[44..48] {
        return Err(format!("{FILE} is damaged"));
    }
    Ok(Some(Mark {
        seq: u64::from_le_bytes(bytes[4..12].try_into().expect("8 bytes")),
        hash: bytes[12..44].try_into().expect("32 bytes"),
    }))
}

/// Checks the journal against the mark: it must reach the mark's sequence,
/// and the block ending there must have the mark's hash.
pub(crate) fn check(log: &crate::log::BlockLog, mark: Mark, journal_last: Seq) -> Result<(), String> {
    if mark.seq == 0 {
        return Ok(());
    }
    if journal_last < mark.seq {
        return Err(format!(
            "the journal ends at sequence {journal_last}, but records up to {} were acknowledged: \
             the storage lost acknowledged records",
            mark.seq
        ));
    }
    let block = crate::lookup::holding(log, mark.seq)?
        .ok_or_else(|| format!("no journal block holds acknowledged sequence {}", mark.seq))?;
    if block != (mark.seq, mark.hash) {
        return Err(format!(
            "the journal block ending at acknowledged sequence {} is not the one acknowledged",
            mark.seq
        ));
    }
    Ok(())
}

/// The writer's handle on the mark file.
pub(crate) struct Writer {
    file: File,
}

impl Writer {
    pub(crate) fn open(dir: &Path) -> std::io::Result<Writer> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(dir.join(FILE))?;
        Ok(Writer { file })
    }

    /// Overwrites the mark and fdatasyncs it. Call only once the blocks it
    /// names are durable.
    pub(crate) fn write_synced(&mut self, mark: Mark) -> std::io::Result<()> {
        self.file.write_all_at(&encode(mark), 0)?;
        self.file.sync_data()
    }
}
