//! Wants: a partition waiting for units, kept under its node's lease.

use crate::etcd::Etcd;
use trove_cluster::Want;

fn want(hunt: &str, sku: &str, partition: u32) -> Want {
    Want {
        hunt: hunt.to_owned(),
        sku: sku.to_owned(),
        partition,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wants_round_trip_and_vanish_with_the_lease() {
    let Some(etcd) = Etcd::start("wants").await else { return };
    let prefix = "/t-wants";
    let a = etcd.join(prefix, "a").await;
    let mut b = etcd.join(prefix, "b").await;
    assert_eq!(a.wants().await.expect("wants"), vec![]);

    a.want("h", "gem", 3).await.expect("want");
    b.want("h", "gem", 5).await.expect("want");
    a.want("h2", "coin", 3).await.expect("want");
    a.want("h", "gem", 3).await.expect("wanting twice is one want");
    let all = vec![want("h", "gem", 3), want("h", "gem", 5), want("h2", "coin", 3)];
    assert_eq!(a.wants().await.expect("wants"), all);
    assert_eq!(b.wants().await.expect("wants"), all);

    // Each want lives under its asker's lease.
    let mut raw = etcd.client().await;
    for (key, lease) in [("h/gem/00003", a.lease_id()), ("h/gem/00005", b.lease_id())] {
        let r = raw.get(format!("{prefix}/want/{key}"), None).await.expect("get");
        assert_eq!(r.kvs().first().expect("want key").lease(), lease, "{key}");
    }

    a.unwant("h", "gem", 3).await.expect("unwant");
    a.unwant("h", "gem", 7)
        .await
        .expect("unwanting what nobody wants is fine");
    assert_eq!(
        a.wants().await.expect("wants"),
        vec![want("h", "gem", 5), want("h2", "coin", 3)]
    );

    // b's lease is revoked: its want goes with it, a's stays.
    b.leave().await.expect("leave");
    assert_eq!(a.wants().await.expect("wants"), vec![want("h2", "coin", 3)]);
    a.unwant("h2", "coin", 3).await.expect("unwant");
    assert_eq!(a.wants().await.expect("wants"), vec![]);
}
