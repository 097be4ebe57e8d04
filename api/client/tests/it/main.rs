//! trove-client against a scripted WebSocket server in the test process:
//! what the client sends after a lost connection, admission, timeouts, a
//! refused key; the cluster client following `moved` answers. (The api
//! crate's tests run it against the real server.)
#![allow(missing_docs, unreachable_pub, reason = "integration tests, not an API")]

mod cluster;
mod fake;
mod ws;
