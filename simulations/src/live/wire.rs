//! [`Wire`]: the player model's plan as `trove_protocol` requests. Every name
//! the run sends (player ids, clue ids, skus, telemetry texts) is made once,
//! so an events batch borrows them all: building a batch allocates nothing
//! per event.

use crate::model::{EventPlan, Names, PlannedClaim, PlannedEvent, INTERACTIONS};
use serde_json::value::RawValue;
use std::borrow::Cow;
use trove_protocol::{ClaimRequest, EventKind, EventsRequest, GameEvent, Op};

/// The run's names, ready to borrow into requests.
pub(crate) struct Wire {
    pub(crate) names: Names,
    players: Vec<String>,
}

impl Wire {
    /// Names every player of the scenario up front (`players` of them).
    pub(crate) fn new(names: Names, players: u32) -> Wire {
        let players = (0..players).map(|p| names.player(p)).collect();
        Wire { names, players }
    }

    /// A player's id on the wire.
    pub(crate) fn player(&self, p: u32) -> &str {
        &self.players[p as usize]
    }

    fn event(&self, e: &PlannedEvent) -> GameEvent<'_> {
        let n = &self.names;
        let kind = match e.kind {
            EventPlan::Clue { clue, .. } => EventKind::ClueFound {
                clue: Cow::Borrowed(&n.clues[clue as usize]),
            },
            EventPlan::Checkin(l) => EventKind::Checkin {
                location: Cow::Borrowed(&n.locations[l as usize]),
            },
            EventPlan::Interaction(k) => EventKind::Interaction {
                kind: Cow::Borrowed(INTERACTIONS[k as usize]),
            },
        };
        GameEvent {
            player: Cow::Borrowed(self.player(e.player)),
            hunt: Cow::Borrowed(&n.hunt),
            kind,
        }
    }

    /// An `events` op of `chunk`, in `reuse`'s allocation (take it back with
    /// [`Wire::recycle`] once the op is sent).
    pub(crate) fn events<'w>(&'w self, chunk: &[PlannedEvent], mut reuse: Vec<GameEvent<'w>>) -> Op<'w> {
        reuse.clear();
        reuse.extend(chunk.iter().map(|e| self.event(e)));
        Op::Events(EventsRequest { events: reuse })
    }

    /// The event vector of a sent `events` op, for the next batch.
    pub(crate) fn recycle(op: Op<'_>) -> Vec<GameEvent<'_>> {
        match op {
            Op::Events(r) => r.events,
            _ => Vec::new(),
        }
    }

    /// A `claim` request with the player's customs document (`customs` holds
    /// it while the request is alive).
    pub(crate) fn claim<'w>(&'w self, c: &PlannedClaim, claim_id: &'w str, customs: &'w RawValue) -> Op<'w> {
        Op::Claim(ClaimRequest {
            claim_id: Cow::Borrowed(claim_id),
            player: Cow::Borrowed(self.player(c.player)),
            hunt: Cow::Borrowed(&self.names.hunt),
            sku: Cow::Borrowed(&self.names.skus[c.product as usize]),
            customs: Some(customs),
        })
    }

    /// The customs document a claim of `player` carries.
    pub(crate) fn customs(player: u32) -> Box<RawValue> {
        RawValue::from_string(Names::customs(player)).expect("the model's customs documents are JSON")
    }
}
