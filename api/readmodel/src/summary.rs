//! Hunt summaries: every hunt with its window and, per product, the durable
//! ledger and the rejections by reason, as the `hunts` push topic sends
//! them. Built from a [`ProjectionState`] under its lock, in id order, at
//! most `limit` hunts (O(hunts x products), nothing per player).

use crate::state::{HuntProj, ProjectionState};
use trove_protocol::{HuntSummary, ProductSummary, RejectCounts};

impl ProjectionState {
    /// The first `limit` hunts in id order, and whether more exist.
    pub fn hunt_summaries(&self, limit: usize) -> (Vec<HuntSummary>, bool) {
        let hunts = self.hunts_by_id();
        let truncated = hunts.len() > limit;
        let summaries = hunts.into_iter().take(limit).map(|(id, h)| summary(id, h)).collect();
        (summaries, truncated)
    }
}

fn summary(id: &str, h: &HuntProj) -> HuntSummary {
    let def = &*h.def;
    let products = def
        .products
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let (added, granted) = (h.added[i], h.granted[i]);
            let [out_of_stock, not_eligible, limit_reached, hunt_closed] = h.rejected[i];
            ProductSummary {
                sku: p.sku.clone(),
                stock: p.stock,
                added,
                granted,
                // The engine never grants past stock; saturate rather than
                // trust that across a boundary.
                remaining: (p.stock + added).saturating_sub(granted),
                per_player_limit: p.per_player_limit,
                min_score: p.min_score,
                rejected: RejectCounts {
                    out_of_stock,
                    not_eligible,
                    limit_reached,
                    hunt_closed,
                },
            }
        })
        .collect();
    HuntSummary {
        id: id.to_owned(),
        name: def.name.clone(),
        opens_at: def.opens_at,
        closes_at: def.closes_at,
        players: h.player_count() as u64,
        events: h.events,
        unknown_product: h.unknown_product,
        products,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trove_engine::{ClaimRequest, HuntDef, Outcome, ProductDef, Record, RejectReason};

    fn claim(n: u32, sku: &str, outcome: Outcome) -> Record {
        Record::Claim {
            request: ClaimRequest {
                claim_id: format!("k{n}"),
                player: format!("p{n}"),
                hunt: "h".into(),
                sku: sku.into(),
                customs: "{}".into(),
            },
            outcome,
        }
    }

    #[test]
    fn counts_grants_and_rejections_per_product_and_reason() {
        let mut st = ProjectionState::default();
        let def = HuntDef {
            id: "h".into(),
            name: "Harbour".into(),
            opens_at: Some(1),
            closes_at: None,
            clues: vec![],
            products: vec![ProductDef {
                sku: "mug".into(),
                stock: 2,
                per_player_limit: 1,
                min_score: 0,
            }],
        };
        st.apply(1, &Record::HuntDefined(def)).unwrap();
        let rej = |r| Outcome::Rejected(r);
        let records = [
            claim(1, "mug", Outcome::Granted),
            claim(2, "mug", Outcome::Granted),
            claim(3, "mug", rej(RejectReason::OutOfStock)),
            claim(4, "mug", rej(RejectReason::OutOfStock)),
            claim(5, "mug", rej(RejectReason::LimitReached)),
            claim(6, "cap", rej(RejectReason::UnknownProduct)),
        ];
        for (i, r) in records.iter().enumerate() {
            st.apply(i as u64 + 2, r).unwrap();
        }
        let (hunts, truncated) = st.hunt_summaries(10);
        assert!(!truncated);
        let p = &hunts[0].products[0];
        assert_eq!((p.granted, p.remaining), (2, 0));
        assert_eq!(
            p.rejected,
            RejectCounts {
                out_of_stock: 2,
                limit_reached: 1,
                ..Default::default()
            }
        );
        assert_eq!((hunts[0].unknown_product, hunts[0].opens_at), (1, Some(1)));
        assert_eq!(st.hunt_summaries(0), (vec![], true));
    }
}
