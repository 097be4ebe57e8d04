//! Joining a cluster and running this node in it until shutdown: the
//! server (`server`) calls [`join`], publishes the node to its handlers,
//! then [`serve`]s until its signal.

use super::control;
use super::node::{margin_for, ClusterNode, Ready};
use crate::config::{ClusterSettings, Settings};
use crate::folder::ServeError;
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::Arc;
use trove_cluster::{Cluster, ClusterConfig};

/// Joins the cluster of `cs` (creating it if it does not exist yet).
pub(crate) async fn join(settings: &Settings, cs: &ClusterSettings) -> Result<Arc<ClusterNode>, ServeError> {
    let config = ClusterConfig {
        endpoints: cs.endpoints.clone(),
        prefix: cs.prefix.clone(),
        node: cs.node.clone(),
        advertise: cs.advertise.clone(),
        partitions: cs.partitions,
        lease_ttl: cs.lease_ttl,
        margin: margin_for(cs.lease_ttl),
        secret: {
            use rand::RngCore;
            let mut b = [0u8; 32];
            rand::thread_rng().fill_bytes(&mut b);
            b.iter().map(|x| format!("{x:02x}")).collect()
        },
    };
    let cluster = Cluster::join(&config)
        .await
        .map_err(|e| ServeError::Other(format!("cannot join the cluster: {e}")))?;
    tracing::info!(node = %cs.node, partitions = cluster.partitions(), lease = cluster.lease_id(), "joined the cluster");
    let node = ClusterNode::new(cluster, settings, cs.lease_ttl)
        .map_err(|e| ServeError::Other(format!("http client: {e}")))?;
    Ok(Arc::new(node))
}

/// Runs the control loop until `signal`; then (after `drain`, which stops
/// the HTTP server with its requests in flight finished) closes every
/// partition, releases it and leaves the cluster.
pub(crate) async fn serve<F: std::future::Future<Output = ()>>(
    node: Arc<ClusterNode>,
    ready: Ready,
    metrics: Option<PrometheusHandle>,
    signal: actix_web::rt::task::JoinHandle<&'static str>,
    drain: impl FnOnce() -> F,
) {
    let control = actix_web::rt::spawn(control::run(node.clone(), ready, metrics));
    let which = signal.await.unwrap_or("signal");
    tracing::info!(
        signal = which,
        "shutting down: closing partitions and leaving the cluster"
    );
    drain().await;
    control.abort();
    control::leave(&node).await;
}
