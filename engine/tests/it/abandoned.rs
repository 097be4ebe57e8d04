//! Callers that give up. A WebSocket client can disconnect while its claim is
//! in flight, which drops the engine future mid-way. The request must still be
//! decided exactly once, and `Engine::dump` (the basis of snapshots) must
//! still see a state that equals the journal: the admission permit travels
//! with the request's messages, not with the caller's future.

use crate::common::*;
use futures_util::FutureExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use trove_engine::*;

/// A journal whose claim appends are slow, which widens the window between
/// "the caller gave up" and "the claim's state change is applied".
struct SlowClaims(Arc<MemoryJournal>);

impl Journal for SlowClaims {
    fn append(&self, records: &[Record]) -> Result<Seq, JournalError> {
        if records.iter().any(|r| matches!(r, Record::Claim { .. })) {
            std::thread::sleep(Duration::from_millis(3));
        }
        self.0.append(records)
    }
    fn last_seq(&self) -> Seq {
        self.0.last_seq()
    }
    fn durability(&self) -> watch::Receiver<Durability> {
        self.0.durability()
    }
}

#[test]
fn dropped_claims_and_ingests_never_make_a_dump_disagree_with_the_journal() {
    run(async {
        let memory = MemoryJournal::new();
        let config = EngineConfig {
            shards: 2,
            ..EngineConfig::default()
        };
        let engine = Engine::start(config, Arc::new(SlowClaims(memory.clone())), World::default());
        engine
            .define_hunt(open_hunt(
                "h",
                vec![product("mug", 40, 2, 0), product("cap", 1000, 5, 0)],
            ))
            .await
            .unwrap();
        for round in 0..5u32 {
            let mut futs = Vec::new();
            for i in 0..12u32 {
                let e = engine.clone();
                let sku = if i % 3 == 0 { "mug" } else { "cap" };
                let req = claim(&format!("p{}", i % 7), &format!("r{round}-{i}"), "h", sku);
                futs.push(async move { e.claim(req).await.map(|_| ()) }.boxed_local());
                let e = engine.clone();
                let ev = vec![
                    clue(&format!("p{}", i % 11), "h", "c1"),
                    checkin(&format!("q{i}"), "h", "dock"),
                ];
                futs.push(async move { e.ingest(ev).await.map(|_| ()) }.boxed_local());
            }
            // Poll every request once (each reaches the actors), then abandon
            // all of them, as a disconnecting client would.
            for f in &mut futs {
                let _ = futures_util::poll!(f.as_mut());
            }
            drop(futs);
            // The dump must wait for the abandoned work and then cover
            // exactly the journal.
            let live = engine.dump().await.unwrap();
            let records = memory.records();
            assert_eq!(
                live.last_seq,
                records.len() as Seq,
                "round {round}: dump did not wait for abandoned work"
            );
            assert_same_state(&live, &replay(&records), &format!("round {round}"));
        }
        // Every abandoned claim was decided exactly once: retrying gives a duplicate.
        let again = engine.claim(claim("p0", "r0-0", "h", "mug")).await.unwrap();
        assert!(again.duplicate, "an abandoned claim was decided and is remembered");
        engine.stop();
    });
}
