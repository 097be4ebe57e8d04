//! [`StoreOptions`]: how a [`crate::Store`] stores (durability mode, block size,
//! group-commit window, snapshots kept, the clock that stamps blocks).

use crate::journal::DurabilityMode;
use std::sync::Arc;
use std::time::Duration;
use trove_engine::{Clock, SystemClock};

/// Storage settings.
#[derive(Clone)]
pub struct StoreOptions {
    /// When a commit counts as durable (see `docs/DURABILITY.md`).
    pub durability: DurabilityMode,
    /// The audit projection's sled page cache, in bytes.
    pub cache_capacity: u64,
    /// Journal blocks are cut at about this size. Under load a commit carries
    /// hundreds of KiB; a block is the unit of hashing, checking and of an
    /// export's proof, so larger blocks cost less per record. A quiet commit
    /// (a few claims) is one small block either way.
    pub block_target_bytes: usize,
    /// Shortest time between the starts of two group commits: the window in
    /// which requests gather into one flush. Bounds flushes to 1/interval per
    /// second; adds at most this much to an acknowledgement's latency.
    pub commit_interval: Duration,
    /// Snapshot files kept (newest first).
    pub snapshots_kept: usize,
    /// Stamps journal blocks with their commit time.
    pub clock: Arc<dyn Clock>,
    /// Asked by the journal writer right before it writes each group
    /// commit; a refusal fail-stops the journal with nothing of that commit
    /// written (cluster fencing: a node whose lease may have expired writes
    /// nothing more). `None`: always open.
    pub write_gate: Option<Arc<dyn crate::gate::WriteGate>>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            durability: DurabilityMode::Flush,
            cache_capacity: 64 << 20,
            block_target_bytes: 256 << 10,
            commit_interval: Duration::from_micros(200),
            snapshots_kept: 3,
            clock: Arc::new(SystemClock),
            write_gate: None,
        }
    }
}
