//! # trove-protocol
//!
//! Trove's wire contract as Rust types: what game servers, designers,
//! auditors and operators send to `trove serve` and what it answers, over
//! the WebSocket (`GET /v1/ws`) and over HTTP. `docs/PROTOCOL.md` is the
//! prose; this crate is the same contract in types, and the OpenAPI document
//! the server publishes is generated from it.
//!
//! - [`game`]: the operations both transports share. Requests
//!   ([`EventsRequest`] of [`GameEvent`]s, [`ClaimRequest`],
//!   [`PlayerRequest`], [`LeaderboardRequest`]) and their replies
//!   ([`EventsReply`], [`ClaimReply`], [`PlayerReply`], [`LeaderboardReply`]).
//! - [`hunt`]: [`HuntDefinition`] as posted, [`HuntReply`] with its stock
//!   ledger, [`StockRequest`] and their answers.
//! - [`admin`]: [`ConsistencyReport`], snapshots, health, and the audit
//!   endpoints' query parameters ([`AuditClaimsParams`], [`ExportParams`],
//!   [`ReportParams`]) and answers.
//! - [`ws`]: the WebSocket envelope: a client's [`WsRequest`] (an id and an
//!   [`Op`]), [`WsReply`] / [`WsErrorReply`], and the pushes of
//!   subscriptions ([`ClaimPush`], [`LeaderboardPush`], [`ErrorPush`]).
//! - [`cluster`]: [`partition_of`] and the partition map [`ClusterMap`]
//!   of `GET /v1/cluster` (cluster mode, docs/CLUSTER.md).
//! - [`error`]: [`ErrorCode`], every code the server sends, and the
//!   [`ErrorBody`] / [`ErrorReply`] that carry it.
//! - [`parse`]: the server's side of reading requests: typed and borrowed
//!   (strings are `Cow<'a, str>` into the request's bytes, `customs` a
//!   `&RawValue`), with the precise codes of the contract (`invalid_json`,
//!   `invalid_request`, `invalid_event` with the event's index, ...).
//! - [`codec`]: [`Codec`], the encoding of a WebSocket connection, chosen
//!   with `Sec-WebSocket-Protocol`: JSON text frames (`trove.v1.json`, the
//!   default) or MessagePack binary frames (`trove.v1.msgpack`: maps with
//!   the same field names). It reads requests (with the codes of [`parse`])
//!   and writes replies, pushes and request [`Frame`]s.
//! - [`msgpack`]: reading MessagePack requests: a validating walk (one value
//!   of the JSON data model, else `invalid_json`), then typed, borrowed
//!   reads with the same codes as JSON.
//! - [`transcode`]: a document between JSON text and MessagePack, value by
//!   value (a claim's `customs` is stored as JSON text).
//! - [`customs`]: how a claim's `customs` document is stored and given back.
//! - [`time`]: times accepted as RFC 3339 or unix milliseconds.
//! - [`openapi()`]: the OpenAPI 3 document of the HTTP API, built with
//!   `utoipa` from the types above; [`ROUTES`] lists every route and method.
//!
//! Every type serializes and deserializes, in JSON and in MessagePack, so a
//! client writes requests and reads replies and pushes with the same types
//! the server uses (a [`ClaimRequest`] reads only from JSON: its `customs`
//! borrows the JSON text; the server reads MessagePack claims with
//! [`msgpack::claim`]). The crate
//! knows nothing of the engine, the journal or any transport library: the
//! server converts between these types and the engine's.
//!
//! ```
//! use trove_protocol::{parse, ClaimRequest, ErrorCode, Op, RequestId, WsRequest};
//!
//! // A client writes a request...
//! let req = WsRequest {
//!     id: RequestId::from(3u64),
//!     op: Op::Claim(ClaimRequest {
//!         claim_id: "p1-mug-1".into(),
//!         player: "p1".into(),
//!         hunt: "h1".into(),
//!         sku: "mug".into(),
//!         customs: None,
//!     }),
//! };
//! let text = serde_json::to_string(&req).unwrap();
//!
//! // ...the server reads its envelope, then its fields, borrowing from the text.
//! let env = parse::envelope(text.as_bytes()).unwrap();
//! assert_eq!(env.op, Ok(parse::OpName::Claim));
//! let (claim, customs) = parse::claim(text.as_bytes()).unwrap();
//! assert_eq!((&*claim.sku, customs.as_str()), ("mug", "{}"));
//!
//! // Bad input gets the contract's code.
//! let bad = parse::events(br#"{"events":[{"player":"p","hunt":"h","type":"dance"}]}"#, 10_000);
//! assert_eq!(bad.unwrap_err().code, ErrorCode::InvalidEvent);
//!
//! // And the OpenAPI document comes from the same types.
//! let doc = trove_protocol::openapi();
//! assert!(doc.paths.paths.contains_key("/v1/claims"));
//! ```

pub mod admin;
pub mod cluster;
pub mod codec;
pub mod customs;
pub mod error;
pub mod game;
pub mod hunt;
pub mod live;
pub mod msgpack;
mod openapi;
pub mod parse;
pub mod time;
pub mod transcode;
pub mod ws;

pub use admin::{
    AuditClaim, AuditClaimsPage, AuditClaimsParams, AuditReport, AuditStatus, ClaimCount, ConsistencyCheck,
    ConsistencyReport, EventCount, ExportFormat, ExportParams, Health, Readiness, ReportParams, SnapshotReply,
};
pub use cluster::{partition_of, ClusterMap, NodeInfo, PartitionOwner};
pub use codec::{Codec, CodecError, Fields, Frame, UnsupportedSubprotocol};
pub use error::{ErrorBody, ErrorCode, ErrorReply};
pub use game::{
    ClaimReply, ClaimRequest, ClaimStatus, EventKind, EventsReply, EventsRequest, GameEvent, LeaderboardEntry,
    LeaderboardParams, LeaderboardReply, LeaderboardRequest, PlayerClaim, PlayerClaimStatus, PlayerReply,
    PlayerRequest, RejectReason, Seq,
};
pub use hunt::{
    ClueDefinition, ClueReply, DefineHuntReply, HuntDefinition, HuntList, HuntReply, ProductDefinition, ProductLedger,
    StockReply, StockRequest,
};
pub use live::{
    ChainHead, ConsistencyRun, HeadReply, HuntSummary, HuntsPush, JournalStats, ProductSummary, RejectCounts,
    SnapshotStats, StatsPush, WhoAmI, WsTicket,
};
pub use openapi::{openapi, ROUTES};
pub use time::{Millis, Time};
pub use ws::{
    ClaimPush, ErrorPush, LeaderboardPush, Op, RequestId, SubscribeReply, SubscribeRequest, UnsubscribeReply,
    UnsubscribeRequest, WsErrorReply, WsParams, WsReply, WsRequest,
};
