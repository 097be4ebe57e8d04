//! The scenarios, one module each, and [`run`], which dispatches the parsed
//! command line to one of them. The events, claims and memory scenarios run
//! on one actix System; recovery and report start their own for each part;
//! projection needs none (it drives the read model directly); wire runs
//! its own tokio runtime and drives a running server over the network.

mod all;
mod claims;
mod events;
mod memory;
mod projection;
mod recovery;
mod report;
mod wire;

use crate::cli::Scenario;
use crate::setup::run_in_system;
use anyhow::Result;

/// Runs the scenario the command line names.
pub(crate) fn run(scenario: Scenario) -> Result<()> {
    match scenario {
        Scenario::Events { common } => run_in_system(events::run(common)),
        Scenario::Claims { common, claims } => run_in_system(claims::run(common, claims)),
        Scenario::Memory { common, memory } => run_in_system(memory::run(common, memory)),
        Scenario::Recovery { common, recovery } => recovery::run(common, recovery),
        Scenario::Report { common, report } => report::run(common, report),
        Scenario::Projection { common, projection } => projection::run(&common, &projection),
        Scenario::Wire { wire } => wire::run(wire),
        Scenario::All { common, .. } => all::run(&common.args[1..]),
    }
}
