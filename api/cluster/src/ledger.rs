//! The global stock ledger. `P/stock/{hunt}/{sku}` holds the units no
//! partition has; `P/alloc/{hunt}/{sku}/{p}` the units allotted to
//! partition `p`, net of returns. Units move between them only in
//! transactions that compare both values' revisions and the partition's
//! epoch, so the sum over the ledger and every allotment is exactly the
//! stock ever added, and a stale owner moves nothing.
//!
//! A partition grants only from its allotment (`trove-api` keeps the count
//! of units it may still grant), so units granted across the cluster never
//! exceed the stock.

use crate::{Cluster, ClusterError};
use etcd_client::{Compare, CompareOp, PutOptions, Txn, TxnOp, TxnOpResponse};

/// Retries of a compare-and-set that lost a race before giving up.
const CAS_RETRIES: usize = 64;

/// A short random pause before retrying a compare-and-set that lost a race
/// (up to 0.5 ms, doubling per attempt to 16 ms), so contenders spread out
/// instead of colliding again in lockstep: without it, 32 tasks taking one
/// product lost 64 races in a row on about 1 take in 150.
async fn cas_backoff(attempt: usize) {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_usize(attempt);
    let cap_us = 500u64 << attempt.min(6);
    tokio::time::sleep(std::time::Duration::from_micros(h.finish() % cap_us)).await;
}

/// The outcome of a [`Cluster::take_units`] or [`Cluster::return_units`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Allotment {
    /// Units moved.
    pub moved: u64,
    /// The partition's allotment after the move.
    pub allotted: u64,
    /// Units left unallotted in the ledger after the move.
    pub ledger: u64,
    /// The etcd revision of the move (or of the read, if nothing moved).
    pub revision: i64,
}

/// A partition waiting for units of a product (`P/want/...`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Want {
    /// The hunt.
    pub hunt: String,
    /// The product.
    pub sku: String,
    /// The waiting partition.
    pub partition: u32,
}

fn number(key: &str, kv: Option<&etcd_client::KeyValue>) -> Result<(u64, i64), ClusterError> {
    match kv {
        None => Ok((0, 0)),
        Some(kv) => {
            let text = std::str::from_utf8(kv.value()).unwrap_or("");
            let n = text.parse::<u64>().map_err(|_| ClusterError::Corrupt {
                key: key.to_owned(),
                why: format!("not a unit count: {text:?}"),
            })?;
            Ok((n, kv.mod_revision()))
        }
    }
}

impl Cluster {
    /// Reads one counter: `(value, mod_revision)`; absent is `(0, 0)`.
    async fn counter(&self, key: &str) -> Result<(u64, i64), ClusterError> {
        let r = self.client.clone().get(key, None).await?;
        number(key, r.kvs().first())
    }

    /// Moves up to `want` units from the ledger to `partition`'s allotment
    /// (fewer if the ledger has fewer; none if it is empty). Refused with
    /// [`ClusterError::StaleEpoch`] unless `epoch` is still the partition's.
    pub async fn take_units(
        &self,
        partition: u32,
        epoch: i64,
        hunt: &str,
        sku: &str,
        want: u64,
    ) -> Result<Allotment, ClusterError> {
        self.move_units(partition, epoch, hunt, sku, &|_| want, true).await
    }

    /// As [`Cluster::take_units`], with the amount decided from the
    /// ledger's units as read inside the compare-and-set (`by_ledger`), so
    /// a batch is sized by what is left without another read.
    pub async fn take_units_by(
        &self,
        partition: u32,
        epoch: i64,
        hunt: &str,
        sku: &str,
        by_ledger: &(dyn Fn(u64) -> u64 + Sync),
    ) -> Result<Allotment, ClusterError> {
        self.move_units(partition, epoch, hunt, sku, by_ledger, true).await
    }

    /// Moves up to `units` of `partition`'s allotment back to the ledger.
    pub async fn return_units(
        &self,
        partition: u32,
        epoch: i64,
        hunt: &str,
        sku: &str,
        units: u64,
    ) -> Result<Allotment, ClusterError> {
        self.move_units(partition, epoch, hunt, sku, &|_| units, false).await
    }

    async fn move_units(
        &self,
        partition: u32,
        epoch: i64,
        hunt: &str,
        sku: &str,
        units: &(dyn Fn(u64) -> u64 + Sync),
        take: bool,
    ) -> Result<Allotment, ClusterError> {
        let (stock_key, alloc_key, owner_key) = (
            self.keys.stock(hunt, sku),
            self.keys.alloc(hunt, sku, partition),
            self.keys.owner(partition),
        );
        for attempt in 0..CAS_RETRIES {
            if attempt > 0 {
                cas_backoff(attempt).await;
            }
            let read = Txn::new().and_then([
                TxnOp::get(stock_key.clone(), None),
                TxnOp::get(alloc_key.clone(), None),
                TxnOp::get(owner_key.clone(), None),
            ]);
            let r = self.client.clone().txn(read).await?;
            let ops = r.op_responses();
            let get = |i: usize| match ops.get(i) {
                Some(TxnOpResponse::Get(g)) => g.kvs().first().cloned(),
                _ => None,
            };
            let Some(stock_kv) = get(0) else {
                return Err(ClusterError::Unknown(format!("{hunt}/{sku}")));
            };
            if get(2).is_none_or(|kv| kv.create_revision() != epoch) {
                return Err(ClusterError::StaleEpoch { partition, epoch });
            }
            let (ledger, ledger_rev) = number(&stock_key, Some(&stock_kv))?;
            let (allotted, alloc_rev) = number(&alloc_key, get(1).as_ref())?;
            let moved = if take {
                units(ledger).min(ledger)
            } else {
                units(ledger).min(allotted)
            };
            let (ledger_after, allotted_after) = if take {
                (ledger - moved, allotted + moved)
            } else {
                (ledger + moved, allotted - moved)
            };
            if moved == 0 {
                return Ok(Allotment {
                    moved,
                    allotted,
                    ledger,
                    revision: r.header().map_or(0, |h| h.revision()),
                });
            }
            let txn = Txn::new()
                .when([
                    Compare::create_revision(owner_key.clone(), CompareOp::Equal, epoch),
                    Compare::mod_revision(stock_key.clone(), CompareOp::Equal, ledger_rev),
                    Compare::mod_revision(alloc_key.clone(), CompareOp::Equal, alloc_rev),
                ])
                .and_then([
                    TxnOp::put(stock_key.clone(), ledger_after.to_string(), None),
                    TxnOp::put(alloc_key.clone(), allotted_after.to_string(), None),
                ]);
            let r = self.client.clone().txn(txn).await?;
            if r.succeeded() {
                return Ok(Allotment {
                    moved,
                    allotted: allotted_after,
                    ledger: ledger_after,
                    revision: r.header().map_or(0, |h| h.revision()),
                });
            }
        }
        Err(ClusterError::Contended(format!("{hunt}/{sku}")))
    }

    /// Adds `add` units of a catalog product to the ledger; returns the
    /// ledger's units after.
    pub async fn add_stock(&self, hunt: &str, sku: &str, add: u64, max: u64) -> Result<u64, ClusterError> {
        let key = self.keys.stock(hunt, sku);
        for attempt in 0..CAS_RETRIES {
            if attempt > 0 {
                cas_backoff(attempt).await;
            }
            let r = self.client.clone().get(key.clone(), None).await?;
            let Some(kv) = r.kvs().first() else {
                return Err(ClusterError::Unknown(format!("{hunt}/{sku}")));
            };
            let (ledger, rev) = number(&key, Some(kv))?;
            let after = ledger
                .checked_add(add)
                .filter(|a| *a <= max)
                .ok_or_else(|| ClusterError::StockOverflow(format!("{hunt}/{sku}")))?;
            let txn = Txn::new()
                .when([Compare::mod_revision(key.clone(), CompareOp::Equal, rev)])
                .and_then([TxnOp::put(key.clone(), after.to_string(), None)]);
            if self.client.clone().txn(txn).await?.succeeded() {
                return Ok(after);
            }
        }
        Err(ClusterError::Contended(format!("{hunt}/{sku}")))
    }

    /// The ledger's unallotted units of a product and every partition's
    /// allotment `(partition, units)`.
    pub async fn stock(&self, hunt: &str, sku: &str) -> Result<(u64, Vec<(u32, u64)>), ClusterError> {
        let key = self.keys.stock(hunt, sku);
        let (ledger, _) = self.counter(&key).await?;
        let mut allocs = Vec::new();
        for (k, v, _) in self.range(self.keys.allocs(hunt, sku)).await? {
            let Some(p) = crate::keys::Keys::partition_suffix(&k) else {
                continue;
            };
            let units = std::str::from_utf8(&v).ok().and_then(|t| t.parse().ok()).unwrap_or(0);
            allocs.push((p, units));
        }
        Ok((ledger, allocs))
    }

    /// `partition`'s allotment of a product.
    pub async fn allotted(&self, hunt: &str, sku: &str, partition: u32) -> Result<u64, ClusterError> {
        Ok(self.counter(&self.keys.alloc(hunt, sku, partition)).await?.0)
    }

    /// Marks that `partition` waits for units of a product (under the
    /// node's lease, so it vanishes with the node).
    pub async fn want(&self, hunt: &str, sku: &str, partition: u32) -> Result<(), ClusterError> {
        let opts = PutOptions::new().with_lease(self.lease);
        self.client
            .clone()
            .put(self.keys.want(hunt, sku, partition), "1", Some(opts))
            .await?;
        Ok(())
    }

    /// Clears `partition`'s wait for a product.
    pub async fn unwant(&self, hunt: &str, sku: &str, partition: u32) -> Result<(), ClusterError> {
        self.client
            .clone()
            .delete(self.keys.want(hunt, sku, partition), None)
            .await?;
        Ok(())
    }

    /// Every partition waiting for units.
    pub async fn wants(&self) -> Result<Vec<Want>, ClusterError> {
        let prefix = self.keys.wants();
        let mut out = Vec::new();
        for (k, _, _) in self.range(prefix.clone()).await? {
            let rest = k.strip_prefix(&prefix).unwrap_or(&k);
            let mut parts = rest.split('/');
            if let (Some(h), Some(s), Some(p)) = (parts.next(), parts.next(), parts.next().and_then(|p| p.parse().ok()))
            {
                out.push(Want {
                    hunt: h.to_owned(),
                    sku: s.to_owned(),
                    partition: p,
                });
            }
        }
        Ok(out)
    }
}
