//! The fence and lease expiry: without keep-alives the node's own clock
//! fences it before etcd expires its keys; with [`lease::keep_alive`] both
//! stay.

use crate::etcd::{eventually, Etcd};
use std::time::{Duration, Instant};
use trove_cluster::{lease, Cluster, ClusterError};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_keep_alives_the_fence_closes_before_etcd_expires_the_keys() {
    let Some(etcd) = Etcd::start("fence-expiry").await else {
        return;
    };
    let prefix = "/t-fence-expiry";
    let ttl = Duration::from_secs(2);
    let mut config = etcd.config(prefix, "a");
    config.lease_ttl = ttl;
    config.margin = Duration::from_millis(500);
    let observer = etcd.config(prefix, "observer");

    let mut a = Cluster::join(&config).await.expect("join");
    let joined = Instant::now();
    assert!(a.fence().is_open(), "the fence is open right after join");
    assert!(a.fence().remaining() <= ttl - config.margin);
    let epoch = a.acquire(0).await.expect("acquire").expect("partition 0 is free");

    // Nobody keeps the lease alive. Whenever the owner key is seen gone, the
    // fence must already be closed (etcd expires the lease no earlier than
    // TTL after the grant was sent; the fence closes a margin before that).
    let deadline = joined + ttl + Duration::from_secs(3);
    let mut gone = false;
    while Instant::now() < deadline {
        let (_, view) = Cluster::observe(&observer).await.expect("observe");
        if view.owners[0].is_none() {
            assert!(
                !a.fence().is_open(),
                "etcd expired the owner key while the node's fence was still open"
            );
            assert!(view.nodes.is_empty(), "the node key expires with the lease: {view:?}");
            gone = true;
            break;
        }
        assert_eq!(view.owners[0].as_ref().map(|o| o.epoch), Some(epoch));
        if joined.elapsed() >= ttl {
            assert!(
                !a.fence().is_open(),
                "the fence is still open a whole TTL after the join"
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "etcd did not expire the owner key within TTL + 3 s");
    assert!(!a.fence().is_open());
    assert_eq!(a.fence().remaining(), Duration::ZERO);
    let e = match a.acquire(1).await {
        Ok(r) => panic!("acquired with a closed fence: {r:?}"),
        Err(e) => e,
    };
    assert!(matches!(e, ClusterError::LeaseLost), "{e:?}");

    // The keep-alive of an expired lease reports it lost at once.
    let lost = tokio::time::timeout(
        Duration::from_secs(10),
        lease::keep_alive(a.client(), a.lease_id(), ttl, a.fence().clone()),
    )
    .await
    .expect("keep_alive of an expired lease returns");
    assert!(matches!(lost, ClusterError::LeaseLost), "{lost:?}");

    // The node rejoins under a new lease and takes its partition again,
    // at a new epoch.
    let old_lease = a.lease_id();
    a.grant_lease(ttl).await.expect("rejoin under a new lease");
    assert_ne!(a.lease_id(), old_lease);
    assert!(a.fence().is_open());
    let again = a.acquire(0).await.expect("acquire").expect("partition 0 is free");
    assert!(again > epoch);
    let (_, view) = Cluster::observe(&observer).await.expect("observe");
    assert_eq!(view.node_ids(), ["a"]);
    assert_eq!(view.owners[0].as_ref().map(|o| o.epoch), Some(again));
    a.leave().await.expect("leave");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_holds_the_fence_and_the_keys_open() {
    let Some(etcd) = Etcd::start("fence-keep-alive").await else {
        return;
    };
    let prefix = "/t-fence-keep";
    let ttl = Duration::from_secs(3);
    let mut config = etcd.config(prefix, "a");
    config.lease_ttl = ttl;
    config.margin = Duration::from_millis(750);

    let mut a = Cluster::join(&config).await.expect("join");
    let keeper = tokio::spawn(lease::keep_alive(a.client(), a.lease_id(), ttl, a.fence().clone()));
    let epoch = a.acquire(0).await.expect("acquire").expect("partition 0 is free");

    let start = Instant::now();
    let mut checks = 0;
    while start.elapsed() < ttl * 3 {
        assert!(
            a.fence().is_open(),
            "the fence closed {:?} into keep-alives",
            start.elapsed()
        );
        if checks % 5 == 0 {
            assert!(
                a.still_owner(0, epoch).await.expect("read"),
                "the owner key went {:?} into keep-alives",
                start.elapsed()
            );
        }
        checks += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(!keeper.is_finished(), "keep_alive ended while the lease is live");
    let view = a.view().await.expect("view");
    assert_eq!(view.node_ids(), ["a"]);
    assert_eq!(view.owners[0].as_ref().map(|o| o.epoch), Some(epoch));

    // Revoking the lease ends the keep-alive with LeaseLost, fence closed.
    a.leave().await.expect("leave");
    let lost = tokio::time::timeout(ttl * 3, keeper)
        .await
        .expect("keep_alive notices the revoked lease")
        .expect("keep_alive task");
    assert!(matches!(lost, ClusterError::LeaseLost), "{lost:?}");
    assert!(!a.fence().is_open());
    assert!(a.view().await.expect("view").owners[0].is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_lease_expired_cannot_rejoin_until_it_is_gone() {
    // A second process with the same id is refused while the first lease
    // is live, and welcome once it expired (no leave, no keep-alive).
    let Some(etcd) = Etcd::start("fence-same-id").await else {
        return;
    };
    let ttl = Duration::from_secs(2);
    let mut config = etcd.config("/t-fence-same-id", "a");
    config.lease_ttl = ttl;
    config.margin = Duration::from_millis(500);
    let _first = Cluster::join(&config).await.expect("join");
    match Cluster::join(&config).await {
        Err(ClusterError::Config(_)) => {}
        Err(e) => panic!("unexpected error: {e:?}"),
        Ok(_) => panic!("a second node a joined while the first is live"),
    }
    let joined = eventually(ttl + Duration::from_secs(5), || async {
        Cluster::join(&config).await.is_ok()
    })
    .await;
    assert!(
        joined,
        "node a could not join again within TTL + 5 s of its lease's expiry"
    );
}
