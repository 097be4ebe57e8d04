//! Scenario `recovery`: builds a journal of `--events` events with a
//! snapshot `--tail` events before its end (or takes `--reuse DIR`), then
//! measures (a) reopening from the snapshot until every shard answers
//! (target <= 5 s) and (b) a full offline replay (target >= 3M records/s).

use crate::cli::{Common, RecoveryOpts};
use crate::data_dir::DataDir;
use crate::emit::{emit, settings_json, verdict};
use crate::load::{create_players, IngestStats};
use crate::proc::{dir_size, drop_caches, process_cpu_secs, rss_bytes};
use crate::setup::{close, engine_config, open, run_in_system, shard_count, store_options};
use crate::workload::{hunt_def, player_id, Gen, Names};
use anyhow::{bail, Result};
use serde_json::{json, Value};
use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};
use trove_engine::{Engine, World};
use trove_persistence::{open_engine, read_journal, RecoveryReport};

const TARGET_REOPEN_SECS: f64 = 5.0;
const TARGET_REPLAY_PER_SEC: f64 = 3_000_000.0;

/// Runs the scenario (on its own actix Systems: one for the build, one for the reopen).
pub(crate) fn run(o: Common, r: RecoveryOpts) -> Result<()> {
    let (dir, data) = match &r.reuse {
        Some(d) => {
            if !d.join("journal").exists() {
                bail!("--reuse {}: no journal/ in it", d.display());
            }
            println!("recovery: reusing {}", d.display());
            (d.clone(), None)
        }
        None => {
            let data = DataDir::create(&o)?;
            let dir = data.path.clone();
            run_in_system(build(o.clone(), r.clone(), dir.clone()))?;
            (dir, Some(data))
        }
    };
    let result = measure(&o, &r, &dir);
    if let Some(data) = data {
        if result.is_ok() && !o.keep {
            println!("(add --keep to keep the data folder for `recovery --reuse DIR`)");
        }
        data.finish();
    }
    result
}

async fn build(o: Common, r: RecoveryOpts, dir: PathBuf) -> Result<()> {
    let tail = r.tail.unwrap_or((r.events / 20).min(1_000_000));
    println!(
        "recovery build: {} players, {} events ({} after the snapshot), {} claims, {} tasks x {}, data {}",
        o.players,
        r.events,
        tail,
        r.build_claims,
        o.tasks,
        o.batch,
        dir.display()
    );
    let started = Instant::now();
    let (engine, store) = open(&dir, &o).await?;
    engine.define_hunt(hunt_def(&o)).await?;
    let names = Names::new(&o);
    create_players(&engine, &names, &o).await?;
    build_claims(&engine, &names, &o, r.build_claims).await;

    // Bulk events up to the snapshot point, then the tail.
    let warm = o.players as u64;
    let before_snapshot = r.events.saturating_sub(tail).saturating_sub(warm);
    ingest_count(&engine, &names, &o, before_snapshot, 20_000, "before snapshot").await?;
    let t = Instant::now();
    let seq = store.snapshot(&engine).await?;
    let snap_size = trove_persistence::snapshot::list(&dir)
        .ok()
        .and_then(|l| l.first().and_then(|(_, p)| std::fs::metadata(p).ok()))
        .map_or(0, |m| m.len());
    println!(
        "snapshot at seq {seq} written in {:.2} s ({:.1} MB)",
        t.elapsed().as_secs_f64(),
        snap_size as f64 / 1e6
    );
    ingest_count(&engine, &names, &o, tail, 30_000, "tail").await?;
    let last = engine.last_seq();
    close(&engine, &store).await?;
    println!(
        "build done: {} journal records in {:.1} s; journal {:.1} MB on disk",
        last,
        started.elapsed().as_secs_f64(),
        dir_size(&dir.join("journal")) as f64 / 1e6
    );
    Ok(())
}

/// `total` claims (so the snapshot and replay carry dedup state too).
async fn build_claims(engine: &Engine, names: &Rc<Names>, o: &Common, total: u64) {
    let next = Rc::new(Cell::new(0u64));
    let mut handles = Vec::new();
    for k in 0..o.claim_tasks {
        let (engine, next) = (engine.clone(), next.clone());
        let mut gen = Gen::new(names, o.seed, 7000 + k as u64);
        let share = o.soldout_share;
        handles.push(actix::spawn(async move {
            loop {
                let i = next.get();
                if i >= total {
                    break;
                }
                next.set(i + 1);
                engine
                    .claim(gen.claim(format!("r-{i}"), None, share))
                    .await
                    .expect("claim");
            }
        }));
    }
    for h in handles {
        let _ = h.await;
    }
}

/// Ingests `count` events with the closed-loop load, printing progress.
async fn ingest_count(
    engine: &Engine,
    names: &Rc<Names>,
    o: &Common,
    count: u64,
    stream: u64,
    label: &str,
) -> Result<()> {
    if count == 0 {
        return Ok(());
    }
    let started = Instant::now();
    let remaining = Rc::new(Cell::new(count));
    let stats = IngestStats::new();
    let mut handles = Vec::new();
    for t in 0..o.tasks {
        let (engine, remaining, stats) = (engine.clone(), remaining.clone(), stats.clone());
        let mut gen = Gen::new(names, o.seed, stream + t as u64);
        let batch = o.batch as u64;
        handles.push(actix::spawn(async move {
            loop {
                let n = remaining.get().min(batch);
                if n == 0 || stats.errors.get() > 0 {
                    break;
                }
                remaining.set(remaining.get() - n);
                let events = gen.batch(n as usize);
                let sent = Instant::now();
                let r = engine.ingest(events).await.map(|r| r.accepted);
                stats.record(sent, r);
            }
        }));
    }
    let progress = {
        let stats = stats.clone();
        let label = label.to_owned();
        actix::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                let done = stats.events.get();
                let s = started.elapsed().as_secs_f64();
                let rate = done as f64 / s;
                println!(
                    "  {label}: {done}/{count} events, {:.0} events/s, ETA {:.0} s",
                    rate,
                    (count - done.min(count)) as f64 / rate.max(1.0)
                );
            }
        })
    };
    for h in handles {
        let _ = h.await;
    }
    progress.abort();
    if stats.errors.get() > 0 {
        bail!(
            "ingest failed: {}",
            stats.last_error.borrow().clone().unwrap_or_default()
        );
    }
    println!(
        "  {label}: {} events in {:.1} s ({:.0} events/s)",
        stats.events.get(),
        started.elapsed().as_secs_f64(),
        stats.events.get() as f64 / started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// (a) reopen: `open_engine` (snapshot + tail) until the engine answers.
struct Reopen {
    report: RecoveryReport,
    opened: f64,
    first_answer: f64,
    all_loaded: f64,
    players: usize,
    found: bool,
    rss_before: u64,
    rss_open: u64,
    cpu: f64,
}

/// (b) replay rates, offline.
struct Replay {
    last_seq: u64,
    journal_open: f64,
    scan_records: u64,
    scan_s: f64,
    replay_s: f64,
    replay_cpu: f64,
    players: usize,
}

fn measure(o: &Common, r: &RecoveryOpts, dir: &Path) -> Result<()> {
    let journal_disk = dir_size(&dir.join("journal"));
    let snapshot_disk = dir_size(&dir.join("snapshots"));
    let a = reopen(o, r, dir)?;
    let b = replay(r, dir)?;
    let verify = if r.verify { verify(dir)? } else { Value::Null };
    let reopen_pass = a.all_loaded <= TARGET_REOPEN_SECS && a.report.snapshot_seq.is_some();
    let replay_rate = b.last_seq as f64 / b.replay_s;
    let replay_pass = replay_rate >= TARGET_REPLAY_PER_SEC;
    let scan_rate = b.scan_records as f64 / b.scan_s;

    println!("\n== recovery ==");
    println!(
        "  data: {} records, journal {:.1} MB, snapshots {:.1} MB, {} players",
        b.last_seq,
        journal_disk as f64 / 1e6,
        snapshot_disk as f64 / 1e6,
        a.players
    );
    println!(
        "  (a) reopen: open_engine {:.2} s (snapshot {:?} + {} tail records, recovery {:.2} s), first player answer \
         {:.2} s (found: {}), all shards loaded {:.2} s; CPU {:.2} s; RSS {:.0} MB ({:.0} bytes/player)   target <= {:.1} s   {}",
        a.opened,
        a.report.snapshot_seq,
        a.report.tail_records,
        a.report.elapsed.as_secs_f64(),
        a.first_answer,
        a.found,
        a.all_loaded,
        a.cpu,
        a.rss_open as f64 / 1e6,
        a.rss_open.saturating_sub(a.rss_before) as f64 / a.players.max(1) as f64,
        TARGET_REOPEN_SECS,
        verdict(reopen_pass)
    );
    println!(
        "  (b) full replay (Archive::scan + World::apply_view): {} records in {:.2} s = {:.0} records/s (CPU {:.2} s; {} players)   target >= {:.0}   {}",
        b.last_seq,
        b.replay_s,
        replay_rate,
        b.replay_cpu,
        b.players,
        TARGET_REPLAY_PER_SEC,
        verdict(replay_pass)
    );
    println!(
        "      of which read + check + decode only (Archive::scan, no apply): {:.2} s = {:.0} records/s; journal open {:.2} s",
        b.scan_s, scan_rate, b.journal_open
    );
    emit(
        o,
        json!({
            "scenario": "recovery",
            "settings": settings_json(o, shard_count(o)),
            "dir": dir.display().to_string(),
            "journal_records": b.last_seq,
            "journal_disk_bytes": journal_disk,
            "snapshot_disk_bytes": snapshot_disk,
            "cold_cache": r.drop_caches,
            "reopen": {
                "open_engine_s": a.opened,
                "recovery_s": a.report.elapsed.as_secs_f64(),
                "snapshot_seq": a.report.snapshot_seq,
                "tail_records": a.report.tail_records,
                "first_answer_s": a.first_answer,
                "all_loaded_s": a.all_loaded,
                "cpu_s": a.cpu,
                "players": a.players,
                "rss_bytes": a.rss_open,
                "target_s": TARGET_REOPEN_SECS,
                "result": verdict(reopen_pass),
            },
            "replay": {
                "records": b.last_seq,
                "secs": b.replay_s,
                "records_per_s": replay_rate,
                "cpu_s": b.replay_cpu,
                "scan_only_s": b.scan_s,
                "scan_only_records_per_s": scan_rate,
                "journal_open_s": b.journal_open,
                "target_records_per_s": TARGET_REPLAY_PER_SEC,
                "result": verdict(replay_pass),
            },
            "verify": verify,
            "result": verdict(reopen_pass && replay_pass),
        }),
    );
    Ok(())
}

fn reopen(o: &Common, r: &RecoveryOpts, dir: &Path) -> Result<Reopen> {
    if r.drop_caches {
        drop_caches();
    }
    let rss_before = rss_bytes();
    let cpu0 = process_cpu_secs();
    let probe: Vec<String> = (0..16).map(|i| player_id(i * o.players.max(16) / 16)).collect();
    let mut reopen = actix::System::new().block_on(async {
        let t = Instant::now();
        let (engine, store, report) = open_engine(dir, store_options(o), engine_config(o))?;
        let opened = t.elapsed().as_secs_f64();
        let first = engine.player(&probe[0]).await?;
        let first_answer = t.elapsed().as_secs_f64();
        for p in &probe[1..] {
            engine.player(p).await?;
        }
        let players = engine.player_count().await?;
        let all_loaded = t.elapsed().as_secs_f64();
        let rss_open = rss_bytes();
        close(&engine, &store).await?;
        anyhow::Ok(Reopen {
            report,
            opened,
            first_answer,
            all_loaded,
            players,
            found: first.is_some(),
            rss_before,
            rss_open,
            cpu: 0.0,
        })
    })?;
    reopen.cpu = process_cpu_secs() - cpu0;
    Ok(reopen)
}

fn replay(r: &RecoveryOpts, dir: &Path) -> Result<Replay> {
    if r.drop_caches {
        drop_caches();
    }
    let t = Instant::now();
    let end = read_journal(dir, u64::MAX - 1, |_, _, _| {})?;
    let journal_open = t.elapsed().as_secs_f64();

    if r.drop_caches {
        drop_caches();
    }
    // The replay path recovery, verify and rebuild use: borrowed record views.
    let archive = trove_persistence::Archive::open(dir)?;
    let t = Instant::now();
    let mut n = 0u64;
    archive.scan(0, |_, _, _| {
        n += 1;
        true
    })?;
    let scan_s = t.elapsed().as_secs_f64();

    if r.drop_caches {
        drop_caches();
    }
    let t = Instant::now();
    let cpu0 = process_cpu_secs();
    let mut world = World::default();
    let mut failure = None;
    archive.scan(0, |seq, _, r| match world.apply_view(seq, &r) {
        Ok(()) => true,
        Err(e) => {
            failure = Some(e.to_string());
            false
        }
    })?;
    drop(archive);
    let replay_s = t.elapsed().as_secs_f64();
    let replay_cpu = process_cpu_secs() - cpu0;
    if let Some(f) = failure {
        bail!("replay failed: {f}");
    }
    Ok(Replay {
        last_seq: end.last_seq,
        journal_open,
        scan_records: n,
        scan_s,
        replay_s,
        replay_cpu,
        players: world.players.len(),
    })
}

/// `--verify`: times `trove_persistence::verify` and prints its checks.
fn verify(dir: &Path) -> Result<Value> {
    let t = Instant::now();
    let r = trove_persistence::verify(dir)?;
    let s = t.elapsed().as_secs_f64();
    println!("verify: {} in {:.1} s", if r.ok() { "ok" } else { "FAILED" }, s);
    for c in &r.checks {
        println!("  [{}] {}: {}", if c.ok { "ok" } else { "FAIL" }, c.name, c.detail);
    }
    Ok(json!({"ok": r.ok(), "secs": s, "records_per_s": r.journal_last_seq as f64 / s}))
}
