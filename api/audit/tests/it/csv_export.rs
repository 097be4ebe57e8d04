//! CSV exports parse back, with the `csv` crate, into exactly the values stored.

use crate::journal::{self, HOSTILE};
use trove_audit::{Filters, Format, CSV_COLUMNS};

#[test]
fn hostile_fields_come_back_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    journal::write(tmp.path());
    let bytes = journal::export(tmp.path(), &Filters::default(), Format::Csv);
    let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(&bytes[..]);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows[0], csv::StringRecord::from(CSV_COLUMNS.to_vec()));
    let col = |name: &str| CSV_COLUMNS.iter().position(|c| *c == name).unwrap();
    let rows = &rows[1..];
    let types: Vec<&str> = rows.iter().map(|r| &r[col("record_type")]).collect();
    assert_eq!(
        types,
        ["hunt_defined", "clue_found", "checkin", "interaction", "claim", "claim"]
    );
    let definition: serde_json::Value = serde_json::from_str(&rows[0][col("definition")]).unwrap();
    assert_eq!(definition["name"], HOSTILE);
    for row in &rows[1..] {
        assert_eq!(&row[col("player")], HOSTILE);
        assert_eq!(row.len(), CSV_COLUMNS.len());
    }
    assert_eq!(&rows[2][col("location")], HOSTILE);
    assert_eq!(&rows[3][col("kind")], HOSTILE);
    for claim in &rows[4..] {
        assert_eq!(&claim[col("customs")], journal::customs());
    }
    // The second claim of the same player is over the per-player limit.
    assert_eq!(&rows[4][col("status")], "granted");
    assert_eq!(&rows[5][col("status")], "rejected");
    // Every row ends with CRLF, quoted line breaks included only inside fields.
    assert!(bytes.ends_with(b"\r\n"));
}
