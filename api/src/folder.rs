//! An open data folder: [`Core`] (its engine, store and leaderboard
//! projection), how it is opened and recovered ([`open_core`]), the
//! background tasks it runs (projection refresh, snapshots: [`core_tasks`])
//! and how it is closed ([`close_core`]). A single node has one; a cluster
//! node one per partition it serves. This module knows nothing of HTTP,
//! WebSocket or the cluster.

use crate::auth::KeyError;
use crate::config::Settings;
use std::sync::Arc;
use std::time::{Duration, Instant};
use trove_engine::{Engine, EngineConfig, Journal, Seq};
use trove_persistence::{Store, StoreError, StoreOptions};
use trove_readmodel::projection::{Projection, REFRESH_INTERVAL};

/// Why [`serve`] stopped with an error (a clean shutdown is `Ok`).
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Opening, recovering or closing the journal and snapshots failed
    /// (including a data folder locked by another process).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The keys could not be loaded or generated.
    #[error(transparent)]
    Keys(#[from] KeyError),
    /// The listening address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// The bind error.
        source: std::io::Error,
    },
    /// Another I/O step of startup failed (creating the data folder, ...).
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Anything else, e.g. a recovery that panicked.
    #[error("{0}")]
    Other(String),
}

/// What exists once recovery is done.
pub(crate) struct Core {
    pub(crate) engine: Engine,
    pub(crate) store: Arc<Store>,
    pub(crate) projection: Arc<Projection>,
    /// Cluster fencing: asked before the projection's checkpoint is written
    /// (the journal and snapshots ask it themselves).
    pub(crate) gate: Option<Arc<dyn trove_persistence::WriteGate>>,
}

impl Core {
    /// Checkpoints the leaderboard projection next to the snapshots (with
    /// every snapshot, so retention is bounded by both); a failure only costs
    /// a slower next start (the projection is rebuilt from the journal).
    pub(crate) async fn save_projection(&self) {
        if let Some(why) = self.gate.as_ref().and_then(|g| g.check().err()) {
            tracing::warn!(reason = %why, "leaderboard checkpoint not written: writes fenced");
            return;
        }
        let projection = &self.projection;
        if let Err(e) = projection.refresh().await {
            tracing::warn!(error = %e, "leaderboard projection not refreshed before its checkpoint");
        }
        match projection.save(self.store.dir()).await {
            Ok(seq) => tracing::info!(seq, "leaderboard checkpoint written"),
            Err(e) => tracing::warn!(error = %e, "leaderboard checkpoint not written"),
        }
    }
}

/// Opens and recovers the data folder `dir` (snapshot + journal) and starts
/// its engine and leaderboard projection (not yet built). `gate` fences the
/// journal's writes (cluster mode).
pub(crate) async fn open_core(
    dir: std::path::PathBuf,
    durability: trove_persistence::DurabilityMode,
    gate: Option<Arc<dyn trove_persistence::WriteGate>>,
) -> Result<(Arc<Core>, trove_persistence::RecoveryReport), ServeError> {
    let options_gate = gate.clone();
    let options = StoreOptions {
        durability,
        write_gate: gate,
        ..StoreOptions::default()
    };
    let (store, world, report) = tokio::task::spawn_blocking(move || Store::open(&dir, options))
        .await
        .map_err(|e| ServeError::Other(format!("recovery panicked: {e}")))??;
    tracing::info!(
        dir = %store.dir().display(),
        last_seq = report.last_seq,
        snapshot = ?report.snapshot_seq,
        tail_records = report.tail_records,
        players = report.players,
        ms = report.elapsed.as_millis() as u64,
        "recovery done"
    );
    let journal: Arc<dyn Journal> = store.journal();
    let engine = Engine::start(EngineConfig::default(), journal, world);
    let store = Arc::new(store);
    let projection = Projection::new(store.clone());
    Ok((
        Arc::new(Core {
            engine,
            store,
            projection,
            gate: options_gate,
        }),
        report,
    ))
}

/// The background tasks every open data folder runs: the projection's
/// refresh and the snapshot policy (`last_snapshot`: the snapshot recovery
/// started from).
pub(crate) fn core_tasks(
    core: &Arc<Core>,
    settings: &Settings,
    last_snapshot: Seq,
) -> Vec<actix_web::rt::task::JoinHandle<()>> {
    vec![
        actix_web::rt::spawn(projection_task(core.projection.clone())),
        actix_web::rt::spawn(snapshot_task(
            core.clone(),
            SnapshotPolicy {
                every: settings.snapshot_interval,
                every_records: settings.snapshot_every_records,
                // A crash loop never reaches the periodic snapshot; the tail
                // this start replayed counts towards the next one.
                last: last_snapshot,
            },
        )),
    ]
}

/// Closes an open data folder: a snapshot (unless its journal failed), the
/// projection's checkpoint, the journal (everything flushed), the engine.
pub(crate) async fn close_core(core: &Core) -> Result<Seq, ServeError> {
    let failed = core.store.journal().durability().borrow().failure.is_some();
    let fenced = core.gate.as_ref().is_some_and(|g| g.check().is_err());
    if !failed && !fenced {
        match core.store.snapshot(&core.engine).await {
            Ok(seq) => tracing::info!(seq, dir = %core.store.dir().display(), "snapshot written"),
            Err(e) => tracing::error!(error = %e, "closing snapshot failed; the journal still holds everything"),
        }
        core.save_projection().await;
    }
    let closed = core.store.close().await;
    core.engine.stop();
    match closed {
        Ok(seq) => {
            tracing::info!(seq, dir = %core.store.dir().display(), "journal closed");
            Ok(seq)
        }
        Err(e) if failed || fenced => {
            tracing::warn!(error = %e, dir = %core.store.dir().display(), "journal had failed (fenced or a write error); closed without a snapshot");
            Ok(core.store.durable_seq())
        }
        Err(e) => {
            tracing::error!(error = %e, "closing the journal failed");
            Err(e.into())
        }
    }
}

/// Builds the leaderboard projection: from its checkpoint in `dir` when it
/// is usable, then the journal's tail (or the whole journal).
pub(crate) async fn build_projection(projection: &Projection, dir: &std::path::Path) {
    let started = Instant::now();
    let (from, ignored) = projection.start_from_checkpoint(dir).await;
    if let Some(why) = ignored {
        tracing::warn!(reason = %why, "leaderboard checkpoint not used; rebuilding from the journal");
    }
    if let Err(e) = projection.refresh().await {
        tracing::error!(error = %e, "leaderboard projection could not be built");
    }
    tracing::info!(
        from_checkpoint = from,
        seq = projection.as_of_seq(),
        ms = started.elapsed().as_millis() as u64,
        "leaderboard projection built"
    );
}

async fn projection_task(projection: Arc<Projection>) {
    let mut tick = tokio::time::interval(REFRESH_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut reported = false;
    loop {
        tick.tick().await;
        if let Err(e) = projection.refresh().await {
            if !reported {
                tracing::error!(error = %e, "leaderboard projection refresh failed");
                reported = true;
            }
        }
    }
}

/// When to snapshot: every `every` of uptime if anything changed, and as soon
/// as `every_records` were journaled since the snapshot at `last`.
struct SnapshotPolicy {
    every: Duration,
    every_records: u64,
    last: Seq,
}

impl SnapshotPolicy {
    /// Whether a snapshot is due at durable sequence `durable`, `elapsed`
    /// after the last one (or the start).
    fn due(&self, durable: Seq, elapsed: Duration) -> bool {
        let by_volume = self.every_records > 0 && durable.saturating_sub(self.last) >= self.every_records;
        let by_time = !self.every.is_zero() && elapsed >= self.every && durable > self.last;
        by_volume || by_time
    }
}

/// How often the snapshot policy is looked at.
const SNAPSHOT_CHECK_INTERVAL: Duration = Duration::from_millis(500);

async fn snapshot_task(core: Arc<Core>, mut policy: SnapshotPolicy) {
    if policy.every.is_zero() && policy.every_records == 0 {
        return;
    }
    let mut since = Instant::now();
    let mut tick = tokio::time::interval(SNAPSHOT_CHECK_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if !policy.due(core.engine.durable_seq(), since.elapsed()) {
            continue;
        }
        let started = Instant::now();
        match core.store.snapshot(&core.engine).await {
            Ok(seq) => {
                policy.last = seq;
                since = Instant::now();
                tracing::info!(
                    seq,
                    ms = started.elapsed().as_millis() as u64,
                    "periodic snapshot written"
                );
            }
            Err(e) => {
                // Try again at the next period, not at the next tick.
                since = Instant::now();
                policy.last = core.engine.durable_seq();
                tracing::error!(error = %e, "periodic snapshot failed")
            }
        }
        // The leaderboard checkpoint goes with every snapshot: a restart
        // then replays the same short tail for both.
        core.save_projection().await;
    }
}

/// The chain head: the last durable block's last sequence and hash (one
/// block read, off the async threads).
pub(crate) async fn chain_head(core: &Core) -> Result<trove_protocol::ChainHead, String> {
    let store = core.store.clone();
    let seq = store.durable_seq();
    let hash = tokio::task::spawn_blocking(move || store.block_hash_at(seq))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("the journal cannot be read: {e}"))?;
    Ok(trove_protocol::ChainHead {
        seq,
        hash: hash.iter().map(|b| format!("{b:02x}")).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_are_due_by_volume_or_by_time_with_new_records() {
        let p = SnapshotPolicy {
            every: Duration::from_secs(60),
            every_records: 1_000,
            // Recovered from a snapshot at 500: a crash loop counts from there.
            last: 500,
        };
        let (soon, late) = (Duration::from_secs(1), Duration::from_secs(61));
        assert!(!p.due(1_499, soon));
        assert!(p.due(1_500, soon), "by volume, whatever the uptime");
        assert!(!p.due(500, late), "by time only if something changed");
        assert!(p.due(501, late));
        let volume_only = SnapshotPolicy {
            every: Duration::ZERO,
            ..p
        };
        assert!(!volume_only.due(501, late));
        let time_only = SnapshotPolicy { every_records: 0, ..p };
        assert!(!time_only.due(1_000_000, soon));
    }
}
