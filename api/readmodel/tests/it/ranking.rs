//! The projection against a reference model that keeps every player in
//! plain maps and sorts them all on demand, over random journals: several
//! hunts (up to 70 clues, so clue bits span words; points 0 to 4, so scores
//! tie), a small pool of players, events, claims, removed telemetry (which
//! joins players at earlier sequences, so score and sequence can tie and the
//! player id decides), removed ranges, refreshes and checkpoint round trips.
//! After every entry the unpublished ranking must equal the model's; after
//! every refresh the published boards must, and so must top-N and
//! around-a-player queries.

use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use trove_engine::{
    ClaimRequest, ClueDef, EventKind, GameEvent, HuntDef, Outcome, ProductDef, Record, RejectReason, Seq,
    TelemetryCount,
};
use trove_persistence::Item;
use trove_readmodel::checkpoint;
use trove_readmodel::leaderboard::Board;
use trove_readmodel::state::ProjectionState;

const PLAYERS: [&str; 12] = [
    "ann", "bob", "a", "ab", "b", "ann2", "zed", "Ann", "p10", "p9", "p", "é",
];
const HUNTS: usize = 3;

#[derive(Clone, Debug)]
enum Op {
    /// A player's event in a hunt: `Some(clue)` finds clue `clue` (an index
    /// past the hunt's clues is an unknown clue), `None` is telemetry.
    Event {
        player: usize,
        hunt: usize,
        clue: Option<usize>,
    },
    /// A claim decision.
    Claim { player: usize, hunt: usize, granted: bool },
    /// Retention's per-player counts: (player, hunt, first_seq).
    Telemetry(Vec<(usize, usize, Seq)>),
    /// `n` records removed by retention.
    Removed(u64),
    /// The hunt defined again, differently: ignored.
    Redefine(usize),
    /// Publish the changed boards.
    Refresh,
    /// Encode and decode the state.
    Checkpoint,
}

fn op() -> impl Strategy<Value = Op> {
    let p = 0..PLAYERS.len();
    let h = 0..HUNTS;
    prop_oneof![
        12 => (p.clone(), h.clone(), proptest::option::weighted(0.7, 0..72usize))
            .prop_map(|(player, hunt, clue)| Op::Event { player, hunt, clue }),
        1 => (p.clone(), h.clone(), any::<bool>()).prop_map(|(player, hunt, granted)| Op::Claim { player, hunt, granted }),
        1 => proptest::collection::vec((p, h.clone(), 1..6u64), 0..4).prop_map(Op::Telemetry),
        1 => (1..4u64).prop_map(Op::Removed),
        1 => h.prop_map(Op::Redefine),
        3 => Just(Op::Refresh),
        1 => Just(Op::Checkpoint),
    ]
}

/// Clue points of each hunt.
fn hunts() -> impl Strategy<Value = Vec<Vec<u32>>> {
    proptest::collection::vec(
        prop_oneof![1..4usize, Just(64usize), 63..71usize].prop_flat_map(|n| proptest::collection::vec(0..5u32, n)),
        HUNTS,
    )
}

fn hunt_def(h: usize, points: &[u32]) -> HuntDef {
    HuntDef {
        id: format!("h{h}"),
        name: format!("hunt {h}"),
        opens_at: None,
        closes_at: None,
        clues: points
            .iter()
            .enumerate()
            .map(|(i, &points)| ClueDef {
                id: format!("c{i}"),
                points,
            })
            .collect(),
        products: vec![ProductDef {
            sku: "mug".into(),
            stock: 10,
            per_player_limit: 1,
            min_score: 0,
        }],
    }
}

/// One player in one hunt, as the model keeps it.
#[derive(Clone, Debug)]
struct RefPlayer {
    score: u64,
    reached: Seq,
    found: BTreeSet<usize>,
}

/// The reference: every hunt's players in a map, sorted on demand.
#[derive(Clone, Debug, Default)]
struct Model {
    points: Vec<Vec<u32>>,
    hunts: Vec<BTreeMap<String, RefPlayer>>,
}

impl Model {
    fn join(&mut self, hunt: usize, player: &str, seq: Seq) -> &mut RefPlayer {
        self.hunts[hunt].entry(player.to_owned()).or_insert(RefPlayer {
            score: 0,
            reached: seq,
            found: BTreeSet::new(),
        })
    }

    fn event(&mut self, hunt: usize, player: &str, clue: Option<usize>, seq: Seq) {
        let points = self.points[hunt].clone();
        let p = self.join(hunt, player, seq);
        if let Some(c) = clue {
            if c < points.len() && p.found.insert(c) {
                p.score += u64::from(points[c]);
                if points[c] > 0 {
                    p.reached = seq;
                }
            }
        }
    }

    /// The board of `hunt`: higher score, then earlier sequence, then id.
    fn board(&self, hunt: usize) -> Vec<(String, u64)> {
        let mut v: Vec<(&String, &RefPlayer)> = self.hunts[hunt].iter().collect();
        v.sort_by(|(a, pa), (b, pb)| pb.score.cmp(&pa.score).then(pa.reached.cmp(&pb.reached)).then(a.cmp(b)));
        v.into_iter().map(|(id, p)| (id.clone(), p.score)).collect()
    }
}

fn entries(board: &Board) -> Vec<(String, u64)> {
    board.entries.iter().map(|(p, s)| (p.to_string(), *s)).collect()
}

/// The model's answer to a query: the top `limit`, or a window of `limit`
/// around `around` (about `limit / 2` above it, kept full at the bottom).
fn model_query(board: &[(String, u64)], limit: usize, around: Option<&str>) -> Vec<(usize, String, u64)> {
    let start = match around {
        None => 0,
        Some(p) => match board.iter().position(|(id, _)| id == p) {
            None => return Vec::new(),
            Some(pos) => pos.saturating_sub(limit / 2).min(board.len().saturating_sub(limit)),
        },
    };
    let end = (start + limit).min(board.len());
    (start..end).map(|i| (i + 1, board[i].0.clone(), board[i].1)).collect()
}

fn check_queries(board: &Board, want: &[(String, u64)], names: &[&str]) -> Result<(), TestCaseError> {
    prop_assert_eq!(entries(board), want.to_vec());
    for limit in [1, 2, 3, 5, 1000] {
        let got: Vec<(usize, String, u64)> = board
            .query(limit, None)
            .into_iter()
            .map(|(r, p, s)| (r, p.to_string(), s))
            .collect();
        prop_assert_eq!(got, model_query(want, limit, None));
        for p in names.iter().chain(&["nobody"]) {
            let got: Vec<(usize, String, u64)> = board
                .query(limit, Some(p))
                .into_iter()
                .map(|(r, p, s)| (r, p.to_string(), s))
                .collect();
            prop_assert_eq!(got, model_query(want, limit, Some(p)), "limit {} around {}", limit, p);
        }
    }
    Ok(())
}

/// Runs `ops` on a projection and the model, checking them against each
/// other (the unpublished ranking after every entry if `every_entry`).
fn run(names: &[&str], points: Vec<Vec<u32>>, ops: Vec<Op>, every_entry: bool) -> Result<(), TestCaseError> {
    let mut st = ProjectionState::default();
    let mut model = Model {
        hunts: vec![BTreeMap::new(); points.len()],
        points: points.clone(),
    };
    let mut seq: Seq = 0;
    for (h, p) in points.iter().enumerate() {
        seq += 1;
        st.apply(seq, &Record::HuntDefined(hunt_def(h, p))).unwrap();
    }
    let mut published: HashMap<String, Arc<Board>> = HashMap::new();
    let mut versions: HashMap<String, u64> = HashMap::new();
    for op in ops {
        match op {
            Op::Event { player, hunt, clue } => {
                seq += 1;
                let kind = match clue {
                    Some(c) => EventKind::ClueFound { clue: format!("c{c}") },
                    None => EventKind::Checkin {
                        location: "gate".into(),
                    },
                };
                let ev = GameEvent {
                    player: names[player].into(),
                    hunt: format!("h{hunt}"),
                    kind,
                };
                st.apply_item(seq, &Item::Record(Record::Event(ev))).unwrap();
                model.event(hunt, names[player], clue, seq);
            }
            Op::Claim { player, hunt, granted } => {
                seq += 1;
                let request = ClaimRequest {
                    claim_id: format!("k{seq}"),
                    player: names[player].into(),
                    hunt: format!("h{hunt}"),
                    sku: "mug".into(),
                    customs: "{}".into(),
                };
                let outcome = if granted {
                    Outcome::Granted
                } else {
                    Outcome::Rejected(RejectReason::OutOfStock)
                };
                st.apply(seq, &Record::Claim { request, outcome }).unwrap();
            }
            Op::Telemetry(counts) => {
                let players = counts
                    .iter()
                    .map(|&(p, h, first_seq)| TelemetryCount {
                        player: names[p].into(),
                        hunt: format!("h{h}"),
                        first_seq,
                        checkins: 1,
                        interactions: 0,
                    })
                    .collect();
                st.apply_item(seq + 1, &Item::RemovedTelemetry { hunts: vec![], players })
                    .unwrap();
                for (p, h, first_seq) in counts {
                    model.join(h, names[p], first_seq);
                }
            }
            Op::Removed(n) => {
                st.apply_item(seq + n, &Item::Removed { first: seq + 1 }).unwrap();
                seq += n;
            }
            Op::Redefine(h) => {
                seq += 1;
                st.apply(seq, &Record::HuntDefined(hunt_def(h, &[9, 9]))).unwrap();
            }
            Op::Refresh => {
                for (id, board) in st.take_changed_boards() {
                    let v = versions.entry(id.clone()).or_insert(0);
                    *v += 1;
                    prop_assert_eq!(board.version, *v, "hunt {}", id);
                    published.insert(id, board);
                }
                for h in 0..points.len() {
                    let board = published.get(&format!("h{h}"));
                    prop_assert!(board.is_some(), "h{} never published", h);
                    check_queries(board.unwrap(), &model.board(h), names)?;
                }
            }
            Op::Checkpoint => {
                let bytes = checkpoint::encode(&st, &[1; 32]).unwrap();
                let (back, _) = checkpoint::decode(&bytes).unwrap();
                prop_assert_eq!(back.applied(), st.applied());
                prop_assert_eq!(&checkpoint::encode(&back, &[1; 32]).unwrap(), &bytes);
                st = back;
                // A restored state publishes every hunt again, from version 1.
                versions.clear();
            }
        }
        prop_assert_eq!(st.applied(), seq);
        for h in (0..points.len()).filter(|_| every_entry) {
            let now = st.ranking(&format!("h{h}")).unwrap();
            prop_assert_eq!(entries(&now), model.board(h), "hunt h{} after seq {}", h, seq);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_projection_ranks_as_the_reference_model(points in hunts(), ops in proptest::collection::vec(op(), 0..250)) {
        run(&PLAYERS, points, ops, true)?;
    }
}

/// Many players, few refreshes: long merges of many changed slots into a
/// long settled order.
#[test]
fn large_merges_rank_as_the_reference_model() {
    let owned: Vec<String> = (0..400).map(|i| format!("player-{i}")).collect();
    let names: Vec<&str> = owned.iter().map(String::as_str).collect();
    let points = vec![vec![1, 2, 3, 0, 5, 1, 1, 2]; HUNTS];
    let mut ops = Vec::new();
    let mut x: u64 = 7;
    for i in 0..20_000 {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let player = (x >> 33) as usize % names.len();
        let hunt = (x >> 20) as usize % HUNTS;
        let clue = Some((x >> 40) as usize % 9);
        ops.push(Op::Event { player, hunt, clue });
        if i % 2_500 == 0 {
            ops.push(Op::Refresh);
        }
    }
    ops.push(Op::Refresh);
    ops.push(Op::Checkpoint);
    ops.push(Op::Refresh);
    run(&names, points, ops, false).unwrap();
}
