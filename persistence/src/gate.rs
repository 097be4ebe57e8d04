//! [`WriteGate`]: asked by the journal writer before each group commit, and
//! by snapshots, whether this process may still write the folder (cluster
//! fencing: docs/CLUSTER.md). A leaf: it knows nothing of the journal.

/// Whether the journal may still write (see `StoreOptions::write_gate`).
pub trait WriteGate: Send + Sync {
    /// `Err(why)` once writing must stop.
    fn check(&self) -> Result<(), String>;
}
