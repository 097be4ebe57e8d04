//! Joining: the cluster's partition count is fixed at creation, a node id
//! is live once, and bad settings are refused before etcd is asked.

use crate::etcd::{config, error, url, Etcd};
use std::time::Duration;
use trove_cluster::{Cluster, ClusterConfig, ClusterError};

fn refused(c: &ClusterConfig, what: &str) {
    match c.validate() {
        Err(ClusterError::Config(_)) => {}
        other => panic!("{what}: expected a Config error, got {other:?}"),
    }
}

fn accepted(c: &ClusterConfig, what: &str) {
    if let Err(e) = c.validate() {
        panic!("{what}: refused: {e}");
    }
}

#[test]
fn validate_refuses_bad_settings() {
    let good = config("http://127.0.0.1:2379", "/trove", "n1");
    accepted(&good, "the base configuration");
    let with = |f: &dyn Fn(&mut ClusterConfig)| {
        let mut c = good.clone();
        f(&mut c);
        c
    };

    for bad in ["", "a b", "a/b", "n\u{e9}", "a:b", "a*", &"n".repeat(65)] {
        refused(&with(&|c| c.node = bad.to_owned()), &format!("node id {bad:?}"));
    }
    for ok in ["a", "Node_1.eu-west-2", &"n".repeat(64)] {
        accepted(&with(&|c| c.node = ok.to_owned()), &format!("node id {ok:?}"));
    }

    refused(&with(&|c| c.endpoints.clear()), "no etcd endpoint");

    for bad in ["", "localhost:7070", "ftp://n1:7070", "//n1:7070"] {
        refused(&with(&|c| c.advertise = bad.to_owned()), &format!("advertise {bad:?}"));
    }
    accepted(&with(&|c| c.advertise = "https://n1.example".into()), "https advertise");

    refused(&with(&|c| c.partitions = 0), "0 partitions");
    refused(&with(&|c| c.partitions = 4097), "4097 partitions");
    accepted(&with(&|c| c.partitions = 1), "1 partition");
    accepted(&with(&|c| c.partitions = 4096), "4096 partitions");

    let ttl_margin = |ttl: Duration, margin: Duration| {
        with(&|c| {
            c.lease_ttl = ttl;
            c.margin = margin;
        })
    };
    let (ms, s) = (Duration::from_millis, Duration::from_secs);
    refused(&ttl_margin(s(1), ms(100)), "a 1 s TTL");
    refused(&ttl_margin(s(0), s(0)), "a 0 s TTL");
    refused(&ttl_margin(ms(1500), ms(100)), "a 1.5 s TTL");
    refused(&ttl_margin(ms(2500), ms(100)), "a TTL of 2.5 s (not whole seconds)");
    refused(&ttl_margin(s(2), s(1)), "a margin of half the TTL");
    refused(&ttl_margin(s(2), ms(1500)), "a margin over half the TTL");
    refused(&ttl_margin(s(10), s(10)), "a margin of the whole TTL");
    accepted(&ttl_margin(s(2), ms(999)), "a 2 s TTL with a 999 ms margin");
    accepted(&ttl_margin(s(2), s(0)), "no margin");
    accepted(&ttl_margin(s(10), ms(4999)), "a 10 s TTL with a 4.999 s margin");

    for bad in ["", "trove", "/trove/", "/", "trove/"] {
        refused(&with(&|c| c.prefix = bad.to_owned()), &format!("prefix {bad:?}"));
    }
    for ok in ["/t", "/a/b", "/trove-2"] {
        accepted(&with(&|c| c.prefix = ok.to_owned()), &format!("prefix {ok:?}"));
    }
}

#[tokio::test]
async fn a_bad_setting_is_refused_before_etcd_is_asked() {
    // Nothing listens on port 1: a refusal here came from the check alone.
    let mut c = config("http://127.0.0.1:1", "/trove", "bad id");
    let e = error(Cluster::join(&c).await, "join with a bad node id");
    assert!(matches!(e, ClusterError::Config(_)), "{e:?}");
    c.node = "n1".into();
    c.prefix = "/trove/".into();
    let e = error(Cluster::join(&c).await, "join with a bad prefix");
    assert!(matches!(e, ClusterError::Config(_)), "{e:?}");
}

async fn lease_count(etcd: &Etcd) -> usize {
    etcd.client().await.leases().await.expect("list leases").leases().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_partition_count_is_fixed_and_a_node_id_is_live_once() {
    let Some(etcd) = Etcd::start("join").await else { return };
    let prefix = "/t-join";

    // The first join creates the cluster with its partition count and secret.
    let mut a = etcd.join(prefix, "a").await;
    assert_eq!(a.partitions(), 8);
    assert_eq!(a.node(), "a");
    assert_eq!(a.advertise(), url("a"));
    assert_eq!(a.secret(), "secret-of-a");
    assert!(a.fence().is_open(), "the fence opens at join");
    let meta = etcd.dump(&format!("{prefix}/meta")).await;
    assert_eq!(meta.len(), 1, "{meta:?}");
    let meta: serde_json::Value = serde_json::from_str(&meta[0].1).expect("meta is JSON");
    assert_eq!(meta["partitions"], 8, "{meta}");
    let (partitions, view) = Cluster::observe(&etcd.config(prefix, "observer"))
        .await
        .expect("observe");
    assert_eq!(partitions, 8);
    assert_eq!(view.nodes, vec![("a".to_owned(), url("a"))]);
    assert_eq!(view.owners, vec![None; 8]);
    assert_eq!(lease_count(&etcd).await, 1);

    // Another partition count is refused, and registers nothing.
    let mut other = etcd.config(prefix, "b");
    other.partitions = 16;
    let e = error(Cluster::join(&other).await, "join with --partitions 16");
    assert!(
        matches!(e, ClusterError::PartitionCount { existing: 8, asked: 16 }),
        "{e:?}"
    );
    let view = a.view().await.expect("view");
    assert_eq!(view.node_ids(), ["a"]);
    assert_eq!(lease_count(&etcd).await, 1, "a refused join leaves no lease");

    // The same node id while the first is live: refused, the first stays.
    let mut twin = etcd.config(prefix, "a");
    twin.advertise = "http://impostor:7070".into();
    let e = error(Cluster::join(&twin).await, "a second node a");
    assert!(matches!(e, ClusterError::Config(_)), "{e:?}");
    let view = a.view().await.expect("view");
    assert_eq!(view.nodes, vec![("a".to_owned(), url("a"))]);
    assert_eq!(lease_count(&etcd).await, 1, "the refused twin's lease is revoked");
    assert!(a.fence().is_open());

    // A joiner with the same count joins; the cluster keeps its first secret.
    let b = etcd.join(prefix, "b").await;
    assert_eq!(b.partitions(), 8);
    assert_eq!(b.secret(), "secret-of-a", "an existing cluster keeps its secret");
    assert_eq!(a.view().await.expect("view").node_ids(), ["a", "b"]);
    assert_eq!(lease_count(&etcd).await, 2);

    // Once a has left, its id is free again.
    a.leave().await.expect("a leaves");
    assert_eq!(b.view().await.expect("view").node_ids(), ["b"]);
    let a2 = Cluster::join(&twin).await.expect("node a joins again after leaving");
    assert_ne!(a2.lease_id(), a.lease_id());
    assert_eq!(
        b.view().await.expect("view").nodes,
        vec![
            ("a".to_owned(), "http://impostor:7070".to_owned()),
            ("b".to_owned(), url("b"))
        ]
    );

    // Another prefix is another cluster: its own count, the same node ids.
    let mut elsewhere = etcd.config("/t-join-2", "a");
    elsewhere.partitions = 16;
    let a3 = Cluster::join(&elsewhere).await.expect("join another cluster");
    assert_eq!(a3.partitions(), 16);
    assert_eq!(a3.view().await.expect("view").node_ids(), ["a"]);
    assert_eq!(a3.view().await.expect("view").owners.len(), 16);
    assert_eq!(b.view().await.expect("view").node_ids(), ["a", "b"]);

    // Observing a prefix with no cluster says so.
    let e = error(
        Cluster::observe(&etcd.config("/t-nothing", "x")).await,
        "observe an empty prefix",
    );
    assert!(matches!(e, ClusterError::Config(_)), "{e:?}");
}
