//! The domain vocabulary: hunts, game events, claims and the journal records
//! that describe every change to the game state.
//!
//! Everything here is plain data. The journal stores [`Record`]s verbatim, so
//! changing a field here is a journal format change (see `docs/DURABILITY.md`).

use serde::{Deserialize, Serialize};
use std::fmt;

/// Global journal sequence number. Gapless, assigned in append order, starts at 1.
pub type Seq = u64;

/// Unix time in milliseconds.
pub type Millis = i64;

/// Limits on inputs. They keep one request from monopolising memory or the
/// journal, and they are part of the protocol (see `docs/PROTOCOL.md`).
pub mod limits {
    /// Longest id (player, hunt, clue, sku, claim id) in bytes.
    pub const MAX_ID_BYTES: usize = 128;
    /// Longest free-text field (hunt name, checkin location, interaction kind).
    pub const MAX_TEXT_BYTES: usize = 256;
    /// Largest `customs` JSON document, in bytes of its canonical text.
    pub const MAX_CUSTOMS_BYTES: usize = 16 * 1024;
    /// Most events in one ingest batch.
    pub const MAX_BATCH_EVENTS: usize = 10_000;
    /// Most clues in one hunt.
    pub const MAX_CLUES: usize = 4_096;
    /// Most products in one hunt.
    pub const MAX_PRODUCTS: usize = 1_024;
    /// Most distinct claim ids one player may use. Dedup state is kept forever,
    /// so this bounds what one misbehaving client can make us remember.
    pub const MAX_CLAIMS_PER_PLAYER: usize = 4_096;
}

/// A hunt definition, as a designer posts it. Immutable once journaled except
/// for stock, which only grows through [`Record::StockAdded`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HuntDef {
    pub id: String,
    pub name: String,
    pub opens_at: Option<Millis>,
    pub closes_at: Option<Millis>,
    pub clues: Vec<ClueDef>,
    pub products: Vec<ProductDef>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClueDef {
    pub id: String,
    pub points: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductDef {
    pub sku: String,
    /// Initial stock.
    pub stock: u64,
    /// Most grants one player may receive for this product.
    pub per_player_limit: u32,
    /// Score a player needs in this hunt to be eligible.
    pub min_score: u64,
}

impl HuntDef {
    pub fn clue_index(&self, clue: &str) -> Option<usize> {
        self.clues.iter().position(|c| c.id == clue)
    }

    pub fn product_index(&self, sku: &str) -> Option<usize> {
        self.products.iter().position(|p| p.sku == sku)
    }

    /// Whether the hunt accepts claims and clue finds at `now`.
    pub fn is_open_at(&self, now: Millis) -> bool {
        self.opens_at.is_none_or(|t| now >= t) && self.closes_at.is_none_or(|t| now < t)
    }

    /// Checks the definition is well formed before it is journaled.
    pub fn validate(&self) -> Result<(), String> {
        check_id("id", &self.id)?;
        check_text("name", &self.name)?;
        if let (Some(o), Some(c)) = (self.opens_at, self.closes_at) {
            if o >= c {
                return Err("opens_at must be before closes_at".into());
            }
        }
        if self.clues.len() > limits::MAX_CLUES {
            return Err(format!("more than {} clues", limits::MAX_CLUES));
        }
        if self.products.len() > limits::MAX_PRODUCTS {
            return Err(format!("more than {} products", limits::MAX_PRODUCTS));
        }
        let mut seen = std::collections::HashSet::new();
        for c in &self.clues {
            check_id("clue id", &c.id)?;
            if !seen.insert(c.id.as_str()) {
                return Err(format!("duplicate clue id {:?}", c.id));
            }
        }
        seen.clear();
        for p in &self.products {
            check_id("sku", &p.sku)?;
            if !seen.insert(p.sku.as_str()) {
                return Err(format!("duplicate sku {:?}", p.sku));
            }
            if p.per_player_limit == 0 {
                return Err(format!("per_player_limit of {:?} must be at least 1", p.sku));
            }
            if p.stock > MAX_STOCK {
                return Err(format!("stock of {:?} exceeds {}", p.sku, MAX_STOCK));
            }
        }
        Ok(())
    }
}

/// Largest stock a product may hold; keeps every stock sum far from overflow.
pub const MAX_STOCK: u64 = 1 << 48;

pub(crate) fn check_id(what: &str, id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err(format!("{what} must not be empty"));
    }
    if id.len() > limits::MAX_ID_BYTES {
        return Err(format!("{what} longer than {} bytes", limits::MAX_ID_BYTES));
    }
    Ok(())
}

pub(crate) fn check_text(what: &str, text: &str) -> Result<(), String> {
    if text.len() > limits::MAX_TEXT_BYTES {
        return Err(format!("{what} longer than {} bytes", limits::MAX_TEXT_BYTES));
    }
    Ok(())
}

/// What a game server reports about a player.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    /// Scores the clue's points, once per player and hunt.
    ClueFound { clue: String },
    /// Telemetry: counted, changes no score.
    Checkin { location: String },
    /// Telemetry: counted, changes no score.
    Interaction { kind: String },
}

impl EventKind {
    pub fn view(&self) -> EventKindView<'_> {
        match self {
            EventKind::ClueFound { clue } => EventKindView::ClueFound { clue },
            EventKind::Checkin { location } => EventKindView::Checkin { location },
            EventKind::Interaction { kind } => EventKindView::Interaction { kind },
        }
    }

    /// Checkins and interactions: what retention may compact (see
    /// [`TelemetryCount`]). Clue finds score, so they are never telemetry.
    pub fn is_telemetry(&self) -> bool {
        self.view().is_telemetry()
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            EventKind::ClueFound { .. } => "clue_found",
            EventKind::Checkin { .. } => "checkin",
            EventKind::Interaction { .. } => "interaction",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GameEvent {
    pub player: String,
    pub hunt: String,
    pub kind: EventKind,
}

/// A request to redeem one unit of a product. `claim_id` is chosen by the
/// client, scoped to the player, and reused on every retry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimRequest {
    pub claim_id: String,
    pub player: String,
    pub hunt: String,
    pub sku: String,
    /// Free-form JSON object for the customs audit trail, kept verbatim.
    pub customs: String,
}

impl ClaimRequest {
    pub fn validate(&self) -> Result<(), String> {
        check_id("claim_id", &self.claim_id)?;
        check_id("player", &self.player)?;
        check_id("hunt", &self.hunt)?;
        check_id("sku", &self.sku)?;
        if self.customs.len() > limits::MAX_CUSTOMS_BYTES {
            return Err(format!("customs larger than {} bytes", limits::MAX_CUSTOMS_BYTES));
        }
        Ok(())
    }
}

/// Why a claim was rejected. Stable: these names are protocol error reasons.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub enum RejectReason {
    OutOfStock,
    NotEligible,
    LimitReached,
    HuntClosed,
    UnknownHunt,
    UnknownProduct,
}

impl RejectReason {
    pub const ALL: [RejectReason; 6] = [
        RejectReason::OutOfStock,
        RejectReason::NotEligible,
        RejectReason::LimitReached,
        RejectReason::HuntClosed,
        RejectReason::UnknownHunt,
        RejectReason::UnknownProduct,
    ];

    pub fn code(self) -> &'static str {
        match self {
            RejectReason::OutOfStock => "out_of_stock",
            RejectReason::NotEligible => "not_eligible",
            RejectReason::LimitReached => "limit_reached",
            RejectReason::HuntClosed => "hunt_closed",
            RejectReason::UnknownHunt => "unknown_hunt",
            RejectReason::UnknownProduct => "unknown_product",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The decision on a claim. Decided once, journaled, never changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Outcome {
    Granted,
    Rejected(RejectReason),
}

impl Outcome {
    pub fn is_granted(self) -> bool {
        matches!(self, Outcome::Granted)
    }

    pub fn status(self) -> &'static str {
        match self {
            Outcome::Granted => "granted",
            Outcome::Rejected(_) => "rejected",
        }
    }

    pub fn reason(self) -> Option<RejectReason> {
        match self {
            Outcome::Granted => None,
            Outcome::Rejected(r) => Some(r),
        }
    }
}

/// One journal entry. Each has its own [`Seq`]. The journal is the source of
/// truth: replaying these in sequence order rebuilds the whole game state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Record {
    HuntDefined(HuntDef),
    StockAdded {
        hunt: String,
        sku: String,
        added: u64,
    },
    Event(GameEvent),
    /// A decided claim, with the request as sent (customs verbatim).
    Claim {
        request: ClaimRequest,
        outcome: Outcome,
    },
}

impl Record {
    pub fn type_name(&self) -> &'static str {
        match self {
            Record::HuntDefined(_) => "hunt_defined",
            Record::StockAdded { .. } => "stock_added",
            Record::Event(e) => e.kind.type_name(),
            Record::Claim { .. } => "claim",
        }
    }
}

/// A borrowed view of a [`Record`], decoded from the journal without copying
/// its strings. Replay runs on views: allocating three `String`s per event
/// was most of its cost. Same shape as `Record`, so it decodes the same bytes;
/// the variant and field order must match `Record` exactly.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecordView<'a> {
    HuntDefined(std::borrow::Cow<'a, HuntDef>),
    StockAdded {
        hunt: &'a str,
        sku: &'a str,
        added: u64,
    },
    Event(#[serde(borrow)] GameEventView<'a>),
    Claim {
        #[serde(borrow)]
        request: ClaimRequestView<'a>,
        outcome: Outcome,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GameEventView<'a> {
    pub player: &'a str,
    pub hunt: &'a str,
    #[serde(borrow)]
    pub kind: EventKindView<'a>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKindView<'a> {
    ClueFound { clue: &'a str },
    Checkin { location: &'a str },
    Interaction { kind: &'a str },
}

impl EventKindView<'_> {
    pub fn is_telemetry(&self) -> bool {
        matches!(self, EventKindView::Checkin { .. } | EventKindView::Interaction { .. })
    }
}

/// What the telemetry events retention removed from a run of journal blocks
/// did to one player in one hunt: they were counted ([`PlayerHunt::events`])
/// and changed nothing else. Replaying the run applies these counts in place
/// of the removed records ([`World::apply_removed_telemetry`]), so a replay
/// still reaches the state the records gave.
///
/// [`PlayerHunt::events`]: crate::PlayerHunt::events
/// [`World::apply_removed_telemetry`]: crate::World::apply_removed_telemetry
/// The telemetry retention removed from one journal block, per hunt: what
/// the audit rollups count in the second the block was committed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HuntTelemetry {
    pub hunt: String,
    pub checkins: u64,
    pub interactions: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TelemetryCount {
    pub player: String,
    pub hunt: String,
    /// Sequence of the first removed record of this player and hunt in the
    /// run: when a projection first saw the player there.
    pub first_seq: Seq,
    pub checkins: u64,
    pub interactions: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimRequestView<'a> {
    pub claim_id: &'a str,
    pub player: &'a str,
    pub hunt: &'a str,
    pub sku: &'a str,
    pub customs: &'a str,
}

impl Record {
    pub fn view(&self) -> RecordView<'_> {
        match self {
            Record::HuntDefined(def) => RecordView::HuntDefined(std::borrow::Cow::Borrowed(def)),
            Record::StockAdded { hunt, sku, added } => RecordView::StockAdded {
                hunt,
                sku,
                added: *added,
            },
            Record::Event(ev) => RecordView::Event(GameEventView {
                player: &ev.player,
                hunt: &ev.hunt,
                kind: ev.kind.view(),
            }),
            Record::Claim { request: r, outcome } => RecordView::Claim {
                request: ClaimRequestView {
                    claim_id: &r.claim_id,
                    player: &r.player,
                    hunt: &r.hunt,
                    sku: &r.sku,
                    customs: &r.customs,
                },
                outcome: *outcome,
            },
        }
    }
}

impl Record {
    /// See [`EventKind::is_telemetry`].
    pub fn is_telemetry(&self) -> bool {
        matches!(self, Record::Event(ev) if ev.kind.is_telemetry())
    }
}

impl RecordView<'_> {
    /// See [`EventKind::is_telemetry`].
    pub fn is_telemetry(&self) -> bool {
        matches!(self, RecordView::Event(ev) if ev.kind.is_telemetry())
    }

    pub fn to_record(&self) -> Record {
        match self {
            RecordView::HuntDefined(def) => Record::HuntDefined(def.clone().into_owned()),
            RecordView::StockAdded { hunt, sku, added } => Record::StockAdded {
                hunt: (*hunt).into(),
                sku: (*sku).into(),
                added: *added,
            },
            RecordView::Event(ev) => Record::Event(GameEvent {
                player: ev.player.into(),
                hunt: ev.hunt.into(),
                kind: match ev.kind {
                    EventKindView::ClueFound { clue } => EventKind::ClueFound { clue: clue.into() },
                    EventKindView::Checkin { location } => EventKind::Checkin {
                        location: location.into(),
                    },
                    EventKindView::Interaction { kind } => EventKind::Interaction { kind: kind.into() },
                },
            }),
            RecordView::Claim { request: r, outcome } => Record::Claim {
                request: ClaimRequest {
                    claim_id: r.claim_id.into(),
                    player: r.player.into(),
                    hunt: r.hunt.into(),
                    sku: r.sku.into(),
                    customs: r.customs.into(),
                },
                outcome: *outcome,
            },
        }
    }
}
