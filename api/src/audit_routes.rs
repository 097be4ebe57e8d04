//! `GET /v1/audit/export` and `GET /v1/audit/report` (auditor, admin): the
//! HTTP face of trove-audit. Query strings in, a streamed export or a
//! report out; the export itself runs on a blocking thread.

use crate::auth::{query_param, Action};
use crate::error::ApiError;
use crate::state::{AppState, Core};
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;
use std::io::{self, Write};
use std::sync::Arc;
use trove_audit::{parse_time, report_window, ExportError, Filters, Format};
use trove_engine::{Millis, Seq};

/// Chunks the export hands to the response stream; the channel holds a
/// few, so a slow client slows the export instead of filling memory, and
/// one that stops reading is dropped (see `crate::stream`).
const CHANNEL_CHUNKS: usize = 4;

/// Authenticates, checks the role may audit, and returns the ready core.
/// (As `crate::http::enter`, which is not called from here: `http` names
/// these routes, so this module does not use `http`.)
fn enter(state: &AppState, req: &HttpRequest) -> Result<Arc<Core>, ApiError> {
    let role = state.keys.authenticate(req, false)?;
    Action::Audit.check(role)?;
    state.core()
}

fn opt(q: &str, names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| query_param(q, n)).filter(|s| !s.is_empty())
}

fn opt_seq(q: &str, names: &[&str]) -> Result<Option<Seq>, ApiError> {
    opt(q, names)
        .map(|s| {
            s.parse::<Seq>()
                .map_err(|_| ApiError::invalid_request(format!("{} must be a whole number, not {s:?}", names[0])))
        })
        .transpose()
}

fn time(q: &str, name: &str) -> Result<Option<Millis>, ApiError> {
    opt(q, &[name])
        .map(|s| parse_time(&s).map_err(|e| ApiError::invalid_request(format!("{name}: {e}"))))
        .transpose()
}

/// The filters of an export request's query string.
pub(crate) fn filters_of(q: &str) -> Result<(Format, Filters), ApiError> {
    let format = Format::parse(opt(q, &["format"]).as_deref().unwrap_or("jsonl")).map_err(ApiError::invalid_request)?;
    let no_proof = match opt(q, &["no_proof", "no-proof"]).as_deref() {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(other) => {
            return Err(ApiError::invalid_request(format!(
                "no_proof must be true or false, not {other:?}"
            )))
        }
    };
    let filters = Filters::parse(
        opt(q, &["from"]).as_deref(),
        opt(q, &["to"]).as_deref(),
        opt(q, &["hunt"]).as_deref(),
        opt(q, &["player"]).as_deref(),
        opt(q, &["type"]).as_deref(),
        opt_seq(q, &["after_seq", "after-seq"])?,
        opt_seq(q, &["until_seq", "until-seq"])?,
        no_proof,
    )
    .map_err(ApiError::invalid_request)?;
    Ok((format, filters))
}

/// `GET /v1/audit/export`: the export of the records durable when the
/// request starts, streamed as it is read.
pub(crate) async fn export(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let core = enter(&state, &req)?;
    let (format, filters) = filters_of(req.query_string())?;
    // Only what is durable when the request starts: never a record a crash could undo.
    let limit = core.store.durable_seq();
    let store = Arc::clone(&core.store);
    let (sink, body) = crate::stream::chunked(CHANNEL_CHUNKS);
    tokio::task::spawn_blocking(move || {
        let mut out = io::BufWriter::with_capacity(64 << 10, sink.clone());
        let started = std::time::Instant::now();
        let result = trove_audit::export(&*store, &filters, format, limit, &mut out, &mut |_| {}, &|| {
            sink.is_closed()
        })
        .and_then(|sum| out.flush().map(|()| sum).map_err(ExportError::Io));
        match result {
            Ok(sum) => {
                sink.finish();
                tracing::info!(
                    records = sum.records,
                    blocks = sum.blocks,
                    ms = started.elapsed().as_millis() as u64,
                    "audit export streamed"
                )
            }
            Err(ExportError::Io(_)) | Err(ExportError::Interrupted) if sink.is_closed() => {
                tracing::info!("audit export: the client went away")
            }
            Err(ExportError::Io(e)) if e.kind() == io::ErrorKind::TimedOut => {
                // The body ends with an error: the client sees it incomplete.
                tracing::warn!("audit export: the client does not read; export dropped");
                metrics::counter!("trove_audit_export_slow_client_total").increment(1);
            }
            Err(e) => {
                tracing::error!(error = %e, "audit export failed");
                drop(out);
                if format == Format::Jsonl {
                    let line = format!("{}\n", json!({"type": "error", "message": e.to_string()}));
                    let _ = sink.send(Ok(Bytes::from(line)));
                }
                // Not finished: the body ends with an error, so the
                // client sees the response is incomplete.
            }
        }
    });
    Ok(HttpResponse::Ok().content_type(format.content_type()).streaming(body))
}

/// `GET /v1/audit/report`: counts over `[from, to)` from the audit rollups.
pub(crate) async fn report(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let core = enter(&state, &req)?;
    let q = req.query_string();
    let (from, to) = (time(q, "from")?, time(q, "to")?);
    if let (Some(a), Some(b)) = (from, to) {
        if a > b {
            return Err(ApiError::invalid_request("from is after to"));
        }
    }
    let (a, b) = report_window(from, to);
    let store = Arc::clone(&core.store);
    let rollup = tokio::task::spawn_blocking(move || store.report(a, b))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let mut body = trove_audit::report(&rollup, from, to);
    body.ok = Some(true);
    Ok(HttpResponse::Ok().json(body))
}
