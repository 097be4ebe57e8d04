//! Exports of a real journal verify; edited ones fail with their code.

use crate::journal::{self, HOSTILE};
use trove_audit::{verify_export, Filters, Format, Start};

fn verify(text: &str) -> trove_audit::VerifyOutcome {
    verify_export(text.as_bytes(), None, &mut |_| {})
}

#[test]
fn a_whole_export_verifies_and_edits_fail() {
    let tmp = tempfile::tempdir().unwrap();
    journal::write(tmp.path());
    let text = String::from_utf8(journal::export(tmp.path(), &Filters::default(), Format::Jsonl)).unwrap();
    let ok = verify(&text);
    assert!(ok.ok(), "{}", ok.render());
    assert_eq!((ok.records, ok.first_seq, ok.last_seq), (6, Some(1), Some(6)));
    assert_eq!(ok.start, Start::Journal);
    assert!(ok.complete);

    let edited = text.replacen("\"granted\"", "\"rejected\",\"reason\":\"out_of_stock\"", 1);
    assert_eq!(verify(&edited).code(), Some("record_altered"));
    let lines: Vec<&str> = text.lines().collect();
    let without_last_record = [&lines[..lines.len() - 2], &lines[lines.len() - 1..]]
        .concat()
        .join("\n")
        + "\n";
    assert_eq!(verify(&without_last_record).code(), Some("record_missing"));
    let cut = &text[..text.len() - 1];
    let problem = verify(cut).problem.unwrap();
    assert_eq!((problem.code, problem.line), ("truncated", lines.len() as u64));
}

#[test]
fn a_filtered_export_verifies_but_is_not_complete() {
    let tmp = tempfile::tempdir().unwrap();
    journal::write(tmp.path());
    let filters = Filters::parse(None, None, None, Some(HOSTILE), Some("claims"), None, None, false).unwrap();
    let text = String::from_utf8(journal::export(tmp.path(), &filters, Format::Jsonl)).unwrap();
    let outcome = verify(&text);
    assert!(outcome.ok(), "{}", outcome.render());
    assert_eq!(outcome.records, 2);
    assert!(!outcome.complete);
}
