//! The etcd key layout of one cluster, all under its prefix `P`:
//!
//! | key | value | lease |
//! |---|---|---|
//! | `P/meta` | `{"partitions":N,"secret":...}`, written once (the secret authenticates node-to-node reads) | none |
//! | `P/created/{partition:05}` | the epoch that first opened the partition's folder | none |
//! | `P/nodes/{node}` | `{"url":...}` | the node's |
//! | `P/owners/{partition:05}` | `{"node":...,"url":...}`; epoch = its create_revision | the owner's |
//! | `P/hunts/{hunt}` | the hunt definition as posted (JSON) | none |
//! | `P/stock/{hunt}/{sku}` | units not allotted to any partition (decimal) | none |
//! | `P/alloc/{hunt}/{sku}/{partition:05}` | units allotted to a partition, net of returns (decimal) | none |
//! | `P/want/{hunt}/{sku}/{partition:05}` | a partition is waiting for units of this product | the asker's |

/// Builds the keys of one cluster.
#[derive(Clone, Debug)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    /// The keys under `prefix` (e.g. `/trove`).
    pub fn new(prefix: &str) -> Keys {
        Keys {
            prefix: prefix.to_owned(),
        }
    }

    /// `P/meta`.
    pub fn meta(&self) -> String {
        format!("{}/meta", self.prefix)
    }

    /// `P/nodes/` (the prefix of every node's key).
    pub fn nodes(&self) -> String {
        format!("{}/nodes/", self.prefix)
    }

    /// `P/nodes/{node}`.
    pub fn node(&self, node: &str) -> String {
        format!("{}/nodes/{node}", self.prefix)
    }

    /// `P/owners/`.
    pub fn owners(&self) -> String {
        format!("{}/owners/", self.prefix)
    }

    /// `P/owners/{partition:05}`.
    pub fn owner(&self, partition: u32) -> String {
        format!("{}/owners/{partition:05}", self.prefix)
    }

    /// `P/created/{partition:05}`.
    pub fn created(&self, partition: u32) -> String {
        format!("{}/created/{partition:05}", self.prefix)
    }

    /// `P/hunts/`.
    pub fn hunts(&self) -> String {
        format!("{}/hunts/", self.prefix)
    }

    /// `P/hunts/{hunt}`.
    pub fn hunt(&self, hunt: &str) -> String {
        format!("{}/hunts/{hunt}", self.prefix)
    }

    /// `P/stock/{hunt}/{sku}`.
    pub fn stock(&self, hunt: &str, sku: &str) -> String {
        format!("{}/stock/{hunt}/{sku}", self.prefix)
    }

    /// `P/alloc/{hunt}/{sku}/` (every partition's allotment of a product).
    pub fn allocs(&self, hunt: &str, sku: &str) -> String {
        format!("{}/alloc/{hunt}/{sku}/", self.prefix)
    }

    /// `P/alloc/{hunt}/{sku}/{partition:05}`.
    pub fn alloc(&self, hunt: &str, sku: &str, partition: u32) -> String {
        format!("{}/alloc/{hunt}/{sku}/{partition:05}", self.prefix)
    }

    /// `P/want/`.
    pub fn wants(&self) -> String {
        format!("{}/want/", self.prefix)
    }

    /// `P/want/{hunt}/{sku}/{partition:05}`.
    pub fn want(&self, hunt: &str, sku: &str, partition: u32) -> String {
        format!("{}/want/{hunt}/{sku}/{partition:05}", self.prefix)
    }

    /// The partition number at the end of an owner, alloc or want key.
    pub fn partition_suffix(key: &str) -> Option<u32> {
        key.rsplit('/').next()?.parse().ok()
    }
}
