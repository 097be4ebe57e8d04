//! Fail-stop: after a journal write failure nothing more is acknowledged, and
//! the folder recovers to exactly the records that were acknowledged before.

use std::path::Path;
use std::rc::Rc;
use std::time::Duration;
use trove_engine::*;
use trove_persistence::*;

fn hunt() -> HuntDef {
    HuntDef {
        id: "h".into(),
        name: "Fail-stop hunt".into(),
        opens_at: None,
        closes_at: None,
        clues: vec![ClueDef {
            id: "c1".into(),
            points: 10,
        }],
        products: vec![
            ProductDef {
                sku: "mug".into(),
                stock: 3,
                per_player_limit: 1,
                min_score: 0,
            },
            ProductDef {
                sku: "gold".into(),
                stock: 100,
                per_player_limit: 5,
                min_score: 10,
            },
        ],
    }
}

fn claim(id: &str, player: &str, sku: &str) -> ClaimRequest {
    ClaimRequest {
        claim_id: id.into(),
        player: player.into(),
        hunt: "h".into(),
        sku: sku.into(),
        customs: "{}".into(),
    }
}

fn clue(player: &str) -> GameEvent {
    GameEvent {
        player: player.into(),
        hunt: "h".into(),
        kind: EventKind::ClueFound { clue: "c1".into() },
    }
}

fn open(dir: &Path) -> (Engine, Store, RecoveryReport) {
    open_engine(dir, StoreOptions::default(), EngineConfig::default()).unwrap()
}

#[track_caller]
fn assert_journal_failed<T: std::fmt::Debug>(what: &str, r: Result<T, EngineError>) {
    match r {
        Err(e @ EngineError::Journal(JournalError::Failed(_))) => {
            assert_eq!(e.code(), "journal_failed", "{what}");
            assert!(e.to_string().contains("injected"), "{what}: {e}");
        }
        other => panic!("{what}: expected journal_failed, got {other:?}"),
    }
}

/// Waits until the journal has published its failure.
async fn failure_published(store: &Store) -> String {
    let mut rx = store.journal().durability();
    let d = tokio::time::timeout(Duration::from_secs(10), rx.wait_for(|d| d.failure.is_some()))
        .await
        .expect("the injected failure was never published")
        .unwrap();
    d.failure.as_deref().unwrap().to_owned()
}

#[test]
#[allow(
    clippy::too_many_lines,
    reason = "one scenario with its assertions in order; splitting it would hide which step each check belongs to"
)]
fn nothing_is_acknowledged_after_a_write_failure_and_recovery_keeps_exactly_the_acknowledged() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let (acked, acked_claims) = actix::System::new().block_on(async {
        let (engine, store, _) = open(&dir);
        engine.define_hunt(hunt()).await.unwrap();
        engine.ingest(vec![clue("p1"), clue("p2")]).await.unwrap();
        let mut acked_claims = Vec::new();
        for (id, player, sku) in [
            ("a1", "p1", "mug"),
            ("a2", "p2", "mug"),
            ("a3", "p3", "gold"),
            ("a4", "p1", "gold"),
            ("a5", "p1", "mug"),
        ] {
            let req = claim(id, player, sku);
            acked_claims.push((req.clone(), engine.claim(req).await.unwrap()));
        }
        engine.add_stock("h", "mug", 2).await.unwrap();
        store.snapshot(&engine).await.unwrap();
        engine.ingest(vec![clue("p3")]).await.unwrap();
        let req = claim("a6", "p3", "gold");
        acked_claims.push((req.clone(), engine.claim(req).await.unwrap()));
        let acked = engine.dump().await.unwrap();
        assert_eq!(engine.durable_seq(), acked.last_seq);

        store.journal().inject_write_failure("injected: disk full");
        // Decided, and then either refused at append (the writer already
        // failed) or appended and dropped by the failing commit: never answered.
        assert_journal_failed(
            "claim right after the failure",
            engine.claim(claim("f1", "p4", "mug")).await,
        );
        assert!(failure_published(&store).await.contains("injected"));
        let dropped = engine.last_seq() > acked.last_seq;
        eprintln!(
            "f1 was {}",
            if dropped {
                "appended, then dropped by the failed commit"
            } else {
                "refused at append"
            }
        );

        // Now every write is refused at append.
        assert_journal_failed("claim", engine.claim(claim("f2", "p5", "mug")).await);
        assert_journal_failed("ineligible claim", engine.claim(claim("f3", "p6", "gold")).await);
        assert_journal_failed("claim with a new id", engine.claim(claim("f4", "p1", "gold")).await);
        assert_journal_failed("ingest", engine.ingest(vec![clue("p6")]).await);
        assert_journal_failed("add_stock", engine.add_stock("h", "mug", 1).await);
        let mut other = hunt();
        other.id = "h2".into();
        assert_journal_failed("define_hunt", engine.define_hunt(other).await);
        // If f1 was decided in memory, it is not durable: resending it is still refused.
        assert_journal_failed("resent undurable claim", engine.claim(claim("f1", "p4", "mug")).await);
        // A claim decided by a durable record still gets its original answer.
        let (req, first) = &acked_claims[0];
        let again = engine.claim(req.clone()).await.unwrap();
        assert!(again.duplicate && again.outcome == first.outcome && again.seq == first.seq);
        assert_eq!(
            engine.durable_seq(),
            acked.last_seq,
            "the durable sequence moved after the failure"
        );
        let closed = if dropped {
            // A dump needs everything appended to be durable, which f1 never will be.
            assert!(engine.dump().await.is_err());
            // Closing reports the records that never became durable.
            let closed = store.close().await;
            assert!(
                matches!(
                    closed,
                    Err(StoreError::Engine(EngineError::Journal(JournalError::Failed(_))))
                ),
                "{closed:?}"
            );
            None
        } else {
            Some(store.close().await.unwrap())
        };
        assert!(closed.is_none_or(|seq| seq == acked.last_seq));
        engine.stop();
        (acked, acked_claims)
    });

    actix::System::new().block_on(async {
        let (engine, store, report) = open(&dir);
        assert_eq!(report.last_seq, acked.last_seq, "recovered a different journal end");
        let recovered = engine.dump().await.unwrap();
        assert_eq!(
            recovered.digest(),
            acked.digest(),
            "recovered state differs from the acknowledged one: {:?}",
            recovered.diff(&acked, 5)
        );
        for (req, first) in &acked_claims {
            let r = engine.claim(req.clone()).await.unwrap();
            assert!(
                r.duplicate && r.outcome == first.outcome && r.seq == first.seq,
                "{req:?}: {r:?}"
            );
        }
        // The refused claims never happened: they are decided now, afresh.
        for (id, player, sku) in [("f1", "p4", "mug"), ("f2", "p5", "mug"), ("f4", "p1", "gold")] {
            let r = engine.claim(claim(id, player, sku)).await.unwrap();
            assert!(!r.duplicate, "{id} was never acknowledged but is in the journal: {r:?}");
            assert!(r.seq > acked.last_seq);
        }
        store.close().await.unwrap();
        engine.stop();
    });
    let report = verify(&dir).unwrap();
    assert!(report.ok(), "{:#?}", report.checks);
}

/// Under load from concurrent clients: every claim answered before the
/// failure is durable with its answer, none answered after it is, and the
/// journal ends exactly at the last durable sequence.
#[test]
fn failure_under_concurrent_load() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    const CLIENTS: usize = 6;
    let (answered, refused, durable) = actix::System::new().block_on(async {
        let (engine, store, _) = open(&dir);
        let mut big = hunt();
        big.products[0].stock = 1_000;
        engine.define_hunt(big).await.unwrap();
        let store = Rc::new(store);
        let answered = Rc::new(std::cell::RefCell::new(Vec::new()));
        let refused = Rc::new(std::cell::RefCell::new(Vec::new()));
        let mut tasks = Vec::new();
        for client in 0..CLIENTS {
            let (engine, answered, refused) = (engine.clone(), answered.clone(), refused.clone());
            tasks.push(actix::spawn(async move {
                for n in 0..2_000 {
                    let req = claim(&format!("c{client}.{n}"), &format!("p{}", n % 97), "mug");
                    if n % 5 == 0 {
                        let _ = engine.ingest(vec![clue(&req.player)]).await;
                    }
                    match engine.claim(req.clone()).await {
                        Ok(r) => answered.borrow_mut().push((req, r)),
                        Err(e) => {
                            assert_eq!(e.code(), "journal_failed", "{e}");
                            refused.borrow_mut().push(req);
                            return;
                        }
                    }
                }
            }));
        }
        // Let the load build up, then fail the disk.
        while answered.borrow().len() < 300 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        store.journal().inject_write_failure("injected: I/O error");
        failure_published(&store).await;
        for t in tasks {
            t.await.unwrap();
        }
        let durable = engine.durable_seq();
        assert!(store.close().await.is_err() || engine.last_seq() == durable);
        engine.stop();
        (answered.take(), refused.take(), durable)
    });
    assert_eq!(refused.len(), CLIENTS, "every client must have been refused once");

    let mut in_journal = std::collections::HashMap::new();
    let end = read_journal(&dir, 0, |seq, _, r| {
        if let Record::Claim { request, outcome } = r {
            in_journal.insert((request.player, request.claim_id), (seq, outcome));
        }
    })
    .unwrap();
    assert_eq!(
        end.last_seq, durable,
        "the journal must end at the last durable sequence"
    );
    for (req, r) in &answered {
        assert!(r.seq <= durable);
        assert_eq!(
            in_journal.get(&(req.player.clone(), req.claim_id.clone())),
            Some(&(r.seq, r.outcome)),
            "acknowledged claim {} lost or changed",
            req.claim_id
        );
    }
    for req in &refused {
        assert!(
            !in_journal.contains_key(&(req.player.clone(), req.claim_id.clone())),
            "refused claim {} is in the journal",
            req.claim_id
        );
    }
    let report = verify(&dir).unwrap();
    assert!(report.ok(), "{:#?}", report.checks);
}

/// A gate that can be closed from the test.
struct Gate(std::sync::atomic::AtomicBool);

impl WriteGate for Gate {
    fn check(&self) -> Result<(), String> {
        if self.0.load(std::sync::atomic::Ordering::SeqCst) {
            Ok(())
        } else {
            Err("test fence closed".into())
        }
    }
}

/// Cluster fencing: once the write gate refuses, the next group commit
/// writes nothing and fail-stops; snapshots are refused too; the folder
/// recovers to exactly what was written before the gate closed.
#[test]
fn a_closed_write_gate_stops_every_write() {
    let dir = tempfile::tempdir().unwrap();
    let gate = std::sync::Arc::new(Gate(std::sync::atomic::AtomicBool::new(true)));
    let options = StoreOptions {
        write_gate: Some(gate.clone()),
        ..StoreOptions::default()
    };
    let before = actix::System::new().block_on(async {
        let (engine, store, _) = open_engine(dir.path(), options, EngineConfig::default()).unwrap();
        engine.define_hunt(hunt()).await.unwrap();
        engine.ingest(vec![clue("p1")]).await.unwrap();
        let before = store.durable_seq();
        gate.0.store(false, std::sync::atomic::Ordering::SeqCst);
        let r = engine.claim(claim("c1", "p1", "mug")).await;
        assert!(matches!(r, Err(EngineError::Journal(JournalError::Failed(_)))), "{r:?}");
        assert!(failure_published(&store).await.contains("fenced"));
        assert!(engine.ingest(vec![clue("p2")]).await.is_err());
        assert!(store.snapshot(&engine).await.is_err(), "a snapshot is a write too");
        let _ = store.close().await;
        engine.stop();
        before
    });
    let (_engine, store, report) = actix::System::new().block_on(async { open(dir.path()) });
    assert_eq!(report.last_seq, before, "nothing was written after the gate closed");
    assert_eq!(store.durable_seq(), before);
}
