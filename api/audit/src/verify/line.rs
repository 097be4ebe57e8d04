//! The lines of an export as verify reads them: one flat struct for every
//! line type, and the journal record a record line stands for.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use trove_engine::{
    ClaimRequest, ClueDef, EventKind, GameEvent, HuntDef, Millis, Outcome, ProductDef, Record, RejectReason, Seq,
};

/// One line of an export, any type. Parsed into one flat struct (no tagged
/// enum: serde buffers those, which would lose `customs`' exact bytes).
#[derive(Deserialize)]
pub(crate) struct Line {
    #[serde(rename = "type")]
    pub(crate) line_type: String,
    // header
    pub(crate) format: Option<String>,
    pub(crate) version: Option<u64>,
    pub(crate) filters: Option<Value>,
    pub(crate) generated_at: Option<String>,
    pub(crate) partition: Option<u32>,
    // block
    pub(crate) first_seq: Option<Seq>,
    pub(crate) count: Option<u32>,
    pub(crate) payload_len: Option<u32>,
    pub(crate) committed_at_ms: Option<Millis>,
    pub(crate) prev_hash: Option<String>,
    pub(crate) leaf_root: Option<String>,
    pub(crate) payload_hash: Option<String>,
    pub(crate) hash: Option<String>,
    pub(crate) removed: Option<u32>,
    pub(crate) telemetry_root: Option<String>,
    pub(crate) classes: Option<String>,
    pub(crate) leaves: Option<Vec<Option<String>>>,
    // record
    pub(crate) seq: Option<Seq>,
    pub(crate) record_type: Option<String>,
    pub(crate) claim_id: Option<String>,
    pub(crate) player: Option<String>,
    pub(crate) hunt: Option<String>,
    pub(crate) sku: Option<String>,
    pub(crate) customs: Option<Box<RawValue>>,
    pub(crate) customs_text: Option<String>,
    pub(crate) status: Option<String>,
    pub(crate) reason: Option<String>,
    pub(crate) clue: Option<String>,
    pub(crate) location: Option<String>,
    pub(crate) kind: Option<String>,
    pub(crate) added: Option<u64>,
    pub(crate) id: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) opens_at: Option<Millis>,
    pub(crate) closes_at: Option<Millis>,
    pub(crate) clues: Option<Vec<ClueDef>>,
    pub(crate) products: Option<Vec<ProductDef>>,
    // footer
    pub(crate) records: Option<u64>,
    pub(crate) blocks: Option<u64>,
    pub(crate) last_seq: Option<Seq>,
    pub(crate) last_hash: Option<String>,
}

pub(crate) fn need<T>(v: Option<T>, field: &str) -> Result<T, String> {
    v.ok_or_else(|| format!("missing field {field:?}"))
}

/// The journal record a record line stands for.
pub(crate) fn record_of(l: Line) -> Result<Record, String> {
    let rt = need(l.record_type, "record_type")?;
    Ok(match rt.as_str() {
        "claim" => {
            let customs = match (l.customs, l.customs_text) {
                (Some(raw), None) => raw.get().to_owned(),
                (None, Some(text)) => text,
                _ => return Err("a claim needs exactly one of \"customs\" and \"customs_text\"".into()),
            };
            let outcome = match need(l.status, "status")?.as_str() {
                "granted" => Outcome::Granted,
                "rejected" => {
                    let code = need(l.reason, "reason")?;
                    Outcome::Rejected(
                        RejectReason::ALL
                            .into_iter()
                            .find(|r| r.code() == code)
                            .ok_or_else(|| format!("unknown reject reason {code:?}"))?,
                    )
                }
                other => return Err(format!("unknown claim status {other:?}")),
            };
            Record::Claim {
                request: ClaimRequest {
                    claim_id: need(l.claim_id, "claim_id")?,
                    player: need(l.player, "player")?,
                    hunt: need(l.hunt, "hunt")?,
                    sku: need(l.sku, "sku")?,
                    customs,
                },
                outcome,
            }
        }
        "clue_found" | "checkin" | "interaction" => Record::Event(GameEvent {
            player: need(l.player, "player")?,
            hunt: need(l.hunt, "hunt")?,
            kind: match rt.as_str() {
                "clue_found" => EventKind::ClueFound {
                    clue: need(l.clue, "clue")?,
                },
                "checkin" => EventKind::Checkin {
                    location: need(l.location, "location")?,
                },
                _ => EventKind::Interaction {
                    kind: need(l.kind, "kind")?,
                },
            },
        }),
        "stock_added" => Record::StockAdded {
            hunt: need(l.hunt, "hunt")?,
            sku: need(l.sku, "sku")?,
            added: need(l.added, "added")?,
        },
        "hunt_defined" => Record::HuntDefined(HuntDef {
            id: need(l.id, "id")?,
            name: need(l.name, "name")?,
            opens_at: l.opens_at,
            closes_at: l.closes_at,
            clues: need(l.clues, "clues")?,
            products: need(l.products, "products")?,
        }),
        other => return Err(format!("unknown record_type {other:?}")),
    })
}

/// Finds a `"seq":N` in a line that did not parse, for the error position.
pub(crate) fn sniff_seq(line: &str) -> Option<Seq> {
    let i = line.find("\"seq\":")? + 6;
    let digits: String = line[i..].chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::jsonl::record_line;
    use crate::time::format_ms;

    #[test]
    fn record_lines_reencode_to_the_same_bytes() {
        let records = vec![
            Record::Claim {
                request: ClaimRequest {
                    claim_id: "k".into(),
                    player: "p\"1".into(),
                    hunt: "h".into(),
                    sku: "s".into(),
                    customs: r#"{"a":"é\u00e9","n":1.50}"#.into(),
                },
                outcome: Outcome::Rejected(RejectReason::OutOfStock),
            },
            Record::Claim {
                request: ClaimRequest {
                    claim_id: "k".into(),
                    player: "p".into(),
                    hunt: "h".into(),
                    sku: "s".into(),
                    customs: " not json".into(),
                },
                outcome: Outcome::Granted,
            },
            Record::HuntDefined(HuntDef {
                id: "h".into(),
                name: "n".into(),
                opens_at: None,
                closes_at: Some(5),
                clues: vec![ClueDef {
                    id: "c".into(),
                    points: 3,
                }],
                products: vec![ProductDef {
                    sku: "s".into(),
                    stock: 2,
                    per_player_limit: 1,
                    min_score: 0,
                }],
            }),
            Record::StockAdded {
                hunt: "h".into(),
                sku: "s".into(),
                added: 9,
            },
            Record::Event(GameEvent {
                player: "p".into(),
                hunt: "h".into(),
                kind: EventKind::Interaction { kind: "x\ny".into() },
            }),
        ];
        for r in records {
            let mut line = Vec::new();
            record_line(&mut line, 7, &format_ms(1), 1, &r.view());
            let l: Line = serde_json::from_slice(&line).unwrap();
            assert_eq!(record_of(l).unwrap(), r, "{}", String::from_utf8_lossy(&line));
        }
    }
}
