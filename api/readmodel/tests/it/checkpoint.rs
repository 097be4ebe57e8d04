//! The checkpoint file format, pinned byte for byte.

use trove_engine::{ClaimRequest, ClueDef, EventKind, GameEvent, HuntDef, Outcome, ProductDef, Record};
use trove_readmodel::checkpoint::{self, CHECKPOINT_FILE};
use trove_readmodel::state::ProjectionState;
use trove_readmodel::CheckpointError;

/// A small projection built deterministically: one hunt, one clue, one
/// product, one player, so that every hash map in the state holds at most one
/// entry and the payload's bytes do not depend on hashing order.
fn small_state() -> ProjectionState {
    let hunt = HuntDef {
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
            min_score: 0,
        }],
    };
    let records = [
        Record::HuntDefined(hunt),
        Record::StockAdded {
            hunt: "h1".into(),
            sku: "mug".into(),
            added: 2,
        },
        Record::Event(GameEvent {
            player: "ann".into(),
            hunt: "h1".into(),
            kind: EventKind::ClueFound { clue: "c1".into() },
        }),
        Record::Claim {
            request: ClaimRequest {
                claim_id: "k1".into(),
                player: "ann".into(),
                hunt: "h1".into(),
                sku: "mug".into(),
                customs: "{}".into(),
            },
            outcome: Outcome::Granted,
        },
    ];
    let mut st = ProjectionState::default();
    for (i, r) in records.iter().enumerate() {
        st.apply(i as u64 + 1, r).unwrap();
    }
    st
}

const BLOCK_HASH: [u8; 32] = [0xab; 32];

/// The checkpoint of [`small_state`] tied to [`BLOCK_HASH`], as written today.
const GOLDEN_HEX: &str = concat!(
    // magic "TRV2"
    "54525632",
    // sequence 4, u64 LE
    "0400000000000000",
    // hash of the journal block holding it
    "abababababababababababababababababababababababababababababababab",
    // blake3 of the payload
    "a74e610e2ac7bb5daf4c164fa98dbd88746b4024a76581c2de2a2109b9abb049",
    // payload: bincode of the state (applied, hunts, players, events, claims,
    // granted); each hunt ends with its rejections per product and reason
    // (one product: 01 00000000) and its unknown_product count (00)
    "040102683102683107486172626f757201fd0054e87a3b03000000010263310a01036d7567050100010263310001036d7567000103616e6e0a030101010201010101000000000001",
    "03616e6e010101",
);

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn checkpoint_bytes_are_pinned() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = checkpoint::encode(&small_state(), &BLOCK_HASH).unwrap();
    checkpoint::write(dir.path(), &bytes).unwrap();
    let written = std::fs::read(dir.path().join(CHECKPOINT_FILE)).unwrap();
    assert_eq!(
        hex(&written),
        GOLDEN_HEX,
        "the leaderboard checkpoint format changed: a deliberate change needs a version bump \
         (a new magic in checkpoint.rs, and old files rebuilt from the journal) and new pinned bytes here"
    );
    assert_eq!(checkpoint::checkpoint_seq(dir.path()), Some(4));
}

#[test]
fn checkpoints_round_trip_and_keep_the_ranking() {
    let bytes = checkpoint::encode(&small_state(), &BLOCK_HASH).unwrap();
    let (st, hash) = checkpoint::decode(&bytes).unwrap();
    assert_eq!((st.applied(), hash), (4, BLOCK_HASH));
    let board = st.ranking("h1").unwrap();
    assert_eq!(board.query(10, None), [(1, "ann".into(), 10)]);
}

#[test]
fn damaged_checkpoints_are_refused() {
    let good = checkpoint::encode(&small_state(), &BLOCK_HASH).unwrap();
    assert!(matches!(checkpoint::decode(&good[..70]), Err(CheckpointError::Damaged)));
    let mut magic = good.clone();
    magic[0] = b'X';
    assert!(matches!(checkpoint::decode(&magic), Err(CheckpointError::Damaged)));
    let mut flipped = good.clone();
    *flipped.last_mut().unwrap() ^= 1;
    assert!(matches!(checkpoint::decode(&flipped), Err(CheckpointError::Checksum)));
    let mut seq = good;
    seq[4] = 9;
    assert!(matches!(checkpoint::decode(&seq), Err(CheckpointError::HeaderMismatch)));
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(checkpoint::checkpoint_seq(dir.path()), None);
}
