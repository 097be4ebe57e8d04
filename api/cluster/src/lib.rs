//! # trove-cluster
//!
//! The cluster's coordination, kept by etcd v3 (docs/CLUSTER.md). Trove
//! does not build its own consensus: etcd's leases give ownership with
//! expiry, transactions on revisions give fencing and compare-and-set, and
//! its linearizable reads give every node the same map.
//!
//! - [`Cluster`]: a node's handle on etcd: it joins (creates or checks the
//!   cluster's partition count, grants the node's lease, registers the
//!   node), reads the [`View`] (live nodes and partition owners at one
//!   revision), takes and releases partitions, keeps the hunt catalog
//!   ([`Cluster::define_hunt`]) and the global stock ledger
//!   ([`Cluster::take_units`], [`Cluster::return_units`]).
//! - [`Fence`]: the node's own clock's view of its lease: open until the
//!   last keep-alive's send time plus the TTL minus a margin. Everything
//!   that writes a partition asks it first; once it is closed the node
//!   writes nothing more under that lease ([`lease::keep_alive`]).
//! - [`assign::plan`]: who should own which partition, computed the same
//!   way by every node from the same [`View`]: even, sticky, and moving at
//!   most a bounded number of partitions at once.
//! - [`keys`]: the etcd key layout.
//!
//! What this crate does *not* know: the engine, the journal, the network
//! API. It speaks only etcd and plain values (partition numbers, epochs,
//! hunt definitions as JSON text, unit counts); `trove-api` (feature
//! `cluster`) opens and closes partition folders around it.
//!
//! ## Epochs
//!
//! An ownership's epoch is the etcd revision of the transaction that
//! created the partition's owner key (its `create_revision`). Every later
//! write this crate makes for a partition (stock allotments, returns, the
//! release) compares that key's `create_revision` with the epoch, so a
//! write from a stale owner is refused by etcd itself ([`ClusterError::StaleEpoch`]).

pub mod assign;
mod catalog;
pub mod keys;
pub mod lease;
mod ledger;
mod ownership;

pub use catalog::Defined;
pub use lease::Fence;
pub use ledger::{Allotment, Want};
pub use ownership::{Owner, View};

use etcd_client::{Client, Compare, CompareOp, ConnectOptions, GetOptions, Txn, TxnOp};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// Why a cluster operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// etcd could not be reached or answered with an error (boxed: the
    /// client's error is large, and every `Result` here carries it).
    #[error("etcd: {0}")]
    Etcd(Box<etcd_client::Error>),
    /// A compare-and-set on the stock ledger lost every retry to other
    /// writers; nothing moved. Retry.
    #[error("stock of {0}: the compare-and-set lost every retry to other writers; nothing moved")]
    Contended(String),
    /// A write for a partition carried an epoch that is no longer the
    /// partition's (another node owns it now, or nobody does).
    #[error("partition {partition}: epoch {epoch} is stale")]
    StaleEpoch {
        /// The partition.
        partition: u32,
        /// The epoch the write carried.
        epoch: i64,
    },
    /// The cluster exists with another partition count than asked for.
    #[error("the cluster has {existing} partitions; --partitions {asked} does not match (partitions are fixed when a cluster is created)")]
    PartitionCount {
        /// The cluster's count.
        existing: u32,
        /// The count asked for.
        asked: u32,
    },
    /// A hunt id is already defined differently in the catalog.
    #[error("hunt {0:?} is already defined differently")]
    HuntConflict(String),
    /// No such hunt or product in the catalog.
    #[error("unknown hunt or product {0}")]
    Unknown(String),
    /// Stock over the ledger's maximum.
    #[error("stock of {0} would exceed the maximum")]
    StockOverflow(String),
    /// A value in etcd under the cluster's prefix is not what Trove wrote.
    #[error("etcd key {key}: {why}")]
    Corrupt {
        /// The key.
        key: String,
        /// What is wrong.
        why: String,
    },
    /// The node's lease is gone (expired on etcd's side or revoked).
    #[error("the node's lease is gone")]
    LeaseLost,
    /// A bad setting (node id, partition count, URL).
    #[error("{0}")]
    Config(String),
}

impl From<etcd_client::Error> for ClusterError {
    fn from(e: etcd_client::Error) -> Self {
        ClusterError::Etcd(Box::new(e))
    }
}

/// How a node joins (from `trove serve --cluster ...`).
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    /// etcd endpoints, e.g. `http://127.0.0.1:2379`.
    pub endpoints: Vec<String>,
    /// The key prefix of this cluster in etcd (several clusters may share
    /// one etcd), e.g. `/trove`.
    pub prefix: String,
    /// This node's id: 1-64 characters of `[A-Za-z0-9_.-]`.
    pub node: String,
    /// The URL clients reach this node at.
    pub advertise: String,
    /// Partitions of a cluster this node creates; checked against an
    /// existing cluster's.
    pub partitions: u32,
    /// The node lease's TTL (whole seconds, at least 2).
    pub lease_ttl: Duration,
    /// How long before its lease can expire on etcd's side the node stops
    /// writing, by its own clock.
    pub margin: Duration,
    /// The cluster's node-to-node secret if this node creates the cluster
    /// (random; an existing cluster keeps its own).
    pub secret: String,
}

impl ClusterConfig {
    /// Checks the settings before anything is sent to etcd.
    pub fn validate(&self) -> Result<(), ClusterError> {
        let bad = |s: String| Err(ClusterError::Config(s));
        if self.node.is_empty()
            || self.node.len() > 64
            || !self
                .node
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        {
            return bad(format!(
                "node id {:?}: use 1-64 characters of A-Z a-z 0-9 _ . -",
                self.node
            ));
        }
        if self.endpoints.is_empty() {
            return bad("--cluster needs at least one etcd endpoint: etcd=URL[,URL...]".into());
        }
        if !(self.advertise.starts_with("http://") || self.advertise.starts_with("https://")) {
            return bad(format!(
                "--advertise {:?} must be an http:// or https:// URL",
                self.advertise
            ));
        }
        if self.partitions == 0 || self.partitions > trove_max_partitions() {
            return bad(format!("--partitions must be 1..={}", trove_max_partitions()));
        }
        if self.lease_ttl < Duration::from_secs(2) || self.lease_ttl.subsec_nanos() != 0 {
            return bad("the lease TTL must be whole seconds, at least 2".into());
        }
        if self.margin * 2 >= self.lease_ttl {
            return bad("the fencing margin must be under half the lease TTL".into());
        }
        if !self.prefix.starts_with('/') || self.prefix.ends_with('/') {
            return bad(format!(
                "cluster prefix {:?} must start with / and not end with /",
                self.prefix
            ));
        }
        Ok(())
    }
}

/// Same as `trove_protocol::cluster::MAX_PARTITIONS` (this crate does not
/// depend on the protocol).
const fn trove_max_partitions() -> u32 {
    4096
}

/// The cluster's fixed facts, stored once at `{prefix}/meta`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
struct Meta {
    partitions: u32,
    /// Authenticates node-to-node reads (only nodes read it from etcd).
    #[serde(default)]
    secret: String,
}

/// A node's handle on etcd. Cheap to clone (the etcd client is shared).
#[derive(Clone)]
pub struct Cluster {
    client: Client,
    keys: keys::Keys,
    node: String,
    advertise: String,
    partitions: u32,
    lease: i64,
    fence: Fence,
    secret: String,
}

impl Cluster {
    /// Connects to etcd, creates the cluster (or checks its partition
    /// count), grants this node's lease and registers the node.
    pub async fn join(config: &ClusterConfig) -> Result<Cluster, ClusterError> {
        config.validate()?;
        let options = ConnectOptions::new()
            .with_connect_timeout(Duration::from_secs(2))
            .with_timeout(Duration::from_secs(2))
            .with_keep_alive(Duration::from_secs(1), Duration::from_secs(1))
            .with_keep_alive_while_idle(true);
        let client = Client::connect(&config.endpoints, Some(options)).await?;
        let keys = keys::Keys::new(&config.prefix);
        let mut cluster = Cluster {
            client,
            keys,
            node: config.node.clone(),
            advertise: config.advertise.clone(),
            partitions: config.partitions,
            lease: 0,
            fence: Fence::new(config.margin),
            secret: config.secret.clone(),
        };
        let meta = cluster.create_or_check(config.partitions).await?;
        cluster.partitions = meta.partitions;
        cluster.secret = meta.secret;
        cluster.grant_lease(config.lease_ttl).await?;
        Ok(cluster)
    }

    /// Reads an existing cluster's partition count and map without joining
    /// it (no lease, no registration): for `trove cluster status`.
    pub async fn observe(config: &ClusterConfig) -> Result<(u32, View), ClusterError> {
        let client = Client::connect(
            &config.endpoints,
            Some(
                ConnectOptions::new()
                    .with_connect_timeout(Duration::from_secs(2))
                    .with_timeout(Duration::from_secs(5)),
            ),
        )
        .await?;
        let keys = keys::Keys::new(&config.prefix);
        let mut c = client.clone();
        let r = c.get(keys.meta(), None).await?;
        let Some(kv) = r.kvs().first() else {
            return Err(ClusterError::Config(format!(
                "no cluster under {:?} in etcd",
                config.prefix
            )));
        };
        let meta: Meta = serde_json::from_slice(kv.value()).map_err(|e| ClusterError::Corrupt {
            key: keys.meta(),
            why: e.to_string(),
        })?;
        let cluster = Cluster {
            client,
            keys,
            node: config.node.clone(),
            advertise: config.advertise.clone(),
            partitions: meta.partitions,
            lease: 0,
            fence: Fence::new(Duration::ZERO),
            secret: String::new(),
        };
        Ok((meta.partitions, cluster.view().await?))
    }

    async fn create_or_check(&mut self, asked: u32) -> Result<Meta, ClusterError> {
        let key = self.keys.meta();
        let mine = Meta {
            partitions: asked,
            secret: self.secret.clone(),
        };
        let meta = serde_json::to_vec(&mine).expect("plain struct");
        let txn = Txn::new()
            .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
            .and_then([TxnOp::put(key.clone(), meta, None)])
            .or_else([TxnOp::get(key.clone(), None)]);
        let r = self.client.txn(txn).await?;
        if r.succeeded() {
            tracing::info!(partitions = asked, "cluster created");
            return Ok(mine);
        }
        let existing: Meta = ownership::first_value(&r, &key)?;
        if existing.partitions != asked {
            return Err(ClusterError::PartitionCount {
                existing: existing.partitions,
                asked,
            });
        }
        Ok(existing)
    }

    /// Grants a new lease for this node, registers it under it, and opens
    /// the fence until the lease's TTL minus the margin from before the
    /// grant was sent. Used at join and to rejoin after a lost lease.
    pub async fn grant_lease(&mut self, ttl: Duration) -> Result<(), ClusterError> {
        let sent = Instant::now();
        let grant = self.client.lease_grant(ttl.as_secs() as i64, None).await?;
        self.lease = grant.id();
        let node = serde_json::to_vec(&ownership::NodeValue {
            url: self.advertise.clone(),
        })
        .expect("plain struct");
        let key = self.keys.node(&self.node);
        // A node id already live under another lease is another process
        // with the same --node: refuse rather than share an identity.
        let txn = Txn::new()
            .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
            .and_then([TxnOp::put(
                key,
                node,
                Some(etcd_client::PutOptions::new().with_lease(self.lease)),
            )]);
        let r = self.client.txn(txn).await?;
        if !r.succeeded() {
            let _ = self.client.lease_revoke(self.lease).await;
            return Err(ClusterError::Config(format!(
                "node id {:?} is already live in the cluster (another process, or this node's previous lease, which expires within its TTL)",
                self.node
            )));
        }
        self.fence.reset(sent, Duration::from_secs(grant.ttl().max(0) as u64));
        Ok(())
    }

    /// The cluster's node-to-node secret.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// This node's id.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// This node's advertised URL.
    pub fn advertise(&self) -> &str {
        &self.advertise
    }

    /// The cluster's partition count.
    pub fn partitions(&self) -> u32 {
        self.partitions
    }

    /// The node's current lease id.
    pub fn lease_id(&self) -> i64 {
        self.lease
    }

    /// The node's fence (shared by every clone).
    pub fn fence(&self) -> &Fence {
        &self.fence
    }

    /// The etcd client, for the keep-alive task.
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// Revokes the node's lease: its partitions and registration go at once
    /// (clean shutdown). The fence closes first.
    pub async fn leave(&mut self) -> Result<(), ClusterError> {
        self.fence.close();
        self.client.lease_revoke(self.lease).await?;
        Ok(())
    }

    /// Values under `prefix` (a full key prefix), as `(key, value, mod_revision)`.
    async fn range(&self, prefix: String) -> Result<Vec<(String, Vec<u8>, i64)>, ClusterError> {
        let r = self
            .client
            .clone()
            .get(prefix, Some(GetOptions::new().with_prefix()))
            .await?;
        Ok(r.kvs()
            .iter()
            .map(|kv| {
                (
                    String::from_utf8_lossy(kv.key()).into_owned(),
                    kv.value().to_vec(),
                    kv.mod_revision(),
                )
            })
            .collect())
    }
}
