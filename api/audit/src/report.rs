//! Audit reports: counts of claims per hunt, product and outcome and of
//! events per type over a time window, from persistence's audit rollups (no
//! journal scan), as JSON ([`Report`]) or as a table for people.

use crate::time::format_ms;
use trove_engine::Millis;
use trove_persistence::audit::Rollup;

/// A report: counts over `[from, to)` from the audit rollups. Serializes
/// with its fields in this order.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// `true` in the HTTP answer; absent offline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ok: Option<bool>,
    /// The window's start as RFC 3339 (none: the beginning).
    pub from: Option<String>,
    /// The window's end, exclusive (none: the end).
    pub to: Option<String>,
    /// The start in unix ms.
    pub from_ms: Option<Millis>,
    /// The end in unix ms.
    pub to_ms: Option<Millis>,
    /// Records committed in the window.
    pub records: u64,
    /// Claims per hunt, product and outcome.
    pub claims: Vec<ClaimCount>,
    /// Events per hunt and type.
    pub events: Vec<EventCount>,
    /// Hunt definitions.
    pub hunts_defined: u64,
    /// Stock changes.
    pub stock_changes: u64,
}

#[derive(Debug, Clone, serde::Serialize)]
/// Claims of one hunt, product and outcome.
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

#[derive(Debug, Clone, serde::Serialize)]
/// Events of one hunt and type.
pub struct EventCount {
    /// The hunt.
    pub hunt: String,
    /// `clue_found`, `checkin` or `interaction`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// How many.
    pub count: u64,
}

/// The report over `[from, to)` from a rollup of that window.
pub fn report(r: &Rollup, from: Option<Millis>, to: Option<Millis>) -> Report {
    Report {
        ok: None,
        from: from.map(format_ms),
        to: to.map(format_ms),
        from_ms: from,
        to_ms: to,
        records: r.records,
        claims: r
            .claims
            .iter()
            .map(|((hunt, sku, outcome), n)| ClaimCount {
                hunt: hunt.clone(),
                sku: sku.clone(),
                outcome: outcome.clone(),
                count: *n,
            })
            .collect(),
        events: r
            .events
            .iter()
            .map(|((hunt, kind), n)| EventCount {
                hunt: hunt.clone(),
                event_type: kind.clone(),
                count: *n,
            })
            .collect(),
        hunts_defined: r.hunts_defined,
        stock_changes: r.stock_changes,
    }
}

/// The report as JSON text (fields in their documented order).
pub fn report_json(r: &Rollup, from: Option<Millis>, to: Option<Millis>) -> String {
    serde_json::to_string(&report(r, from, to)).expect("reports encode")
}

/// The window a report covers: open ends become the widest range.
pub fn report_window(from: Option<Millis>, to: Option<Millis>) -> (Millis, Millis) {
    (from.unwrap_or(i64::MIN / 2), to.unwrap_or(i64::MAX / 2))
}

/// The report as a table, for people.
pub fn report_table(r: &Rollup, from: Option<Millis>, to: Option<Millis>) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "window: {} .. {} (whole seconds)\n",
        from.map_or("start".into(), format_ms),
        to.map_or("end".into(), format_ms)
    ));
    s.push_str(&format!(
        "records: {}  (hunts defined: {}, stock changes: {})\n\n",
        r.records, r.hunts_defined, r.stock_changes
    ));
    let mut claims = vec![["hunt".to_string(), "sku".into(), "outcome".into(), "count".into()]];
    claims.extend(
        r.claims
            .iter()
            .map(|((h, k, o), n)| [h.clone(), k.clone(), o.clone(), n.to_string()]),
    );
    s.push_str("claims\n");
    s.push_str(&table(&claims));
    let mut events = vec![["hunt".to_string(), "type".into(), "count".into()]];
    events.extend(r.events.iter().map(|((h, k), n)| [h.clone(), k.clone(), n.to_string()]));
    s.push_str("\nevents\n");
    s.push_str(&table(&events));
    s
}

fn table<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0usize; N];
    for row in rows {
        for (i, c) in row.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let mut s = String::new();
    for (j, row) in rows.iter().enumerate() {
        for (i, c) in row.iter().enumerate() {
            if i + 1 == N {
                // Counts, right-aligned.
                s.push_str(&format!("{c:>w$}", w = widths[i]));
            } else {
                s.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        s.push('\n');
        if j == 0 && rows.len() == 1 {
            s.push_str("(none)\n");
        }
    }
    s
}
