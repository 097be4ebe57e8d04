//! `assign::plan` on a view read from etcd.

use crate::etcd::Etcd;
use trove_cluster::{assign, Cluster};

fn count(plan: &[Option<String>], node: &str) -> usize {
    plan.iter().filter(|o| o.as_deref() == Some(node)).count()
}

/// Every node takes the partitions planned for it (the control loop's
/// "take free partitions planned here").
async fn take_planned(nodes: &[&Cluster], plan: &[Option<String>]) {
    for (p, who) in plan.iter().enumerate() {
        let Some(who) = who else { continue };
        let node = nodes.iter().find(|n| n.node() == who).expect("a planned node is live");
        node.acquire(p as u32).await.expect("acquire");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_spreads_a_real_view_and_keeps_survivors_partitions() {
    let Some(etcd) = Etcd::start("assign").await else {
        return;
    };
    let prefix = "/t-assign";
    let mut config = etcd.config(prefix, "a");
    config.partitions = 64;
    let a = Cluster::join(&config).await.expect("join a");
    config.node = "b".into();
    let b = Cluster::join(&config).await.expect("join b");
    config.node = "c".into();
    let mut c = Cluster::join(&config).await.expect("join c");

    let view = a.view().await.expect("view");
    assert_eq!(view.node_ids(), ["a", "b", "c"]);
    assert_eq!(view.owners.len(), 64);
    let plan = assign::plan(64, &view.node_ids(), &view.owner_ids(), 4);
    assert_eq!((count(&plan, "a"), count(&plan, "b"), count(&plan, "c")), (22, 21, 21));

    take_planned(&[&a, &b, &c], &plan).await;
    let view = b.view().await.expect("view");
    assert_eq!(view.owner_ids(), plan, "every planned partition was taken");
    assert_eq!(
        assign::plan(64, &view.node_ids(), &view.owner_ids(), 4),
        plan,
        "a settled cluster plans no move"
    );

    // c leaves: its partitions are orphans and go to a and b; nothing else moves.
    c.leave().await.expect("leave");
    let view = a.view().await.expect("view");
    assert_eq!(view.node_ids(), ["a", "b"]);
    let next = assign::plan(64, &view.node_ids(), &view.owner_ids(), 4);
    for (before, after) in plan.iter().zip(&next) {
        if before.as_deref() != Some("c") {
            assert_eq!(before, after, "a survivor's partition moved");
        }
    }
    assert_eq!((count(&next, "a"), count(&next, "b")), (32, 32));
    take_planned(&[&a, &b], &next).await;
    assert_eq!(a.view().await.expect("view").owner_ids(), next);
}
