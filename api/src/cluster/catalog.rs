//! Hunts in a cluster. The catalog is etcd's (`trove_cluster` catalog): a
//! definition is posted once to any node and lands in etcd with its
//! products' stock in the global ledger. Every partition journals the
//! definition it applies, with zero stock: its units arrive later as
//! allotments, journaled as stock added.

use super::node::ClusterNode;
use super::slot::Slot;
use crate::error::ApiError;
use std::borrow::Cow;
use std::sync::Arc;
use trove_cluster::ClusterError;
use trove_engine::{EngineError, HuntDef, MAX_STOCK};
use trove_protocol::{self as p, ErrorCode};

fn etcd_error(e: ClusterError) -> ApiError {
    match e {
        ClusterError::HuntConflict(id) => ApiError::new(
            ErrorCode::HuntConflict,
            format!("hunt {id:?} is already defined differently in the cluster's catalog"),
        ),
        ClusterError::Unknown(what) => {
            ApiError::new(ErrorCode::UnknownProduct, format!("no product {what} in the catalog"))
        }
        ClusterError::StockOverflow(what) => {
            ApiError::invalid_request(format!("stock of {what} would exceed {MAX_STOCK}"))
        }
        e => ApiError::new(ErrorCode::ClusterUnavailable, format!("the cluster's catalog: {e}")),
    }
}

/// `POST /v1/hunts` in a cluster: `(created, etcd revision)`.
pub(crate) async fn define_hunt(node: &ClusterNode, def: HuntDef) -> Result<(bool, u64), ApiError> {
    def.validate()
        .map_err(|e| ApiError::from(EngineError::InvalidHunt(e)))?;
    let text = serde_json::to_string(&def).map_err(|e| ApiError::internal(e.to_string()))?;
    let stock: Vec<(String, u64)> = def.products.iter().map(|p| (p.sku.clone(), p.stock)).collect();
    let d = node
        .etcd()
        .define_hunt(&def.id, &text, &stock)
        .await
        .map_err(etcd_error)?;
    for slot in node.open_slots() {
        apply(node, &slot).await;
    }
    Ok((d.created, d.revision.max(0) as u64))
}

/// `POST /v1/hunts/{hunt}/products/{sku}/stock` in a cluster: the ledger's
/// unallotted units after the addition.
pub(crate) async fn add_stock(node: &ClusterNode, hunt: &str, sku: &str, add: u64) -> Result<u64, ApiError> {
    if add == 0 {
        return Err(ApiError::invalid_request("add must be at least 1"));
    }
    check_hunt(node, hunt).await?;
    node.etcd()
        .add_stock(hunt, sku, add, MAX_STOCK)
        .await
        .map_err(etcd_error)
}

/// The catalog's hunt ids.
pub(crate) async fn hunt_ids(node: &ClusterNode) -> Result<Vec<String>, ApiError> {
    let mut ids: Vec<String> = node
        .etcd()
        .hunts()
        .await
        .map_err(etcd_error)?
        .into_iter()
        .map(|(id, _, _)| id)
        .collect();
    ids.sort();
    Ok(ids)
}

/// The catalog's definition of `hunt` (JSON text, revision), or `unknown_hunt`.
async fn catalog_entry(node: &ClusterNode, hunt: &str) -> Result<(String, i64), ApiError> {
    node.etcd()
        .hunt(hunt)
        .await
        .map_err(etcd_error)?
        .ok_or_else(|| ApiError::new(ErrorCode::UnknownHunt, format!("no hunt {hunt:?}")))
}

/// `unknown_hunt` unless the catalog defines `hunt` (one etcd read).
pub(crate) async fn check_hunt(node: &ClusterNode, hunt: &str) -> Result<(), ApiError> {
    catalog_entry(node, hunt).await.map(|_| ())
}

/// `GET /v1/hunts/{hunt}` in a cluster: the catalog's definition; each
/// product's `remaining` is the ledger's unallotted units plus every
/// partition's allotment minus its grants (`granted`, `added` summed over
/// partitions; partitions no node serves right now count as allotted and
/// ungranted).
pub(crate) async fn hunt_reply(node: &ClusterNode, hunt: &str) -> Result<p::HuntReply<'static>, ApiError> {
    let etcd = node.etcd();
    let (text, rev) = catalog_entry(node, hunt).await?;
    let def: HuntDef =
        serde_json::from_str(&text).map_err(|e| ApiError::internal(format!("catalog entry of {hunt:?}: {e}")))?;
    let grants = super::remote::granted(node, hunt).await;
    let mut products = Vec::new();
    for p in &def.products {
        let (ledger, allocs) = etcd.stock(hunt, &p.sku).await.map_err(etcd_error)?;
        let allotted: u64 = allocs.iter().map(|(_, u)| u).sum();
        let granted: u64 = grants.get(&p.sku).copied().unwrap_or(0);
        products.push(p::ProductLedger {
            sku: Cow::Owned(p.sku.clone()),
            stock: p.stock,
            per_player_limit: p.per_player_limit,
            min_score: p.min_score,
            remaining: (ledger + allotted).saturating_sub(granted),
            granted,
            added: (ledger + allotted).saturating_sub(p.stock),
        });
    }
    Ok(p::HuntReply {
        ok: true,
        id: Cow::Owned(def.id.clone()),
        name: Cow::Owned(def.name.clone()),
        opens_at: def.opens_at,
        closes_at: def.closes_at,
        clues: def
            .clues
            .iter()
            .map(|c| p::ClueReply {
                id: Cow::Owned(c.id.clone()),
                points: c.points,
            })
            .collect(),
        products,
        defined_seq: rev.max(0) as u64,
    })
}

impl ClusterNode {
    /// Applies the catalog to the partition of `core` if one of `hunts` is
    /// not defined there yet.
    pub(crate) async fn ensure_hunts<'a>(&self, core: &crate::folder::Core, hunts: impl Iterator<Item = &'a str>) {
        let mut hunts = hunts;
        if hunts.all(|h| core.engine.has_hunt(h)) {
            return;
        }
        let slot = self.open_slots().into_iter().find(|s| std::ptr::eq(&*s.core, core));
        if let Some(slot) = slot {
            apply(self, &slot).await;
        }
    }
}

/// Applies every catalog hunt `slot` has not journaled yet (with zero
/// stock). Failures are logged; the next control round tries again.
pub(crate) async fn apply(node: &ClusterNode, slot: &Arc<Slot>) {
    match node.etcd().hunts().await {
        Ok(hunts) => apply_these(slot, &hunts).await,
        Err(e) => tracing::warn!(error = %e, "cannot read the hunt catalog"),
    }
}

/// Applies `hunts` (the catalog, read once for every open partition) to
/// `slot`: what it has not journaled yet, with zero stock.
pub(crate) async fn apply_these(slot: &Arc<Slot>, hunts: &[(String, String, i64)]) {
    for (id, text, rev) in hunts {
        let (id, rev) = (id.clone(), *rev);
        if slot.applied.lock().get(&id) == Some(&rev) {
            continue;
        }
        let mut def: HuntDef = match serde_json::from_str(text) {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(hunt = %id, error = %e, "a catalog entry is not a hunt definition");
                continue;
            }
        };
        for p in &mut def.products {
            p.stock = 0;
        }
        match slot.core.engine.define_hunt(def).await {
            Ok(_) => {
                slot.applied.lock().insert(id, rev);
            }
            Err(e) => {
                tracing::error!(partition = slot.partition, hunt = %id, error = %e, "cannot apply a catalog hunt")
            }
        }
    }
}
