//! Bad input never kills the server or the connection.

use crate::harness::*;
use futures_util::SinkExt;
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

async fn expect_error(ws: &mut Ws, id: Value, code: &str) -> Value {
    let r = ws
        .reply_to(id.clone(), Duration::from_secs(10))
        .await
        .expect("an error reply");
    assert_eq!(r["ok"], false, "{r}");
    assert_eq!(r["error"]["code"], code, "{r}");
    assert!(r["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    r
}

#[tokio::test]
async fn websocket_bad_input_gets_error_replies() {
    let (s, _dir) = Server::start().await;
    s.define_example_hunt("h", 10, 1).await;
    let mut ws = s.ws(GAME).await;

    ws.send_text("{not json".into()).await;
    expect_error(&mut ws, Value::Null, "invalid_json").await;
    ws.send_text("[1,2,3]".into()).await;
    expect_error(&mut ws, Value::Null, "invalid_request").await;
    ws.send_text(r#"{"op":"player","player":"p","hunt":"h"}"#.into()).await;
    expect_error(&mut ws, Value::Null, "invalid_request").await;
    ws.send_text(r#"{"id":"seven","op":"player"}"#.into()).await;
    expect_error(&mut ws, Value::Null, "invalid_request").await;
    ws.send_text(r#"{"id":1}"#.into()).await;
    expect_error(&mut ws, json!(1), "invalid_request").await;
    ws.send_text(r#"{"id":2,"op":"dance"}"#.into()).await;
    expect_error(&mut ws, json!(2), "unknown_op").await;
    ws.send_text(r#"{"id":3,"op":"player","hunt":"h"}"#.into()).await;
    expect_error(&mut ws, json!(3), "invalid_request").await;
    ws.send_text(r#"{"id":4,"op":"player","player":17,"hunt":"h"}"#.into())
        .await;
    expect_error(&mut ws, json!(4), "invalid_request").await;
    ws.send_text(r#"{"id":5,"op":"events","events":{}}"#.into()).await;
    expect_error(&mut ws, json!(5), "invalid_request").await;
    ws.send_text(
        r#"{"id":6,"op":"events","events":[{"player":"p","hunt":"h","type":"clue_found","clue":"c1"}, 12]}"#.into(),
    )
    .await;
    let r = expect_error(&mut ws, json!(6), "invalid_event").await;
    assert_eq!(r["error"]["index"], 1);
    ws.send_text(r#"{"id":7,"op":"claim","claim_id":"x","player":"p","hunt":"h","sku":"mug","customs":"text"}"#.into())
        .await;
    expect_error(&mut ws, json!(7), "invalid_request").await;
    ws.send_text(r#"{"id":8,"op":"leaderboard","hunt":"h","limit":-1}"#.into())
        .await;
    expect_error(&mut ws, json!(8), "invalid_request").await;
    ws.send_text(r#"{"id":9,"op":"subscribe","topic":"gossip"}"#.into())
        .await;
    expect_error(&mut ws, json!(9), "invalid_request").await;
    ws.send_text(format!(
        r#"{{"id":10,"op":"claim","claim_id":"{}","player":"p","hunt":"h","sku":"mug"}}"#,
        "x".repeat(200)
    ))
    .await;
    expect_error(&mut ws, json!(10), "invalid_request").await;

    // Too many events in one batch.
    let events: Vec<Value> = (0..10_001)
        .map(|i| json!({"player": format!("p{i}"), "hunt": "h", "type": "checkin", "location": "x"}))
        .collect();
    ws.send_text(json!({"id": 11, "op": "events", "events": events}).to_string())
        .await;
    expect_error(&mut ws, json!(11), "batch_too_large").await;

    // A binary frame.
    ws.stream.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    expect_error(&mut ws, Value::Null, "unsupported_frame").await;

    // Oversized message (over 1 MiB, under the hard frame limit): error, connection stays.
    let big = format!(
        r#"{{"id":12,"op":"player","player":"p","hunt":"h","pad":"{}"}}"#,
        "x".repeat(1_500_000)
    );
    ws.send_text(big).await;
    expect_error(&mut ws, Value::Null, "message_too_large").await;

    // Still alive and well.
    let r = ws.call(json!({"op": "events", "events": [clue("p", "h", "c1")]})).await;
    assert_eq!(r["ok"], true, "{r}");
    let r = ws.call(claim("ok-1", "p", "h", "mug")).await;
    assert_eq!(r["status"], "granted");

    // A frame over the hard limit is abuse: error reply, then close 1009.
    let huge = format!(r#"{{"id":13,"pad":"{}"}}"#, "x".repeat(5 << 20));
    let _ = ws.stream.send(Message::text(huge)).await;
    let mut close_code = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    use futures_util::StreamExt;
    while let Ok(Some(m)) = tokio::time::timeout_at(deadline, ws.stream.next()).await {
        match m {
            Ok(Message::Close(Some(f))) => {
                close_code = Some(u16::from(f.code));
                break;
            }
            Ok(_) => continue,
            Err(_) => break,
        }
    }
    assert_eq!(close_code, Some(1009));

    // The server is fine.
    let mut ws = s.ws(GAME).await;
    let r = ws.call(json!({"op": "player", "player": "p", "hunt": "h"})).await;
    assert_eq!(r["score"], 10);
    let (st, r) = s.http("GET", "/v1/admin/consistency", Some(ADMIN), None).await;
    assert_eq!((st, &r["ok"]), (200, &json!(true)), "{r}");
}

#[tokio::test]
async fn http_bad_input_gets_json_errors() {
    let (s, _dir) = Server::start().await;
    s.define_example_hunt("h", 10, 1).await;
    let (st, body) = s.http_raw("POST", "/v1/claims", Some(GAME), b"{oops").await;
    let r: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((st, r["error"]["code"].as_str()), (400, Some("invalid_json")));
    let (st, body) = s.http_raw("POST", "/v1/events", Some(GAME), b"").await;
    let r: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((st, r["error"]["code"].as_str()), (400, Some("invalid_json")));
    let (st, r) = s
        .http("POST", "/v1/claims", Some(GAME), Some(&json!({"claim_id": "c"})))
        .await;
    assert_eq!((st, r["error"]["code"].as_str()), (400, Some("invalid_request")));
    let (st, r) = s
        .http(
            "POST",
            "/v1/hunts",
            Some(DESIGNER),
            Some(&json!({"id": "x", "products": [{"sku": "a", "stock": -1}]})),
        )
        .await;
    assert_eq!((st, r["error"]["code"].as_str()), (400, Some("invalid_hunt")));
    let (st, r) = s
        .http(
            "POST",
            "/v1/hunts",
            Some(DESIGNER),
            Some(&json!({"id": "x", "clues": [{"id": "a"}, {"id": "a"}]})),
        )
        .await;
    assert_eq!((st, r["error"]["code"].as_str()), (400, Some("invalid_hunt")), "{r}");
    let big = format!(r#"{{"events":[],"pad":"{}"}}"#, "x".repeat(2 << 20));
    let (st, body) = s.http_raw("POST", "/v1/events", Some(GAME), big.as_bytes()).await;
    let r: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((st, r["error"]["code"].as_str()), (413, Some("message_too_large")));
    let events: Vec<Value> = (0..10_001)
        .map(|_| json!({"player": "p", "hunt": "h", "type": "checkin", "location": "x"}))
        .collect();
    let (st, r) = s
        .http("POST", "/v1/events", Some(GAME), Some(&json!({"events": events})))
        .await;
    assert_eq!((st, r["error"]["code"].as_str()), (413, Some("batch_too_large")));
    assert_eq!(s.http("GET", "/healthz", None, None).await.0, 200);
}

#[tokio::test]
async fn a_client_that_does_not_read_is_disconnected() {
    use futures_util::StreamExt;
    let (s, _dir) = Server::start().await;
    s.define_example_hunt("h", 10, 1).await;
    let events: Vec<Value> = (0..1000).map(|i| clue(&format!("player-{i:04}"), "h", "c1")).collect();
    let (st, _) = s
        .http("POST", "/v1/events", Some(GAME), Some(&json!({"events": events})))
        .await;
    assert_eq!(st, 200);
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Ask for big replies and never read them.
    let ws = s.ws(GAME).await;
    let (mut sink, stream) = ws.stream.split();
    let sender = tokio::spawn(async move {
        for i in 0..20_000 {
            let req = json!({"id": i, "op": "leaderboard", "hunt": "h", "limit": 1000});
            if tokio::time::timeout(Duration::from_secs(30), sink.send(Message::text(req.to_string())))
                .await
                .map_or(true, |r| r.is_err())
            {
                break;
            }
        }
    });
    let started = std::time::Instant::now();
    loop {
        let (_, body) = s.http_raw("GET", "/metrics", None, b"").await;
        let text = String::from_utf8_lossy(&body).to_string();
        if text
            .lines()
            .any(|l| l.starts_with("trove_ws_slow_disconnects_total") && !l.ends_with(" 0"))
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "slow client was not disconnected"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    sender.abort();
    drop(stream);
    // Everyone else is unaffected.
    let mut ws = s.ws(GAME).await;
    let r = ws
        .call(json!({"op": "player", "player": "player-0001", "hunt": "h"}))
        .await;
    assert_eq!(r["score"], 10);
}

/// Every route of the generated OpenAPI document is registered (no 404 or
/// 405 for a documented method); an undeclared method is 405
/// `method_not_allowed`; an empty time parameter is refused.
#[tokio::test]
async fn documented_routes_answer_and_other_methods_are_405() {
    let (s, _dir) = Server::start().await;
    s.define_example_hunt("h", 10, 1).await;
    for (path, methods) in trove_protocol::ROUTES {
        let concrete = path
            .replace("{hunt}", "h")
            .replace("{sku}", "mug")
            .replace("{player}", "p");
        for method in *methods {
            if *path == "/v1/ws" || *path == "/v1/audit/export" {
                continue; // an upgrade, and a stream: covered by their own tests
            }
            let (st, r) = s.http(method, &concrete, Some(ADMIN), Some(&json!({}))).await;
            if *path == "/v1/cluster" {
                // Registered; a single node answers that it is not a cluster.
                assert_eq!((st, r["error"]["code"].as_str()), (404, Some("not_found")), "{r}");
                assert!(r["error"]["message"].as_str().unwrap().contains("single node"), "{r}");
                continue;
            }
            assert!(
                st != 405 && r["error"]["code"] != "not_found",
                "{method} {concrete}: {st} {r}"
            );
        }
        let (st, r) = s.http("DELETE", &concrete, Some(ADMIN), None).await;
        assert_eq!(
            (st, r["error"]["code"].as_str()),
            (405, Some("method_not_allowed")),
            "{concrete}"
        );
    }
    let (st, r) = s.http("GET", "/v1/audit/report?from=", Some(ADMIN), None).await;
    assert_eq!((st, r["error"]["code"].as_str()), (400, Some("invalid_request")), "{r}");
}
