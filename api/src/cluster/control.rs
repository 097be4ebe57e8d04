//! The control loop: every [`CONTROL_INTERVAL`] this node reads the map
//! from etcd, plans ownership, and acts on its own part of the plan.
//!
//! 1. If the fence is closed (lease lost or possibly expired), every
//!    partition is closed without writing, and the node rejoins under a
//!    new lease.
//! 2. Partitions this node serves whose owner key is no longer its own (at
//!    the slot's epoch) are closed without writing.
//! 3. Partitions planned for another live node are released gracefully:
//!    stop serving, snapshot, close, delete the owner key (compared on the
//!    epoch).
//! 4. Free partitions planned for this node are taken (owner key created
//!    under the lease) and opened; a folder still locked by its former
//!    owner gives the key back for a later round.
//! 5. The hunt catalog is applied to every open partition, and idle units
//!    wanted elsewhere go back to the ledger.

use super::catalog;
use super::node::{ClusterNode, Ready, CONTROL_INTERVAL, MAX_MOVES};
use super::slot::{OpenError, Slot};

use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::Arc;
use std::time::{Duration, Instant};
use trove_cluster::assign;

/// How often the cluster gauges are set and the metrics recorder does its
/// upkeep (the single-node server's metrics task does it otherwise).
const UPKEEP_INTERVAL: Duration = Duration::from_secs(2);

/// A damaged partition folder is retried this long after it failed.
const DAMAGED_RETRY: Duration = Duration::from_secs(30);

/// Runs until aborted.
pub(crate) async fn run(node: Arc<ClusterNode>, ready: Ready, metrics: Option<PrometheusHandle>) {
    let mut keeper = spawn_keep_alive(&node);
    let mut tick = tokio::time::interval(CONTROL_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_upkeep = Instant::now();
    loop {
        tick.tick().await;
        if !node.etcd().fence().is_open() {
            ready(false, "the node lost its lease; rejoining the cluster");
            close_all(&node, true).await;
            keeper.abort();
            if !rejoin(&node).await {
                continue;
            }
            keeper = spawn_keep_alive(&node);
            ready(true, "");
        }
        if let Err(e) = round(&node).await {
            tracing::warn!(error = %e, "control round failed; the fence protects writes meanwhile");
        }
        if last_upkeep.elapsed() >= UPKEEP_INTERVAL {
            last_upkeep = Instant::now();
            metrics::gauge!("trove_cluster_partitions_owned").set(node.slots.read().len() as f64);
            if let Some(h) = &metrics {
                h.run_upkeep();
            }
        }
    }
}

fn spawn_keep_alive(node: &ClusterNode) -> actix_web::rt::task::JoinHandle<()> {
    let etcd = node.etcd();
    let (client, lease, fence, ttl) = (etcd.client(), etcd.lease_id(), etcd.fence().clone(), node.lease_ttl);
    actix_web::rt::spawn(async move {
        let e = trove_cluster::lease::keep_alive(client, lease, ttl, fence).await;
        tracing::error!(error = %e, "keep-alive ended");
    })
}

/// Grants a new lease and registers the node again; false if etcd refused.
/// The old lease is revoked first (best effort: it may be gone already),
/// so that its node key and the owner keys of the partitions just closed
/// go at once instead of at its expiry.
async fn rejoin(node: &ClusterNode) -> bool {
    let mut etcd = node.etcd();
    if let Err(e) = etcd.leave().await {
        tracing::debug!(error = %e, "the old lease could not be revoked (expired already?)");
    }
    match etcd.grant_lease(node.lease_ttl).await {
        Ok(()) => {
            tracing::info!(lease = etcd.lease_id(), "rejoined the cluster under a new lease");
            *node.cluster.write() = etcd;
            true
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot rejoin the cluster yet");
            false
        }
    }
}

/// Closes every open partition (`fenced`: without writing).
pub(crate) async fn close_all(node: &ClusterNode, fenced: bool) {
    let slots: Vec<Arc<Slot>> = std::mem::take(&mut *node.slots.write()).into_values().collect();
    for slot in slots {
        slot.close(fenced).await;
    }
}

/// One round of steps 2-5 of the module essay.
async fn round(node: &Arc<ClusterNode>) -> Result<(), trove_cluster::ClusterError> {
    let etcd = node.etcd();
    let view = Arc::new(etcd.view().await?);
    *node.view.write() = view.clone();
    let me = etcd.node().to_owned();
    // 2. Lost ownership (expired, or taken over): close without writing.
    let lost: Vec<Arc<Slot>> = node
        .open_slots()
        .into_iter()
        .filter(|s| {
            view.owners[s.partition as usize]
                .as_ref()
                .is_none_or(|o| o.epoch != s.epoch || o.node != me)
        })
        .collect();
    for slot in lost {
        tracing::warn!(
            partition = slot.partition,
            epoch = slot.epoch,
            "ownership lost in etcd; closing without writing"
        );
        node.slots.write().remove(&slot.partition);
        slot.close(true).await;
    }
    let plan = assign::plan(node.partitions, &view.node_ids(), &view.owner_ids(), MAX_MOVES);
    // 3. Planned elsewhere: release gracefully.
    for slot in node.open_slots() {
        if plan[slot.partition as usize].as_deref() != Some(me.as_str()) {
            node.slots.write().remove(&slot.partition);
            slot.stop_serving();
            node.return_all(&slot).await;
            slot.close(false).await;
            match etcd.release(slot.partition, slot.epoch).await {
                Ok(()) => tracing::info!(partition = slot.partition, "partition released"),
                Err(e) => tracing::warn!(partition = slot.partition, error = %e, "release refused"),
            }
        }
    }
    // 4. Free and planned here: take and open.
    for (p, planned) in plan.iter().enumerate() {
        let p = p as u32;
        if planned.as_deref() != Some(me.as_str())
            || view.owners[p as usize].is_some()
            || node.slots.read().contains_key(&p)
        {
            continue;
        }
        if node
            .damaged
            .lock()
            .get(&p)
            .is_some_and(|(_, at)| at.elapsed() < DAMAGED_RETRY)
        {
            continue;
        }
        take(node, p).await?;
    }
    // 5. Catalog and idle stock.
    // One read of the catalog for every open partition.
    let hunts = etcd.hunts().await?;
    for slot in node.open_slots() {
        catalog::apply_these(&slot, &hunts).await;
    }
    let wants = etcd.wants().await?;
    node.return_idle(&wants).await;
    Ok(())
}

/// Takes partition `p` in etcd and opens its folder.
async fn take(node: &Arc<ClusterNode>, p: u32) -> Result<(), trove_cluster::ClusterError> {
    let etcd = node.etcd();
    let Some(epoch) = etcd.acquire(p).await? else {
        return Ok(());
    };
    let started = Instant::now();
    match Slot::open(&etcd, &node.root, &node.settings, p, epoch).await {
        Ok(slot) => {
            catalog::apply(node, &slot).await;
            node.load_units(&slot).await;
            node.damaged.lock().remove(&p);
            node.slots.write().insert(p, slot);
            metrics::histogram!("trove_cluster_partition_open_seconds").record(started.elapsed().as_secs_f64());
            tracing::info!(
                partition = p,
                epoch,
                ms = started.elapsed().as_millis() as u64,
                "partition opened"
            );
        }
        Err(OpenError::Locked) => {
            tracing::info!(
                partition = p,
                "partition folder still held by its former owner; retrying"
            );
            let _ = etcd.release(p, epoch).await;
        }
        Err(OpenError::Damaged(why)) => {
            tracing::error!(partition = p, reason = %why, "partition folder cannot be opened; others keep serving");
            node.damaged.lock().insert(p, (why, Instant::now()));
            let _ = etcd.release(p, epoch).await;
        }
    }
    Ok(())
}

/// Clean shutdown: close every partition with a snapshot, release it, and
/// revoke the lease.
pub(crate) async fn leave(node: &ClusterNode) {
    let etcd = node.etcd();
    let slots: Vec<Arc<Slot>> = std::mem::take(&mut *node.slots.write()).into_values().collect();
    for slot in slots {
        slot.stop_serving();
        node.return_all(&slot).await;
        slot.close(false).await;
        if let Err(e) = etcd.release(slot.partition, slot.epoch).await {
            tracing::warn!(partition = slot.partition, error = %e, "release at shutdown failed; the lease revocation frees it");
        }
    }
    let mut etcd = etcd;
    if let Err(e) = etcd.leave().await {
        tracing::warn!(error = %e, "lease revocation failed; the partitions are free once it expires");
    }
}
