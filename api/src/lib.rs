//! # trove-api
//! (essay below)

mod audit_routes;
mod auth;
mod config;
mod error;
mod http;
mod ops;
mod redact;
mod server;
mod signals;
mod state;
mod stream;
pub mod tools;
mod wire;
mod ws;

pub use auth::KeyError;
pub use config::{ConfigError, ServeArgs, Settings};
pub use server::{serve, ServeError};
