//! Converting a journal that an earlier version kept in sled.
//!
//! Until the block log ([`crate::log`]), `DATA/journal/` was a sled database
//! whose tree `journal` held the blocks (key: first sequence, big-endian;
//! value: the encoded block, the same bytes the log holds). A folder in that
//! layout is converted at its first open, through the same swap compaction
//! uses, so that a crash at any point leaves one whole journal:
//!
//! 1. copy every block, in key order, into `journal.next/blocks.log`;
//!    fdatasync it, syncfs its folder, write `journal.next/COMPLETE`;
//! 2. swap: `journal` becomes `journal.old`, `journal.next` becomes `journal`;
//! 3. `journal.old` (the sled database) is deleted only after the new log
//!    reads end to end, checked, to the same chain head, and reaches the mark.
//!
//! The old audit tree is not copied: the projection is rebuilt from the
//! journal into `DATA/audit/`.

use crate::codec;
use crate::error::{io, panic_text, JournalDamage, StoreError};
use crate::folder::{JOURNAL_DIR, NEXT_JOURNAL_DIR};
use crate::hwm::Mark;
use crate::log::{self, LogWriter};
use std::path::Path;

/// Converts `dir`'s journal if it is a sled database; does nothing otherwise.
pub(crate) fn convert(dir: &Path) -> Result<(), StoreError> {
    let current = dir.join(JOURNAL_DIR);
    if current.join(log::FILE).exists() || !current.join("db").exists() {
        return Ok(());
    }
    tracing::warn!(path = %current.display(), "converting the journal from sled to the block log");
    let next = dir.join(NEXT_JOURNAL_DIR);
    let original = copy_blocks(&current, &next).inspect_err(|_| {
        let _ = std::fs::remove_dir_all(&next);
    })?;
    let log = crate::swap::swap_in(dir, original)?;
    tracing::info!(blocks = log.len(), "journal converted");
    Ok(())
}

/// Copies the blocks of the sled journal in `from` into a new log in `to`;
/// returns the last block's sequence and hash (what the copy must end at).
fn copy_blocks(from: &Path, to: &Path) -> Result<Mark, StoreError> {
    let unknown = |reason: String| StoreError::UnknownFormat {
        path: from.to_path_buf(),
        reason,
    };
    let opened = std::panic::catch_unwind(|| sled::Config::new().path(from).open());
    let db = match opened {
        Ok(Ok(db)) => db,
        Ok(Err(e)) => return Err(unknown(format!("sled cannot open it: {e}"))),
        Err(panic) => return Err(unknown(format!("sled panicked: {}", panic_text(&*panic)))),
    };
    let tree = db.open_tree("journal")?;
    let mut writer = LogWriter::create(to).map_err(io(format!("create {}", to.display())))?;
    let (mut frames, mut blocks) = (Vec::new(), Vec::new());
    let mut last = Mark { seq: 0, hash: [0; 32] };
    for item in tree.iter() {
        let (key, value) = item?;
        let first_seq = codec::seq_of_key(&key).ok_or_else(|| unknown(format!("a key of {} bytes", key.len())))?;
        // Checked again, in full, when the new log is read end to end.
        let block = codec::decode_block(&value)
            .map_err(|reason| StoreError::Damaged(JournalDamage::CorruptBlock { first_seq, reason }))?;
        last = Mark {
            seq: block.last_seq(),
            hash: block.hash,
        };
        log::frame(first_seq, block.count, &value, &mut frames);
        blocks.push((first_seq, block.count));
        if frames.len() >= 32 << 20 {
            writer
                .append(&frames, &blocks)
                .map_err(io(format!("write {}", to.display())))?;
            frames.clear();
            blocks.clear();
        }
    }
    writer
        .append(&frames, &blocks)
        .map_err(io(format!("write {}", to.display())))?;
    writer.sync().map_err(io(format!("fdatasync {}", to.display())))?;
    crate::durable::syncfs_dir(to).map_err(io(format!("syncfs {}", to.display())))?;
    Ok(last)
}
