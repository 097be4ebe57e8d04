//! The consistency report's JSON is the `/v1/admin/consistency` body.

use serde_json::json;
use trove_readmodel::consistency::{CheckOutcome, ConsistencyReport};

fn report() -> ConsistencyReport {
    ConsistencyReport {
        checks: vec![
            CheckOutcome {
                detail: "stock ledgers balance; grants match; per-player limits held".into(),
                name: "engine_invariants".into(),
                ok: true,
            },
            CheckOutcome {
                detail: "journal: 3, engine: 2".into(),
                name: "players".into(),
                ok: false,
            },
        ],
        journal_seq: 1050,
        ok: false,
    }
}

#[test]
fn the_report_serializes_as_the_endpoint_always_answered() {
    let r = report();
    // What the server built before the report was typed.
    let before = json!({
        "ok": r.ok,
        "journal_seq": r.journal_seq,
        "checks": r.checks.iter().map(|c| json!({"name": c.name, "ok": c.ok, "detail": c.detail})).collect::<Vec<_>>(),
    });
    let text = serde_json::to_string(&r).unwrap();
    assert_eq!(text, serde_json::to_string(&before).unwrap());
    assert_eq!(
        text,
        r#"{"checks":[{"detail":"stock ledgers balance; grants match; per-player limits held","name":"engine_invariants","ok":true},{"detail":"journal: 3, engine: 2","name":"players","ok":false}],"journal_seq":1050,"ok":false}"#
    );
}

#[test]
fn failures_name_each_failing_check() {
    assert_eq!(report().failures(), ["players: journal: 3, engine: 2"]);
}
