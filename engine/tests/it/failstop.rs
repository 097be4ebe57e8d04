//! Fail-stop: once the journal fails, no new decision is acknowledged, and a
//! restart on the journal's contents finds exactly what was acknowledged.

use crate::common::*;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use trove_engine::*;

/// A [`MemoryJournal`] whose disk fails after `limit` appends.
struct FailAfter {
    inner: Arc<MemoryJournal>,
    appends: Mutex<usize>,
    limit: usize,
}

impl Journal for FailAfter {
    fn append(&self, records: &[Record]) -> Result<Seq, JournalError> {
        // Count and append under one lock, so exactly `limit` appends succeed.
        let mut appends = self.appends.lock().unwrap();
        if *appends == self.limit {
            self.inner.fail("disk");
        }
        *appends += 1;
        self.inner.append(records)
    }

    fn last_seq(&self) -> Seq {
        self.inner.last_seq()
    }

    fn durability(&self) -> tokio::sync::watch::Receiver<Durability> {
        self.inner.durability()
    }
}

fn is_journal_failed(e: &EngineError) -> bool {
    matches!(e, EngineError::Journal(JournalError::Failed(why)) if &**why == "disk") && e.code() == "journal_failed"
}

#[test]
fn after_a_journal_failure_nothing_new_is_acknowledged() {
    run(async {
        let mut h = Harness::new(0);
        h.define(open_hunt("h", vec![product("tee", 5, 2, 0), product("gold", 5, 1, 10)]))
            .await;
        let first = h.claim("p", "c1", "h", "tee").await.unwrap();
        let unknown = h.claim("p", "c0", "h", "nope").await.unwrap();
        h.clues("p", "h", &["c1"]).await;
        let before = h.check().await;
        let records = h.records();

        h.journal.fail("disk");
        let claims = [
            ("p", "c2", "h", "tee"),   // decided by the hunt actor
            ("p", "c3", "h", "gold"),  // decided by the hunt actor
            ("p", "c4", "nope", "x"),  // rejected by the player actor
            ("p", "c5", "h", "nope"),  // rejected by the player actor
            ("new", "c1", "h", "tee"), // a player the engine has never seen
        ];
        for (p, id, hunt, sku) in claims {
            let e = h.claim(p, id, hunt, sku).await.unwrap_err();
            assert!(is_journal_failed(&e), "{p}/{id}: {e:?}");
            // A retry fails the same way: the failed attempt left no trace.
            let e = h.claim(p, id, hunt, sku).await.unwrap_err();
            assert!(is_journal_failed(&e), "retry {p}/{id}: {e:?}");
        }
        let e = h.engine.ingest(vec![clue("p", "h", "c2")]).await.unwrap_err();
        assert!(is_journal_failed(&e), "{e:?}");
        let e = h.engine.ingest(vec![clue("fresh", "h", "c2")]).await.unwrap_err();
        assert!(is_journal_failed(&e), "{e:?}");
        let e = h.engine.define_hunt(open_hunt("h2", vec![])).await.unwrap_err();
        assert!(is_journal_failed(&e), "{e:?}");
        let e = h.engine.add_stock("h", "tee", 1).await.unwrap_err();
        assert!(is_journal_failed(&e), "{e:?}");
        // Validation errors are still reported as such.
        assert_eq!(
            h.engine.add_stock("h", "tee", 0).await.unwrap_err().code(),
            "invalid_request"
        );

        // Answers that acknowledge only what is already durable stay correct:
        // a decided claim id never changes its answer.
        for r in [&first, &unknown] {
            let req = match &records[r.seq as usize - 1] {
                Record::Claim { request, .. } => request.clone(),
                rec => panic!("{rec:?}"),
            };
            match h.engine.claim(req).await {
                Ok(again) => assert!(again.duplicate && (again.outcome, again.seq) == (r.outcome, r.seq)),
                Err(e) => assert!(is_journal_failed(&e), "{e:?}"),
            }
        }

        assert_eq!(h.records(), records, "nothing was journaled after the failure");
        assert_eq!(h.score("p", "h").await, 10, "nothing applied");
        let after = h.check().await;
        assert_eq!(after.digest(), before.digest(), "the live state did not move");

        // Recover on a healthy journal with the same records: the refused
        // requests were never decided, so they are decided now, for the first time.
        h.restart().await;
        for (p, id, hunt, sku) in claims {
            let r = h.claim(p, id, hunt, sku).await.unwrap();
            assert!(!r.duplicate, "{p}/{id} was not acknowledged before");
        }
        let r = h.claim("p", "c1", "h", "tee").await.unwrap();
        assert!(r.duplicate && r.seq == first.seq);
        h.check().await;
    });
}

#[test]
fn failure_in_the_middle_of_concurrent_claims() {
    run(async {
        let mut h = Harness::with_shards(0, 3);
        h.define(open_hunt("h", vec![product("tee", 30, 2, 0)])).await;
        // Same journal, but the disk fails after 40 more appends, while the
        // claims below are in flight.
        h.engine.stop();
        let journal = Arc::new(FailAfter {
            inner: h.journal.clone(),
            appends: Mutex::new(0),
            limit: 40,
        });
        h.engine = Engine::start(h.config.clone(), journal, replay(&h.records()));
        let handles: Vec<_> = (0..200)
            .map(|i| {
                let e = h.engine.clone();
                let req = claim(&format!("p{}", i % 40), &format!("c{i}"), "h", "tee");
                actix::spawn(async move { (req.clone(), e.claim(req).await) })
            })
            .collect();
        let mut results = Vec::new();
        for handle in handles {
            results.push(handle.await.unwrap());
        }
        let journaled: HashSet<(String, String)> = h
            .records()
            .iter()
            .filter_map(|r| match r {
                Record::Claim { request, .. } => Some((request.player.clone(), request.claim_id.clone())),
                _ => None,
            })
            .collect();
        let mut refused = Vec::new();
        for (req, res) in &results {
            let key = (req.player.clone(), req.claim_id.clone());
            match res {
                Ok(r) => {
                    assert!(journaled.contains(&key), "acknowledged but not journaled: {key:?}");
                    match &h.records()[r.seq as usize - 1] {
                        Record::Claim { request, outcome } => {
                            assert_eq!((request, *outcome), (req, r.outcome));
                        }
                        rec => panic!("{rec:?}"),
                    }
                }
                Err(e) => {
                    assert!(is_journal_failed(e), "{e:?}");
                    assert!(!journaled.contains(&key), "refused but journaled: {key:?}");
                    refused.push(req.clone());
                }
            }
        }
        assert_eq!(refused.len(), 200 - 40);
        h.check().await;
        h.restart().await;
        for req in refused {
            assert!(!h.engine.claim(req).await.unwrap().duplicate);
        }
        h.check().await;
    });
}
