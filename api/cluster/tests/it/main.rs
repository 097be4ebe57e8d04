//! Integration tests of `trove-cluster` against a real etcd (Debian
//! `etcd-server` 3.4 on the PATH): each test starts its own etcd member on
//! free loopback ports and a temporary data folder (`etcd.rs`).
//!
//! Without `etcd` the tests print "skipping: etcd not installed" and pass,
//! unless `TROVE_REQUIRE_CLUSTER=1` (CI), where they fail.

#![allow(missing_docs, unreachable_pub, reason = "a test crate: nothing here is public API")]

mod assign;
mod contention;
mod etcd;
mod fence;
mod join;
mod ledger;
mod ownership;
mod restart;
mod wants;
