//! Hunt definitions (idempotent, conflicts, validation) and restocking.

use crate::common::*;
use trove_engine::*;

/// A named change to a hunt definition.
type Change = (&'static str, fn(&mut HuntDef));
type BoxedChange = (&'static str, Box<dyn Fn(&mut HuntDef)>);

fn def() -> HuntDef {
    hunt(
        "h",
        (Some(10), Some(20)),
        &[("c1", 1), ("c2", 2)],
        vec![product("tee", 3, 1, 0), product("mug", 0, 2, 5)],
    )
}

#[test]
fn identical_redefinition_is_idempotent_and_different_conflicts() {
    run(async {
        let mut h = Harness::new(0);
        assert_eq!(h.define(def()).await, DefineResult { seq: 1, created: true });
        h.define(open_hunt("other", vec![])).await;
        assert_eq!(h.define(def()).await, DefineResult { seq: 1, created: false });
        assert_eq!(h.last_seq(), 2, "an identical re-post journals nothing");

        let variants: Vec<Change> = vec![
            ("name", |d| d.name.push('!')),
            ("opens_at", |d| d.opens_at = Some(11)),
            ("closes_at", |d| d.closes_at = None),
            ("clue points", |d| d.clues[0].points = 9),
            ("clue added", |d| {
                d.clues.push(ClueDef {
                    id: "c3".into(),
                    points: 1,
                })
            }),
            ("stock", |d| d.products[0].stock = 4),
            ("limit", |d| d.products[0].per_player_limit = 2),
            ("min_score", |d| d.products[1].min_score = 0),
            ("product order", |d| d.products.reverse()),
        ];
        for (what, change) in variants {
            let mut d = def();
            change(&mut d);
            let e = h.engine.define_hunt(d).await.unwrap_err();
            assert_eq!(e, EngineError::HuntConflict("h".into()), "{what}");
            assert_eq!(e.code(), "hunt_conflict");
        }
        assert_eq!(h.last_seq(), 2);

        // Stock added later does not make the original definition "different".
        h.engine.add_stock("h", "tee", 2).await.unwrap();
        assert_eq!(h.define(def()).await, DefineResult { seq: 1, created: false });
        h.check().await;
        h.restart().await;
        assert_eq!(h.define(def()).await, DefineResult { seq: 1, created: false });
        assert_eq!(
            h.define(open_hunt("other", vec![])).await,
            DefineResult { seq: 2, created: false }
        );
        let snapshot = h.check().await;
        h.restart_from_snapshot(snapshot).await;
        assert_eq!(h.define(def()).await, DefineResult { seq: 1, created: false });
        assert_eq!(h.engine.hunt_ids(), vec!["h".to_string(), "other".to_string()]);
        h.check().await;
    });
}

#[test]
fn invalid_definitions_are_refused() {
    run(async {
        let h = Harness::new(0);
        let long = "x".repeat(limits::MAX_ID_BYTES + 1);
        let cases: Vec<BoxedChange> = vec![
            ("duplicate sku", Box::new(|d| d.products.push(product("tee", 1, 1, 0)))),
            ("per_player_limit 0", Box::new(|d| d.products[1].per_player_limit = 0)),
            ("opens == closes", Box::new(|d| d.closes_at = d.opens_at)),
            (
                "opens > closes",
                Box::new(|d| (d.opens_at, d.closes_at) = (Some(30), Some(20))),
            ),
            (
                "duplicate clue",
                Box::new(|d| {
                    d.clues.push(ClueDef {
                        id: "c1".into(),
                        points: 5,
                    })
                }),
            ),
            ("empty hunt id", Box::new(|d| d.id.clear())),
            (
                "long hunt id",
                Box::new(move |d| d.id = "x".repeat(limits::MAX_ID_BYTES + 1)),
            ),
            ("empty sku", Box::new(|d| d.products[0].sku.clear())),
            ("long sku", Box::new(move |d| d.products[0].sku = long.clone())),
            ("empty clue id", Box::new(|d| d.clues[0].id.clear())),
            (
                "long name",
                Box::new(|d| d.name = "n".repeat(limits::MAX_TEXT_BYTES + 1)),
            ),
            ("stock too big", Box::new(|d| d.products[0].stock = MAX_STOCK + 1)),
        ];
        for (what, change) in cases {
            let mut d = def();
            change(&mut d);
            let e = h.engine.define_hunt(d).await.unwrap_err();
            assert!(matches!(e, EngineError::InvalidHunt(_)), "{what}: {e:?}");
            assert_eq!(e.code(), "invalid_hunt");
        }
        assert_eq!(h.last_seq(), 0, "nothing journaled");
        assert!(h.engine.hunt_ids().is_empty());
        // Open-ended windows are fine.
        let mut d = def();
        d.opens_at = None;
        h.define(d).await;
        h.check().await;
    });
}

#[test]
fn add_stock_is_journaled_and_checked() {
    run(async {
        let mut h = Harness::new(15);
        h.define(def()).await;
        h.clues("p", "h", &["c1", "c2"]).await; // seqs 2 and 3
        let r = h.engine.add_stock("h", "mug", 2).await.unwrap();
        assert_eq!(r, StockResult { seq: 4, remaining: 2 });
        assert_eq!(
            h.records()[3],
            Record::StockAdded {
                hunt: "h".into(),
                sku: "mug".into(),
                added: 2
            }
        );
        let r = h.engine.add_stock("h", "mug", 3).await.unwrap();
        assert_eq!(r, StockResult { seq: 5, remaining: 5 });

        let errors = [
            (h.engine.add_stock("nope", "mug", 1).await, "unknown_hunt"),
            (h.engine.add_stock("h", "nope", 1).await, "unknown_product"),
            (h.engine.add_stock("h", "mug", 0).await, "invalid_request"),
            (h.engine.add_stock("nope", "nope", 0).await, "invalid_request"),
            (h.engine.add_stock("h", "mug", MAX_STOCK).await, "invalid_request"),
            (h.engine.add_stock("h", "tee", u64::MAX).await, "invalid_request"),
        ];
        for (i, (r, code)) in errors.into_iter().enumerate() {
            assert_eq!(r.unwrap_err().code(), code, "case {i}");
        }
        assert_eq!(
            h.engine.add_stock("nope", "x", 1).await,
            Err(EngineError::UnknownHunt("nope".into()))
        );
        assert_eq!(
            h.engine.add_stock("h", "x", 1).await,
            Err(EngineError::UnknownProduct {
                hunt: "h".into(),
                sku: "x".into()
            })
        );
        assert_eq!(h.last_seq(), 5, "refused restocks journal nothing");

        // Stock added is claimable, and survives restarts.
        let mut world = h.check().await;
        let hs = &world.hunts["h"];
        assert_eq!((hs.stock[1], hs.added[1], hs.granted[1]), (5, 5, 0));
        h.restart().await;
        world = h.check().await;
        assert_eq!(world.hunts["h"].stock[1], 5);
        // Up to MAX_STOCK exactly is allowed.
        let r = h.engine.add_stock("h", "tee", MAX_STOCK - 3).await.unwrap();
        assert_eq!(r.remaining, MAX_STOCK);
        h.check().await;
    });
}
