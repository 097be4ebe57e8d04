//! Claims in a cluster. A partition grants only units of its allotment of
//! the global ledger (`trove_cluster` ledger): [`Units`] counts, per
//! product, the allotted units it has neither granted nor reserved for a
//! claim in flight.
//!
//! A claim reserves a unit, then asks the engine (which journals the
//! decision). With no unit left it takes more from etcd, by demand: a
//! batch while the ledger is plentiful, one unit at a time when it is
//! scarce. With the ledger empty it puts up a *want* (kept up while the
//! product stays sold out here); every other node hands its idle units of
//! that product back within a control round, and the claim takes them.
//! Only when the want has been up for [`WANT_SETTLE`] (two rounds) and the
//! claim's own read of the ledger found it empty is the claim decided
//! without a unit, and then under the product's lock with no reservation
//! in flight: the engine rejects it `out_of_stock`. So the first claim
//! after a sell-out waits up to two rounds; the next ones are answered
//! after one ledger read each.
//!
//! Invariant (per partition and product): `free + reserved + granted ==
//! allotted`, where `allotted` is the partition's allotment in etcd; so
//! the cluster never grants more than its stock. A unit whose claim was
//! rejected goes back to `free`, except on `out_of_stock`, which means the
//! engine had no unit for it.

use super::catalog;
use super::node::{ClusterNode, CONTROL_INTERVAL, CONTROL_INTERVAL_MS};
use super::slot::{SharedUnits, Slot, Units};
use crate::error::ApiError;
use std::sync::Arc;
use std::time::{Duration, Instant};
use trove_engine::{ClaimRequest, ClaimResult, EngineError, Outcome, RejectReason};
use trove_protocol::ErrorCode;

/// How long a partition's want must have been up before a claim there is
/// refused `out_of_stock`: two control rounds, in which every live node
/// reads the wants and hands back its idle units of the product.
pub(crate) const WANT_SETTLE: Duration = Duration::from_millis(2 * CONTROL_INTERVAL_MS);

/// Idle units a partition has not used for this long go back to the ledger.
pub(crate) const IDLE_RETURN: Duration = Duration::from_secs(10);
/// Units taken at once while the ledger holds at least this many per partition.
pub(crate) const BATCH: u64 = 64;

fn cluster_error(e: trove_cluster::ClusterError) -> ApiError {
    match e {
        trove_cluster::ClusterError::StaleEpoch { partition, epoch } => ApiError::new(
            ErrorCode::StaleEpoch,
            format!("partition {partition}: this node's ownership (epoch {epoch}) is stale; etcd refused the write"),
        )
        .routing(partition, None)
        .with_epoch(epoch),
        e => ApiError::new(
            ErrorCode::ClusterUnavailable,
            format!("the cluster's stock ledger: {e}"),
        ),
    }
}

impl ClusterNode {
    /// Decides a claim in its player's partition (see the module essay).
    pub(crate) async fn claim(&self, req: ClaimRequest) -> Result<ClaimResult, ApiError> {
        req.validate()
            .map_err(|e| ApiError::from(EngineError::InvalidRequest(e)))?;
        let slot = self.slot_for_player(&req.player)?;
        let Some(units) = self.units_of(&slot, &req.hunt, &req.sku).await? else {
            // Unknown hunt or product everywhere: the engine journals the rejection.
            return Ok(slot.core.engine.claim(req).await?);
        };
        let mut guard = units.lock().await;
        if guard.free == 0 {
            self.refill(&slot, &req.hunt, &req.sku, &mut guard).await?;
        }
        if guard.free > 0 {
            guard.free -= 1;
            guard.reserved += 1;
            guard.last_used = Instant::now();
            drop(guard);
            let result = slot.core.engine.claim(req).await;
            let mut guard = units.lock().await;
            guard.reserved -= 1;
            let consumed = matches!(&result, Ok(r) if !r.duplicate
                && matches!(r.outcome, Outcome::Granted | Outcome::Rejected(RejectReason::OutOfStock)));
            if !consumed {
                guard.free += 1;
            }
            return Ok(result?);
        }
        // No unit anywhere. Decide with no reservation in flight, under the lock.
        while guard.reserved > 0 {
            drop(guard);
            tokio::time::sleep(Duration::from_millis(2)).await;
            guard = units.lock().await;
            if guard.free > 0 {
                drop(guard);
                return Box::pin(self.claim(req)).await;
            }
        }
        let spare = self.engine_remaining(&slot, &req.hunt, &req.sku).await?;
        if spare == 0 || self.is_duplicate(&slot, &req).await? {
            return Ok(slot.core.engine.claim(req).await?);
        }
        // The engine still counts units this partition handed back to the
        // ledger; they are not its to grant. Answer without a decision.
        Ok(ClaimResult {
            claim_id: req.claim_id,
            outcome: Outcome::Rejected(RejectReason::OutOfStock),
            duplicate: false,
            seq: slot.core.engine.durable_seq(),
        })
    }

    /// The product's units of `slot`, loaded from etcd and the engine on
    /// first use; `None` if the hunt or product is unknown (after applying
    /// the catalog once more).
    async fn units_of(&self, slot: &Arc<Slot>, hunt: &str, sku: &str) -> Result<Option<SharedUnits>, ApiError> {
        let key = (hunt.to_owned(), sku.to_owned());
        let units = slot.units.lock().get(&key).cloned();
        if let Some(u) = units {
            if u.lock().await.loaded {
                return Ok(Some(u));
            }
        }
        let mut state = slot.core.engine.hunt(hunt).await;
        if matches!(state, Err(EngineError::UnknownHunt(_))) {
            catalog::apply(self, slot).await;
            state = slot.core.engine.hunt(hunt).await;
        }
        let Ok(state) = state else { return Ok(None) };
        let Some(i) = state.def.product_index(sku) else {
            return Ok(None);
        };
        let units = slot.units.lock().entry(key).or_default().clone();
        let mut guard = units.lock().await;
        if !guard.loaded {
            let allotted = self
                .etcd()
                .allotted(hunt, sku, slot.partition)
                .await
                .map_err(cluster_error)?;
            let (granted, added) = (state.granted[i], state.added[i] + state.def.products[i].stock);
            if allotted > added {
                // Taken in etcd but not journaled here (a crash between the two).
                slot.core.engine.add_stock(hunt, sku, allotted - added).await?;
            }
            if granted > allotted {
                tracing::error!(
                    partition = slot.partition,
                    hunt,
                    sku,
                    granted,
                    allotted,
                    "more granted than allotted"
                );
            }
            guard.free = allotted.saturating_sub(granted);
            guard.loaded = true;
        }
        drop(guard);
        Ok(Some(units))
    }

    /// Takes units from the ledger into `units` (journaled as stock added).
    /// With the ledger empty it puts the partition's want up and keeps it up
    /// while the product stays sold out here; it returns without units only
    /// once the want has been up for [`WANT_SETTLE`] (every live node has
    /// handed back its idle units of the product) and this call's own read
    /// found the ledger empty.
    async fn refill(&self, slot: &Slot, hunt: &str, sku: &str, units: &mut Units) -> Result<(), ApiError> {
        let etcd = self.etcd();
        // A batch while the ledger holds a batch for every partition, else
        // one unit at a time: scarce units never sit idle here.
        let plenty = u64::from(self.partitions) * BATCH;
        let size = move |ledger: u64| if ledger >= plenty { BATCH } else { 1 };
        loop {
            let settled = units.want_since.is_some_and(|w| w.elapsed() >= WANT_SETTLE);
            let a = etcd
                .take_units_by(slot.partition, slot.epoch, hunt, sku, &size)
                .await
                .map_err(cluster_error)?;
            if a.moved > 0 {
                slot.core.engine.add_stock(hunt, sku, a.moved).await?;
                units.free += a.moved;
                if units.want_since.take().is_some() {
                    let _ = etcd.unwant(hunt, sku, slot.partition).await;
                }
                return Ok(());
            }
            if units.want_since.is_none() {
                etcd.want(hunt, sku, slot.partition).await.map_err(cluster_error)?;
                units.want_since = Some(Instant::now());
            }
            if settled {
                return Ok(());
            }
            tokio::time::sleep(CONTROL_INTERVAL / 2).await;
        }
    }

    async fn engine_remaining(&self, slot: &Slot, hunt: &str, sku: &str) -> Result<u64, ApiError> {
        let h = slot.core.engine.hunt(hunt).await?;
        Ok(h.def.product_index(sku).map_or(0, |i| h.stock[i]))
    }

    async fn is_duplicate(&self, slot: &Slot, req: &ClaimRequest) -> Result<bool, ApiError> {
        let p = slot.core.engine.player(&req.player).await?;
        Ok(p.is_some_and(|p| p.claims.iter().any(|c| *c.claim_id == *req.claim_id)))
    }

    /// Loads the units of every catalog product into a slot just opened, so
    /// that its idle allotment can be handed back before any claim comes.
    pub(crate) async fn load_units(&self, slot: &Arc<Slot>) {
        let Ok(hunts) = self.etcd().hunts().await else { return };
        for (id, text, _) in hunts {
            let Ok(def) = serde_json::from_str::<trove_engine::HuntDef>(&text) else {
                continue;
            };
            for p in &def.products {
                if let Err(e) = self.units_of(slot, &id, &p.sku).await {
                    tracing::warn!(partition = slot.partition, hunt = %id, sku = %p.sku, error = %e, "stock not loaded");
                }
            }
        }
    }

    /// Hands every free unit of a slot back to the ledger (a graceful
    /// release: the next owner starts from the ledger, not from units
    /// stranded here).
    pub(crate) async fn return_all(&self, slot: &Slot) {
        let etcd = self.etcd();
        let products: Vec<_> = slot.units.lock().iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        for ((hunt, sku), units) in products {
            let mut guard = units.lock().await;
            if guard.want_since.take().is_some() {
                let _ = etcd.unwant(&hunt, &sku, slot.partition).await;
            }
            if guard.free == 0 {
                continue;
            }
            match etcd
                .return_units(slot.partition, slot.epoch, &hunt, &sku, guard.free)
                .await
            {
                Ok(a) => guard.free -= a.moved,
                Err(e) => tracing::warn!(partition = slot.partition, error = %e, "could not return units at release"),
            }
        }
    }

    /// Hands idle units back to the ledger: those another partition wants
    /// (`wanted`), and those unused for [`IDLE_RETURN`]. Called by the
    /// control loop; skips products busy with a claim.
    pub(crate) async fn return_idle(&self, wanted: &[trove_cluster::Want]) {
        let etcd = self.etcd();
        for slot in self.open_slots() {
            let products: Vec<_> = slot.units.lock().iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            for ((hunt, sku), units) in products {
                let Ok(mut guard) = units.try_lock() else { continue };
                let asked = wanted
                    .iter()
                    .any(|w| w.hunt == hunt && w.sku == sku && w.partition != slot.partition);
                if guard.free == 0 || !(asked || guard.last_used.elapsed() >= IDLE_RETURN) {
                    continue;
                }
                match etcd
                    .return_units(slot.partition, slot.epoch, &hunt, &sku, guard.free)
                    .await
                {
                    Ok(a) => {
                        guard.free -= a.moved;
                        tracing::debug!(
                            partition = slot.partition,
                            hunt,
                            sku,
                            units = a.moved,
                            asked,
                            "idle units returned to the ledger"
                        );
                    }
                    Err(e) => tracing::warn!(partition = slot.partition, error = %e, "could not return idle units"),
                }
            }
        }
    }
}
