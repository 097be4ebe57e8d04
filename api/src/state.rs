//! State shared by every request handler and connection.

use crate::auth::{Action, Keys};
use crate::error::ApiError;
use crate::tickets::Tickets;
use crate::topics::Live;
use metrics_exporter_prometheus::PrometheusHandle;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::watch;
use trove_engine::Journal as _;

pub(crate) use crate::folder::Core;

pub(crate) struct AppState {
    pub(crate) keys: Keys,
    core: OnceLock<Arc<Core>>,
    /// Recovery done and the startup consistency check passed.
    ready: AtomicBool,
    /// Why the server is not ready, for `/readyz`.
    not_ready_reason: Mutex<String>,
    shutting_down: AtomicBool,
    shutdown_tx: watch::Sender<bool>,
    pub(crate) metrics: Option<PrometheusHandle>,
    pub(crate) shutdown_timeout: Duration,
    /// One-use WebSocket tickets for browsers.
    pub(crate) tickets: Tickets,
    /// The `stats` and `hunts` topics' latest values.
    pub(crate) live: Live,
    /// Cluster mode: this node's share of the cluster.
    #[cfg(feature = "cluster")]
    cluster: OnceLock<Arc<crate::cluster::ClusterNode>>,
}

impl AppState {
    /// The gate of every HTTP route: authenticates `req` (401), checks that
    /// its role may do `action` (403), and returns the ready core (503).
    ///
    /// In cluster mode the route is per partition: `?partition=N` names it.
    pub(crate) fn enter(&self, req: &actix_web::HttpRequest, action: Action) -> Result<Arc<Core>, ApiError> {
        let role = self.keys.authenticate(req, false)?;
        action.check(role)?;
        #[derive(serde::Deserialize)]
        struct Partition {
            partition: Option<u32>,
        }
        let partition = if req.query_string().contains("partition") {
            crate::params::query::<Partition>(req)?.partition
        } else {
            None
        };
        self.target()?.for_partition(partition)
    }

    pub(crate) fn new(keys: Keys, metrics: Option<PrometheusHandle>, shutdown_timeout: Duration) -> Arc<AppState> {
        Arc::new(AppState {
            keys,
            core: OnceLock::new(),
            ready: AtomicBool::new(false),
            not_ready_reason: Mutex::new("recovering state from the journal".into()),
            shutting_down: AtomicBool::new(false),
            shutdown_tx: watch::channel(false).0,
            metrics,
            shutdown_timeout,
            tickets: Tickets::default(),
            live: Live::default(),
            #[cfg(feature = "cluster")]
            cluster: OnceLock::new(),
        })
    }

    /// The engine and its companions, or `not_ready` during recovery and
    /// `shutting_down` once shutdown began.
    pub(crate) fn core(&self) -> Result<Arc<Core>, ApiError> {
        if self.is_shutting_down() {
            return Err(ApiError::shutting_down());
        }
        self.core.get().cloned().ok_or_else(ApiError::not_ready)
    }

    /// Where ops go: the single core, or this node's share of the cluster.
    pub(crate) fn target(&self) -> Result<crate::route::Target, ApiError> {
        #[cfg(feature = "cluster")]
        if let Some(node) = self.cluster.get() {
            if self.is_shutting_down() {
                return Err(ApiError::shutting_down());
            }
            return Ok(crate::route::Target::Cluster(node.clone()));
        }
        Ok(crate::route::Target::Single(self.core()?))
    }

    /// As [`AppState::enter`], answering the [`Target`](crate::route::Target).
    pub(crate) fn enter_target(
        &self,
        req: &actix_web::HttpRequest,
        action: Action,
    ) -> Result<crate::route::Target, ApiError> {
        let role = self.keys.authenticate(req, false)?;
        action.check(role)?;
        self.target()
    }

    /// Cluster mode's node, if this server is in a cluster.
    #[cfg(feature = "cluster")]
    pub(crate) fn cluster(&self) -> Option<Arc<crate::cluster::ClusterNode>> {
        self.cluster.get().cloned()
    }

    /// Enters cluster mode (once).
    #[cfg(feature = "cluster")]
    pub(crate) fn set_cluster(&self, node: Arc<crate::cluster::ClusterNode>) {
        let _ = self.cluster.set(node);
    }

    pub(crate) fn set_core(&self, core: Arc<Core>) {
        let _ = self.core.set(core);
    }

    pub(crate) fn set_ready(&self, ready: bool, reason: &str) {
        *self.not_ready_reason.lock() = reason.to_owned();
        self.ready.store(ready, Ordering::SeqCst);
    }

    /// Ready, or why not.
    pub(crate) fn readiness(&self) -> Result<(), String> {
        if self.is_shutting_down() {
            return Err("shutting down".into());
        }
        if !self.ready.load(Ordering::SeqCst) {
            return Err(self.not_ready_reason.lock().clone());
        }
        if let Some(core) = self.core.get() {
            if let Some(f) = core.store.journal().durability().borrow().failure.clone() {
                return Err(format!("journal failed: {f}"));
            }
            if let Some(f) = core.projection.failure() {
                return Err(format!("leaderboard projection failed: {f}"));
            }
        }
        Ok(())
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    pub(crate) fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
        self.shutdown_tx.send_replace(true);
    }

    /// Becomes true when shutdown begins.
    pub(crate) fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown_tx.subscribe()
    }
}
