//! Integration tests of trove-engine: the claim contract, concurrency, events,
//! hunt definitions, fail-stop, restarts, and a model-based property test.
//! Every scenario ends by checking that the live state (`Engine::dump`) equals
//! a replay of the journal and that the state invariants hold.

// Test modules share helpers through `pub` items that no library exports.
#![allow(missing_docs, unreachable_pub)]

mod abandoned;
mod admission;
mod claims;
mod common;
mod concurrency;
mod events;
mod failstop;
mod hunts;
mod prop;
mod reads;
mod restart;
