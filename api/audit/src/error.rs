//! Why an export stopped.

use std::io;
use trove_persistence::{JournalDamage, StoreError};

/// Why [`export`](crate::export()) stopped before its footer.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The journal could not be read (I/O, its indexes).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A block or record of the journal fails its checks.
    #[error(transparent)]
    Damaged(#[from] JournalDamage),
    /// The output could not be written (a closed pipe, a client gone or too slow).
    #[error("write: {0}")]
    Io(#[from] io::Error),
    /// The caller's `cancelled` said stop.
    #[error("interrupted")]
    Interrupted,
}
