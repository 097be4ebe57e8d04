//! Partition ownership: one owner at a time, epochs from etcd revisions,
//! releases compared on the epoch, and a node's partitions freed with its
//! lease.

use crate::etcd::{error, url, Etcd};
use trove_cluster::{ClusterError, Owner};

fn owner(node: &str, epoch: i64) -> Option<Owner> {
    Some(Owner {
        node: node.to_owned(),
        url: url(node),
        epoch,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_owner_per_partition_with_epochs() {
    let Some(etcd) = Etcd::start("ownership").await else {
        return;
    };
    let prefix = "/t-own";
    let mut a = etcd.join(prefix, "a").await;
    let b = etcd.join(prefix, "b").await;

    // a takes partition 3; b cannot.
    let e1 = a.acquire(3).await.expect("acquire").expect("partition 3 is free");
    assert!(e1 > 0);
    assert_eq!(b.acquire(3).await.expect("acquire"), None, "partition 3 is a's");
    let view = b.view().await.expect("view");
    assert!(view.revision >= e1, "the view is read at or after the acquire");
    assert_eq!(view.nodes, vec![("a".into(), url("a")), ("b".into(), url("b"))]);
    assert_eq!(view.owners[3], owner("a", e1));
    assert_eq!(
        view.owners.iter().filter(|o| o.is_some()).count(),
        1,
        "{:?}",
        view.owners
    );
    assert!(a.still_owner(3, e1).await.expect("read"));
    assert!(!a.still_owner(3, e1 + 1).await.expect("read"));
    assert!(!a.still_owner(2, e1).await.expect("read"));

    // Epochs are revisions: a later acquire has a larger one.
    let eb = b.acquire(4).await.expect("acquire").expect("partition 4 is free");
    assert!(eb > e1);

    // A release with a stale epoch deletes nothing.
    for stale in [e1 - 1, e1 + 1, eb] {
        let e = error(a.release(3, stale).await, "release at a wrong epoch");
        assert!(
            matches!(e, ClusterError::StaleEpoch { partition: 3, epoch } if epoch == stale),
            "{e:?}"
        );
    }
    let e = error(b.release(4, e1).await, "release another partition's epoch");
    assert!(matches!(e, ClusterError::StaleEpoch { partition: 4, .. }), "{e:?}");
    let view = b.view().await.expect("view");
    assert_eq!(view.owners[3], owner("a", e1));
    assert_eq!(view.owners[4], owner("b", eb));

    // The right epoch frees it; a second release is stale.
    a.release(3, e1).await.expect("release at the epoch");
    assert_eq!(b.view().await.expect("view").owners[3], None);
    let e = error(a.release(3, e1).await, "release twice");
    assert!(matches!(e, ClusterError::StaleEpoch { .. }), "{e:?}");

    // Taking it again is a new ownership: a new epoch.
    let e1b = a.acquire(3).await.expect("acquire").expect("partition 3 is free again");
    assert!(e1b > eb);
    let e5 = a.acquire(5).await.expect("acquire").expect("partition 5 is free");

    // The folder-created marker is written once.
    assert!(!a.was_created(3).await.expect("read"));
    a.mark_created(3, e1b).await.expect("mark");
    b.mark_created(3, eb).await.expect("a second mark is a no-op");
    assert!(b.was_created(3).await.expect("read"));
    assert!(!b.was_created(5).await.expect("read"));
    assert_eq!(
        etcd.dump(&format!("{prefix}/created/")).await,
        vec![(format!("{prefix}/created/00003"), e1b.to_string())]
    );

    // Owner keys live under the owner's lease.
    let mut raw = etcd.client().await;
    let kv = raw.get(format!("{prefix}/owners/00005"), None).await.expect("get");
    let kv = kv.kvs().first().expect("owner key of partition 5");
    assert_eq!(kv.lease(), a.lease_id());
    assert_eq!(kv.create_revision(), e5);

    // a leaves: its lease is revoked, its node and owner keys vanish at once.
    a.leave().await.expect("leave");
    assert!(!a.fence().is_open(), "leave closes the fence");
    let view = b.view().await.expect("view");
    assert_eq!(view.node_ids(), ["b"]);
    assert_eq!(view.owners[3], None);
    assert_eq!(view.owners[5], None);
    assert_eq!(view.owners[4], owner("b", eb), "b's partition stays");
    assert!(etcd.dump(&format!("{prefix}/nodes/a")).await.is_empty());
    assert!(!a.still_owner(3, e1b).await.expect("read"));
    let e = error(a.acquire(6).await, "acquire after leaving");
    assert!(matches!(e, ClusterError::LeaseLost), "{e:?}");

    // b takes a's partition with a new, larger epoch.
    let e2 = b.acquire(3).await.expect("acquire").expect("a's partition is free");
    assert!(e2 > e1b, "{e2} > {e1b}");
    assert_eq!(b.view().await.expect("view").owners[3], owner("b", e2));
    let e = error(a.release(3, e1b).await, "the old owner releases");
    assert!(matches!(e, ClusterError::StaleEpoch { .. }), "{e:?}");
    assert_eq!(b.view().await.expect("view").owners[3], owner("b", e2));
}
