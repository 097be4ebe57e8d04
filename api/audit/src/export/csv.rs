//! CSV rows of an export (RFC 4180 through the `csv` crate: fields quoted
//! only when they hold a comma, a quote or a line break; CRLF line ends).
//! No proofs: a flat table for spreadsheets.

use crate::filter::type_name;
use trove_engine::{EventKindView, Millis, RecordView, Seq};

/// The columns of a CSV export, in order (its first row).
pub const CSV_COLUMNS: [&str; 16] = [
    "seq",
    "committed_at",
    "committed_at_ms",
    "record_type",
    "hunt",
    "player",
    "claim_id",
    "sku",
    "status",
    "reason",
    "customs",
    "clue",
    "location",
    "kind",
    "added",
    "definition",
];

/// CSV rows written into a buffer that the export hands out in chunks.
pub(crate) struct CsvRows {
    w: csv::Writer<Vec<u8>>,
}

fn writer(buf: Vec<u8>) -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(buf)
}

impl CsvRows {
    /// Rows into `buf`, starting with the header row.
    pub(crate) fn new(buf: Vec<u8>) -> CsvRows {
        let mut rows = CsvRows { w: writer(buf) };
        rows.w.write_record(CSV_COLUMNS).expect("writing to a Vec");
        rows
    }

    /// Bytes written so far and not yet taken (roughly: the writer keeps a
    /// small buffer of its own).
    pub(crate) fn pending(&self) -> usize {
        self.w.get_ref().len()
    }

    /// Hands the rows written so far to `take`, then goes on with an empty buffer.
    pub(crate) fn drain<E>(&mut self, take: impl FnOnce(&[u8]) -> Result<(), E>) -> Result<(), E> {
        let w = std::mem::replace(&mut self.w, writer(Vec::new()));
        let mut buf = w.into_inner().expect("writing to a Vec");
        take(&buf)?;
        buf.clear();
        self.w = writer(buf);
        Ok(())
    }

    /// The row of one record.
    pub(crate) fn row(&mut self, seq: Seq, at_text: &str, at: Millis, r: &RecordView<'_>) {
        let mut cols: [&str; 16] = [""; 16];
        let seq_s = seq.to_string();
        let at_s = at.to_string();
        let added_s;
        let def_s;
        cols[0] = &seq_s;
        cols[1] = at_text;
        cols[2] = &at_s;
        cols[3] = type_name(r);
        match r {
            RecordView::Claim { request, outcome } => {
                cols[4] = request.hunt;
                cols[5] = request.player;
                cols[6] = request.claim_id;
                cols[7] = request.sku;
                cols[8] = outcome.status();
                cols[9] = outcome.reason().map_or("", |r| r.code());
                cols[10] = request.customs;
            }
            RecordView::Event(e) => {
                cols[4] = e.hunt;
                cols[5] = e.player;
                match e.kind {
                    EventKindView::ClueFound { clue } => cols[11] = clue,
                    EventKindView::Checkin { location } => cols[12] = location,
                    EventKindView::Interaction { kind } => cols[13] = kind,
                }
            }
            RecordView::StockAdded { hunt, sku, added } => {
                cols[4] = hunt;
                cols[7] = sku;
                added_s = added.to_string();
                cols[14] = &added_s;
            }
            RecordView::HuntDefined(def) => {
                cols[4] = &def.id;
                def_s = serde_json::to_string(def.as_ref()).expect("hunt definitions encode");
                cols[15] = &def_s;
            }
        }
        self.w.write_record(cols).expect("writing to a Vec");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trove_engine::{EventKind, GameEvent, Record};

    #[test]
    fn csv_quotes_per_rfc4180() {
        let mut rows = CsvRows::new(Vec::new());
        let event = Record::Event(GameEvent {
            player: "plain".into(),
            hunt: r#"{"a":"x,y"}"#.into(),
            kind: EventKind::Interaction { kind: "a\r\nb".into() },
        });
        rows.row(7, "t", 1, &event.view());
        let mut text = Vec::new();
        rows.drain(|b| {
            text.extend_from_slice(b);
            Ok::<(), ()>(())
        })
        .unwrap();
        let text = String::from_utf8(text).unwrap();
        let row = text.split_once("\r\n").unwrap().1;
        assert_eq!(
            row,
            "7,t,1,interaction,\"{\"\"a\"\":\"\"x,y\"\"}\",plain,,,,,,,,\"a\r\nb\",,\r\n"
        );
    }
}
