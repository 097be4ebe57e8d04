//! The OpenAPI 3 document of the HTTP API, generated from the types of this
//! crate. Each route is declared on a documentation stub below (the handlers
//! live in trove-api, which serves the document at `GET /v1/openapi.json`).

#![allow(dead_code, reason = "the stubs exist only to carry #[utoipa::path] declarations")]

use crate::admin::{
    AuditClaimsPage, AuditClaimsParams, AuditReport, ConsistencyReport, ExportFormat, ExportParams, Health, Readiness,
    ReportParams, SnapshotReply,
};
use crate::error::{ErrorBody, ErrorCode, ErrorReply};
use crate::game::{
    ClaimReply, ClaimRequest, EventsReply, EventsRequest, LeaderboardParams, LeaderboardReply, PlayerReply,
};
use crate::hunt::{DefineHuntReply, HuntDefinition, HuntList, HuntReply, StockReply, StockRequest};
use crate::live::{HeadReply, HuntSummary, HuntsPush, StatsPush, WhoAmI, WsTicket};
use crate::ws::WsParams;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// Every route of the HTTP API with its methods, as the server registers them.
pub const ROUTES: &[(&str, &[&str])] = &[
    ("/healthz", &["GET"]),
    ("/readyz", &["GET"]),
    ("/metrics", &["GET"]),
    ("/v1/openapi.json", &["GET"]),
    ("/v1/ws", &["GET"]),
    ("/v1/ws/ticket", &["POST"]),
    ("/v1/whoami", &["GET"]),
    ("/v1/hunts", &["GET", "POST"]),
    ("/v1/hunts/{hunt}", &["GET"]),
    ("/v1/hunts/{hunt}/products/{sku}/stock", &["POST"]),
    ("/v1/hunts/{hunt}/players/{player}", &["GET"]),
    ("/v1/hunts/{hunt}/leaderboard", &["GET"]),
    ("/v1/events", &["POST"]),
    ("/v1/claims", &["POST"]),
    ("/v1/admin/consistency", &["GET"]),
    ("/v1/admin/snapshot", &["POST"]),
    ("/v1/audit/claims", &["GET"]),
    ("/v1/audit/export", &["GET"]),
    ("/v1/audit/report", &["GET"]),
    ("/v1/audit/head", &["GET"]),
    ("/v1/cluster", &["GET"]),
];

/// The generated document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Trove HTTP API",
        version = "1",
        description = "Game-state engine for live treasure hunts. The WebSocket protocol (GET /v1/ws) and every \
                       field are described in docs/PROTOCOL.md. Errors are `{\"error\":{\"code\",\"message\"}}`; \
                       a method a path does not declare is `405 method_not_allowed` with an `Allow` header."
    ),
    paths(
        healthz, readyz, metrics, openapi_json, ws, ws_ticket, whoami, list_hunts, define_hunt, get_hunt, add_stock, get_player,
        get_leaderboard, post_events, post_claims, consistency, snapshot, audit_claims, audit_export, audit_report,
        audit_head, cluster
    ),
    components(schemas(
        ErrorCode, ErrorBody, ErrorReply, ExportFormat, crate::time::Time, crate::time::TimeParam, HuntsPush,
        HuntSummary, StatsPush, crate::cluster::ClusterMap
    )),
    modifiers(&Security),
    tags(
        (name = "ops", description = "Health, readiness, metrics and this document; no key"),
        (name = "game", description = "Events, claims, players and leaderboards"),
        (name = "hunts", description = "Hunt definitions and stock"),
        (name = "admin", description = "Consistency check and snapshots"),
        (name = "audit", description = "The claim audit trail, exports and reports"),
        (name = "cluster", description = "Cluster mode: the partition map (docs/CLUSTER.md)"),
    )
)]
struct ApiDoc;

/// The key: `Authorization: Bearer KEY`, or `?token=KEY` on the WebSocket upgrade.
struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let c = doc.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("a key of role game, designer, auditor or admin"))
                    .build(),
            ),
        );
        c.add_security_scheme(
            "ticket",
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
                "ticket",
                "a one-use ticket from POST /v1/ws/ticket, on the WebSocket upgrade only",
            ))),
        );
        c.add_security_scheme(
            "token",
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
                "token",
                "a key, on the WebSocket upgrade only (browsers cannot set headers there)",
            ))),
        );
    }
}

#[utoipa::path(get, path = "/healthz", tag = "ops",
    responses((status = 200, description = "the process serves HTTP", body = Health)))]
fn healthz() {}

#[utoipa::path(get, path = "/readyz", tag = "ops", responses(
    (status = 200, description = "recovered and consistent", body = Readiness),
    (status = 503, description = "recovering, shutting down or after a journal failure", body = Readiness)))]
fn readyz() {}

#[utoipa::path(get, path = "/metrics", tag = "ops",
    responses((status = 200, description = "Prometheus text", content_type = "text/plain", body = String)))]
fn metrics() {}

#[utoipa::path(get, path = "/v1/openapi.json", tag = "ops",
    responses((status = 200, description = "this document", content_type = "application/json", body = Object)))]
fn openapi_json() {}

#[utoipa::path(get, path = "/v1/ws", tag = "game", params(WsParams),
    security(("bearer" = []), ("ticket" = []), ("token" = [])),
    description = "WebSocket upgrade; the protocol on the socket is in docs/PROTOCOL.md.",
    responses(
        (status = 101, description = "switching to the WebSocket protocol"),
        (status = 400, description = "not a valid WebSocket upgrade request (`invalid_request`)", body = ErrorReply),
        (status = 401, description = "missing or unknown key (`unauthorized`)", body = ErrorReply),
        (status = 503, description = "`not_ready` or `shutting_down`", body = ErrorReply)))]
fn ws() {}

#[utoipa::path(post, path = "/v1/ws/ticket", tag = "game", security(("bearer" = [])),
    description = "A one-use credential for a browser's WebSocket (`GET /v1/ws?ticket=`), valid 30 s; \
        at most 1024 are outstanding.",
    responses(
        (status = 200, description = "a ticket", body = WsTicket),
        (status = 401, description = "`unauthorized`", body = ErrorReply),
        (status = 503, description = "`overloaded`: too many tickets outstanding", body = ErrorReply)))]
fn ws_ticket() {}

#[utoipa::path(get, path = "/v1/whoami", tag = "ops", security(("bearer" = [])), responses(
    (status = 200, description = "the key's role and what it may do", body = WhoAmI),
    (status = 401, description = "`unauthorized`", body = ErrorReply)))]
fn whoami() {}

#[utoipa::path(get, path = "/v1/hunts", tag = "hunts", security(("bearer" = [])), responses(
    (status = 200, description = "every hunt id", body = HuntList),
    (status = 401, description = "`unauthorized`", body = ErrorReply),
    (status = 503, description = "`not_ready` or `shutting_down`", body = ErrorReply)))]
fn list_hunts() {}

#[utoipa::path(post, path = "/v1/hunts", tag = "hunts", security(("bearer" = [])),
    request_body = HuntDefinition, responses(
    (status = 201, description = "defined", body = DefineHuntReply),
    (status = 200, description = "an identical definition was already there", body = DefineHuntReply),
    (status = 400, description = "`invalid_json` or `invalid_hunt`", body = ErrorReply),
    (status = 401, description = "`unauthorized`", body = ErrorReply),
    (status = 403, description = "`forbidden`: designer or admin only", body = ErrorReply),
    (status = 409, description = "`hunt_conflict`", body = ErrorReply),
    (status = 413, description = "`message_too_large` or `record_too_large`", body = ErrorReply),
    (status = 503, description = "`not_ready`, `shutting_down`, `overloaded`, `journal_failed`, `stopped`", body = ErrorReply)))]
fn define_hunt() {}

#[utoipa::path(get, path = "/v1/hunts/{hunt}", tag = "hunts", security(("bearer" = [])),
    params(("hunt" = String, Path, min_length = 1, description = "the hunt's id")), responses(
    (status = 200, description = "the definition with its durable stock ledger", body = HuntReply),
    (status = 401, description = "`unauthorized`", body = ErrorReply),
    (status = 404, description = "`unknown_hunt`", body = ErrorReply),
    (status = 503, description = "`not_ready` or `shutting_down`", body = ErrorReply)))]
fn get_hunt() {}

#[utoipa::path(post, path = "/v1/hunts/{hunt}/products/{sku}/stock", tag = "hunts", security(("bearer" = [])),
    params(("hunt" = String, Path, min_length = 1, description = "the hunt's id"),
           ("sku" = String, Path, min_length = 1, description = "the product's sku")),
    request_body = StockRequest, responses(
    (status = 200, description = "stock added", body = StockReply),
    (status = 400, description = "`invalid_json` or `invalid_request`", body = ErrorReply),
    (status = 401, description = "`unauthorized`", body = ErrorReply),
    (status = 403, description = "`forbidden`: designer or admin only", body = ErrorReply),
    (status = 404, description = "`unknown_hunt` or `unknown_product`", body = ErrorReply),
    (status = 413, description = "`message_too_large` or `record_too_large`", body = ErrorReply),
    (status = 503, description = "`not_ready`, `shutting_down`, `overloaded`, `journal_failed`, `stopped`", body = ErrorReply)))]
fn add_stock() {}

#[utoipa::path(get, path = "/v1/hunts/{hunt}/players/{player}", tag = "game", security(("bearer" = [])),
    params(("hunt" = String, Path, min_length = 1, description = "the hunt's id"),
           ("player" = String, Path, min_length = 1, description = "the player's id")), responses(
    (status = 200, description = "the player's durable view of the hunt", body = PlayerReply),
    (status = 401, description = "`unauthorized`", body = ErrorReply),
    (status = 404, description = "`unknown_hunt`", body = ErrorReply),
    (status = 503, description = "`not_ready`, `shutting_down`, `journal_failed`", body = ErrorReply)))]
fn get_player() {}

#[utoipa::path(get, path = "/v1/hunts/{hunt}/leaderboard", tag = "game", security(("bearer" = [])),
    params(("hunt" = String, Path, min_length = 1, description = "the hunt's id"), LeaderboardParams), responses(
    (status = 200, description = "the published leaderboard", body = LeaderboardReply),
    (status = 400, description = "`invalid_request` (limit)", body = ErrorReply),
    (status = 401, description = "`unauthorized`", body = ErrorReply),
    (status = 404, description = "`unknown_hunt`", body = ErrorReply),
    (status = 503, description = "`not_ready` or `shutting_down`", body = ErrorReply)))]
fn get_leaderboard() {}

#[utoipa::path(post, path = "/v1/events", tag = "game", security(("bearer" = [])),
    request_body = EventsRequest, responses(
    (status = 200, description = "every event applied", body = EventsReply),
    (status = 400, description = "`invalid_json`, `invalid_request` or `invalid_event` (with `index`)", body = ErrorReply),
    (status = 401, description = "`unauthorized`", body = ErrorReply),
    (status = 403, description = "`forbidden`: game or admin only", body = ErrorReply),
    (status = 413, description = "`message_too_large`, `batch_too_large` or `record_too_large`", body = ErrorReply),
    (status = 503, description = "`not_ready`, `shutting_down`, `overloaded`, `journal_failed`, `stopped`", body = ErrorReply)))]
fn post_events() {}

#[utoipa::path(post, path = "/v1/claims", tag = "game", security(("bearer" = [])),
    request_body = ClaimRequest, responses(
    (status = 200, description = "the decision: granted or rejected", body = ClaimReply),
    (status = 400, description = "`invalid_json` or `invalid_request`", body = ErrorReply),
    (status = 401, description = "`unauthorized`", body = ErrorReply),
    (status = 403, description = "`forbidden`: game or admin only", body = ErrorReply),
    (status = 409, description = "`claim_id_conflict` or `too_many_claims`", body = ErrorReply),
    (status = 413, description = "`message_too_large` or `record_too_large`", body = ErrorReply),
    (status = 503, description = "`not_ready`, `shutting_down`, `overloaded`, `journal_failed`, `stopped`", body = ErrorReply)))]
fn post_claims() {}

#[utoipa::path(get, path = "/v1/admin/consistency", tag = "admin", security(("bearer" = [])), responses(
    (status = 200, description = "the report; `ok` is the verdict", body = ConsistencyReport),
    (status = 401, description = "`unauthorized`", body = ErrorReply),
    (status = 403, description = "`forbidden`: admin only", body = ErrorReply),
    (status = 500, description = "`internal`: the journal cannot be read", body = ErrorReply),
    (status = 503, description = "`not_ready`, `shutting_down`, `stopped`", body = ErrorReply)))]
fn consistency() {}

#[utoipa::path(post, path = "/v1/admin/snapshot", tag = "admin", security(("bearer" = [])), responses(
    (status = 200, description = "snapshot written", body = SnapshotReply),
    (status = 401, description = "`unauthorized`", body = ErrorReply),
    (status = 403, description = "`forbidden`: admin only", body = ErrorReply),
    (status = 503, description = "`snapshot_failed`, `not_ready` or `shutting_down`", body = ErrorReply)))]
fn snapshot() {}

#[utoipa::path(get, path = "/v1/audit/claims", tag = "audit", security(("bearer" = [])),
    params(AuditClaimsParams), responses(
    (status = 200, description = "a page of decided claims", body = AuditClaimsPage),
    (status = 400, description = "`invalid_request`", body = ErrorReply),
    (status = 401, description = "`unauthorized`", body = ErrorReply),
    (status = 403, description = "`forbidden`: auditor or admin only", body = ErrorReply),
    (status = 500, description = "`internal`: the journal cannot be read", body = ErrorReply),
    (status = 503, description = "`not_ready` or `shutting_down`", body = ErrorReply)))]
fn audit_claims() {}

#[utoipa::path(get, path = "/v1/audit/export", tag = "audit", security(("bearer" = [])),
    params(ExportParams), responses(
    (status = 200, description = "the export, streamed (docs/AUDIT.md)",
        content((String = "application/x-ndjson"), (String = "text/csv"))),
    (status = 400, description = "`invalid_request`", body = ErrorReply),
    (status = 401, description = "`unauthorized`", body = ErrorReply),
    (status = 403, description = "`forbidden`: auditor or admin only", body = ErrorReply),
    (status = 503, description = "`not_ready` or `shutting_down`", body = ErrorReply)))]
fn audit_export() {}

#[utoipa::path(get, path = "/v1/audit/report", tag = "audit", security(("bearer" = [])),
    params(ReportParams), responses(
    (status = 200, description = "counts over the window", body = AuditReport),
    (status = 400, description = "`invalid_request`", body = ErrorReply),
    (status = 401, description = "`unauthorized`", body = ErrorReply),
    (status = 403, description = "`forbidden`: auditor or admin only", body = ErrorReply),
    (status = 500, description = "`internal`", body = ErrorReply),
    (status = 503, description = "`not_ready` or `shutting_down`", body = ErrorReply)))]
fn audit_report() {}

#[utoipa::path(get, path = "/v1/audit/head", tag = "audit", security(("bearer" = [])), responses(
    (status = 200, description = "the chain head to record (the last durable block)", body = HeadReply),
    (status = 401, description = "`unauthorized`", body = ErrorReply),
    (status = 403, description = "`forbidden`: auditor or admin only", body = ErrorReply),
    (status = 500, description = "`internal`: the journal cannot be read", body = ErrorReply),
    (status = 503, description = "`not_ready` or `shutting_down`", body = ErrorReply)))]
fn audit_head() {}

#[utoipa::path(get, path = "/v1/cluster", tag = "cluster", security(("bearer" = [])),
    description = "Cluster mode: partitions, live nodes and each partition's owner, URL and epoch, as this node \
        last read them from etcd. A single node answers `404 not_found`.",
    responses(
    (status = 200, description = "the partition map", body = crate::cluster::ClusterMap),
    (status = 401, description = "`unauthorized`", body = ErrorReply),
    (status = 404, description = "`not_found`: not in cluster mode", body = ErrorReply)))]
fn cluster() {}
