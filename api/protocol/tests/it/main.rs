//! Integration tests of trove-protocol: the contract's documents agree with the types.
#![allow(missing_docs, unreachable_pub, reason = "an integration-test crate")]

mod docs;
mod msgpack;
mod openapi;
