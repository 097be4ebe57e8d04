//! Scenario `claims`: claims while a paced ingest load runs
//! (`--ingest-rate`), first closed loop (`--claim-tasks` tasks back-to-back),
//! then open loop (`--claim-rate` claims/s, latency from the intended send
//! time), each for `--duration` seconds (targets: >= 20,000 claims/s,
//! p99 <= 2 ms).

use crate::cli::{ClaimMode, ClaimsOpts, Common};
use crate::data_dir::DataDir;
use crate::emit::{emit, settings_json, verdict};
use crate::hist::{lat_hist, HistSummary};
use crate::load::{spawn_ingest_paced, IngestStats};
use crate::perf::perf_report;
use crate::setup::{close, open_with_players, shard_count};
use crate::window::{Window, WindowEnd};
use crate::workload::{Gen, Names};
use anyhow::Result;
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use std::cell::{Cell, RefCell};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};
use trove_engine::{ClaimResult, Engine, EngineError, Outcome, RejectReason};

const TARGET_CLAIMS_PER_SEC: f64 = 20_000.0;
const TARGET_CLAIM_P99_US: u64 = 2_000;
/// Open loop: claims due while this many are in flight are not sent.
const MAX_IN_FLIGHT: u64 = 200_000;

/// Counters of one phase's claims (all on the System thread).
#[derive(Default)]
struct ClaimStats {
    sent: Cell<u64>,
    done: Cell<u64>,
    granted: Cell<u64>,
    out_of_stock: Cell<u64>,
    other_rejected: Cell<u64>,
    duplicates: Cell<u64>,
    errors: Cell<u64>,
    last_error: RefCell<Option<String>>,
    in_flight: Cell<u64>,
    /// Ack latency from the send (closed loop) or from the intended send time (open loop).
    lat: RefCell<Option<Histogram<u64>>>,
    /// Open loop only: latency from the actual send.
    service: RefCell<Option<Histogram<u64>>>,
    /// Open loop only: how late the load generator sent (timer granularity, scheduling).
    lag: RefCell<Option<Histogram<u64>>>,
}

impl ClaimStats {
    fn new() -> Rc<ClaimStats> {
        let s = ClaimStats::default();
        *s.lat.borrow_mut() = Some(lat_hist());
        *s.service.borrow_mut() = Some(lat_hist());
        *s.lag.borrow_mut() = Some(lat_hist());
        Rc::new(s)
    }

    fn record(&self, intended: Instant, sent: Instant, r: Result<ClaimResult, EngineError>) {
        self.done.set(self.done.get() + 1);
        match r {
            Ok(c) => {
                if c.duplicate {
                    self.duplicates.set(self.duplicates.get() + 1);
                }
                match c.outcome {
                    Outcome::Granted => self.granted.set(self.granted.get() + 1),
                    Outcome::Rejected(RejectReason::OutOfStock) => self.out_of_stock.set(self.out_of_stock.get() + 1),
                    Outcome::Rejected(_) => self.other_rejected.set(self.other_rejected.get() + 1),
                }
            }
            Err(e) => {
                self.errors.set(self.errors.get() + 1);
                *self.last_error.borrow_mut() = Some(format!("{} ({})", e, e.code()));
            }
        }
        let now = Instant::now();
        let us = |a: Instant, b: Instant| b.saturating_duration_since(a).as_micros() as u64;
        let add = |h: &RefCell<Option<Histogram<u64>>>, v: u64| h.borrow_mut().as_mut().unwrap().saturating_record(v);
        add(&self.lat, us(intended, now));
        add(&self.service, us(sent, now));
        add(&self.lag, us(intended, sent));
    }
}

/// One measured phase.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Closed,
    Open,
}

impl Phase {
    fn as_str(self) -> &'static str {
        match self {
            Phase::Closed => "closed",
            Phase::Open => "open",
        }
    }
}

/// Runs the scenario.
pub(crate) async fn run(o: Common, c: ClaimsOpts) -> Result<()> {
    let data = DataDir::create(&o)?;
    println!(
        "claims: {} players, {} products (+1 sold out), paced ingest {:.0} events/s ({} tasks x {}), {} claim tasks, \
         open-loop rate {:.0}/s, {} s per phase, data {}",
        o.players,
        o.products,
        c.ingest_rate,
        o.tasks,
        o.batch,
        o.claim_tasks,
        c.claim_rate,
        o.duration,
        data.path.display()
    );
    let (engine, store, names) = open_with_players(&data.path, &o).await?;

    let ingest = IngestStats::new();
    let stop = Rc::new(Cell::new(false));
    let ingest_tasks = spawn_ingest_paced(&engine, &names, &o, c.ingest_rate, &stop, &ingest);
    // Let the paced ingest settle before measuring.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let mut phases = Vec::new();
    if c.claim_mode != ClaimMode::Open {
        phases.push(Phase::Closed);
    }
    if c.claim_mode != ClaimMode::Closed && c.claim_rate > 0.0 {
        phases.push(Phase::Open);
    }
    let bench = Bench {
        engine: &engine,
        names: &names,
        o: &o,
        c: &c,
        ingest: &ingest,
    };
    for (pi, phase) in phases.into_iter().enumerate() {
        bench.phase(pi, phase).await;
    }
    stop.set(true);
    for h in ingest_tasks {
        let _ = h.await;
    }
    if ingest.errors.get() > 0 {
        println!(
            "ingest errors: {} (last: {})",
            ingest.errors.get(),
            ingest.last_error.borrow().clone().unwrap_or_default()
        );
    }
    close(&engine, &store).await?;
    data.finish();
    Ok(())
}

/// What every phase works on.
struct Bench<'a> {
    engine: &'a Engine,
    names: &'a Rc<Names>,
    o: &'a Common,
    c: &'a ClaimsOpts,
    ingest: &'a Rc<IngestStats>,
}

/// A phase's figures, computed once for the report and the JSON line.
struct PhaseResult {
    phase: Phase,
    w: WindowEnd,
    stats: Rc<ClaimStats>,
    ingest_lat: HistSummary,
    lat: HistSummary,
    service: HistSummary,
    lag: HistSummary,
    ok: u64,
    events_per_s: f64,
    claims_per_s: f64,
    rate_target: f64,
    rate_pass: bool,
    p99_pass: bool,
    pass: bool,
    drain_s: f64,
    lost: u64,
}

impl Bench<'_> {
    async fn phase(&self, pi: usize, phase: Phase) {
        let stats = ClaimStats::new();
        let ev0 = self.ingest.events.get();
        let _ = self.ingest.take_lat();
        let perf_file = self.o.perf.as_ref().map(|p| {
            let mut p = p.clone().into_os_string();
            p.push(format!(".{}", phase.as_str()));
            PathBuf::from(p)
        });
        let win = Window::start(self.engine, perf_file.as_deref());
        let deadline = win.at + Duration::from_secs_f64(self.o.duration);
        let (drain_s, lost) = match phase {
            Phase::Closed => {
                self.closed_loop(pi, deadline, &stats).await;
                (0.0, 0)
            }
            Phase::Open => self.open_loop(pi, win.at, deadline, &stats).await,
        };
        let w = win.end(self.engine);
        let r = self.result(phase, w, stats, ev0, drain_s, lost);
        self.print(&r);
        if let Some(p) = &perf_file {
            perf_report(p);
        }
        emit(self.o, self.json(&r));
    }

    /// `--claim-tasks` tasks send claims back-to-back until `deadline`.
    async fn closed_loop(&self, pi: usize, deadline: Instant, stats: &Rc<ClaimStats>) {
        let handles: Vec<_> = (0..self.o.claim_tasks)
            .map(|t| {
                let (engine, stats) = (self.engine.clone(), stats.clone());
                let mut gen = Gen::new(self.names, self.o.seed, 3000 + (pi * 10_000 + t) as u64);
                let share = self.o.soldout_share;
                actix::spawn(async move {
                    let mut n = 0u64;
                    while Instant::now() < deadline {
                        let req = gen.claim(format!("c{pi}-{t}-{n}"), None, share);
                        n += 1;
                        stats.sent.set(stats.sent.get() + 1);
                        let sent = Instant::now();
                        let r = engine.claim(req).await;
                        stats.record(sent, sent, r);
                    }
                })
            })
            .collect();
        for h in handles {
            let _ = h.await;
        }
    }

    /// Open loop: claim i is due at start + i / rate, whatever the engine is
    /// doing; latency counts from when it was due. Returns (drain seconds,
    /// claims lost).
    async fn open_loop(&self, pi: usize, start: Instant, deadline: Instant, stats: &Rc<ClaimStats>) -> (f64, u64) {
        let interval = Duration::from_secs_f64(1.0 / self.c.claim_rate);
        let mut gen = Gen::new(self.names, self.o.seed, 3000 + (pi * 10_000) as u64);
        let mut i: u32 = 0;
        let mut not_sent = 0u64;
        loop {
            let due = start + interval * i;
            if due >= deadline {
                break;
            }
            if due > Instant::now() {
                tokio::time::sleep_until(tokio::time::Instant::from_std(due)).await;
            }
            i += 1;
            if stats.in_flight.get() >= MAX_IN_FLIGHT {
                not_sent += 1;
                continue;
            }
            let req = gen.claim(format!("o{pi}-{i}"), None, self.o.soldout_share);
            let (engine, stats) = (self.engine.clone(), stats.clone());
            stats.sent.set(stats.sent.get() + 1);
            stats.in_flight.set(stats.in_flight.get() + 1);
            actix::spawn(async move {
                let sent = Instant::now();
                let r = engine.claim(req).await;
                stats.record(due, sent, r);
                stats.in_flight.set(stats.in_flight.get() - 1);
            });
        }
        // Drain what is in flight (bounded wait).
        let drain_from = Instant::now();
        let drain_until = drain_from + Duration::from_secs(30);
        while stats.in_flight.get() > 0 && Instant::now() < drain_until {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let drain_s = drain_from.elapsed().as_secs_f64();
        let lost = not_sent + stats.in_flight.get();
        if not_sent > 0 {
            println!("  WARNING: {not_sent} claims not sent: more than {MAX_IN_FLIGHT} in flight");
        }
        (drain_s, lost)
    }

    fn result(
        &self,
        phase: Phase,
        w: WindowEnd,
        stats: Rc<ClaimStats>,
        ev0: u64,
        drain_s: f64,
        lost: u64,
    ) -> PhaseResult {
        let ev = self.ingest.events.get() - ev0;
        let ingest_lat = HistSummary::of(&self.ingest.take_lat());
        let take = |h: &RefCell<Option<Histogram<u64>>>| HistSummary::of(h.borrow().as_ref().unwrap());
        let (lat, service, lag) = (take(&stats.lat), take(&stats.service), take(&stats.lag));
        let ok = stats.done.get() - stats.errors.get();
        let events_per_s = ev as f64 / w.secs;
        let (claims_per_s, rate_target, rate_pass) = if phase == Phase::Closed {
            let r = ok as f64 / w.secs;
            (r, TARGET_CLAIMS_PER_SEC, r >= TARGET_CLAIMS_PER_SEC)
        } else {
            // Open loop: acked claims per offered second. The offered rate is
            // sustained if (nearly) every claim is acked, nothing was left
            // unsent, and the backlog drains within a second of the end.
            let rate = self.c.claim_rate;
            let r = ok as f64 / self.o.duration;
            let pass = r >= 0.98 * rate && rate >= TARGET_CLAIMS_PER_SEC && lost == 0 && drain_s <= 1.0;
            (r, rate, pass)
        };
        let p99_pass = lat.p99 <= TARGET_CLAIM_P99_US;
        let pass = rate_pass && p99_pass && stats.errors.get() == 0;
        PhaseResult {
            phase,
            w,
            stats,
            ingest_lat,
            lat,
            service,
            lag,
            ok,
            events_per_s,
            claims_per_s,
            rate_target,
            rate_pass,
            p99_pass,
            pass,
            drain_s,
            lost,
        }
    }

    fn print(&self, r: &PhaseResult) {
        let (o, c, phase) = (self.o, self.c, r.phase.as_str());
        println!("\n== claims ({phase} loop) while ingesting ==");
        if r.phase == Phase::Closed {
            println!(
                "  {} claim tasks back-to-back: {} claims in {:.2} s = {:.0} claims/s   target >= {:.0}   {}",
                o.claim_tasks,
                r.ok,
                r.w.secs,
                r.claims_per_s,
                TARGET_CLAIMS_PER_SEC,
                verdict(r.rate_pass)
            );
            println!(
                "  claim ack latency: {}   p99 target <= {} us   {}",
                r.lat.line(),
                TARGET_CLAIM_P99_US,
                verdict(r.p99_pass)
            );
        } else {
            println!(
                "  offered {:.0} claims/s for {} s: {} claims acked = {:.0} claims/s per offered second; \
                 backlog drained {:.3} s after the end; {} lost   {}",
                c.claim_rate,
                o.duration,
                r.ok,
                r.claims_per_s,
                r.drain_s,
                r.lost,
                verdict(r.rate_pass)
            );
            println!(
                "  latency from intended send time: {}   p99 target <= {} us   {}",
                r.lat.line(),
                TARGET_CLAIM_P99_US,
                verdict(r.p99_pass)
            );
            println!("  latency from actual send:         {}", r.service.line());
            println!("  generator send lag (tokio timer, 1 ms granularity): {}", r.lag.line());
        }
        let s = &r.stats;
        println!(
            "  outcomes: {} granted, {} out_of_stock (sold-out product), {} other rejections, {} duplicates, {} errors{}",
            s.granted.get(),
            s.out_of_stock.get(),
            s.other_rejected.get(),
            s.duplicates.get(),
            s.errors.get(),
            s.last_error
                .borrow()
                .as_ref()
                .map_or(String::new(), |e| format!(" (last: {e})"))
        );
        println!(
            "  ingest meanwhile: {:.0} events/s (paced at {:.0}/s), batch latency from due time: {}",
            r.events_per_s,
            c.ingest_rate,
            r.ingest_lat.line()
        );
        println!("  claims scenario {phase}: {}", verdict(r.pass));
        r.w.print("measured window");
    }

    fn json(&self, r: &PhaseResult) -> Value {
        let (o, c, s) = (self.o, self.c, &r.stats);
        let mut v = json!({
            "scenario": "claims",
            "mode": r.phase.as_str(),
            "settings": settings_json(o, shard_count(o)),
            "claim_tasks": o.claim_tasks,
            "offered_claim_rate": if r.phase == Phase::Open { json!(c.claim_rate) } else { Value::Null },
            "ingest_rate_target": c.ingest_rate,
            "claims": r.ok,
            "claims_per_s": r.claims_per_s,
            "target_claims_per_s": r.rate_target,
            "claim_latency_us": r.lat.json(),
            "claim_service_latency_us": r.service.json(),
            "send_lag_us": r.lag.json(),
            "drain_s": r.drain_s,
            "lost": r.lost,
            "target_p99_us": TARGET_CLAIM_P99_US,
            "granted": s.granted.get(),
            "out_of_stock": s.out_of_stock.get(),
            "other_rejected": s.other_rejected.get(),
            "errors": s.errors.get(),
            "events_per_s_meanwhile": r.events_per_s,
            "ingest_batch_latency_us": r.ingest_lat.json(),
            "ingest_errors": self.ingest.errors.get(),
            "result": verdict(r.pass),
            "rate_result": verdict(r.rate_pass),
            "p99_result": verdict(r.p99_pass),
        });
        v["window"] = r.w.json();
        v
    }
}
