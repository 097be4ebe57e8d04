//! The cluster client against scripted nodes: a map server naming fake
//! WebSocket servers as partition owners, one of which answers `moved`.

use crate::fake::{serve_map, Fake};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use trove_client::{ClientError, ClusterClient, ClusterConfig, Config, VectorCursor};
use trove_protocol::{partition_of, ClaimRequest, ClaimStatus, ErrorCode, EventKind, EventsRequest, GameEvent};

fn quick() -> ClusterConfig {
    ClusterConfig {
        retry_deadline: Duration::from_secs(10),
        ..ClusterConfig::from(Config {
            backoff_base: Duration::from_millis(10),
            backoff_cap: Duration::from_millis(50),
            request_timeout: Duration::from_secs(10),
            ..Config::default()
        })
    }
}

/// A map (as of revision 10) where node n1 at `owner` owns every
/// partition. Its only live node is the map server itself (`seed`): the fake
/// owners speak only WebSocket.
fn map(partitions: u32, owner: &str) -> impl FnOnce(&str) -> Value {
    let owners: Vec<Value> = (0..partitions)
        .map(|p| json!({"partition": p, "node": "n1", "url": owner, "epoch": 5}))
        .collect();
    move |seed| {
        json!({"ok": true, "partitions": partitions, "node": "seed", "revision": 10,
               "nodes": [{"id": "seed", "url": seed}], "owners": owners})
    }
}

fn moved(id: &Value, to: &str) -> Value {
    json!({"id": id, "ok": false, "error": {"code": "moved", "message": "elsewhere",
           "partition": 0, "url": to, "epoch": 20}})
}

#[tokio::test]
async fn a_claim_follows_moved_to_the_new_owner_and_the_map_keeps_it() {
    let (n1, n2) = (Fake::bind().await, Fake::bind().await);
    let seed = serve_map(map(1, &n1.http_url())).await;
    let cluster = ClusterClient::connect(&[seed], "good-key", quick()).await.unwrap();
    assert_eq!(
        cluster.map().owner(0).unwrap().url.as_deref(),
        Some(n1.http_url().as_str())
    );

    let claim = ClaimRequest {
        claim_id: "k1".into(),
        player: "p1".into(),
        hunt: "h".into(),
        sku: "mug".into(),
        customs: None,
    };
    let c = cluster.clone();
    let reply = tokio::spawn(async move { c.claim(&claim).await });
    let mut first = n1.accept().await.unwrap();
    let sent = first.recv().await;
    assert_eq!(
        (sent["op"].as_str(), sent["claim_id"].as_str()),
        (Some("claim"), Some("k1"))
    );
    first.send(moved(&sent["id"], &n2.http_url())).await;

    let mut second = n2.accept().await.unwrap();
    let again = second.recv().await;
    assert_eq!(again["claim_id"], "k1", "the same claim at the new owner");
    second
        .send(
            json!({"id": again["id"], "ok": true, "claim_id": "k1", "status": "granted", "duplicate": false, "seq": 3}),
        )
        .await;
    let r = reply.await.unwrap().unwrap();
    assert_eq!((r.status, r.seq), (ClaimStatus::Granted, 3));
    // The map server still names n1 (revision 10), but the move (epoch 20) is newer.
    cluster.refresh().await.unwrap();
    assert_eq!(
        cluster.map().owner(0).unwrap().url.as_deref(),
        Some(n2.http_url().as_str())
    );
}

#[tokio::test]
async fn the_feed_resubscribes_a_moved_partition_at_its_new_owner_from_its_cursor() {
    let (n1, n2) = (Fake::bind().await, Fake::bind().await);
    let seed = serve_map(map(1, &n1.http_url())).await;
    let cluster = ClusterClient::connect(&[seed], "good-key", quick()).await.unwrap();
    let mut feed = cluster.subscribe_claims(VectorCursor(BTreeMap::from([(0, 2)])));

    let mut first = n1.accept().await.unwrap();
    let sub = first.recv().await;
    assert_eq!(
        (sub["topic"].as_str(), sub["partition"].as_u64(), sub["from"].as_u64()),
        (Some("claims"), Some(0), Some(2))
    );
    first
        .send(json!({"id": sub["id"], "ok": true, "topic": "claims", "from": 2, "subscription": 1, "partition": 0}))
        .await;
    first.send(push(1, 3)).await;
    first
        .send(json!({"push": "error", "topic": "claims", "subscription": 1,
                     "error": {"code": "moved", "message": "left", "partition": 0, "url": n2.http_url(), "epoch": 20}}))
        .await;
    let (p, c) = feed.next().await.unwrap().unwrap();
    assert_eq!((p, c.cursor), (0, 3));
    assert_eq!(feed.cursor().get(0), 3);

    let mut second = n2.accept().await.unwrap();
    let sub = second.recv().await;
    assert_eq!((sub["partition"].as_u64(), sub["from"].as_u64()), (Some(0), Some(3)));
    second
        .send(json!({"id": sub["id"], "ok": true, "topic": "claims", "from": 3, "subscription": 9, "partition": 0}))
        .await;
    second.send(push(9, 3)).await;
    second.send(push(9, 6)).await;
    let (p, c) = feed.next().await.unwrap().unwrap();
    assert_eq!((p, c.cursor), (0, 6), "3 is not yielded twice");
    assert_eq!(feed.cursor(), &VectorCursor(BTreeMap::from([(0, 6)])));
}

#[tokio::test]
async fn the_feed_resubscribes_a_partition_from_its_cursor_after_a_lost_connection() {
    let n1 = Fake::bind().await;
    let seed = serve_map(map(1, &n1.http_url())).await;
    let cluster = ClusterClient::connect(&[seed], "good-key", quick()).await.unwrap();
    let mut feed = cluster.subscribe_claims(VectorCursor::new());

    let mut first = n1.accept().await.unwrap();
    let sub = first.recv().await;
    assert_eq!((sub["partition"].as_u64(), sub["from"].as_u64()), (Some(0), Some(0)));
    first
        .send(json!({"id": sub["id"], "ok": true, "topic": "claims", "from": 0, "subscription": 1, "partition": 0}))
        .await;
    first.send(push(1, 4)).await;
    assert_eq!(feed.next().await.unwrap().unwrap().1.cursor, 4);
    drop(first);

    let mut second = n1.accept().await.unwrap();
    let sub = second.recv().await;
    assert_eq!((sub["partition"].as_u64(), sub["from"].as_u64()), (Some(0), Some(4)));
    second
        .send(json!({"id": sub["id"], "ok": true, "topic": "claims", "from": 4, "subscription": 1, "partition": 0}))
        .await;
    second.send(push(1, 7)).await;
    assert_eq!(feed.next().await.unwrap().unwrap().1.cursor, 7);
    assert_eq!(feed.cursor().get(0), 7);
}

fn push(subscription: u64, cursor: u64) -> Value {
    json!({"push": "claim", "subscription": subscription, "cursor": cursor, "partition": 0,
           "claim_id": format!("c{cursor}"), "player": "p", "hunt": "h", "sku": "mug", "customs": {}, "at": 1})
}

#[tokio::test]
async fn an_events_batch_splits_by_partition_and_names_a_failed_sub_batch_by_original_positions() {
    let n1 = Fake::bind().await;
    let seed = serve_map(map(2, &n1.http_url())).await;
    let cluster = ClusterClient::connect(&[seed], "good-key", quick()).await.unwrap();
    // Players of both partitions, interleaved.
    let (mut zero, mut one) = (Vec::new(), Vec::new());
    for i in 0.. {
        let player = format!("player-{i}");
        match partition_of(&player, 2) {
            0 if zero.len() < 2 => zero.push(player),
            1 if one.len() < 2 => one.push(player),
            _ if zero.len() == 2 && one.len() == 2 => break,
            _ => {}
        }
    }
    let players = [&zero[0], &one[0], &zero[1], &one[1]];
    let batch = EventsRequest {
        events: players
            .iter()
            .map(|p| GameEvent {
                player: p.to_string().into(),
                hunt: "h".into(),
                kind: EventKind::ClueFound { clue: "c".into() },
            })
            .collect(),
    };
    let c = cluster.clone();
    let reply = tokio::spawn(async move { c.events(&batch).await });
    let mut conn = n1.accept().await.unwrap();
    for _ in 0..2 {
        let op = conn.recv().await;
        let first_player = op["events"][0]["player"].as_str().unwrap().to_owned();
        assert_eq!(op["events"].as_array().unwrap().len(), 2);
        if first_player == zero[0] {
            assert_eq!(op["events"][1]["player"], zero[1].as_str());
            conn.send(json!({"id": op["id"], "ok": true, "accepted": 2, "seq": 40}))
                .await;
        } else {
            conn.send(json!({"id": op["id"], "ok": false,
                             "error": {"code": "invalid_event", "message": "bad", "index": 1}}))
                .await;
        }
    }
    match reply.await.unwrap() {
        Err(ClientError::Events { applied, failed }) => {
            assert_eq!((applied.accepted, applied.seqs.get(&0)), (2, Some(&40)));
            assert_eq!(failed.len(), 1);
            assert_eq!((failed[0].partition, failed[0].indexes.as_slice()), (1, &[1, 3][..]));
            assert!(
                matches!(
                    failed[0].error,
                    ClientError::Server {
                        code: ErrorCode::InvalidEvent,
                        index: Some(3),
                        ..
                    }
                ),
                "{:?}",
                failed[0].error
            );
        }
        other => panic!("{other:?}"),
    }
}
