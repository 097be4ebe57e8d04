//! Admission: every request takes units before it does anything, so work in
//! flight is bounded and the excess is refused with `overloaded` rather than
//! queued without end. Claims (and other decisions) have their own pool, the
//! claims' lane: events waiting for admission never hold a claim back.

use crate::common::*;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use trove_engine::*;

fn small_engine(events: u32, decisions: u32) -> (Engine, Arc<MemoryJournal>) {
    let config = EngineConfig {
        shards: 2,
        admission_units: events,
        decision_units: decisions,
        admission_timeout: Duration::from_millis(300),
        clock: Arc::new(ManualClock::new(1_000)),
    };
    let journal = MemoryJournal::new();
    (Engine::start(config, journal.clone(), World::default()), journal)
}

/// A batch of events waits for more units than the events' pool holds; it
/// is refused with `overloaded` and journals nothing. Claims are decided
/// meanwhile: they take from their own pool. (With one shared pool, the
/// semaphore's fairness queued the claim behind the waiting batch, and it
/// was refused too.)
#[test]
fn events_waiting_for_admission_do_not_hold_claims_back() {
    run(async {
        let (engine, journal) = small_engine(4, 8);
        engine
            .define_hunt(open_hunt("h", vec![product("mug", 10, 5, 0)]))
            .await
            .unwrap();
        let before = journal.last_seq();
        let batch: Vec<GameEvent> = (0..6).map(|i| checkin(&format!("p{i}"), "h", "dock")).collect();
        let waiting = tokio::spawn({
            let engine = engine.clone();
            async move { engine.ingest(batch).await }
        });
        tokio::task::yield_now().await;
        for i in 0..3 {
            let got = engine.claim(claim("p1", &format!("c{i}"), "h", "mug")).await.unwrap();
            assert_eq!(got.outcome, Outcome::Granted, "claim {i} is decided while events wait");
        }
        let refused = waiting.await.unwrap();
        assert!(matches!(refused, Err(EngineError::Overloaded)), "{refused:?}");
        assert_eq!(refused.unwrap_err().code(), "overloaded");
        assert_eq!(journal.last_seq(), before + 3, "the refused batch journaled nothing");
        let fits: Vec<GameEvent> = (0..4).map(|i| checkin(&format!("p{i}"), "h", "dock")).collect();
        assert_eq!(
            engine.ingest(fits).await.unwrap().accepted,
            4,
            "a batch within the pool is accepted"
        );
    });
}

/// A journal whose claim appends block until the gate opens: the claims
/// hold their admission units meanwhile.
struct GatedClaims {
    inner: Arc<MemoryJournal>,
    open: Mutex<bool>,
    opened: Condvar,
}

impl Journal for GatedClaims {
    fn append(&self, records: &[Record]) -> Result<Seq, JournalError> {
        if records.iter().any(|r| matches!(r, Record::Claim { .. })) {
            let mut open = self.open.lock().unwrap();
            while !*open {
                open = self.opened.wait(open).unwrap();
            }
        }
        self.inner.append(records)
    }
    fn last_seq(&self) -> Seq {
        self.inner.last_seq()
    }
    fn durability(&self) -> watch::Receiver<Durability> {
        self.inner.durability()
    }
}

/// The decisions' pool is a bound too: claims past it wait, then are refused
/// with `overloaded` once the admission timeout passes, while events flow.
#[test]
fn claims_past_their_pool_are_refused_while_events_flow() {
    run(async {
        let gate = Arc::new(GatedClaims {
            inner: MemoryJournal::new(),
            open: Mutex::new(false),
            opened: Condvar::new(),
        });
        let config = EngineConfig {
            shards: 2,
            admission_units: 1_000,
            decision_units: 2,
            admission_timeout: Duration::from_millis(300),
            clock: Arc::new(ManualClock::new(1_000)),
        };
        let engine = Engine::start(config, gate.clone(), World::default());
        engine
            .define_hunt(open_hunt("h", vec![product("mug", 100, 50, 0)]))
            .await
            .unwrap();
        // Two claims stuck in their append hold both decision units.
        let mut held = Vec::new();
        for i in 0..2 {
            let engine = engine.clone();
            held.push(tokio::spawn(async move {
                engine.claim(claim(&format!("p{i}"), "c", "h", "mug")).await
            }));
        }
        while engine.admission_in_use() < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let refused = engine.claim(claim("p9", "x", "h", "mug")).await;
        assert!(matches!(refused, Err(EngineError::Overloaded)), "{refused:?}");
        let ev = vec![checkin("p3", "h", "dock")];
        assert_eq!(
            engine.ingest(ev).await.unwrap().accepted,
            1,
            "events take their own pool"
        );
        *gate.open.lock().unwrap() = true;
        gate.opened.notify_all();
        for h in held {
            assert_eq!(h.await.unwrap().unwrap().outcome, Outcome::Granted);
        }
        let records = gate.inner.records();
        let claims = records.iter().filter(|r| matches!(r, Record::Claim { .. })).count();
        assert_eq!(claims, 2, "the refused claim journaled nothing");
        engine.stop();
    });
}
