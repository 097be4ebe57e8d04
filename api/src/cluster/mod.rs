//! Cluster mode (`trove serve --cluster etcd=...`, feature `cluster`): this
//! node's share of the partitions, kept by etcd through `trove_cluster`.
//!
//! - `node`: [`ClusterNode`], the open partitions (`slot::Slot`s, one data folder
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
//! - `remote`: reads merged across partitions and nodes (leaderboard,
//!   grants); `routes`: the node-to-node routes that answer them.
//! - `start`: joining, and running until shutdown; `status`: `trove
//!   cluster status`.
//!
//! This module does not know the wire format (the transports call it
//! through `route::Target` and `ops`), nor etcd's (that is trove-cluster).

mod catalog;
mod control;
mod node;
pub(crate) mod remote;
pub(crate) mod routes;
mod slot;
pub(crate) mod start;
pub(crate) mod status;
mod stock;

pub(crate) use catalog::{add_stock, check_hunt, define_hunt, hunt_ids, hunt_reply};
pub(crate) use node::{ClusterNode, Ready};
