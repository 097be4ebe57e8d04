//! # trove-sim
//!
//! The hunt simulator. A designer writes a scenario (the hunt, its players,
//! how they behave) and learns before the hunt goes live how fast each
//! product sells out, how scores spread, what share of players can claim
//! anything, and whether the servers hold. See `docs/SIMULATIONS.md`.
//!
//! ## How a scenario flows
//!
//! 1. **Scenario.** [`Scenario::load`] or [`Scenario::parse`] reads a TOML
//!    file into typed serde structs and validates it field by field into a
//!    [`Scenario`] ([`scenario`]); every mistake is one [`ScenarioError`]
//!    naming the field.
//! 2. **Model.** A private player model turns the scenario and a seed into a
//!    plan per simulated second: arrivals, checkins, clue finds, claims,
//!    retries, lost requests. It draws from seeded streams only, so a seed
//!    fixes the plan.
//! 3. **Drivers.** [`run_in_process`] ([`inprocess`]) sends the plan
//!    through the real engine and journal on a virtual clock;
//!    [`montecarlo::run_monte_carlo`] repeats that over many seeds;
//!    [`live::run_live`] ([`live`]) sends it to a running `trove serve`. A
//!    private observer counts every answer; the invariant checks ([`Check`])
//!    compare those counts with the engine's state and its journal replay.
//! 4. **Report.** The observations become a [`Report`] ([`report`]), plain
//!    data; a Monte Carlo becomes a [`montecarlo::McReport`].
//! 5. **Rendering.** [`Report::write`] (and [`montecarlo::McReport::write`])
//!    writes `report.json`, the CSV files, the SVG charts (plotters) and
//!    `report.html` (maud, every piece of data escaped);
//!    [`Report::summary_text`] gives the lines the binary prints. Rendering
//!    depends on the report, never the reverse.
//!
//! A violated invariant is not an error: it is in the report
//! (`invariants.ok` is false), and the binary exits with status 2.
//! [`SimError`] is for runs that could not be carried out.
//!
//! ## Example
//!
//! ```
//! use trove_sim::{run_in_process, RunOptions, Scenario};
//!
//! let sc = Scenario::parse(
//!     r#"
//!     duration_secs = 20
//!     [hunt]
//!     id = "doc"
//!     clues = [ { id = "a", points = 10 } ]
//!     products = [ { sku = "pin", stock = 3 } ]
//!     [population]
//!     players = 20
//!     arrival = "at_open"
//!     "#,
//!     "doc.toml",
//! )?;
//! assert_eq!(sc.max_score(), 10);
//!
//! let out = run_in_process(&sc, 1, &RunOptions::default(), &mut |_, _| {})?;
//! assert!(out.report.invariants.ok, "{}", out.report.summary_text());
//! assert!(out.report.products[0].granted <= 3);
//! # Ok::<(), trove_sim::SimError>(())
//! ```

mod assemble;
mod error;
pub mod inprocess;
pub mod live;
mod model;
pub mod montecarlo;
mod observe;
mod render;
pub mod report;
mod rng;
pub mod scenario;

pub use error::SimError;
pub use inprocess::{run_in_process, RunOptions, RunOutput, Timing};
pub use observe::{Check, PlantedFault};
pub use report::Report;
pub use scenario::{Scenario, ScenarioError};
