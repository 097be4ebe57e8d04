//! Cluster mode (`trove serve --cluster etcd=...`, feature `cluster`): this
//! node's share of the partitions, kept by etcd through `trove_cluster`.
//!
//! - [`ClusterNode`]: the open partitions ([`slot::Slot`]s, one data folder
//!   each: today's single-node format), the last map read from etcd, and
//!   the routing answers (`moved`, `partition_span`,
//!   `partition_unavailable`).
//! - `control`: the loop that reads the map, plans ownership with
//!   `trove_cluster::assign::plan`, releases and takes partitions, applies
//!   the hunt catalog and hands back idle stock.
//! - `slot`: opening a partition (after its owner key is taken; the epoch
//!   is recorded in its folder before it serves) and closing it.
//! - `stock`: claims in a cluster: a partition grants only units it holds
//!   in its allotment of the global ledger, taken from etcd on demand.
//! - `catalog`: hunt definitions and stock additions go to etcd.
//!
//! This module does not know the wire format (the transports call it
//! through `route::Target` and `ops`), nor etcd's (that is trove-cluster).

mod catalog;
mod control;
pub(crate) mod remote;
pub(crate) mod routes;
mod slot;
pub(crate) mod status;
mod stock;

pub(crate) use catalog::{add_stock, define_hunt, hunt_ids, hunt_reply};
pub(crate) use slot::Slot;

use crate::config::{ClusterSettings, Settings};
use crate::error::ApiError;
use crate::server::ServeError;
use crate::state::AppState;
use metrics_exporter_prometheus::PrometheusHandle;
use parking_lot::{Mutex, RwLock};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use trove_cluster::{Cluster, ClusterConfig, View};
use trove_protocol::{self as p, ErrorCode};

/// How often the control loop reads the map and acts on it.
pub(crate) const CONTROL_INTERVAL: Duration = Duration::from_millis(250);
/// Partitions a node releases per control round when the plan moves them.
pub(crate) const MAX_MOVES: usize = 4;

/// This node's part of a cluster.
pub(crate) struct ClusterNode {
    /// The etcd handle; replaced when the node rejoins under a new lease.
    cluster: RwLock<Cluster>,
    partitions: u32,
    /// Folder of the partitions' folders (`--data`).
    root: PathBuf,
    settings: Settings,
    /// Open partitions by number.
    slots: RwLock<BTreeMap<u32, Arc<Slot>>>,
    /// The last map read from etcd.
    view: RwLock<Arc<View>>,
    /// Partitions whose folder failed to open, with why and when.
    damaged: Mutex<HashMap<u32, (String, Instant)>>,
    lease_ttl: Duration,
    /// Node-to-node reads (merged leaderboards, grants).
    http: reqwest::Client,
}

/// The fencing margin for a lease TTL: a quarter of it.
pub(crate) fn margin_for(ttl: Duration) -> Duration {
    ttl / 4
}

impl ClusterNode {
    /// The core of the open partition `partition`.
    pub(crate) fn slot(&self, partition: u32) -> Result<Arc<Slot>, ApiError> {
        if partition >= self.partitions {
            return Err(ApiError::new(
                ErrorCode::UnknownPartition,
                format!(
                    "partition {partition} does not exist: the cluster has {}",
                    self.partitions
                ),
            ));
        }
        if let Some(slot) = self.slots.read().get(&partition) {
            return slot.check().map(|_| slot.clone());
        }
        Err(self.not_here(partition))
    }

    /// The answer for a partition this node does not serve.
    fn not_here(&self, partition: u32) -> ApiError {
        let view = self.view.read().clone();
        let owner = view.owners.get(partition as usize).and_then(|o| o.as_ref());
        let mut e = match owner {
            Some(o) if o.node != self.node_id() => ApiError::new(
                ErrorCode::Moved,
                format!("partition {partition} is served by node {} at {}", o.node, o.url),
            )
            .routing(partition, Some(o.url.clone())),
            _ => {
                let why = self
                    .damaged
                    .lock()
                    .get(&partition)
                    .map(|(w, _)| format!(": {w}"))
                    .unwrap_or_default();
                ApiError::new(
                    ErrorCode::PartitionUnavailable,
                    format!("partition {partition} has no serving owner right now (failing over or opening{why}); retry shortly"),
                )
                .routing(partition, None)
            }
        };
        if let Some(o) = owner {
            e = e.with_epoch(o.epoch);
        }
        e
    }

    /// The open partition of `player`.
    pub(crate) fn slot_for_player(&self, player: &str) -> Result<Arc<Slot>, ApiError> {
        self.slot(p::partition_of(player, self.partitions))
    }

    /// The open partition of every player of a batch; `partition_span` if
    /// they are of several.
    pub(crate) fn slot_for_batch<'a>(&self, players: impl Iterator<Item = &'a str>) -> Result<Arc<Slot>, ApiError> {
        let mut by_partition: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for (i, player) in players.enumerate() {
            by_partition
                .entry(p::partition_of(player, self.partitions))
                .or_default()
                .push(i);
        }
        match by_partition.len() {
            0 => self
                .slots
                .read()
                .values()
                .next()
                .cloned()
                .ok_or_else(|| ApiError::new(ErrorCode::PartitionUnavailable, "this node serves no partition yet")),
            1 => self.slot(*by_partition.keys().next().expect("one")),
            n => Err(ApiError::new(
                ErrorCode::PartitionSpan,
                format!("the batch holds players of {n} partitions: send one batch per partition (see `partitions`)"),
            )
            .spanning(by_partition)),
        }
    }

    /// Open partitions.
    pub(crate) fn open_slots(&self) -> Vec<Arc<Slot>> {
        self.slots.read().values().cloned().collect()
    }

    /// This node's id.
    pub(crate) fn node_id(&self) -> String {
        self.cluster.read().node().to_owned()
    }

    /// The etcd handle.
    pub(crate) fn etcd(&self) -> Cluster {
        self.cluster.read().clone()
    }

    /// `GET /v1/cluster`: the map as last read (at most one control round old).
    pub(crate) fn map(&self) -> p::ClusterMap {
        let view = self.view.read().clone();
        p::ClusterMap {
            ok: true,
            partitions: self.partitions,
            node: self.node_id(),
            revision: view.revision,
            nodes: view
                .nodes
                .iter()
                .map(|(id, url)| p::NodeInfo {
                    id: id.clone(),
                    url: url.clone(),
                })
                .collect(),
            owners: (0..self.partitions)
                .map(|i| {
                    let o = view.owners.get(i as usize).and_then(|o| o.as_ref());
                    p::PartitionOwner {
                        partition: i,
                        node: o.map(|o| o.node.clone()),
                        url: o.map(|o| o.url.clone()),
                        epoch: o.map(|o| o.epoch),
                    }
                })
                .collect(),
        }
    }
}

/// Runs cluster mode until `signal`: joins, serves what the plan gives this
/// node, and at shutdown closes every partition, releases it and leaves.
pub(crate) async fn run(
    state: Arc<AppState>,
    settings: &Settings,
    cs: ClusterSettings,
    signal: actix_web::rt::task::JoinHandle<&'static str>,
    metrics: Option<PrometheusHandle>,
    server: actix_web::dev::ServerHandle,
) -> Result<(), ServeError> {
    let config = ClusterConfig {
        endpoints: cs.endpoints.clone(),
        prefix: cs.prefix.clone(),
        node: cs.node.clone(),
        advertise: cs.advertise.clone(),
        partitions: cs.partitions,
        lease_ttl: cs.lease_ttl,
        margin: margin_for(cs.lease_ttl),
        secret: {
            use rand::RngCore;
            let mut b = [0u8; 32];
            rand::thread_rng().fill_bytes(&mut b);
            b.iter().map(|x| format!("{x:02x}")).collect()
        },
    };
    state.set_ready(false, "joining the cluster");
    let cluster = Cluster::join(&config)
        .await
        .map_err(|e| ServeError::Other(format!("cannot join the cluster: {e}")))?;
    tracing::info!(node = %cs.node, partitions = cluster.partitions(), lease = cluster.lease_id(), "joined the cluster");
    let node = Arc::new(ClusterNode {
        partitions: cluster.partitions(),
        cluster: RwLock::new(cluster),
        root: settings.data.clone(),
        settings: settings.clone(),
        slots: RwLock::new(BTreeMap::new()),
        view: RwLock::new(Arc::new(View::default())),
        damaged: Mutex::new(HashMap::new()),
        lease_ttl: cs.lease_ttl,
        http: reqwest::Client::builder()
            .timeout(remote::REMOTE_TIMEOUT)
            .build()
            .map_err(|e| ServeError::Other(format!("http client: {e}")))?,
    });
    state.set_cluster(node.clone());
    state.set_ready(true, "");
    let control = actix_web::rt::spawn(control::run(node.clone(), state.clone(), metrics));
    let which = signal.await.unwrap_or("signal");
    tracing::info!(
        signal = which,
        "shutting down: closing partitions and leaving the cluster"
    );
    state.begin_shutdown();
    // Requests in flight finish before the partitions close.
    server.stop(true).await;
    control.abort();
    control::leave(&node).await;
    Ok(())
}
