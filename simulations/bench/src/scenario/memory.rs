//! Scenario `memory`: RSS per resident player after `--events-per-player`
//! events and `--claims-per-player` claims for every player, measured at
//! each stage (target <= 2 KB/player).

use crate::cli::{Common, MemoryOpts};
use crate::data_dir::DataDir;
use crate::emit::{emit, settings_json, verdict};
use crate::load::create_players;
use crate::proc::{dir_size, rss_bytes, status_kb};
use crate::setup::{close, open, shard_count};
use crate::workload::{hunt_def, Gen, Names};
use anyhow::Result;
use serde_json::json;
use std::cell::Cell;
use std::path::Path;
use std::rc::Rc;
use std::time::Instant;
use trove_engine::{Engine, GameEvent};

const TARGET_BYTES_PER_PLAYER: f64 = 2048.0;

/// RSS at each stage, in bytes.
struct Rss {
    before_engine: u64,
    empty_engine: u64,
    players_events: u64,
    players_events_claims: u64,
    holding_dump: u64,
    after_dump: u64,
}

/// Runs the scenario.
pub(crate) async fn run(o: Common, m: MemoryOpts) -> Result<()> {
    let data = DataDir::create(&o)?;
    println!(
        "memory: {} players x {} events + {} claims each, data {}",
        o.players,
        m.events_per_player,
        m.claims_per_player,
        data.path.display()
    );
    let names = Names::new(&o);
    let rss0 = rss_bytes();
    println!("  RSS before engine start: {:.1} MB", rss0 as f64 / 1e6);
    let (engine, store) = open(&data.path, &o).await?;
    engine.define_hunt(hunt_def(&o)).await?;
    let rss1 = rss_bytes();
    println!("  RSS with an empty engine: {:.1} MB", rss1 as f64 / 1e6);

    let t = Instant::now();
    ingest_passes(&engine, &names, &o, &m).await?;
    let events_s = t.elapsed().as_secs_f64();
    let rss2 = rss_bytes();
    println!(
        "  {} events ingested in {:.1} s; RSS {:.1} MB",
        o.players * m.events_per_player,
        events_s,
        rss2 as f64 / 1e6
    );
    let resident = claim_all(&engine, &names, &o, &m).await?;
    let rss3 = rss_bytes();

    let t = Instant::now();
    let world = engine.dump().await?;
    let dump_s = t.elapsed().as_secs_f64();
    let rss4 = rss_bytes();
    let snapshot_bytes = trove_persistence::snapshot::encode_value(&world)
        .map(|b| b.len())
        .unwrap_or(0);
    drop(world);
    let rss = Rss {
        before_engine: rss0,
        empty_engine: rss1,
        players_events: rss2,
        players_events_claims: rss3,
        holding_dump: rss4,
        after_dump: rss_bytes(),
    };
    report(&o, &m, &data.path, &rss, resident, snapshot_bytes, dump_s);
    close(&engine, &store).await?;
    data.finish();
    Ok(())
}

/// Pass 0 creates every player (one checkin each); later passes add one
/// event of the usual mix per player.
async fn ingest_passes(engine: &Engine, names: &Rc<Names>, o: &Common, m: &MemoryOpts) -> Result<()> {
    create_players(engine, names, o).await?;
    for pass in 1..m.events_per_player {
        let next = Rc::new(Cell::new(0usize));
        let mut handles = Vec::new();
        for k in 0..o.tasks {
            let (engine, names, next) = (engine.clone(), names.clone(), next.clone());
            let mut gen = Gen::new(&names, o.seed, 5000 + (pass * 100 + k) as u64);
            let batch = o.batch;
            handles.push(actix::spawn(async move {
                loop {
                    let from = next.get();
                    if from >= names.players.len() {
                        break;
                    }
                    let to = (from + batch).min(names.players.len());
                    next.set(to);
                    let events: Vec<GameEvent> = (from..to).map(|p| gen.event(p)).collect();
                    engine.ingest(events).await.expect("ingest");
                }
            }));
        }
        for h in handles {
            let _ = h.await;
        }
    }
    Ok(())
}

/// `--claims-per-player` claims for every player; returns the resident players.
async fn claim_all(engine: &Engine, names: &Rc<Names>, o: &Common, m: &MemoryOpts) -> Result<usize> {
    let t = Instant::now();
    let next = Rc::new(Cell::new(0usize));
    let total_claims = o.players * m.claims_per_player;
    let mut handles = Vec::new();
    let granted = Rc::new(Cell::new(0u64));
    for k in 0..o.claim_tasks {
        let (engine, next, granted) = (engine.clone(), next.clone(), granted.clone());
        let mut gen = Gen::new(names, o.seed, 6000 + k as u64);
        let players = o.players;
        handles.push(actix::spawn(async move {
            loop {
                let i = next.get();
                if i >= total_claims {
                    break;
                }
                next.set(i + 1);
                let req = gen.claim(format!("m-{i}"), Some(i % players), 0.0);
                let r = engine.claim(req).await.expect("claim");
                if r.outcome.is_granted() {
                    granted.set(granted.get() + 1);
                }
            }
        }));
    }
    for h in handles {
        let _ = h.await;
    }
    let claims_s = t.elapsed().as_secs_f64();
    let resident = engine.player_count().await?;
    println!(
        "  {} claims ({} granted) in {:.1} s; {} players resident; RSS {:.1} MB",
        total_claims,
        granted.get(),
        claims_s,
        resident,
        rss_bytes() as f64 / 1e6
    );
    Ok(resident)
}

fn report(o: &Common, m: &MemoryOpts, dir: &Path, rss: &Rss, resident: usize, snapshot_bytes: usize, dump_s: f64) {
    let journal_disk = dir_size(&dir.join("journal"));
    let players = o.players as f64;
    let per_player = (rss.players_events_claims.saturating_sub(rss.before_engine)) as f64 / players;
    let per_player_engine = (rss.players_events_claims.saturating_sub(rss.empty_engine)) as f64 / players;
    let per_player_after_dump = (rss.after_dump.saturating_sub(rss.before_engine)) as f64 / players;
    let pass = per_player <= TARGET_BYTES_PER_PLAYER;

    println!("\n== memory: resident players ==");
    println!(
        "  RSS: before engine {:.1} MB | empty engine {:.1} MB | players+events {:.1} MB | +claims {:.1} MB | \
         holding a dump {:.1} MB | dump dropped {:.1} MB  (peak VmHWM {:.1} MB)",
        rss.before_engine as f64 / 1e6,
        rss.empty_engine as f64 / 1e6,
        rss.players_events as f64 / 1e6,
        rss.players_events_claims as f64 / 1e6,
        rss.holding_dump as f64 / 1e6,
        rss.after_dump as f64 / 1e6,
        status_kb("VmHWM:") as f64 * 1024.0 / 1e6
    );
    println!(
        "  per player (all players + events + claims resident, vs before engine start): {:.0} bytes   target <= {:.0}   {}",
        per_player,
        TARGET_BYTES_PER_PLAYER,
        verdict(pass)
    );
    println!(
        "  per player vs empty engine: {:.0} bytes; after a dump (dropped): {:.0} bytes; \
         the same state encoded as a snapshot: {:.0} bytes/player; dump took {:.2} s",
        per_player_engine,
        per_player_after_dump,
        snapshot_bytes as f64 / players,
        dump_s
    );
    println!(
        "  journal on disk: {:.1} MB (read through the kernel's page cache)",
        journal_disk as f64 / 1e6
    );
    emit(
        o,
        json!({
            "scenario": "memory",
            "settings": settings_json(o, shard_count(o)),
            "events_per_player": m.events_per_player,
            "claims_per_player": m.claims_per_player,
            "players_resident": resident,
            "rss_bytes": {
                "before_engine": rss.before_engine, "empty_engine": rss.empty_engine,
                "players_events": rss.players_events, "players_events_claims": rss.players_events_claims,
                "holding_dump": rss.holding_dump, "after_dump_dropped": rss.after_dump,
                "hwm": status_kb("VmHWM:") * 1024,
            },
            "bytes_per_player": per_player,
            "bytes_per_player_vs_empty_engine": per_player_engine,
            "bytes_per_player_after_dump": per_player_after_dump,
            "snapshot_bytes_per_player": snapshot_bytes as f64 / players,
            "journal_disk_bytes": journal_disk,
            "target_bytes_per_player": TARGET_BYTES_PER_PLAYER,
            "result": verdict(pass),
        }),
    );
}
