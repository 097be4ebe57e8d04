//! Restarts: from a full journal replay, and from a snapshot (a dump) plus the
//! records after it. Dedup, stock, limits and scores must all carry over.

use crate::common::*;
use std::collections::BTreeMap;
use trove_engine::RejectReason::*;
use trove_engine::*;

type Known = BTreeMap<(String, String), (ClaimRequest, ClaimResult)>;

async fn claim_and_remember(h: &Harness, known: &mut Known, p: &str, id: &str, hunt: &str, sku: &str) -> Outcome {
    let req = claim(p, id, hunt, sku);
    let r = h.engine.claim(req.clone()).await.unwrap();
    let key = (p.to_owned(), id.to_owned());
    match known.get(&key) {
        Some((_, orig)) => {
            assert!(r.duplicate);
            assert_eq!((r.outcome, r.seq), (orig.outcome, orig.seq));
        }
        None => {
            assert!(!r.duplicate);
            known.insert(key, (req, r.clone()));
        }
    }
    r.outcome
}

async fn retry_all(h: &Harness, known: &Known, what: &str) {
    let before = h.last_seq();
    for ((p, id), (req, orig)) in known {
        let r = h.engine.claim(req.clone()).await.unwrap();
        assert!(r.duplicate, "{what}: {p}/{id}");
        assert_eq!((r.outcome, r.seq), (orig.outcome, orig.seq), "{what}: {p}/{id}");
        let mut other = req.clone();
        other.sku.push('x');
        let e = h.engine.claim(other).await.unwrap_err();
        assert_eq!(e.code(), "claim_id_conflict", "{what}: {p}/{id}");
    }
    assert_eq!(h.last_seq(), before, "{what}: retries journal nothing");
}

#[test]
fn dedup_stock_limits_and_scores_survive_restarts() {
    run(async {
        let mut h = Harness::new(0);
        h.define(open_hunt("h", vec![product("tee", 2, 1, 0), product("gold", 3, 2, 15)]))
            .await;
        let mut known = Known::new();
        let empty_snapshot = h.check().await;

        assert_eq!(claim_and_remember(&h, &mut known, "a", "1", "h", "tee").await, GRANTED);
        assert_eq!(
            claim_and_remember(&h, &mut known, "a", "2", "h", "gold").await,
            rejected(NotEligible)
        );
        assert_eq!(
            claim_and_remember(&h, &mut known, "a", "3", "x", "tee").await,
            rejected(UnknownHunt)
        );
        h.clues("a", "h", &["c1", "c3"]).await;
        let mid_snapshot = h.check().await;
        assert_eq!(claim_and_remember(&h, &mut known, "a", "4", "h", "gold").await, GRANTED);
        assert_eq!(claim_and_remember(&h, &mut known, "b", "1", "h", "tee").await, GRANTED);
        assert_eq!(
            claim_and_remember(&h, &mut known, "c", "1", "h", "tee").await,
            rejected(OutOfStock)
        );
        assert_eq!(
            claim_and_remember(&h, &mut known, "a", "5", "h", "tee").await,
            rejected(LimitReached)
        );
        h.engine.add_stock("h", "tee", 1).await.unwrap();

        // Each restart kind, in turn; every answer carries over.
        h.restart().await;
        retry_all(&h, &known, "replay").await;
        h.restart_from_snapshot(empty_snapshot).await;
        retry_all(&h, &known, "snapshot at seq 1").await;
        h.restart_from_snapshot(mid_snapshot).await;
        retry_all(&h, &known, "mid snapshot").await;
        let now = h.check().await;
        h.restart_from_snapshot(now).await;
        retry_all(&h, &known, "snapshot with no tail").await;

        // State carried over: scores (a clue still scores once), limits, stock.
        assert_eq!(h.score("a", "h").await, 15);
        h.clues("a", "h", &["c1", "c3"]).await;
        assert_eq!(h.score("a", "h").await, 15);
        assert_eq!(
            claim_and_remember(&h, &mut known, "a", "6", "h", "tee").await,
            rejected(LimitReached)
        );
        assert_eq!(claim_and_remember(&h, &mut known, "c", "2", "h", "tee").await, GRANTED);
        assert_eq!(
            claim_and_remember(&h, &mut known, "d", "1", "h", "tee").await,
            rejected(OutOfStock)
        );
        h.clues("b", "h", &["c2"]).await;
        assert_eq!(claim_and_remember(&h, &mut known, "b", "2", "h", "gold").await, GRANTED);
        assert_eq!(claim_and_remember(&h, &mut known, "a", "7", "h", "gold").await, GRANTED);
        assert_eq!(
            claim_and_remember(&h, &mut known, "a", "8", "h", "gold").await,
            rejected(LimitReached)
        );
        assert_eq!(
            claim_and_remember(&h, &mut known, "e", "1", "h", "gold").await,
            rejected(NotEligible)
        );
        h.clues("e", "h", &["c2"]).await;
        assert_eq!(
            claim_and_remember(&h, &mut known, "e", "2", "h", "gold").await,
            rejected(OutOfStock)
        );
        h.restart().await;
        retry_all(&h, &known, "final").await;
        let world = h.check().await;
        let hs = &world.hunts["h"];
        assert_eq!(
            (hs.stock.clone(), hs.granted.clone(), hs.added.clone()),
            (vec![0, 0], vec![3, 3], vec![1, 0])
        );
    });
}

#[test]
fn chained_restarts_of_both_kinds_with_work_in_between() {
    run(async {
        let mut h = Harness::with_shards(0, 3);
        h.define(open_hunt("h", vec![product("tee", 4, 2, 0), product("pin", 1, 1, 10)]))
            .await;
        let mut known = Known::new();
        let mut snapshot = h.check().await;
        for round in 0..8 {
            let p = format!("p{}", round % 3);
            claim_and_remember(&h, &mut known, &p, &format!("r{round}"), "h", "tee").await;
            claim_and_remember(&h, &mut known, &p, &format!("s{round}"), "h", "pin").await;
            h.clues(&p, "h", &["c1"]).await;
            if round % 3 == 1 {
                h.engine.add_stock("h", "pin", 1).await.unwrap();
            }
            match round % 4 {
                0 => h.restart().await,
                1 => h.restart_from_snapshot(snapshot.clone()).await,
                2 => snapshot = h.check().await,
                _ => {
                    let now = h.check().await;
                    h.restart_from_snapshot(now).await
                }
            }
            retry_all(&h, &known, &format!("round {round}")).await;
        }
        let world = h.check().await;
        for p in ["p0", "p1", "p2"] {
            let ps = player_in(&world, p);
            assert!(ps.granted_count("h", "tee") <= 2);
            assert!(ps.granted_count("h", "pin") <= 1);
        }
        assert_eq!(world.hunts["h"].granted[0], 4, "tee: 3 players * limit 2 > stock 4");
    });
}
