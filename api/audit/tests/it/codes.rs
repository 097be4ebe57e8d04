//! The stable failure codes are a contract: docs/AUDIT.md lists exactly the code's.

use std::collections::BTreeSet;

#[test]
fn docs_list_every_failure_code() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/AUDIT.md")).unwrap();
    // The table of codes: rows whose first cell lists codes in backticks.
    let start = doc.find("| `not_an_export`").expect("the table of failure codes");
    let table = doc[start..].lines().take_while(|l| l.starts_with('|'));
    let documented: BTreeSet<&str> = table
        .filter_map(|row| row.split('|').nth(1))
        .flat_map(|cell| cell.split('`').skip(1).step_by(2))
        .collect();
    let code: BTreeSet<&str> = trove_audit::CODES.into_iter().collect();
    assert_eq!(documented, code);
}
