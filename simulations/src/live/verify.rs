//! After the run, the server's view over HTTP (`trove_client::HttpClient`):
//! its stock ledger compared with the answers ([`ledger_check`]), its own
//! consistency check ([`server_consistency`]) and its leaderboard
//! ([`leaderboard`]).

use super::fail::status;
use crate::observe::{Check, Recorder};
use crate::scenario::Scenario;
use trove_client::{ClientError, HttpClient};
use trove_protocol::{ErrorCode, HuntReply, LeaderboardParams};

/// `answers_match_server_state`: per product, the grants the answers showed
/// (up to `unanswered_claims` more) and the restocks match the server's
/// ledger (`GET /v1/hunts/{hunt}`).
pub(crate) async fn ledger_check(
    http: &HttpClient,
    sc: &Scenario,
    rec: &Recorder,
    hunt: &str,
    unanswered_claims: u64,
) -> Check {
    const NAME: &str = "answers_match_server_state";
    match http.hunt(hunt).await {
        Ok(server) => {
            let diffs = ledger_diffs(&server, sc, rec, unanswered_claims);
            if diffs.is_empty() {
                Check::new(
                    NAME,
                    true,
                    "grants and restocks per product match the server's stock ledger",
                )
            } else {
                Check::new(NAME, false, diffs.join("; "))
            }
        }
        Err(e) => Check::new(NAME, false, failed_call(&format!("GET /v1/hunts/{hunt}"), &e)),
    }
}

fn failed_call(what: &str, e: &ClientError) -> String {
    match status(e) {
        Some(s) => format!("{what} answered HTTP {s}: {e}"),
        None => e.to_string(),
    }
}

fn ledger_diffs(server: &HuntReply<'_>, sc: &Scenario, rec: &Recorder, unanswered: u64) -> Vec<String> {
    let mut diffs = Vec::new();
    for (p, seen) in sc.hunt.products.iter().zip(&rec.products) {
        let ledger = server.products.iter().find(|x| x.sku == p.sku.as_str());
        let granted = ledger.map_or(0, |l| l.granted);
        if granted < seen.granted || granted > seen.granted + unanswered {
            diffs.push(format!(
                "{:?}: answers granted {}, the server counts {granted} ({unanswered} claims unanswered)",
                p.sku, seen.granted
            ));
        }
        let added = ledger.map_or(0, |l| l.added);
        if added != seen.added {
            diffs.push(format!(
                "{:?}: restocked {}, the server added {added}",
                p.sku, seen.added
            ));
        }
    }
    diffs
}

/// In a cluster: each partition's consistency check at its owner
/// (`GET /v1/admin/consistency?partition=N`), one verdict for all.
pub(crate) async fn cluster_consistency(
    map: &trove_protocol::ClusterMap,
    key: &str,
    checks: &mut Vec<Check>,
) -> Vec<Check> {
    const NAME: &str = "server_consistency";
    let mut out = Vec::new();
    let mut failed = Vec::new();
    for o in &map.owners {
        let Some(url) = &o.url else {
            failed.push(format!("partition {} has no owner", o.partition));
            continue;
        };
        let path = format!("/v1/admin/consistency?partition={}", o.partition);
        let report = match HttpClient::new(url, Some(key)) {
            Ok(h) => h.raw("GET", &path, Some(key), None).await,
            Err(e) => Err(e),
        };
        let ok = match report {
            Ok(r) if r.status == 200 => serde_json::from_slice::<trove_protocol::ConsistencyReport>(&r.body)
                .map(|rep| rep.ok)
                .unwrap_or(false),
            Ok(r) => {
                failed.push(format!("partition {}: HTTP {}", o.partition, r.status));
                continue;
            }
            Err(e) => {
                failed.push(format!("partition {}: {e}", o.partition));
                continue;
            }
        };
        if !ok {
            failed.push(format!("partition {}: the check failed", o.partition));
        }
        out.push(Check::new(
            &format!("partition_{}", o.partition),
            ok,
            "live state, projection and journal replay",
        ));
    }
    let detail = if failed.is_empty() {
        format!(
            "every partition's consistency check passed ({} partitions)",
            map.partitions
        )
    } else {
        failed.join("; ")
    };
    checks.push(Check::new(NAME, failed.is_empty(), detail));
    out
}

/// The server's consistency check (`GET /v1/admin/consistency`): its verdict
/// as `server_consistency` for the invariants (pushed to `checks`), and its
/// individual checks for the report (returned). Without an admin key it is
/// reported as skipped.
pub(crate) async fn server_consistency(http: &HttpClient, checks: &mut Vec<Check>) -> Vec<Check> {
    const NAME: &str = "server_consistency";
    let report = match http.consistency().await {
        Ok(r) => r,
        Err(e) if matches!(e.code(), Some(ErrorCode::Unauthorized | ErrorCode::Forbidden)) => {
            let skipped =
                "skipped: the key is not an admin key (pass --admin-key to include the server's replay check)";
            return vec![Check::new(NAME, true, skipped)];
        }
        Err(e) => {
            checks.push(Check::new(NAME, false, failed_call("GET /v1/admin/consistency", &e)));
            return Vec::new();
        }
    };
    let server_checks: Vec<Check> = report
        .checks
        .iter()
        .map(|c| Check::new(&c.name, c.ok, &c.detail))
        .collect();
    let detail = if report.ok {
        format!(
            "the server's consistency check passed at journal sequence {} (live state, projection and journal replay agree)",
            report.journal_seq
        )
    } else {
        let failed: Vec<String> = server_checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| format!("{}: {}", c.name, c.detail))
            .collect();
        failed.join("; ")
    };
    checks.push(Check::new(NAME, report.ok, detail));
    server_checks
}

/// The server's top 10 (player id, score); empty if it cannot be read.
pub(crate) async fn leaderboard(http: &HttpClient, hunt: &str) -> Vec<(String, u64)> {
    let params = LeaderboardParams {
        limit: Some(10),
        around: None,
    };
    match http.leaderboard(hunt, &params).await {
        Ok(board) => board
            .entries
            .into_iter()
            .map(|e| (e.player.into_owned(), e.score))
            .collect(),
        Err(_) => Vec::new(),
    }
}
