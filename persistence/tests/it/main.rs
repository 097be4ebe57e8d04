//! Integration tests of trove-persistence: one binary for all of them.

mod audit;
mod corruption;
mod crash;
mod failstop;
mod formats;
mod lock;
mod log;
mod retention;
mod smoke;
