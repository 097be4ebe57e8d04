//! Integration tests of trove-persistence: one binary for all of them.

mod smoke;
