//! Scenario `wire`: claims and events over the wire, against a running
//! `trove serve`, through `trove_client` on WebSocket connections (JSON or
//! MessagePack). It defines a fresh hunt over HTTP (`wire-<unix ms>`, open,
//! a few clues, one product whose stock never runs out), then for
//! `--duration` seconds offers:
//!
//! - claims, open loop at `--claim-rate` on `--claim-connections`, or closed
//!   loop (`--claim-mode closed`: `--in-flight` outstanding per connection,
//!   back-to-back; redis-benchmark's `-c C` is `--in-flight 1`);
//! - event batches of `--batch` random events, open loop at `--event-rate`
//!   events/s on `--event-connections`.
//!
//! Latency is measured from the *intended* send time (open loop; so a late
//! generator counts against the server's latency), and also from the actual
//! send; the generator's send lag is reported on its own. After the window,
//! answers are awaited for up to `--drain` seconds; the missing ones count
//! as lost. With `--server-pid` the server's CPU (utime + stime) over the
//! run is reported per claim or per event. Targets (the claims scenario's,
//! here over the wire) sit at the top of this module; see [`load`] for how
//! requests are paced and sent.

mod load;

use crate::cli::{WireClaimMode, WireOpts, WireProtocol};
use crate::emit::{emit_to, verdict};
use crate::hist::HistSummary;
use crate::proc::{pid_cpu_secs, process_cpu_secs};
use anyhow::{bail, Context, Result};
use load::{Job, Kind, Pace, Snapshot, Stream, Work};
use serde_json::{json, Value};
use std::borrow::Cow;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use trove_client::{Admission, Client, Config, HttpClient};
use trove_engine::limits::MAX_CLAIMS_PER_PLAYER;
use trove_engine::MAX_STOCK;
use trove_protocol::{ClueDefinition, Codec, HuntDefinition, ProductDefinition};

/// Accepted claims per second the server must sustain.
const TARGET_CLAIMS_PER_SEC: f64 = 20_000.0;
/// p99 claim latency (from the intended send time), microseconds.
const TARGET_CLAIM_P99_US: u64 = 2_000;
/// Events "keep up" when this share of the offered events is accepted.
const TARGET_EVENTS_KEEP_UP: f64 = 0.99;
/// Clues of the hunt.
const CLUES: usize = 10;
/// The product every claim asks for.
const SKU: &str = "mug";
/// Queue of each open-loop connection, requests (beyond it: shed).
const CLAIM_QUEUE: usize = 8192;
const EVENT_QUEUE: usize = 256;
/// Time between connecting and the first intended send.
const LEAD_IN: Duration = Duration::from_millis(200);

/// Runs the scenario on its own tokio runtime.
pub(crate) fn run(o: WireOpts) -> Result<()> {
    if o.claim_rate < 0.0 || o.event_rate < 0.0 || o.duration <= 0.0 {
        bail!("rates must be >= 0 and --duration > 0");
    }
    let closed = o.claim_mode == WireClaimMode::Closed && o.claim_rate > 0.0;
    if o.claim_rate == 0.0 && o.event_rate == 0.0 {
        bail!("nothing to offer: --claim-rate and --event-rate are both 0");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(o.threads)
        .thread_name("wire-gen")
        .enable_all()
        .build()?;
    let work = Arc::new(rt.block_on(define_hunt(&o))?);
    let m = measure(&rt, &o, &work, closed)?;
    let ledger_granted = rt.block_on(granted_in_ledger(&o, &work.hunt));
    report(&o, closed, &work, &m, ledger_granted);
    rt.shutdown_timeout(Duration::from_secs(1));
    Ok(())
}

/// `--http`, or the HTTP base of `--url` (`ws://H:P/v1/ws` -> `http://H:P`).
fn http_base(o: &WireOpts) -> String {
    if let Some(h) = &o.http {
        return h.trim_end_matches('/').to_owned();
    }
    let (scheme, rest) = match o.url.split_once("://") {
        Some(("wss", rest)) => ("https", rest),
        Some((_, rest)) => ("http", rest),
        None => ("http", o.url.as_str()),
    };
    format!("{scheme}://{}", rest.split('/').next().unwrap_or(rest))
}

/// Defines the run's hunt over HTTP and reads it back.
async fn define_hunt(o: &WireOpts) -> Result<Work> {
    let key = o.design_key.as_deref().unwrap_or(&o.key);
    let http = HttpClient::new(&http_base(o), Some(key))?;
    let unix_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis();
    let id = format!("wire-{unix_ms}");
    let clues: Vec<String> = (0..CLUES).map(|i| format!("clue-{i}")).collect();
    let def = HuntDefinition {
        id: Cow::Borrowed(&id),
        name: Some(Cow::Borrowed("trove-bench wire")),
        opens_at: None,
        closes_at: None,
        clues: clues
            .iter()
            .zip(1..)
            .map(|(c, i)| ClueDefinition {
                id: Cow::Borrowed(c),
                points: 10 * i,
            })
            .collect(),
        products: vec![ProductDefinition {
            sku: Cow::Borrowed(SKU),
            stock: MAX_STOCK,
            per_player_limit: u32::try_from(MAX_CLAIMS_PER_PLAYER).unwrap_or(u32::MAX),
            min_score: 0,
        }],
    };
    let defined = http.define_hunt(&def).await.context("defining the hunt")?;
    let back = http.hunt(&id).await.context("reading the hunt back")?;
    let p = back.products.first().context("the hunt has no product")?;
    println!(
        "hunt {id} defined at seq {}: {} clues, product {} stock {} (remaining {}), per-player limit {}",
        defined.seq,
        back.clues.len(),
        p.sku,
        p.stock,
        p.remaining,
        p.per_player_limit
    );
    let run = format!("{unix_ms:x}");
    Ok(Work::new(id, SKU.to_owned(), o.players, clues, o.batch, o.seed, run))
}

/// Units granted in the hunt's durable ledger, `None` if it cannot be read.
async fn granted_in_ledger(o: &WireOpts, hunt: &str) -> Option<u64> {
    let key = o.design_key.as_deref().unwrap_or(&o.key);
    let http = HttpClient::new(&http_base(o), Some(key)).ok()?;
    let back = http.hunt(hunt).await.ok()?;
    back.products.first().map(|p| p.granted)
}

/// `n` connections with `max_in_flight` requests each.
async fn connect(o: &WireOpts, n: usize, max_in_flight: usize) -> Result<Vec<Client>> {
    let config = Config {
        request_timeout: Duration::from_secs(10),
        max_in_flight,
        admission: Admission::Wait,
        max_reconnect_attempts: Some(3),
        codec: match o.protocol {
            WireProtocol::Json => Codec::Json,
            WireProtocol::Msgpack => Codec::MessagePack,
        },
        ..Config::default()
    };
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(
            Client::connect_with(&o.url, &o.key, config.clone())
                .await
                .with_context(|| format!("connecting to {}", o.url))?,
        );
    }
    Ok(out)
}

/// What the run measured.
struct Measured {
    /// The first intended send.
    start: Instant,
    /// The streams at the end of the drain.
    claims: Option<Snapshot>,
    events: Option<Snapshot>,
    /// Seconds from the first intended send to the end of the drain.
    wall: f64,
    /// Seconds the drain took.
    drain: f64,
    gen_cpu: f64,
    /// The pacer threads' part of `gen_cpu` (`None`: closed loop only).
    pacer_cpu: Option<f64>,
    server_cpu: Option<f64>,
}

/// Connection queues and their receivers.
type Queues = (Vec<mpsc::Sender<Job>>, Vec<mpsc::Receiver<Job>>);

fn queues(n: usize, cap: usize) -> Queues {
    (0..n).map(|_| mpsc::channel(cap)).unzip()
}

/// Connects, paces, drains; samples the CPU of both sides around it.
fn measure(rt: &tokio::runtime::Runtime, o: &WireOpts, work: &Arc<Work>, closed: bool) -> Result<Measured> {
    let claim_clients = if o.claim_rate > 0.0 {
        let k = if closed { o.in_flight } else { o.max_in_flight };
        rt.block_on(connect(o, o.claim_connections, k))?
    } else {
        Vec::new()
    };
    let event_clients = if o.event_rate > 0.0 {
        rt.block_on(connect(o, o.event_connections, o.max_in_flight))?
    } else {
        Vec::new()
    };
    // Replies still awaited fail as `closed` once every handle of their
    // client is gone: keep one of each until the drain is over.
    let keep: Vec<Client> = claim_clients.iter().chain(&event_clients).cloned().collect();
    let start = Instant::now() + LEAD_IN;
    let end = start + Duration::from_secs_f64(o.duration);
    let pace = Pace {
        rate: 0.0,
        start,
        end,
        quantum: Duration::from_micros(o.pace_quantum_us),
    };
    let mut pacers = Vec::new();
    let claims = (!claim_clients.is_empty()).then(Stream::new);
    if let Some(stream) = &claims {
        if closed {
            let k = o.in_flight;
            for (conn, client) in claim_clients.into_iter().enumerate() {
                for worker in 0..k {
                    let (c, w, s) = (client.clone(), Arc::clone(work), Arc::clone(stream));
                    rt.spawn(async move {
                        tokio::time::sleep_until(start.into()).await;
                        load::closed_claims(c, conn, worker, k, end, w, s).await;
                    });
                }
            }
        } else {
            let (tx, rx) = queues(o.claim_connections, CLAIM_QUEUE);
            spawn_open(rt, Kind::Claims, claim_clients, rx, work, stream);
            let pace = Pace {
                rate: o.claim_rate,
                ..pace
            };
            pacers.push(load::pacer("pace-claims", pace, tx, Arc::clone(stream))?);
        }
    }
    let events = (!event_clients.is_empty()).then(Stream::new);
    if let Some(stream) = &events {
        let (tx, rx) = queues(o.event_connections, EVENT_QUEUE);
        spawn_open(rt, Kind::Events, event_clients, rx, work, stream);
        let pace = Pace {
            rate: o.event_rate / o.batch as f64,
            ..pace
        };
        pacers.push(load::pacer("pace-events", pace, tx, Arc::clone(stream))?);
    }
    std::thread::sleep(start.saturating_duration_since(Instant::now()));
    let (gen0, srv0) = (process_cpu_secs(), o.server_pid.and_then(pid_cpu_secs));
    let paced = !pacers.is_empty();
    let pacer_cpu = pacers
        .into_iter()
        .map(|p| p.join().unwrap_or(0.0))
        .fold(0.0, |a, b| a + b);
    std::thread::sleep(end.saturating_duration_since(Instant::now()));
    let drain_start = Instant::now();
    let drain_end = drain_start + Duration::from_secs_f64(o.drain);
    let outstanding = || {
        [&claims, &events]
            .into_iter()
            .flatten()
            .map(|s| s.in_flight.load(Ordering::Acquire))
            .sum::<u64>()
    };
    while outstanding() > 0 && Instant::now() < drain_end {
        std::thread::sleep(Duration::from_millis(1));
    }
    let done = Instant::now();
    let (claims, events) = (claims.map(|s| s.snapshot()), events.map(|s| s.snapshot()));
    drop(keep);
    let (gen1, srv1) = (process_cpu_secs(), o.server_pid.and_then(pid_cpu_secs));
    Ok(Measured {
        start,
        claims,
        events,
        wall: done.duration_since(start).as_secs_f64(),
        drain: done.duration_since(drain_start).as_secs_f64(),
        gen_cpu: gen1 - gen0,
        pacer_cpu: paced.then_some(pacer_cpu),
        server_cpu: srv0.zip(srv1).map(|(a, b)| b - a),
    })
}

/// Spawns one open-loop connection task per client.
fn spawn_open(
    rt: &tokio::runtime::Runtime,
    kind: Kind,
    clients: Vec<Client>,
    rx: Vec<mpsc::Receiver<Job>>,
    work: &Arc<Work>,
    stream: &Arc<Stream>,
) {
    for (conn, (client, jobs)) in clients.into_iter().zip(rx).enumerate() {
        rt.spawn(load::open_conn(
            kind,
            client,
            jobs,
            conn,
            Arc::clone(work),
            Arc::clone(stream),
        ));
    }
}

/// One stream's numbers, as printed and emitted.
struct StreamReport {
    offered: u64,
    shed: u64,
    lost: u64,
    ok: u64,
    /// Answers per second and units per second, over the answer span.
    ok_per_s: f64,
    units_per_s: f64,
    units: u64,
    errors: u64,
    json: Value,
    lat: HistSummary,
}

/// Sums up `s` over a window of `secs` seconds from `start`, printing its
/// lines; `units` names what [`load::Tally::units`] counts. Offered rates
/// are per second of the window; answered rates per second of the *answer
/// span*: the window, or longer if the last answer came after it (a server
/// that answers 10 s of load in 20 s answers half of it per second).
fn stream_report(name: &str, units: &str, s: &Snapshot, secs: f64, start: Instant, open: bool) -> StreamReport {
    let t = &s.tally;
    let span = t
        .last
        .map_or(secs, |l| l.saturating_duration_since(start).as_secs_f64().max(secs));
    let (offered, shed, lost) = (s.offered, s.shed, s.lost);
    let errors: u64 = t.errors.values().sum();
    let (lat, service, lag) = (
        HistSummary::of(&t.lat),
        HistSummary::of(&t.service),
        HistSummary::of(&t.lag),
    );
    let pace_lag = HistSummary::of(&t.pace_lag);
    println!(
        "  {name}: offered {offered} ({:.0}/s), answered ok {} ({:.0}/s over {span:.2} s), {units} {} ({:.0}/s); errors {errors} {:?}, shed {shed}, lost {lost}",
        offered as f64 / secs,
        t.ok,
        t.ok as f64 / span,
        t.units,
        t.units as f64 / span,
        t.errors,
    );
    if !t.rejected.is_empty() || t.duplicates > 0 {
        println!("    rejected {:?}, duplicates {}", t.rejected, t.duplicates);
    }
    if let Some(e) = &t.last_error {
        println!("    last error: {e}");
    }
    if open {
        println!("    latency from intended send: {}", lat.line());
        println!("    latency from actual send:   {}", service.line());
        println!("    generator send lag:         {}", lag.line());
        println!("      of which the pacer's:     {}", pace_lag.line());
    } else {
        println!("    latency (closed loop, from the send): {}", lat.line());
    }
    let json = json!({
        "offered": offered, "offered_per_s": offered as f64 / secs,
        "ok": t.ok, "ok_per_s": t.ok as f64 / span, "answer_span_s": span,
        units: t.units, format!("{units}_per_s"): t.units as f64 / span,
        "rejected": t.rejected, "duplicates": t.duplicates,
        "errors": t.errors, "errors_total": errors, "shed": shed, "lost": lost,
        "latency_us": lat.json(), "service_latency_us": service.json(), "send_lag_us": lag.json(), "pacer_lag_us": pace_lag.json(),
    });
    StreamReport {
        offered,
        shed,
        lost,
        ok: t.ok,
        ok_per_s: t.ok as f64 / span,
        units_per_s: t.units as f64 / span,
        units: t.units,
        errors,
        json,
        lat,
    }
}

/// The phase's name: what flowed.
fn phase_name(o: &WireOpts, closed: bool) -> String {
    let claims = match (o.claim_rate > 0.0, closed) {
        (false, _) => None,
        (true, true) => Some("claims-closed".to_owned()),
        (true, false) => Some("claims-open".to_owned()),
    };
    let events = (o.event_rate > 0.0).then(|| "events".to_owned());
    [claims, events].into_iter().flatten().collect::<Vec<_>>().join("+")
}

/// Prints the human report and emits the JSON line.
fn report(o: &WireOpts, closed: bool, work: &Work, m: &Measured, ledger_granted: Option<u64>) {
    let secs = o.duration;
    let phase = phase_name(o, closed);
    println!(
        "\n== wire: {phase}, {} over {}, {} s (+ {:.2} s drain) ==",
        match o.protocol {
            WireProtocol::Json => "json",
            WireProtocol::Msgpack => "msgpack",
        },
        o.url,
        secs,
        m.drain
    );
    let mut v = json!({
        "scenario": "wire",
        "phase": phase,
        "label": o.label,
        "settings": {
            "url": o.url, "protocol": format!("{:?}", o.protocol).to_lowercase(), "duration_s": secs,
            "claim_mode": if closed { "closed" } else { "open" }, "claim_rate": o.claim_rate,
            "claim_connections": o.claim_connections, "in_flight": o.in_flight,
            "event_rate": o.event_rate, "event_connections": o.event_connections, "batch": o.batch,
            "players": o.players, "max_in_flight": o.max_in_flight, "threads": o.threads,
            "pace_quantum_us": o.pace_quantum_us,
            "seed": o.seed, "hunt": work.hunt,
        },
    });
    let mut verdicts = Vec::new();
    let claims = m
        .claims
        .as_ref()
        .map(|s| stream_report("claims", "granted", s, secs, m.start, !closed));
    if let Some(c) = &claims {
        let rate = c.ok_per_s;
        let pass = rate >= TARGET_CLAIMS_PER_SEC && c.lat.p99 <= TARGET_CLAIM_P99_US && c.errors + c.lost + c.shed == 0;
        println!(
            "    claims: {rate:.0}/s answered, p99 {} us; target >= {TARGET_CLAIMS_PER_SEC:.0}/s, p99 <= {TARGET_CLAIM_P99_US} us, no errors   {}",
            c.lat.p99,
            verdict(pass)
        );
        if let Some(g) = ledger_granted {
            println!("    hunt ledger: {g} granted (answers said {})", c.units);
        }
        verdicts.push(pass);
        v["claims"] = c.json.clone();
        v["claims"]["ledger_granted"] = json!(ledger_granted);
        v["claims"]["result"] = json!(verdict(pass));
    }
    let events = m
        .events
        .as_ref()
        .map(|s| stream_report("event batches", "events", s, secs, m.start, true));
    if let Some(e) = &events {
        let offered_events = e.offered * o.batch as u64;
        let share = e.units_per_s / (offered_events as f64 / secs).max(1e-9);
        let pass = share >= TARGET_EVENTS_KEEP_UP;
        println!(
            "    events: {:.0}/s accepted of {:.0}/s offered ({:.1}%); target >= {:.0}%   {}",
            e.units_per_s,
            offered_events as f64 / secs,
            100.0 * share,
            100.0 * TARGET_EVENTS_KEEP_UP,
            verdict(pass)
        );
        verdicts.push(pass);
        v["events"] = e.json.clone();
        v["events"]["offered_events"] = json!(offered_events);
        v["events"]["offered_events_per_s"] = json!(offered_events as f64 / secs);
        v["events"]["result"] = json!(verdict(pass));
    }
    let claims_done = claims.as_ref().map_or(0, |c| c.ok);
    let events_done = events.as_ref().map_or(0, |e| e.units);
    v["cpu"] = cpu_report(o, m, claims_done, events_done);
    v["result"] = json!(verdict(verdicts.iter().all(|p| *p)));
    emit_to(o.json_out.as_deref(), &o.args, v);
}

/// The server's and the generator's CPU over the run, printed and as JSON.
/// Per operation only when one kind flowed (with both, the split is unknown).
fn cpu_report(o: &WireOpts, m: &Measured, claims: u64, events: u64) -> Value {
    let per_op = |cpu: f64| match (claims > 0, events > 0) {
        (true, false) => (Some(cpu * 1e6 / claims as f64), None),
        (false, true) => (None, Some(cpu * 1e6 / events as f64)),
        _ => (None, None),
    };
    let line = |who: &str, cpu: f64| {
        let (c, e) = per_op(cpu);
        let mut s = format!(
            "  {who} CPU: {cpu:.2} s over {:.2} s = {:.0}% of a core",
            m.wall,
            100.0 * cpu / m.wall
        );
        if let Some(c) = c {
            s += &format!(", {c:.1} us per claim");
        }
        if let Some(e) = e {
            s += &format!(", {e:.2} us per event");
        }
        println!("{s}");
        json!({"cpu_s": cpu, "wall_s": m.wall, "core_share": cpu / m.wall, "us_per_claim": c, "us_per_event": e})
    };
    let server = match (o.server_pid, m.server_cpu) {
        (Some(_), Some(cpu)) => line("server", cpu),
        (Some(pid), None) => {
            println!("  server CPU: /proc/{pid}/stat unreadable");
            Value::Null
        }
        (None, _) => Value::Null,
    };
    let mut generator = line("generator", m.gen_cpu);
    if let Some(cpu) = m.pacer_cpu {
        println!(
            "    of which the pacer threads: {cpu:.2} s = {:.0}% of a core",
            100.0 * cpu / m.wall
        );
    }
    generator["pacers_cpu_s"] = json!(m.pacer_cpu);
    json!({"server": server, "server_pid": o.server_pid, "generator": generator})
}
