//! trove-bench: throughput, latency, memory, recovery and report benchmarks
//! of the real engine on the real journal, with durable acknowledgements
//! (every ingest/claim returns only after its journal record is durable).
//!
//! ```text
//! cargo build --release -p trove-bench
//! target/release/trove-bench <scenario> [options]
//!   scenarios: events | claims | memory | recovery | report | projection | wire | all
//! ```
//!
//! Every scenario prints a human-readable report and one JSON line (starting
//! with `{"scenario":`) per measured phase; `--json-out FILE` also appends the
//! JSON lines to FILE. `--help` lists the options. See `docs/BENCHMARKS.md`.
//! Nothing is hard-coded: each PASS/MISS compares a measured number with its
//! target, and the targets sit at the top of each scenario's module.
//!
//! How it fits together:
//!
//! - [`cli`] parses the command line into a `Scenario`: one subcommand per
//!   scenario, each with the shared `Common` options flattened in plus its
//!   own (`ClaimsOpts`, `MemoryOpts`, `RecoveryOpts`, `ReportOpts`,
//!   `ProjectionOpts`); `wire` takes only its own `WireOpts`.
//! - [`scenario`] holds one module per scenario and dispatches to it. A
//!   scenario opens the engine through [`setup`] in a [`data_dir::DataDir`],
//!   drives load from [`workload`] (the hunt, names, the seeded generator)
//!   with the tasks in [`load`], and measures.
//! - A measured phase is a [`window::Window`]: it samples [`proc`] (CPU per
//!   process and thread, I/O, RSS), the journal metrics caught by
//!   [`recorder`], and optionally runs [`perf`]; latencies go into the
//!   histograms of [`hist`].
//! - [`emit`] prints the machine line and each result as one JSON line.
//!
//! The `wire` scenario is the exception to the in-process rule: it measures a
//! *running* `trove serve` from outside, over WebSocket through
//! `trove_client` (JSON or MessagePack), with an open-loop generator (pacer
//! threads hand each request with its intended send time to connection
//! tasks; latency counts from the intended time) or a closed loop shaped like
//! `redis-benchmark -c C`, and samples the server's CPU from /proc by pid.
//! `docs/bench/wire.sh` runs it against both durability modes next to Redis.
//!
//! Nothing in here reaches into the engine or the journal beyond their public
//! APIs (`trove_engine::Engine`, `trove_persistence::{open_engine, Archive,
//! read_journal, verify}`); the projection scenario drives
//! `trove_readmodel::state::ProjectionState` the way the server's refresh does.

mod cli;
mod data_dir;
mod emit;
mod hist;
mod load;
mod perf;
mod proc;
mod recorder;
mod scenario;
mod setup;
mod window;
mod workload;

fn main() {
    let cli = cli::Cli::from_env();
    metrics::set_global_recorder(recorder::BenchRecorder).expect("no other recorder");
    emit::print_machine();
    if let Err(e) = scenario::run(cli.scenario) {
        eprintln!("trove-bench: {e:#}");
        std::process::exit(1);
    }
}
