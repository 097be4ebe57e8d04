//! Reads show only durable state: a claim decided but not yet durable is
//! pending, stock counts are the durable ones, a score waits for its events'
//! durability. And a refused claim leaves no resident player behind.
//!
//! The journal holds durability back ([`MemoryJournal::hold_durability`]),
//! as a slow flush would, so every "not yet durable" moment is deterministic.

use crate::common::*;
use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;
use trove_engine::*;

/// Waits until the journal holds `seq` (the write under test was appended).
async fn appended(h: &Harness, seq: Seq) {
    while h.journal.last_seq() < seq {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[test]
fn a_claim_not_yet_durable_is_pending_and_stock_counts_stay_durable() {
    run(async {
        let h = Harness::new(1_000);
        h.define(open_hunt("h", vec![product("mug", 5, 2, 0)])).await;
        let first = h.claim("p1", "k1", "h", "mug").await.expect("claim");
        assert_eq!(first.outcome, GRANTED);

        h.journal.hold_durability();
        let engine = h.engine.clone();
        let claim = actix::spawn(async move { engine.claim(claim("p1", "k2", "h", "mug")).await });
        appended(&h, first.seq + 1).await;

        // Decided and journaled, not durable: pending, stock untouched.
        let read = h.engine.player_read("p1").await.unwrap().expect("p1 is known");
        let k1 = read.state.find_claim("k1").expect("k1").clone();
        let k2 = read
            .state
            .find_claim("k2")
            .expect("k2 decided in the live state")
            .clone();
        assert!(!read.is_pending(&k1), "k1 is durable: {read:?}");
        assert!(read.is_pending(&k2), "k2's record is not durable yet: {read:?}");
        let hunt = h.engine.hunt("h").await.unwrap();
        assert_eq!((hunt.stock[0], hunt.granted[0]), (4, 1), "durable counts only");
        assert!(hunt.ledger_balances());

        // Stock added while held: not counted either.
        let engine = h.engine.clone();
        let add = actix::spawn(async move { engine.add_stock("h", "mug", 10).await });
        appended(&h, first.seq + 2).await;
        let hunt = h.engine.hunt("h").await.unwrap();
        assert_eq!(
            (hunt.stock[0], hunt.added[0]),
            (4, 0),
            "the addition is not durable yet"
        );

        h.journal.release_durability();
        assert_eq!(claim.await.unwrap().unwrap().outcome, GRANTED);
        assert_eq!(add.await.unwrap().unwrap().remaining, 13);
        let read = h.engine.player_read("p1").await.unwrap().unwrap();
        let k2 = read.state.find_claim("k2").unwrap();
        assert!(!read.is_pending(k2), "durable now: {read:?}");
        let hunt = h.engine.hunt("h").await.unwrap();
        assert_eq!((hunt.stock[0], hunt.granted[0], hunt.added[0]), (13, 2, 10));
        h.check().await;
    });
}

#[test]
fn a_score_is_shown_only_once_its_events_are_durable() {
    run(async {
        let h = Harness::new(1_000);
        h.define(open_hunt("h", vec![product("mug", 5, 1, 0)])).await;
        h.clues("p1", "h", &["c1"]).await;
        let before = h.last_seq();

        h.journal.hold_durability();
        let engine = h.engine.clone();
        let ingest = actix::spawn(async move { engine.ingest(vec![clue("p1", "h", "c2")]).await });
        appended(&h, before + 1).await;

        let released = Rc::new(Cell::new(false));
        let seen = released.clone();
        let engine = h.engine.clone();
        let read = actix::spawn(async move {
            let r = engine.player_read("p1").await;
            (seen.get(), r)
        });
        // Gives a read that does not wait every chance to answer early.
        tokio::time::sleep(Duration::from_millis(100)).await;
        released.set(true);
        h.journal.release_durability();
        let (answered_after_release, r) = read.await.unwrap();
        assert!(answered_after_release, "the read answered before the event was durable");
        assert_eq!(r.unwrap().unwrap().state.score("h"), 30);
        ingest.await.unwrap().unwrap();
        h.check().await;
    });
}

#[test]
fn a_refused_claim_leaves_no_resident_player() {
    run(async {
        let h = Harness::new(1_000);
        h.define(open_hunt("h", vec![product("mug", 5, 1, 0)])).await;
        h.clues("known", "h", &["c1"]).await;
        assert_eq!(h.engine.player_count().await.unwrap(), 1);

        // Bad input never reaches a shard.
        let mut bad = claim("p-bad", "", "h", "mug");
        assert!(matches!(
            h.engine.claim(bad.clone()).await,
            Err(EngineError::InvalidRequest(_))
        ));
        bad.claim_id = "k".into();
        bad.customs = "x".repeat(limits::MAX_CUSTOMS_BYTES + 1);
        assert!(h.engine.claim(bad).await.is_err());
        assert_eq!(h.engine.player_count().await.unwrap(), 1);

        // Refused after routing: the journal fails, nothing is decided, for a
        // rejection decided by the player (unknown hunt) and for one that
        // reached the hunt's stock.
        h.journal.fail("disk gone");
        for (i, hunt) in ["nope", "h"].iter().enumerate() {
            let r = h.claim(&format!("p-new-{i}"), "k1", hunt, "mug").await;
            assert!(
                matches!(r, Err(EngineError::Journal(_))),
                "claim on {hunt} after the failure: {r:?}"
            );
        }
        assert_eq!(
            h.engine.player_count().await.unwrap(),
            1,
            "refused claims made players resident"
        );
        assert_eq!(h.engine.player("p-new-1").await.unwrap(), None);
        assert_eq!(h.engine.player("known").await.unwrap().map(|p| p.score("h")), Some(10));
    });
}
