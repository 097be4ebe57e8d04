//! `GET /v1/audit/export` and `GET /v1/audit/report` (auditor, admin): the
//! HTTP face of trove-audit. Typed query parameters in
//! ([`trove_protocol::ExportParams`], [`trove_protocol::ReportParams`], none
//! empty, times within years 1 to 9999), a streamed export or a report out;
//! the export itself runs on a blocking thread.

use crate::auth::Action;
use crate::error::ApiError;
use crate::params;
use crate::state::AppState;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;
use std::io::{self, Write};
use std::sync::Arc;
use trove_audit::{report_window, ExportError, Filters, Format};
use trove_engine::Millis;
use trove_protocol as p;

/// Chunks the export hands to the response stream; the channel holds a
/// few, so a slow client slows the export instead of filling memory, and
/// one that stops reading is dropped (see `crate::stream`).
const CHANNEL_CHUNKS: usize = 4;

/// The export format and filters of an export request.
fn filters_of(q: p::ExportParams) -> Result<(Format, Filters), ApiError> {
    let format = match q.format.unwrap_or(p::ExportFormat::Jsonl) {
        p::ExportFormat::Jsonl => Format::Jsonl,
        p::ExportFormat::Csv => Format::Csv,
    };
    let filters = Filters::parse(
        q.from.as_deref(),
        q.to.as_deref(),
        q.hunt.as_deref(),
        q.player.as_deref(),
        q.types.as_deref(),
        q.after_seq,
        q.until_seq,
        q.no_proof.unwrap_or(false),
    )
    .map_err(ApiError::invalid_request)?;
    Ok((format, filters))
}

/// A `from` or `to` parameter: RFC 3339 or unix ms, years 1 to 9999.
fn time(name: &str, value: Option<&str>) -> Result<Option<Millis>, ApiError> {
    value
        .map(|v| p::time::parse_time(v).map_err(|e| ApiError::invalid_request(format!("{name}: {e}"))))
        .transpose()
}

/// `GET /v1/audit/export`: the export of the records durable when the
/// request starts, streamed as it is read.
pub(crate) async fn export(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let core = state.enter(&req, Action::Audit)?;
    let q: p::ExportParams = params::query_non_empty(&req)?;
    time("from", q.from.as_deref())?;
    time("to", q.to.as_deref())?;
    let (format, mut filters) = filters_of(q)?;
    filters.partition = crate::tools::folder_partition(core.store.dir());
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
    let core = state.enter(&req, Action::Audit)?;
    let q: p::ReportParams = params::query_non_empty(&req)?;
    let (from, to) = (time("from", q.from.as_deref())?, time("to", q.to.as_deref())?);
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
