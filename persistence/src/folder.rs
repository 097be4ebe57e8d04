//! The layout of a data folder (the names of its journal folders) and the
//! syncs that make its directory entries and its volume durable.

use crate::error::{io, StoreError};
use crate::log::{self, BlockLog};
use std::fs::File;
use std::path::Path;

/// The folder of the journal's block log.
pub(crate) const JOURNAL_DIR: &str = "journal";
/// The audit projection's sled database.
pub(crate) const AUDIT_DIR: &str = "audit";
/// A compacted copy of the journal being built, and its completion mark.
pub(crate) const NEXT_JOURNAL_DIR: &str = "journal.next";
/// Written into `journal.next` once it is whole and durable.
pub(crate) const COMPLETE_MARK: &str = "COMPLETE";
/// The journal a compaction replaced, until it is deleted.
pub(crate) const OLD_JOURNAL_DIR: &str = "journal.old";

/// `fsync` of a directory: its entries (renames, new files) are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(io(format!("fsync {}", dir.display())))
}

/// `syncfs` of the data folder's volume: what a dead process left in the
/// page cache is durable before a tool reports on it.
pub(crate) fn sync_volume(dir: &Path) -> Result<(), StoreError> {
    crate::durable::syncfs_dir(dir).map_err(io(format!("syncfs {}", dir.display())))
}

/// The block log, its blocks after the acknowledged mark checked in full
/// (all of them if there is no readable mark: recovery then reports a
/// damaged one).
pub(crate) fn open_log(dir: &Path) -> Result<BlockLog, StoreError> {
    let acknowledged = crate::hwm::read(dir).ok().flatten().map_or(0, |m| m.seq);
    let path = dir.join(JOURNAL_DIR);
    let log = BlockLog::open(&path, acknowledged).map_err(io(format!("open {}", path.join(log::FILE).display())))?;
    if let Some(torn) = log.torn() {
        tracing::warn!(%torn, "the journal ends before its file does");
    }
    Ok(log)
}
