//! Where an operation goes: [`Target`] is the one engine of a single node,
//! or (feature `cluster`) this node's share of a cluster, where each op is
//! routed to the partition that owns its player and anything else is
//! answered `moved`. The transports (`http`, `ws`) hold a `Target` and never
//! look inside it; `ops` asks it for the [`Core`] of a player or a batch.

use crate::error::ApiError;
use crate::folder::Core;
use std::sync::Arc;

/// An op's destination.
#[derive(Clone)]
pub(crate) enum Target {
    /// Single-node mode: every op goes to this core.
    Single(Arc<Core>),
    /// Cluster mode: ops go to the partition of their player.
    #[cfg(feature = "cluster")]
    Cluster(Arc<crate::cluster::ClusterNode>),
}

impl Target {
    /// The core serving `player`: in a cluster, its partition's if this node
    /// owns it (`moved` if another does, `partition_unavailable` if it is
    /// opening or fenced).
    pub(crate) fn for_player(&self, player: &str) -> Result<Arc<Core>, ApiError> {
        match self {
            Target::Single(core) => {
                let _ = player;
                Ok(core.clone())
            }
            #[cfg(feature = "cluster")]
            Target::Cluster(node) => Ok(node.slot_for_player(player)?.core.clone()),
        }
    }

    /// The core serving every player of `players` (a batch): in a cluster
    /// they must all be of one partition (`partition_span` names the
    /// indexes per partition otherwise).
    pub(crate) fn for_batch<'a>(&self, players: impl Iterator<Item = &'a str>) -> Result<Arc<Core>, ApiError> {
        match self {
            Target::Single(core) => {
                let _ = players;
                Ok(core.clone())
            }
            #[cfg(feature = "cluster")]
            Target::Cluster(node) => Ok(node.slot_for_batch(players)?.core.clone()),
        }
    }

    /// The core of `partition` (cluster), or the only one (`partition` must
    /// then be `None`). Audit and admin routes take `?partition=N`.
    pub(crate) fn for_partition(&self, partition: Option<u32>) -> Result<Arc<Core>, ApiError> {
        match (self, partition) {
            (Target::Single(core), None) => Ok(core.clone()),
            (Target::Single(_), Some(_)) => Err(ApiError::invalid_request(
                "`partition` is only for a server in cluster mode",
            )),
            #[cfg(feature = "cluster")]
            (Target::Cluster(node), Some(p)) => Ok(node.slot(p)?.core.clone()),
            #[cfg(feature = "cluster")]
            (Target::Cluster(_), None) => Err(ApiError::invalid_request(
                "in cluster mode this request is per partition: add `partition=N` (GET /v1/cluster lists them)",
            )),
        }
    }
}
