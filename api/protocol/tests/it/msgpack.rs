//! The MessagePack codec against the JSON one, and fuzzed.
//!
//! - Differential: any document of the JSON data model, sent as JSON and as
//!   MessagePack, gets the same verdict from the server's parsing (the same
//!   id, op and fields, or the same error code, id and event index).
//! - Round trip: every op, written by a client as MessagePack, reads back as
//!   the same request; replies and pushes read back as the same values.
//! - Fuzz: arbitrary bytes and mutated valid frames never panic, and a frame
//!   that is accepted re-encodes to a request that reads back the same.

use proptest::prelude::*;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use trove_protocol::parse::OpName;
use trove_protocol::{
    ClaimPush, ClaimRequest, Codec, ErrorBody, ErrorCode, EventKind, EventsRequest, GameEvent, LeaderboardEntry,
    LeaderboardPush, LeaderboardRequest, Op, PlayerRequest, RequestId, SubscribeReply, SubscribeRequest,
    UnsubscribeRequest, WsErrorReply,
};

const MAX_EVENTS: usize = 3;

/// What the server's parsing makes of a frame, comparable across codecs.
#[derive(Debug, PartialEq)]
enum Verdict {
    /// The envelope was refused.
    Envelope(ErrorCode, Option<RequestId>),
    /// An unknown op.
    UnknownOp(RequestId, String),
    /// The op's fields were refused.
    Fields(RequestId, OpName, ErrorCode, Option<usize>),
    /// Accepted: the request, re-encoded as a comparable value.
    Accepted(RequestId, Value),
}

/// A parsed request as an [`Op`]-shaped JSON value (the claim's customs as
/// the stored text).
fn verdict(codec: Codec, bytes: &[u8]) -> Verdict {
    let env = match codec.envelope(bytes) {
        Ok(e) => e,
        Err(e) => return Verdict::Envelope(e.error.code, e.id),
    };
    let op = match env.op {
        Ok(op) => op,
        Err(name) => return Verdict::UnknownOp(env.id, name.into_owned()),
    };
    let fields = |e: trove_protocol::parse::ParseError| Verdict::Fields(env.id.clone(), op, e.code, e.index);
    let v = match op {
        OpName::Events => match codec.events(bytes, MAX_EVENTS) {
            Ok(events) => json!({"op": "events", "events": events}),
            Err(e) => return fields(e),
        },
        OpName::Claim => match codec.claim(bytes) {
            Ok((c, customs)) => {
                json!({"op": "claim", "claim_id": c.claim_id, "player": c.player, "hunt": c.hunt, "sku": c.sku, "customs": customs})
            }
            Err(e) => return fields(e),
        },
        OpName::Player => match codec.body::<PlayerRequest>(bytes) {
            Ok(r) => json!({"op": "player", "req": r}),
            Err(e) => return fields(e),
        },
        OpName::Leaderboard => match codec.body::<LeaderboardRequest>(bytes) {
            Ok(r) => json!({"op": "leaderboard", "req": r}),
            Err(e) => return fields(e),
        },
        OpName::Subscribe => match codec.body::<SubscribeRequest>(bytes) {
            Ok(r) => json!({"op": "subscribe", "req": r}),
            Err(e) => return fields(e),
        },
        OpName::Unsubscribe => match codec.body::<UnsubscribeRequest>(bytes) {
            Ok(r) => json!({"op": "unsubscribe", "req": r}),
            Err(e) => return fields(e),
        },
    };
    Verdict::Accepted(env.id, v)
}

/// Rebuilds an accepted request as an [`Op`] and sends it through `codec`
/// again: the bytes a client would write for it.
fn re_encode(codec: Codec, id: &RequestId, v: &Value) -> Vec<u8> {
    let owned_customs;
    let op = match v["op"].as_str().unwrap() {
        "events" => Op::Events(EventsRequest::deserialize_json(v)),
        "claim" => {
            owned_customs = RawValue::from_string(v["customs"].as_str().unwrap().to_owned()).unwrap();
            Op::Claim(ClaimRequest {
                claim_id: v["claim_id"].as_str().unwrap().into(),
                player: v["player"].as_str().unwrap().into(),
                hunt: v["hunt"].as_str().unwrap().into(),
                sku: v["sku"].as_str().unwrap().into(),
                customs: Some(&owned_customs),
            })
        }
        "player" => Op::Player(PlayerRequest {
            player: v["req"]["player"].as_str().unwrap().to_owned().into(),
            hunt: v["req"]["hunt"].as_str().unwrap().to_owned().into(),
        }),
        "leaderboard" => Op::Leaderboard(LeaderboardRequest {
            hunt: v["req"]["hunt"].as_str().unwrap().to_owned().into(),
            limit: v["req"]["limit"].as_u64(),
            around: v["req"]["around"].as_str().map(|s| Cow::Owned(s.to_owned())),
        }),
        "subscribe" => Op::Subscribe(match v["req"]["topic"].as_str().unwrap() {
            "claims" => SubscribeRequest::Claims {
                from: v["req"]["from"].as_u64().unwrap(),
                tail: None,
                partition: None,
            },
            _ => SubscribeRequest::Leaderboard {
                hunt: v["req"]["hunt"].as_str().unwrap().to_owned().into(),
                limit: v["req"]["limit"].as_u64(),
            },
        }),
        "unsubscribe" => Op::Unsubscribe(UnsubscribeRequest {
            subscription: v["req"]["subscription"].as_u64().unwrap(),
        }),
        other => panic!("op {other}"),
    };
    codec.request(id, &op).unwrap().as_bytes().to_vec()
}

trait FromJson {
    fn deserialize_json(v: &Value) -> Self;
}

impl FromJson for EventsRequest<'static> {
    fn deserialize_json(v: &Value) -> Self {
        let events = v["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let s = |k: &str| Cow::Owned(e[k].as_str().unwrap().to_owned());
                let kind = match e["type"].as_str().unwrap() {
                    "clue_found" => EventKind::ClueFound { clue: s("clue") },
                    "checkin" => EventKind::Checkin {
                        location: s("location"),
                    },
                    _ => EventKind::Interaction { kind: s("kind") },
                };
                GameEvent {
                    player: s("player"),
                    hunt: s("hunt"),
                    kind,
                }
            })
            .collect();
        EventsRequest { events }
    }
}

/// A leaf of a request-like document: names the parser looks for, and
/// values of every JSON type.
fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        (-3i64..300).prop_map(Value::from),
        prop_oneof![Just(u64::MAX), Just(1u64 << 40)].prop_map(Value::from),
        prop_oneof![Just(1.5f64), Just(-0.25), Just(1.0), Just(1e300)].prop_map(Value::from),
        prop::sample::select(vec![
            "events",
            "claim",
            "player",
            "leaderboard",
            "subscribe",
            "unsubscribe",
            "dance",
            "p",
            "h",
            "c1",
            "claims",
            "clue_found",
            "checkin",
            "interaction",
            "mug",
            "",
            "é\"\\",
        ])
        .prop_map(Value::from),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "id",
        "op",
        "events",
        "player",
        "hunt",
        "type",
        "clue",
        "location",
        "kind",
        "claim_id",
        "sku",
        "customs",
        "limit",
        "around",
        "topic",
        "from",
        "subscription",
        "x",
    ])
    .prop_map(str::to_owned)
}

/// Request-like documents: maps of the names above, nested a little.
fn document() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..7).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A top-level request map with a likely `id` and `op`.
fn request_like() -> impl Strategy<Value = Value> {
    (
        prop::option::weighted(0.9, prop_oneof![4 => (0u64..50).prop_map(Value::from), 1 => leaf()]),
        prop::option::weighted(0.9, leaf()),
        prop::collection::btree_map(key(), document(), 0..6),
    )
        .prop_map(|(id, op, rest)| {
            let mut m: Map<String, Value> = rest.into_iter().collect();
            if let Some(id) = id {
                m.insert("id".into(), id);
            }
            if let Some(op) = op {
                m.insert("op".into(), op);
            }
            Value::Object(m)
        })
}

fn name() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["p1", "h", "c1", "mug", "harbour-gate", "é", "a\"b"]).prop_map(str::to_owned)
}

fn event() -> impl Strategy<Value = GameEvent<'static>> {
    (name(), name(), 0..3u8, name()).prop_map(|(player, hunt, k, s)| GameEvent {
        player: player.into(),
        hunt: hunt.into(),
        kind: match k {
            0 => EventKind::ClueFound { clue: s.into() },
            1 => EventKind::Checkin { location: s.into() },
            _ => EventKind::Interaction { kind: s.into() },
        },
    })
}

/// A customs document (an object) as compact JSON text.
fn customs_text() -> impl Strategy<Value = String> {
    prop::collection::btree_map(key(), document(), 0..4)
        .prop_map(|m| serde_json::to_string(&Value::Object(m.into_iter().collect())).unwrap())
}

/// A valid request of any op, as the owned parts an [`Op`] borrows from.
#[derive(Clone, Debug)]
enum Valid {
    Events(Vec<GameEvent<'static>>),
    Claim([String; 4], Option<String>),
    Player(String, String),
    Leaderboard(String, Option<u64>, Option<String>),
    SubscribeClaims(u64),
    SubscribeLeaderboard(String, Option<u64>),
    Unsubscribe(u64),
}

fn valid() -> impl Strategy<Value = Valid> {
    prop_oneof![
        prop::collection::vec(event(), 0..4).prop_map(Valid::Events),
        ([name(), name(), name(), name()], prop::option::of(customs_text())).prop_map(|(n, c)| Valid::Claim(n, c)),
        (name(), name()).prop_map(|(p, h)| Valid::Player(p, h)),
        (name(), prop::option::of(1u64..1000), prop::option::of(name()))
            .prop_map(|(h, l, a)| Valid::Leaderboard(h, l, a)),
        any::<u64>().prop_map(Valid::SubscribeClaims),
        (name(), prop::option::of(1u64..1000)).prop_map(|(h, l)| Valid::SubscribeLeaderboard(h, l)),
        any::<u64>().prop_map(Valid::Unsubscribe),
    ]
}

impl Valid {
    fn frame(&self, codec: Codec, id: &RequestId) -> Vec<u8> {
        let raw = match self {
            Valid::Claim(_, Some(c)) => Some(RawValue::from_string(c.clone()).unwrap()),
            _ => None,
        };
        let op = match self {
            Valid::Events(e) => Op::Events(EventsRequest { events: e.clone() }),
            Valid::Claim([c, p, h, s], _) => Op::Claim(ClaimRequest {
                claim_id: c.into(),
                player: p.into(),
                hunt: h.into(),
                sku: s.into(),
                customs: raw.as_deref(),
            }),
            Valid::Player(p, h) => Op::Player(PlayerRequest {
                player: p.into(),
                hunt: h.into(),
            }),
            Valid::Leaderboard(h, limit, around) => Op::Leaderboard(LeaderboardRequest {
                hunt: h.into(),
                limit: *limit,
                around: around.as_deref().map(Cow::Borrowed),
            }),
            Valid::SubscribeClaims(from) => Op::Subscribe(SubscribeRequest::Claims {
                from: *from,
                tail: None,
                partition: None,
            }),
            Valid::SubscribeLeaderboard(h, limit) => Op::Subscribe(SubscribeRequest::Leaderboard {
                hunt: h.into(),
                limit: *limit,
            }),
            Valid::Unsubscribe(s) => Op::Unsubscribe(UnsubscribeRequest { subscription: *s }),
        };
        codec.request(id, &op).unwrap().as_bytes().to_vec()
    }
}

/// A change to one field of a request map (or of one of its events): a
/// new value, or the field removed.
type Perturbation = (Option<usize>, String, Option<Value>);

fn perturbation() -> impl Strategy<Value = Perturbation> {
    (
        prop::option::weighted(0.3, 0usize..4),
        key(),
        prop::option::weighted(0.8, document()),
    )
}

/// A valid request (as JSON) with a few fields changed: mostly still an
/// object with an id and an op, often with a wrong field.
fn near_valid() -> impl Strategy<Value = Value> {
    (valid(), 0u64..50, prop::collection::vec(perturbation(), 0..3)).prop_map(|(req, id, ps)| {
        let frame = req.frame(Codec::Json, &RequestId::from(id));
        let mut v: Value = serde_json::from_slice(&frame).unwrap();
        for (event, key, value) in ps {
            let target = match event {
                Some(i) => match v["events"].as_array_mut().and_then(|a| a.get_mut(i)) {
                    Some(e) => e,
                    None => continue,
                },
                None => &mut v,
            };
            let Some(map) = target.as_object_mut() else { continue };
            match value {
                Some(value) => drop(map.insert(key, value)),
                None => drop(map.remove(&key)),
            }
        }
        v
    })
}

#[derive(Clone, Debug)]
enum Mutation {
    Set(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Remove),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(mut bytes: Vec<u8>, ms: &[Mutation]) -> Vec<u8> {
    for m in ms {
        let n = bytes.len().max(1);
        match *m {
            Mutation::Set(i, b) if !bytes.is_empty() => bytes[i % n] = b,
            Mutation::Insert(i, b) => bytes.insert(i % (bytes.len() + 1), b),
            Mutation::Remove(i) if !bytes.is_empty() => drop(bytes.remove(i % n)),
            Mutation::Truncate(i) => bytes.truncate(i % n),
            _ => {}
        }
    }
    bytes
}

/// Every client-side decoder too: none may panic.
fn decode_everything(bytes: &[u8]) {
    let c = Codec::MessagePack;
    let _ = c.decode_owned::<ClaimPush<'static>>(bytes);
    let _ = c.decode_owned::<LeaderboardPush<'static>>(bytes);
    let _ = c.decode_owned::<WsErrorReply>(bytes);
    let _ = c.decode_owned::<SubscribeReply<'static>>(bytes);
    let _ = c.decode_owned::<trove_protocol::PlayerReply<'static>>(bytes);
}

/// An accepted frame must read back the same after a client re-encodes it.
fn accepted_frames_re_encode(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Verdict::Accepted(id, v) = verdict(Codec::MessagePack, bytes) {
        let again = re_encode(Codec::MessagePack, &id, &v);
        prop_assert_eq!(
            verdict(Codec::MessagePack, &again),
            Verdict::Accepted(id.clone(), v.clone())
        );
        let json = re_encode(Codec::Json, &id, &v);
        prop_assert_eq!(verdict(Codec::Json, &json), Verdict::Accepted(id, v));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn the_same_document_gets_the_same_verdict(doc in prop_oneof![request_like(), near_valid()]) {
        let json = serde_json::to_vec(&doc).unwrap();
        let mp = rmp_serde::to_vec_named(&doc).unwrap();
        prop_assert_eq!(verdict(Codec::Json, &json), verdict(Codec::MessagePack, &mp), "{}", doc);
    }

    #[test]
    fn valid_requests_round_trip(req in valid(), id in any::<i64>()) {
        let id = RequestId::from(id);
        let json = verdict(Codec::Json, &req.frame(Codec::Json, &id));
        let mp = verdict(Codec::MessagePack, &req.frame(Codec::MessagePack, &id));
        prop_assert!(matches!(json, Verdict::Accepted(..)), "{:?}", json);
        prop_assert_eq!(json, mp);
    }

    #[test]
    fn mutated_frames_never_panic_nor_accept_garbage(
        req in valid(),
        ms in prop::collection::vec(mutation(), 1..4),
    ) {
        let bytes = mutate(req.frame(Codec::MessagePack, &RequestId::from(7u64)), &ms);
        if trove_protocol::msgpack::validate(&bytes).is_err() {
            let v = verdict(Codec::MessagePack, &bytes);
            prop_assert!(matches!(v, Verdict::Envelope(ErrorCode::InvalidJson, None)), "{:?}", v);
        }
        decode_everything(&bytes);
        accepted_frames_re_encode(&bytes)?;
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let v = verdict(Codec::MessagePack, &bytes);
        if trove_protocol::msgpack::validate(&bytes).is_err() {
            prop_assert!(matches!(v, Verdict::Envelope(ErrorCode::InvalidJson, None)), "{:?}", v);
        }
        let _ = Codec::MessagePack.events(&bytes, MAX_EVENTS);
        let _ = Codec::MessagePack.claim(&bytes);
        decode_everything(&bytes);
        accepted_frames_re_encode(&bytes)?;
    }
}

#[test]
fn pushes_and_replies_read_back_in_messagepack() {
    let codec = Codec::MessagePack;
    let customs =
        RawValue::from_string(r#"{"name":"Pat Doe","country":"NL","declared_value_eur":12.5,"n":[1,-2]}"#.into())
            .unwrap();
    let push = ClaimPush {
        push: "claim".into(),
        subscription: 1,
        cursor: 1043,
        partition: None,
        claim_id: "p1-mug-1".into(),
        player: "p1".into(),
        hunt: "h1".into(),
        sku: "mug".into(),
        customs,
        at: 1_777_658_400_123,
    };
    let frame = codec.encode(&push).unwrap();
    // Maps with field names: a generic MessagePack reader sees the JSON object.
    let generic: Value = codec.decode(frame.as_bytes()).unwrap();
    let expected: Value = serde_json::from_str(&serde_json::to_string(&push).unwrap()).unwrap();
    assert_eq!(generic, expected);
    let back: ClaimPush<'static> = codec.decode_owned(frame.as_bytes()).unwrap();
    assert_eq!(back.customs.get(), push.customs.get());
    assert_eq!((back.cursor, &*back.claim_id), (1043, "p1-mug-1"));

    let board = LeaderboardPush {
        push: "leaderboard".into(),
        subscription: 2,
        hunt: "h1".into(),
        entries: vec![LeaderboardEntry {
            rank: 1,
            player: "p9".into(),
            score: 120,
        }],
        as_of_seq: 1050,
    };
    let back: LeaderboardPush<'static> = codec.decode_owned(codec.encode(&board).unwrap().as_bytes()).unwrap();
    assert_eq!(back, board);

    let err = WsErrorReply {
        id: None,
        ok: false,
        error: ErrorBody {
            code: ErrorCode::InvalidEvent,
            message: "event 1 is invalid".into(),
            index: Some(1),
            ..ErrorBody::new(ErrorCode::InvalidEvent, "")
        },
    };
    let frame = codec.encode(&err).unwrap();
    let generic: Value = codec.decode(frame.as_bytes()).unwrap();
    assert_eq!(
        generic,
        json!({"id": null, "ok": false, "error": {"code": "invalid_event", "message": "event 1 is invalid", "index": 1}})
    );
    let reply = SubscribeReply::Claims {
        ok: true,
        from: 0,
        subscription: 1,
        partition: None,
    };
    let frame = codec.reply(&RequestId::from(8u64), &reply).unwrap();
    let generic: Value = codec.decode(frame.as_bytes()).unwrap();
    assert_eq!(
        generic,
        json!({"id": 8, "ok": true, "topic": "claims", "from": 0, "subscription": 1})
    );
}

#[test]
fn messagepack_frames_are_smaller_for_event_batches() {
    let events: Vec<GameEvent> = (0..100)
        .map(|i| GameEvent {
            player: format!("player-{i:05}").into(),
            hunt: "harbour-lights".into(),
            kind: EventKind::ClueFound { clue: "c3".into() },
        })
        .collect();
    let op = Op::Events(EventsRequest { events });
    let id = RequestId::from(1u64);
    let json = Codec::Json.request(&id, &op).unwrap();
    let mp = Codec::MessagePack.request(&id, &op).unwrap();
    assert!(
        mp.as_bytes().len() < json.as_bytes().len(),
        "{} vs {}",
        mp.as_bytes().len(),
        json.as_bytes().len()
    );
}

#[test]
fn events_write_one_flat_map_in_both_codecs() {
    let e = GameEvent {
        player: "p".into(),
        hunt: "h".into(),
        kind: EventKind::Checkin {
            location: "gate".into(),
        },
    };
    assert_eq!(
        serde_json::to_string(&e).unwrap(),
        r#"{"player":"p","hunt":"h","type":"checkin","location":"gate"}"#
    );
    let bytes = Codec::MessagePack.encode(&e).unwrap();
    assert_eq!(bytes.as_bytes()[0], 0x84, "a map of 4 entries, length known up front");
    let back: Value = Codec::MessagePack.decode(bytes.as_bytes()).unwrap();
    assert_eq!(
        back,
        json!({"player": "p", "hunt": "h", "type": "checkin", "location": "gate"})
    );
}

/// Server-side read cost of one 2000-event batch in each codec, best of 7
/// (release: `cargo test --release -p trove-protocol --test it parse_cost --
/// --ignored --nocapture`).
#[test]
#[ignore = "a measurement; prints"]
fn parse_cost() {
    let events: Vec<GameEvent> = (0..2000)
        .map(|i| GameEvent {
            player: format!("load-smoke-p{i:06}").into(),
            hunt: "load-smoke-1764806400".into(),
            kind: if i % 3 == 0 {
                EventKind::ClueFound { clue: "c2".into() }
            } else {
                EventKind::Checkin {
                    location: "harbour-gate".into(),
                }
            },
        })
        .collect();
    let op = Op::Events(EventsRequest { events });
    let id = RequestId::from(1u64);
    let per_event = |f: &mut dyn FnMut()| {
        (0..7)
            .map(|_| {
                let t = std::time::Instant::now();
                for _ in 0..50 {
                    f();
                }
                t.elapsed().as_secs_f64() / 100_000.0 * 1e9
            })
            .fold(f64::MAX, f64::min)
    };
    for codec in Codec::ALL {
        let frame = codec.request(&id, &op).unwrap();
        let bytes = frame.as_bytes();
        // What the server does: the envelope, then the fields from the same checked frame.
        let read = per_event(&mut || {
            let (env, fields) = codec.read(bytes).unwrap();
            assert_eq!((env.id, fields.events(10_000).unwrap().len()), (id.clone(), 2000));
        });
        let envelope = per_event(&mut || assert_eq!(codec.envelope(bytes).unwrap().id, id));
        let validate = per_event(&mut || drop(trove_protocol::msgpack::validate(bytes)));
        let write = per_event(&mut || drop(std::hint::black_box(codec.request(&id, &op).unwrap())));
        eprintln!(
            "{codec:?}: {} bytes/event; ns/event: read {read:.0} (envelope {envelope:.0}, \
             msgpack validate {validate:.0}), write {write:.0}",
            bytes.len() / 2000
        );
    }
}
