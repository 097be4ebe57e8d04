//! Every op over WebSocket and HTTP, against the real binary.

use crate::harness::*;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
#[allow(
    clippy::too_many_lines,
    reason = "one scenario with its assertions in order; splitting it would hide which step each check belongs to"
)]
async fn hunt_lifecycle_events_claims_reads() {
    let (s, _dir) = Server::start().await;

    // Health and readiness need no key.
    assert_eq!(s.http("GET", "/healthz", None, None).await.0, 200);
    let (st, ready) = s.http("GET", "/readyz", None, None).await;
    assert_eq!((st, &ready["ready"]), (200, &json!(true)));

    // Define, idempotent re-post, conflicting re-post.
    let def = hunt_def("h1", 3, 1);
    let (st, r) = s.http("POST", "/v1/hunts", Some(DESIGNER), Some(&def)).await;
    assert_eq!(st, 201, "{r}");
    assert_eq!(r["created"], true);
    let (st, r) = s.http("POST", "/v1/hunts", Some(ADMIN), Some(&def)).await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["created"], false);
    let mut other = def.clone();
    other["name"] = json!("something else");
    let (st, r) = s.http("POST", "/v1/hunts", Some(DESIGNER), Some(&other)).await;
    assert_eq!((st, r["error"]["code"].as_str()), (409, Some("hunt_conflict")));

    // A closed hunt (RFC 3339 times) and an invalid one.
    let closed = json!({"id": "old", "name": "Old", "opens_at": "2001-01-01T00:00:00Z", "closes_at": "2001-01-02T00:00:00+00:00",
                        "clues": [{"id": "c1", "points": 5}], "products": [{"sku": "pin", "stock": 5, "per_player_limit": 1, "min_score": 0}]});
    assert_eq!(s.http("POST", "/v1/hunts", Some(DESIGNER), Some(&closed)).await.0, 201);
    let bad = json!({"id": "bad", "opens_at": "yesterday"});
    let (st, r) = s.http("POST", "/v1/hunts", Some(DESIGNER), Some(&bad)).await;
    assert_eq!((st, r["error"]["code"].as_str()), (400, Some("invalid_hunt")));

    // GET the hunt: definition with remaining stock; times in unix ms.
    let (st, h) = s.http("GET", "/v1/hunts/h1", Some(AUDITOR), None).await;
    assert_eq!(st, 200);
    assert_eq!(h["opens_at"], json!(1_577_836_800_000u64));
    assert_eq!(h["products"][0]["sku"], "mug");
    assert_eq!(h["products"][0]["remaining"], 3);
    let (st, r) = s.http("GET", "/v1/hunts/nope", Some(GAME), None).await;
    assert_eq!((st, r["error"]["code"].as_str()), (404, Some("unknown_hunt")));

    // Events over WebSocket.
    let mut ws = s.ws(GAME).await;
    let r = ws
        .call(json!({"op": "events", "events": [
            clue("p1", "h1", "c1"),
            clue("p1", "h1", "c2"),
            clue("p1", "h1", "c2"),
            {"player": "p2", "hunt": "h1", "type": "checkin", "location": "fountain"},
            {"player": "p2", "hunt": "h1", "type": "interaction", "kind": "selfie"},
            clue("p3", "h1", "c3"),
        ]}))
        .await;
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(r["accepted"], 6);
    assert!(r["seq"].as_u64().unwrap() > 0);

    // An invalid event rejects the whole batch, with its index.
    let r = ws
        .call(json!({"op": "events", "events": [clue("p4", "h1", "c1"), clue("p4", "h1", "nope")]}))
        .await;
    assert_eq!(r["ok"], false);
    assert_eq!(r["error"]["code"], "invalid_event");
    assert_eq!(r["error"]["index"], 1);
    let r = ws
        .call(json!({"op": "events", "events": [clue("p4", "h1", "c1"), {"player": "p4", "hunt": "h1", "type": "clue_found"}]}))
        .await;
    assert_eq!(
        (r["error"]["code"].as_str(), &r["error"]["index"]),
        (Some("invalid_event"), &json!(1))
    );
    let r = ws.call(json!({"op": "player", "player": "p4", "hunt": "h1"})).await;
    assert_eq!(r["score"], 0, "nothing of a rejected batch applies: {r}");
    // Clue finds in a closed hunt are invalid.
    let r = ws
        .call(json!({"op": "events", "events": [clue("p1", "old", "c1")]}))
        .await;
    assert_eq!(r["error"]["code"], "invalid_event");

    // Player state.
    let r = ws.call(json!({"op": "player", "player": "p1", "hunt": "h1"})).await;
    assert_eq!(r["ok"], true);
    assert_eq!(r["score"], 30);
    assert_eq!(r["clues"], json!(["c1", "c2"]));
    assert_eq!(r["claims"], json!([]));

    // Claims: granted, duplicate, conflict, every reject reason.
    let r = ws.call(claim("k1", "p1", "h1", "mug")).await;
    assert_eq!(
        (r["ok"].clone(), r["status"].clone(), r["duplicate"].clone()),
        (json!(true), json!("granted"), json!(false)),
        "{r}"
    );
    assert_eq!(r["claim_id"], "k1");
    assert!(r.get("reason").is_none());
    let seq = r["seq"].clone();
    let r = ws.call(claim("k1", "p1", "h1", "mug")).await;
    assert_eq!(
        (r["status"].as_str(), &r["duplicate"], &r["seq"]),
        (Some("granted"), &json!(true), &seq)
    );
    let r = ws.call(claim("k1", "p1", "h1", "hoodie")).await;
    assert_eq!(
        (r["ok"].clone(), r["error"]["code"].clone()),
        (json!(false), json!("claim_id_conflict"))
    );
    let r = ws.call(claim("k2", "p1", "h1", "mug")).await;
    assert_eq!(
        (r["status"].as_str(), r["reason"].as_str()),
        (Some("rejected"), Some("limit_reached"))
    );
    let r = ws.call(claim("k3", "p2", "h1", "hoodie")).await;
    assert_eq!(r["reason"], "not_eligible");
    let r = ws.call(claim("k4", "p3", "h1", "hoodie")).await;
    assert_eq!(r["status"], "granted");
    let r = ws.call(claim("k5", "p1", "h1", "hoodie")).await;
    assert_eq!(r["reason"], "out_of_stock");
    let r = ws.call(claim("k6", "p1", "h1", "scarf")).await;
    assert_eq!(r["reason"], "unknown_product");
    let r = ws.call(claim("k7", "p1", "nowhere", "mug")).await;
    assert_eq!(r["reason"], "unknown_hunt");
    let r = ws.call(claim("k8", "p1", "old", "pin")).await;
    assert_eq!(r["reason"], "hunt_closed");
    let r = ws.call(claim("k9", "p2", "h1", "mug")).await;
    assert_eq!(r["status"], "granted");

    let r = ws.call(json!({"op": "player", "player": "p1", "hunt": "h1"})).await;
    let claims = r["claims"].as_array().unwrap();
    assert_eq!(claims.len(), 4, "{r}");
    assert_eq!(claims[0]["claim_id"], "k1");
    assert_eq!(claims[0]["status"], "granted");
    assert_eq!(claims[1]["reason"], "limit_reached");
    // Every claim here was acknowledged, so durable: none is pending.
    assert!(claims.iter().all(|c| c["pending"] == false && c["seq"].is_u64()), "{r}");

    // HTTP versions of the same ops.
    let (st, r) = s
        .http(
            "POST",
            "/v1/events",
            Some(GAME),
            Some(&json!({"events": [clue("p5", "h1", "c3"), clue("p5", "h1", "c1")]})),
        )
        .await;
    assert_eq!((st, &r["ok"], &r["accepted"]), (200, &json!(true), &json!(2)), "{r}");
    let (st, r) = s
        .http("POST", "/v1/claims", Some(GAME), Some(&claim("k10", "p5", "h1", "mug")))
        .await;
    assert_eq!((st, r["status"].as_str()), (200, Some("granted")), "{r}");
    let (st, r) = s
        .http("POST", "/v1/claims", Some(GAME), Some(&claim("k11", "p6", "h1", "mug")))
        .await;
    assert_eq!((st, r["reason"].as_str()), (200, Some("out_of_stock")), "{r}");
    let (st, r) = s
        .http(
            "POST",
            "/v1/claims",
            Some(GAME),
            Some(&claim("k10", "p5", "h1", "hoodie")),
        )
        .await;
    assert_eq!((st, r["error"]["code"].as_str()), (409, Some("claim_id_conflict")));
    let (st, r) = s
        .http(
            "POST",
            "/v1/events",
            Some(GAME),
            Some(&json!({"events": [clue("p5", "h1", "zzz")]})),
        )
        .await;
    assert_eq!(
        (st, r["error"]["code"].as_str(), &r["error"]["index"]),
        (400, Some("invalid_event"), &json!(0))
    );
    let (st, r) = s.http("GET", "/v1/hunts/h1/players/p5", Some(DESIGNER), None).await;
    assert_eq!((st, &r["score"]), (200, &json!(60)), "{r}");
    let (st, r) = s.http("GET", "/v1/hunts/nope/players/p5", Some(DESIGNER), None).await;
    assert_eq!((st, r["error"]["code"].as_str()), (404, Some("unknown_hunt")));

    // Stock: add, then the claim that was out of stock is a new claim id away.
    let (st, r) = s
        .http(
            "POST",
            "/v1/hunts/h1/products/mug/stock",
            Some(DESIGNER),
            Some(&json!({"add": 2})),
        )
        .await;
    assert_eq!((st, &r["remaining"]), (200, &json!(2)), "{r}");
    let (st, r) = s
        .http(
            "POST",
            "/v1/hunts/h1/products/nope/stock",
            Some(ADMIN),
            Some(&json!({"add": 2})),
        )
        .await;
    assert_eq!((st, r["error"]["code"].as_str()), (404, Some("unknown_product")));
    let (st, r) = s
        .http(
            "POST",
            "/v1/hunts/h1/products/mug/stock",
            Some(ADMIN),
            Some(&json!({"add": "two"})),
        )
        .await;
    assert_eq!((st, r["error"]["code"].as_str()), (400, Some("invalid_request")));
    let (_, h) = s.http("GET", "/v1/hunts/h1", Some(GAME), None).await;
    assert_eq!(h["products"][0]["remaining"], 2);
    assert_eq!(h["products"][0]["granted"], 3);

    // Leaderboard (projection, <= 500 ms behind): p5 60, p3 50, p1 30, then 0s.
    // Poll briefly: the projection refreshes every 200 ms (slower on a loaded CI machine).
    let started = std::time::Instant::now();
    let r = loop {
        let r = ws.call(json!({"op": "leaderboard", "hunt": "h1", "limit": 3})).await;
        if r["entries"][0]["player"] == "p5" || started.elapsed() > Duration::from_secs(5) {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(r["ok"], true, "{r}");
    let entries: Vec<(u64, String, u64)> = r["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["rank"].as_u64().unwrap(),
                e["player"].as_str().unwrap().to_owned(),
                e["score"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        entries,
        vec![(1, "p5".into(), 60), (2, "p3".into(), 50), (3, "p1".into(), 30)]
    );
    assert!(r["as_of_seq"].as_u64().unwrap() > 0);
    let r = ws
        .call(json!({"op": "leaderboard", "hunt": "h1", "limit": 1, "around": "p3"}))
        .await;
    assert_eq!(r["entries"], json!([{"rank": 2, "player": "p3", "score": 50}]));
    let (st, r) = s
        .http("GET", "/v1/hunts/h1/leaderboard?limit=2&around=p1", Some(AUDITOR), None)
        .await;
    assert_eq!(st, 200);
    let players: Vec<&str> = r["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["player"].as_str().unwrap())
        .collect();
    assert_eq!(players, vec!["p3", "p1"]);
    let (st, r) = s.http("GET", "/v1/hunts/nope/leaderboard", Some(AUDITOR), None).await;
    assert_eq!((st, r["error"]["code"].as_str()), (404, Some("unknown_hunt")));
    let (st, _) = s
        .http("GET", "/v1/hunts/h1/leaderboard?limit=0", Some(AUDITOR), None)
        .await;
    assert_eq!(st, 400);

    // Audit export holds every decided claim with its customs object.
    let (st, r) = s
        .http("GET", "/v1/audit/claims?after=0&limit=100", Some(AUDITOR), None)
        .await;
    assert_eq!(st, 200, "{r}");
    let claims = r["claims"].as_array().unwrap();
    assert_eq!(claims.len(), 11, "{r}");
    assert_eq!(claims[0]["customs"]["country"], "NL");

    // Consistency: live state, projection and journal agree.
    let (st, r) = s.http("GET", "/v1/admin/consistency", Some(ADMIN), None).await;
    assert_eq!(st, 200);
    assert_eq!(r["ok"], true, "{r:#}");
    assert!(r["journal_seq"].as_u64().unwrap() > 0);
    let names: Vec<&str> = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    for n in [
        "engine_invariants",
        "players",
        "claims_per_product",
        "stock",
        "leaderboard_scores",
        "journal_replay",
    ] {
        assert!(names.contains(&n), "missing check {n} in {names:?}");
    }

    // Metrics: Prometheus text without a key.
    let (st, body) = s.http_raw("GET", "/metrics", None, b"").await;
    assert_eq!(st, 200);
    let text = String::from_utf8(body).unwrap();
    for m in [
        "trove_claims_total",
        "trove_events_total",
        "trove_api_ack_seconds_bucket",
        "trove_journal_flush_seconds",
        "trove_journal_batch_records",
        "trove_ws_connections",
    ] {
        assert!(text.contains(m), "metric {m} missing:\n{text}");
    }
    assert!(!text.contains("p1"), "metrics must not reveal players");

    // OpenAPI document.
    let (st, doc) = s.http("GET", "/v1/openapi.json", None, None).await;
    assert_eq!(st, 200);
    assert!(doc["paths"]["/v1/claims"].is_object());

    // Admin snapshot.
    let (st, r) = s.http("POST", "/v1/admin/snapshot", Some(ADMIN), None).await;
    assert_eq!((st, &r["ok"]), (200, &json!(true)), "{r}");

    // Keys never show up in the log.
    ws.close().await;
    let log_path = s.log.clone();
    let status = s.terminate();
    assert!(status.success());
    let log = std::fs::read_to_string(log_path).unwrap();
    assert!(log.contains("snapshot written"), "{log}");
    for k in [ADMIN, GAME, DESIGNER, AUDITOR] {
        assert!(!log.contains(k), "key in log");
    }
}

#[tokio::test]
async fn leaderboard_subscription_pushes_changes() {
    let (s, _dir) = Server::start().await;
    s.define_example_hunt("lb", 10, 1).await;
    let mut ws = s.ws(GAME).await;
    let r = ws
        .call(json!({"op": "subscribe", "topic": "leaderboard", "hunt": "lb", "limit": 2}))
        .await;
    assert_eq!(r["ok"], true, "{r}");
    let first = ws.next_push(Duration::from_secs(5)).await.expect("initial push");
    assert_eq!(first["push"], "leaderboard");
    assert_eq!(first["entries"], json!([]));
    let mut feeder = s.ws(GAME2).await;
    feeder
        .call(json!({"op": "events", "events": [clue("a", "lb", "c1"), clue("b", "lb", "c3")]}))
        .await;
    let started = std::time::Instant::now();
    let push = loop {
        let p = ws.next_push(Duration::from_secs(5)).await.expect("update push");
        if p["entries"].as_array().is_some_and(|e| e.len() == 2) {
            break p;
        }
    };
    assert!(started.elapsed() < Duration::from_secs(3), "leaderboard pushes lag");
    assert_eq!(
        push["entries"],
        json!([{"rank": 1, "player": "b", "score": 50}, {"rank": 2, "player": "a", "score": 10}])
    );
    // Unknown hunt.
    let r = ws
        .call(json!({"op": "subscribe", "topic": "leaderboard", "hunt": "nope"}))
        .await;
    assert_eq!(r["error"]["code"], "unknown_hunt");
    // Out-of-order replies still carry their ids.
    let mut a = json!({"op": "player", "player": "a", "hunt": "lb"});
    let mut b = json!({"op": "leaderboard", "hunt": "lb"});
    a["id"] = json!(1001);
    b["id"] = json!(1002);
    ws.send_text(a.to_string()).await;
    ws.send_text(b.to_string()).await;
    let rb = ws.reply_to(json!(1002), Duration::from_secs(5)).await.unwrap();
    let ra = ws.reply_to(json!(1001), Duration::from_secs(5)).await.unwrap();
    assert_eq!(ra["score"], 10);
    assert_eq!(rb["ok"], true);
}

/// `customs` is kept as sent (only the whitespace between tokens goes), on
/// both transports, and given back so by the audit trail, the export and the
/// dispatch feed. A retry under the same `claim_id` with other customs is the
/// original decision, and the first customs stay the recorded ones.
#[tokio::test]
async fn customs_are_kept_as_sent_and_a_retry_keeps_the_first() {
    let (s, _dir) = Server::start().await;
    s.define_example_hunt("c", 10, 1).await;
    let sent = "{\"b\" : 1.50,\n \"a\":\"\\u00e9\", \"n\": [1e3, 12345678901234567890123]}";
    let kept = r#"{"b":1.50,"a":"\u00e9","n":[1e3,12345678901234567890123]}"#;
    let mut ws = s.ws(GAME).await;
    ws.send_text(format!(
        r#"{{"id": 1, "op": "claim", "claim_id": "k1", "player": "p1", "hunt": "c", "sku": "mug", "customs": {sent}}}"#
    ))
    .await;
    let first = ws.reply_to(json!(1), Duration::from_secs(30)).await.unwrap();
    assert_eq!(first["status"], "granted", "{first}");
    let body = format!(r#"{{"claim_id": "k2", "player": "p2", "hunt": "c", "sku": "mug", "customs": {sent}}}"#);
    let (st, r) = s.http_raw("POST", "/v1/claims", Some(GAME), body.as_bytes()).await;
    assert_eq!(st, 200, "{}", String::from_utf8_lossy(&r));

    // The retry: same claim id, other customs.
    let r = ws
        .call(
            json!({"op": "claim", "claim_id": "k1", "player": "p1", "hunt": "c", "sku": "mug",
                     "customs": {"a": "someone else"}}),
        )
        .await;
    assert_eq!(
        (&r["duplicate"], &r["seq"], &r["status"]),
        (&json!(true), &first["seq"], &first["status"]),
        "{r}"
    );
    // Ambiguous documents are refused.
    for customs in [r#"{"a":1,"a":2}"#, r#"{"x":{"a":1,"a":1}}"#] {
        ws.send_text(format!(
            r#"{{"id": 9, "op": "claim", "claim_id": "k9", "player": "p9", "hunt": "c", "sku": "mug", "customs": {customs}}}"#
        ))
        .await;
        let r = ws.reply_to(json!(9), Duration::from_secs(30)).await.unwrap();
        assert_eq!(r["error"]["code"], "invalid_request", "{customs}: {r}");
    }

    let want = format!("\"customs\":{kept}");
    let (st, audit) = s.http_raw("GET", "/v1/audit/claims?after=0", Some(AUDITOR), b"").await;
    let audit = String::from_utf8_lossy(&audit).into_owned();
    assert_eq!(st, 200, "{audit}");
    assert_eq!(audit.matches(&want).count(), 2, "both claims, as sent: {audit}");
    assert!(
        !audit.contains("someone else"),
        "the retry's customs are not recorded: {audit}"
    );
    let (st, export) = s
        .http_raw("GET", "/v1/audit/export?type=claims", Some(AUDITOR), b"")
        .await;
    assert_eq!(st, 200);
    assert_eq!(String::from_utf8_lossy(&export).matches(&want).count(), 2);

    let mut feed = s.ws(GAME2).await;
    feed.send_text(json!({"id": 1, "op": "subscribe", "topic": "claims"}).to_string())
        .await;
    use futures_util::StreamExt;
    let mut pushes = Vec::new();
    while pushes.len() < 2 {
        let m = tokio::time::timeout(Duration::from_secs(10), feed.stream.next())
            .await
            .expect("the feed pushes")
            .expect("open")
            .unwrap();
        if let tokio_tungstenite::tungstenite::Message::Text(t) = m {
            if t.contains("\"push\":\"claim\"") {
                pushes.push(t.to_string());
            }
        }
    }
    assert!(pushes.iter().all(|p| p.contains(&want)), "{pushes:?}");
}
