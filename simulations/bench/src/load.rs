//! Ingest load on the engine, run as actix tasks on the System thread:
//! [`create_players`] (the unmeasured warm-up), the closed-loop and paced
//! (open-loop) ingest tasks, and [`IngestStats`], the counters they share.

use crate::cli::Common;
use crate::hist::{lat_hist, us_since};
use crate::workload::{Gen, Names};
use anyhow::{bail, Result};
use hdrhistogram::Histogram;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use trove_engine::{Engine, EngineError, EventKind, GameEvent};

/// Counters shared by the tasks of one ingest load (all on the System thread).
#[derive(Default)]
pub(crate) struct IngestStats {
    pub(crate) events: Cell<u64>,
    pub(crate) batches: Cell<u64>,
    pub(crate) errors: Cell<u64>,
    pub(crate) last_error: RefCell<Option<String>>,
    /// Batch ack latency (closed loop: from send; paced: from intended send time).
    lat: RefCell<Option<Histogram<u64>>>,
    pub(crate) gen_ns: Cell<u64>,
}

impl IngestStats {
    /// Zero counters and an empty latency histogram.
    pub(crate) fn new() -> Rc<IngestStats> {
        let s = IngestStats::default();
        *s.lat.borrow_mut() = Some(lat_hist());
        Rc::new(s)
    }

    /// Counts one batch's result and its latency from `started`.
    pub(crate) fn record(&self, started: Instant, result: Result<usize, EngineError>) {
        match result {
            Ok(n) => {
                self.events.set(self.events.get() + n as u64);
                self.batches.set(self.batches.get() + 1);
            }
            Err(e) => {
                self.errors.set(self.errors.get() + 1);
                *self.last_error.borrow_mut() = Some(format!("{} ({})", e, e.code()));
            }
        }
        if let Some(h) = self.lat.borrow_mut().as_mut() {
            h.saturating_record(us_since(started));
        }
    }

    /// Returns the latency histogram so far and starts a new one.
    pub(crate) fn take_lat(&self) -> Histogram<u64> {
        self.lat.borrow_mut().replace(lat_hist()).unwrap_or_else(lat_hist)
    }
}

/// Creates every player with one checkin event each (not measured).
pub(crate) async fn create_players(engine: &Engine, names: &Rc<Names>, o: &Common) -> Result<()> {
    let started = Instant::now();
    let next = Rc::new(Cell::new(0usize));
    let failed = Rc::new(RefCell::new(None::<String>));
    let mut handles = Vec::new();
    for t in 0..o.tasks {
        let (engine, names, next, failed) = (engine.clone(), names.clone(), next.clone(), failed.clone());
        let batch = o.batch;
        let mut gen = Gen::new(&names, o.seed, 1000 + t as u64);
        handles.push(actix::spawn(async move {
            loop {
                let from = next.get();
                if from >= names.players.len() || failed.borrow().is_some() {
                    break;
                }
                let to = (from + batch).min(names.players.len());
                next.set(to);
                let events: Vec<GameEvent> = (from..to)
                    .map(|p| {
                        let mut e = gen.event(p);
                        e.kind = EventKind::Checkin {
                            location: names.locations[p % names.locations.len()].clone(),
                        };
                        e
                    })
                    .collect();
                if let Err(e) = engine.ingest(events).await {
                    *failed.borrow_mut() = Some(e.to_string());
                }
            }
        }));
    }
    for h in handles {
        let _ = h.await;
    }
    if let Some(e) = failed.borrow().clone() {
        bail!("warm-up ingest failed: {e}");
    }
    let n = engine.player_count().await?;
    println!(
        "warm-up: {} players created in {:.1} s ({} resident)",
        names.players.len(),
        started.elapsed().as_secs_f64(),
        n
    );
    Ok(())
}

/// Closed loop: `tasks` tasks send batches back-to-back until `deadline`.
pub(crate) fn spawn_ingest_closed(
    engine: &Engine,
    names: &Rc<Names>,
    o: &Common,
    deadline: Instant,
    stream_base: u64,
    stats: &Rc<IngestStats>,
) -> Vec<JoinHandle<()>> {
    (0..o.tasks)
        .map(|t| {
            let (engine, stats) = (engine.clone(), stats.clone());
            let mut gen = Gen::new(names, o.seed, stream_base + t as u64);
            let batch = o.batch;
            actix::spawn(async move {
                while Instant::now() < deadline {
                    let g = Instant::now();
                    let events = gen.batch(batch);
                    stats.gen_ns.set(stats.gen_ns.get() + g.elapsed().as_nanos() as u64);
                    let sent = Instant::now();
                    let r = engine.ingest(events).await.map(|r| r.accepted);
                    stats.record(sent, r);
                }
            })
        })
        .collect()
}

/// Paced (open loop): batches are due at a fixed rate, spread over `tasks`
/// tasks; a late batch is sent at once, and its latency counts from when it
/// was due. Runs until `stop` is set.
pub(crate) fn spawn_ingest_paced(
    engine: &Engine,
    names: &Rc<Names>,
    o: &Common,
    rate: f64,
    stop: &Rc<Cell<bool>>,
    stats: &Rc<IngestStats>,
) -> Vec<JoinHandle<()>> {
    let start = Instant::now();
    let interval = Duration::from_secs_f64(o.batch as f64 / rate.max(1.0));
    let k = o.tasks as u32;
    (0..o.tasks)
        .map(|t| {
            let (engine, stats, stop) = (engine.clone(), stats.clone(), stop.clone());
            let mut gen = Gen::new(names, o.seed, 2000 + t as u64);
            let batch = o.batch;
            actix::spawn(async move {
                let mut j: u32 = 0;
                while !stop.get() {
                    let due = start + interval * (j * k + t as u32);
                    j += 1;
                    if due > Instant::now() {
                        tokio::time::sleep_until(tokio::time::Instant::from_std(due)).await;
                        if stop.get() {
                            break;
                        }
                    }
                    let g = Instant::now();
                    let events = gen.batch(batch);
                    stats.gen_ns.set(stats.gen_ns.get() + g.elapsed().as_nanos() as u64);
                    let r = engine.ingest(events).await.map(|r| r.accepted);
                    stats.record(due, r);
                }
            })
        })
        .collect()
}
