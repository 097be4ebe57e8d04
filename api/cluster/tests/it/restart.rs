//! etcd restarted under a live node: what was stored stays, and a lease
//! kept alive survives a short outage.

use crate::etcd::{eventually, Etcd};
use std::time::Duration;
use trove_cluster::{lease, Cluster};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_etcd_restart_loses_nothing() {
    let Some(mut etcd) = Etcd::start("restart").await else {
        return;
    };
    let prefix = "/t-restart";
    let ttl = Duration::from_secs(5);
    let mut config = etcd.config(prefix, "a");
    config.lease_ttl = ttl;
    config.margin = Duration::from_secs(1);
    let a = Cluster::join(&config).await.expect("join");
    let keeper = tokio::spawn(lease::keep_alive(a.client(), a.lease_id(), ttl, a.fence().clone()));
    a.define_hunt("h", r#"{"id":"h"}"#, &[("gem".to_owned(), 20)])
        .await
        .expect("define");
    let epoch = a.acquire(0).await.expect("acquire").expect("free");
    a.take_units(0, epoch, "h", "gem", 5).await.expect("take");

    etcd.restart().await;

    // The same client reconnects; the lease, the owner key, the catalog and
    // the ledger are all there.
    let back = eventually(Duration::from_secs(20), || async {
        a.still_owner(0, epoch).await.unwrap_or(false)
    })
    .await;
    assert!(
        back,
        "the owner key is gone after an etcd restart (or the client never reconnected)"
    );
    let open = eventually(Duration::from_secs(20), || async { a.fence().is_open() }).await;
    assert!(open, "keep-alives did not resume after the restart");
    assert!(!keeper.is_finished(), "keep_alive ended: the lease was lost");
    let (partitions, view) = Cluster::observe(&etcd.config(prefix, "x")).await.expect("observe");
    assert_eq!(partitions, 8);
    assert_eq!(view.node_ids(), ["a"]);
    assert_eq!(view.owners[0].as_ref().map(|o| o.epoch), Some(epoch));
    assert_eq!(a.hunts().await.expect("hunts").len(), 1);
    assert_eq!(a.stock("h", "gem").await.expect("stock"), (15, vec![(0, 5)]));

    // The epoch still guards the ledger.
    let r = a.take_units(0, epoch, "h", "gem", 2).await.expect("take after restart");
    assert_eq!((r.moved, r.allotted, r.ledger), (2, 7, 13));
    keeper.abort();
}
