//! The claim trail: every decided claim (granted or rejected) after a
//! journal sequence, a page at a time, with its customs document exactly as
//! stored. `GET /v1/audit/claims` answers with [`claim_page`].

use crate::chain::{read_after, TrailItem};
use crate::export::jsonl::is_raw_json;
use serde_json::value::RawValue;
use trove_engine::{Millis, Seq};
use trove_persistence::{Store, StoreError};

/// Most claims one page returns.
pub const MAX_AUDIT_LIMIT: u64 = 10_000;
/// Most journal records one page scans.
pub const AUDIT_SCAN_BUDGET: u64 = 200_000;

/// Why a page of the trail could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TrailError {
    /// The caller asked for 0 claims or more than [`MAX_AUDIT_LIMIT`].
    #[error("limit must be between 1 and {MAX_AUDIT_LIMIT}")]
    Limit,
    /// The journal could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The page could not be encoded.
    #[error(transparent)]
    Encode(#[from] serde_json::Error),
}

/// One claim of the trail, with its customs exactly as stored.
#[derive(serde::Serialize)]
struct TrailClaim {
    seq: Seq,
    at: Millis,
    claim_id: String,
    player: String,
    hunt: String,
    sku: String,
    customs: Box<RawValue>,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
}

#[derive(serde::Serialize)]
struct Page {
    ok: bool,
    claims: Vec<TrailClaim>,
    next_after: Seq,
}

/// Customs as embedded in the answer: the stored JSON byte for byte, or,
/// when it is not JSON (never from the API), as a JSON string.
fn customs_raw(text: &str) -> Box<RawValue> {
    if is_raw_json(text) {
        RawValue::from_string(text.to_owned()).expect("checked above")
    } else {
        serde_json::value::to_raw_value(text).expect("a string serializes")
    }
}

/// Checks a page size before any reading.
pub fn check_limit(limit: u64) -> Result<(), TrailError> {
    if limit == 0 || limit > MAX_AUDIT_LIMIT {
        return Err(TrailError::Limit);
    }
    Ok(())
}

/// One page of the claim trail: up to `limit` decided claims after journal
/// sequence `after`, scanning at most [`AUDIT_SCAN_BUDGET`] records. The
/// JSON text of the answer (`ok`, `claims`, `next_after`, the cursor of the
/// next page). Blocking: it reads the journal.
pub fn claim_page(store: &Store, after: Seq, limit: u64) -> Result<String, TrailError> {
    check_limit(limit)?;
    let mut claims = Vec::new();
    let mut cursor = after;
    let mut scanned = 0u64;
    while (claims.len() as u64) < limit && scanned < AUDIT_SCAN_BUDGET {
        let items = read_after(store, cursor, 4096)?;
        if items.is_empty() {
            break;
        }
        for (seq, at, item) in items {
            scanned += 1;
            let resumable = !matches!(item, TrailItem::RemovedTelemetry);
            if let TrailItem::Claim(request, outcome) = item {
                claims.push(TrailClaim {
                    seq,
                    at,
                    customs: customs_raw(&request.customs),
                    claim_id: request.claim_id,
                    player: request.player,
                    hunt: request.hunt,
                    sku: request.sku,
                    status: outcome.status(),
                    reason: outcome.reason().map(|r| r.code()),
                });
            }
            if resumable {
                cursor = seq;
            }
            if claims.len() as u64 >= limit {
                break;
            }
        }
    }
    Ok(serde_json::to_string(&Page {
        ok: true,
        claims,
        next_after: cursor,
    })?)
}
