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
