//! Model-based property test.
//!
//! Random programs over a small universe (2 hunts + 1 never defined, up to 3
//! products with stocks 0..=3, limits 1..=2 and min scores, up to 4 clues, 5
//! players, 6 claim ids per player) run against the engine and against a
//! single-threaded reference model written here from the contract alone (it
//! shares no logic with the engine's `state` module).
//!
//! - Sequential operations: every engine reply must equal the model's.
//! - Concurrent groups (claims and restocks fired at once): the outcome depends
//!   on the interleaving, so the model is fed the journal order instead: each
//!   new journal record must be what the model decides at that point, and each
//!   reply must equal the journaled decision (duplicates: the first one).
//! - Restarts (journal replay, or snapshot + tail) must change nothing.
//! - At the end (and after each restart) the model's totals must equal the
//!   engine's dump, and the dump must equal a replay of the journal.

use crate::common::*;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use trove_engine::RejectReason::*;
use trove_engine::*;

const HUNTS: [&str; 3] = ["h0", "h1", "hx"]; // hx is never defined
const SKUS: [&str; 4] = ["p0", "p1", "p2", "pz"]; // pz is in no hunt
const CLUES: [&str; 4] = ["c0", "c1", "c2", "c3"];
const PLAYERS: [&str; 5] = ["u0", "u1", "u2", "u3", "u4"];
const CLAIM_IDS: [&str; 6] = ["k0", "k1", "k2", "k3", "k4", "k5"];
/// The (hunt, sku) a claim id is usually used for, so that retries (same id,
/// same target) are common; k0/k4 and k1/k5 share one, to reach limits.
const USUAL_TARGET: [(usize, usize); 6] = [(0, 0), (1, 0), (0, 1), (1, 1), (0, 0), (1, 0)];
const TIMES: [Millis; 3] = [50, 150, 250];
const WINDOW: (Millis, Millis) = (100, 200);
const START: Millis = 150;

// ------------------------------------------------------------------ programs

#[derive(Clone, Debug)]
struct HuntSpec {
    window: Option<(Millis, Millis)>,
    /// Points of clue i (`CLUES[i]`).
    clues: Vec<u32>,
    /// (stock, per_player_limit, min_score) of product i (`SKUS[i]`).
    products: Vec<(u64, u32, u64)>,
}

impl HuntSpec {
    fn def(&self, h: usize) -> HuntDef {
        HuntDef {
            id: HUNTS[h].into(),
            name: format!("hunt {h}"),
            opens_at: self.window.map(|w| w.0),
            closes_at: self.window.map(|w| w.1),
            clues: self
                .clues
                .iter()
                .enumerate()
                .map(|(i, p)| ClueDef {
                    id: CLUES[i].into(),
                    points: *p,
                })
                .collect(),
            products: self
                .products
                .iter()
                .enumerate()
                .map(|(i, (stock, limit, min))| product(SKUS[i], *stock, *limit, *min))
                .collect(),
        }
    }
}

#[derive(Clone, Debug)]
struct Cl {
    player: usize,
    id: usize,
    hunt: usize,
    sku: usize,
}

impl Cl {
    fn request(&self) -> ClaimRequest {
        claim(
            PLAYERS[self.player],
            CLAIM_IDS[self.id],
            HUNTS[self.hunt],
            SKUS[self.sku],
        )
    }
}

#[derive(Clone, Debug)]
struct Rs {
    hunt: usize,
    sku: usize,
    n: u64,
}

#[derive(Clone, Debug)]
enum Ev {
    Clue {
        player: usize,
        hunt: usize,
        clue: usize,
    },
    Checkin {
        player: usize,
        hunt: usize,
    },
    /// An event whose player id is too long: invalid.
    BadPlayer {
        hunt: usize,
    },
}

impl Ev {
    fn event(&self) -> GameEvent {
        match *self {
            Ev::Clue { player, hunt, clue: c } => clue(PLAYERS[player], HUNTS[hunt], CLUES[c]),
            Ev::Checkin { player, hunt } => checkin(PLAYERS[player], HUNTS[hunt], "gate"),
            Ev::BadPlayer { hunt } => checkin(&"x".repeat(limits::MAX_ID_BYTES + 1), HUNTS[hunt], "gate"),
        }
    }
}

#[derive(Clone, Debug)]
enum GOp {
    Claim(Cl),
    Restock(Rs),
}

#[derive(Clone, Debug)]
enum Op {
    Ingest(Vec<Ev>),
    Claim(Cl),
    Restock(Rs),
    Clock(usize),
    /// Define a hunt; `conflicting` posts a different definition if it exists.
    Define {
        hunt: usize,
        conflicting: bool,
    },
    Snapshot,
    Restart {
        from_snapshot: bool,
    },
    Group(Vec<GOp>),
}

#[derive(Clone, Debug)]
struct Program {
    specs: [HuntSpec; 2],
    h1_defined: bool,
    ops: Vec<Op>,
}

fn hunt_spec() -> impl Strategy<Value = HuntSpec> {
    let product = (0u64..=3, 1u32..=2, prop_oneof![2 => Just(0u64), 1 => 1u64..=6]);
    (
        any::<bool>(),
        prop::collection::vec(1u32..=4, 2..=4),
        prop::collection::vec(product, 1..=3),
    )
        .prop_map(|(windowed, clues, products)| HuntSpec {
            window: windowed.then_some(WINDOW),
            clues,
            products,
        })
}

fn hunt_idx() -> impl Strategy<Value = usize> {
    prop_oneof![4 => Just(0usize), 4 => Just(1usize), 1 => Just(2usize)]
}

fn sku_idx() -> impl Strategy<Value = usize> {
    prop_oneof![3 => Just(0usize), 3 => Just(1usize), 2 => Just(2usize), 1 => Just(3usize)]
}

fn cl() -> impl Strategy<Value = Cl> {
    let other_target = prop::option::weighted(0.3, (hunt_idx(), sku_idx()));
    (0..PLAYERS.len(), 0..CLAIM_IDS.len(), other_target).prop_map(|(player, id, other)| {
        let (hunt, sku) = other.unwrap_or(USUAL_TARGET[id]);
        Cl { player, id, hunt, sku }
    })
}

fn rs() -> impl Strategy<Value = Rs> {
    (hunt_idx(), sku_idx(), prop_oneof![1 => Just(0u64), 4 => 1u64..=2]).prop_map(|(hunt, sku, n)| Rs { hunt, sku, n })
}

/// Events are mostly valid, so that most batches go through.
fn ev() -> impl Strategy<Value = Ev> {
    let hunt = prop_oneof![6 => Just(0usize), 6 => Just(1usize), 1 => Just(2usize)];
    let clue = prop_oneof![4 => 0..2usize, 1 => 2..CLUES.len()];
    prop_oneof![
        12 => (0..PLAYERS.len(), hunt.clone(), clue).prop_map(|(player, hunt, clue)| Ev::Clue { player, hunt, clue }),
        4 => (0..PLAYERS.len(), hunt.clone()).prop_map(|(player, hunt)| Ev::Checkin { player, hunt }),
        1 => hunt.prop_map(|hunt| Ev::BadPlayer { hunt }),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let gop = prop_oneof![4 => cl().prop_map(GOp::Claim), 1 => rs().prop_map(GOp::Restock)];
    prop_oneof![
        10 => cl().prop_map(Op::Claim),
        4 => prop::collection::vec(ev(), 0..=4).prop_map(Op::Ingest),
        2 => rs().prop_map(Op::Restock),
        1 => (0..TIMES.len()).prop_map(Op::Clock),
        1 => (0..2usize, any::<bool>()).prop_map(|(hunt, conflicting)| Op::Define { hunt, conflicting }),
        1 => Just(Op::Snapshot),
        1 => any::<bool>().prop_map(|from_snapshot| Op::Restart { from_snapshot }),
        3 => prop::collection::vec(gop, 2..=8).prop_map(Op::Group),
    ]
}

fn program() -> impl Strategy<Value = Program> {
    (
        hunt_spec(),
        hunt_spec(),
        prop::bool::weighted(0.7),
        prop::collection::vec(op(), 1..=40),
    )
        .prop_map(|(a, b, h1_defined, ops)| Program {
            specs: [a, b],
            h1_defined,
            ops,
        })
}

// ------------------------------------------------------------------ model

#[derive(Clone, Debug, PartialEq)]
struct MProduct {
    stock: u64,
    granted: u64,
    added: u64,
}

#[derive(Clone, Debug)]
struct MHunt {
    defined_at: Seq,
    products: Vec<MProduct>,
}

#[derive(Clone, Debug, Default, PartialEq)]
struct MPlayerHunt {
    score: u64,
    events: u64,
    clues: BTreeSet<usize>,
}

#[derive(Clone, Debug, PartialEq)]
struct MClaim {
    hunt: String,
    sku: String,
    outcome: Outcome,
    seq: Seq,
}

#[derive(Clone, Debug, Default)]
struct MPlayer {
    hunts: BTreeMap<String, MPlayerHunt>,
    claims: BTreeMap<String, MClaim>,
}

#[derive(Debug, PartialEq)]
enum MReply {
    Decided {
        outcome: Outcome,
        duplicate: bool,
        seq: Seq,
    },
    Conflict {
        hunt: String,
        sku: String,
    },
}

/// The reference model: the contract, by the book, one step at a time.
struct Model {
    specs: [HuntSpec; 2],
    now: Millis,
    /// Last journal sequence: every decision the model journals takes the next.
    seq: Seq,
    hunts: [Option<MHunt>; 2],
    players: BTreeMap<String, MPlayer>,
}

impl Model {
    fn new(specs: [HuntSpec; 2]) -> Model {
        Model {
            specs,
            now: START,
            seq: 0,
            hunts: [None, None],
            players: BTreeMap::new(),
        }
    }

    /// Index of a defined hunt.
    fn hunt(&self, hunt: &str) -> Option<usize> {
        (0..2).find(|&h| HUNTS[h] == hunt && self.hunts[h].is_some())
    }

    fn product(&self, h: usize, sku: &str) -> Option<usize> {
        (0..self.specs[h].products.len()).find(|&p| SKUS[p] == sku)
    }

    fn open(&self, h: usize) -> bool {
        match self.specs[h].window {
            None => true,
            Some((opens, closes)) => opens <= self.now && self.now < closes,
        }
    }

    fn define(&mut self, h: usize) -> DefineResult {
        if let Some(existing) = &self.hunts[h] {
            return DefineResult {
                seq: existing.defined_at,
                created: false,
            };
        }
        self.seq += 1;
        let products = self.specs[h]
            .products
            .iter()
            .map(|&(stock, _, _)| MProduct {
                stock,
                granted: 0,
                added: 0,
            })
            .collect();
        self.hunts[h] = Some(MHunt {
            defined_at: self.seq,
            products,
        });
        DefineResult {
            seq: self.seq,
            created: true,
        }
    }

    fn decide(&self, player: &str, hunt: &str, sku: &str) -> Outcome {
        let Some(h) = self.hunt(hunt) else {
            return Outcome::Rejected(UnknownHunt);
        };
        let Some(p) = self.product(h, sku) else {
            return Outcome::Rejected(UnknownProduct);
        };
        if !self.open(h) {
            return Outcome::Rejected(HuntClosed);
        }
        let (_, limit, min_score) = self.specs[h].products[p];
        let me = self.players.get(player);
        let score = me.and_then(|m| m.hunts.get(hunt)).map_or(0, |ph| ph.score);
        if score < min_score {
            return Outcome::Rejected(NotEligible);
        }
        let grants = me.map_or(0, |m| {
            m.claims
                .values()
                .filter(|c| c.hunt == hunt && c.sku == sku && c.outcome == Outcome::Granted)
                .count()
        });
        if grants >= limit as usize {
            return Outcome::Rejected(LimitReached);
        }
        if self.hunts[h].as_ref().unwrap().products[p].stock == 0 {
            return Outcome::Rejected(OutOfStock);
        }
        Outcome::Granted
    }

    fn claim(&mut self, player: &str, id: &str, hunt: &str, sku: &str) -> MReply {
        if let Some(c) = self.players.get(player).and_then(|m| m.claims.get(id)) {
            return if c.hunt == hunt && c.sku == sku {
                MReply::Decided {
                    outcome: c.outcome,
                    duplicate: true,
                    seq: c.seq,
                }
            } else {
                MReply::Conflict {
                    hunt: c.hunt.clone(),
                    sku: c.sku.clone(),
                }
            };
        }
        let outcome = self.decide(player, hunt, sku);
        self.seq += 1;
        if outcome == Outcome::Granted {
            let (h, p) = (
                self.hunt(hunt).unwrap(),
                self.product(self.hunt(hunt).unwrap(), sku).unwrap(),
            );
            let product = &mut self.hunts[h].as_mut().unwrap().products[p];
            product.stock -= 1;
            product.granted += 1;
        }
        let claim = MClaim {
            hunt: hunt.into(),
            sku: sku.into(),
            outcome,
            seq: self.seq,
        };
        self.players
            .entry(player.into())
            .or_default()
            .claims
            .insert(id.into(), claim);
        MReply::Decided {
            outcome,
            duplicate: false,
            seq: self.seq,
        }
    }

    /// Which error code a restock gets, if any, and otherwise where it goes.
    fn restock_target(&self, hunt: &str, sku: &str, n: u64) -> Result<(usize, usize), &'static str> {
        if n == 0 {
            return Err("invalid_request");
        }
        let h = self.hunt(hunt).ok_or("unknown_hunt")?;
        let p = self.product(h, sku).ok_or("unknown_product")?;
        Ok((h, p))
    }

    /// Journals a restock: (seq, remaining stock).
    fn restock(&mut self, hunt: &str, sku: &str, n: u64) -> Result<(Seq, u64), &'static str> {
        let (h, p) = self.restock_target(hunt, sku, n)?;
        self.seq += 1;
        let product = &mut self.hunts[h].as_mut().unwrap().products[p];
        product.stock += n;
        product.added += n;
        Ok((self.seq, product.stock))
    }

    /// Ingests a batch: Ok((accepted, seq)) or Err(index of the first invalid event).
    fn ingest(&mut self, events: &[GameEvent]) -> Result<(usize, Seq), usize> {
        let mut effects = Vec::new();
        for (i, ev) in events.iter().enumerate() {
            if ev.player.is_empty() || ev.player.len() > limits::MAX_ID_BYTES {
                return Err(i);
            }
            let h = self.hunt(&ev.hunt).ok_or(i)?;
            let clue = match &ev.kind {
                EventKind::ClueFound { clue } => {
                    let c = (0..self.specs[h].clues.len()).find(|&c| CLUES[c] == clue).ok_or(i)?;
                    if !self.open(h) {
                        return Err(i);
                    }
                    Some(c)
                }
                EventKind::Checkin { .. } | EventKind::Interaction { .. } => None,
            };
            effects.push((ev.player.clone(), h, clue));
        }
        for (player, h, clue) in effects {
            let ph = self
                .players
                .entry(player)
                .or_default()
                .hunts
                .entry(HUNTS[h].into())
                .or_default();
            ph.events += 1;
            if let Some(c) = clue {
                if ph.clues.insert(c) {
                    ph.score += u64::from(self.specs[h].clues[c]);
                }
            }
        }
        self.seq += events.len() as Seq;
        Ok((events.len(), self.seq))
    }

    /// The model's totals must equal the engine's state.
    fn compare(&self, world: &World, when: &str) {
        assert_eq!(world.last_seq, self.seq, "{when}: last_seq");
        let defined: Vec<&str> = (0..2).filter(|&h| self.hunts[h].is_some()).map(|h| HUNTS[h]).collect();
        assert_eq!(
            world.hunts.keys().map(|k| k.as_str()).collect::<Vec<_>>(),
            defined,
            "{when}: hunts"
        );
        for (h, mh) in self.hunts.iter().enumerate() {
            let Some(mh) = mh else { continue };
            let hs = &world.hunts[HUNTS[h]];
            assert_eq!(hs.defined_at, mh.defined_at, "{when}: {} defined_at", HUNTS[h]);
            let got: Vec<MProduct> = (0..hs.stock.len())
                .map(|i| MProduct {
                    stock: hs.stock[i],
                    granted: hs.granted[i],
                    added: hs.added[i],
                })
                .collect();
            assert_eq!(got, mh.products, "{when}: stock of {}", HUNTS[h]);
        }
        let ids: Vec<&str> = world
            .players
            .keys()
            .map(|k| &**k)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        assert_eq!(
            ids,
            self.players.keys().map(|k| k.as_str()).collect::<Vec<_>>(),
            "{when}: players"
        );
        for (id, mp) in &self.players {
            let ps = &world.players[id.as_str()];
            let hunts: BTreeMap<String, MPlayerHunt> = ps
                .hunts
                .iter()
                .map(|ph| {
                    let clues = ph.clue_indices().collect();
                    (
                        ph.hunt.to_string(),
                        MPlayerHunt {
                            score: ph.score,
                            events: ph.events,
                            clues,
                        },
                    )
                })
                .collect();
            assert_eq!(hunts, mp.hunts, "{when}: progress of {id}");
            let claims: BTreeMap<String, MClaim> = ps
                .claims
                .iter()
                .map(|c| {
                    let claim = MClaim {
                        hunt: c.hunt.to_string(),
                        sku: c.sku.to_string(),
                        outcome: c.outcome,
                        seq: c.seq,
                    };
                    (c.claim_id.to_string(), claim)
                })
                .collect();
            assert_eq!(claims.len(), ps.claims.len(), "{when}: {id} remembers a claim id twice");
            assert_eq!(claims, mp.claims, "{when}: claims of {id}");
        }
    }
}

// ------------------------------------------------------------------ execution

struct Exec {
    h: Harness,
    m: Model,
    snapshot: Option<World>,
}

fn same_claim_reply(model: &MReply, engine: &Result<ClaimResult, EngineError>) -> bool {
    match (model, engine) {
        (
            MReply::Decided {
                outcome,
                duplicate,
                seq,
            },
            Ok(r),
        ) => (r.outcome, r.duplicate, r.seq) == (*outcome, *duplicate, *seq),
        (MReply::Conflict { hunt, sku }, Err(EngineError::ClaimIdConflict { hunt: h, sku: s, .. })) => {
            (hunt, sku) == (h, s)
        }
        _ => false,
    }
}

impl Exec {
    async fn step(&mut self, i: usize, op: &Op) {
        let (h, m) = (&mut self.h, &mut self.m);
        match op {
            Op::Claim(c) => {
                let req = c.request();
                let expected = m.claim(&req.player, &req.claim_id, &req.hunt, &req.sku);
                let got = h.engine.claim(req.clone()).await;
                assert!(
                    same_claim_reply(&expected, &got),
                    "op {i} {req:?}: model {expected:?}, engine {got:?}"
                );
            }
            Op::Restock(r) => {
                let expected = m.restock(HUNTS[r.hunt], SKUS[r.sku], r.n);
                let got = h.engine.add_stock(HUNTS[r.hunt], SKUS[r.sku], r.n).await;
                match (&expected, &got) {
                    (Ok((seq, remaining)), Ok(s)) => assert_eq!((s.seq, s.remaining), (*seq, *remaining), "op {i}"),
                    (Err(code), Err(e)) => assert_eq!(e.code(), *code, "op {i}"),
                    _ => panic!("op {i} {r:?}: model {expected:?}, engine {got:?}"),
                }
            }
            Op::Ingest(evs) => {
                let events: Vec<GameEvent> = evs.iter().map(Ev::event).collect();
                let expected = m.ingest(&events);
                let got = h.engine.ingest(events).await;
                match (&expected, &got) {
                    (Ok((accepted, seq)), Ok(r)) => assert_eq!((r.accepted, r.seq), (*accepted, *seq), "op {i}"),
                    (Err(index), Err(EngineError::InvalidEvent { index: got, .. })) => {
                        assert_eq!(got, index, "op {i}: first invalid event")
                    }
                    _ => panic!("op {i} {evs:?}: model {expected:?}, engine {got:?}"),
                }
            }
            Op::Clock(t) => {
                m.now = TIMES[*t];
                h.clock.set(TIMES[*t]);
            }
            Op::Define { hunt, conflicting } => {
                if *conflicting && m.hunts[*hunt].is_some() {
                    let mut def = m.specs[*hunt].def(*hunt);
                    def.name.push_str(" v2");
                    let got = h.engine.define_hunt(def).await;
                    assert_eq!(got, Err(EngineError::HuntConflict(HUNTS[*hunt].into())), "op {i}");
                } else {
                    let expected = m.define(*hunt);
                    let got = h.engine.define_hunt(m.specs[*hunt].def(*hunt)).await;
                    assert_eq!(got, Ok(expected), "op {i}");
                }
            }
            Op::Snapshot => self.snapshot = Some(h.check().await),
            Op::Restart { from_snapshot } => {
                if *from_snapshot {
                    h.restart_from_snapshot(self.snapshot.clone().unwrap_or_default()).await;
                } else {
                    h.restart().await;
                }
                m.compare(&h.engine.dump().await.unwrap(), &format!("after restart at op {i}"));
            }
            Op::Group(ops) => self.group(i, ops).await,
        }
        assert_eq!(self.h.last_seq(), self.m.seq, "op {i} {op:?}: journal length");
    }

    /// Fires the group at once, then checks it against the journal order.
    async fn group(&mut self, i: usize, ops: &[GOp]) {
        let (h, m) = (&self.h, &mut self.m);
        let base = h.last_seq();
        enum Reply {
            Claim(ClaimRequest, Result<ClaimResult, EngineError>),
            Restock(Result<StockResult, EngineError>),
        }
        let futs: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = Reply>>>> = ops
            .iter()
            .map(|op| {
                let e = h.engine.clone();
                match op {
                    GOp::Claim(c) => {
                        let req = c.request();
                        Box::pin(async move { Reply::Claim(req.clone(), e.claim(req).await) }) as _
                    }
                    GOp::Restock(r) => {
                        let r = r.clone();
                        Box::pin(async move { Reply::Restock(e.add_stock(HUNTS[r.hunt], SKUS[r.sku], r.n).await) }) as _
                    }
                }
            })
            .collect();
        let replies = join_all(futs).await;

        // Feed the model the new records in journal order.
        let records = h.records();
        let mut remaining_at: BTreeMap<Seq, u64> = BTreeMap::new();
        for (k, record) in records.iter().enumerate().skip(base as usize) {
            let seq = k as Seq + 1;
            match record {
                Record::Claim { request, outcome } => {
                    let r = m.claim(&request.player, &request.claim_id, &request.hunt, &request.sku);
                    let expected = MReply::Decided {
                        outcome: *outcome,
                        duplicate: false,
                        seq,
                    };
                    assert_eq!(r, expected, "op {i}: journaled claim {seq} {request:?}");
                }
                Record::StockAdded { hunt, sku, added } => {
                    let r = m.restock(hunt, sku, *added);
                    assert_eq!(r.map(|(s, _)| s), Ok(seq), "op {i}: journaled restock {seq}");
                    remaining_at.insert(seq, r.unwrap().1);
                }
                other => panic!("op {i}: unexpected record {seq} in a group: {other:?}"),
            }
        }

        // Each reply must match what was journaled.
        let mut acknowledged = BTreeSet::new();
        for (op, reply) in ops.iter().zip(replies) {
            match (op, reply) {
                (GOp::Claim(_), Reply::Claim(req, res)) => {
                    let known = m.players.get(&req.player).and_then(|p| p.claims.get(&req.claim_id));
                    let known = known.unwrap_or_else(|| panic!("op {i}: {req:?} answered {res:?} but never decided"));
                    match res {
                        Ok(r) => {
                            assert_eq!(
                                (&known.hunt, &known.sku),
                                (&req.hunt, &req.sku),
                                "op {i}: {req:?} {r:?}"
                            );
                            assert_eq!((r.outcome, r.seq), (known.outcome, known.seq), "op {i}: {req:?}");
                            if !r.duplicate {
                                assert!(r.seq > base, "op {i}: a fresh decision of {req:?} predates the group");
                                assert!(acknowledged.insert(r.seq), "op {i}: seq {} acknowledged twice", r.seq);
                            }
                        }
                        Err(EngineError::ClaimIdConflict { hunt, sku, .. }) => {
                            assert_eq!((&known.hunt, &known.sku), (&hunt, &sku), "op {i}: {req:?}");
                            assert_ne!((&hunt, &sku), (&req.hunt, &req.sku), "op {i}: {req:?}");
                        }
                        Err(e) => panic!("op {i}: {req:?}: {e:?}"),
                    }
                }
                (GOp::Restock(r), Reply::Restock(res)) => match res {
                    Ok(s) => {
                        assert_eq!(remaining_at.get(&s.seq), Some(&s.remaining), "op {i}: {r:?} {s:?}");
                        assert!(acknowledged.insert(s.seq), "op {i}: seq {} acknowledged twice", s.seq);
                    }
                    Err(e) => {
                        let expected = m.restock_target(HUNTS[r.hunt], SKUS[r.sku], r.n).unwrap_err();
                        assert_eq!(e.code(), expected, "op {i}: {r:?}");
                    }
                },
                _ => unreachable!(),
            }
        }
        assert_eq!(
            acknowledged.len() as Seq,
            m.seq - base,
            "op {i}: every new record answers exactly one request"
        );
    }
}

async fn run_program(p: Program) {
    let h = Harness::new(START);
    let mut m = Model::new(p.specs.clone());
    for hunt in 0..2 {
        if hunt == 0 || p.h1_defined {
            let expected = m.define(hunt);
            assert_eq!(h.define(p.specs[hunt].def(hunt)).await, expected);
        }
    }
    let mut exec = Exec { h, m, snapshot: None };
    for (i, op) in p.ops.iter().enumerate() {
        exec.step(i, op).await;
    }
    let world = exec.h.check().await;
    exec.m.compare(&world, "at the end");
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(64),
        max_shrink_iters: 2_000,
        // A hung engine costs a 5 s timeout per case: cap shrinking at a minute.
        max_shrink_time: 60_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn engine_matches_reference_model(p in program()) {
        run_with_timeout(std::time::Duration::from_secs(5), run_program(p));
    }
}
