//! The claim contract, table-driven: dedup first (including rejections and
//! across restarts), claim-id conflicts, player scoping, every outcome and the
//! order of the checks.

use crate::common::*;
use std::collections::HashMap;
use trove_engine::RejectReason::*;
use trove_engine::*;

const OPENS: Millis = 1_000;
const CLOSES: Millis = 2_000;

fn main_hunt() -> HuntDef {
    hunt(
        "h",
        (Some(OPENS), Some(CLOSES)),
        &[("c1", 10), ("c2", 20), ("c3", 5)],
        vec![
            product("tee", 2, 1, 0),
            product("mug", 0, 1, 0),
            product("gold", 5, 1, 25),
            product("rare", 0, 1, 25),
            product("pin", 3, 2, 0),
            product("one", 1, 1, 0),
        ],
    )
}

fn late_hunt() -> HuntDef {
    open_hunt("late", vec![product("tee", 10, 1, 0)])
}

#[derive(Clone, Copy, Debug)]
enum Expect {
    /// A fresh decision, journaled as the next record.
    New(Outcome),
    /// A repeat: the original outcome and the original seq.
    Dup(Outcome),
    /// Same claim id (same player) with another hunt or sku.
    Conflict,
}
use Expect::*;

#[derive(Clone, Debug)]
enum Step {
    Clock(Millis),
    Clues(&'static str, &'static [&'static str]),
    Restock(&'static str, u64),
    Define(fn() -> HuntDef),
    Claim(&'static str, &'static str, &'static str, &'static str, Expect),
}
use Step::Claim as C;

fn table() -> Vec<Step> {
    use Step::*;
    vec![
        Clock(1_500),
        // Dedup and conflicts.
        C("alice", "a1", "h", "tee", New(GRANTED)),
        C("alice", "a1", "h", "tee", Dup(GRANTED)),
        C("alice", "a1", "h", "mug", Conflict),
        C("alice", "a1", "late", "tee", Conflict), // dedup before unknown_hunt
        C("alice", "a1", "h", "zzz", Conflict),    // dedup before unknown_product
        C("bob", "a1", "h", "tee", New(GRANTED)),  // claim ids are per player
        // A rejection is remembered even after the cause goes away.
        C("carol", "c1", "h", "tee", New(rejected(OutOfStock))),
        Restock("tee", 1),
        C("carol", "c1", "h", "tee", Dup(rejected(OutOfStock))),
        C("carol", "c2", "h", "tee", New(GRANTED)),
        C("carol", "c1", "h", "tee", Dup(rejected(OutOfStock))),
        // limit_reached before out_of_stock (tee is sold out now).
        C("alice", "a2", "h", "tee", New(rejected(LimitReached))),
        C("alice", "a2", "h", "tee", Dup(rejected(LimitReached))),
        // unknown hunt / product.
        C("dave", "d1", "late", "tee", New(rejected(UnknownHunt))),
        C("dave", "d2", "h", "zzz", New(rejected(UnknownProduct))),
        // Eligibility; not_eligible before out_of_stock.
        C("dave", "d3", "h", "gold", New(rejected(NotEligible))),
        C("dave", "d4", "h", "rare", New(rejected(NotEligible))),
        Clues("dave", &["c1", "c2"]),
        C("dave", "d3", "h", "gold", Dup(rejected(NotEligible))),
        C("dave", "d4", "h", "rare", Dup(rejected(NotEligible))),
        C("dave", "d5", "h", "gold", New(GRANTED)),
        C("dave", "d6", "h", "rare", New(rejected(OutOfStock))),
        C("dave", "d7", "h", "gold", New(rejected(LimitReached))),
        // Per-player limit of 2.
        C("erin", "e1", "h", "pin", New(GRANTED)),
        C("erin", "e2", "h", "pin", New(GRANTED)),
        C("erin", "e3", "h", "pin", New(rejected(LimitReached))),
        C("erin", "e1", "h", "pin", Dup(GRANTED)),
        C("erin", "e2", "h", "one", Conflict),
        C("frank", "f1", "h", "pin", New(GRANTED)),
        C("frank", "f2", "h", "pin", New(rejected(OutOfStock))),
        // Closed after closes_at: dedup still first; unknown_* before closed;
        // hunt_closed before not_eligible and out_of_stock.
        Clock(CLOSES + 500),
        C("alice", "a1", "h", "tee", Dup(GRANTED)),
        C("gina", "g1", "h", "tee", New(rejected(HuntClosed))),
        C("gina", "g2", "h", "gold", New(rejected(HuntClosed))),
        C("gina", "g3", "h", "zzz", New(rejected(UnknownProduct))),
        C("gina", "g4", "nope", "zzz", New(rejected(UnknownHunt))),
        // Before opens_at: closed too; the rejection sticks once it opens.
        Clock(OPENS - 500),
        C("gina", "g5", "h", "pin", New(rejected(HuntClosed))),
        Clock(OPENS),
        Restock("pin", 1),
        C("gina", "g5", "h", "pin", Dup(rejected(HuntClosed))),
        C("gina", "g6", "h", "pin", New(GRANTED)),
        // The window is [opens_at, closes_at).
        Clock(CLOSES - 1),
        C("hank", "k1", "h", "one", New(GRANTED)),
        C("hank", "k2", "h", "one", New(rejected(LimitReached))),
        Clock(CLOSES),
        C("hank", "k3", "h", "one", New(rejected(HuntClosed))),
        C("hank", "k1", "h", "one", Dup(GRANTED)),
        // An unknown_hunt rejection sticks after the hunt is defined.
        Define(late_hunt),
        C("dave", "d1", "late", "tee", Dup(rejected(UnknownHunt))),
        C("dave", "d8", "late", "tee", New(GRANTED)),
        C("ivan", "d1", "late", "tee", New(GRANTED)),
        C("ivan", "d1", "h", "tee", Conflict),
    ]
}

/// What the table has decided so far: (player, claim id) -> (hunt, sku, outcome, seq).
type Decisions = HashMap<(String, String), (String, String, Outcome, Seq)>;

async fn run_claim(
    h: &Harness,
    decided: &mut Decisions,
    step: usize,
    (p, id, hunt, sku, expect): (&str, &str, &str, &str, Expect),
) {
    let before = h.last_seq();
    let res = h.claim(p, id, hunt, sku).await;
    let ctx = format!("step {step}: {p}/{id} {hunt}/{sku} expecting {expect:?}, got {res:?}");
    let key = (p.to_owned(), id.to_owned());
    match expect {
        New(outcome) => {
            let r = res.unwrap_or_else(|e| panic!("{ctx}: {e}"));
            assert_eq!(r.claim_id, id, "{ctx}");
            assert_eq!(r.outcome, outcome, "{ctx}");
            assert!(!r.duplicate, "{ctx}");
            assert_eq!(r.seq, before + 1, "{ctx}: a new decision is the next record");
            assert_eq!(h.last_seq(), before + 1, "{ctx}");
            match &h.records()[r.seq as usize - 1] {
                Record::Claim { request, outcome: o } => {
                    assert_eq!(*request, claim(p, id, hunt, sku), "{ctx}: request journaled verbatim");
                    assert_eq!(*o, outcome, "{ctx}");
                }
                other => panic!("{ctx}: journaled {other:?}"),
            }
            let prev = decided.insert(key, (hunt.into(), sku.into(), outcome, r.seq));
            assert!(prev.is_none(), "bad table: {ctx} decided twice");
        }
        Dup(outcome) => {
            let r = res.unwrap_or_else(|e| panic!("{ctx}: {e}"));
            let (_, _, original, seq) = decided[&key];
            assert_eq!(original, outcome, "bad table at {ctx}");
            assert_eq!(r.claim_id, id, "{ctx}");
            assert_eq!(r.outcome, outcome, "{ctx}");
            assert!(r.duplicate, "{ctx}");
            assert_eq!(r.seq, seq, "{ctx}: a duplicate answers with the original seq");
            assert_eq!(h.last_seq(), before, "{ctx}: a duplicate journals nothing");
        }
        Conflict => {
            let e = res.expect_err(&ctx);
            let (oh, os, _, _) = &decided[&key];
            assert_eq!(
                e,
                EngineError::ClaimIdConflict {
                    claim_id: id.into(),
                    hunt: oh.clone(),
                    sku: os.clone()
                },
                "{ctx}"
            );
            assert_eq!(e.code(), "claim_id_conflict");
            assert_eq!(h.last_seq(), before, "{ctx}: a conflict journals nothing");
        }
    }
}

async fn run_table(h: &Harness, decided: &mut Decisions) {
    for (i, step) in table().into_iter().enumerate() {
        match step {
            Step::Clock(t) => h.clock.set(t),
            Step::Clues(p, clues) => {
                h.clues(p, "h", clues).await;
            }
            Step::Restock(sku, n) => {
                h.engine.add_stock("h", sku, n).await.expect("restock");
            }
            Step::Define(def) => assert!(h.define(def()).await.created),
            Step::Claim(p, id, hunt, sku, expect) => run_claim(h, decided, i, (p, id, hunt, sku, expect)).await,
        }
    }
}

/// Every claim of the table retried: each known id answers with its original
/// decision (or conflicts), and nothing new is journaled.
async fn retry_all(h: &Harness, decided: &Decisions, what: &str) {
    let before = h.last_seq();
    for (i, step) in table().into_iter().enumerate() {
        if let Step::Claim(p, id, hunt, sku, _) = step {
            let (oh, os, outcome, seq) = decided[&(p.to_owned(), id.to_owned())].clone();
            let res = h.claim(p, id, hunt, sku).await;
            if (oh.as_str(), os.as_str()) == (hunt, sku) {
                let r = res.unwrap_or_else(|e| panic!("{what} step {i}: {e}"));
                assert!(r.duplicate, "{what} step {i}");
                assert_eq!((r.outcome, r.seq), (outcome, seq), "{what} step {i}: {p}/{id}");
            } else {
                assert_eq!(res.unwrap_err().code(), "claim_id_conflict", "{what} step {i}");
            }
        }
    }
    assert_eq!(h.last_seq(), before, "{what}: retries journal nothing");
}

fn check_dump_claims(world: &World, decided: &Decisions) {
    let total: usize = world.players.values().map(|p| p.claims.len()).sum();
    assert_eq!(total, decided.len(), "every decided claim is remembered, once");
    for ((p, id), (hunt, sku, outcome, seq)) in decided {
        let entry = player_in(world, p)
            .find_claim(id)
            .cloned()
            .unwrap_or_else(|| panic!("{p}/{id} missing"));
        assert_eq!(
            (&*entry.hunt, &*entry.sku, entry.outcome, entry.seq),
            (hunt.as_str(), sku.as_str(), *outcome, *seq),
            "{p}/{id}"
        );
    }
}

#[test]
fn claim_contract_table() {
    run(async {
        let mut h = Harness::new(1_500);
        h.define(main_hunt()).await;
        let mut decided = Decisions::new();
        run_table(&h, &mut decided).await;

        let world = h.check().await;
        check_dump_claims(&world, &decided);
        let hs = &world.hunts["h"];
        let by_sku = |sku: &str| {
            let i = hs.def.product_index(sku).unwrap();
            (hs.stock[i], hs.granted[i])
        };
        // (remaining, granted)
        assert_eq!(by_sku("tee"), (0, 3));
        assert_eq!(by_sku("mug"), (0, 0));
        assert_eq!(by_sku("gold"), (4, 1));
        assert_eq!(by_sku("rare"), (0, 0));
        assert_eq!(by_sku("pin"), (0, 4));
        assert_eq!(by_sku("one"), (0, 1));
        assert_eq!(player_in(&world, "dave").score("h"), 30);

        // Dedup answers survive a journal-replay restart and a snapshot restart,
        // with the clock anywhere and stock added everywhere.
        retry_all(&h, &decided, "live").await;
        h.restart().await;
        h.clock.set(1_500);
        for sku in ["tee", "mug", "rare", "pin", "one"] {
            h.engine.add_stock("h", sku, 5).await.unwrap();
        }
        retry_all(&h, &decided, "after replay restart").await;
        let snapshot = h.check().await;
        h.clock.set(0);
        h.restart_from_snapshot(snapshot).await;
        retry_all(&h, &decided, "after snapshot restart").await;
        check_dump_claims(&h.check().await, &decided);
    });
}

#[test]
fn malformed_claim_requests_are_refused_and_journal_nothing() {
    run(async {
        let h = Harness::new(0);
        h.define(open_hunt("h", vec![product("tee", 1, 1, 0)])).await;
        let long = "x".repeat(limits::MAX_ID_BYTES + 1);
        let mut bad = vec![
            claim("p", "", "h", "tee"),
            claim("", "c", "h", "tee"),
            claim("p", "c", "", "tee"),
            claim("p", "c", "h", ""),
            claim("p", &long, "h", "tee"),
            claim(&long, "c", "h", "tee"),
            claim("p", "c", &long, "tee"),
            claim("p", "c", "h", &long),
        ];
        let mut big = claim("p", "c", "h", "tee");
        big.customs = "x".repeat(limits::MAX_CUSTOMS_BYTES + 1);
        bad.push(big);
        for req in bad {
            let e = h.engine.claim(req.clone()).await.expect_err("malformed");
            assert_eq!(e.code(), "invalid_request", "{req:?}");
        }
        assert_eq!(h.last_seq(), 1);
        // The longest legal ids are fine.
        let max = "y".repeat(limits::MAX_ID_BYTES);
        let r = h.claim(&max, &max, "h", "tee").await.unwrap();
        assert_eq!(r.outcome, GRANTED);
        h.check().await;
    });
}

#[test]
fn customs_are_not_part_of_the_claim_identity() {
    run(async {
        let h = Harness::new(0);
        h.define(open_hunt("h", vec![product("tee", 1, 1, 0)])).await;
        let first = h.claim("p", "c", "h", "tee").await.unwrap();
        let mut retry = claim("p", "c", "h", "tee");
        retry.customs = r#"{"addr":"somewhere else"}"#.into();
        let again = h.engine.claim(retry).await.unwrap();
        assert!(again.duplicate);
        assert_eq!((again.outcome, again.seq), (first.outcome, first.seq));
        match &h.records()[first.seq as usize - 1] {
            Record::Claim { request, .. } => assert_eq!(request.customs, claim("p", "c", "h", "tee").customs),
            r => panic!("{r:?}"),
        }
        h.check().await;
    });
}

#[test]
fn claim_ids_per_player_are_bounded_but_known_ids_still_answer() {
    run(async {
        let h = Harness::new(0);
        // Cheap rejections (unknown hunt) to fill the player's claim-id budget.
        let n = limits::MAX_CLAIMS_PER_PLAYER;
        for chunk in (0..n).collect::<Vec<_>>().chunks(512) {
            let futs: Vec<_> = chunk
                .iter()
                .map(|&i| {
                    let e = h.engine.clone();
                    async move { e.claim(claim("p", &format!("c{i}"), "nope", "x")).await }
                })
                .collect();
            for r in join_all(futs).await {
                assert_eq!(r.unwrap().outcome, rejected(UnknownHunt));
            }
        }
        let e = h.claim("p", "one-more", "nope", "x").await.unwrap_err();
        assert_eq!(e.code(), "too_many_claims");
        assert_eq!(h.last_seq(), n as Seq);
        // Dedup comes first: a known id still answers.
        let r = h.claim("p", "c7", "nope", "x").await.unwrap();
        assert!(r.duplicate);
        // Other players are unaffected.
        assert!(!h.claim("q", "c7", "nope", "x").await.unwrap().duplicate);
        h.check().await;
    });
}
