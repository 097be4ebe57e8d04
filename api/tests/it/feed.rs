//! The dispatch feed: granted claims in journal order, resumable by cursor
//! across reconnects and server restarts.

use crate::harness::*;
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

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

/// Grants one unit each to players `slow-0..n`, with a customs document of
/// about `customs_bytes`, pipelined (many claims in flight at once).
async fn grant_many(s: &Server, n: usize, customs_bytes: usize) {
    let hunt = json!({"id": "big", "products": [{"sku": "mug", "stock": n, "per_player_limit": 1}]});
    let (st, r) = s.http("POST", "/v1/hunts", Some(DESIGNER), Some(&hunt)).await;
    assert_eq!(st, 201, "{r}");
    let mut ws = s.ws(GAME).await;
    let note = "x".repeat(customs_bytes);
    for window in (0..n).collect::<Vec<_>>().chunks(50) {
        for &i in window {
            let req = json!({"id": i, "op": "claim", "claim_id": "k", "player": format!("slow-{i}"),
                             "hunt": "big", "sku": "mug", "customs": {"note": note}});
            ws.send_text(req.to_string()).await;
        }
        for &i in window {
            let r = ws
                .reply_to(json!(i), Duration::from_secs(60))
                .await
                .expect("claim answered");
            assert_eq!(r["status"], "granted", "{r}");
        }
    }
    ws.close().await;
}

/// A TCP connection with a tiny receive buffer that the test never reads
/// from once `request` is sent: the server's writes back up at once.
async fn stalled_socket(addr: &str) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(addr.parse().unwrap()).await.unwrap()
}

/// `value` of an unlabelled metric in the Prometheus text.
async fn metric(s: &Server, name: &str) -> Option<f64> {
    let (_, body) = s.http_raw("GET", "/metrics", None, b"").await;
    String::from_utf8_lossy(&body)
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Waits (generously: this is liveness, not timing) until `what` holds.
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let started = std::time::Instant::now();
    while !check().await {
        assert!(started.elapsed() < Duration::from_secs(90), "never: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_subscriber_that_never_reads_is_dropped_and_pins_nothing() {
    let (s, _dir) = Server::start().await;
    grant_many(&s, 1500, 14_000).await;

    let stream = stalled_socket(&s.addr).await;
    let mut req = format!("ws://{}/v1/ws", s.addr).into_client_request().unwrap();
    req.headers_mut()
        .insert("Authorization", format!("Bearer {GAME2}").parse().unwrap());
    let (mut slow, _) = tokio_tungstenite::client_async(req, stream).await.expect("handshake");
    use futures_util::SinkExt;
    slow.send(tokio_tungstenite::tungstenite::Message::text(
        json!({"id": 1, "op": "subscribe", "topic": "claims", "from": 0}).to_string(),
    ))
    .await
    .unwrap();
    // `slow` is never read again.

    eventually("the feed is subscribed", async || {
        metric(&s, "trove_feed_subscribers").await == Some(1.0)
    })
    .await;
    // Everything else goes on while the subscriber stalls.
    let mut other = s.ws(GAME).await;
    for i in 0..20 {
        let r = other
            .call(json!({"op": "player", "player": "slow-1", "hunt": "big"}))
            .await;
        assert_eq!(r["ok"], true, "{r}");
        let r = other.call(claim(&format!("after-{i}"), "p-other", "big", "mug")).await;
        assert_eq!(r["ok"], true, "{r}");
        let (st, _) = s.http("GET", "/v1/hunts/big", Some(GAME), None).await;
        assert_eq!(st, 200);
    }
    eventually("the slow subscriber is disconnected", async || {
        metric(&s, "trove_feed_subscribers").await == Some(0.0)
    })
    .await;
    assert!(
        s.log_text().contains("client does not read its frames; disconnecting"),
        "{}",
        s.log_text()
    );
    let r = other
        .call(json!({"op": "player", "player": "slow-1", "hunt": "big"}))
        .await;
    assert_eq!(r["ok"], true, "{r}");
    drop(slow);
}

#[tokio::test]
async fn an_export_reader_that_never_reads_is_dropped() {
    let (s, _dir) = Server::start().await;
    grant_many(&s, 700, 14_000).await;

    let mut stream = stalled_socket(&s.addr).await;
    use tokio::io::AsyncWriteExt;
    let head = format!(
        "GET /v1/audit/export HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {AUDITOR}\r\n\r\n",
        s.addr
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // `stream` is never read.

    let mut other = s.ws(GAME).await;
    let r = other
        .call(json!({"op": "player", "player": "slow-1", "hunt": "big"}))
        .await;
    assert_eq!(r["ok"], true, "{r}");
    let (st, _) = s.http("GET", "/v1/audit/report", Some(AUDITOR), None).await;
    assert_eq!(st, 200);
    eventually("the stalled export is given up", async || {
        s.log_text()
            .contains("audit export: the client does not read; export dropped")
    })
    .await;
    // A reader that reads gets the whole export.
    let (st, body) = s.http_raw("GET", "/v1/audit/export", Some(AUDITOR), b"").await;
    assert_eq!(st, 200);
    let text = String::from_utf8_lossy(&body);
    assert!(
        text.lines().last().unwrap_or("").contains("\"footer\""),
        "complete export"
    );
    drop(stream);
}

#[tokio::test]
async fn unsubscribe_and_close_release_subscription_slots() {
    let (s, _dir) = Server::start().await;
    s.define_example_hunt("f", 100, 5).await;
    let mut ws = s.ws(GAME).await;
    let mut ids = Vec::new();
    for i in 0..16 {
        let req = if i % 2 == 0 {
            json!({"op": "subscribe", "topic": "claims", "from": 0})
        } else {
            json!({"op": "subscribe", "topic": "leaderboard", "hunt": "f"})
        };
        let r = ws.call(req).await;
        assert_eq!(r["ok"], true, "{r}");
        ids.push(r["subscription"].as_u64().expect("a subscription id"));
    }
    let r = ws.call(json!({"op": "subscribe", "topic": "claims"})).await;
    assert_eq!(r["error"]["code"], "too_many_subscriptions", "{r}");

    // Unsubscribing frees the slot at once, and that feed stops.
    let gone = ids[0];
    let r = ws.call(json!({"op": "unsubscribe", "subscription": gone})).await;
    assert_eq!(
        (r["ok"].as_bool(), r["subscription"].as_u64()),
        (Some(true), Some(gone)),
        "{r}"
    );
    let r = ws.call(json!({"op": "unsubscribe", "subscription": gone})).await;
    assert_eq!(r["error"]["code"], "unknown_subscription", "{r}");
    let r = ws.call(json!({"op": "subscribe", "topic": "claims", "from": 0})).await;
    assert_eq!(r["ok"], true, "a released slot is reusable: {r}");
    let fresh = r["subscription"].as_u64().unwrap();
    let r = ws.call(claim("k1", "p1", "f", "mug")).await;
    assert_eq!(r["status"], "granted");
    let mut claim_subs = Vec::new();
    while let Some(p) = ws.next_push(Duration::from_secs(2)).await {
        if p["push"] == "claim" {
            claim_subs.push(p["subscription"].as_u64().unwrap());
        }
    }
    claim_subs.sort();
    let mut expected: Vec<u64> = ids.iter().step_by(2).skip(1).copied().chain([fresh]).collect();
    expected.sort();
    assert_eq!(
        claim_subs, expected,
        "one push per live claims subscription, none for {gone}"
    );

    // Closing the connection releases everything.
    assert_eq!(metric(&s, "trove_feed_subscribers").await, Some(8.0));
    ws.close().await;
    eventually("the feeds of a closed connection end", async || {
        metric(&s, "trove_feed_subscribers").await == Some(0.0)
    })
    .await;
    let mut ws = s.ws(GAME).await;
    let r = ws.call(json!({"op": "unsubscribe", "subscription": fresh})).await;
    assert_eq!(r["error"]["code"], "unknown_subscription", "per connection: {r}");
}
