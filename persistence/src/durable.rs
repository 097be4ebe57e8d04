//! Making what sled wrote survive a power cut: `syncfs` of the data volume,
//! then the acknowledged high-water mark, fdatasynced.
//!
//! sled 0.34's `flush()` is `sync_file_range` on its log file only. It never
//! issues a cache flush, never commits file metadata, and never touches its
//! blob files (values and pages over ~128 KiB), its `conf` file, or the
//! directories that gained new files. Power-cut images showed every one of
//! those lost. Rather than track which files sled created since the last
//! sync, [`Syncer::sync`] calls `syncfs(2)` on the filesystem that holds the
//! data folder: it writes back every dirty page and inode there, commits the
//! filesystem journal and flushes the device cache. It is one system call
//! whatever sled did, and it also covers snapshot files and directories.
//! Its cost grows with what else is dirty on that filesystem, so the data
//! folder belongs on its own volume (`docs/OPERATIONS.md`).
//!
//! Only after `syncfs` returns is the mark (`journal.hwm`) moved, and then
//! fdatasynced on its own: the mark must never reach the disk before the
//! records it names, or a power cut between the two would make recovery
//! report acknowledged records as lost when they were never acknowledged.

use crate::hwm::{self, Mark};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;

/// The data folder's volume and its mark file.
pub(crate) struct Syncer {
    volume: File,
    mark: hwm::Writer,
    /// The mark last made durable.
    synced: Mark,
}

impl Syncer {
    pub fn open(dir: &Path, synced: Mark) -> std::io::Result<Syncer> {
        Ok(Syncer {
            volume: File::open(dir)?,
            mark: hwm::Writer::open(dir)?,
            synced,
        })
    }

    /// Makes everything written on the data volume durable, then records
    /// `mark` (the last block written) as the acknowledged high-water mark.
    pub fn sync(&mut self, mark: Mark) -> Result<(), String> {
        debug_assert!(mark.seq >= self.synced.seq, "the mark only moves forward");
        syncfs(&self.volume).map_err(|e| format!("syncfs: {e}"))?;
        if mark != self.synced {
            self.mark
                .write_synced(mark)
                .map_err(|e| format!("write {}: {e}", hwm::FILE))?;
            self.synced = mark;
        }
        Ok(())
    }

    /// The last mark made durable.
    pub fn synced(&self) -> Mark {
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

/// sled 0.34 makes each write of its log buffer "stable" with
/// `sync_file_range(WAIT_BEFORE | WRITE | WAIT_AFTER)` and from then on acts
/// as if it were durable: it reuses the segments whose pages it relocated and
/// trusts blob files it never synced. On Linux that call neither commits
/// metadata nor flushes the device cache, so a power cut after it can lose
/// pages that were synced long before ("cannot find pid" at open, seen in
/// power-cut images even with a sync after every commit). On every other
/// platform sled calls `fsync` at that point instead; this definition gives
/// Linux the same contract, and more: it is `syncfs` of the volume, so the
/// blob files and directories sled wrote before that log write are durable
/// with it. The executable's definition takes precedence over glibc's, and
/// only sled calls `sync_file_range` in this process. Cost: one `syncfs`
/// per sled log-buffer write, about one per group commit (BENCHMARKS.md).
///
/// # Safety
/// Called by sled with a descriptor it owns; `syncfs` only reads it.
#[no_mangle]
pub unsafe extern "C" fn sync_file_range(
    fd: libc::c_int,
    _offset: i64,
    _nbytes: i64,
    _flags: libc::c_uint,
) -> libc::c_int {
    SLED_SYNCS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // SAFETY: see above.
    unsafe { libc::syncfs(fd) }
}

/// How many times sled's log writes were made durable through
/// [`sync_file_range`] (a test checks the interposition is in effect).
static SLED_SYNCS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The number of sled log writes made durable so far in this process.
pub fn sled_syncs() -> u64 {
    SLED_SYNCS.load(std::sync::atomic::Ordering::Relaxed)
}
