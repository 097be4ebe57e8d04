//! The game operations, the same on both transports: events, claims, a
//! player's view and the leaderboard. Requests borrow from the text they are
//! parsed from (`Cow<'a, str>`: borrowed unless the JSON string has escapes).

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::borrow::Cow;
use utoipa::{IntoParams, ToSchema};

/// A journal sequence number.
pub type Seq = u64;

/// One game event of an `events` batch.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, ToSchema)]
pub struct GameEvent<'a> {
    /// The player (an id: 1 to 128 bytes).
    #[serde(borrow)]
    #[schema(value_type = String, min_length = 1, max_length = 128)]
    pub player: Cow<'a, str>,
    /// The hunt, which must exist.
    #[serde(borrow)]
    #[schema(value_type = String, min_length = 1, max_length = 128)]
    pub hunt: Cow<'a, str>,
    /// What happened, tagged by `type`.
    #[serde(flatten, borrow)]
    pub kind: EventKind<'a>,
}

/// Written as one flat map of known length (`player`, `hunt`, `type`, then
/// the kind's field), as `#[serde(flatten)]` would write it but without
/// buffering the map for MessagePack.
impl Serialize for GameEvent<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let (kind, field, value) = match &self.kind {
            EventKind::ClueFound { clue } => ("clue_found", "clue", clue),
            EventKind::Checkin { location } => ("checkin", "location", location),
            EventKind::Interaction { kind } => ("interaction", "kind", kind),
        };
        let mut st = s.serialize_struct("GameEvent", 4)?;
        st.serialize_field("player", &self.player)?;
        st.serialize_field("hunt", &self.hunt)?;
        st.serialize_field("type", kind)?;
        st.serialize_field(field, value)?;
        st.end()
    }
}

/// What a [`GameEvent`] says happened (`"type"` on the wire).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind<'a> {
    /// The player found a clue of the hunt (scores its points once).
    ClueFound {
        /// The clue's id.
        #[serde(borrow)]
        #[schema(value_type = String, min_length = 1, max_length = 128)]
        clue: Cow<'a, str>,
    },
    /// The player checked in somewhere (telemetry).
    Checkin {
        /// Free text, at most 256 bytes.
        #[serde(borrow)]
        #[schema(value_type = String, max_length = 256)]
        location: Cow<'a, str>,
    },
    /// The player interacted with something (telemetry).
    Interaction {
        /// Free text, at most 256 bytes.
        #[serde(borrow)]
        #[schema(value_type = String, max_length = 256)]
        kind: Cow<'a, str>,
    },
}

/// Body of `POST /v1/events` and the `events` op.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EventsRequest<'a> {
    /// The batch, applied atomically. At most 10 000 events: more is
    /// `413 batch_too_large` (not a schema violation).
    #[serde(borrow)]
    pub events: Vec<GameEvent<'a>>,
}

/// Answer to an events batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EventsReply {
    /// Always `true`.
    pub ok: bool,
    /// Number of events applied.
    pub accepted: u64,
    /// Journal sequence of the last one (or the durable sequence, for an empty batch).
    pub seq: u64,
}

/// Body of `POST /v1/claims` and the `claim` op.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ClaimRequest<'a> {
    /// Chosen by the client, scoped to the player; reused on every retry.
    #[serde(borrow)]
    #[schema(value_type = String, min_length = 1, max_length = 128)]
    pub claim_id: Cow<'a, str>,
    /// The claiming player.
    #[serde(borrow)]
    #[schema(value_type = String, min_length = 1, max_length = 128)]
    pub player: Cow<'a, str>,
    /// The hunt.
    #[serde(borrow)]
    #[schema(value_type = String, min_length = 1, max_length = 128)]
    pub hunt: Cow<'a, str>,
    /// The product.
    #[serde(borrow)]
    #[schema(value_type = String, min_length = 1, max_length = 128)]
    pub sku: Cow<'a, str>,
    /// A JSON object kept byte for byte (but whitespace between tokens) for
    /// the audit trail and the dispatch feed; absent or `null` = `{}`.
    /// In MessagePack a map; it serializes as one, but a `ClaimRequest` reads
    /// only from JSON (the server reads MessagePack with `msgpack::claim`).
    #[serde(
        borrow,
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::customs::serialize_borrowed"
    )]
    #[schema(value_type = Option<Object>)]
    pub customs: Option<&'a RawValue>,
}

/// Whether a claim was granted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClaimStatus {
    /// A unit was granted.
    Granted,
    /// Refused; the reply's `reason` says why.
    Rejected,
}

/// Why a claim was rejected (a decision, not an error).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// No stock left.
    OutOfStock,
    /// The player's score is below the product's `min_score`.
    NotEligible,
    /// The player already holds `per_player_limit` grants of the product.
    LimitReached,
    /// The hunt is not open.
    HuntClosed,
    /// No such hunt.
    UnknownHunt,
    /// No such product in the hunt.
    UnknownProduct,
}

/// Answer to a claim: the decision, which never changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ClaimReply<'a> {
    /// Always `true` (a rejection is a successful answer).
    pub ok: bool,
    /// The claim's id.
    #[serde(borrow)]
    #[schema(value_type = String)]
    pub claim_id: Cow<'a, str>,
    /// Granted or rejected.
    pub status: ClaimStatus,
    /// Only when rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<RejectReason>,
    /// True when this `claim_id` was already decided: the original decision.
    pub duplicate: bool,
    /// Journal sequence of the record that decided it.
    pub seq: u64,
}

/// The `player` op (HTTP: the path `/v1/hunts/{hunt}/players/{player}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PlayerRequest<'a> {
    /// The player.
    #[serde(borrow)]
    #[schema(value_type = String, min_length = 1)]
    pub player: Cow<'a, str>,
    /// The hunt.
    #[serde(borrow)]
    #[schema(value_type = String, min_length = 1)]
    pub hunt: Cow<'a, str>,
}

/// How a claim shows in a player's view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlayerClaimStatus {
    /// Granted and durable.
    Granted,
    /// Rejected and durable.
    Rejected,
    /// Decided but not yet durable: no decision shown.
    Pending,
}

/// One claim in a player's view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PlayerClaim<'a> {
    /// The claim's id.
    #[serde(borrow)]
    #[schema(value_type = String)]
    pub claim_id: Cow<'a, str>,
    /// The product.
    #[serde(borrow)]
    #[schema(value_type = String)]
    pub sku: Cow<'a, str>,
    /// The durable decision, or `pending`.
    pub status: PlayerClaimStatus,
    /// Only when rejected (never when pending).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<RejectReason>,
    /// True while the deciding record is not durable.
    pub pending: bool,
    /// Journal sequence of the decision (absent when pending).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
}

/// A player's durable view of one hunt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PlayerReply<'a> {
    /// Always `true`.
    pub ok: bool,
    /// The player.
    #[serde(borrow)]
    #[schema(value_type = String)]
    pub player: Cow<'a, str>,
    /// The hunt.
    #[serde(borrow)]
    #[schema(value_type = String)]
    pub hunt: Cow<'a, str>,
    /// Score in the hunt.
    pub score: u64,
    /// Accepted events in the hunt.
    pub events: u64,
    /// Clues found, in definition order.
    #[serde(borrow)]
    #[schema(value_type = Vec<String>)]
    pub clues: Vec<Cow<'a, str>>,
    /// Claims of this hunt in decision order.
    #[serde(borrow)]
    pub claims: Vec<PlayerClaim<'a>>,
}

/// The `leaderboard` op.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LeaderboardRequest<'a> {
    /// The hunt.
    #[serde(borrow)]
    #[schema(value_type = String, min_length = 1)]
    pub hunt: Cow<'a, str>,
    /// Entries, 1 to 1000 (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 1000)]
    pub limit: Option<u64>,
    /// A window around this player instead of the top.
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub around: Option<Cow<'a, str>>,
}

/// Query of `GET /v1/hunts/{hunt}/leaderboard`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LeaderboardParams {
    /// Entries, 1 to 1000 (default 10).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u64>,
    /// A window of `limit` entries containing this player (empty = the top).
    pub around: Option<String>,
}

/// One leaderboard row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LeaderboardEntry<'a> {
    /// 1, 2, 3, … with no shared ranks.
    #[schema(minimum = 1)]
    pub rank: u64,
    /// The player.
    #[serde(borrow)]
    #[schema(value_type = String)]
    pub player: Cow<'a, str>,
    /// The player's score.
    pub score: u64,
}

/// Answer to a leaderboard query.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LeaderboardReply<'a> {
    /// Always `true`.
    pub ok: bool,
    /// The hunt.
    #[serde(borrow)]
    #[schema(value_type = String)]
    pub hunt: Cow<'a, str>,
    /// The rows.
    #[serde(borrow)]
    pub entries: Vec<LeaderboardEntry<'a>>,
    /// The journal sequence the projection includes.
    pub as_of_seq: u64,
}
