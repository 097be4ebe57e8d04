//! Node-to-node routes of cluster mode, under `/v1/cluster/local/`: each
//! answers for the partitions this node serves, for another node's merged
//! read (`remote`). They take the cluster's secret (from etcd, in the
//! `trove-cluster-secret` header), not a client key, and are not part of
//! the public API (not in the OpenAPI document).

use super::remote::{LocalBoards, SECRET_HEADER};
use super::ClusterNode;
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use std::sync::Arc;
use trove_protocol::ErrorCode;

/// Registers the node-to-node routes.
pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/v1/cluster/local/boards/{hunt}").route(web::get().to(boards)))
        .service(web::resource("/v1/cluster/local/granted/{hunt}").route(web::get().to(granted)));
}

/// The node, if the request carries the cluster's secret.
fn peer(state: &AppState, req: &HttpRequest) -> Result<Arc<ClusterNode>, ApiError> {
    let node = state
        .cluster()
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "not in cluster mode"))?;
    let given = req.headers().get(SECRET_HEADER).map(|v| v.as_bytes());
    let secret = node.etcd().secret().to_owned();
    // Constant-time comparison of equal-length digests.
    let ok = given.is_some_and(|g| blake3::hash(g) == blake3::hash(secret.as_bytes())) && !secret.is_empty();
    if !ok {
        return Err(ApiError::unauthorized());
    }
    Ok(node)
}

#[derive(serde::Deserialize)]
struct BoardParams {
    limit: usize,
    player: Option<String>,
    score: Option<u64>,
    find: Option<String>,
}

async fn boards(
    state: web::Data<AppState>,
    req: HttpRequest,
    hunt: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let node = peer(&state, &req)?;
    let q: BoardParams = crate::params::query(&req)?;
    let limit = q.limit.min(crate::ops::MAX_LEADERBOARD_LIMIT as usize);
    let key = match (&q.player, q.score) {
        (Some(p), Some(s)) => Some((p.as_str(), s)),
        _ => None,
    };
    let out: LocalBoards = node.local_boards(&hunt, limit, key, q.find.as_deref());
    Ok(HttpResponse::Ok().json(out))
}

async fn granted(
    state: web::Data<AppState>,
    req: HttpRequest,
    hunt: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let node = peer(&state, &req)?;
    Ok(HttpResponse::Ok().json(node.local_granted(&hunt).await))
}
