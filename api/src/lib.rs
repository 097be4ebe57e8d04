//! # trove-api
//!
//! The network face of Trove: a WebSocket endpoint for game servers and
//! warehouse consumers, an HTTP API for designers, auditors and operators, and
//! the `trove` binary that runs them on top of the engine and its journal.
//!
//! - [`ws`]: `GET /v1/ws`, JSON requests with ids, pushes for subscriptions.
//! - [`http`]: the HTTP routes.
//! - [`ops`]: the operations both transports share.
//! - [`audit_routes`]: the `/v1/audit/export` and `/v1/audit/report` routes over `trove_audit`.
//! - `trove_readmodel` (its own crate): the leaderboard, a read model tailing
//!   the durable journal, its checkpoint and the consistency check.
//! - [`server`]: startup, readiness, background tasks, graceful shutdown.
//!
//! The wire protocol is in `docs/PROTOCOL.md`; running it in `docs/OPERATIONS.md`.

pub mod audit_routes;
pub mod auth;
pub mod config;
pub mod error;
pub mod http;
pub mod ops;
pub mod server;
pub mod signals;
pub mod state;
pub mod stream;
pub mod tools;
pub mod wire;
pub mod ws;

pub use config::{ServeArgs, Settings};
pub use error::ApiError;
pub use server::serve;
