//! # trove-api
//!
//! The network face of Trove: the `trove` binary. `trove serve` runs a
//! WebSocket endpoint for game servers and warehouse consumers and an HTTP
//! API for designers, auditors and operators on top of the engine
//! (`trove_engine::Engine`) and its journal (`trove_persistence::Store`); the
//! other subcommands are offline tools over a stopped server's folder
//! ([`tools`]).
//!
//! This crate is a transport and a process. What crosses the wire is typed
//! in `trove_protocol` (requests, replies, pushes, error codes, the OpenAPI
//! document); the audit product (export, verify, report, claim trail) is
//! `trove_audit`; the leaderboard read model and the consistency check are
//! `trove_readmodel`. This crate does not parse JSON by hand, does not
//! format an export, and does not know the journal's bytes.
//!
//! The main types: [`Settings`] (what `trove serve` runs with, from
//! [`ServeArgs`], the environment and a config file) and [`serve`], which runs
//! until SIGINT or SIGTERM. Inside (all private):
//!
//! - `server`: startup, readiness, background tasks, graceful shutdown.
//! - `state`: `AppState`, shared by every handler; `AppState::enter` is the
//!   gate of every HTTP route (401, 403, 503 in that order).
//! - `http`: the routes of `trove_protocol::ROUTES`; `audit_routes`: the
//!   export and report routes over `trove_audit`; `params`: typed query
//!   strings.
//! - `ws`: `GET /v1/ws`, one reader, one writer and bounded tasks per
//!   connection.
//! - `ops`: the operations both transports share; `wire`: protocol types to
//!   engine types and back.
//! - `auth`: keys and roles; `config`: settings and their precedence;
//!   `redact`: TOML errors that never echo a key.
//! - `error`: `ApiError`, a stable code and its HTTP status; `stream`: a
//!   bounded streamed body; `signals`: SIGINT/SIGTERM.
//!
//! The wire protocol is in `docs/PROTOCOL.md`; running it in
//! `docs/OPERATIONS.md`.

mod audit_routes;
mod auth;
#[cfg(feature = "cluster")]
mod cluster;
#[cfg(feature = "cluster")]
pub use cluster::status::{status as cluster_status, StatusArgs as ClusterStatusArgs};
mod config;
mod console;
mod error;
mod folder;
mod http;
mod live;
mod ops;
mod params;
mod promtext;
mod redact;
mod route;
mod server;
mod signals;
mod state;
mod stream;
mod tickets;
pub mod tools;
mod topics;
mod wire;
mod ws;

pub use auth::KeyError;
pub use config::{ClusterSettings, ConfigError, ServeArgs, Settings};
pub use folder::ServeError;
pub use server::serve;
