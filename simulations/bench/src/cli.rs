//! Command-line options: one subcommand per scenario, the options every
//! scenario shares in [`Common`], and value parsers that keep the benchmark's
//! input checks (numbers may carry `_` separators, counts are at least 1,
//! `--batch` is at most the engine's `MAX_BATCH_EVENTS`).

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::str::FromStr;
use trove_engine::limits::MAX_BATCH_EVENTS;

/// Throughput, latency, memory and recovery benchmarks of the real engine on
/// the real journal, with durable acknowledgements. Every scenario prints a
/// human-readable report and one JSON line (starting with `{"scenario":`)
/// per measured phase. See docs/BENCHMARKS.md.
#[derive(Debug, Parser)]
#[command(name = "trove-bench", arg_required_else_help = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) scenario: Scenario,
}

/// One subcommand per scenario.
#[derive(Debug, Subcommand)]
pub(crate) enum Scenario {
    /// Sustained durable ingest (target >= 1,000,000 events/s).
    Events {
        #[command(flatten)]
        common: Common,
    },
    /// Claims under paced concurrent ingest (target >= 20,000 claims/s, p99 <= 2 ms).
    Claims {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        claims: ClaimsOpts,
    },
    /// RSS per resident player (target <= 2 KB/player).
    Memory {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        memory: MemoryOpts,
    },
    /// Reopen from snapshot (target <= 5 s) and full replay rate (target >= 3M records/s).
    Recovery {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        recovery: RecoveryOpts,
    },
    /// Audit report over a one-hour window of per-second rollups (target <= 50 ms).
    Report {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        report: ReportOpts,
    },
    /// The leaderboard projection alone: ns per applied journal record and
    /// publish time (no target; issue 11).
    Projection {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        projection: ProjectionOpts,
    },
    /// Over the wire: open-loop (or closed-loop) claims and events against a
    /// running `trove serve`, over WebSocket (target >= 20,000 claims/s, p99 <= 2 ms).
    Wire {
        #[command(flatten)]
        wire: WireOpts,
    },
    /// Runs events, claims, memory and recovery, each in its own process, with
    /// the given options (each gets the options it takes).
    All {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        claims: ClaimsOpts,
        #[command(flatten)]
        memory: MemoryOpts,
        #[command(flatten)]
        recovery: RecoveryOpts,
    },
}

impl Scenario {
    /// Where the command line is recorded for the JSON lines.
    fn args_mut(&mut self) -> &mut Vec<String> {
        match self {
            Scenario::Wire { wire } => &mut wire.args,
            Scenario::Events { common }
            | Scenario::Claims { common, .. }
            | Scenario::Memory { common, .. }
            | Scenario::Recovery { common, .. }
            | Scenario::Report { common, .. }
            | Scenario::Projection { common, .. }
            | Scenario::All { common, .. } => &mut common.args,
        }
    }
}

impl Cli {
    /// Parses the process's arguments (exits with usage on bad input) and
    /// records them for the JSON lines' `args` field.
    pub(crate) fn from_env() -> Cli {
        let mut cli = Cli::parse();
        *cli.scenario.args_mut() = std::env::args().skip(1).collect();
        cli
    }
}

/// Options every scenario takes.
#[derive(Clone, Debug, Args)]
pub(crate) struct Common {
    /// Data folder (default: fresh temp dir under /tmp, removed at the end).
    #[arg(long, value_name = "DIR")]
    pub(crate) data: Option<PathBuf>,
    /// Keep the data folder.
    #[arg(long)]
    pub(crate) keep: bool,
    /// Players in the hunt.
    #[arg(long, value_name = "N", default_value = "200000", value_parser = count)]
    pub(crate) players: usize,
    /// Clues in the hunt.
    #[arg(long, value_name = "N", default_value = "50", value_parser = count)]
    pub(crate) clues: usize,
    /// Products with large stock (+1 sold out).
    #[arg(long, value_name = "N", default_value = "100", value_parser = count)]
    pub(crate) products: usize,
    /// Concurrent ingest tasks.
    #[arg(long, value_name = "K", default_value = "8", value_parser = count)]
    pub(crate) tasks: usize,
    /// Events per ingest batch (at most the engine's MAX_BATCH_EVENTS).
    #[arg(long, value_name = "B", default_value = "1000", value_parser = batch)]
    pub(crate) batch: usize,
    /// Measured duration (per phase), seconds.
    #[arg(long, value_name = "SECS", default_value = "20", value_parser = num::<f64>)]
    pub(crate) duration: f64,
    /// Rng seed.
    #[arg(long, value_name = "S", default_value = "42", value_parser = num::<u64>)]
    pub(crate) seed: u64,
    /// Engine shards (default: EngineConfig::default(), = nproc).
    #[arg(long, value_name = "N", value_parser = num::<usize>)]
    pub(crate) shards: Option<usize>,
    /// DurabilityMode::Strict (fdatasync) instead of the default Flush.
    #[arg(long)]
    pub(crate) strict: bool,
    /// StoreOptions::commit_interval in microseconds (default 200).
    #[arg(long, value_name = "N", value_parser = num::<u64>)]
    pub(crate) commit_interval_us: Option<u64>,
    /// Run `perf record -e cpu-clock -g` on this process during the measured
    /// window(s) and print the top functions (events, claims).
    #[arg(long, value_name = "FILE")]
    pub(crate) perf: Option<PathBuf>,
    /// Also append the JSON result lines to FILE.
    #[arg(long, value_name = "FILE")]
    pub(crate) json_out: Option<PathBuf>,
    /// Claim tasks (claims: closed loop; memory and recovery: the build).
    #[arg(long, value_name = "C", default_value = "64", value_parser = count)]
    pub(crate) claim_tasks: usize,
    /// Share of claims aimed at the sold-out product (claims, recovery, report).
    #[arg(long, value_name = "F", default_value = "0.05", value_parser = num::<f64>)]
    pub(crate) soldout_share: f64,
    /// The command line after the program name, for the JSON lines.
    #[arg(skip)]
    pub(crate) args: Vec<String>,
}

/// How claims are offered in the claims scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum ClaimMode {
    /// Closed loop only.
    Closed,
    /// Open loop only.
    Open,
    /// Closed loop, then open loop.
    Both,
}

/// Options of the claims scenario.
#[derive(Clone, Debug, Args)]
pub(crate) struct ClaimsOpts {
    /// Paced (open-loop) ingest rate during claims, events/s.
    #[arg(long, value_name = "R", default_value = "300000", value_parser = num::<f64>)]
    pub(crate) ingest_rate: f64,
    /// Open-loop claim rate, claims/s.
    #[arg(long, value_name = "R", default_value = "20000", value_parser = num::<f64>)]
    pub(crate) claim_rate: f64,
    /// Closed, open or both.
    #[arg(long, value_name = "M", default_value = "both")]
    pub(crate) claim_mode: ClaimMode,
}

/// The WebSocket encoding of the wire scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum WireProtocol {
    /// JSON text frames (no subprotocol).
    Json,
    /// MessagePack binary frames (subprotocol `trove.v1.msgpack`).
    Msgpack,
}

/// How the wire scenario offers claims.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum WireClaimMode {
    /// Paced at `--claim-rate`, latency from the intended send time.
    Open,
    /// Each connection keeps `--in-flight` claims outstanding, back-to-back.
    Closed,
}

/// Options of the wire scenario (a running `trove serve`, over WebSocket).
#[derive(Clone, Debug, Args)]
pub(crate) struct WireOpts {
    /// The server's WebSocket endpoint.
    #[arg(long, value_name = "URL", default_value = "ws://127.0.0.1:8787/v1/ws")]
    pub(crate) url: String,
    /// The server's HTTP base [default: from --url].
    #[arg(long, value_name = "URL")]
    pub(crate) http: Option<String>,
    /// Key for the WebSocket (a game or admin key).
    #[arg(long, value_name = "KEY")]
    pub(crate) key: String,
    /// Key allowed to define hunts (designer or admin) [default: --key].
    #[arg(long, value_name = "KEY")]
    pub(crate) design_key: Option<String>,
    /// WebSocket encoding.
    #[arg(long, value_name = "P", default_value = "json")]
    pub(crate) protocol: WireProtocol,
    /// Measured duration, seconds.
    #[arg(long, value_name = "SECS", default_value = "15", value_parser = num::<f64>)]
    pub(crate) duration: f64,
    /// Open-loop claim rate, claims/s (0: no claims; closed mode ignores it
    /// unless it is 0).
    #[arg(long, value_name = "R", default_value = "20000", value_parser = num::<f64>)]
    pub(crate) claim_rate: f64,
    /// Connections carrying claims.
    #[arg(long, value_name = "C", default_value = "8", value_parser = count)]
    pub(crate) claim_connections: usize,
    /// Open: paced at --claim-rate; closed: --in-flight claims per connection, back-to-back.
    #[arg(long, value_name = "M", default_value = "open")]
    pub(crate) claim_mode: WireClaimMode,
    /// Closed mode: claims outstanding per connection (redis-benchmark -c C has 1).
    #[arg(long, value_name = "K", default_value = "1", value_parser = count)]
    pub(crate) in_flight: usize,
    /// Open-loop event rate, events/s (0: no events).
    #[arg(long, value_name = "E", default_value = "0", value_parser = num::<f64>)]
    pub(crate) event_rate: f64,
    /// Connections carrying event batches.
    #[arg(long, value_name = "M", default_value = "4", value_parser = count)]
    pub(crate) event_connections: usize,
    /// Events per `events` request (at most the engine's MAX_BATCH_EVENTS).
    #[arg(long, value_name = "B", default_value = "1000", value_parser = batch)]
    pub(crate) batch: usize,
    /// Players (`p0` .. `p{N-1}`) the claims and events pick from.
    #[arg(long, value_name = "N", default_value = "200000", value_parser = count)]
    pub(crate) players: usize,
    /// Requests in flight per connection at most, open loop (the server's
    /// limit is 64); a request due while none is free waits in the client.
    #[arg(long, value_name = "N", default_value = "64", value_parser = count)]
    pub(crate) max_in_flight: usize,
    /// After the window, wait this long for outstanding answers; the ones
    /// still missing count as lost.
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = num::<f64>)]
    pub(crate) drain: f64,
    /// Open loop: a pacer wakes at most once per N microseconds and sends
    /// every request due by then (0: wakes at each request's time; fewer
    /// wakes cost less CPU, and add up to N us of send lag, which counts
    /// in the latency from the intended send time).
    #[arg(long, value_name = "N", default_value = "0", value_parser = num::<u64>)]
    pub(crate) pace_quantum_us: u64,
    /// Runtime worker threads of the load generator.
    #[arg(long, value_name = "N", default_value = "2", value_parser = count)]
    pub(crate) threads: usize,
    /// Sample the CPU (utime + stime) of this process (the server) over the
    /// window and report it per operation.
    #[arg(long, value_name = "PID", value_parser = num::<u32>)]
    pub(crate) server_pid: Option<u32>,
    /// Also append the JSON result line to FILE.
    #[arg(long, value_name = "FILE")]
    pub(crate) json_out: Option<PathBuf>,
    /// Rng seed.
    #[arg(long, value_name = "S", default_value = "42", value_parser = num::<u64>)]
    pub(crate) seed: u64,
    /// A label for the JSON line (e.g. the server's durability mode).
    #[arg(long, value_name = "TEXT", default_value = "")]
    pub(crate) label: String,
    /// The command line after the program name, for the JSON line.
    #[arg(skip)]
    pub(crate) args: Vec<String>,
}

/// Options of the memory scenario.
#[derive(Clone, Debug, Args)]
pub(crate) struct MemoryOpts {
    /// Events per player.
    #[arg(long, value_name = "N", default_value = "5", value_parser = num::<usize>)]
    pub(crate) events_per_player: usize,
    /// Claims per player.
    #[arg(long, value_name = "N", default_value = "1", value_parser = num::<usize>)]
    pub(crate) claims_per_player: usize,
}

/// Options of the recovery scenario.
#[derive(Clone, Debug, Args)]
pub(crate) struct RecoveryOpts {
    /// Journaled events to build.
    #[arg(long, value_name = "N", default_value = "50000000", value_parser = num::<u64>)]
    pub(crate) events: u64,
    /// Events journaled after the snapshot [default: min(events/20, 1000000)].
    #[arg(long, value_name = "N", value_parser = num::<u64>)]
    pub(crate) tail: Option<u64>,
    /// Claims journaled during the build.
    #[arg(long, value_name = "N", default_value = "20000", value_parser = num::<u64>)]
    pub(crate) build_claims: u64,
    /// Skip the build, measure reopen/replay on an existing folder.
    #[arg(long, value_name = "DIR")]
    pub(crate) reuse: Option<PathBuf>,
    /// Also time trove_persistence::verify(DIR) (slow: replays twice).
    #[arg(long)]
    pub(crate) verify: bool,
    /// Sync + drop the OS page cache before each measurement (needs root).
    #[arg(long)]
    pub(crate) drop_caches: bool,
}

/// Options of the report scenario.
#[derive(Clone, Debug, Args)]
pub(crate) struct ReportOpts {
    /// Seconds of journal to build, one clock second per step.
    #[arg(long, value_name = "N", default_value = "3600", value_parser = num::<u64>)]
    pub(crate) seconds: u64,
    /// Claims per second (events per second: --batch).
    #[arg(long, value_name = "N", default_value = "100", value_parser = num::<usize>)]
    pub(crate) claims_per_second: usize,
    /// Report over N seconds in the middle of the build (0: all of it).
    #[arg(long, value_name = "N", default_value = "0", value_parser = num::<u64>)]
    pub(crate) window_secs: u64,
    /// Skip the build, report over the whole journal of DIR.
    #[arg(long, value_name = "DIR")]
    pub(crate) reuse: Option<PathBuf>,
}

/// Options of the projection scenario (which also takes `--players`,
/// `--clues`, `--seed` and `--json-out`).
#[derive(Clone, Debug, Args)]
pub(crate) struct ProjectionOpts {
    /// Events per player (about a third of them find a clue).
    #[arg(long, value_name = "N", default_value = "3", value_parser = count)]
    pub(crate) events_per_player: usize,
    /// Hunts the players are spread over (player i plays hunt i mod N).
    #[arg(long, value_name = "N", default_value = "1", value_parser = count)]
    pub(crate) hunts: usize,
    /// Records applied between two publications (40000 = one 200 ms refresh
    /// at 200k events/s).
    #[arg(long, value_name = "N", default_value = "40000", value_parser = count)]
    pub(crate) refresh_every: usize,
    /// Times the whole sequence is applied to a fresh projection.
    #[arg(long, value_name = "N", default_value = "3", value_parser = count)]
    pub(crate) runs: usize,
}

/// A number, `_` separators allowed (`50_000_000`).
fn num<T: FromStr>(s: &str) -> Result<T, String> {
    let v = s.replace('_', "");
    v.parse().map_err(|_| format!("cannot parse {v:?}"))
}

/// A count of at least 1.
fn count(s: &str) -> Result<usize, String> {
    match num(s)? {
        0 => Err("counts must be at least 1".into()),
        n => Ok(n),
    }
}

/// A batch size: a count of at most the engine's batch limit.
fn batch(s: &str) -> Result<usize, String> {
    match count(s)? {
        n if n > MAX_BATCH_EVENTS => Err(format!("--batch at most {MAX_BATCH_EVENTS}")),
        n => Ok(n),
    }
}

/// The arguments of `all` (after the scenario name) that `scenario` takes,
/// in their order: `all` takes every option of the scenarios it runs, and
/// each one gets its own.
pub(crate) fn child_args(scenario: &str, raw: &[String]) -> Vec<String> {
    let cmd = Cli::command();
    let find = |name: &str| cmd.find_subcommand(name).expect("known subcommand");
    let (all, child) = (find("all"), find(scenario));
    let takes_value = |cmd: &clap::Command, long: &str| {
        cmd.get_arguments()
            .find(|a| a.get_long() == Some(long))
            .map(|a| a.get_action().takes_values())
    };
    let mut out = Vec::new();
    let mut it = raw.iter();
    while let Some(arg) = it.next() {
        let Some(flag) = arg.strip_prefix("--") else {
            out.push(arg.clone());
            continue;
        };
        let (long, inline) = flag.split_once('=').map_or((flag, false), |(l, _)| (l, true));
        let keep = takes_value(child, long).is_some();
        let value = if takes_value(all, long).unwrap_or(false) && !inline {
            it.next()
        } else {
            None
        };
        if keep {
            out.push(arg.clone());
            out.extend(value.cloned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("trove-bench").chain(line.split_whitespace()))
    }

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let Scenario::All {
            common: c,
            claims,
            memory,
            recovery,
        } = parse("all").unwrap().scenario
        else {
            panic!("all");
        };
        assert_eq!(
            (c.players, c.clues, c.products, c.tasks, c.batch, c.seed, c.claim_tasks),
            (200_000, 50, 100, 8, 1000, 42, 64)
        );
        assert_eq!((c.duration, c.soldout_share), (20.0, 0.05));
        assert_eq!(
            (c.shards, c.commit_interval_us, c.strict, c.keep),
            (None, None, false, false)
        );
        assert_eq!((claims.ingest_rate, claims.claim_rate), (300_000.0, 20_000.0));
        assert_eq!(claims.claim_mode, ClaimMode::Both);
        assert_eq!((memory.events_per_player, memory.claims_per_player), (5, 1));
        assert_eq!(
            (recovery.events, recovery.tail, recovery.build_claims),
            (50_000_000, None, 20_000)
        );
        let Scenario::Report { report, .. } = parse("report").unwrap().scenario else {
            panic!("report");
        };
        assert_eq!(
            (report.seconds, report.claims_per_second, report.window_secs),
            (3600, 100, 0)
        );
        let Scenario::Projection { projection: p, .. } = parse("projection").unwrap().scenario else {
            panic!("projection");
        };
        assert_eq!(
            (p.events_per_player, p.hunts, p.refresh_every, p.runs),
            (3, 1, 40_000, 3)
        );
    }

    #[test]
    fn wire_defaults() {
        let Scenario::Wire { wire: w } = parse("wire --key k").unwrap().scenario else {
            panic!("wire");
        };
        assert_eq!(w.url, "ws://127.0.0.1:8787/v1/ws");
        assert_eq!(
            (w.claim_rate, w.event_rate, w.duration, w.drain),
            (20_000.0, 0.0, 15.0, 5.0)
        );
        assert_eq!(
            (
                w.claim_connections,
                w.event_connections,
                w.in_flight,
                w.batch,
                w.players,
                w.max_in_flight
            ),
            (8, 4, 1, 1000, 200_000, 64)
        );
        assert_eq!((w.protocol, w.claim_mode), (WireProtocol::Json, WireClaimMode::Open));
    }

    /// Every `` `$B ...` `` / `` `trove-bench ...` `` command recorded in the
    /// docs parses.
    #[test]
    fn recorded_commands_parse() {
        let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs");
        let mut found = 0;
        for file in ["BENCHMARKS.md", "AUDIT.md"] {
            let text = std::fs::read_to_string(docs.join(file)).unwrap();
            let text = text.replace("```", "").replace('\n', " ");
            for span in text.split('`').skip(1).step_by(2) {
                let Some(line) = span.strip_prefix("$B ").or_else(|| span.strip_prefix("trove-bench ")) else {
                    continue;
                };
                if let Err(e) = parse(line) {
                    panic!("{file}: {line}: {e}");
                }
                found += 1;
            }
        }
        assert!(found >= 15, "only {found} recorded commands found");
        for line in [
            "recovery --events 50_000_000 --reuse /tmp/x --verify --drop-caches --tail 1000",
            "claims --claim-mode open --claim-rate 20000 --soldout-share 0.1 --claim-tasks 8 --perf /tmp/p",
            "memory --events-per-player 2 --claims-per-player 3 --shards 2 --commit-interval-us 100",
            "all --duration 2 --players 1000 --events 100000 --ingest-rate 1000 --events-per-player 2",
            "wire --key k --claim-rate 20_000 --event-rate 300000 --protocol msgpack --server-pid 1 --json-out /tmp/w",
            "wire --key k --claim-mode closed --claim-connections 64 --in-flight 1 --design-key d --http http://h:1",
        ] {
            if let Err(e) = parse(line) {
                panic!("{line}: {e}");
            }
        }
    }

    #[test]
    fn bad_input_is_refused() {
        for line in [
            "events --batch 0",
            &format!("events --batch {}", MAX_BATCH_EVENTS + 1),
            "events --players 0",
            "events --tasks 0",
            "claims --claim-tasks 0",
            "events --clues 0",
            "events --products 0",
            "claims --claim-mode sometimes",
            "events --duration soon",
            "events --ingest-rate 5",
            "wire",
            "wire --key k --protocol xml",
            "wire --key k --claim-mode both",
            "wire --key k --batch 0",
            "wire --key k --in-flight 0",
            "bogus",
        ] {
            assert!(parse(line).is_err(), "{line} was accepted");
        }
        assert!(parse(&format!("events --batch {MAX_BATCH_EVENTS}")).is_ok());
    }

    #[test]
    fn all_hands_each_scenario_its_own_options() {
        let raw: Vec<String> = "--duration 2 --events 100 --ingest-rate=5 --keep --events-per-player 2 --verify"
            .split_whitespace()
            .map(String::from)
            .collect();
        assert_eq!(child_args("events", &raw), ["--duration", "2", "--keep"]);
        assert_eq!(
            child_args("claims", &raw),
            ["--duration", "2", "--ingest-rate=5", "--keep"]
        );
        assert_eq!(
            child_args("memory", &raw),
            ["--duration", "2", "--keep", "--events-per-player", "2"]
        );
        assert_eq!(
            child_args("recovery", &raw),
            ["--duration", "2", "--events", "100", "--keep", "--verify"]
        );
    }
}
