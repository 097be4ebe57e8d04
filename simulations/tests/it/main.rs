//! trove-sim's integration tests: determinism, the invariant check against
//! planted faults, scenario validation, and a short live run against a real
//! `trove serve`.

mod common;
mod determinism;
mod invariants;
mod live;
mod report_html;
mod scenario;
