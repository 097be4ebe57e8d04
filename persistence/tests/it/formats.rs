//! Golden bytes: the on-disk formats, pinned. The journal's records and
//! blocks and the snapshot's state are bincoded straight from the engine's
//! types, so reordering a field or a variant would silently change what is
//! on disk (and break every folder written before). These tests fail first.
//! If a change is meant, it needs a new format version and a migration, and
//! only then new constants here.

use trove_engine::*;
use trove_persistence::testing as codec;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hunt() -> HuntDef {
    HuntDef {
        id: "h1".into(),
        name: "Harbour".into(),
        opens_at: Some(1_777_000_000_000),
        closes_at: None,
        clues: vec![ClueDef {
            id: "c1".into(),
            points: 10,
        }],
        products: vec![ProductDef {
            sku: "mug".into(),
            stock: 5,
            per_player_limit: 1,
            min_score: 10,
        }],
    }
}

fn records() -> Vec<Record> {
    let claim = |id: &str, outcome| Record::Claim {
        request: ClaimRequest {
            claim_id: id.into(),
            player: "p1".into(),
            hunt: "h1".into(),
            sku: "mug".into(),
            customs: r#"{"country":"NL"}"#.into(),
        },
        outcome,
    };
    let event = |kind| {
        Record::Event(GameEvent {
            player: "p1".into(),
            hunt: "h1".into(),
            kind,
        })
    };
    vec![
        Record::HuntDefined(hunt()),
        Record::StockAdded {
            hunt: "h1".into(),
            sku: "mug".into(),
            added: 3,
        },
        event(EventKind::ClueFound { clue: "c1".into() }),
        event(EventKind::Checkin {
            location: "gate".into(),
        }),
        event(EventKind::Interaction { kind: "photo".into() }),
        claim("k1", Outcome::Granted),
        claim("k2", Outcome::Rejected(RejectReason::LimitReached)),
    ]
}

/// Each record as the journal stores it: `len | class bit` then bincode.
const RECORDS: [&str; 7] = [
    "240000000002683107486172626f757201fd0054e87a3b03000000010263310a01036d756705010a",
    "0900000001026831036d756703",
    "0b0000000202703102683100026331",
    "0d00008002027031026831010467617465",
    "0e00008002027031026831020570686f746f",
    "2000000003026b31027031026831036d7567107b22636f756e747279223a224e4c227d00",
    "2100000003026b32027031026831036d7567107b22636f756e747279223a224e4c227d0102",
];

#[test]
fn journal_records_are_pinned() {
    for (r, want) in records().iter().zip(RECORDS) {
        let mut out = Vec::new();
        codec::encode_record(r, &mut out).unwrap();
        assert_eq!(hex(&out), want, "{} changed its bytes on disk", r.type_name());
        assert_eq!(&codec::decode_record(&out[4..]).unwrap(), r, "decodes back");
    }
}

#[test]
fn journal_block_is_pinned() {
    let mut payload = Vec::new();
    for r in records() {
        codec::encode_record(&r, &mut payload).unwrap();
    }
    let (block, hash) = codec::encode_block(41, 7, 1_777_000_000_123, &[7; 32], &payload);
    assert_eq!(
        hex(&hash),
        "5765a439331c87bf1681420f30ec96d357d098b3c24284a97119a3bb292d2b32",
        "the block hash (chain) changed"
    );
    assert_eq!(
        hex(blake3::hash(&block).as_bytes()),
        "05721a76a132d9c39ba8dd34a4fee39fead142af125f77b7daf6526b6929cf9d",
        "the block's bytes changed"
    );
    let decoded = codec::decode_block(&block).unwrap();
    assert_eq!((decoded.first_seq, decoded.count, decoded.hash), (41, 7, hash));
}

#[test]
fn snapshot_state_is_pinned() {
    let mut world = World::default();
    for (i, r) in records().iter().enumerate() {
        world.apply(i as Seq + 1, r).unwrap();
    }
    let bytes = codec::encode_value(&world).unwrap();
    // One player and one hunt: no map iteration order is involved.
    assert_eq!(
        hex(blake3::hash(&bytes).as_bytes()),
        "abad3bbaf7ef865f37e78606022442dd2ab3d676e7c954082280f1a3cab11c3d",
        "the snapshot payload changed"
    );
    let back: World = codec::decode_value(&bytes).unwrap();
    assert_eq!(back.digest(), world.digest());
}
