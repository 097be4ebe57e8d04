use std::path::Path;
use trove_engine::*;
use trove_persistence::*;

fn hunt() -> HuntDef {
    HuntDef {
        id: "h1".into(),
        name: "Hunt".into(),
        opens_at: None,
        closes_at: None,
        clues: vec![
            ClueDef {
                id: "c1".into(),
                points: 10,
            },
            ClueDef {
                id: "c2".into(),
                points: 5,
            },
        ],
        products: vec![ProductDef {
            sku: "mug".into(),
            stock: 2,
            per_player_limit: 1,
            min_score: 10,
        }],
    }
}

async fn session(dir: &Path, f: impl AsyncFnOnce(&Engine, &Store)) {
    let (engine, store, _) = open_engine(dir, StoreOptions::default(), EngineConfig::default()).unwrap();
    f(&engine, &store).await;
    store.close().await.unwrap();
    engine.stop();
}

#[test]
fn define_ingest_claim_restart_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    actix::System::new().block_on(async {
        session(dir, async |e, s| {
            assert!(e.define_hunt(hunt()).await.unwrap().created);
            let ev = |p: &str, c: &str| GameEvent {
                player: p.into(),
                hunt: "h1".into(),
                kind: EventKind::ClueFound { clue: c.into() },
            };
            let r = e
                .ingest(vec![ev("p1", "c1"), ev("p2", "c2"), ev("p1", "c1")])
                .await
                .unwrap();
            assert_eq!(r.accepted, 3);
            let claim = |id: &str, p: &str| ClaimRequest {
                claim_id: id.into(),
                player: p.into(),
                hunt: "h1".into(),
                sku: "mug".into(),
                customs: "{}".into(),
            };
            let a = e.claim(claim("k1", "p1")).await.unwrap();
            assert_eq!(a.outcome, Outcome::Granted);
            let b = e.claim(claim("k2", "p2")).await.unwrap();
            assert_eq!(b.outcome, Outcome::Rejected(RejectReason::NotEligible));
            let again = e.claim(claim("k1", "p1")).await.unwrap();
            assert!(again.duplicate);
            assert_eq!(again.seq, a.seq);
            s.snapshot(e).await.unwrap();
            e.ingest(vec![ev("p2", "c1")]).await.unwrap();
        })
        .await;
        session(dir, async |e, _| {
            let p = e.player("p1").await.unwrap().unwrap();
            assert_eq!(p.score("h1"), 10);
            let again = e
                .claim(ClaimRequest {
                    claim_id: "k2".into(),
                    player: "p2".into(),
                    hunt: "h1".into(),
                    sku: "mug".into(),
                    customs: "{}".into(),
                })
                .await
                .unwrap();
            assert!(again.duplicate);
            assert_eq!(again.outcome, Outcome::Rejected(RejectReason::NotEligible));
            assert_eq!(e.hunt("h1").await.unwrap().stock, vec![1]);
        })
        .await;
    });
    let report = verify(dir).unwrap();
    assert!(report.ok(), "{:#?}", report.checks);
}

/// The sequence named by the acknowledged mark (`journal.hwm`: magic, then
/// the last synced sequence, little endian).
fn mark_seq(dir: &Path) -> Seq {
    let bytes = std::fs::read(dir.join(hwm::FILE)).unwrap();
    u64::from_le_bytes(bytes[4..12].try_into().unwrap())
}

/// Default mode with event syncs deferred for an hour: commits of events
/// alone are acknowledged unsynced while more keep coming, but a decision's
/// sync covers them before the decision is answered, and a writer that goes
/// idle syncs what it wrote. (The power-cut tests prove the loss bound.)
#[test]
fn deferred_event_syncs_are_caught_up_by_a_decision_and_by_idleness() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let options = StoreOptions {
        event_sync_interval: std::time::Duration::from_secs(3600),
        ..StoreOptions::default()
    };
    actix::System::new().block_on(async {
        let (e, s, _) = open_engine(dir, options, EngineConfig::default()).unwrap();
        e.define_hunt(hunt()).await.unwrap();
        let ev = |i: u32| GameEvent {
            player: format!("p{i}"),
            hunt: "h1".into(),
            kind: EventKind::ClueFound { clue: "c1".into() },
        };
        let batches: Vec<_> = (0..50u32)
            .map(|b| {
                let (e, batch) = (e.clone(), (0..100).map(|i| ev(b * 100 + i)).collect());
                actix::spawn(async move { e.ingest(batch).await })
            })
            .collect();
        for b in batches {
            assert_eq!(b.await.unwrap().unwrap().accepted, 100);
        }
        let claim = ClaimRequest {
            claim_id: "k1".into(),
            player: "p1".into(),
            hunt: "h1".into(),
            sku: "mug".into(),
            customs: "{}".into(),
        };
        let decided = e.claim(claim).await.unwrap();
        assert!(
            mark_seq(dir) >= decided.seq,
            "a decision is answered only once synced, with every event before it"
        );
        let last = e.ingest(vec![ev(1), ev(2)]).await.unwrap().seq;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while mark_seq(dir) < last {
            assert!(
                std::time::Instant::now() < deadline,
                "an idle writer never synced {last}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        s.close().await.unwrap();
        e.stop();
    });
}
