//! Integration tests of trove-readmodel, through its public API only.
#![allow(missing_docs, unreachable_pub, reason = "a test crate: nothing here is an API")]

mod checkpoint;
mod ranking;
mod report;
