//! [`ClusterNode`]: this node's share of a cluster: the open partitions
//! ([`Slot`]s), the last map read from etcd, and the routing answers
//! (`moved`, `partition_span`, `partition_unavailable`, `unknown_partition`).

use super::slot::Slot;
use crate::config::Settings;
use crate::error::ApiError;
use parking_lot::{Mutex, RwLock};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use trove_cluster::{Cluster, View};
use trove_protocol::{self as p, ErrorCode};

/// How often the control loop reads the map and acts on it (ms).
pub(crate) const CONTROL_INTERVAL_MS: u64 = 250;
/// How often the control loop reads the map and acts on it.
pub(crate) const CONTROL_INTERVAL: Duration = Duration::from_millis(CONTROL_INTERVAL_MS);
/// Partitions a node releases per control round when the plan moves them.
pub(crate) const MAX_MOVES: usize = 4;

/// This node's part of a cluster.
pub(crate) struct ClusterNode {
    /// The etcd handle; replaced when the node rejoins under a new lease.
    pub(crate) cluster: RwLock<Cluster>,
    pub(crate) partitions: u32,
    /// Folder of the partitions' folders (`--data`).
    pub(crate) root: PathBuf,
    pub(crate) settings: Settings,
    /// Open partitions by number.
    pub(crate) slots: RwLock<BTreeMap<u32, Arc<Slot>>>,
    /// The last map read from etcd.
    pub(crate) view: RwLock<Arc<View>>,
    /// Partitions whose folder failed to open, with why and when.
    pub(crate) damaged: Mutex<HashMap<u32, (String, Instant)>>,
    pub(crate) lease_ttl: Duration,
    /// Node-to-node reads (merged leaderboards, grants).
    pub(crate) http: reqwest::Client,
}

/// How long a node waits for another's part of a merged read.
pub(crate) const REMOTE_TIMEOUT: Duration = Duration::from_secs(2);

/// Readiness as the node reports it to the server: `(ready, why not)`.
pub(crate) type Ready = std::sync::Arc<dyn Fn(bool, &str) + Send + Sync>;

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

impl ClusterNode {
    /// A node that joined as `cluster`, serving from `settings.data`.
    pub(crate) fn new(
        cluster: Cluster,
        settings: &Settings,
        lease_ttl: Duration,
    ) -> Result<ClusterNode, reqwest::Error> {
        Ok(ClusterNode {
            partitions: cluster.partitions(),
            cluster: RwLock::new(cluster),
            root: settings.data.clone(),
            settings: settings.clone(),
            slots: RwLock::new(BTreeMap::new()),
            view: RwLock::new(Arc::new(View::default())),
            damaged: Mutex::new(HashMap::new()),
            lease_ttl,
            http: reqwest::Client::builder().timeout(REMOTE_TIMEOUT).build()?,
        })
    }
}
