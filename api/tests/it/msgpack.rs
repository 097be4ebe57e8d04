//! The MessagePack subprotocol (`trove.v1.msgpack`) against the real server:
//! negotiation, every op (replies and pushes equal to JSON's), and bad input
//! answered with the same codes as on a JSON connection.

use crate::harness::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::{self, Message};
use trove_protocol::Codec;

const MSGPACK: &str = "trove.v1.msgpack";

async fn msgpack(s: &Server, key: &str) -> Ws {
    let ws = Ws::connect_codec(&s.addr, key, MSGPACK).await.expect("connects");
    assert_eq!((ws.codec, ws.protocol.as_deref()), (Codec::MessagePack, Some(MSGPACK)));
    ws
}

/// A reply without its `id` (to compare answers to different requests).
fn body(mut v: Value) -> Value {
    v.as_object_mut().unwrap().remove("id");
    v
}

#[tokio::test]
async fn the_subprotocol_is_negotiated_and_echoed() {
    let (s, _dir) = Server::start().await;
    s.define_example_hunt("h", 10, 1).await;
    for (offer, chosen) in [
        (MSGPACK, MSGPACK),
        ("trove.v1.json", "trove.v1.json"),
        ("chat, trove.v1.msgpack, trove.v1.json", MSGPACK),
        ("trove.v1.json,trove.v1.msgpack", "trove.v1.json"),
    ] {
        let mut ws = Ws::connect_codec(&s.addr, GAME, offer).await.expect("connects");
        assert_eq!(ws.protocol.as_deref(), Some(chosen), "offered {offer}");
        // The harness fails on a frame of the wrong kind.
        let r = ws.call(json!({"op": "player", "player": "p", "hunt": "h"})).await;
        assert_eq!(r["ok"], true, "{r}");
    }
    // Nothing offered: JSON, and no protocol in the answer.
    let ws = s.ws(GAME).await;
    assert_eq!((ws.codec, ws.protocol), (Codec::Json, None));
    // Only unknown protocols: refused before the upgrade.
    match Ws::connect_codec(&s.addr, GAME, "trove.v2.msgpack, mqtt").await {
        Err(tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status(), 400);
            let body: Value = serde_json::from_slice(resp.body().as_deref().unwrap_or_default()).unwrap();
            assert_eq!(body["error"]["code"], "invalid_request", "{body}");
        }
        other => panic!("expected a 400, got {:?}", other.map(|_| ())),
    }
    // A bad key is still 401, whatever the protocol.
    match Ws::connect_codec(&s.addr, "not-a-key-123", MSGPACK).await {
        Err(tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 401),
        other => panic!("expected a 401, got {:?}", other.map(|_| ())),
    }
}

#[tokio::test]
async fn every_op_round_trips_in_msgpack_with_the_same_answers_as_json() {
    let (s, _dir) = Server::start().await;
    s.define_example_hunt("h", 10, 1).await;
    let mut mp = msgpack(&s, GAME).await;
    let mut js = s.ws(GAME).await;

    let r = mp
        .call(json!({"op": "events", "events": [
            clue("p1", "h", "c1"), clue("p1", "h", "c3"),
            {"player": "p1", "hunt": "h", "type": "checkin", "location": "harbour-gate"},
            {"player": "p2", "hunt": "h", "type": "interaction", "kind": "photo"}]}))
        .await;
    assert_eq!((&r["ok"], &r["accepted"]), (&json!(true), &json!(4)), "{r}");
    assert!(r["seq"].as_u64().unwrap() > 0);
    let r = mp.call(json!({"op": "events", "events": []})).await;
    assert_eq!(r["accepted"], 0, "{r}");

    // A claim with customs as a MessagePack map, then its duplicate (on both codecs).
    let customs = json!({"name": "Pat Doe", "country": "NL", "declared_value_eur": 12.5,
                         "lines": [{"sku": "mug", "qty": 1}], "gift": false, "note": null});
    let claim = json!({"op": "claim", "claim_id": "m1", "player": "p1", "hunt": "h", "sku": "mug", "customs": customs});
    let first = mp.call(claim.clone()).await;
    assert_eq!(
        (&first["status"], &first["duplicate"], &first["claim_id"]),
        (&json!("granted"), &json!(false), &json!("m1")),
        "{first}"
    );
    let again = mp.call(claim.clone()).await;
    assert_eq!(
        (&again["duplicate"], &again["seq"]),
        (&json!(true), &first["seq"]),
        "{again}"
    );
    assert_eq!(
        body(js.call(claim.clone()).await),
        body(again),
        "a duplicate answers the same in JSON"
    );
    let conflict = mp
        .call(json!({"op": "claim", "claim_id": "m1", "player": "p1", "hunt": "h", "sku": "hoodie"}))
        .await;
    assert_eq!(conflict["error"]["code"], "claim_id_conflict", "{conflict}");
    let rejected = mp
        .call(json!({"op": "claim", "claim_id": "m2", "player": "p2", "hunt": "h", "sku": "hoodie"}))
        .await;
    assert_eq!(
        (&rejected["status"], &rejected["reason"]),
        (&json!("rejected"), &json!("not_eligible"))
    );

    // Reads answer exactly as in JSON.
    let player = json!({"op": "player", "player": "p1", "hunt": "h"});
    let p = mp.call(player.clone()).await;
    assert_eq!((&p["score"], &p["events"]), (&json!(60), &json!(3)), "{p}");
    assert_eq!(p["claims"][0]["claim_id"], "m1");
    assert_eq!(body(p), body(js.call(player).await));
    let board = json!({"op": "leaderboard", "hunt": "h", "limit": 5});
    let mut b = mp.call(board.clone()).await;
    for _ in 0..50 {
        if b["entries"].as_array().is_some_and(|e| e.len() == 2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        b = mp.call(board.clone()).await;
    }
    assert_eq!(b["entries"][0], json!({"rank": 1, "player": "p1", "score": 60}), "{b}");
    assert_eq!(body(b), body(js.call(board).await));

    // The dispatch feed: the push carries customs as the map that was sent.
    let sub = mp.call(json!({"op": "subscribe", "topic": "claims", "from": 0})).await;
    assert_eq!((&sub["ok"], &sub["topic"]), (&json!(true), &json!("claims")), "{sub}");
    let push = mp.next_push(Duration::from_secs(10)).await.expect("a claim push");
    assert_eq!(
        (&push["push"], &push["claim_id"], &push["subscription"]),
        (&json!("claim"), &json!("m1"), &sub["subscription"]),
        "{push}"
    );
    assert_eq!(push["customs"], customs);
    js.call(json!({"op": "subscribe", "topic": "claims", "from": 0})).await;
    let json_push = js.next_push(Duration::from_secs(10)).await.expect("a JSON claim push");
    assert_eq!(body(push.clone()), body(json_push), "the same push in both codecs");
    // The audit trail has the customs as JSON text of the same document.
    let (st, trail) = s.http("GET", "/v1/audit/claims", Some(AUDITOR), None).await;
    assert_eq!(st, 200);
    assert_eq!(trail["claims"][0]["customs"], customs);

    let lb = mp
        .call(json!({"op": "subscribe", "topic": "leaderboard", "hunt": "h", "limit": 3}))
        .await;
    assert_eq!((&lb["topic"], &lb["limit"]), (&json!("leaderboard"), &json!(3)), "{lb}");
    let push = mp.next_push(Duration::from_secs(10)).await.expect("a leaderboard push");
    assert_eq!(
        (&push["push"], &push["hunt"]),
        (&json!("leaderboard"), &json!("h")),
        "{push}"
    );
    let un = mp
        .call(json!({"op": "unsubscribe", "subscription": lb["subscription"]}))
        .await;
    assert_eq!(un["ok"], true, "{un}");
    let un = mp
        .call(json!({"op": "unsubscribe", "subscription": lb["subscription"]}))
        .await;
    assert_eq!(un["error"]["code"], "unknown_subscription", "{un}");
}

/// A request that must be refused, and where: the reply's id, code and index.
struct Bad {
    frame: Value,
    id: Value,
    code: &'static str,
    index: Option<u64>,
}

/// `frame` refused with `code`; the reply's id is the frame's, when it is an integer.
fn bad(frame: Value, code: &'static str) -> Bad {
    let id = Some(&frame["id"]).filter(|id| id.is_i64() || id.is_u64()).cloned();
    Bad {
        id: id.unwrap_or(Value::Null),
        frame,
        code,
        index: None,
    }
}

/// An events `frame` refused for its event at `index`.
fn bad_event(frame: Value, index: u64) -> Bad {
    Bad {
        index: Some(index),
        ..bad(frame, "invalid_event")
    }
}

async fn expect_error(ws: &mut Ws, id: &Value, code: &str, index: Option<u64>) {
    let r = ws
        .reply_to(id.clone(), Duration::from_secs(10))
        .await
        .unwrap_or_else(|| panic!("an error reply to {id}"));
    assert_eq!(
        (&r["ok"], r["error"]["code"].as_str(), r["error"]["index"].as_u64()),
        (&json!(false), Some(code), index),
        "{:?}: {r}",
        ws.codec
    );
}

/// Requests both codecs refuse, with the reply's id, code and index.
fn refused_requests() -> Vec<Bad> {
    let events: Vec<Value> = (0..10_001)
        .map(|i| json!({"player": format!("p{i}"), "hunt": "h", "type": "checkin", "location": "x"}))
        .collect();
    vec![
        bad(json!([1, 2, 3]), "invalid_request"),
        bad(json!("events"), "invalid_request"),
        bad(json!({"op": "player", "player": "p", "hunt": "h"}), "invalid_request"),
        bad(json!({"id": "seven", "op": "player"}), "invalid_request"),
        bad(json!({"id": 1.5, "op": "player"}), "invalid_request"),
        bad(json!({"id": 1}), "invalid_request"),
        bad(json!({"id": 2, "op": "dance"}), "unknown_op"),
        bad(json!({"id": -3, "op": 7}), "invalid_request"),
        bad(json!({"id": 4, "op": "player", "hunt": "h"}), "invalid_request"),
        bad(
            json!({"id": 5, "op": "player", "player": 17, "hunt": "h"}),
            "invalid_request",
        ),
        bad(json!({"id": 6, "op": "events", "events": {}}), "invalid_request"),
        bad(json!({"id": 7, "op": "events"}), "invalid_request"),
        bad_event(
            json!({"id": 8, "op": "events", "events": [clue("p", "h", "c1"), 12]}),
            1,
        ),
        bad_event(
            json!({"id": 9, "op": "events", "events": [{"player": "p", "hunt": "h", "type": "dance"}]}),
            0,
        ),
        bad_event(json!({"id": 10, "op": "events", "events": [clue("p", "h", "c9")]}), 0),
        bad(
            json!({"id": 11, "op": "claim", "claim_id": "x", "player": "p", "hunt": "h", "sku": "mug", "customs": "text"}),
            "invalid_request",
        ),
        bad(
            json!({"id": 12, "op": "claim", "claim_id": "x", "player": "p", "hunt": "h", "sku": "mug", "customs": [1]}),
            "invalid_request",
        ),
        bad(
            json!({"id": 13, "op": "leaderboard", "hunt": "h", "limit": -1}),
            "invalid_request",
        ),
        bad(
            json!({"id": 14, "op": "leaderboard", "hunt": "h", "limit": 0}),
            "invalid_request",
        ),
        bad(json!({"id": 15, "op": "leaderboard", "hunt": "nope"}), "unknown_hunt"),
        bad(
            json!({"id": 16, "op": "subscribe", "topic": "gossip"}),
            "invalid_request",
        ),
        bad(
            json!({"id": 17, "op": "unsubscribe", "subscription": "one"}),
            "invalid_request",
        ),
        bad(
            json!({"id": 18, "op": "claim", "claim_id": "x".repeat(200), "player": "p", "hunt": "h", "sku": "mug"}),
            "invalid_request",
        ),
        bad(json!({"id": 19, "op": "events", "events": events}), "batch_too_large"),
        bad(
            json!({"id": 20, "op": "player", "player": "p", "hunt": "nope"}),
            "unknown_hunt",
        ),
    ]
}

#[tokio::test]
async fn msgpack_bad_input_gets_the_same_codes_as_json() {
    let (s, _dir) = Server::start().await;
    s.define_example_hunt("h", 10, 1).await;
    let mut mp = msgpack(&s, GAME).await;
    let mut js = s.ws(GAME).await;

    // Not MessagePack of the JSON data model: invalid_json, id null.
    let map = |entries: &[u8]| [&[0x81u8][..], entries].concat();
    for bytes in [
        vec![0x82, 0xa2, b'i', b'd'],                                 // truncated
        vec![0xc1],                                                   // reserved marker
        map(&[0xa2, b'i', b'd', 0xc4, 0x01, 0x07]),                   // {"id": <bytes>}
        map(&[0xa2, b'i', b'd', 0xd4, 0x01, 0x07]),                   // {"id": <ext>}
        map(&[0x01, 0x02]),                                           // {1: 2}
        map(&[0xa2, b'i', b'd', 0x01, 0xc0]),                         // one byte too many
        map(&[0xa2, b'i', b'd', 0xa2, 0xff, 0xfe]),                   // not UTF-8
        map(&[0xa2, b'i', b'd', 0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0]), // NaN
    ] {
        mp.stream.send(Message::binary(bytes)).await.unwrap();
        expect_error(&mut mp, &Value::Null, "invalid_json", None).await;
    }

    let cases = refused_requests();
    for ws in [&mut js, &mut mp] {
        for c in &cases {
            ws.send_value(&c.frame).await;
            expect_error(ws, &c.id, c.code, c.index).await;
        }
    }

    // A text frame on a MessagePack connection (the mirror of a binary frame on JSON).
    mp.send_text(r#"{"id":1,"op":"player","player":"p","hunt":"h"}"#.into())
        .await;
    expect_error(&mut mp, &Value::Null, "unsupported_frame", None).await;
    js.stream.send(Message::binary(vec![0x80])).await.unwrap();
    expect_error(&mut js, &Value::Null, "unsupported_frame", None).await;

    // Oversized message (over 1 MiB, under the hard frame limit): error, the connection stays.
    let big = json!({"id": 21, "op": "player", "player": "p", "hunt": "h", "pad": "x".repeat(1_500_000)});
    mp.send_value(&big).await;
    expect_error(&mut mp, &Value::Null, "message_too_large", None).await;

    // Still alive and well.
    let r = mp.call(json!({"op": "events", "events": [clue("p", "h", "c1")]})).await;
    assert_eq!(r["ok"], true, "{r}");
    let r = mp.call(claim("ok-1", "p", "h", "mug")).await;
    assert_eq!(r["status"], "granted", "{r}");

    // A frame over the hard limit: error reply, then close 1009.
    let huge = json!({"id": 22, "pad": "x".repeat(5 << 20)});
    let huge = Codec::MessagePack.encode(&huge).unwrap().as_bytes().to_vec();
    assert_eq!(close_code_after(&mut mp, Message::binary(huge)).await, Some(1009));
    let (st, r) = s.http("GET", "/v1/admin/consistency", Some(ADMIN), None).await;
    assert_eq!((st, &r["ok"]), (200, &json!(true)), "{r}");
}

/// Sends `msg` and returns the close code the server answers with.
async fn close_code_after(ws: &mut Ws, msg: Message) -> Option<u16> {
    let _ = ws.stream.send(msg).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while let Ok(Some(m)) = tokio::time::timeout_at(deadline, ws.stream.next()).await {
        match m {
            Ok(Message::Close(Some(f))) => return Some(u16::from(f.code)),
            Ok(_) => continue,
            Err(_) => break,
        }
    }
    None
}
