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
    /// The hunt's id, unique in the engine: 1 to [`limits::MAX_ID_BYTES`]
    /// bytes. Events, claims and stock additions name the hunt by it.
    pub id: String,
    /// Display name for people, at most [`limits::MAX_TEXT_BYTES`] bytes; the
    /// engine never interprets it.
    pub name: String,
    /// First instant (inclusive) at which clue finds and claims are accepted;
    /// `None` = open from the start of time.
    pub opens_at: Option<Millis>,
    /// First instant at which the hunt is closed again (exclusive end);
    /// `None` = never closes. Must be after `opens_at` when both are set.
    pub closes_at: Option<Millis>,
    /// The clues, in the order that numbers them: clue `i` is bit `i` of a
    /// player's [`PlayerHunt::clues`](crate::PlayerHunt::clues). Ids unique,
    /// at most [`limits::MAX_CLUES`].
    pub clues: Vec<ClueDef>,
    /// The products players can claim, each with its own stock ledger. Skus
    /// unique, at most [`limits::MAX_PRODUCTS`].
    pub products: Vec<ProductDef>,
}

/// One clue of a hunt: finding it scores `points`, once per player.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClueDef {
    /// The clue's id, unique within its hunt; a `clue_found` event names it.
    pub id: String,
    /// Score a player gains the first time it finds this clue.
    pub points: u32,
}

/// One claimable product of a hunt, and the rules for granting it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductDef {
    /// The product's id, unique within its hunt; claims name it.
    pub sku: String,
    /// Units in stock when the hunt is defined, at most [`MAX_STOCK`]. Later
    /// additions arrive as [`Record::StockAdded`]; this field never changes.
    pub stock: u64,
    /// Most grants one player may receive for this product.
    pub per_player_limit: u32,
    /// Score a player needs in this hunt to be eligible.
    pub min_score: u64,
}

impl HuntDef {
    /// Position of the clue with id `clue` in [`HuntDef::clues`].
    pub(crate) fn clue_index(&self, clue: &str) -> Option<usize> {
        self.clues.iter().position(|c| c.id == clue)
    }

    /// Position of the product `sku` in [`HuntDef::products`]: the index of
    /// its ledger in [`HuntState`](crate::HuntState).
    pub fn product_index(&self, sku: &str) -> Option<usize> {
        self.products.iter().position(|p| p.sku == sku)
    }

    /// Whether the hunt accepts claims and clue finds at `now`.
    pub(crate) fn is_open_at(&self, now: Millis) -> bool {
        self.opens_at.is_none_or(|t| now >= t) && self.closes_at.is_none_or(|t| now < t)
    }

    /// Checks the definition is well formed before it is journaled: ids and
    /// text within [`limits`], `opens_at` before `closes_at`, unique clue ids
    /// and skus, `per_player_limit` ≥ 1, stock ≤ [`MAX_STOCK`]. The error is
    /// a [`HuntInvalid`] naming the field; [`Engine::define_hunt`](crate::Engine::define_hunt)
    /// returns it as [`EngineError::InvalidHunt`](crate::EngineError::InvalidHunt).
    pub fn validate(&self) -> Result<(), HuntInvalid> {
        let at = |field: String| move |message: String| HuntInvalid { field, message };
        check_id("id", &self.id).map_err(at("id".into()))?;
        check_text("name", &self.name).map_err(at("name".into()))?;
        if let (Some(o), Some(c)) = (self.opens_at, self.closes_at) {
            if o >= c {
                return Err(at("closes_at".into())("opens_at must be before closes_at".into()));
            }
        }
        if self.clues.len() > limits::MAX_CLUES {
            return Err(at("clues".into())(format!("more than {} clues", limits::MAX_CLUES)));
        }
        if self.products.len() > limits::MAX_PRODUCTS {
            return Err(at("products".into())(format!(
                "more than {} products",
                limits::MAX_PRODUCTS
            )));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, c) in self.clues.iter().enumerate() {
            let field = || format!("clues[{i}].id");
            check_id("clue id", &c.id).map_err(at(field()))?;
            if !seen.insert(c.id.as_str()) {
                return Err(at(field())(format!("duplicate clue id {:?}", c.id)));
            }
        }
        seen.clear();
        for (i, p) in self.products.iter().enumerate() {
            let field = |name: &str| format!("products[{i}].{name}");
            check_id("sku", &p.sku).map_err(at(field("sku")))?;
            if !seen.insert(p.sku.as_str()) {
                return Err(at(field("sku"))(format!("duplicate sku {:?}", p.sku)));
            }
            if p.per_player_limit == 0 {
                return Err(at(field("per_player_limit"))(format!(
                    "per_player_limit of {:?} must be at least 1",
                    p.sku
                )));
            }
            if p.stock > MAX_STOCK {
                return Err(at(field("stock"))(format!(
                    "stock of {:?} exceeds {}",
                    p.sku, MAX_STOCK
                )));
            }
        }
        Ok(())
    }
}

/// Why a hunt definition is refused: the field at fault (a path such as
/// `products[1].stock`) and a sentence for the client.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct HuntInvalid {
    /// The path of the field at fault.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
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
    ClueFound {
        /// Id of a clue of the event's hunt ([`ClueDef::id`]).
        clue: String,
    },
    /// Telemetry: counted, changes no score.
    Checkin {
        /// Where the player checked in; free text, at most
        /// [`limits::MAX_TEXT_BYTES`] bytes, never interpreted.
        location: String,
    },
    /// Telemetry: counted, changes no score.
    Interaction {
        /// What the player did; free text, at most
        /// [`limits::MAX_TEXT_BYTES`] bytes, never interpreted.
        kind: String,
    },
}

impl EventKind {
    /// The same event kind, borrowing its strings (see [`RecordView`]).
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

    /// The protocol's name for this kind (`clue_found`, `checkin`,
    /// `interaction`), as in the ingest request and the audit export.
    pub fn type_name(&self) -> &'static str {
        match self {
            EventKind::ClueFound { .. } => "clue_found",
            EventKind::Checkin { .. } => "checkin",
            EventKind::Interaction { .. } => "interaction",
        }
    }
}

/// One event a game server reports, as [`Engine::ingest`](crate::Engine::ingest)
/// takes it. Journaled unchanged as [`Record::Event`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GameEvent {
    /// The player it happened to: 1 to [`limits::MAX_ID_BYTES`] bytes. A
    /// player the engine has not seen before is created by its first event.
    pub player: String,
    /// Id of a defined hunt; an event for an unknown hunt is invalid.
    pub hunt: String,
    /// What happened.
    pub kind: EventKind,
}

/// A request to redeem one unit of a product. `claim_id` is chosen by the
/// client, scoped to the player, and reused on every retry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimRequest {
    /// The client's idempotency key, unique per player: a second request with
    /// the same id gets the first one's outcome (or `claim_id_conflict` if it
    /// names another hunt or sku). 1 to [`limits::MAX_ID_BYTES`] bytes.
    pub claim_id: String,
    /// The claiming player; 1 to [`limits::MAX_ID_BYTES`] bytes.
    pub player: String,
    /// The hunt the product belongs to. An unknown hunt is a journaled
    /// rejection ([`RejectReason::UnknownHunt`]), not an error.
    pub hunt: String,
    /// The product to redeem. An unknown sku is a journaled rejection
    /// ([`RejectReason::UnknownProduct`]), not an error.
    pub sku: String,
    /// Free-form JSON object for the customs audit trail, kept verbatim. The
    /// engine checks only its size ([`limits::MAX_CUSTOMS_BYTES`]); the API
    /// checks that it is an object and canonicalizes its whitespace.
    pub customs: String,
}

impl ClaimRequest {
    /// Checks id lengths and the customs size; the error becomes
    /// [`EngineError::InvalidRequest`](crate::EngineError::InvalidRequest).
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
    /// No unit of the product was left when the hunt actor decided.
    OutOfStock,
    /// The player's score in the hunt was below the product's
    /// [`ProductDef::min_score`].
    NotEligible,
    /// The player already holds [`ProductDef::per_player_limit`] grants of
    /// the product.
    LimitReached,
    /// The claim arrived outside the hunt's `opens_at..closes_at` window.
    HuntClosed,
    /// No hunt with the claim's hunt id is defined.
    UnknownHunt,
    /// The hunt has no product with the claim's sku.
    UnknownProduct,
}

impl RejectReason {
    /// Every reason, in declaration order: for reports that list a count per
    /// reason, including the zero ones.
    pub const ALL: [RejectReason; 6] = [
        RejectReason::OutOfStock,
        RejectReason::NotEligible,
        RejectReason::LimitReached,
        RejectReason::HuntClosed,
        RejectReason::UnknownHunt,
        RejectReason::UnknownProduct,
    ];

    /// The stable snake_case name clients see as a rejected claim's
    /// `reason` (see `docs/PROTOCOL.md`); also the `Display` text.
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
    /// One unit was taken from stock and belongs to the player.
    Granted,
    /// Nothing was taken from stock, for this reason. Still a decision:
    /// journaled, and repeated to every retry of the claim id.
    Rejected(RejectReason),
}

impl Outcome {
    /// Whether this outcome took a unit of stock.
    pub fn is_granted(self) -> bool {
        matches!(self, Outcome::Granted)
    }

    /// The protocol's `status` field: `granted` or `rejected`.
    pub fn status(self) -> &'static str {
        match self {
            Outcome::Granted => "granted",
            Outcome::Rejected(_) => "rejected",
        }
    }

    /// The protocol's `reason` field: the reject reason, `None` for a grant.
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
    /// A hunt was defined ([`Engine::define_hunt`](crate::Engine::define_hunt)).
    /// Written once per hunt id; an identical re-post writes nothing.
    HuntDefined(HuntDef),
    /// Stock was added to a product ([`Engine::add_stock`](crate::Engine::add_stock)).
    StockAdded {
        /// Id of the (defined) hunt.
        hunt: String,
        /// Sku of a product of that hunt.
        sku: String,
        /// Units added, at least 1; the new stock stays ≤ [`MAX_STOCK`].
        added: u64,
    },
    /// One accepted game event ([`Engine::ingest`](crate::Engine::ingest));
    /// a batch becomes consecutive records appended as one unit.
    Event(GameEvent),
    /// A decided claim, with the request as sent (customs verbatim).
    Claim {
        /// The request that was decided, customs verbatim. Retries of the
        /// same claim id are answered from dedup state and not journaled.
        request: ClaimRequest,
        /// The decision, grant or rejection. Claims answered with an error
        /// (e.g. `claim_id_conflict`) are never journaled.
        outcome: Outcome,
    },
}

impl Record {
    /// The record's type as the audit export names it: `hunt_defined`,
    /// `stock_added`, `claim`, or the event kind's
    /// [`EventKind::type_name`].
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
    /// [`Record::HuntDefined`]; owned when decoded (hunt definitions are rare).
    HuntDefined(std::borrow::Cow<'a, HuntDef>),
    /// [`Record::StockAdded`].
    StockAdded {
        /// Id of the hunt.
        hunt: &'a str,
        /// Sku of the product.
        sku: &'a str,
        /// Units added.
        added: u64,
    },
    /// [`Record::Event`].
    Event(#[serde(borrow)] GameEventView<'a>),
    /// [`Record::Claim`].
    Claim {
        /// The claim as sent.
        #[serde(borrow)]
        request: ClaimRequestView<'a>,
        /// The decision.
        outcome: Outcome,
    },
}

/// A borrowed [`GameEvent`], inside a [`RecordView`]. Same field order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GameEventView<'a> {
    /// [`GameEvent::player`].
    pub player: &'a str,
    /// [`GameEvent::hunt`].
    pub hunt: &'a str,
    /// [`GameEvent::kind`].
    #[serde(borrow)]
    pub kind: EventKindView<'a>,
}

/// A borrowed [`EventKind`]. Same variant order, so it decodes the same bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKindView<'a> {
    /// [`EventKind::ClueFound`].
    ClueFound {
        /// Id of the clue found.
        clue: &'a str,
    },
    /// [`EventKind::Checkin`].
    Checkin {
        /// Where, as free text.
        location: &'a str,
    },
    /// [`EventKind::Interaction`].
    Interaction {
        /// What, as free text.
        kind: &'a str,
    },
}

impl EventKindView<'_> {
    /// See [`EventKind::is_telemetry`].
    pub fn is_telemetry(&self) -> bool {
        matches!(self, EventKindView::Checkin { .. } | EventKindView::Interaction { .. })
    }
}

/// The telemetry retention removed from one journal block, per hunt: what
/// the audit rollups count in the second the block was committed. Kept by
/// the journal in place of the removed records; the engine only defines it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HuntTelemetry {
    /// Id of the hunt the removed events belonged to.
    pub hunt: String,
    /// Removed `checkin` events of that hunt in the block.
    pub checkins: u64,
    /// Removed `interaction` events of that hunt in the block.
    pub interactions: u64,
}

/// What the telemetry events retention removed from a run of journal blocks
/// did to one player in one hunt: they were counted ([`PlayerHunt::events`])
/// and changed nothing else. Replaying the run applies these counts in place
/// of the removed records ([`World::apply_removed_telemetry`]), so a replay
/// still reaches the state the records gave.
///
/// [`PlayerHunt::events`]: crate::PlayerHunt::events
/// [`World::apply_removed_telemetry`]: crate::World::apply_removed_telemetry
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TelemetryCount {
    /// The player the removed events happened to.
    pub player: String,
    /// The hunt they were reported in.
    pub hunt: String,
    /// Sequence of the first removed record of this player and hunt in the
    /// run: when a projection first saw the player there.
    pub first_seq: Seq,
    /// Removed `checkin` events of this player and hunt.
    pub checkins: u64,
    /// Removed `interaction` events of this player and hunt.
    pub interactions: u64,
}

/// A borrowed [`ClaimRequest`], inside a [`RecordView`]. Same field order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimRequestView<'a> {
    /// [`ClaimRequest::claim_id`].
    pub claim_id: &'a str,
    /// [`ClaimRequest::player`].
    pub player: &'a str,
    /// [`ClaimRequest::hunt`].
    pub hunt: &'a str,
    /// [`ClaimRequest::sku`].
    pub sku: &'a str,
    /// [`ClaimRequest::customs`], the exact stored bytes.
    pub customs: &'a str,
}

impl Record {
    /// A view borrowing this record's strings: what replay and the audit
    /// export run on. [`RecordView::to_record`] is the inverse.
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

    /// An owned copy of the record this view borrows from.
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
