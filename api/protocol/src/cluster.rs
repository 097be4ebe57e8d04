//! The cluster's wire types: which partition a player belongs to
//! ([`partition_of`]), the partition map every node answers at
//! `GET /v1/cluster` ([`ClusterMap`]), and the fields a `moved` or
//! `partition_span` error carries (in [`ErrorBody`](crate::ErrorBody)).
//!
//! The hash is part of the contract: clients (the Rust client, `trove-sim
//! load`, the TypeScript SDK) compute a player's partition themselves to
//! send each op to its owner, so it must never change for a cluster's life.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Most partitions a cluster may have.
pub const MAX_PARTITIONS: u32 = 4096;

/// The partition of `player` in a cluster of `partitions` partitions:
/// FNV-1a (64-bit) of the player id's UTF-8 bytes, modulo `partitions`.
///
/// ```
/// assert_eq!(trove_protocol::cluster::partition_of("p1", 64), trove_protocol::cluster::partition_of("p1", 64));
/// assert!(trove_protocol::cluster::partition_of("anyone", 8) < 8);
/// ```
pub fn partition_of(player: &str, partitions: u32) -> u32 {
    assert!(partitions > 0, "a cluster has at least one partition");
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in player.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h % u64::from(partitions)) as u32
}

/// `GET /v1/cluster`: the partition map as the answering node sees it in
/// etcd (at most one control tick old).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ClusterMap {
    /// Always `true`.
    pub ok: bool,
    /// Number of partitions, fixed when the cluster was created.
    pub partitions: u32,
    /// The node that answered.
    pub node: String,
    /// The etcd revision the map was read at.
    pub revision: i64,
    /// Live nodes (those holding a lease), sorted by id.
    pub nodes: Vec<NodeInfo>,
    /// One entry per partition, in partition order.
    pub owners: Vec<PartitionOwner>,
}

/// A live node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NodeInfo {
    /// The node's id (`--node`).
    pub id: String,
    /// Where clients reach it (`--advertise`).
    pub url: String,
}

/// Who owns a partition. A partition between owners (its old owner's lease
/// expired or it was released, the new owner not yet open) has no `node`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PartitionOwner {
    /// The partition.
    pub partition: u32,
    /// The owning node, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// The owner's URL, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The ownership's epoch: the etcd revision at which it was taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<i64>,
}

impl ClusterMap {
    /// The owner entry of `partition`, if the map has it.
    pub fn owner(&self, partition: u32) -> Option<&PartitionOwner> {
        self.owners.get(partition as usize).filter(|o| o.partition == partition)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_partition_hash_is_fnv1a_and_stable() {
        // FNV-1a 64 of "" is the offset basis; of "a" a known value.
        assert_eq!(
            partition_of("", u32::MAX),
            (0xcbf2_9ce4_8422_2325u64 % u64::from(u32::MAX)) as u32
        );
        assert_eq!(
            partition_of("a", u32::MAX),
            (0xaf63_dc4c_8601_ec8cu64 % u64::from(u32::MAX)) as u32
        );
        let mut counts = [0u32; 8];
        for i in 0..8000 {
            counts[partition_of(&format!("player-{i}"), 8) as usize] += 1;
        }
        assert!(counts.iter().all(|&c| (800..1200).contains(&c)), "{counts:?}");
    }
}
