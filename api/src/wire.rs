//! Conversions between the wire types of `trove-protocol` and the engine's
//! types. Parsing (with its error codes) is `trove_protocol::parse`; this
//! module only maps parsed requests to engine requests and engine answers to
//! replies. It lives here, not in trove-protocol, so that the protocol crate
//! never depends on the engine (a client needs only the wire types).

use serde_json::value::RawValue;
use std::borrow::Cow;
use trove_engine::{ClaimResult, ClueDef, HuntDef, HuntState, Outcome, PlayerRead, ProductDef};
use trove_protocol as p;

/// An event as the engine takes it.
pub fn event(e: p::GameEvent<'_>) -> trove_engine::GameEvent {
    let kind = match e.kind {
        p::EventKind::ClueFound { clue } => trove_engine::EventKind::ClueFound {
            clue: clue.into_owned(),
        },
        p::EventKind::Checkin { location } => trove_engine::EventKind::Checkin {
            location: location.into_owned(),
        },
        p::EventKind::Interaction { kind } => trove_engine::EventKind::Interaction {
            kind: kind.into_owned(),
        },
    };
    trove_engine::GameEvent {
        player: e.player.into_owned(),
        hunt: e.hunt.into_owned(),
        kind,
    }
}

/// A claim as the engine takes it; `customs` is the stored text
/// (`trove_protocol::customs::stored_text`).
pub fn claim_request(c: p::ClaimRequest<'_>, customs: String) -> trove_engine::ClaimRequest {
    trove_engine::ClaimRequest {
        claim_id: c.claim_id.into_owned(),
        player: c.player.into_owned(),
        hunt: c.hunt.into_owned(),
        sku: c.sku.into_owned(),
        customs,
    }
}

/// A hunt definition as the engine takes it, with the documented defaults.
pub fn hunt_def(h: p::HuntDefinition<'_>) -> HuntDef {
    let id = h.id.into_owned();
    HuntDef {
        name: h.name.map_or_else(|| id.clone(), Cow::into_owned),
        id,
        opens_at: h.opens_at.map(|t| t.0),
        closes_at: h.closes_at.map(|t| t.0),
        clues: h
            .clues
            .into_iter()
            .map(|c| ClueDef {
                id: c.id.into_owned(),
                points: c.points,
            })
            .collect(),
        products: h
            .products
            .into_iter()
            .map(|p| ProductDef {
                sku: p.sku.into_owned(),
                stock: p.stock,
                per_player_limit: p.per_player_limit,
                min_score: p.min_score,
            })
            .collect(),
    }
}

/// The wire form of the engine's reject reason.
pub fn reject_reason(r: trove_engine::RejectReason) -> p::RejectReason {
    use trove_engine::RejectReason as E;
    match r {
        E::OutOfStock => p::RejectReason::OutOfStock,
        E::NotEligible => p::RejectReason::NotEligible,
        E::LimitReached => p::RejectReason::LimitReached,
        E::HuntClosed => p::RejectReason::HuntClosed,
        E::UnknownHunt => p::RejectReason::UnknownHunt,
        E::UnknownProduct => p::RejectReason::UnknownProduct,
    }
}

fn status_reason(o: Outcome) -> (p::ClaimStatus, Option<p::RejectReason>) {
    match o {
        Outcome::Granted => (p::ClaimStatus::Granted, None),
        Outcome::Rejected(r) => (p::ClaimStatus::Rejected, Some(reject_reason(r))),
    }
}

/// The reply to a claim.
pub fn claim_reply(r: &ClaimResult) -> p::ClaimReply<'_> {
    let (status, reason) = status_reason(r.outcome);
    p::ClaimReply {
        ok: true,
        claim_id: Cow::Borrowed(&r.claim_id),
        status,
        reason,
        duplicate: r.duplicate,
        seq: r.seq,
    }
}

/// Stored `customs` text for output, embedded as is (see
/// `trove_protocol::customs::raw_from_stored`).
pub fn customs_raw(text: &str) -> Box<RawValue> {
    p::customs::raw_from_stored(text)
}

/// A hunt's definition with its stock ledger.
pub fn hunt_reply(h: &HuntState) -> p::HuntReply<'_> {
    let d = &h.def;
    p::HuntReply {
        ok: true,
        id: Cow::Borrowed(&d.id),
        name: Cow::Borrowed(&d.name),
        opens_at: d.opens_at,
        closes_at: d.closes_at,
        clues: d
            .clues
            .iter()
            .map(|c| p::ClueReply {
                id: Cow::Borrowed(&c.id),
                points: c.points,
            })
            .collect(),
        products: d
            .products
            .iter()
            .enumerate()
            .map(|(i, p)| p::ProductLedger {
                sku: Cow::Borrowed(&p.sku),
                stock: p.stock,
                per_player_limit: p.per_player_limit,
                min_score: p.min_score,
                remaining: h.stock[i],
                granted: h.granted[i],
                added: h.added[i],
            })
            .collect(),
        defined_seq: h.defined_at,
    }
}

/// A player's view of one hunt. A claim whose record was not durable at the
/// read is `"status": "pending"` with `"pending": true` and no decision
/// (no `reason`, no `seq`): a crash could still undo it.
pub fn player_reply<'a>(hunt: &'a HuntState, player: &'a str, read: Option<&'a PlayerRead>) -> p::PlayerReply<'a> {
    let state = read.map(|r| &r.state);
    let ph = state.and_then(|s| s.hunt(&hunt.def.id));
    let clues = ph.map_or_else(Vec::new, |ph| {
        ph.clue_indices()
            .filter_map(|i| hunt.def.clues.get(i).map(|c| Cow::Borrowed(c.id.as_str())))
            .collect()
    });
    let mut claims: Vec<_> = state.map_or_else(Vec::new, |s| {
        s.claims.iter().filter(|c| *c.hunt == *hunt.def.id).collect()
    });
    claims.sort_by_key(|c| c.seq);
    let claims = claims
        .into_iter()
        .map(|c| {
            let (claim_id, sku) = (Cow::Borrowed(&*c.claim_id), Cow::Borrowed(&*c.sku));
            if read.is_some_and(|r| r.is_pending(c)) {
                return p::PlayerClaim {
                    claim_id,
                    sku,
                    status: p::PlayerClaimStatus::Pending,
                    reason: None,
                    pending: true,
                    seq: None,
                };
            }
            let (status, reason) = status_reason(c.outcome);
            p::PlayerClaim {
                claim_id,
                sku,
                status: match status {
                    p::ClaimStatus::Granted => p::PlayerClaimStatus::Granted,
                    p::ClaimStatus::Rejected => p::PlayerClaimStatus::Rejected,
                },
                reason,
                pending: false,
                seq: Some(c.seq),
            }
        })
        .collect();
    p::PlayerReply {
        ok: true,
        player: Cow::Borrowed(player),
        hunt: Cow::Borrowed(&hunt.def.id),
        score: ph.map_or(0, |p| p.score),
        events: ph.map_or(0, |p| p.events),
        clues,
        claims,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn claims_not_yet_durable_are_pending_without_a_decision() {
        use std::sync::Arc;
        use trove_engine::{ClaimEntry, PlayerState, RejectReason};
        let def = HuntDef {
            id: "h".into(),
            name: "h".into(),
            opens_at: None,
            closes_at: None,
            clues: vec![],
            products: vec![ProductDef {
                sku: "mug".into(),
                stock: 1,
                per_player_limit: 1,
                min_score: 0,
            }],
        };
        let hunt = HuntState::new(Arc::new(def), 1);
        let entry = |id: &str, seq, outcome| ClaimEntry {
            claim_id: id.into(),
            hunt: Arc::from("h"),
            sku: Arc::from("mug"),
            outcome,
            seq,
            id_hash: Default::default(),
        };
        let read = PlayerRead {
            state: PlayerState {
                hunts: Default::default(),
                claims: vec![
                    entry("a", 5, Outcome::Rejected(RejectReason::NotEligible)),
                    entry("b", 6, Outcome::Granted),
                ],
            },
            durable_seq: 5,
        };
        let v = serde_json::to_value(player_reply(&hunt, "p", Some(&read))).unwrap();
        assert_eq!(
            v["claims"],
            json!([
                {"claim_id": "a", "sku": "mug", "status": "rejected", "reason": "not_eligible", "pending": false, "seq": 5},
                {"claim_id": "b", "sku": "mug", "status": "pending", "pending": true},
            ])
        );
    }

    #[test]
    fn hunts_take_the_documented_defaults() {
        let h = trove_protocol::parse::hunt(
            br#"{"id":"h","opens_at":"2026-05-01T20:00:00+02:00","clues":null,"products":[{"sku":"mug","stock":null}]}"#,
        )
        .unwrap();
        let d = hunt_def(h);
        assert_eq!(d.name, "h");
        assert_eq!(d.opens_at, Some(1_777_658_400_000));
        assert_eq!((d.products[0].stock, d.products[0].per_player_limit), (0, 1));
    }
}
