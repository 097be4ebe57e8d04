//! The consistency report's JSON is the `/v1/admin/consistency` body, typed by
//! trove-protocol (the same type the OpenAPI document describes).

use trove_readmodel::consistency::{ConsistencyCheck, ConsistencyReport};

fn report() -> ConsistencyReport {
    ConsistencyReport {
        ok: false,
        journal_seq: 1050,
        checks: vec![
            ConsistencyCheck {
                name: "engine_invariants".into(),
                ok: true,
                detail: "stock ledgers balance; grants match; per-player limits held".into(),
            },
            ConsistencyCheck {
                name: "players".into(),
                ok: false,
                detail: "journal: 3, engine: 2".into(),
            },
        ],
    }
}

#[test]
fn the_report_serializes_with_the_documented_fields() {
    let text = serde_json::to_string(&report()).unwrap();
    assert_eq!(
        text,
        r#"{"ok":false,"journal_seq":1050,"checks":[{"name":"engine_invariants","ok":true,"detail":"stock ledgers balance; grants match; per-player limits held"},{"name":"players","ok":false,"detail":"journal: 3, engine: 2"}]}"#
    );
    let back: ConsistencyReport = serde_json::from_str(&text).unwrap();
    assert_eq!(back, report());
}

#[test]
fn failures_name_each_failing_check() {
    assert_eq!(report().failures(), ["players: journal: 3, engine: 2"]);
}
