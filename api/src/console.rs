//! The web console at `/console/`: three static files embedded in the
//! binary (`api/console/assets/`), so `trove serve` shows it with no build
//! step and no network at run time. The page signs in with a key kept in
//! `sessionStorage`, calls the HTTP API with `Authorization`, and opens one
//! WebSocket with a ticket (`POST /v1/ws/ticket`); everything it shows comes
//! from the API, so this module knows nothing but files. The security
//! headers (CSP without inline script, `frame-ancestors 'none'`, `nosniff`)
//! are set on every response by [`security_headers`].

use actix_web::http::header;
use actix_web::middleware::DefaultHeaders;
use actix_web::{web, HttpResponse};

/// The console's files: name under `/console/`, content type, bytes.
pub(crate) const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_bytes!("../console/assets/index.html"),
    ),
    (
        "console.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../console/assets/console.js"),
    ),
    (
        "console.css",
        "text/css; charset=utf-8",
        include_bytes!("../console/assets/console.css"),
    ),
];

/// The Content-Security-Policy of every response: scripts, styles and
/// connections only from this origin, nothing inline, no framing.
pub(crate) const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; font-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// Headers on every response (API answers included: they cost nothing and
/// keep a JSON answer from being rendered or framed as a page).
pub(crate) fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((header::CONTENT_SECURITY_POLICY, CSP))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::REFERRER_POLICY, "no-referrer"))
}

/// Registers `/console`, `/console/` and `/console/{file}`.
pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/console", web::get().to(redirect))
        .route("/console/", web::get().to(|| async { asset("index.html") }))
        .route(
            "/console/{file}",
            web::get().to(|file: web::Path<String>| async move { asset(&file) }),
        );
}

async fn redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/console/"))
        .finish()
}

/// One embedded file, or the API's `404 not_found`.
fn asset(name: &str) -> HttpResponse {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, bytes)) => HttpResponse::Ok()
            .content_type(*content_type)
            // Embedded: they change with the binary, so always revalidate.
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .body(*bytes),
        None => {
            use actix_web::ResponseError;
            crate::error::ApiError::new(trove_protocol::ErrorCode::NotFound, "no such console file").error_response()
        }
    }
}
