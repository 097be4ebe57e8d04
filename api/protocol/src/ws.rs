//! The WebSocket envelope (`GET /v1/ws`): requests `{"id", "op", ...}`,
//! replies `{"id", "ok": true, ...}` or `{"id", "ok": false, "error"}`, and
//! pushes `{"push": "<topic>", ...}` of subscriptions.

use crate::error::ErrorBody;
use crate::game::{ClaimRequest, EventsRequest, LeaderboardEntry, LeaderboardRequest, PlayerRequest};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::borrow::Cow;
use utoipa::{IntoParams, ToSchema};

/// A request id: any integer the client chooses, echoed in the reply.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum RequestId {
    /// A non-negative id.
    Unsigned(u64),
    /// A negative id.
    Signed(i64),
}

impl From<u64> for RequestId {
    fn from(v: u64) -> Self {
        RequestId::Unsigned(v)
    }
}

impl From<i64> for RequestId {
    fn from(v: i64) -> Self {
        u64::try_from(v).map_or(RequestId::Signed(v), RequestId::Unsigned)
    }
}

/// A request as a client writes it: `{"id": 1, "op": "claim", ...fields}`.
#[derive(Clone, Debug, Serialize)]
pub struct WsRequest<'a> {
    /// Echoed in the reply.
    pub id: RequestId,
    /// The op and its fields.
    #[serde(flatten)]
    pub op: Op<'a>,
}

/// The ops of the WebSocket (`"op"` on the wire) with their fields.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op<'a> {
    /// Ingest a batch of events.
    Events(EventsRequest<'a>),
    /// Claim a product.
    Claim(ClaimRequest<'a>),
    /// A player's view of a hunt.
    Player(PlayerRequest<'a>),
    /// A hunt's leaderboard.
    Leaderboard(LeaderboardRequest<'a>),
    /// Start pushes of a topic.
    Subscribe(SubscribeRequest<'a>),
    /// End a subscription.
    Unsubscribe(UnsubscribeRequest),
}

impl Op<'_> {
    /// Every op name, as on the wire.
    pub const NAMES: [&'static str; 6] = ["events", "claim", "player", "leaderboard", "subscribe", "unsubscribe"];
}

/// The `subscribe` op, by `topic`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "topic", rename_all = "snake_case")]
pub enum SubscribeRequest<'a> {
    /// The dispatch feed: every granted claim after `from`.
    Claims {
        /// Resume after this cursor (default 0: from the start).
        #[serde(default, deserialize_with = "crate::hunt::nullable")]
        from: u64,
        /// Instead of `from`: start this many journal records before the
        /// durable head (0: only claims decided from now on), at most
        /// 1 000 000. The reply's `from` is the cursor it resolved to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(minimum = 0, maximum = 1000000)]
        tail: Option<u64>,
        /// Cluster mode: the partition whose feed to follow (required
        /// there: each partition has its own journal and cursors).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        partition: Option<u32>,
    },
    /// Leaderboard pushes of a hunt.
    Leaderboard {
        /// The hunt.
        #[serde(borrow)]
        #[schema(value_type = String, min_length = 1)]
        hunt: Cow<'a, str>,
        /// Entries, 1 to 1000 (default 10).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u64>,
    },
    /// Every hunt with its products' counts, pushed when they change
    /// (`crate::HuntsPush`).
    Hunts,
    /// The server's live figures every 500 ms (`crate::StatsPush`); admin only.
    Stats,
}

/// The `unsubscribe` op.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UnsubscribeRequest {
    /// The subscription to end.
    pub subscription: u64,
}

/// Reply fields of `subscribe`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "topic", rename_all = "snake_case")]
pub enum SubscribeReply<'a> {
    /// The dispatch feed started.
    Claims {
        /// Always `true`.
        ok: bool,
        /// The cursor it resumes after.
        from: u64,
        /// The subscription's id on this connection.
        subscription: u64,
        /// Cluster mode: the partition followed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        partition: Option<u32>,
    },
    /// Leaderboard pushes started.
    Leaderboard {
        /// Always `true`.
        ok: bool,
        /// The hunt.
        #[serde(borrow)]
        #[schema(value_type = String)]
        hunt: Cow<'a, str>,
        /// Entries per push.
        limit: u64,
        /// The subscription's id on this connection.
        subscription: u64,
    },
    /// Hunt pushes started.
    Hunts {
        /// Always `true`.
        ok: bool,
        /// The subscription's id on this connection.
        subscription: u64,
    },
    /// Stats pushes started.
    Stats {
        /// Always `true`.
        ok: bool,
        /// The subscription's id on this connection.
        subscription: u64,
        /// Milliseconds between pushes.
        interval_ms: u64,
    },
}

/// Reply fields of `unsubscribe`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UnsubscribeReply {
    /// Always `true`.
    pub ok: bool,
    /// The subscription that ended.
    pub subscription: u64,
}

/// A successful reply: the request's `id` and the op's reply fields
/// (`T` is one of the `*Reply` types, which carry `"ok": true`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WsReply<T> {
    /// The request's id.
    pub id: RequestId,
    /// The op's answer.
    #[serde(flatten)]
    pub body: T,
}

/// An error reply. `id` is `null` when the request could not be read far
/// enough to know it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WsErrorReply {
    /// The request's id, if known.
    pub id: Option<RequestId>,
    /// Always `false`.
    pub ok: bool,
    /// What went wrong.
    pub error: ErrorBody,
}

/// A push of the dispatch feed (`"push": "claim"`), `customs` exactly as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClaimPush<'a> {
    /// Always `claim`.
    #[serde(borrow)]
    pub push: Cow<'a, str>,
    /// The subscription it belongs to.
    pub subscription: u64,
    /// The claim record's journal sequence; resume with `"from": cursor`.
    pub cursor: u64,
    /// Cluster mode: the partition (cursors are per partition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<u32>,
    /// The claim's id.
    #[serde(borrow)]
    pub claim_id: Cow<'a, str>,
    /// The player.
    #[serde(borrow)]
    pub player: Cow<'a, str>,
    /// The hunt.
    #[serde(borrow)]
    pub hunt: Cow<'a, str>,
    /// The product.
    #[serde(borrow)]
    pub sku: Cow<'a, str>,
    /// The customs document as stored (in MessagePack: a map).
    #[serde(
        serialize_with = "crate::customs::serialize_boxed",
        deserialize_with = "crate::customs::deserialize_boxed"
    )]
    pub customs: Box<RawValue>,
    /// Commit time of the record, unix ms.
    pub at: i64,
}

/// A leaderboard push (`"push": "leaderboard"`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderboardPush<'a> {
    /// Always `leaderboard`.
    #[serde(borrow)]
    pub push: Cow<'a, str>,
    /// The subscription it belongs to.
    pub subscription: u64,
    /// The hunt.
    #[serde(borrow)]
    pub hunt: Cow<'a, str>,
    /// The top entries.
    #[serde(borrow)]
    pub entries: Vec<LeaderboardEntry<'a>>,
    /// The journal sequence the projection includes.
    pub as_of_seq: u64,
}

/// A subscription that fails (`"push": "error"`), e.g. the dispatch feed
/// cannot read the journal; the subscription ends.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ErrorPush<'a> {
    /// Always `error`.
    #[serde(borrow)]
    pub push: Cow<'a, str>,
    /// The topic that failed.
    #[serde(borrow)]
    pub topic: Cow<'a, str>,
    /// The subscription that ended, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription: Option<u64>,
    /// What went wrong (cluster mode: `moved` or `partition_unavailable`
    /// when the partition of a claims feed left this node; resubscribe at
    /// its new owner from the last cursor).
    pub error: ErrorBody,
}

/// Query of `GET /v1/ws`: a browser, which cannot set headers on a
/// WebSocket, sends a one-use `?ticket=` from `POST /v1/ws/ticket` (or the
/// key itself as `?token=KEY`, which then sits in the URL).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WsParams {
    /// A key, instead of `Authorization: Bearer KEY`.
    pub token: Option<String>,
    /// A ticket from `POST /v1/ws/ticket`: valid once, for 30 s.
    pub ticket: Option<String>,
}
