//! A small journal with hostile text in every free-text field.

use std::path::Path;
use trove_engine::*;
use trove_persistence::*;

/// Text a spreadsheet or a browser could misread.
pub const HOSTILE: &str = "a,b \"quoted\"\r\nnext line <img src=x onerror=alert(1)>";

pub fn hunt() -> HuntDef {
    HuntDef {
        id: "h1".into(),
        name: HOSTILE.into(),
        opens_at: None,
        closes_at: None,
        clues: vec![ClueDef {
            id: "c1".into(),
            points: 10,
        }],
        products: vec![ProductDef {
            sku: "mug".into(),
            stock: 5,
            per_player_limit: 1,
            min_score: 0,
        }],
    }
}

pub fn customs() -> String {
    serde_json::json!({ "name": HOSTILE, "address": "1, \"Main\" St" }).to_string()
}

/// Writes the journal into `dir`: a hunt, a clue find, a checkin and an
/// interaction with hostile text, and two claims with hostile customs.
pub fn write(dir: &Path) {
    actix::System::new().block_on(async {
        let (engine, store, _) = open_engine(dir, StoreOptions::default(), EngineConfig::default()).unwrap();
        assert!(engine.define_hunt(hunt()).await.unwrap().created);
        let ev = |kind: EventKind| GameEvent {
            player: HOSTILE.into(),
            hunt: "h1".into(),
            kind,
        };
        let r = engine
            .ingest(vec![
                ev(EventKind::ClueFound { clue: "c1".into() }),
                ev(EventKind::Checkin {
                    location: HOSTILE.into(),
                }),
                ev(EventKind::Interaction { kind: HOSTILE.into() }),
            ])
            .await
            .unwrap();
        assert_eq!(r.accepted, 3);
        for id in ["k1", "k2"] {
            engine
                .claim(ClaimRequest {
                    claim_id: id.into(),
                    player: HOSTILE.into(),
                    hunt: "h1".into(),
                    sku: "mug".into(),
                    customs: customs(),
                })
                .await
                .unwrap();
        }
        store.close().await.unwrap();
        engine.stop();
    });
}

/// An export of the journal in `dir`.
pub fn export(dir: &Path, filters: &trove_audit::Filters, format: trove_audit::Format) -> Vec<u8> {
    let archive = Archive::open(dir).unwrap();
    let mut out = Vec::new();
    trove_audit::export(&archive, filters, format, Seq::MAX, &mut out, &mut |_| {}, &|| false).unwrap();
    out
}
