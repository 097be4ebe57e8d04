//! Stock is never oversold and per-player limits are never exceeded, however
//! claims interleave. Every scenario also checks the journal: replaying the
//! records in order must justify each decision (see `journal_order_agrees`).

use crate::common::*;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, HashMap};
use trove_engine::RejectReason::*;
use trove_engine::*;

/// A claim as fired: (player, claim id, sku).
type Fired = (String, String, String);

async fn fire(h: &Harness, hunt: &str, claims: &[Fired]) -> Vec<Result<ClaimResult, EngineError>> {
    let futs: Vec<_> = claims
        .iter()
        .map(|(p, id, sku)| {
            let (e, req) = (h.engine.clone(), claim(p, id, hunt, sku));
            async move { e.claim(req).await }
        })
        .collect();
    join_all(futs).await
}

/// Grants per (player, sku) according to the replies.
fn grants_by_player(claims: &[Fired], results: &[Result<ClaimResult, EngineError>]) -> BTreeMap<(String, String), u32> {
    let mut out = BTreeMap::new();
    for ((p, _, sku), r) in claims.iter().zip(results) {
        let r = r.as_ref().expect("claims in these scenarios never error");
        if r.outcome.is_granted() && !r.duplicate {
            *out.entry((p.clone(), sku.clone())).or_insert(0) += 1;
        }
    }
    out
}

/// Walks the journal in order with a tiny ledger (stock, per-player grants)
/// and checks each claim record's outcome is the one the contract demands at
/// that point in the order (the products here have no min_score and are open).
fn journal_order_agrees(records: &[Record], products: &[ProductDef]) {
    let mut stock: HashMap<&str, u64> = products.iter().map(|p| (p.sku.as_str(), p.stock)).collect();
    let limit: HashMap<&str, u32> = products.iter().map(|p| (p.sku.as_str(), p.per_player_limit)).collect();
    let mut granted: HashMap<(&str, &str), u32> = HashMap::new();
    for (i, r) in records.iter().enumerate() {
        match r {
            Record::HuntDefined(_) | Record::Event(_) => {}
            Record::StockAdded { sku, added, .. } => *stock.get_mut(sku.as_str()).unwrap() += added,
            Record::Claim { request, outcome } => {
                let sku = request.sku.as_str();
                let g = granted.entry((request.player.as_str(), sku)).or_insert(0);
                let expected = if *g >= limit[sku] {
                    rejected(LimitReached)
                } else if stock[sku] == 0 {
                    rejected(OutOfStock)
                } else {
                    GRANTED
                };
                assert_eq!(*outcome, expected, "record {}: {request:?}", i + 1);
                if outcome.is_granted() {
                    *g += 1;
                    *stock.get_mut(sku).unwrap() -= 1;
                }
            }
        }
    }
}

async fn remaining(h: &Harness, hunt: &str, sku: &str) -> (u64, u64) {
    let hs = h.engine.hunt(hunt).await.unwrap();
    let i = hs.def.product_index(sku).unwrap();
    (hs.stock[i], hs.granted[i])
}

#[test]
fn many_players_race_for_small_stock() {
    for (shards, stock, players) in [(1, 7, 60), (4, 7, 60), (3, 0, 10), (2, 25, 25), (2, 40, 25)] {
        run(async move {
            let h = Harness::with_shards(0, shards);
            let products = vec![product("tee", stock, 1, 0)];
            h.define(open_hunt("h", products.clone())).await;
            let claims: Vec<Fired> = (0..players)
                .map(|p| (format!("p{p}"), "c".into(), "tee".into()))
                .collect();
            let results = fire(&h, "h", &claims).await;
            let grants = grants_by_player(&claims, &results);
            let granted: u32 = grants.values().sum();
            assert_eq!(granted as u64, stock.min(players), "shards {shards} stock {stock}");
            assert!(grants.values().all(|g| *g <= 1));
            for r in &results {
                let r = r.as_ref().unwrap();
                assert!(r.outcome == GRANTED || r.outcome == rejected(OutOfStock), "{r:?}");
            }
            assert_eq!(
                remaining(&h, "h", "tee").await,
                (stock.saturating_sub(players), granted as u64)
            );
            journal_order_agrees(&h.records(), &products);
            h.check().await;
        });
    }
}

#[test]
fn many_players_with_several_claims_each_respect_limits() {
    run(async {
        let h = Harness::with_shards(0, 4);
        let products = vec![product("pin", 23, 2, 0), product("cap", 100, 3, 0)];
        h.define(open_hunt("h", products.clone())).await;
        // 20 players, 4 pin claims and 5 cap claims each, in a seeded shuffle.
        let mut claims: Vec<Fired> = Vec::new();
        for p in 0..20 {
            for c in 0..4 {
                claims.push((format!("p{p}"), format!("pin-{c}"), "pin".into()));
            }
            for c in 0..5 {
                claims.push((format!("p{p}"), format!("cap-{c}"), "cap".into()));
            }
        }
        claims.shuffle(&mut ChaCha8Rng::seed_from_u64(7));
        let results = fire(&h, "h", &claims).await;
        let grants = grants_by_player(&claims, &results);
        let total = |sku: &str| {
            grants
                .iter()
                .filter(|((_, s), _)| s == sku)
                .map(|(_, g)| *g)
                .sum::<u32>()
        };
        // Demand is capped by the limits: pin 20 * 2 = 40 > 23; cap 20 * 3 = 60 < 100.
        assert_eq!(total("pin"), 23);
        assert_eq!(total("cap"), 60);
        for ((p, sku), g) in &grants {
            assert!(*g <= if sku == "pin" { 2 } else { 3 }, "{p} got {g} {sku}");
        }
        assert!(grants.iter().filter(|((_, s), _)| s == "cap").all(|(_, g)| *g == 3));
        assert_eq!(remaining(&h, "h", "pin").await, (0, 23));
        assert_eq!(remaining(&h, "h", "cap").await, (40, 60));
        journal_order_agrees(&h.records(), &products);
        let world = h.check().await;
        for p in 0..20 {
            let ps = player_in(&world, &format!("p{p}"));
            assert_eq!(ps.claims.len(), 9);
            assert_eq!(ps.granted_count("h", "cap"), 3);
            assert!(ps.granted_count("h", "pin") <= 2);
        }
    });
}

#[test]
fn one_player_fires_many_claims_at_one_sku() {
    // (stock, limit, claims): grants == min(stock, limit, claims).
    for (stock, limit, n) in [(10, 3, 20), (2, 5, 20), (4, 4, 4), (50, 2, 1), (0, 3, 8)] {
        run(async move {
            let h = Harness::with_shards(0, 2);
            let products = vec![product("pin", stock, limit, 0)];
            h.define(open_hunt("h", products.clone())).await;
            let claims: Vec<Fired> = (0..n).map(|c| ("solo".into(), format!("c{c}"), "pin".into())).collect();
            let results = fire(&h, "h", &claims).await;
            let expected = stock.min(limit as u64).min(n as u64);
            let granted = results
                .iter()
                .filter(|r| r.as_ref().unwrap().outcome.is_granted())
                .count() as u64;
            assert_eq!(granted, expected, "stock {stock} limit {limit} claims {n}");
            assert_eq!(remaining(&h, "h", "pin").await, (stock - expected, expected));
            journal_order_agrees(&h.records(), &products);
            let world = h.check().await;
            assert_eq!(player_in(&world, "solo").granted_count("h", "pin") as u64, expected);
        });
    }
}

#[test]
fn concurrent_retries_of_one_claim_decide_once() {
    run(async {
        let h = Harness::with_shards(0, 2);
        h.define(open_hunt("h", vec![product("tee", 3, 1, 0)])).await;
        // 30 copies of the same claim, plus copies with a conflicting sku.
        let mut claims: Vec<Fired> = vec![("p".into(), "same".into(), "tee".into()); 30];
        claims.extend(vec![("p".into(), "same".into(), "mug".into()); 5]);
        claims.shuffle(&mut ChaCha8Rng::seed_from_u64(3));
        let results = fire(&h, "h", &claims).await;
        let firsts: Vec<&ClaimResult> = results
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .filter(|r| !r.duplicate)
            .collect();
        // Only a "tee" claim can be decided (a "mug" first would be an
        // unknown_product rejection; the shuffle decides which comes first).
        assert_eq!(firsts.len(), 1, "exactly one decision: {results:?}");
        let first = firsts[0].clone();
        assert_eq!(h.last_seq(), 2);
        for ((_, _, sku), r) in claims.iter().zip(&results) {
            match r {
                Ok(r) => assert_eq!((r.outcome, r.seq), (first.outcome, first.seq)),
                Err(e) => {
                    assert_eq!(e.code(), "claim_id_conflict");
                    let Record::Claim { request, .. } = &h.records()[1] else {
                        panic!()
                    };
                    assert_ne!(request.sku, *sku);
                }
            }
        }
        h.check().await;
    });
}

#[test]
fn restocks_race_with_claims() {
    run(async {
        let h = Harness::with_shards(0, 3);
        let products = vec![product("tee", 0, 2, 0)];
        h.define(open_hunt("h", products.clone())).await;
        let claims: Vec<Fired> = (0..40)
            .map(|i| (format!("p{}", i % 10), format!("c{i}"), "tee".into()))
            .collect();
        let mut futs: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = Option<ClaimResult>>>>> = Vec::new();
        for (i, (p, id, sku)) in claims.iter().enumerate() {
            let (e, req) = (h.engine.clone(), claim(p, id, "h", sku));
            futs.push(Box::pin(async move { Some(e.claim(req).await.unwrap()) }));
            if i % 4 == 0 {
                let e = h.engine.clone();
                futs.push(Box::pin(async move {
                    e.add_stock("h", "tee", 1).await.unwrap();
                    None
                }));
            }
        }
        let results = join_all(futs).await;
        let granted = results.iter().flatten().filter(|r| r.outcome.is_granted()).count() as u64;
        let (left, g) = remaining(&h, "h", "tee").await;
        assert_eq!(g, granted);
        assert_eq!(left + granted, 10, "stock added = granted + remaining");
        journal_order_agrees(&h.records(), &products);
        h.check().await;
    });
}

#[test]
fn concurrent_defines_of_one_hunt_create_it_once() {
    run(async {
        let h = Harness::with_shards(0, 2);
        let def = open_hunt("h", vec![product("tee", 1, 1, 0)]);
        let mut other = def.clone();
        other.name = "another".into();
        let defs: Vec<HuntDef> = (0..12)
            .map(|i| if i % 4 == 3 { other.clone() } else { def.clone() })
            .collect();
        let futs: Vec<_> = defs
            .iter()
            .map(|d| {
                let (e, d) = (h.engine.clone(), d.clone());
                async move { e.define_hunt(d).await }
            })
            .collect();
        let results = join_all(futs).await;
        assert_eq!(h.last_seq(), 1, "defined once");
        let Record::HuntDefined(winner) = &h.records()[0] else {
            panic!()
        };
        assert_eq!(results.iter().filter(|r| matches!(r, Ok(d) if d.created)).count(), 1);
        for (d, r) in defs.iter().zip(&results) {
            if d == winner {
                assert_eq!(r.as_ref().unwrap().seq, 1);
            } else {
                assert_eq!(r.as_ref().unwrap_err(), &EngineError::HuntConflict("h".into()));
            }
        }
        h.check().await;
    });
}

/// Runs `f(engine)` on its own arbiter (thread), as the API's worker threads do.
fn on_thread<T, F, Fut>(engine: &Engine, f: F) -> tokio::sync::oneshot::Receiver<T>
where
    T: Send + 'static,
    F: FnOnce(Engine) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = T> + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    let engine = engine.clone();
    let arbiter = actix::Arbiter::new();
    arbiter.spawn_fn(move || {
        actix::spawn(async move {
            let _ = tx.send(f(engine).await);
            actix::Arbiter::current().stop();
        });
    });
    rx
}

#[test]
fn clients_on_many_threads() {
    run(async {
        let h = Harness::with_shards(0, 2);
        h.define(open_hunt("h", vec![product("tee", 20, 2, 0), product("pin", 5, 1, 10)]))
            .await;
        const ROUNDS: usize = 8;
        for round in 0..ROUNDS {
            h.define(open_hunt(&format!("e{round}a"), vec![])).await;
            h.define(open_hunt(&format!("e{round}b"), vec![])).await;
        }
        // Four client threads. Each round, two threads ingest into one fresh
        // hunt and two into another, for every player, so a player's first
        // touch of the two hunts races across threads; then each claims.
        let mut rxs = Vec::new();
        for t in 0..4usize {
            let rx = on_thread(&h.engine, move |e| async move {
                let mut results = Vec::new();
                for round in 0..ROUNDS {
                    let hunt = format!("e{round}{}", if t % 2 == 0 { "a" } else { "b" });
                    let clue_id = ["c1", "c2", "c3"][(t + round) % 3];
                    let events = (0..30).map(|p| clue(&format!("p{p}"), &hunt, clue_id)).collect();
                    e.ingest(events).await.unwrap();
                    e.ingest(vec![clue(&format!("p{round}"), "h", clue_id)]).await.unwrap();
                    for p in 0..30 {
                        let (player, id) = (format!("p{p}"), format!("t{t}r{round}"));
                        let sku = if (p + round) % 2 == 0 { "tee" } else { "pin" };
                        let r = e.claim(claim(&player, &id, "h", sku)).await.unwrap();
                        results.push(((player, id, sku.to_string()), r));
                    }
                }
                results
            });
            rxs.push(rx);
        }
        let mut claims = Vec::new();
        let mut results = Vec::new();
        for rx in rxs {
            for (c, r) in rx.await.unwrap() {
                claims.push(c);
                results.push(Ok(r));
            }
        }
        let grants = grants_by_player(&claims, &results);
        let total = |sku: &str| {
            grants
                .iter()
                .filter(|((_, s), _)| s == sku)
                .map(|(_, g)| *g)
                .sum::<u32>()
        };
        assert_eq!(total("tee"), 20);
        assert_eq!(total("pin"), 5);
        assert!(grants
            .iter()
            .all(|((_, sku), g)| *g <= if sku == "tee" { 2 } else { 1 }));
        // Live state must equal the replay even though batches from different
        // threads may reach a shard in another order than the journal's.
        h.check().await;
    });
}

/// A dump fixes its cut under all admission permits but lets new work in
/// before the shards have copied their players. Every dump taken while
/// events and claims keep flowing must still be exactly the journal's prefix
/// up to its sequence: nothing routed after the cut may leak into it.
#[test]
fn dumps_taken_while_writes_flow_equal_the_journal_prefix() {
    run(async {
        let h = Harness::new(1_000);
        h.engine
            .define_hunt(open_hunt("h", vec![product("mug", 500, 3, 0), product("cap", 5, 1, 0)]))
            .await
            .unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut writers = Vec::new();
        for w in 0..4u32 {
            let stop = stop.clone();
            // On their own threads, as the API's workers: they keep writing
            // while the dump's thread is inside its cut.
            writers.push(on_thread(&h.engine, move |engine| async move {
                let mut n = 0u32;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let batch = (0..20)
                        .map(|i| clue(&format!("p{}", (n + i) % 50), "h", "c1"))
                        .collect();
                    engine.ingest(batch).await.unwrap();
                    let sku = if n.is_multiple_of(3) { "cap" } else { "mug" };
                    let _ = engine
                        .claim(claim(&format!("p{}", n % 50), &format!("w{w}-{n}"), "h", sku))
                        .await;
                    n += 1;
                }
            }));
        }
        for _ in 0..15 {
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            let dump = h.engine.dump().await.unwrap();
            let records = h.records();
            let prefix = &records[..dump.last_seq as usize];
            assert_same_state(&dump, &replay(prefix), "dump while writes flow vs journal prefix");
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for w in writers {
            w.await.unwrap();
        }
        h.check().await;
    });
}
