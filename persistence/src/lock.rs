//! [`DirLock`]: the exclusive `flock` on `DATA/LOCK` that keeps one process
//! per data folder, and the process-wide list of folders this process holds
//! (so that a lock a spawning child briefly inherited is waited out).

use crate::error::{io, StoreError};
use crate::snapshot;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The exclusive lock on a data folder, held for the life of the store.
pub struct DirLock {
    _file: File,
    held: PathBuf,
}

/// Folders this process holds a [`DirLock`] on.
static HELD: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

impl Drop for DirLock {
    fn drop(&mut self) {
        let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = held.iter().position(|p| *p == self.held) {
            held.swap_remove(i);
        }
    }
}

impl DirLock {
    /// Takes the lock on `dir` (creating the folder, 0700, and its `LOCK` file), writing this
    /// process id into it; fails with [`StoreError::Locked`] if another process holds it.
    pub fn acquire(dir: &Path) -> Result<DirLock, StoreError> {
        // 0700: the journal and snapshots hold customs data.
        snapshot::create_private_dir(dir).map_err(io(format!("create {}", dir.display())))?;
        let path = dir.join("LOCK");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(io(format!("open {}", path.display())))?;
        let held = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let e = match file.try_lock() {
                Ok(()) => break,
                Err(e) => e,
            };
            if let std::fs::TryLockError::Error(e) = e {
                return Err(io(format!("lock {}", path.display()))(e));
            }
            let mut holder = String::new();
            let _ = file.rewind().and_then(|_| file.read_to_string(&mut holder));
            let holder = holder.trim();
            // A child that another thread of this process is spawning holds
            // copies of our descriptors, locks included, from fork to exec: a
            // folder this process has just closed can look locked for that
            // moment. Wait that out; any other holder fails at once.
            let ours = holder == std::process::id().to_string()
                && !HELD.lock().unwrap_or_else(|e| e.into_inner()).contains(&held);
            if ours && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(2));
                continue;
            }
            let holder = if holder.is_empty() {
                String::new()
            } else {
                format!(" (pid {holder})")
            };
            return Err(StoreError::Locked {
                path: dir.to_path_buf(),
                holder,
            });
        }
        let _ = file
            .set_len(0)
            .and_then(|_| file.rewind())
            .and_then(|_| write!(file, "{}", std::process::id()));
        HELD.lock().unwrap_or_else(|e| e.into_inner()).push(held.clone());
        Ok(DirLock { _file: file, held })
    }
}
