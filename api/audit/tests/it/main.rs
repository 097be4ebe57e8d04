//! trove-audit's integration tests: exports of a real journal, read back.
#![allow(missing_docs, unreachable_pub, reason = "a test crate: nothing here is public API")]

mod codes;
mod csv_export;
mod journal;
mod verify;
