//! The WebSocket client's behaviour around lost connections and limits.

use crate::fake::{Conn, Fake};
use serde_json::json;
use std::time::Duration;
use trove_client::{Admission, Client, ClientError, Config};
use trove_protocol::{ClaimReply, ClaimRequest, ClaimStatus, Op, PlayerReply, PlayerRequest};

fn quick() -> Config {
    Config {
        backoff_base: Duration::from_millis(10),
        backoff_cap: Duration::from_millis(50),
        request_timeout: Duration::from_secs(10),
        ..Config::default()
    }
}

async fn connect(fake: &Fake, config: Config) -> (Client, Conn) {
    let url = fake.url();
    let (client, conn) = tokio::join!(Client::connect_with(&url, "good-key", config), fake.accept());
    (client.unwrap(), conn.unwrap())
}

fn claim() -> ClaimRequest<'static> {
    ClaimRequest {
        claim_id: "k1".into(),
        player: "p1".into(),
        hunt: "h".into(),
        sku: "mug".into(),
        customs: None,
    }
}

#[tokio::test]
async fn after_a_lost_connection_claims_are_resent_unchanged_and_other_requests_fail() {
    let fake = Fake::bind().await;
    let (client, mut first) = connect(&fake, quick()).await;
    let claim_reply = client.send_claim(&claim()).await.unwrap();
    let player = PlayerRequest {
        player: "p1".into(),
        hunt: "h".into(),
    };
    let player_reply = client.send::<PlayerReply<'static>>(&Op::Player(player)).await.unwrap();
    let sent_claim = first.recv().await;
    assert_eq!(
        (sent_claim["op"].as_str(), sent_claim["claim_id"].as_str()),
        (Some("claim"), Some("k1"))
    );
    assert_eq!(first.recv().await["op"], "player");
    drop(first);

    assert!(matches!(player_reply.await, Err(ClientError::Disconnected)));
    let mut second = fake.accept().await.unwrap();
    assert_eq!(second.recv().await, sent_claim, "the same frame, same claim_id");
    let id = sent_claim["id"].clone();
    second
        .send(json!({"id": id, "ok": true, "claim_id": "k1", "status": "granted", "duplicate": true, "seq": 7}))
        .await;
    let r: ClaimReply = claim_reply.await.unwrap();
    assert_eq!((r.status, r.duplicate, r.seq), (ClaimStatus::Granted, true, 7));

    // A server error reply is typed.
    let next = client.send_claim(&claim()).await.unwrap();
    let id = second.recv().await["id"].clone();
    second
        .send(json!({"id": id, "ok": false, "error": {"code": "claim_id_conflict", "message": "no"}}))
        .await;
    let e = next.await.unwrap_err();
    assert_eq!(e.code(), Some(trove_protocol::ErrorCode::ClaimIdConflict));
}

#[tokio::test]
async fn the_claims_feed_resubscribes_from_the_last_yielded_cursor_and_skips_repeats() {
    let fake = Fake::bind().await;
    let (client, mut first) = connect(&fake, quick()).await;
    let server = tokio::spawn(async move {
        let sub = first.recv().await;
        assert_eq!((sub["topic"].as_str(), sub["from"].as_u64()), (Some("claims"), Some(2)));
        first
            .send(json!({"id": sub["id"], "ok": true, "topic": "claims", "from": 2, "subscription": 1}))
            .await;
        for cursor in [3, 5] {
            first.send(push(1, cursor)).await;
        }
        first
    });
    let mut feed = client.subscribe_claims(2).await.unwrap();
    assert_eq!(feed.next().await.unwrap().unwrap().cursor, 3);
    assert_eq!(feed.next().await.unwrap().unwrap().cursor, 5);
    assert_eq!(feed.cursor(), 5);
    drop(server.await.unwrap());

    let mut second = fake.accept().await.unwrap();
    let sub = second.recv().await;
    assert_eq!(sub["from"], 5, "resumes after the last yielded cursor");
    second
        .send(json!({"id": sub["id"], "ok": true, "topic": "claims", "from": 5, "subscription": 4}))
        .await;
    second.send(push(4, 5)).await;
    second.send(push(4, 8)).await;
    assert_eq!(feed.next().await.unwrap().unwrap().cursor, 8, "5 is not yielded twice");
}

fn push(subscription: u64, cursor: u64) -> serde_json::Value {
    json!({"push": "claim", "subscription": subscription, "cursor": cursor, "claim_id": format!("c{cursor}"),
           "player": "p", "hunt": "h", "sku": "mug", "customs": {"a": 1}, "at": 1})
}

#[tokio::test]
async fn a_refused_key_is_unauthorized_at_once() {
    let fake = Fake::bind().await;
    let url = fake.url();
    let accepts = tokio::spawn(async move {
        assert!(fake.accept().await.is_none());
        tokio::time::timeout(Duration::from_millis(500), fake.accept())
            .await
            .is_err()
    });
    let e = Client::connect_with(&url, "bad-key", quick()).await.unwrap_err();
    assert!(matches!(e, ClientError::Unauthorized), "{e:?}");
    assert!(accepts.await.unwrap(), "no second attempt");
}

#[tokio::test]
async fn admission_fails_fast_and_requests_time_out() {
    let fake = Fake::bind().await;
    let config = Config {
        max_in_flight: 1,
        admission: Admission::FailFast,
        request_timeout: Duration::from_millis(300),
        ..quick()
    };
    let (client, _conn) = connect(&fake, config).await;
    let first = client.send_claim(&claim()).await.unwrap();
    let e = client.send_claim(&claim()).await.unwrap_err();
    assert!(matches!(e, ClientError::Overloaded(1)), "{e:?}");
    assert!(matches!(first.await, Err(ClientError::Timeout(_))));
    // The slot is free again.
    let again = client.send_claim(&claim()).await.unwrap();
    drop(again);
}
