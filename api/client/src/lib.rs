//! # trove-client
//!
//! A Rust client of `trove serve`, over the types of `trove_protocol`.
//!
//! - [`Client`] is the WebSocket client (`GET /v1/ws`). One background task
//!   owns the socket; [`Client`] handles (cheap clones) send it requests and
//!   get [`Reply`] handles back. Typed ops: [`Client::events`],
//!   [`Client::claim`], [`Client::player`], [`Client::leaderboard`], and
//!   the subscriptions [`Client::subscribe_claims`] ([`ClaimsFeed`]) and
//!   [`Client::subscribe_leaderboard`] ([`LeaderboardFeed`]). Each request
//!   has an id, a timeout ([`Config::request_timeout`]) and an in-flight
//!   slot ([`Config::max_in_flight`], what happens when none is free is
//!   [`Admission`]).
//! - **Codec**: [`Config::codec`] picks the connection's encoding, JSON text
//!   frames ([`Codec::Json`](trove_protocol::Codec::Json), the default) or
//!   MessagePack binary frames
//!   ([`Codec::MessagePack`](trove_protocol::Codec::MessagePack), subprotocol
//!   `trove.v1.msgpack`); the typed API, reconnects, re-sent claims and
//!   feeds are the same with both.
//! - **Reconnects** are automatic, with [`Backoff`] (exponential, full
//!   jitter, capped). Requests in flight fail with
//!   [`ClientError::Disconnected`], except claims: they are re-sent after
//!   the reconnect with the same `claim_id`, so a claim's reply is the
//!   server's recorded decision (`duplicate: true` when the server had
//!   already decided it before the connection broke). Subscriptions are
//!   made again; the claims feed resumes after the last cursor it yielded
//!   ([`ClaimsFeed::cursor`]). A refused key is
//!   [`ClientError::Unauthorized`] and is never retried.
//! - **Pipelining**: [`Client::send`] (and [`Client::send_claim`],
//!   [`Client::send_events`]) return as soon as the request is queued; the
//!   [`Reply`] resolves later. An open-loop load generator sends many
//!   requests this way and awaits the replies elsewhere (spawned, or in a
//!   `FuturesUnordered`).
//! - [`HttpClient`] is the HTTP API, one method per endpoint, plus
//!   [`HttpClient::raw`] for arbitrary bytes and [`HttpClient::audit_export`]
//!   as a byte stream.
//! - [`ClusterClient`] is the client of a cluster (`trove serve --cluster`):
//!   it reads the partition map ([`HttpClient::cluster`]), sends each op to
//!   the owner of its player's partition over that owner's [`Client`],
//!   splits events batches by partition, follows `moved` answers and
//!   retries across failovers, and merges every partition's claims feed
//!   into one [`ClusterFeed`] with a [`VectorCursor`].
//! - [`ClientError`] is every failure; [`ClientError::code`] is the server's
//!   [`ErrorCode`](trove_protocol::ErrorCode) when it sent one, and
//!   [`ClientError::routing`] the whole error body of a cluster's routing
//!   answer (`moved`'s partition and owner URL).
//!
//! The crate knows the wire contract only through `trove_protocol`; it knows
//! nothing of the engine, the journal or the server's internals.
//!
//! ```no_run
//! use trove_client::{Client, HttpClient};
//! use trove_protocol::{ClaimRequest, ClaimStatus};
//!
//! # async fn run() -> Result<(), trove_client::ClientError> {
//! let http = HttpClient::new("http://127.0.0.1:8080", Some("designer-key"))?;
//! println!("{:?}", http.hunts().await?.hunts);
//!
//! let ws = Client::connect("ws://127.0.0.1:8080/v1/ws", "game-key").await?;
//! let claim = ClaimRequest {
//!     claim_id: "p1-mug-1".into(),
//!     player: "p1".into(),
//!     hunt: "h1".into(),
//!     sku: "mug".into(),
//!     customs: None,
//! };
//! // Pipelined: queue now, await later; survives a reconnect.
//! let pending = ws.send_claim(&claim).await?;
//! let reply = pending.await?;
//! assert!(matches!(reply.status, ClaimStatus::Granted | ClaimStatus::Rejected));
//!
//! let mut feed = ws.subscribe_claims(0).await?;
//! while let Some(push) = feed.next().await {
//!     let push = push?;
//!     println!("dispatch {} to {}; cursor {}", push.sku, push.player, feed.cursor());
//! }
//! # Ok(())
//! # }
//! ```

mod cluster;
mod driver;
mod error;
mod feed;
mod http;
mod reconnect;
mod ws;

pub use cluster::{ClusterClient, ClusterConfig, ClusterEventsReply, ClusterFeed, VectorCursor};
pub use error::{ClientError, PartitionError};
pub use feed::{ClaimsFeed, LeaderboardFeed};
pub use http::{HttpClient, RawResponse};
pub use reconnect::Backoff;
pub use ws::{Admission, Client, Config, Reply};
