//! What the console and other live views read: who a key is
//! (`GET /v1/whoami`), WebSocket tickets for browsers (`POST /v1/ws/ticket`),
//! and the pushes of the `hunts` and `stats` topics.

use crate::admin::{ConsistencyReport, Readiness};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// `GET /v1/whoami`: the role of the key sent, and what it may do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WhoAmI {
    /// Always `true`.
    pub ok: bool,
    /// `admin`, `game`, `designer` or `auditor`.
    pub role: String,
    /// The actions of the role: some of `events`, `claim`,
    /// `subscribe`, `read`, `design`, `audit`, `admin`.
    pub may: Vec<String>,
}

/// `POST /v1/ws/ticket`: a one-use credential for `GET /v1/ws?ticket=`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WsTicket {
    /// Always `true`.
    pub ok: bool,
    /// Opaque; valid once, until it expires. The socket gets the role of the
    /// key that asked for it.
    pub ticket: String,
    /// Milliseconds it stays valid.
    pub expires_in_ms: u64,
}

/// Rejected claims of one product, by reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RejectCounts {
    /// No stock left.
    pub out_of_stock: u64,
    /// Score below the product's `min_score`.
    pub not_eligible: u64,
    /// The player already held `per_player_limit` grants.
    pub limit_reached: u64,
    /// The hunt was not open.
    pub hunt_closed: u64,
}

/// One product in a [`HuntSummary`]: its ledger
/// (`stock + added = remaining + granted`) and its rejections.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProductSummary {
    /// The sku.
    pub sku: String,
    /// Initial stock.
    pub stock: u64,
    /// Stock added since the definition.
    pub added: u64,
    /// Units granted.
    pub granted: u64,
    /// Units left.
    pub remaining: u64,
    /// Grants one player may hold.
    pub per_player_limit: u32,
    /// Score needed to claim it.
    pub min_score: u64,
    /// Rejected claims by reason.
    pub rejected: RejectCounts,
}

/// One hunt as the `hunts` topic pushes it, from the durable journal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HuntSummary {
    /// The hunt's id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Opening time (unix ms), or `null` for no limit.
    pub opens_at: Option<i64>,
    /// Closing time (unix ms), or `null` for no limit.
    pub closes_at: Option<i64>,
    /// Players with at least one event in the hunt.
    pub players: u64,
    /// Events accepted in the hunt.
    pub events: u64,
    /// Claims rejected because the hunt has no such product.
    pub unknown_product: u64,
    /// The products, in definition order.
    pub products: Vec<ProductSummary>,
}

/// A push of the `hunts` topic (`"push": "hunts"`): every hunt, first at
/// once and then at most every 500 ms when something changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HuntsPush {
    /// Always `hunts`.
    pub push: String,
    /// The subscription it belongs to.
    pub subscription: u64,
    /// The journal sequence the counts include.
    pub as_of_seq: u64,
    /// More hunts exist than the push holds (at most 1000, in id order).
    pub truncated: bool,
    /// The hunts, in id order.
    pub hunts: Vec<HuntSummary>,
}

/// The journal in a [`StatsPush`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct JournalStats {
    /// Last durable sequence.
    pub durable_seq: u64,
    /// Last sequence appended (durable or not).
    pub last_seq: u64,
    /// The chain head to record: the last durable block.
    pub chain_head: ChainHead,
    /// The durability mode: `flush` or `strict`.
    pub durability: String,
}

/// `GET /v1/audit/head`: the chain head to record, as `trove audit verify
/// --head SEQ:HASH` takes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HeadReply {
    /// Always `true`.
    pub ok: bool,
    /// The last durable block's last sequence.
    pub seq: u64,
    /// Its hash, 64 hex digits (zeros for an empty journal).
    pub hash: String,
    /// `SEQ:HASH`, ready for `--head`.
    pub head: String,
}

/// A chain head: the last sequence of a block and the block's hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChainHead {
    /// The block's last sequence.
    pub seq: u64,
    /// Its hash, 64 hex digits (zeros for an empty journal).
    pub hash: String,
}

/// The last snapshot in a [`StatsPush`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SnapshotStats {
    /// The journal sequence it holds.
    pub seq: u64,
    /// Seconds since it was written.
    pub age_s: f64,
}

/// The last consistency check the server ran, with when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ConsistencyRun {
    /// When it finished, unix ms.
    pub at: i64,
    /// Its report.
    #[serde(flatten)]
    pub report: ConsistencyReport,
}

/// A push of the `stats` topic (`"push": "stats"`), every 500 ms. Rates
/// and latencies are over the interval since the previous push.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StatsPush {
    /// Always `stats`.
    pub push: String,
    /// The subscription it belongs to.
    pub subscription: u64,
    /// When it was sampled, unix ms.
    pub at: i64,
    /// Game events accepted per second.
    pub events_per_s: f64,
    /// Claims answered per second, by outcome (`granted` or the reason).
    pub claims_per_s: BTreeMap<String, f64>,
    /// Game events accepted since the server started.
    pub events_total: u64,
    /// Claims answered since the server started, by outcome.
    pub claims_total: BTreeMap<String, u64>,
    /// Median time from request to durable answer, in ms (`null`: no
    /// requests in the interval).
    pub ack_p50_ms: Option<f64>,
    /// 99th percentile of the same.
    pub ack_p99_ms: Option<f64>,
    /// Open WebSocket connections.
    pub connections: u64,
    /// Player actors resident in the engine.
    pub players_resident: u64,
    /// The journal.
    pub journal: JournalStats,
    /// The last snapshot, or `null` if none was written.
    pub snapshot: Option<SnapshotStats>,
    /// Readiness, as `GET /readyz` answers it.
    pub ready: Readiness,
    /// The last consistency check (at startup or `GET
    /// /v1/admin/consistency`), or `null` before the first.
    pub consistency: Option<ConsistencyRun>,
    /// Durable records the leaderboard and hunt counts have not applied.
    pub projection_lag: u64,
}
