//! HTTP routes. Each handler authenticates (401), checks the role (403),
//! checks readiness (503), then parses its input.

use crate::auth::{query_param, Action, Role};
use crate::error::ApiError;
use crate::ops;
use crate::state::{AppState, Core};
use crate::wire;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::sync::Arc;

/// Largest HTTP request body (the same as the largest WebSocket message).
pub const MAX_BODY_BYTES: usize = crate::ws::MAX_MESSAGE_BYTES;

/// An oversized body is read and discarded up to this size before the 413 answer.
pub const DRAIN_LIMIT_BYTES: usize = 16 << 20;

pub const OPENAPI: &str = include_str!("../openapi.json");

type Data = web::Data<AppState>;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(metrics))
        .route("/v1/openapi.json", web::get().to(openapi))
        .route("/v1/ws", web::get().to(crate::ws::upgrade))
        .service(
            web::resource("/v1/hunts")
                .route(web::post().to(define_hunt))
                .route(web::get().to(list_hunts))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/v1/hunts/{hunt}")
                .route(web::get().to(get_hunt))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/v1/hunts/{hunt}/products/{sku}/stock")
                .route(web::post().to(add_stock))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/v1/hunts/{hunt}/players/{player}")
                .route(web::get().to(get_player))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/v1/hunts/{hunt}/leaderboard")
                .route(web::get().to(get_leaderboard))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/v1/events")
                .route(web::post().to(post_events))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/v1/claims")
                .route(web::post().to(post_claims))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/v1/admin/consistency")
                .route(web::get().to(consistency))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/v1/admin/snapshot")
                .route(web::post().to(snapshot))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/v1/audit/claims")
                .route(web::get().to(audit_claims))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/v1/audit/export")
                .route(web::get().to(crate::audit_routes::export))
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/v1/audit/report")
                .route(web::get().to(crate::audit_routes::report))
                .default_service(web::to(method_not_allowed)),
        );
}

pub async fn not_found() -> HttpResponse {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint").error_response()
}

async fn method_not_allowed() -> HttpResponse {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method not allowed on this endpoint",
    )
    .error_response()
}

/// Authenticates, checks the role, and returns the ready core.
pub(crate) fn enter(state: &AppState, req: &HttpRequest, action: Action) -> Result<(Role, Arc<Core>), ApiError> {
    let role = state.keys.authenticate(req, false)?;
    action.check(role)?;
    Ok((role, state.core()?))
}

/// Reads a JSON body of at most [`MAX_BODY_BYTES`].
async fn read_json(payload: web::Payload) -> Result<Value, ApiError> {
    Ok(read_json_raw(payload).await?.1)
}

/// [`read_json`], with the body's bytes.
async fn read_json_raw(mut payload: web::Payload) -> Result<(web::BytesMut, Value), ApiError> {
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
    let v = wire::parse_json(&body)?;
    Ok((body, v))
}

fn ok(v: Value) -> HttpResponse {
    HttpResponse::Ok().json(v)
}

async fn healthz() -> HttpResponse {
    ok(json!({"status": "ok"}))
}

async fn readyz(state: Data) -> HttpResponse {
    match state.readiness() {
        Ok(()) => ok(json!({"ready": true})),
        Err(reason) => HttpResponse::ServiceUnavailable().json(json!({"ready": false, "reason": reason})),
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

async fn openapi() -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(OPENAPI)
}

async fn define_hunt(state: Data, req: HttpRequest, body: web::Payload) -> Result<HttpResponse, ApiError> {
    let (_, core) = enter(&state, &req, Action::Design)?;
    let def = wire::parse_hunt(&read_json(body).await?)?;
    let id = def.id.clone();
    let r = core.engine.define_hunt(def).await?;
    let body = json!({"ok": true, "id": id, "created": r.created, "seq": r.seq});
    Ok(if r.created {
        tracing::info!(hunt = %id, seq = r.seq, "hunt defined");
        HttpResponse::Created().json(body)
    } else {
        ok(body)
    })
}

async fn list_hunts(state: Data, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let (_, core) = enter(&state, &req, Action::Read)?;
    Ok(ok(json!({"ok": true, "hunts": core.engine.hunt_ids()})))
}

async fn get_hunt(state: Data, req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let (_, core) = enter(&state, &req, Action::Read)?;
    let h = core.engine.hunt(&path).await?;
    Ok(ok(wire::hunt_json(&h)))
}

async fn add_stock(
    state: Data,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (_, core) = enter(&state, &req, Action::Design)?;
    let (hunt, sku) = path.into_inner();
    let v = read_json(body).await?;
    let o = wire::as_object(&v, "the body")?;
    let add = wire::opt_u64(o, "add")?.ok_or_else(|| ApiError::invalid_request("missing field \"add\""))?;
    let r = core.engine.add_stock(&hunt, &sku, add).await?;
    Ok(ok(
        json!({"ok": true, "hunt": hunt, "sku": sku, "added": add, "remaining": r.remaining, "seq": r.seq}),
    ))
}

async fn get_player(
    state: Data,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (_, core) = enter(&state, &req, Action::Read)?;
    let (hunt, player) = path.into_inner();
    Ok(ok(ops::player(&core, &hunt, &player).await?))
}

async fn get_leaderboard(state: Data, req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let (_, core) = enter(&state, &req, Action::Read)?;
    let q = req.query_string();
    let limit = match query_param(q, "limit") {
        None => None,
        Some(s) => Some(
            s.parse::<u64>()
                .map_err(|_| ApiError::invalid_request(format!("limit must be a whole number, not {s:?}")))?,
        ),
    };
    let limit = ops::leaderboard_limit(limit)?;
    let around = query_param(q, "around").filter(|s| !s.is_empty());
    Ok(ok(ops::leaderboard(&core, &path, limit, around.as_deref()).await?))
}

async fn post_events(state: Data, req: HttpRequest, body: web::Payload) -> Result<HttpResponse, ApiError> {
    let (_, core) = enter(&state, &req, Action::Events)?;
    let v = read_json(body).await?;
    Ok(ok(ops::events(&core, wire::as_object(&v, "the body")?).await?))
}

async fn post_claims(state: Data, req: HttpRequest, body: web::Payload) -> Result<HttpResponse, ApiError> {
    let (_, core) = enter(&state, &req, Action::Claim)?;
    let (raw, v) = read_json_raw(body).await?;
    Ok(ok(ops::claim(&core, &raw, wire::as_object(&v, "the body")?).await?))
}

async fn consistency(state: Data, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let (_, core) = enter(&state, &req, Action::Admin)?;
    Ok(HttpResponse::Ok().json(ops::consistency(&core).await?))
}

async fn snapshot(state: Data, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let (_, core) = enter(&state, &req, Action::Admin)?;
    let seq = core
        .store
        .snapshot(&core.engine)
        .await
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "snapshot_failed", e.to_string()))?;
    tracing::info!(seq, "snapshot written on request");
    // With every snapshot, as the periodic ones: retention is bounded by both.
    crate::server::save_projection(&core.projection, core.store.dir()).await;
    Ok(ok(json!({"ok": true, "seq": seq})))
}

async fn audit_claims(state: Data, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let (_, core) = enter(&state, &req, Action::Audit)?;
    let q = req.query_string();
    let num = |name: &str, default: u64| -> Result<u64, ApiError> {
        match query_param(q, name) {
            None => Ok(default),
            Some(s) => s
                .parse::<u64>()
                .map_err(|_| ApiError::invalid_request(format!("{name} must be a whole number, not {s:?}"))),
        }
    };
    let after = num("after", 0)?;
    let limit = num("limit", 1000)?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(ops::audit_claims(&core, after, limit).await?))
}
