//! Scenario `events`: sustained durable ingest, closed loop, `--tasks`
//! tasks sending `--batch` events back-to-back for `--duration` seconds
//! (target >= 1,000,000 events/s).

use crate::cli::Common;
use crate::data_dir::DataDir;
use crate::emit::{emit, settings_json, verdict};
use crate::hist::HistSummary;
use crate::load::{spawn_ingest_closed, IngestStats};
use crate::perf::perf_report;
use crate::proc::rss_bytes;
use crate::setup::{close, open_with_players, shard_count};
use crate::window::{Window, WindowEnd};
use crate::workload::{Gen, Names};
use anyhow::Result;
use rand::Rng;
use serde_json::json;
use std::rc::Rc;
use std::time::{Duration, Instant};
use trove_engine::Engine;

const TARGET_EVENTS_PER_SEC: f64 = 1_000_000.0;

/// What the measured window gave.
struct Measured {
    w: WindowEnd,
    stats: Rc<IngestStats>,
    lat: HistSummary,
    catch_up_ms: f64,
}

/// Runs the scenario.
pub(crate) async fn run(o: Common) -> Result<()> {
    let data = DataDir::create(&o)?;
    println!(
        "events: {} players, {} clues, {} tasks x {} events/batch, {} s, data {}",
        o.players,
        o.clues,
        o.tasks,
        o.batch,
        o.duration,
        data.path.display()
    );
    let (engine, store, names) = open_with_players(&data.path, &o).await?;
    let m = measure(&engine, &names, &o).await?;
    report(&o, &m);
    close(&engine, &store).await?;
    data.finish();
    Ok(())
}

async fn measure(engine: &Engine, names: &Rc<Names>, o: &Common) -> Result<Measured> {
    let stats = IngestStats::new();
    let win = Window::start(engine, o.perf.as_deref());
    let deadline = win.at + Duration::from_secs_f64(o.duration);
    for h in spawn_ingest_closed(engine, names, o, deadline, 10, &stats) {
        let _ = h.await;
    }
    let w = win.end(engine);
    // Acks wait for the journal only; the player actors apply events
    // asynchronously. How far behind are they when the last batch is acked?
    let t = Instant::now();
    engine.player_count().await?;
    let mut probe = Gen::new(names, o.seed, 99);
    for _ in 0..64 {
        let p = probe.rng.gen_range(0..names.players.len());
        engine.player(&names.players[p]).await?;
    }
    let catch_up_ms = t.elapsed().as_secs_f64() * 1e3;
    let lat = HistSummary::of(&stats.take_lat());
    Ok(Measured {
        w,
        stats,
        lat,
        catch_up_ms,
    })
}

fn report(o: &Common, m: &Measured) {
    let (w, stats, lat) = (&m.w, &m.stats, &m.lat);
    let events = stats.events.get();
    let rate = events as f64 / w.secs;
    let pass = rate >= TARGET_EVENTS_PER_SEC;
    let cpu_ns_per_event = w.cpu * 1e9 / events.max(1) as f64;
    let gen_share = stats.gen_ns.get() as f64 / 1e9 / w.cpu.max(1e-9);

    println!("\n== events: sustained durable ingest ==");
    println!(
        "  {} events in {} batches over {:.2} s = {:.0} events/s   target >= {:.0}   {}",
        events,
        stats.batches.get(),
        w.secs,
        rate,
        TARGET_EVENTS_PER_SEC,
        verdict(pass)
    );
    println!("  batch ack latency: {}", lat.line());
    println!(
        "  CPU per event: {:.0} ns, of which the load generator's event building {:.0}% ({:.0} ns/event without it)",
        cpu_ns_per_event,
        100.0 * gen_share,
        cpu_ns_per_event * (1.0 - gen_share)
    );
    println!(
        "  actors caught up {:.1} ms after the last ack (shard mailboxes + 64 player queries)",
        m.catch_up_ms
    );
    if stats.errors.get() > 0 {
        println!(
            "  errors: {} batches failed, last: {}",
            stats.errors.get(),
            stats.last_error.borrow().clone().unwrap_or_default()
        );
    }
    w.print("measured window");
    println!("  RSS: {:.0} MB", rss_bytes() as f64 / 1e6);
    if let Some(p) = &o.perf {
        perf_report(p);
    }
    let mut v = json!({
        "scenario": "events",
        "settings": settings_json(o, shard_count(o)),
        "events": events,
        "batches": stats.batches.get(),
        "errors": stats.errors.get(),
        "events_per_s": rate,
        "target_events_per_s": TARGET_EVENTS_PER_SEC,
        "result": verdict(pass),
        "batch_ack_latency_us": lat.json(),
        "cpu_ns_per_event": cpu_ns_per_event,
        "generator_cpu_share": gen_share,
        "cpu_ns_per_event_without_generator": cpu_ns_per_event * (1.0 - gen_share),
        "actor_catch_up_ms": m.catch_up_ms,
        "rss_bytes": rss_bytes(),
    });
    v["window"] = w.json();
    emit(o, v);
}
