//! Node-to-node reads of cluster mode, under `/v1/cluster/local/`: each
//! answers for the partitions this node serves, for another node's merged
//! read (`remote`). They take the cluster's secret (from etcd, in the
//! `trove-cluster-secret` header), not a client key, and are not part of
//! the public API (not in the OpenAPI document). `http` registers them and
//! hands them the node.

use super::node::ClusterNode;
use super::remote::{LocalBoards, SECRET_HEADER};
use crate::error::ApiError;
use actix_web::{HttpRequest, HttpResponse};

/// Largest `limit` of a node-to-node board read (the leaderboard op's).
const MAX_LIMIT: usize = crate::params::MAX_LEADERBOARD_LIMIT as usize;

/// Ok if the request carries the cluster's secret.
fn check_peer(node: &ClusterNode, req: &HttpRequest) -> Result<(), ApiError> {
    let given = req.headers().get(SECRET_HEADER).map(|v| v.as_bytes());
    let secret = node.etcd().secret().to_owned();
    // Compared as digests: equal length, no early exit on the secret's bytes.
    let ok = !secret.is_empty() && given.is_some_and(|g| blake3::hash(g) == blake3::hash(secret.as_bytes()));
    if ok {
        Ok(())
    } else {
        Err(ApiError::unauthorized())
    }
}

#[derive(serde::Deserialize)]
struct BoardParams {
    limit: usize,
    player: Option<String>,
    score: Option<u64>,
    find: Option<String>,
}

/// `GET /v1/cluster/local/boards/{hunt}?limit=N[&player=P&score=S][&find=P]`.
pub(crate) async fn boards(node: &ClusterNode, req: &HttpRequest, hunt: &str) -> Result<HttpResponse, ApiError> {
    check_peer(node, req)?;
    let q: BoardParams = crate::params::query(req)?;
    let key = match (&q.player, q.score) {
        (Some(p), Some(s)) => Some((p.as_str(), s)),
        _ => None,
    };
    let out: LocalBoards = node.local_boards(hunt, q.limit.min(MAX_LIMIT), key, q.find.as_deref());
    Ok(HttpResponse::Ok().json(out))
}

/// `GET /v1/cluster/local/granted/{hunt}`.
pub(crate) async fn granted(node: &ClusterNode, req: &HttpRequest, hunt: &str) -> Result<HttpResponse, ApiError> {
    check_peer(node, req)?;
    Ok(HttpResponse::Ok().json(node.local_granted(hunt).await))
}
