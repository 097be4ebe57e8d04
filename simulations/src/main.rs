//! `trove-sim`: run a hunt scenario before it goes live.
//!
//! Exit status: 0 when the run finished and every invariant held, 2 when an
//! invariant was violated (the report says which), 1 on any other error
//! (a bad scenario, an unreachable server, ...).

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;
use trove_sim::inprocess::RunOptions;
use trove_sim::live::{run_live, LiveOptions};
use trove_sim::montecarlo::run_monte_carlo;
use trove_sim::{run_in_process, PlantedFault, Scenario};

#[derive(Parser)]
#[command(
    name = "trove-sim",
    version,
    about = "Simulate a Trove treasure hunt: in-process on a virtual clock, as Monte Carlo, or against a live server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario in-process through the real engine on a virtual clock.
    Run(RunArgs),
    /// Drive a running `trove serve` with the scenario's players (load test).
    Load(LoadArgs),
    /// Check a scenario file and print what it describes.
    Check {
        /// Scenario file (TOML)
        scenario: PathBuf,
    },
}

#[derive(Args)]
struct Common {
    /// Folder for report.json, the CSV files, the SVG charts and report.html
    #[arg(long, short, value_name = "DIR", default_value = "sim-report")]
    out: PathBuf,
    /// Seed (overrides the scenario's)
    #[arg(long)]
    seed: Option<u64>,
    /// No progress bar, no summary on stdout
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Args)]
struct RunArgs {
    /// Scenario file (TOML)
    scenario: PathBuf,
    /// Monte Carlo: run this many seeds (seed, seed+1, ...) and summarize
    #[arg(long, value_name = "N")]
    runs: Option<usize>,
    /// Keep the engine's data folder (journal) here; it must be new or empty
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Engine shards [default: one per core]
    #[arg(long, value_name = "N")]
    shards: Option<usize>,
    /// Tests only: plant a violation (double-grant, oversell, limit, replay)
    #[arg(long, hide = true, value_name = "KIND")]
    plant_fault: Option<PlantedFault>,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct LoadArgs {
    /// Scenario file (TOML)
    scenario: PathBuf,
    /// The server's WebSocket URL, e.g. ws://127.0.0.1:8787/v1/ws
    #[arg(long)]
    url: String,
    /// API key for the WebSocket (game or admin role)
    #[arg(long, env = "TROVE_SIM_KEY", hide_env_values = true)]
    key: String,
    /// Key to define the hunt and restock (designer or admin) [default: --key]
    #[arg(long, env = "TROVE_SIM_DESIGN_KEY", hide_env_values = true)]
    design_key: Option<String>,
    /// Key for the server's consistency check (admin) [default: --key]
    #[arg(long, env = "TROVE_SIM_ADMIN_KEY", hide_env_values = true)]
    admin_key: Option<String>,
    /// Game-server connections
    #[arg(long, default_value_t = 8)]
    connections: usize,
    /// WebSocket encoding: JSON text frames, or MessagePack binary frames
    /// (subprotocol trove.v1.msgpack)
    #[arg(long, value_enum, default_value_t = Protocol::Json)]
    protocol: Protocol,
    /// Most events per request
    #[arg(long, default_value_t = 200)]
    batch: usize,
    /// Run only the first SECS seconds of the scenario
    #[arg(long, value_name = "SECS")]
    duration: Option<u32>,
    /// Hunt id on the server [default: <scenario hunt id>-<unix seconds>]
    #[arg(long, value_name = "ID")]
    hunt_id: Option<String>,
    /// Seconds to wait for outstanding answers after the last send
    #[arg(long, default_value_t = 10)]
    drain_secs: u64,
    #[command(flatten)]
    common: Common,
}

/// `--protocol`: the WebSocket encoding of the game-server connections.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum Protocol {
    /// JSON text frames (no subprotocol; the server's default)
    Json,
    /// MessagePack binary frames (subprotocol trove.v1.msgpack)
    Msgpack,
}

impl From<Protocol> for trove_protocol::Codec {
    fn from(p: Protocol) -> Self {
        match p {
            Protocol::Json => trove_protocol::Codec::Json,
            Protocol::Msgpack => trove_protocol::Codec::MessagePack,
        }
    }
}

fn progress_bar(quiet: bool, total: u64, what: &str) -> Option<ProgressBar> {
    if quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let pb = ProgressBar::new(total);
    pb.set_style(
        ProgressStyle::with_template(&format!(
            "{{spinner}} {what} [{{elapsed_precise}}] {{wide_bar}} {{pos}}/{{len}} s (eta {{eta}}) {{msg}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    pb.enable_steady_tick(Duration::from_millis(250));
    Some(pb)
}

fn print_files(quiet: bool, dir: &Path, files: &[String]) {
    if !quiet {
        println!(
            "  wrote {} files to {}: open {}",
            files.len(),
            dir.display(),
            dir.join("report.html").display()
        );
    }
}

fn run(cli: Cli) -> anyhow::Result<bool> {
    match cli.command {
        Command::Check { scenario } => check(&scenario),
        Command::Run(args) => match args.runs {
            Some(runs) => monte_carlo(args, runs),
            None => run_once(args),
        },
        Command::Load(args) => load(args),
    }
}

/// `trove-sim check`: validate a scenario and say what it describes.
fn check(scenario: &Path) -> anyhow::Result<bool> {
    let sc = Scenario::load(scenario)?;
    println!("{}: ok", scenario.display());
    println!(
        "  {:?}: {} players over {} s; hunt {:?} open {}..{} s, {} clues (max score {}), {} products, {} restocks",
        sc.name,
        sc.population.players,
        sc.duration_secs,
        sc.hunt.id,
        sc.hunt.opens_at_secs,
        sc.hunt.closes_at_secs,
        sc.hunt.clues.len(),
        sc.max_score(),
        sc.hunt.products.len(),
        sc.hunt.restocks.len()
    );
    Ok(true)
}

/// The in-process options of `trove-sim run`.
fn run_options(args: &RunArgs) -> RunOptions {
    RunOptions {
        data_dir: args.data.clone(),
        shards: args.shards,
        fault: args.plant_fault,
    }
}

/// `trove-sim run --runs N`: a Monte Carlo.
fn monte_carlo(args: RunArgs, runs: usize) -> anyhow::Result<bool> {
    let sc = Scenario::load(&args.scenario)?;
    let seed = args.common.seed.unwrap_or(sc.seed);
    let opts = run_options(&args);
    let quiet = args.common.quiet;
    anyhow::ensure!(runs >= 1, "--runs must be at least 1");
    anyhow::ensure!(
        args.data.is_none() || runs == 1,
        "--data keeps one run's journal; it cannot be used with --runs above 1"
    );
    let total = u64::from(sc.duration_secs) * runs as u64;
    let pb = progress_bar(quiet, total, "simulating");
    let out = run_monte_carlo(&sc, seed, runs, &opts, &mut |done, _| {
        if let Some(pb) = &pb {
            pb.set_position(done);
        }
    })?;
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    let files = out
        .report
        .write(&args.common.out)
        .with_context(|| format!("write the report to {}", args.common.out.display()))?;
    if !quiet {
        print!("{}", out.report.summary_text());
        print_files(quiet, &args.common.out, &files);
    }
    eprintln!(
        "trove-sim: {runs} runs in {:.1} s wall ({:.0} simulated player-seconds per wall second)",
        out.wall_secs,
        out.player_secs as f64 / out.wall_secs.max(1e-9)
    );
    Ok(out.report.invariants_ok)
}

/// `trove-sim run`: one in-process run.
fn run_once(args: RunArgs) -> anyhow::Result<bool> {
    let sc = Scenario::load(&args.scenario)?;
    let seed = args.common.seed.unwrap_or(sc.seed);
    let opts = run_options(&args);
    let quiet = args.common.quiet;
    let pb = progress_bar(quiet, u64::from(sc.duration_secs), "simulating");
    let out = run_in_process(&sc, seed, &opts, &mut |done, total| {
        if let Some(pb) = &pb {
            pb.set_position(u64::from(done));
            if done == total {
                pb.set_message("checking invariants (replaying the journal)");
            }
        }
    })?;
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    let files = out
        .report
        .write(&args.common.out)
        .with_context(|| format!("write the report to {}", args.common.out.display()))?;
    let timing = serde_json::to_string_pretty(&out.timing)? + "\n";
    std::fs::write(args.common.out.join("timing.json"), timing)
        .with_context(|| format!("write timing.json to {}", args.common.out.display()))?;
    if !quiet {
        print!("{}", out.report.summary_text());
        print_files(quiet, &args.common.out, &files);
    }
    let t = &out.timing;
    eprintln!(
                "trove-sim: {:.1} s wall ({:.1} s simulating, {:.1} s verifying); {} simulated player-seconds = {:.0} per wall second; engine: {} events, {} claims, {} journal records",
                t.wall_secs, t.simulate_secs, t.verify_secs, t.simulated_player_secs, t.player_secs_per_wall_sec, t.engine_events, t.engine_claims, t.journal_records
            );
    report_violations(&out.report);
    Ok(out.report.invariants.ok)
}

/// `trove-sim load`: drive a live server.
fn load(args: LoadArgs) -> anyhow::Result<bool> {
    let sc = Scenario::load(&args.scenario)?;
    let seed = args.common.seed.unwrap_or(sc.seed);
    let quiet = args.common.quiet;
    let opts = LiveOptions {
        url: args.url,
        key: args.key,
        design_key: args.design_key,
        admin_key: args.admin_key,
        connections: args.connections,
        codec: args.protocol.into(),
        batch: args.batch,
        duration: args.duration,
        hunt_id: args.hunt_id,
        drain: Duration::from_secs(args.drain_secs),
        seed,
    };
    let total = args.duration.unwrap_or(sc.duration_secs).min(sc.duration_secs);
    let pb = progress_bar(quiet, u64::from(total), "load");
    let report = run_live(&sc, &opts, &mut |done, _| {
        if let Some(pb) = &pb {
            pb.set_position(u64::from(done));
        }
    })?;
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    let files = report
        .write(&args.common.out)
        .with_context(|| format!("write the report to {}", args.common.out.display()))?;
    if !quiet {
        print!("{}", report.summary_text());
        print_files(quiet, &args.common.out, &files);
    }
    report_violations(&report);
    Ok(report.invariants.ok)
}

fn report_violations(report: &trove_sim::Report) {
    for c in report.invariants.failed() {
        eprintln!("trove-sim: INVARIANT VIOLATED: {}: {}", c.name, c.detail);
    }
}

fn main() {
    let cli = Cli::parse();
    match run(cli) {
        Ok(true) => {}
        Ok(false) => std::process::exit(2),
        Err(e) => {
            eprintln!("trove-sim: {e:#}");
            std::process::exit(1);
        }
    }
}
