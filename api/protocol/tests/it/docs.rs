//! `docs/PROTOCOL.md`'s "Error codes" table lists exactly `ErrorCode::ALL`.

use trove_protocol::ErrorCode;

fn documented_codes() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/PROTOCOL.md")).unwrap();
    let section = text.split("\n## Error codes\n").nth(1).expect("an Error codes section");
    let section = section.split("\n## ").next().unwrap();
    section
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let code = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            Some((code.to_owned(), cells.get(2)?.to_string()))
        })
        .collect()
}

#[test]
fn protocol_md_lists_every_error_code() {
    let documented = documented_codes();
    let names: Vec<&str> = documented.iter().map(|(c, _)| c.as_str()).collect();
    let ours: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(
        names, ours,
        "docs/PROTOCOL.md's Error codes table and ErrorCode::ALL differ"
    );
    for (code, status) in &documented {
        let c = ErrorCode::from_wire(code).unwrap();
        if status != "—" {
            assert_eq!(status, &c.http_status().to_string(), "HTTP status of {code}");
        }
        assert_eq!(serde_json::to_string(&c).unwrap(), format!("\"{code}\""));
    }
}
