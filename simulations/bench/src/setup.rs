//! Opening and closing the engine on its journal with the options the
//! command line asks for (durability, commit interval, shards), and running
//! a future on an actix System.

use crate::cli::Common;
use crate::load::create_players;
use crate::workload::{hunt_def, Names};
use anyhow::Result;
use std::future::Future;
use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, Instant};
use trove_engine::{Engine, EngineConfig};
use trove_persistence::{open_engine, DurabilityMode, Store, StoreOptions};

/// Runs `f` to completion on a new actix System.
pub(crate) fn run_in_system<F: Future<Output = Result<()>>>(f: F) -> Result<()> {
    actix::System::new().block_on(f)
}

/// Store options from `--strict` and `--commit-interval-us`.
pub(crate) fn store_options(o: &Common) -> StoreOptions {
    StoreOptions {
        durability: if o.strict {
            DurabilityMode::Strict
        } else {
            DurabilityMode::Flush
        },
        commit_interval: o
            .commit_interval_us
            .map_or(StoreOptions::default().commit_interval, Duration::from_micros),
        ..StoreOptions::default()
    }
}

/// Engine configuration from `--shards`.
pub(crate) fn engine_config(o: &Common) -> EngineConfig {
    let mut c = EngineConfig::default();
    if let Some(s) = o.shards {
        c.shards = s;
    }
    c
}

/// The number of engine shards the run uses.
pub(crate) fn shard_count(o: &Common) -> usize {
    engine_config(o).shards
}

/// Opens the engine on `dir` and prints what recovery found.
pub(crate) async fn open(dir: &Path, o: &Common) -> Result<(Engine, Rc<Store>)> {
    let t = Instant::now();
    let (engine, store, report) = open_engine(dir, store_options(o), engine_config(o))?;
    println!(
        "opened {} in {:.2} s (last_seq {}, snapshot {:?}, tail {})",
        dir.display(),
        t.elapsed().as_secs_f64(),
        report.last_seq,
        report.snapshot_seq,
        report.tail_records
    );
    Ok((engine, Rc::new(store)))
}

/// [`open`], then the benchmark hunt and its players (the events and claims
/// scenarios start from there).
pub(crate) async fn open_with_players(dir: &Path, o: &Common) -> Result<(Engine, Rc<Store>, Rc<Names>)> {
    let (engine, store) = open(dir, o).await?;
    engine.define_hunt(hunt_def(o)).await?;
    let names = Names::new(o);
    create_players(&engine, &names, o).await?;
    Ok((engine, store, names))
}

/// Closes the store (flushing the journal), then stops the engine.
pub(crate) async fn close(engine: &Engine, store: &Store) -> Result<()> {
    store.close().await?;
    engine.stop();
    Ok(())
}
