//! The dispatch feed: granted claims in journal order, resumable by cursor
//! across reconnects and server restarts.

use crate::harness::*;
use serde_json::{json, Value};
use std::time::Duration;

async fn grant(ws: &mut Ws, id: &str, player: &str) {
    let r = ws.call(claim(id, player, "f", "mug")).await;
    assert_eq!(r["status"], "granted", "{r}");
}

/// Collects `n` claim pushes, then checks nothing more arrives shortly.
async fn take_claims(ws: &mut Ws, n: usize) -> Vec<Value> {
    let mut out = Vec::new();
    while out.len() < n {
        let p = ws
            .next_push(Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("only {} of {n} pushes: {out:?}", out.len()));
        assert_eq!(p["push"], "claim", "{p}");
        out.push(p);
    }
    assert!(
        ws.next_push(Duration::from_millis(400)).await.is_none(),
        "no extra pushes"
    );
    out
}

fn ids(pushes: &[Value]) -> Vec<String> {
    pushes
        .iter()
        .map(|p| p["claim_id"].as_str().unwrap().to_owned())
        .collect()
}

async fn subscribe(s: &Server, from: u64) -> Ws {
    let mut ws = s.ws(GAME2).await;
    let r = ws
        .call(json!({"op": "subscribe", "topic": "claims", "from": from}))
        .await;
    assert_eq!(r["ok"], true, "{r}");
    ws
}

#[tokio::test]
async fn feed_resumes_by_cursor_across_reconnect_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_on(dir.path()).await;
    s.define_example_hunt("f", 100, 5).await;
    let mut game = s.ws(GAME).await;
    for i in 1..=5 {
        grant(&mut game, &format!("k{i}"), &format!("p{i}")).await;
    }
    let r = game.call(claim("r1", "p1", "f", "scarf")).await;
    assert_eq!(r["status"], "rejected");

    let mut consumer = subscribe(&s, 0).await;
    let first = take_claims(&mut consumer, 5).await;
    assert_eq!(ids(&first), ["k1", "k2", "k3", "k4", "k5"]);
    let p = &first[0];
    assert_eq!(
        (p["player"].as_str(), p["hunt"].as_str(), p["sku"].as_str()),
        (Some("p1"), Some("f"), Some("mug"))
    );
    assert_eq!(p["customs"]["country"], "NL", "customs come back as a JSON object: {p}");
    let cursors: Vec<u64> = first.iter().map(|p| p["cursor"].as_u64().unwrap()).collect();
    assert!(cursors.windows(2).all(|w| w[0] < w[1]), "journal order: {cursors:?}");

    // Live: a new grant arrives while subscribed.
    grant(&mut game, "k6", "p6").await;
    let live = take_claims(&mut consumer, 1).await;
    assert_eq!(ids(&live), ["k6"]);
    let cursor = live[0]["cursor"].as_u64().unwrap();
    consumer.close().await;

    // Missed while disconnected: resumed by cursor.
    grant(&mut game, "k7", "p7").await;
    grant(&mut game, "k8", "p8").await;
    let mut consumer = subscribe(&s, cursor).await;
    let resumed = take_claims(&mut consumer, 2).await;
    assert_eq!(ids(&resumed), ["k7", "k8"]);
    let cursor = resumed[1]["cursor"].as_u64().unwrap();
    consumer.close().await;

    // Across a graceful restart. An open connection is closed with 1001.
    assert!(s.terminate().success(), "SIGTERM exits 0");
    let mut close_code = None;
    use futures_util::StreamExt;
    while let Ok(Some(Ok(m))) = tokio::time::timeout(Duration::from_secs(5), game.stream.next()).await {
        if let tokio_tungstenite::tungstenite::Message::Close(Some(f)) = m {
            close_code = Some(u16::from(f.code));
            break;
        }
    }
    assert_eq!(close_code, Some(1001), "shutdown closes WebSockets with 1001");
    let s = Server::start_on(dir.path()).await;
    let mut game = s.ws(GAME).await;
    grant(&mut game, "k9", "p9").await;
    let r = game.call(claim("k1", "p1", "f", "mug")).await;
    assert_eq!((r["status"].as_str(), &r["duplicate"]), (Some("granted"), &json!(true)));
    let mut consumer = subscribe(&s, cursor).await;
    assert_eq!(ids(&take_claims(&mut consumer, 1).await), ["k9"]);

    // From the start: every grant exactly once.
    let mut all = subscribe(&s, 0).await;
    let every = take_claims(&mut all, 9).await;
    assert_eq!(ids(&every), ["k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9"]);
    let (st, r) = s.http("GET", "/v1/admin/consistency", Some(ADMIN), None).await;
    assert_eq!((st, &r["ok"]), (200, &json!(true)), "{r}");
}
