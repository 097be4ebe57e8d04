//! HTTP routes. Each handler authenticates (401), checks the role (403),
//! checks readiness (503), then parses its input.

use crate::auth::Action;
use crate::error::ApiError;
use crate::ops;
use crate::params;
use crate::route::Target;
use crate::state::AppState;
use crate::wire;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use futures_util::StreamExt;
use serde::Serialize;
use trove_protocol::{self as p, parse, ErrorCode, Fields};

/// Largest HTTP request body (the same as the largest WebSocket message).
pub(crate) const MAX_BODY_BYTES: usize = crate::ws::MAX_MESSAGE_BYTES;

/// An oversized body is read and discarded up to this size before the 413 answer.
pub(crate) const DRAIN_LIMIT_BYTES: usize = 16 << 20;

type Data = web::Data<AppState>;

/// A resource of [`trove_protocol::ROUTES`]: a method it does not declare is
/// `405 method_not_allowed` with an `Allow` header naming the ones it does.
fn resource(path: &'static str) -> actix_web::Resource {
    let allow = p::ROUTES
        .iter()
        .find(|(route, _)| *route == path)
        .map(|(_, methods)| methods.join(", "))
        .unwrap_or_else(|| panic!("{path} is not in trove_protocol::ROUTES"));
    web::resource(path).default_service(web::to(move || {
        let allow = allow.clone();
        async move { method_not_allowed(&allow) }
    }))
}

/// Registers every route of [`trove_protocol::ROUTES`].
pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/healthz").route(web::get().to(healthz)))
        .service(resource("/readyz").route(web::get().to(readyz)))
        .service(resource("/metrics").route(web::get().to(metrics)))
        .service(resource("/v1/openapi.json").route(web::get().to(openapi)))
        .service(resource("/v1/ws").route(web::get().to(crate::ws::upgrade)))
        .service(resource("/v1/ws/ticket").route(web::post().to(ws_ticket)))
        .service(resource("/v1/whoami").route(web::get().to(whoami)))
        .service(
            resource("/v1/hunts")
                .route(web::post().to(define_hunt))
                .route(web::get().to(list_hunts)),
        )
        .service(resource("/v1/hunts/{hunt}").route(web::get().to(get_hunt)))
        .service(resource("/v1/hunts/{hunt}/products/{sku}/stock").route(web::post().to(add_stock)))
        .service(resource("/v1/hunts/{hunt}/players/{player}").route(web::get().to(get_player)))
        .service(resource("/v1/hunts/{hunt}/leaderboard").route(web::get().to(get_leaderboard)))
        .service(resource("/v1/events").route(web::post().to(post_events)))
        .service(resource("/v1/claims").route(web::post().to(post_claims)))
        .service(resource("/v1/admin/consistency").route(web::get().to(consistency)))
        .service(resource("/v1/admin/snapshot").route(web::post().to(snapshot)))
        .service(resource("/v1/audit/claims").route(web::get().to(audit_claims)))
        .service(resource("/v1/audit/export").route(web::get().to(crate::audit_routes::export)))
        .service(resource("/v1/audit/report").route(web::get().to(crate::audit_routes::report)))
        .service(resource("/v1/audit/head").route(web::get().to(audit_head)))
        .service(resource("/v1/cluster").route(web::get().to(cluster_map)));
    #[cfg(feature = "cluster")]
    cfg.service(web::resource("/v1/cluster/local/boards/{hunt}").route(web::get().to(peer_boards)))
        .service(web::resource("/v1/cluster/local/granted/{hunt}").route(web::get().to(peer_granted)));
}

/// The cluster node, for a node-to-node route (`404` on a single node).
#[cfg(feature = "cluster")]
fn peer_node(state: &AppState) -> Result<std::sync::Arc<crate::cluster::ClusterNode>, ApiError> {
    state
        .cluster()
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "not in cluster mode"))
}

#[cfg(feature = "cluster")]
async fn peer_boards(state: Data, req: HttpRequest, hunt: web::Path<String>) -> Result<HttpResponse, ApiError> {
    crate::cluster::routes::boards(&*peer_node(&state)?, &req, &hunt).await
}

#[cfg(feature = "cluster")]
async fn peer_granted(state: Data, req: HttpRequest, hunt: web::Path<String>) -> Result<HttpResponse, ApiError> {
    crate::cluster::routes::granted(&*peer_node(&state)?, &req, &hunt).await
}

/// `GET /v1/cluster`: the partition map (any valid key); `404 not_found`
/// on a single node.
async fn cluster_map(state: Data, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    state.keys.authenticate(&req, false)?;
    #[cfg(feature = "cluster")]
    if let Some(node) = state.cluster() {
        return Ok(ok(node.map()));
    }
    Err(ApiError::new(
        ErrorCode::NotFound,
        "this server is a single node, not part of a cluster (see docs/CLUSTER.md)",
    ))
}

/// The answer for a path that does not exist: `404 not_found`.
pub(crate) async fn not_found() -> HttpResponse {
    ApiError::new(ErrorCode::NotFound, "no such endpoint").error_response()
}

fn method_not_allowed(allow: &str) -> HttpResponse {
    let mut r = ApiError::new(
        ErrorCode::MethodNotAllowed,
        format!("method not allowed on this endpoint; allowed: {allow}"),
    )
    .error_response();
    if let Ok(v) = header::HeaderValue::from_str(allow) {
        r.headers_mut().insert(header::ALLOW, v);
    }
    r
}

/// Reads a request body of at most [`MAX_BODY_BYTES`]; an empty body is
/// `invalid_json`. Parsing is the caller's (`trove_protocol::parse`).
async fn read_body(mut payload: web::Payload) -> Result<web::BytesMut, ApiError> {
    let mut body = web::BytesMut::new();
    let mut total = 0usize;
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::invalid_request(format!("reading the body failed: {e}")))?;
        total += chunk.len();
        if total > MAX_BODY_BYTES {
            // Read (and drop) the rest up to a cap so the client gets its
            // answer instead of a reset connection.
            if total > DRAIN_LIMIT_BYTES {
                break;
            }
            continue;
        }
        body.extend_from_slice(&chunk);
    }
    if total > MAX_BODY_BYTES {
        return Err(ApiError::message_too_large(total, MAX_BODY_BYTES));
    }
    if body.is_empty() {
        return Err(ApiError::invalid_json("the request body is empty; send a JSON object"));
    }
    Ok(body)
}

/// A query string as `T`; a bad one is `invalid_request`.
fn ok<T: Serialize>(v: T) -> HttpResponse {
    HttpResponse::Ok().json(v)
}

async fn healthz() -> HttpResponse {
    ok(p::Health { status: "ok".into() })
}

async fn readyz(state: Data) -> HttpResponse {
    match state.readiness() {
        Ok(()) => ok(p::Readiness {
            ready: true,
            reason: None,
        }),
        Err(reason) => HttpResponse::ServiceUnavailable().json(p::Readiness {
            ready: false,
            reason: Some(reason.to_string()),
        }),
    }
}

async fn metrics(state: Data) -> HttpResponse {
    match &state.metrics {
        Some(h) => HttpResponse::Ok()
            .content_type("text/plain; version=0.0.4; charset=utf-8")
            .body(h.render()),
        None => HttpResponse::Ok()
            .content_type("text/plain; version=0.0.4; charset=utf-8")
            .body(""),
    }
}

/// The OpenAPI document, generated once from trove-protocol's types.
async fn openapi() -> HttpResponse {
    static DOC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let doc = DOC.get_or_init(|| {
        p::openapi()
            .to_json()
            .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    });
    HttpResponse::Ok().content_type("application/json").body(doc.as_str())
}

async fn define_hunt(state: Data, req: HttpRequest, body: web::Payload) -> Result<HttpResponse, ApiError> {
    let target = state.enter_target(&req, Action::Design)?;
    let body = read_body(body).await?;
    let def = wire::hunt_def(parse::hunt(&body)?);
    let id = def.id.clone();
    let r = match target {
        Target::Single(core) => core.engine.define_hunt(def).await?,
        #[cfg(feature = "cluster")]
        Target::Cluster(node) => {
            let (created, seq) = crate::cluster::define_hunt(&node, def).await?;
            trove_engine::DefineResult { created, seq }
        }
    };
    let reply = p::DefineHuntReply {
        ok: true,
        id: id.as_str().into(),
        created: r.created,
        seq: r.seq,
    };
    Ok(if r.created {
        tracing::info!(hunt = %id, seq = r.seq, "hunt defined");
        HttpResponse::Created().json(reply)
    } else {
        ok(reply)
    })
}

async fn list_hunts(state: Data, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let hunts = match state.enter_target(&req, Action::Read)? {
        Target::Single(core) => core.engine.hunt_ids(),
        #[cfg(feature = "cluster")]
        Target::Cluster(node) => crate::cluster::hunt_ids(&node).await?,
    };
    Ok(ok(p::HuntList { ok: true, hunts }))
}

async fn get_hunt(state: Data, req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    match state.enter_target(&req, Action::Read)? {
        Target::Single(core) => {
            let h = core.engine.hunt(&path).await?;
            Ok(ok(wire::hunt_reply(&h)))
        }
        #[cfg(feature = "cluster")]
        Target::Cluster(node) => Ok(ok(crate::cluster::hunt_reply(&node, &path).await?)),
    }
}

async fn add_stock(
    state: Data,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let target = state.enter_target(&req, Action::Design)?;
    let (hunt, sku) = path.into_inner();
    let body = read_body(body).await?;
    let add = parse::body::<p::StockRequest>(&body)?.add;
    let r = match target {
        Target::Single(core) => core.engine.add_stock(&hunt, &sku, add).await?,
        #[cfg(feature = "cluster")]
        Target::Cluster(node) => trove_engine::StockResult {
            remaining: crate::cluster::add_stock(&node, &hunt, &sku, add).await?,
            seq: 0,
        },
    };
    Ok(ok(p::StockReply {
        ok: true,
        hunt: hunt.into(),
        sku: sku.into(),
        added: add,
        remaining: r.remaining,
        seq: r.seq,
    }))
}

async fn get_player(
    state: Data,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let target = state.enter_target(&req, Action::Read)?;
    let (hunt, player) = path.into_inner();
    ops::player(&target, &hunt, &player, |r| ok(r)).await
}

async fn get_leaderboard(state: Data, req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let target = state.enter_target(&req, Action::Read)?;
    let q: p::LeaderboardParams = params::query(&req)?;
    let limit = ops::leaderboard_limit(q.limit)?;
    let around = q.around.as_deref().filter(|s| !s.is_empty());
    Ok(ok(ops::leaderboard(&target, &path, limit, around).await?))
}

async fn post_events(state: Data, req: HttpRequest, body: web::Payload) -> Result<HttpResponse, ApiError> {
    let target = state.enter_target(&req, Action::Events)?;
    let body = read_body(body).await?;
    Ok(ok(ops::events(&target, Fields::json(&body)).await?))
}

async fn post_claims(state: Data, req: HttpRequest, body: web::Payload) -> Result<HttpResponse, ApiError> {
    let target = state.enter_target(&req, Action::Claim)?;
    let body = read_body(body).await?;
    Ok(ok(ops::claim(&target, Fields::json(&body)).await?))
}

async fn consistency(state: Data, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let core = state.enter(&req, Action::Admin)?;
    let report = ops::consistency(&core).await?;
    state.live.record_consistency(&report);
    Ok(HttpResponse::Ok().json(report))
}

/// `GET /v1/whoami`: the key's role and its actions (any valid key, also
/// while recovering: the console signs in before the server is ready).
async fn whoami(state: Data, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let role = state.keys.authenticate(&req, false)?;
    Ok(ok(p::WhoAmI {
        ok: true,
        role: role.name().into(),
        may: Action::names_for(role),
    }))
}

/// `POST /v1/ws/ticket`: a one-use ticket for `GET /v1/ws?ticket=`.
async fn ws_ticket(state: Data, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let role = state.keys.authenticate(&req, false)?;
    let ticket = state.tickets.issue(role)?;
    Ok(ok(p::WsTicket {
        ok: true,
        ticket,
        expires_in_ms: crate::tickets::TICKET_TTL.as_millis() as u64,
    }))
}

async fn snapshot(state: Data, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let core = state.enter(&req, Action::Admin)?;
    let seq = core
        .store
        .snapshot(&core.engine)
        .await
        .map_err(|e| ApiError::new(ErrorCode::SnapshotFailed, e.to_string()))?;
    tracing::info!(seq, "snapshot written on request");
    // With every snapshot, as the periodic ones: retention is bounded by both.
    core.save_projection().await;
    Ok(ok(p::SnapshotReply { ok: true, seq }))
}

async fn audit_claims(state: Data, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let core = state.enter(&req, Action::Audit)?;
    let q: p::AuditClaimsParams = params::query(&req)?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(ops::audit_claims(&core, q.after.unwrap_or(0), q.limit.unwrap_or(1000)).await?))
}

/// `GET /v1/audit/head`: the chain head to record.
async fn audit_head(state: Data, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let core = state.enter(&req, Action::Audit)?;
    let head = ops::chain_head(&core).await?;
    Ok(ok(p::HeadReply {
        ok: true,
        head: format!("{}:{}", head.seq, head.hash),
        seq: head.seq,
        hash: head.hash,
    }))
}
