//! `trove serve`: startup, background tasks and graceful shutdown.
//!
//! Startup: lock check on the data folder, keys, bind the port (so `/healthz`
//! and `/readyz` answer during recovery), recover the engine from snapshot +
//! journal, rebuild the leaderboard projection from the journal, run the
//! consistency check, then report ready.
//!
//! Shutdown (SIGTERM or SIGINT): readiness goes to 503, the listener stops
//! accepting, WebSocket connections finish their requests in flight and are
//! closed with 1001, HTTP requests in flight finish, then a snapshot is
//! written, the journal is closed (everything flushed) and the process exits 0.

use crate::auth;
use crate::config::{KeySource, Settings};
use crate::folder::{build_projection, close_core, core_tasks, open_core, Core, ServeError};
use crate::http;
use crate::ops;
use crate::state::AppState;
use actix_web::dev::Service;
use actix_web::{web, App, HttpServer};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use trove_persistence::DirLock;

/// Latency buckets (seconds) for every `*_seconds` histogram.
pub(crate) const LATENCY_BUCKETS: [f64; 16] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0,
];
/// Buckets for size histograms (records per journal batch, events per request, queue depth).
pub(crate) const SIZE_BUCKETS: [f64; 14] = [
    1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0, 50000.0,
];
/// How often gauges are sampled and the metrics recorder does its upkeep.
pub(crate) const METRICS_INTERVAL: Duration = Duration::from_secs(2);
/// While not ready, the consistency check is retried this often.
pub(crate) const READINESS_RETRY: Duration = Duration::from_secs(5);

/// Installs the Prometheus recorder (once per process).
pub(crate) fn install_metrics() -> Option<PrometheusHandle> {
    let builder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &LATENCY_BUCKETS)
        .and_then(|b| b.set_buckets_for_metric(Matcher::Full("trove_journal_batch_records".into()), &SIZE_BUCKETS))
        .and_then(|b| b.set_buckets_for_metric(Matcher::Full("trove_api_event_batch_size".into()), &SIZE_BUCKETS))
        .and_then(|b| b.set_buckets_for_metric(Matcher::Full("trove_ws_outbound_queue_depth".into()), &SIZE_BUCKETS));
    match builder.and_then(|b| b.install_recorder()) {
        Ok(h) => {
            describe_metrics();
            Some(h)
        }
        Err(e) => {
            tracing::warn!(error = %e, "metrics recorder not installed");
            None
        }
    }
}

fn describe_metrics() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!("trove_events_total", "Game events accepted (durable).");
    describe_counter!(
        "trove_claims_total",
        "Claims answered, by outcome (granted or the reject reason) and whether it was a duplicate."
    );
    describe_counter!("trove_api_requests_total", "API operations by op and result code.");
    describe_histogram!(
        "trove_api_ack_seconds",
        Unit::Seconds,
        "Time from request to durable answer, by op."
    );
    describe_histogram!(
        "trove_claim_ack_seconds",
        Unit::Seconds,
        "Engine claim latency up to durability."
    );
    describe_histogram!(
        "trove_claim_decide_seconds",
        Unit::Seconds,
        "Engine claim latency up to the decision, before its journal commit."
    );
    describe_histogram!(
        "trove_journal_flush_seconds",
        Unit::Seconds,
        "Journal group-commit flush latency."
    );
    describe_histogram!(
        "trove_journal_sync_seconds",
        Unit::Seconds,
        "Journal group-commit sync latency (fdatasync of the log, then the mark)."
    );
    describe_histogram!("trove_journal_batch_records", "Records per journal group commit.");
    describe_gauge!("trove_journal_pending_records", "Records appended but not yet durable.");
    describe_gauge!(
        "trove_engine_admission_in_use",
        "Engine admission units held by work in flight."
    );
    describe_gauge!("trove_players_resident", "Player actors resident in the engine.");
    describe_gauge!("trove_ws_connections", "Open WebSocket connections.");
    describe_histogram!(
        "trove_ws_outbound_queue_depth",
        "Frames queued for a WebSocket client when one is added."
    );
    describe_gauge!("trove_feed_subscribers", "Dispatch feed subscriptions.");
    describe_gauge!(
        "trove_projection_lag_records",
        "Durable records the leaderboard projection has not applied."
    );
    describe_counter!("trove_http_requests_total", "HTTP requests by route and status.");
    describe_histogram!(
        "trove_live_sample_seconds",
        Unit::Seconds,
        "Time one sample of a console topic (stats, hunts) took, wall clock; only while someone subscribes."
    );
    describe_gauge!(
        "trove_cluster_partitions_owned",
        "Cluster: partitions this node serves."
    );
    describe_histogram!(
        "trove_cluster_partition_open_seconds",
        Unit::Seconds,
        "Cluster: taking over a partition, from its owner key to serving."
    );
    describe_histogram!(
        "trove_http_request_seconds",
        Unit::Seconds,
        "HTTP request latency by route."
    );
}

/// Runs the server until SIGTERM/SIGINT. Must run inside an actix `System`.
pub async fn serve(settings: Settings) -> Result<(), ServeError> {
    #[cfg(not(feature = "cluster"))]
    if settings.cluster.is_some() {
        return Err(ServeError::Other(
            "this trove was built without cluster support: build it with `--features cluster` (docs/CLUSTER.md)".into(),
        ));
    }
    let metrics_handle = install_metrics();
    let data = settings.data.clone();
    // 0700: the folder holds customs data (journal, snapshots) and keys.
    trove_persistence::snapshot::create_private_dir(&data).map_err(|source| ServeError::Io {
        context: format!("create data folder {}", data.display()),
        source,
    })?;
    // Refuse early if another process owns the folder (Store::open checks
    // again). A cluster's --data holds every partition's folder, each locked
    // by its owner; the root itself is shared by the nodes.
    if settings.cluster.is_none() {
        drop(DirLock::acquire(&data)?);
    }

    let keys = load_keys(&settings, &data)?;

    let state = AppState::new(keys, metrics_handle.clone(), settings.shutdown_timeout);
    let (server, addr) = start_http(&state, &settings)?;
    let server_handle = server.handle();
    let server_task = actix_web::rt::spawn(server);
    tracing::info!(%addr, data = %data.display(), "listening");
    // A machine-readable line on stdout for scripts and tests (logs go to stderr).
    {
        let mut out = std::io::stdout();
        let _ = writeln!(out, "trove listening on http://{addr}");
        let _ = writeln!(out, "trove console at http://{addr}/console/ (sign in with a key)");
        let _ = out.flush();
    }

    let signal = actix_web::rt::spawn(crate::signals::termination());

    #[cfg(feature = "cluster")]
    if let Some(cluster) = settings.cluster.clone() {
        state.set_ready(false, "joining the cluster");
        let node = match crate::cluster::start::join(&settings, &cluster).await {
            Ok(n) => n,
            Err(e) => {
                server_handle.stop(false).await;
                return Err(e);
            }
        };
        state.set_cluster(node.clone());
        state.set_ready(true, "");
        let ready_state = state.clone();
        let ready: crate::cluster::Ready = Arc::new(move |ok, why| ready_state.set_ready(ok, why));
        let drain_state = state.clone();
        let drain_handle = server_handle.clone();
        let drain = move || async move {
            drain_state.begin_shutdown();
            // Requests in flight finish before the partitions close.
            drain_handle.stop(true).await;
        };
        crate::cluster::start::serve(node, ready, metrics_handle, signal, drain).await;
        let _ = server_task.await;
        return Ok(());
    }

    // Recovery.
    let (core, report) = match open_core(data.clone(), settings.durability, None).await {
        Ok(x) => x,
        Err(e) => {
            server_handle.stop(false).await;
            return Err(e);
        }
    };
    state.set_ready(false, "rebuilding the leaderboard projection from the journal");
    state.set_core(core.clone());

    build_projection(&core.projection, core.store.dir()).await;
    let mut tasks = core_tasks(&core, &settings, report.snapshot_seq.unwrap_or(0));
    tasks.extend([
        actix_web::rt::spawn(readiness_task(state.clone(), core.clone())),
        actix_web::rt::spawn(metrics_task(core.clone(), metrics_handle)),
        actix_web::rt::spawn(crate::live::run(state.clone(), core.clone())),
    ]);

    let which = signal.await.unwrap_or("signal");
    tracing::info!(signal = which, "shutting down: finishing requests in flight");
    state.begin_shutdown();
    server_handle.stop(true).await;
    let _ = server_task.await;
    for t in &tasks {
        t.abort();
    }
    tracing::info!("server stopped; writing a snapshot");
    close_core(&core).await?;
    Ok(())
}

/// The keys of `settings`, or, when none are configured, the generated key
/// file of `data` (created on first start; its path printed on stdout).
fn load_keys(settings: &Settings, data: &std::path::Path) -> Result<auth::Keys, ServeError> {
    Ok(match settings.key_source {
        KeySource::Generated => {
            let (keys, path, created) = auth::load_or_generate(data)?;
            if created {
                let mut out = std::io::stdout();
                let _ = writeln!(
                    out,
                    "trove generated one key per role in {} (readable only by its owner)",
                    path.display()
                );
                let _ = out.flush();
                tracing::warn!(
                    path = %path.display(),
                    "no keys configured: generated one key per role (admin, game, designer, auditor) into {} (readable only by its owner)",
                    path.display()
                );
            } else {
                tracing::info!(path = %path.display(), "no keys configured: using the generated keys in {}", path.display());
            }
            keys
        }
        KeySource::Env => {
            tracing::info!(keys = settings.keys.len(), "keys from TROVE_KEYS");
            settings.keys.clone()
        }
        KeySource::ConfigFile(ref p) => {
            tracing::info!(keys = settings.keys.len(), file = %p.display(), "keys from the config file");
            settings.keys.clone()
        }
    })
}

/// Binds the listening address and builds the HTTP server (every route of
/// [`http::configure`], request metrics and logging); not yet running.
fn start_http(state: &Arc<AppState>, settings: &Settings) -> Result<(actix_web::dev::Server, SocketAddr), ServeError> {
    let listener = std::net::TcpListener::bind(&settings.listen).map_err(|source| ServeError::Bind {
        addr: settings.listen.clone(),
        source,
    })?;
    let addr: SocketAddr = listener.local_addr().map_err(|source| ServeError::Io {
        context: "read the listening address".into(),
        source,
    })?;
    let data_state = web::Data::from(state.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data_state.clone())
            .wrap_fn(|req, srv| {
                let started = Instant::now();
                let method = req.method().clone();
                let fut = srv.call(req);
                async move {
                    let res = fut.await?;
                    let route = res.request().match_pattern().unwrap_or_else(|| "unmatched".into());
                    let status = res.status().as_u16();
                    let elapsed = started.elapsed();
                    // Path pattern only: query strings (which may hold a key) are never logged.
                    tracing::debug!(%method, %route, status, ms = elapsed.as_millis() as u64, "http");
                    metrics::counter!("trove_http_requests_total", "route" => route.clone(), "status" => status.to_string())
                        .increment(1);
                    metrics::histogram!("trove_http_request_seconds", "route" => route).record(elapsed.as_secs_f64());
                    Ok(res)
                }
            })
            .wrap(crate::console::security_headers())
            .configure(http::configure)
            .configure(crate::console::configure)
            .default_service(web::to(http::not_found))
    })
    .workers(settings.workers)
    .disable_signals()
    .shutdown_timeout(settings.shutdown_timeout.as_secs().max(1))
    .listen(listener)
    .map_err(|source| ServeError::Bind {
        addr: addr.to_string(),
        source,
    })?
    .run();
    Ok((server, addr))
}

/// Marks the server ready once the consistency check passes (retrying).
async fn readiness_task(state: Arc<AppState>, core: Arc<Core>) {
    loop {
        match ops::consistency_with(&core, ops::Replay::Recovered).await {
            Ok(report) if report.ok => {
                state.live.record_consistency(&report);
                tracing::info!(journal_seq = report.journal_seq, "consistency check passed; ready");
                state.set_ready(true, "");
                return;
            }
            Ok(report) => {
                state.live.record_consistency(&report);
                let failed = report.failures();
                tracing::error!(failed = ?failed, "consistency check failed; not ready");
                state.set_ready(false, &format!("consistency check failed: {}", failed.join("; ")));
            }
            Err(e) => {
                tracing::warn!(error = %e, "consistency check could not run; not ready");
                state.set_ready(false, &format!("consistency check could not run: {e}"));
            }
        }
        tokio::time::sleep(READINESS_RETRY).await;
    }
}

async fn metrics_task(core: Arc<Core>, handle: Option<PrometheusHandle>) {
    let mut tick = tokio::time::interval(METRICS_INTERVAL);
    loop {
        tick.tick().await;
        let e = &core.engine;
        let durable = e.durable_seq();
        metrics::gauge!("trove_journal_pending_records").set(e.last_seq().saturating_sub(durable) as f64);
        metrics::gauge!("trove_journal_durable_seq").set(durable as f64);
        metrics::gauge!("trove_engine_admission_in_use").set(e.admission_in_use() as f64);
        metrics::gauge!("trove_projection_lag_records").set(durable.saturating_sub(core.projection.as_of_seq()) as f64);
        if let Ok(n) = e.player_count().await {
            metrics::gauge!("trove_players_resident").set(n as f64);
        }
        if let Some(h) = &handle {
            h.run_upkeep();
        }
    }
}
