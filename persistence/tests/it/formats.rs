//! Golden bytes: the on-disk formats, pinned. The journal's records and
//! blocks and the snapshot's state are bincoded straight from the engine's
//! types, so reordering a field or a variant would silently change what is
//! on disk (and break every folder written before). These tests fail first.
//! If a change is meant, it needs a new format version and a migration, and
//! only then new constants here. The headers are pinned too: the block log's
//! frame header, the block header (what an export's proof rebuilds), and the
//! snapshot file header with the journal block hash it records.

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

/// What a failure here means, for every header test below.
const BUMP: &str = "an on-disk header changed: if that is meant, bump the format's version (chain::FORMAT_VERSION \
                    for blocks, the frame or snapshot version), add a migration for folders already written, and \
                    only then update these constants";

/// The journal block of [`journal_block_is_pinned`].
fn block() -> (Vec<u8>, trove_persistence::chain::Hash) {
    let mut payload = Vec::new();
    for r in records() {
        codec::encode_record(&r, &mut payload).unwrap();
    }
    codec::encode_block(41, 7, 1_777_000_000_123, &[7; 32], &payload)
}

/// The block log's frame header: "TRVL" | block length u32 LE | first seq
/// u64 LE | count u32 LE | 0u32 | first 8 bytes of blake3(the 24 before).
#[test]
fn block_log_frame_header_is_pinned() {
    let (block, _) = block();
    let mut frame = Vec::new();
    trove_persistence::log::frame(41, 7, &block, &mut frame);
    assert_eq!(frame.len(), trove_persistence::log::FRAME_HEADER + block.len());
    let header = &frame[..trove_persistence::log::FRAME_HEADER];
    assert_eq!(&header[..4], b"TRVL", "{BUMP}");
    assert_eq!(&header[4..8], &(block.len() as u32).to_le_bytes(), "{BUMP}");
    assert_eq!(&header[8..16], &41u64.to_le_bytes(), "{BUMP}");
    assert_eq!(&header[16..20], &7u32.to_le_bytes(), "{BUMP}");
    assert_eq!(&header[20..24], &[0; 4], "{BUMP}");
    assert_eq!(&header[24..], &blake3::hash(&header[..24]).as_bytes()[..8], "{BUMP}");
    assert_eq!(hex(header), FRAME_HEADER_HEX, "{BUMP}");
    assert_eq!(
        &frame[header.len()..],
        &block[..],
        "the block follows its frame header unchanged"
    );
}

const FRAME_HEADER_HEX: &str = "5452564c50010000290000000000000007000000000000008896da8f5128147f";

/// The 160-byte block header: magic "TRVJ", version, reserved, first_seq,
/// count, payload_len, committed_at, prev_hash, leaf_root, payload_hash,
/// then the hash of those 128 bytes.
#[test]
fn block_header_is_pinned() {
    use trove_persistence::chain::{FORMAT_VERSION, HEADER_LEN};
    let (block, hash) = block();
    let header = &block[..HEADER_LEN];
    assert_eq!(
        (&header[..4], header[4], &header[5..8]),
        (&b"TRVJ"[..], 2, &[0u8; 3][..]),
        "{BUMP}"
    );
    assert_eq!(FORMAT_VERSION, 2, "{BUMP}");
    assert_eq!(&header[8..16], &41u64.to_le_bytes(), "{BUMP}");
    assert_eq!(&header[16..20], &7u32.to_le_bytes(), "{BUMP}");
    assert_eq!(
        &header[20..24],
        &((block.len() - HEADER_LEN) as u32).to_le_bytes(),
        "{BUMP}"
    );
    assert_eq!(&header[24..32], &1_777_000_000_123i64.to_le_bytes(), "{BUMP}");
    assert_eq!(&header[32..64], &[7; 32], "{BUMP}: prev_hash");
    assert_eq!(
        &header[96..128],
        blake3::hash(&block[HEADER_LEN..]).as_bytes(),
        "{BUMP}: payload_hash"
    );
    assert_eq!(&header[128..], &hash, "{BUMP}: the hash ends the header");
    assert_eq!(
        &header[128..],
        blake3::hash(&header[..128]).as_bytes(),
        "{BUMP}: the hash covers bytes 0..128"
    );
    assert_eq!(hex(header), BLOCK_HEADER_HEX, "{BUMP}");
    // What a verifier rebuilds from an export's fields gives the same bytes.
    let decoded = codec::decode_block(&block).unwrap();
    assert_eq!(&decoded.header().bytes()[..], header, "{BUMP}: chain::Header::bytes");
}

const BLOCK_HEADER_HEX: &str = concat!(
    "5452564a02000000290000000000000007000000b00000007b2a74bd9d010000",
    "0707070707070707070707070707070707070707070707070707070707070707",
    "91e5b1f846416f6f87997d1b0fd925b2aa474399eeb94e416aa65c09d975cb84",
    "1b95cbd7d7c266204cefc21a82af26bd62dd7d1c5438bb418d2a56198df5b0bc",
    "5765a439331c87bf1681420f30ec96d357d098b3c24284a97119a3bb292d2b32",
);

/// The snapshot file header (format 2): magic "TRVS", version 2, reserved,
/// seq u64 LE, payload_len u64 LE, blake3(payload), the hash of the journal
/// block holding seq; then bincode(World).
#[test]
fn snapshot_file_header_is_pinned() {
    let mut world = World::default();
    for (i, r) in records().iter().enumerate() {
        world.apply(i as Seq + 1, r).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let block_hash = [0xb1; 32];
    let path = trove_persistence::snapshot::write(dir.path(), &world, &block_hash, 1).unwrap();
    assert_eq!(
        path.file_name().unwrap().to_str().unwrap(),
        "snapshot-00000000000000000007.trv",
        "{BUMP}: the file name"
    );
    let bytes = std::fs::read(&path).unwrap();
    let payload = codec::encode_value(&world).unwrap();
    assert_eq!(bytes.len(), 88 + payload.len(), "{BUMP}");
    let header = &bytes[..88];
    assert_eq!(
        (&header[..4], header[4], &header[5..8]),
        (&b"TRVS"[..], 2, &[0u8; 3][..]),
        "{BUMP}"
    );
    assert_eq!(&header[8..16], &7u64.to_le_bytes(), "{BUMP}: seq");
    assert_eq!(
        &header[16..24],
        &(payload.len() as u64).to_le_bytes(),
        "{BUMP}: payload_len"
    );
    assert_eq!(
        &header[24..56],
        blake3::hash(&payload).as_bytes(),
        "{BUMP}: payload checksum"
    );
    assert_eq!(
        &header[56..88],
        &block_hash,
        "{BUMP}: the journal block hash it records"
    );
    assert_eq!(&bytes[88..], &payload[..], "{BUMP}: the payload follows the header");
    assert_eq!(hex(header), SNAPSHOT_HEADER_HEX, "{BUMP}");
    let back = trove_persistence::snapshot::read(&path).unwrap();
    assert_eq!((back.world.digest(), back.block_hash), (world.digest(), block_hash));
}

const SNAPSHOT_HEADER_HEX: &str = concat!(
    "545256530200000007000000000000005800000000000000",
    "abad3bbaf7ef865f37e78606022442dd2ab3d676e7c954082280f1a3cab11c3d",
    "b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1",
);
