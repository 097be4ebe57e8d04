//! trove-sim's integration tests: determinism, the invariant check against
//! planted faults, scenario validation, and a short live run against a real
//! `trove serve`.

#![allow(
    missing_docs,
    unreachable_pub,
    reason = "a test crate: helpers are shared between its modules, not an API"
)]

mod common;
mod determinism;
mod invariants;
mod live;
mod report_html;
mod scenario;
