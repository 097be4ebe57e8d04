//! Replacing the journal with a copy (compaction's, or a conversion from
//! the sled layout), so that a crash at any point leaves one whole journal:
//! the copy is built in `journal.next`, marked `COMPLETE`, renamed into
//! place with the original kept as `journal.old`, and the original deleted
//! only once the journal in place reads end to end, checked.

use crate::error::{io, StoreError};
use crate::folder::{open_log, sync_dir, COMPLETE_MARK, JOURNAL_DIR, NEXT_JOURNAL_DIR, OLD_JOURNAL_DIR};
use crate::hwm::{self, Mark};
use crate::log::BlockLog;
use crate::walk::Entries;
use std::fs::File;
use std::path::Path;

/// Finishes or undoes a journal swap that a crash interrupted: a complete
/// `journal.next` replaces `journal`, an incomplete one is deleted. A
/// leftover `journal.old` stays until the journal has been opened and
/// checked ([`drop_old_journal`]). Called with the folder's lock held,
/// before the journal is opened.
pub(crate) fn finish_journal_swap(dir: &Path) -> Result<(), StoreError> {
    let (current, next, old) = (
        dir.join(JOURNAL_DIR),
        dir.join(NEXT_JOURNAL_DIR),
        dir.join(OLD_JOURNAL_DIR),
    );
    if next.exists() {
        if next.join(COMPLETE_MARK).exists() {
            if current.exists() {
                std::fs::rename(&current, &old).map_err(io(format!("rename {}", current.display())))?;
            }
            std::fs::rename(&next, &current).map_err(io(format!("rename {}", next.display())))?;
            sync_dir(dir)?;
            tracing::info!("finished replacing the journal with its compacted copy");
        } else {
            std::fs::remove_dir_all(&next).map_err(io(format!("remove {}", next.display())))?;
            sync_dir(dir)?;
        }
    }
    Ok(())
}

/// Marks the durable copy in `journal.next` complete, swaps it in, and
/// deletes the original once the journal now in place checks out and ends
/// at `original` (the original's last sequence and hash). Returns the
/// journal in place.
pub(crate) fn swap_in(dir: &Path, original: Mark) -> Result<BlockLog, StoreError> {
    let next = dir.join(NEXT_JOURNAL_DIR);
    let mark = next.join(COMPLETE_MARK);
    File::create(&mark)
        .and_then(|f| f.sync_all())
        .map_err(io(format!("write {}", mark.display())))?;
    sync_dir(&next)?;
    finish_journal_swap(dir)?;
    let log = open_log(dir)?;
    drop_old_journal(dir, &log, Some(original))?;
    Ok(log)
}

/// After a swap: once `log` (the journal now in place) reads end to end
/// with every block checked, reaches the acknowledged mark, and, when
/// `expect` is given, ends at that sequence and hash, deletes `journal.old`.
/// Until then the original journal is kept.
pub(crate) fn drop_old_journal(dir: &Path, log: &BlockLog, expect: Option<Mark>) -> Result<(), StoreError> {
    let old = dir.join(OLD_JOURNAL_DIR);
    if !old.exists() {
        return Ok(());
    }
    let end = Entries::after(0)
        .run(log, |_, _, _| Ok::<(), std::convert::Infallible>(()))
        .map_err(|e| StoreError::SwapCheck(e.damage().to_string()))?;
    if let Some(mark) = hwm::read(dir).map_err(StoreError::SwapCheck)? {
        hwm::check(log, mark, end.last_seq).map_err(StoreError::SwapCheck)?;
    }
    if let Some(want) = expect {
        if (end.last_seq, end.last_hash) != (want.seq, want.hash) {
            return Err(StoreError::SwapCheck(format!(
                "it ends at sequence {}, the original at {}",
                end.last_seq, want.seq
            )));
        }
    }
    // The completion mark has done its job; left in place it would say nothing.
    let mark = dir.join(JOURNAL_DIR).join(COMPLETE_MARK);
    match std::fs::remove_file(&mark) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(format!("remove {}", mark.display()))(e)),
    }
    std::fs::remove_dir_all(&old).map_err(io(format!("remove {}", old.display())))?;
    sync_dir(dir)
}
