//! Partition ownership: the [`View`] of live nodes and owners, and taking
//! ([`Cluster::acquire`]) and releasing ([`Cluster::release`]) a partition.
//!
//! An owner key is put under the owner's lease, so it vanishes when the
//! lease expires: a dead or cut-off node's partitions become free without
//! anyone acting for it. It is created only if absent, so two nodes never
//! both take a partition; its `create_revision` is the ownership's epoch.

use crate::{Cluster, ClusterError};
use etcd_client::{Compare, CompareOp, GetOptions, PutOptions, Txn, TxnOp, TxnOpResponse, TxnResponse};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The value of a node's key.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct NodeValue {
    pub(crate) url: String,
}

/// The value of an owner key.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct OwnerValue {
    node: String,
    url: String,
}

/// A partition's owner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    /// The owning node.
    pub node: String,
    /// Its URL.
    pub url: String,
    /// The ownership's epoch (the owner key's create_revision).
    pub epoch: i64,
}

/// Live nodes and partition owners, read at one etcd revision.
#[derive(Clone, Debug, Default)]
pub struct View {
    /// The revision read at.
    pub revision: i64,
    /// Live nodes, `(id, url)`, sorted by id.
    pub nodes: Vec<(String, String)>,
    /// Each partition's owner, if any.
    pub owners: Vec<Option<Owner>>,
}

impl View {
    /// Live node ids.
    pub fn node_ids(&self) -> Vec<String> {
        self.nodes.iter().map(|(id, _)| id.clone()).collect()
    }

    /// Owners' node ids, per partition.
    pub fn owner_ids(&self) -> Vec<Option<String>> {
        self.owners.iter().map(|o| o.as_ref().map(|o| o.node.clone())).collect()
    }
}

/// The first value a one-get transaction's else branch returned, decoded.
pub(crate) fn first_value<T: DeserializeOwned>(r: &TxnResponse, key: &str) -> Result<T, ClusterError> {
    for op in r.op_responses() {
        if let TxnOpResponse::Get(g) = op {
            if let Some(kv) = g.kvs().first() {
                return serde_json::from_slice(kv.value()).map_err(|e| ClusterError::Corrupt {
                    key: key.to_owned(),
                    why: e.to_string(),
                });
            }
        }
    }
    Err(ClusterError::Corrupt {
        key: key.to_owned(),
        why: "missing".into(),
    })
}

impl Cluster {
    /// Reads the live nodes and every partition's owner at one revision.
    pub async fn view(&self) -> Result<View, ClusterError> {
        let txn = Txn::new().and_then([
            TxnOp::get(self.keys.nodes(), Some(GetOptions::new().with_prefix())),
            TxnOp::get(self.keys.owners(), Some(GetOptions::new().with_prefix())),
        ]);
        let r = self.client.clone().txn(txn).await?;
        let mut view = View {
            revision: r.header().map_or(0, |h| h.revision()),
            nodes: Vec::new(),
            owners: vec![None; self.partitions as usize],
        };
        let ops = r.op_responses();
        let (Some(TxnOpResponse::Get(nodes)), Some(TxnOpResponse::Get(owners))) = (ops.first(), ops.get(1)) else {
            return Err(ClusterError::Corrupt {
                key: self.keys.nodes(),
                why: "unexpected transaction answer".into(),
            });
        };
        let prefix = self.keys.nodes();
        for kv in nodes.kvs() {
            let key = String::from_utf8_lossy(kv.key());
            let id = key.strip_prefix(&prefix).unwrap_or(&key).to_owned();
            match serde_json::from_slice::<NodeValue>(kv.value()) {
                Ok(v) => view.nodes.push((id, v.url)),
                Err(e) => tracing::warn!(key = %key, error = %e, "ignoring a damaged node key"),
            }
        }
        view.nodes.sort();
        for kv in owners.kvs() {
            let key = String::from_utf8_lossy(kv.key());
            let Some(p) = crate::keys::Keys::partition_suffix(&key).filter(|p| *p < self.partitions) else {
                tracing::warn!(key = %key, "ignoring an owner key outside the partition range");
                continue;
            };
            match serde_json::from_slice::<OwnerValue>(kv.value()) {
                Ok(v) => {
                    view.owners[p as usize] = Some(Owner {
                        node: v.node,
                        url: v.url,
                        epoch: kv.create_revision(),
                    })
                }
                Err(e) => tracing::warn!(key = %key, error = %e, "ignoring a damaged owner key"),
            }
        }
        Ok(view)
    }

    /// Takes `partition` if nobody owns it: its owner key is created under
    /// this node's lease. Returns the new epoch, or `None` if another node
    /// holds it. Refuses while the fence is closed.
    pub async fn acquire(&self, partition: u32) -> Result<Option<i64>, ClusterError> {
        if !self.fence.is_open() {
            return Err(ClusterError::LeaseLost);
        }
        let key = self.keys.owner(partition);
        let value = serde_json::to_vec(&OwnerValue {
            node: self.node.clone(),
            url: self.advertise.clone(),
        })
        .expect("plain struct");
        let txn = Txn::new()
            .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
            .and_then([TxnOp::put(key, value, Some(PutOptions::new().with_lease(self.lease)))]);
        let r = self.client.clone().txn(txn).await?;
        Ok(r.succeeded().then(|| r.header().map_or(0, |h| h.revision())))
    }

    /// Releases `partition` if this node still owns it at `epoch` (its
    /// folder must already be closed). A stale epoch deletes nothing.
    pub async fn release(&self, partition: u32, epoch: i64) -> Result<(), ClusterError> {
        let key = self.keys.owner(partition);
        let txn = Txn::new()
            .when([Compare::create_revision(key.clone(), CompareOp::Equal, epoch)])
            .and_then([TxnOp::delete(key, None)]);
        let r = self.client.clone().txn(txn).await?;
        if r.succeeded() {
            Ok(())
        } else {
            Err(ClusterError::StaleEpoch { partition, epoch })
        }
    }

    /// Records that `partition`'s folder has been created (at `epoch`), once:
    /// a later owner that finds no folder must not start an empty one.
    pub async fn mark_created(&self, partition: u32, epoch: i64) -> Result<(), ClusterError> {
        let key = self.keys.created(partition);
        let txn = Txn::new()
            .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
            .and_then([TxnOp::put(key, epoch.to_string(), None)]);
        self.client.clone().txn(txn).await?;
        Ok(())
    }

    /// Whether `partition`'s folder was ever created (see [`Cluster::mark_created`]).
    pub async fn was_created(&self, partition: u32) -> Result<bool, ClusterError> {
        let r = self.client.clone().get(self.keys.created(partition), None).await?;
        Ok(!r.kvs().is_empty())
    }

    /// Whether this node still owns `partition` at `epoch` in etcd (a
    /// linearizable read).
    pub async fn still_owner(&self, partition: u32, epoch: i64) -> Result<bool, ClusterError> {
        let r = self.client.clone().get(self.keys.owner(partition), None).await?;
        Ok(r.kvs().first().is_some_and(|kv| kv.create_revision() == epoch))
    }
}
