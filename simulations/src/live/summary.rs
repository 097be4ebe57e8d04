//! The run's [`Report`]: the live section ([`LiveReport`]: rates, latencies,
//! errors, the server's checks) and the common report, assembled from the
//! driver's book, the invariant checks and the server's leaderboard.

use super::driver::Driver;
use crate::assemble::{self, ReportInput, Scores};
use crate::observe::Check;
use crate::report::{r4, LiveReport, Report};
use crate::scenario::Scenario;

/// What the run ended with besides the driver.
pub(crate) struct Ending {
    /// The server's WebSocket URL.
    pub(crate) url: String,
    /// Game-server connections used.
    pub(crate) connections: usize,
    /// Their WebSocket subprotocol (`trove.v1.json` or `trove.v1.msgpack`).
    pub(crate) protocol: String,
    /// Seed of the player model.
    pub(crate) seed: u64,
    /// Unanswered (`events`, `claim`) requests after the drain.
    pub(crate) unanswered: (u64, u64),
    /// The invariant checks, the server's included.
    pub(crate) checks: Vec<Check>,
    /// The server's own consistency checks.
    pub(crate) server_checks: Vec<Check>,
    /// The server's top 10.
    pub(crate) leaderboard: Vec<(String, u64)>,
}

/// Assembles the report of a finished run.
pub(crate) fn report(sc: &Scenario, d: &Driver<'_>, end: Ending) -> Report {
    let b = &d.book;
    let ticks = d.ticks;
    // Offered rates over the seconds played; accepted rates until the last answer.
    let send_secs = f64::from(ticks);
    let answer_secs = b
        .last_answer
        .saturating_duration_since(d.t0)
        .as_secs_f64()
        .max(send_secs);
    let (ev_missing, cl_missing) = end.unanswered;
    let live = LiveReport {
        url: end.url,
        connections: end.connections,
        protocol: end.protocol,
        run_secs: r4(answer_secs),
        ops: vec![
            b.events.load("events", ev_missing, send_secs, answer_secs),
            b.claims.load("claim", cl_missing, send_secs, answer_secs),
        ],
        events_offered: b.events_offered,
        events_accepted: b.events_accepted,
        events_offered_per_sec: r4(b.events_offered as f64 / send_secs),
        events_accepted_per_sec: r4(b.events_accepted as f64 / answer_secs),
        sender_max_lag_ms: r4(d.max_lag.as_secs_f64() * 1000.0),
        errors: b.rec.errors.clone(),
        server_checks: end.server_checks,
    };
    let hunt = &d.wire.names.hunt;
    let notes = vec![
        format!(
            "Live run against {} ({} connections, {}), open loop at the scenario's rate for {} s; hunt {:?}.",
            live.url, live.connections, live.protocol, ticks, hunt
        ),
        "Every event, telemetry included, was sent to the server. Latencies are measured from each request's intended send time.".to_owned(),
        "Scores are what the clients saw acknowledged; the leaderboard is the server's.".to_owned(),
    ];
    let last = ticks.saturating_sub(1);
    let model = &b.model;
    let by_player = (0..sc.population.players)
        .filter(|p| model.arrived_by(*p, last))
        .map(|p| (p, model.known_score(p)))
        .collect();
    assemble::build(ReportInput {
        sc,
        seed: end.seed,
        mode: "live",
        hunt_id: hunt,
        recorder: &b.rec,
        client: model.stats(),
        segment_of: &|p| model.segment(p),
        scores: Scores {
            source: "clients",
            by_player,
            leaderboard: end.leaderboard,
        },
        checks: end.checks,
        notes,
        live: Some(live),
        ticks_run: ticks,
    })
}
