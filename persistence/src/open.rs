//! Opening a locked data folder's parts: the journal (after finishing an
//! interrupted swap and converting a sled-layout journal) and the audit
//! projection (sled, rebuilt when it cannot be opened or leads the journal).

use crate::audit;
use crate::error::{io, panic_text, StoreError};
use crate::folder::{open_log, AUDIT_DIR};
use crate::log::BlockLog;
use crate::options::StoreOptions;
use crate::snapshot;
use crate::swap::{drop_old_journal, finish_journal_swap};
use std::path::Path;
use std::time::{Duration, Instant};

/// Opens the folder's journal: finishes an interrupted swap, converts a
/// journal an earlier version wrote in sled ([`crate::legacy`]), opens the
/// block log, and deletes a leftover `journal.old` once the journal checks out.
pub(crate) fn open_journal(dir: &Path) -> Result<BlockLog, StoreError> {
    finish_journal_swap(dir)?;
    crate::legacy::convert(dir)?;
    let log = open_log(dir)?;
    drop_old_journal(dir, &log, None)?;
    Ok(log)
}

/// Opens the audit projection, `DATA/audit/`. It is derived from the journal
/// (`audit`), so when sled cannot open it, or it describes records past the
/// end of the journal (sled's pages reached the disk before a power cut, the
/// log's unacknowledged tail did not), it is emptied and rebuilt by the next
/// [`audit::catch_up`]. Callers catch it up, then flush it.
pub(crate) fn open_audit(
    dir: &Path,
    options: &StoreOptions,
    log: &BlockLog,
) -> Result<(sled::Db, sled::Tree), StoreError> {
    let path = dir.join(AUDIT_DIR);
    let (db, tree) = match open_sled(&path, options) {
        Ok(opened) => opened,
        Err(reason) => {
            tracing::warn!(%reason, "the audit projection cannot be opened; rebuilding it from the journal");
            std::fs::remove_dir_all(&path).map_err(io(format!("remove {}", path.display())))?;
            open_sled(&path, options).map_err(|reason| StoreError::Io {
                context: format!("create {}", path.display()),
                source: std::io::Error::other(reason),
            })?
        }
    };
    let watermark = audit::watermark(&tree)?;
    if watermark > log.last_claimed_seq() {
        tracing::warn!(
            watermark,
            journal_last = log.last_claimed_seq(),
            "the audit projection is ahead of the journal; rebuilding it"
        );
        audit::reset(&tree)?;
    }
    Ok((db, tree))
}

/// sled's open, with its panics (seen on power-cut images) turned into errors.
fn open_sled(path: &Path, options: &StoreOptions) -> Result<(sled::Db, sled::Tree), String> {
    snapshot::create_private_dir(path).map_err(|e| format!("create {}: {e}", path.display()))?;
    let config = sled::Config::new()
        .path(path)
        .cache_capacity(options.cache_capacity)
        // Derived data: sled's own background flush is enough; open and close flush too.
        .flush_every_ms(Some(1000))
        .mode(sled::Mode::HighThroughput);
    let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // sled lets go of its own lock on `db` only when its background
        // threads drop the file, a moment after the last handle is gone
        // (spacejam/sled#1234), so reopening right after a close can find it
        // still held. DirLock already keeps other Trove processes out: wait.
        let deadline = Instant::now() + Duration::from_secs(5);
        let db = loop {
            match config.open() {
                Err(sled::Error::Io(e))
                    if e.to_string().contains("could not acquire lock") && Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(5))
                }
                result => break result?,
            }
        };
        let tree = db.open_tree(audit::TREE)?;
        Ok::<_, sled::Error>((db, tree))
    }));
    match opened {
        Ok(Ok(opened)) => Ok(opened),
        Ok(Err(e)) => Err(e.to_string()),
        Err(panic) => Err(format!("sled panicked: {}", panic_text(&*panic))),
    }
}
