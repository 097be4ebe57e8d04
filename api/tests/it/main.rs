//! Integration tests of the `trove` binary: each test starts the real server
//! on a temporary data folder and a free port and talks to it over sockets.

#![allow(missing_docs, unreachable_pub, reason = "a test crate: nothing here is public API")]

mod audit;
mod auth;
mod bad_input;
mod checkpoint;
mod client;
#[cfg(feature = "cluster")]
mod cluster;
mod console;
mod crash;
mod feed;
mod flows;
mod harness;
mod msgpack;
mod powercut;
mod retention;
