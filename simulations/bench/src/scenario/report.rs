//! Scenario `report`: the audit report over a one-hour window. A report
//! reads one rollup row per second of the window (looked up by second), so
//! its cost depends on the window and on how varied each second is, not on
//! the journal's size. The build journals `--seconds` seconds on a manual
//! clock, one clock second per step with `--batch` events and
//! `--claims-per-second` claims (random products, some sold out), then
//! `Archive::report` (what `trove audit report` runs) is timed over the
//! window, 9 times (target: median <= 50 ms).

use crate::cli::{Common, ReportOpts};
use crate::data_dir::DataDir;
use crate::emit::{emit, print_machine, verdict};
use crate::setup::{close, engine_config, run_in_system, store_options};
use crate::workload::{hunt_def, Gen, Names};
use anyhow::Result;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use trove_persistence::{open_engine, Archive, StoreOptions};

const TARGET_REPORT_MS: f64 = 50.0;
/// The manual clock's start, in Unix milliseconds.
const BASE: i64 = 1_777_000_000_000;
const RUNS: usize = 9;

/// Runs the scenario.
pub(crate) fn run(o: Common, r: ReportOpts) -> Result<()> {
    print_machine();
    let (dir, data, window) = match &r.reuse {
        Some(d) => {
            println!("report: reusing {}", d.display());
            (d.clone(), None, (i64::MIN / 2, i64::MAX / 2))
        }
        None => {
            let data = DataDir::create(&o)?;
            let dir = data.path.clone();
            run_in_system(build(o.clone(), r.clone(), dir.clone()))?;
            let window = if r.window_secs == 0 || r.window_secs >= r.seconds {
                (BASE, BASE + r.seconds as i64 * 1000)
            } else {
                let start = BASE + ((r.seconds - r.window_secs) / 2) as i64 * 1000;
                (start, start + r.window_secs as i64 * 1000)
            };
            (dir, Some(data), window)
        }
    };
    let archive = Archive::open(&dir)?;
    archive.catch_up()?;
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..RUNS {
        let t = Instant::now();
        let rollup = archive.report(window.0, window.1)?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
        last = Some(rollup);
    }
    drop(archive);
    let rollup = last.expect("ran");
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let (min, median, max) = (sorted[0], sorted[sorted.len() / 2], sorted[sorted.len() - 1]);
    let pass = median <= TARGET_REPORT_MS;
    println!(
        "\n== report ==\n  window: {} seconds of rows; {} records, {} (hunt, sku, outcome) claim keys, {} (hunt, type) event keys\n  Archive::report: median {median:.2} ms (min {min:.2}, max {max:.2}, 9 runs)   target <= {TARGET_REPORT_MS} ms   {}",
        if r.reuse.is_some() { "all".to_string() } else { ((window.1 - window.0) / 1000).to_string() },
        rollup.records,
        rollup.claims.len(),
        rollup.events.len(),
        verdict(pass)
    );
    emit(
        &o,
        json!({
            "scenario": "report",
            "result": verdict(pass),
            "records": rollup.records,
            "claim_keys": rollup.claims.len(),
            "event_keys": rollup.events.len(),
            "seconds": if r.reuse.is_some() { Value::Null } else { json!(r.seconds) },
            "window_seconds": (window.1 - window.0) / 1000,
            "report_ms": {"median": median, "min": min, "max": max, "runs": times},
            "target_ms": TARGET_REPORT_MS,
        }),
    );
    if let Some(data) = data {
        data.finish();
    }
    Ok(())
}

async fn build(o: Common, r: ReportOpts, dir: PathBuf) -> Result<()> {
    println!(
        "report build: {} seconds x ({} events + {} claims), data {}",
        r.seconds,
        o.batch,
        r.claims_per_second,
        dir.display()
    );
    let started = Instant::now();
    let clock = Arc::new(trove_engine::ManualClock::new(BASE));
    let options = StoreOptions {
        clock: clock.clone(),
        ..store_options(&o)
    };
    let (engine, store, _) = open_engine(&dir, options, engine_config(&o))?;
    engine.define_hunt(hunt_def(&o)).await?;
    let names = Names::new(&o);
    let mut gen = Gen::new(&names, o.seed, 9000);
    for s in 0..r.seconds {
        clock.set(BASE + s as i64 * 1000 + 1);
        engine.ingest(gen.batch(o.batch)).await?;
        let mut handles = Vec::new();
        for c in 0..r.claims_per_second {
            let engine = engine.clone();
            let req = gen.claim(format!("r-{s}-{c}"), None, o.soldout_share);
            handles.push(actix::spawn(async move { engine.claim(req).await.map(|_| ()) }));
        }
        for h in handles {
            h.await??;
        }
        if s % 600 == 599 {
            println!("  {} s built in {:.1} s", s + 1, started.elapsed().as_secs_f64());
        }
    }
    let last = engine.last_seq();
    close(&engine, &store).await?;
    println!(
        "build done: {last} journal records in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
