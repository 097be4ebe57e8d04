//! Operator and auditor bodies: health, readiness, the consistency report,
//! snapshots and the audit endpoints' parameters and answers.

use crate::game::RejectReason;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::{IntoParams, ToSchema};

/// `GET /healthz`: `{"status": "ok"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: String,
}

/// `GET /readyz`: ready, or why not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Readiness {
    /// Whether the server serves requests.
    pub ready: bool,
    /// Why not (only when not ready).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One check of a [`ConsistencyReport`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ConsistencyCheck {
    /// What is compared, e.g. `engine_invariants`, `journal_replay`.
    pub name: String,
    /// Whether it holds.
    pub ok: bool,
    /// What was compared, or what differs.
    pub detail: String,
}

/// `GET /v1/admin/consistency`: live state, projection and journal compared
/// at one journal sequence. Answered with `200` either way; `ok` is the verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ConsistencyReport {
    /// True when every check holds.
    pub ok: bool,
    /// The journal sequence the dump was taken at.
    pub journal_seq: u64,
    /// The checks, in order.
    pub checks: Vec<ConsistencyCheck>,
}

/// `POST /v1/admin/snapshot`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SnapshotReply {
    /// Always `true`.
    pub ok: bool,
    /// The journal sequence the snapshot holds.
    pub seq: u64,
}

/// Query of `GET /v1/audit/claims`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditClaimsParams {
    /// Claims after this journal sequence (default 0).
    #[param(minimum = 0)]
    pub after: Option<u64>,
    /// Claims per page, 1 to 10 000 (default 1000).
    #[param(minimum = 1, maximum = 10000)]
    pub limit: Option<u64>,
}

/// Decision of an audited claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditStatus {
    /// Granted.
    Granted,
    /// Rejected with a reason.
    Rejected,
}

/// One decided claim of the audit trail, `customs` exactly as stored.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditClaim {
    /// Journal sequence of the decision.
    pub seq: u64,
    /// Commit time, unix ms.
    pub at: i64,
    /// The claim's id.
    pub claim_id: String,
    /// The player.
    pub player: String,
    /// The hunt.
    pub hunt: String,
    /// The product.
    pub sku: String,
    /// The customs document as stored.
    #[schema(value_type = Object)]
    pub customs: Box<RawValue>,
    /// Granted or rejected.
    pub status: AuditStatus,
    /// Only when rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<RejectReason>,
}

/// A page of `GET /v1/audit/claims`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditClaimsPage {
    /// Always `true`.
    pub ok: bool,
    /// The claims, in journal order.
    pub claims: Vec<AuditClaim>,
    /// `after` of the next page.
    pub next_after: u64,
}

/// Output format of `GET /v1/audit/export`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    /// JSON lines with hash-chain proofs (`application/x-ndjson`).
    Jsonl,
    /// RFC 4180 CSV without proofs (`text/csv`).
    Csv,
}

/// Query of `GET /v1/audit/export`. Times are RFC 3339 or unix ms; empty
/// values are refused.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// `jsonl` (default) or `csv`.
    pub format: Option<ExportFormat>,
    /// Start of the commit time window `[from, to)`.
    #[param(value_type = Option<crate::time::TimeParam>)]
    pub from: Option<String>,
    /// End of the commit time window `[from, to)`.
    #[param(value_type = Option<crate::time::TimeParam>)]
    pub to: Option<String>,
    /// Records of this hunt.
    #[param(min_length = 1)]
    pub hunt: Option<String>,
    /// Records of this player.
    #[param(min_length = 1)]
    pub player: Option<String>,
    /// Comma-separated record types: `claims`, `events`, `hunts`, `stock`,
    /// `claim`, `clue_found`, `checkin`, `interaction`, `hunt_defined`, `stock_added`.
    #[serde(rename = "type")]
    #[param(
        rename = "type",
        pattern = r"^(claims|events|hunts|stock|claim|clue_found|checkin|interaction|hunt_defined|stock_added)(,(claims|events|hunts|stock|claim|clue_found|checkin|interaction|hunt_defined|stock_added))*$"
    )]
    pub types: Option<String>,
    /// Sequence range `(after_seq, until_seq]`: lower end.
    #[param(minimum = 0)]
    pub after_seq: Option<u64>,
    /// Sequence range `(after_seq, until_seq]`: upper end.
    #[param(minimum = 0)]
    pub until_seq: Option<u64>,
    /// Leave out block lines of blocks without matching records.
    pub no_proof: Option<bool>,
}

/// Query of `GET /v1/audit/report`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportParams {
    /// Window start (rounded to whole seconds).
    #[param(value_type = Option<crate::time::TimeParam>)]
    pub from: Option<String>,
    /// Window end, exclusive; not before `from`.
    #[param(value_type = Option<crate::time::TimeParam>)]
    pub to: Option<String>,
}

/// Claims per hunt, product and outcome in an [`AuditReport`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ClaimCount {
    /// The hunt.
    pub hunt: String,
    /// The product.
    pub sku: String,
    /// `granted` or the reject reason.
    pub outcome: String,
    /// How many.
    pub count: u64,
}

/// Events per hunt and type in an [`AuditReport`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EventCount {
    /// The hunt.
    pub hunt: String,
    /// `clue_found`, `checkin` or `interaction`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// How many.
    pub count: u64,
}

/// `GET /v1/audit/report`: counts over a window from per-second rollups.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditReport {
    /// `true` over HTTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ok: Option<bool>,
    /// Window start as RFC 3339, or `null`.
    pub from: Option<String>,
    /// Window end as RFC 3339, or `null`.
    pub to: Option<String>,
    /// Window start, unix ms, or `null`.
    pub from_ms: Option<i64>,
    /// Window end, unix ms, or `null`.
    pub to_ms: Option<i64>,
    /// Records in the window.
    pub records: u64,
    /// Claims per hunt, product and outcome.
    pub claims: Vec<ClaimCount>,
    /// Events per hunt and type.
    pub events: Vec<EventCount>,
    /// Hunt definitions in the window.
    pub hunts_defined: u64,
    /// Stock additions in the window.
    pub stock_changes: u64,
}
