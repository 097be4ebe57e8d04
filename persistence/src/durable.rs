//! Making a commit survive a power cut: `fdatasync` of the block log, then
//! the acknowledged high-water mark, fdatasynced.
//!
//! The journal is one append-only file ([`crate::log`]). An append changes
//! its data and its size; `fdatasync` writes both back and flushes the
//! device cache, so after it returns the appended blocks survive a power
//! cut. The audit projection (sled, `DATA/audit/`) is derived from the
//! journal and rebuilt from it when it lags, leads or cannot be opened, so
//! nothing waits for it to reach the disk.
//!
//! Only after the log's `fdatasync` returns is the mark (`journal.hwm`)
//! moved, and then fdatasynced on its own: the mark must never reach the
//! disk before the records it names, or a power cut between the two would
//! make recovery report acknowledged records as lost when they were never
//! acknowledged.
//!
//! At open, and in the offline tools, `syncfs` of the data volume makes
//! whatever a dead process left in the page cache durable before it is
//! served or reported on.

use crate::hwm::{self, Mark};
use crate::log::LogWriter;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;

/// The data folder's mark file, moved after each sync of the log.
pub(crate) struct Syncer {
    mark: hwm::Writer,
    /// The mark last made durable.
    synced: Mark,
}

impl Syncer {
    pub(crate) fn open(dir: &Path, synced: Mark) -> std::io::Result<Syncer> {
        Ok(Syncer {
            mark: hwm::Writer::open(dir)?,
            synced,
        })
    }

    /// Makes everything appended to `log` durable, then records `mark` (the
    /// last block written) as the acknowledged high-water mark.
    pub(crate) fn sync(&mut self, log: &LogWriter, mark: Mark) -> Result<(), String> {
        debug_assert!(mark.seq >= self.synced.seq, "the mark only moves forward");
        log.sync().map_err(|e| format!("fdatasync {}: {e}", crate::log::FILE))?;
        if mark != self.synced {
            self.mark
                .write_synced(mark)
                .map_err(|e| format!("write {}: {e}", hwm::FILE))?;
            self.synced = mark;
        }
        Ok(())
    }

    /// The last mark made durable.
    pub(crate) fn synced(&self) -> Mark {
        self.synced
    }
}

/// `syncfs(2)` on the filesystem holding `f`.
pub(crate) fn syncfs(f: &File) -> std::io::Result<()> {
    // SAFETY: syncfs only reads the descriptor, which `f` keeps open.
    if unsafe { libc::syncfs(f.as_raw_fd()) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// `syncfs(2)` on the filesystem holding `dir`.
pub(crate) fn syncfs_dir(dir: &Path) -> std::io::Result<()> {
    syncfs(&File::open(dir)?)
}
