//! The hunt catalog and the global stock ledger, and etcd refusing a stale
//! owner's moves.

use crate::etcd::{error, Etcd};
use trove_cluster::{Allotment, Cluster, ClusterError, Defined};

const HUNT: &str = r#"{"id":"h1","products":[{"sku":"gem","stock":10},{"sku":"coin","stock":0}]}"#;

fn stock_of(pairs: &[(&str, u64)]) -> Vec<(String, u64)> {
    pairs.iter().map(|(s, n)| ((*s).to_owned(), *n)).collect()
}

fn moved(a: Allotment) -> (u64, u64, u64) {
    (a.moved, a.allotted, a.ledger)
}

async fn take_by(node: &Cluster, p: u32, epoch: i64, by: &(dyn Fn(u64) -> u64 + Sync)) -> (u64, u64, u64) {
    moved(
        node.take_units_by(p, epoch, "h1", "gem", by)
            .await
            .expect("take_units_by"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalog() {
    let Some(etcd) = Etcd::start("catalog").await else {
        return;
    };
    let prefix = "/t-catalog";
    let a = etcd.join(prefix, "a").await;
    let b = etcd.join(prefix, "b").await;
    let stock = stock_of(&[("gem", 10), ("coin", 0)]);

    // A definition creates the hunt and its ledgers in one go.
    let d = a.define_hunt("h1", HUNT, &stock).await.expect("define");
    assert!(d.created);
    assert!(d.revision > 0);
    assert_eq!(b.stock("h1", "gem").await.expect("stock"), (10, vec![]));
    assert_eq!(b.stock("h1", "coin").await.expect("stock"), (0, vec![]));
    let hunts = b.hunts().await.expect("hunts");
    assert_eq!(hunts.len(), 1);
    assert_eq!((hunts[0].0.as_str(), hunts[0].1.as_str()), ("h1", HUNT));
    assert_eq!(hunts[0].2, d.revision);

    // The same definition again (even formatted otherwise) changes nothing;
    // another under the same id is a conflict.
    let p = 2;
    let epoch = a.acquire(p).await.expect("acquire").expect("partition 2 is free");
    assert_eq!(
        moved(a.take_units(p, epoch, "h1", "gem", 4).await.expect("take")),
        (4, 4, 6)
    );
    let again = b.define_hunt("h1", HUNT, &stock).await.expect("define again");
    assert!(!again.created, "{again:?}");
    let reformatted = r#"{ "products": [ {"stock":10, "sku":"gem"}, {"sku":"coin","stock":0} ], "id": "h1" }"#;
    let again = b.define_hunt("h1", reformatted, &stock).await.expect("define again");
    assert!(matches!(again, Defined { created: false, .. }));
    assert_eq!(
        b.stock("h1", "gem").await.expect("stock"),
        (6, vec![(p, 4)]),
        "an idempotent definition must not reset the ledger"
    );
    let other = HUNT.replace("10", "11");
    let e = error(b.define_hunt("h1", &other, &stock_of(&[("gem", 11)])).await, "redefine");
    assert!(matches!(&e, ClusterError::HuntConflict(id) if id == "h1"), "{e:?}");
    assert_eq!(b.stock("h1", "gem").await.expect("stock"), (6, vec![(p, 4)]));
    assert_eq!(b.hunts().await.expect("hunts")[0].1, HUNT);

    // A second hunt sits beside the first.
    let h2 = r#"{"id":"h2"}"#;
    assert!(
        a.define_hunt("h2", h2, &stock_of(&[("gem", 1)]))
            .await
            .expect("define")
            .created
    );
    let ids: Vec<String> = a.hunts().await.expect("hunts").into_iter().map(|h| h.0).collect();
    assert_eq!(ids, ["h1", "h2"]);
    assert_eq!(a.stock("h2", "gem").await.expect("stock"), (1, vec![]));
    assert_eq!(a.stock("h1", "gem").await.expect("stock"), (6, vec![(p, 4)]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ledger_moves_units_within_the_stock() {
    let Some(etcd) = Etcd::start("ledger-moves").await else {
        return;
    };
    let prefix = "/t-ledger-moves";
    let a = etcd.join(prefix, "a").await;
    let b = etcd.join(prefix, "b").await;
    let stock = stock_of(&[("gem", 10), ("coin", 0)]);
    assert!(a.define_hunt("h1", HUNT, &stock).await.expect("define").created);
    let p = 2;
    let epoch = a.acquire(p).await.expect("acquire").expect("partition 2 is free");
    assert_eq!(
        moved(a.take_units(p, epoch, "h1", "gem", 4).await.expect("take")),
        (4, 4, 6)
    );

    // take_units moves min(want, ledger); return_units min(units, allotted).
    let take = |want| a.take_units(p, epoch, "h1", "gem", want);
    assert_eq!(moved(take(10).await.expect("take")), (6, 10, 0));
    let empty = take(3).await.expect("take from an empty ledger");
    assert_eq!(moved(empty), (0, 10, 0));
    assert!(empty.revision > 0);
    let give = |units| a.return_units(p, epoch, "h1", "gem", units);
    assert_eq!(moved(give(3).await.expect("return")), (3, 7, 3));
    assert_eq!(moved(give(100).await.expect("return")), (7, 0, 10));
    assert_eq!(moved(give(1).await.expect("return nothing")), (0, 0, 10));
    assert_eq!(a.allotted("h1", "gem", p).await.expect("allotted"), 0);
    assert_eq!(b.stock("h1", "gem").await.expect("stock"), (10, vec![(p, 0)]));

    // Two partitions, two nodes.
    let q = 5;
    let eq = b.acquire(q).await.expect("acquire").expect("partition 5 is free");
    assert_eq!(
        moved(b.take_units(q, eq, "h1", "gem", 7).await.expect("take")),
        (7, 7, 3)
    );
    assert_eq!(moved(take(7).await.expect("take")), (3, 3, 0));
    assert_eq!(b.stock("h1", "gem").await.expect("stock"), (0, vec![(p, 3), (q, 7)]));
    assert_eq!(a.allotted("h1", "gem", q).await.expect("allotted"), 7);
    // A partition's epoch does not move another partition's units.
    let e = error(
        a.take_units(q, epoch, "h1", "gem", 1).await,
        "take with p's epoch for q",
    );
    assert!(matches!(e, ClusterError::StaleEpoch { partition: 5, .. }), "{e:?}");
    let e = error(
        a.take_units(7, epoch, "h1", "gem", 1).await,
        "take for an ownerless partition",
    );
    assert!(matches!(e, ClusterError::StaleEpoch { partition: 7, .. }), "{e:?}");

    // add_stock raises the ledger up to the maximum, never beyond.
    assert_eq!(a.add_stock("h1", "gem", 5, 20).await.expect("add"), 5);
    assert_eq!(a.add_stock("h1", "gem", 15, 20).await.expect("add"), 20);
    let e = error(a.add_stock("h1", "gem", 1, 20).await, "add beyond the maximum");
    assert!(
        matches!(&e, ClusterError::StockOverflow(what) if what == "h1/gem"),
        "{e:?}"
    );
    let e = error(
        a.add_stock("h1", "gem", u64::MAX, u64::MAX).await,
        "add overflowing u64",
    );
    assert!(matches!(e, ClusterError::StockOverflow(_)), "{e:?}");
    assert_eq!(b.stock("h1", "gem").await.expect("stock"), (20, vec![(p, 3), (q, 7)]));
    assert_eq!(a.add_stock("h1", "coin", 2, 20).await.expect("add"), 2);

    // Unknown hunts and products.
    for (hunt, sku) in [("h1", "nope"), ("nope", "gem")] {
        let e = error(a.take_units(p, epoch, hunt, sku, 1).await, "take unknown");
        assert!(
            matches!(&e, ClusterError::Unknown(w) if *w == format!("{hunt}/{sku}")),
            "{e:?}"
        );
        let e = error(a.return_units(p, epoch, hunt, sku, 1).await, "return unknown");
        assert!(matches!(e, ClusterError::Unknown(_)), "{e:?}");
        let e = error(a.add_stock(hunt, sku, 1, 100).await, "add unknown");
        assert!(matches!(e, ClusterError::Unknown(_)), "{e:?}");
    }
    assert_eq!(a.stock("nope", "gem").await.expect("stock"), (0, vec![]));

    // take_units_by sizes the take from the ledger it reads.
    let batch = |ledger: u64| if ledger >= 16 { 8 } else { 1 };
    assert_eq!(take_by(&a, p, epoch, &batch).await, (8, 11, 12));
    assert_eq!(take_by(&a, p, epoch, &batch).await, (1, 12, 11));
    assert_eq!(
        take_by(&a, p, epoch, &|l| l * 2).await,
        (11, 23, 0),
        "never more than the ledger"
    );
    assert_eq!(take_by(&a, p, epoch, &|_| 5).await, (0, 23, 0));
    let e = error(
        a.take_units_by(q, epoch, "h1", "gem", &batch).await,
        "take_by at another epoch",
    );
    assert!(matches!(e, ClusterError::StaleEpoch { partition: 5, .. }), "{e:?}");
    assert_eq!(a.stock("h1", "gem").await.expect("stock"), (0, vec![(p, 23), (q, 7)]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_refuses_a_stale_owners_moves() {
    let Some(etcd) = Etcd::start("stale-epoch").await else {
        return;
    };
    let prefix = "/t-stale";
    let mut a = etcd.join(prefix, "a").await;
    let b = etcd.join(prefix, "b").await;
    a.define_hunt("h", r#"{"id":"h"}"#, &stock_of(&[("gem", 50)]))
        .await
        .expect("define");
    let p = 1;
    let e1 = a.acquire(p).await.expect("acquire").expect("free");
    assert_eq!(
        moved(a.take_units(p, e1, "h", "gem", 8).await.expect("take")),
        (8, 8, 42)
    );

    // a's lease goes; for a moment nobody owns p: a's epoch is stale already.
    a.leave().await.expect("leave");
    let e = error(a.take_units(p, e1, "h", "gem", 1).await, "take without an owner");
    assert!(
        matches!(e, ClusterError::StaleEpoch { partition: 1, epoch } if epoch == e1),
        "{e:?}"
    );

    // b owns p now, at a new epoch.
    let e2 = b.acquire(p).await.expect("acquire").expect("free after a left");
    assert!(e2 > e1);
    let before = b.stock("h", "gem").await.expect("stock");
    assert_eq!(before, (42, vec![(p, 8)]));
    let e = error(a.take_units(p, e1, "h", "gem", 5).await, "stale take");
    assert!(
        matches!(e, ClusterError::StaleEpoch { partition: 1, epoch } if epoch == e1),
        "{e:?}"
    );
    let e = error(a.return_units(p, e1, "h", "gem", 5).await, "stale return");
    assert!(
        matches!(e, ClusterError::StaleEpoch { partition: 1, epoch } if epoch == e1),
        "{e:?}"
    );
    let e = error(a.take_units(p, e1, "h", "gem", 0).await, "stale take of nothing");
    assert!(matches!(e, ClusterError::StaleEpoch { .. }), "{e:?}");
    assert_eq!(
        b.stock("h", "gem").await.expect("stock"),
        before,
        "a stale owner moved stock"
    );
    assert_eq!(b.allotted("h", "gem", p).await.expect("allotted"), 8);

    // The new owner inherits the partition's allotment and moves it.
    assert_eq!(
        moved(b.return_units(p, e2, "h", "gem", 3).await.expect("return")),
        (3, 5, 45)
    );
    assert_eq!(
        moved(b.take_units(p, e2, "h", "gem", 1).await.expect("take")),
        (1, 6, 44)
    );
    assert_eq!(b.stock("h", "gem").await.expect("stock"), (44, vec![(p, 6)]));
}
