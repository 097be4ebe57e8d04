//! # trove-sim
//!
//! The hunt simulator. A designer writes a scenario (the hunt, its players,
//! how they behave, see [`scenario`]) and learns before the hunt goes live how
//! fast each product sells out, how scores spread, what share of players can
//! claim anything, and whether the servers hold.
//!
//! - [`inprocess`]: drives the real engine (actors, claim path, journal)
//!   on a virtual clock; deterministic for a seed.
//! - [`montecarlo`]: many seeds, summarized as mean, median, p5 and p95.
//! - [`live`]: drives a running `trove serve` over its WebSocket protocol as
//!   many game-server connections, open loop, with HdrHistogram latencies.
//! - [`report`], [`charts`], [`html`]: JSON, CSV, SVG and one HTML page.
//!
//! Every run ends with the invariant check ([`observe`] and the engine's
//! replay): no oversell, no claim granted twice, per-player limits held, the
//! journal replays to the live state. See `docs/SIMULATIONS.md`.

pub mod charts;
pub mod html;
pub mod inprocess;
pub mod live;
pub mod model;
pub mod montecarlo;
pub mod observe;
pub mod report;
pub mod rng;
pub mod scenario;

pub use inprocess::{run_in_process, RunOptions, RunOutput, Timing};
pub use observe::{Check, PlantedFault};
pub use report::Report;
pub use scenario::{Scenario, ScenarioError};

/// Why a run could not be carried out (a violated invariant is not an error:
/// it is in the report).
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error("storage: {0}")]
    Store(#[from] trove_persistence::StoreError),
    #[error("engine: {0}")]
    Engine(#[from] trove_engine::EngineError),
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
    #[error("live run: {0}")]
    Live(String),
    #[error("{0}")]
    Other(String),
}

impl SimError {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> SimError {
        SimError::Io {
            context: context.into(),
            source,
        }
    }
}
