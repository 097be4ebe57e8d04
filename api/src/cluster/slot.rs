//! One open partition: its data folder (today's single-node format) under
//! the cluster's `--data`, opened only after this node took its owner key.
//!
//! Opening: take the folder's lock (a paused or cut-off former owner still
//! holding it makes the open wait for a later round), recover, record the
//! epoch in the folder's `OWNERS` file (fsynced) before anything is served,
//! build the leaderboard projection, apply the hunt catalog.
//!
//! Two flags close a slot: `serving` (requests get `partition_unavailable`)
//! and `writable` (the journal, snapshots and checkpoints refuse to write;
//! with the node's [`Fence`] it is the slot's [`WriteGate`]).

use crate::config::Settings;
use crate::error::ApiError;
use crate::folder::{self, Core, ServeError};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::watch;
use trove_cluster::Cluster;
use trove_cluster::Fence;
use trove_persistence::{StoreError, WriteGate};
use trove_protocol::ErrorCode;

/// The folder of partition `partition` under the cluster's data folder.
pub(crate) fn partition_dir(root: &Path, partition: u32) -> PathBuf {
    root.join(format!("partition-{partition:05}"))
}

/// The file in a partition's folder that records every ownership epoch.
pub(crate) const OWNERS_FILE: &str = "OWNERS";

/// Writes may happen while the node's fence is open and the slot writable.
struct SlotGate {
    fence: Fence,
    writable: Arc<AtomicBool>,
}

impl WriteGate for SlotGate {
    fn check(&self) -> Result<(), String> {
        if !self.writable.load(Ordering::Acquire) {
            return Err("the partition is closing on this node".into());
        }
        if !self.fence.is_open() {
            return Err("the node's lease may have expired (fence closed)".into());
        }
        Ok(())
    }
}

/// A product's [`Units`], locked across a claim's etcd round trips.
pub(crate) type SharedUnits = Arc<tokio::sync::Mutex<Units>>;

/// An open partition.
pub(crate) struct Slot {
    pub(crate) partition: u32,
    pub(crate) epoch: i64,
    pub(crate) core: Arc<Core>,
    fence: Fence,
    serving: AtomicBool,
    writable: Arc<AtomicBool>,
    /// Becomes true when the slot closes (feeds end).
    closed: watch::Sender<bool>,
    tasks: Mutex<Vec<actix_web::rt::task::JoinHandle<()>>>,
    /// Stock this partition may grant, per (hunt, sku).
    pub(crate) units: Mutex<HashMap<(String, String), SharedUnits>>,
    /// Catalog revisions applied, per hunt.
    pub(crate) applied: Mutex<HashMap<String, i64>>,
}

/// Why a partition could not be opened.
pub(crate) enum OpenError {
    /// Another process holds the folder (its former owner, paused or not
    /// yet closed): retry in a later round.
    Locked,
    /// The folder is damaged or unreadable.
    Damaged(String),
}

impl Slot {
    /// Ok while the slot serves and the node's fence is open.
    pub(crate) fn check(&self) -> Result<(), ApiError> {
        if self.serving.load(Ordering::Acquire) && self.fence.is_open() {
            return Ok(());
        }
        Err(ApiError::new(
            ErrorCode::PartitionUnavailable,
            format!(
                "partition {} is closing on this node or the node lost its lease; retry (GET /v1/cluster)",
                self.partition
            ),
        )
        .routing(self.partition, None))
    }

    /// Stops serving requests (they get `partition_unavailable`); writes
    /// stay allowed until [`Slot::close`].
    pub(crate) fn stop_serving(&self) {
        self.serving.store(false, Ordering::Release);
    }

    /// Becomes true when the slot closes.
    pub(crate) fn closed(&self) -> watch::Receiver<bool> {
        self.closed.subscribe()
    }

    /// Opens `partition` at `epoch` (its owner key is already ours).
    pub(crate) async fn open(
        etcd: &Cluster,
        root: &Path,
        settings: &Settings,
        partition: u32,
        epoch: i64,
    ) -> Result<Arc<Slot>, OpenError> {
        let dir = partition_dir(root, partition);
        // A partition that existed has an OWNERS file: without one (a volume
        // not mounted, a folder deleted) starting an empty journal would
        // silently lose its history.
        if !dir.join(OWNERS_FILE).is_file() {
            match etcd.was_created(partition).await {
                Ok(false) => {}
                Ok(true) => {
                    return Err(OpenError::Damaged(format!(
                        "{} has no {OWNERS_FILE} file but the partition existed: is its volume mounted?",
                        dir.display()
                    )))
                }
                Err(e) => return Err(OpenError::Damaged(format!("cannot check the partition's history: {e}"))),
            }
        }
        let fence = etcd.fence().clone();
        let writable = Arc::new(AtomicBool::new(true));
        let gate: Arc<dyn WriteGate> = Arc::new(SlotGate {
            fence: fence.clone(),
            writable: writable.clone(),
        });
        let (core, report) = match folder::open_core(dir.clone(), settings.durability, Some(gate)).await {
            Ok(x) => x,
            Err(ServeError::Store(StoreError::Locked { .. })) => return Err(OpenError::Locked),
            Err(e) => return Err(OpenError::Damaged(e.to_string())),
        };
        let head = folder::chain_head(&core).await.map_err(OpenError::Damaged)?;
        if !fence.is_open() {
            writable.store(false, Ordering::Release);
            let _ = folder::close_core(&core).await;
            return Err(OpenError::Damaged("the fence closed while opening".into()));
        }
        let line = serde_json::json!({
            "epoch": epoch,
            "node": etcd.node(),
            "url": etcd.advertise(),
            "opened_at_ms": trove_engine::Clock::now_ms(&trove_engine::SystemClock),
            "last_seq": head.seq,
            "chain_hash": head.hash,
        });
        if let Err(e) = record_epoch(&dir, &line.to_string()) {
            writable.store(false, Ordering::Release);
            let _ = folder::close_core(&core).await;
            return Err(OpenError::Damaged(format!(
                "cannot record the epoch in {OWNERS_FILE}: {e}"
            )));
        }
        if let Err(e) = etcd.mark_created(partition, epoch).await {
            tracing::warn!(partition, error = %e, "could not record the partition's creation in etcd");
        }
        folder::build_projection(&core.projection, core.store.dir()).await;
        let tasks = folder::core_tasks(&core, settings, report.snapshot_seq.unwrap_or(0));
        Ok(Arc::new(Slot {
            partition,
            epoch,
            core,
            fence,
            serving: AtomicBool::new(true),
            writable,
            closed: watch::channel(false).0,
            tasks: Mutex::new(tasks),
            units: Mutex::new(HashMap::new()),
            applied: Mutex::new(HashMap::new()),
        }))
    }

    /// Stops serving; then, unless `fenced`, snapshots and closes the folder
    /// cleanly; then refuses every write. With `fenced` (the lease may be
    /// gone) nothing more is written.
    pub(crate) async fn close(&self, fenced: bool) {
        self.serving.store(false, Ordering::Release);
        if fenced {
            self.writable.store(false, Ordering::Release);
        }
        self.closed.send_replace(true);
        for t in self.tasks.lock().drain(..) {
            t.abort();
        }
        if let Err(e) = folder::close_core(&self.core).await {
            tracing::warn!(partition = self.partition, error = %e, "closing the partition failed");
        }
        self.writable.store(false, Ordering::Release);
        tracing::info!(
            partition = self.partition,
            epoch = self.epoch,
            fenced,
            "partition closed"
        );
    }
}

/// Appends one line to the folder's `OWNERS` file and syncs it (and the
/// folder, for a new file).
fn record_epoch(dir: &Path, line: &str) -> std::io::Result<()> {
    let path = dir.join(OWNERS_FILE);
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
    f.write_all(line.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()?;
    std::fs::File::open(dir)?.sync_all()
}

/// A partition's grantable units of one product.
#[derive(Debug)]
pub(crate) struct Units {
    pub(crate) loaded: bool,
    /// Allotted, not granted, not reserved.
    pub(crate) free: u64,
    /// Reserved by claims in flight.
    pub(crate) reserved: u64,
    pub(crate) last_used: Instant,
    /// Since when this partition's want for the product is up in etcd
    /// (kept up while the product stays sold out here).
    pub(crate) want_since: Option<Instant>,
}

impl Default for Units {
    fn default() -> Self {
        Units {
            loaded: false,
            free: 0,
            reserved: 0,
            last_used: Instant::now(),
            want_since: None,
        }
    }
}
