//! The live mode (`trove-sim load`): the scenario's players drive a running
//! `trove serve` over its WebSocket protocol, as `connections` game-server
//! connections, open loop at the scenario's own rate.
//!
//! Open loop means the sender never waits for answers: each second's requests
//! get intended send times spread evenly over that second, and each latency is
//! measured from the intended send time to the answer, into an HdrHistogram.
//! If the server (or the sender) falls behind, the wait counts as latency
//! (no coordinated omission).
//!
//! The hunt is defined over HTTP (`POST /v1/hunts`, a designer or admin key),
//! restocks go to `POST /v1/hunts/{hunt}/products/{sku}/stock`, and after the
//! run the server's own consistency check (`GET /v1/admin/consistency`, admin
//! key) and the hunt's ledger (`GET /v1/hunts/{hunt}`) join the invariant check.
//!
//! Every request and answer is a `trove_protocol` type, and both transports
//! go through `trove_client`: [`run_live`] with [`LiveOptions`] is the entry.
//! Inside, one module per job:
//!
//! - `target`: `--url` into the WebSocket URL and the HTTP base;
//! - `setup`: the hunt's names, its definition and restocks over HTTP;
//! - `wire`: the model's plan as protocol requests, names made once;
//! - `conn`: the pipelined connections, answers stamped on arrival;
//! - `fail`: a failed client call as an error code or HTTP status;
//! - `driver`: the open-loop schedule of each second;
//! - `book`: requests in flight and what their answers did;
//! - `stats`: counts and latency histograms per operation;
//! - `verify`: the server's ledger, consistency check and leaderboard;
//! - `summary`: the report of the run.

mod book;
mod conn;
mod driver;
mod fail;
mod setup;
mod stats;
mod summary;
mod target;
mod verify;
mod wire;

use crate::error::SimError;
use crate::model::Model;
use crate::observe::Recorder;
use crate::report::Report;
use crate::scenario::Scenario;
use book::Book;
use driver::{Driver, Io};
use std::sync::Arc;
use std::time::Duration;
use target::Target;
use tokio::sync::mpsc;
use tokio::time::Instant;
use trove_client::HttpClient;
use trove_protocol::Codec;
use wire::Wire;

/// How to reach the server and how hard to drive it.
#[derive(Clone, Debug)]
pub struct LiveOptions {
    /// `ws://host:port/v1/ws`.
    pub url: String,
    /// Key for the WebSocket (game or admin role).
    pub key: String,
    /// Key for defining the hunt and restocking (designer or admin); default `key`.
    pub design_key: Option<String>,
    /// Key for the consistency check (admin); default `key`.
    pub admin_key: Option<String>,
    /// Game-server connections (WebSockets) the players are spread over.
    pub connections: usize,
    /// Their encoding: JSON (the default) or MessagePack (`trove.v1.msgpack`).
    pub codec: Codec,
    /// Most events per `events` request.
    pub batch: usize,
    /// Run only the first this many seconds of the scenario.
    pub duration: Option<u32>,
    /// Hunt id on the server; default `<scenario hunt id>-<unix seconds>`.
    pub hunt_id: Option<String>,
    /// How long to wait for answers after the last send.
    pub drain: Duration,
    /// Seed of the player model.
    pub seed: u64,
}

/// Runs the scenario against a live server. `progress(done, total)` after
/// every second.
pub fn run_live(sc: &Scenario, opts: &LiveOptions, progress: &mut dyn FnMut(u32, u32)) -> Result<Report, SimError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| SimError::io("start the async runtime", e))?;
    rt.block_on(live(sc, opts, progress))
}

/// An HTTP client of the server with `key`.
fn http(target: &Target, key: &str) -> Result<HttpClient, SimError> {
    HttpClient::new(&target.http_base, Some(key))
        .map_err(|e| SimError::Live(format!("HTTP client for {}: {e}", target.http_base)))
}

async fn live(sc: &Scenario, opts: &LiveOptions, progress: &mut dyn FnMut(u32, u32)) -> Result<Report, SimError> {
    let target = Target::parse(&opts.url)?;
    let design = http(&target, opts.design_key.as_deref().unwrap_or(&opts.key))?;
    let ticks = opts.duration.unwrap_or(sc.duration_secs).clamp(1, sc.duration_secs);
    let wire = Wire::new(setup::names(sc, opts.hunt_id.as_deref()), sc.population.players);
    // Answers later than the drain are not waited for; the client may keep
    // a request that long (the whole run, the drain and a margin).
    let patience = Duration::from_secs(u64::from(ticks) + 60) + opts.drain;
    let (conns, answers) = conn::Conns::open(
        &target.ws_url,
        &target.http_base,
        &opts.key,
        opts.connections,
        opts.codec,
        patience,
    )
    .await?;
    // The population first (it takes a moment for many players), then the
    // hunt, timed from the moment the run starts.
    let model = Model::new(Arc::new(sc.clone()), opts.seed, true);
    let start_ms = setup::unix_ms() + 300;
    let t0 = Instant::now() + Duration::from_millis(300);
    setup::define_hunt(&design, sc, &wire.names.hunt, start_ms).await?;

    let (restocked_tx, restocked) = mpsc::unbounded_channel();
    let mut io = Io {
        conns,
        answers,
        design,
        restocked_tx,
        restocked,
    };
    let mut d = Driver {
        wire: &wire,
        book: Book::new(model, Recorder::new(sc)),
        t0,
        ticks,
        batch: opts.batch.max(1),
        max_lag: Duration::ZERO,
    };
    d.play(&mut io, opts.drain, progress).await?;
    let Io {
        conns,
        restocked_tx,
        mut restocked,
        ..
    } = io;
    drop((conns, restocked_tx));
    while let Some(r) = restocked.recv().await {
        d.restocked(r);
    }
    let end = finish(sc, opts, &target, &d).await?;
    Ok(summary::report(sc, &d, end))
}

/// The server-side checks after the run.
async fn finish(
    sc: &Scenario,
    opts: &LiveOptions,
    target: &Target,
    d: &Driver<'_>,
) -> Result<summary::Ending, SimError> {
    let book = &d.book;
    let hunt = &d.wire.names.hunt;
    let unanswered = book.unanswered();
    let game = http(target, &opts.key)?;
    let mut checks = book.rec.checks(sc, &|p| d.wire.player(p).to_owned());
    checks.push(verify::ledger_check(&game, sc, &book.rec, hunt, unanswered.1).await);
    let admin_key = opts.admin_key.as_deref().unwrap_or(&opts.key);
    let admin = http(target, admin_key)?;
    let server_checks = match admin.cluster().await {
        // A cluster checks each partition at its owner.
        Ok(map) => verify::cluster_consistency(&map, admin_key, &mut checks).await,
        Err(_) => verify::server_consistency(&admin, &mut checks).await,
    };
    Ok(summary::Ending {
        url: target.ws_url.clone(),
        connections: opts.connections.max(1),
        protocol: opts.codec.subprotocol().to_owned(),
        seed: opts.seed,
        unanswered,
        checks,
        server_checks,
        leaderboard: verify::leaderboard(&game, hunt).await,
    })
}
