//! JSON on the wire: parsing requests into engine types with precise error
//! codes, and rendering engine answers. Shared by HTTP and WebSocket.

use crate::error::ApiError;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use trove_engine::{
    limits, ClaimRequest, ClaimResult, ClueDef, EventKind, GameEvent, HuntDef, HuntState, Millis, PlayerRead,
    ProductDef,
};

pub type Obj = Map<String, Value>;

/// Parses a JSON document.
pub fn parse_json(bytes: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::invalid_json(format!("malformed JSON: {e}")))
}

pub fn as_object<'a>(v: &'a Value, what: &str) -> Result<&'a Obj, ApiError> {
    v.as_object()
        .ok_or_else(|| ApiError::invalid_request(format!("{what} must be a JSON object")))
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A required string field.
pub fn req_str<'a>(o: &'a Obj, field: &str) -> Result<&'a str, ApiError> {
    match o.get(field) {
        Some(Value::String(s)) => Ok(s),
        Some(v) => Err(ApiError::invalid_request(format!(
            "field {field:?} must be a string, not {}",
            type_name(v)
        ))),
        None => Err(ApiError::invalid_request(format!("missing field {field:?}"))),
    }
}

/// An optional string field (absent or null = None).
pub fn opt_str<'a>(o: &'a Obj, field: &str) -> Result<Option<&'a str>, ApiError> {
    match o.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => Err(ApiError::invalid_request(format!(
            "field {field:?} must be a string, not {}",
            type_name(v)
        ))),
    }
}

/// An optional non-negative integer field.
pub fn opt_u64(o: &Obj, field: &str) -> Result<Option<u64>, ApiError> {
    match o.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_u64().map(Some).ok_or_else(|| {
            ApiError::invalid_request(format!("field {field:?} must be a non-negative integer, not {n}"))
        }),
        Some(v) => Err(ApiError::invalid_request(format!(
            "field {field:?} must be a non-negative integer, not {}",
            type_name(v)
        ))),
    }
}

/// The `events` array of an events request, parsed event by event. A bad
/// event rejects the whole batch with `invalid_event` and its index.
pub fn parse_events(o: &Obj) -> Result<Vec<GameEvent>, ApiError> {
    let arr = match o.get("events") {
        Some(Value::Array(a)) => a,
        Some(v) => {
            return Err(ApiError::invalid_request(format!(
                "field \"events\" must be an array, not {}",
                type_name(v)
            )))
        }
        None => return Err(ApiError::invalid_request("missing field \"events\"")),
    };
    if arr.len() > limits::MAX_BATCH_EVENTS {
        return Err(trove_engine::EngineError::BatchTooLarge {
            len: arr.len(),
            max: limits::MAX_BATCH_EVENTS,
        }
        .into());
    }
    arr.iter()
        .enumerate()
        .map(|(i, v)| {
            parse_event(v).map_err(|e| ApiError::invalid_event(i, format!("event {i} is invalid: {}", e.message)))
        })
        .collect()
}

fn parse_event(v: &Value) -> Result<GameEvent, ApiError> {
    let o = as_object(v, "an event")?;
    let player = req_str(o, "player")?.to_owned();
    let hunt = req_str(o, "hunt")?.to_owned();
    let kind = match req_str(o, "type")? {
        "clue_found" => EventKind::ClueFound {
            clue: req_str(o, "clue")?.to_owned(),
        },
        "checkin" => EventKind::Checkin {
            location: req_str(o, "location")?.to_owned(),
        },
        "interaction" => EventKind::Interaction {
            kind: req_str(o, "kind")?.to_owned(),
        },
        other => {
            return Err(ApiError::invalid_request(format!(
                "unknown event type {other:?} (expected clue_found, checkin or interaction)"
            )))
        }
    };
    Ok(GameEvent { player, hunt, kind })
}

/// A claim request; `o` is `raw` (the request's JSON text) parsed. `customs`
/// must be a JSON object (absent or `null` = `{}`) without a duplicate key at
/// any depth. It is kept as the exact bytes the client sent for it, with only
/// the whitespace between JSON tokens removed (see [`customs_text`]).
pub fn parse_claim(o: &Obj, raw: &[u8]) -> Result<ClaimRequest, ApiError> {
    let customs = match o.get("customs") {
        None | Some(Value::Null) => "{}".to_owned(),
        Some(Value::Object(_)) => customs_text(raw)?,
        Some(v) => {
            return Err(ApiError::invalid_request(format!(
                "field \"customs\" must be a JSON object, not {}",
                type_name(v)
            )))
        }
    };
    Ok(ClaimRequest {
        claim_id: req_str(o, "claim_id")?.to_owned(),
        player: req_str(o, "player")?.to_owned(),
        hunt: req_str(o, "hunt")?.to_owned(),
        sku: req_str(o, "sku")?.to_owned(),
        customs,
    })
}

/// The `customs` of the request `raw`, as sent: its bytes with the whitespace
/// between JSON tokens removed, and nothing else changed (key order,
/// duplicate-free keys, number spelling such as `1.50` or `1e3`, string
/// escapes such as `\u00e9` all stay). Removing that whitespace keeps every
/// stored document on one line, which the JSONL export relies on.
pub fn customs_text(raw: &[u8]) -> Result<String, ApiError> {
    #[derive(serde::Deserialize)]
    struct Customs<'a> {
        #[serde(borrow, default)]
        customs: Option<&'a RawValue>,
    }
    let c: Customs = serde_json::from_slice(raw).map_err(|e| {
        ApiError::invalid_request(if e.to_string().contains("duplicate field") {
            "field \"customs\" is given twice".to_owned()
        } else {
            format!("malformed JSON: {e}")
        })
    })?;
    let text = minify(c.customs.map_or("{}", |r| r.get()));
    serde_json::from_str::<UniqueKeys>(&text).map_err(|e| ApiError::invalid_request(format!("customs: {e}")))?;
    Ok(text)
}

/// Drops JSON whitespace outside strings. `json` is valid JSON.
fn minify(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            in_string = c == '"';
            out.push(c);
        }
    }
    out
}

/// A JSON document that has no object with the same key twice: readers
/// disagree on which of two such values counts, so customs may not have one.
struct UniqueKeys;

impl<'de> Deserialize<'de> for UniqueKeys {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UniqueKeysVisitor)
    }
}

struct UniqueKeysVisitor;

impl<'de> Visitor<'de> for UniqueKeysVisitor {
    type Value = UniqueKeys;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_i64<E>(self, _: i64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_u64<E>(self, _: u64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_f64<E>(self, _: f64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_str<E>(self, _: &str) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_unit<E>(self) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<UniqueKeys, A::Error> {
        while seq.next_element::<UniqueKeys>()?.is_some() {}
        Ok(UniqueKeys)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UniqueKeys, A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            map.next_value::<UniqueKeys>()?;
            if !seen.insert(key) {
                return Err(de::Error::custom("an object has the same key twice"));
            }
        }
        Ok(UniqueKeys)
    }
}

/// Stored `customs` text for output, embedded as is: the stored bytes when
/// they are one JSON document (always, for customs from the API), else the
/// text as a JSON string.
pub fn customs_raw(text: &str) -> Box<RawValue> {
    match serde_json::from_str::<&RawValue>(text) {
        Ok(r) if r.get().len() == text.len() => RawValue::from_string(text.to_owned()).expect("checked above"),
        _ => serde_json::value::to_raw_value(text).expect("a string serializes"),
    }
}

pub fn claim_result(r: &ClaimResult) -> Value {
    let mut v = json!({
        "ok": true,
        "claim_id": r.claim_id,
        "status": r.outcome.status(),
        "duplicate": r.duplicate,
        "seq": r.seq,
    });
    if let Some(reason) = r.outcome.reason() {
        v["reason"] = json!(reason.code());
    }
    v
}

/// A time: RFC 3339 text (`2026-05-01T18:00:00Z`) or integer unix milliseconds.
pub fn parse_time(o: &Obj, field: &str) -> Result<Option<Millis>, ApiError> {
    match o.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| {
            ApiError::new(
                actix_web::http::StatusCode::BAD_REQUEST,
                "invalid_hunt",
                format!("{field} must be integer unix milliseconds or an RFC 3339 string"),
            )
        }),
        Some(Value::String(s)) => {
            let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).map_err(|e| {
                ApiError::new(
                    actix_web::http::StatusCode::BAD_REQUEST,
                    "invalid_hunt",
                    format!("{field} {s:?} is not an RFC 3339 time: {e}"),
                )
            })?;
            Ok(Some((t.unix_timestamp_nanos() / 1_000_000) as Millis))
        }
        Some(v) => Err(ApiError::new(
            actix_web::http::StatusCode::BAD_REQUEST,
            "invalid_hunt",
            format!(
                "{field} must be integer unix milliseconds or an RFC 3339 string, not {}",
                type_name(v)
            ),
        )),
    }
}

fn hunt_err(e: ApiError) -> ApiError {
    ApiError {
        code: "invalid_hunt".into(),
        ..e
    }
}

/// A hunt definition as a designer posts it.
pub fn parse_hunt(v: &Value) -> Result<HuntDef, ApiError> {
    let o = as_object(v, "a hunt definition").map_err(hunt_err)?;
    let id = req_str(o, "id").map_err(hunt_err)?.to_owned();
    let name = opt_str(o, "name").map_err(hunt_err)?.unwrap_or(&id).to_owned();
    let opens_at = parse_time(o, "opens_at")?;
    let closes_at = parse_time(o, "closes_at")?;
    let list = |field: &str| -> Result<Vec<Value>, ApiError> {
        match o.get(field) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(a)) => Ok(a.clone()),
            Some(v) => Err(hunt_err(ApiError::invalid_request(format!(
                "field {field:?} must be an array, not {}",
                type_name(v)
            )))),
        }
    };
    let mut clues = Vec::new();
    for (i, c) in list("clues")?.iter().enumerate() {
        let at = |e: ApiError| hunt_err(ApiError::invalid_request(format!("clue {i}: {}", e.message)));
        let c = as_object(c, "a clue").map_err(at)?;
        let points = opt_u64(c, "points").map_err(at)?.unwrap_or(0);
        let points = u32::try_from(points).map_err(|_| at(ApiError::invalid_request("points must fit in 32 bits")))?;
        clues.push(ClueDef {
            id: req_str(c, "id").map_err(at)?.to_owned(),
            points,
        });
    }
    let mut products = Vec::new();
    for (i, p) in list("products")?.iter().enumerate() {
        let at = |e: ApiError| hunt_err(ApiError::invalid_request(format!("product {i}: {}", e.message)));
        let p = as_object(p, "a product").map_err(at)?;
        let per_player_limit = opt_u64(p, "per_player_limit").map_err(at)?.unwrap_or(1);
        products.push(ProductDef {
            sku: req_str(p, "sku").map_err(at)?.to_owned(),
            stock: opt_u64(p, "stock").map_err(at)?.unwrap_or(0),
            per_player_limit: u32::try_from(per_player_limit)
                .map_err(|_| at(ApiError::invalid_request("per_player_limit must fit in 32 bits")))?,
            min_score: opt_u64(p, "min_score").map_err(at)?.unwrap_or(0),
        });
    }
    Ok(HuntDef {
        id,
        name,
        opens_at,
        closes_at,
        clues,
        products,
    })
}

/// A hunt's definition with its stock ledger.
pub fn hunt_json(h: &HuntState) -> Value {
    let d = &h.def;
    json!({
        "ok": true,
        "id": d.id,
        "name": d.name,
        "opens_at": d.opens_at,
        "closes_at": d.closes_at,
        "clues": d.clues.iter().map(|c| json!({"id": c.id, "points": c.points})).collect::<Vec<_>>(),
        "products": d.products.iter().enumerate().map(|(i, p)| json!({
            "sku": p.sku,
            "stock": p.stock,
            "per_player_limit": p.per_player_limit,
            "min_score": p.min_score,
            "remaining": h.stock[i],
            "granted": h.granted[i],
            "added": h.added[i],
        })).collect::<Vec<_>>(),
        "defined_seq": h.defined_at,
    })
}

/// A player's view of one hunt. A claim whose record was not durable at the
/// read is `"status": "pending"` with `"pending": true` and no decision
/// (no `reason`, no `seq`): a crash could still undo it.
pub fn player_json(hunt: &HuntState, player: &str, read: Option<&PlayerRead>) -> Value {
    let state = read.map(|r| &r.state);
    let ph = state.and_then(|s| s.hunt(&hunt.def.id));
    let clues: Vec<&str> = ph.map_or_else(Vec::new, |ph| {
        ph.clue_indices()
            .filter_map(|i| hunt.def.clues.get(i).map(|c| c.id.as_str()))
            .collect()
    });
    let mut claims: Vec<_> = state.map_or_else(Vec::new, |s| {
        s.claims.iter().filter(|c| *c.hunt == *hunt.def.id).collect()
    });
    claims.sort_by_key(|c| c.seq);
    let claims: Vec<Value> = claims
        .into_iter()
        .map(|c| {
            if read.is_some_and(|r| r.is_pending(c)) {
                return json!({
                    "claim_id": &*c.claim_id,
                    "sku": &*c.sku,
                    "status": "pending",
                    "pending": true,
                });
            }
            let mut v = json!({
                "claim_id": &*c.claim_id,
                "sku": &*c.sku,
                "status": c.outcome.status(),
                "pending": false,
                "seq": c.seq,
            });
            if let Some(r) = c.outcome.reason() {
                v["reason"] = json!(r.code());
            }
            v
        })
        .collect();
    json!({
        "ok": true,
        "player": player,
        "hunt": hunt.def.id,
        "score": ph.map_or(0, |p| p.score),
        "events": ph.map_or(0, |p| p.events),
        "clues": clues,
        "claims": claims,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_accept_rfc3339_and_millis() {
        let o: Obj =
            serde_json::from_str(r#"{"a":"1970-01-01T00:00:01.5Z","b":1234,"c":"2026-05-01T20:00:00+02:00"}"#).unwrap();
        assert_eq!(parse_time(&o, "a").unwrap(), Some(1500));
        assert_eq!(parse_time(&o, "b").unwrap(), Some(1234));
        assert_eq!(parse_time(&o, "c").unwrap(), Some(1_777_658_400_000));
        assert_eq!(parse_time(&o, "missing").unwrap(), None);
    }

    #[test]
    fn events_report_their_index() {
        let o: Obj = serde_json::from_str(
            r#"{"events":[{"player":"p","hunt":"h","type":"checkin","location":"x"},{"player":"p","hunt":"h","type":"dance"}]}"#,
        )
        .unwrap();
        let e = parse_events(&o).unwrap_err();
        assert_eq!(e.code, "invalid_event");
        assert_eq!(e.index, Some(1));
    }

    #[test]
    fn claims_not_yet_durable_are_pending_without_a_decision() {
        use std::sync::Arc;
        use trove_engine::{ClaimEntry, Outcome, PlayerState, ProductDef, RejectReason};
        let def = HuntDef {
            id: "h".into(),
            name: "h".into(),
            opens_at: None,
            closes_at: None,
            clues: vec![],
            products: vec![ProductDef {
                sku: "mug".into(),
                stock: 1,
                per_player_limit: 1,
                min_score: 0,
            }],
        };
        let hunt = HuntState::new(Arc::new(def), 1);
        let entry = |id: &str, seq, outcome| ClaimEntry {
            claim_id: id.into(),
            hunt: Arc::from("h"),
            sku: Arc::from("mug"),
            outcome,
            seq,
            id_hash: Default::default(),
        };
        let read = PlayerRead {
            state: PlayerState {
                hunts: Default::default(),
                claims: vec![
                    entry("a", 5, Outcome::Rejected(RejectReason::NotEligible)),
                    entry("b", 6, Outcome::Granted),
                ],
            },
            durable_seq: 5,
        };
        let v = player_json(&hunt, "p", Some(&read));
        assert_eq!(
            v["claims"],
            json!([
                {"claim_id": "a", "sku": "mug", "status": "rejected", "reason": "not_eligible", "pending": false, "seq": 5},
                {"claim_id": "b", "sku": "mug", "status": "pending", "pending": true},
            ])
        );
    }

    #[test]
    fn customs_must_be_an_object() {
        let parse = |raw: &str| {
            let o: Obj = serde_json::from_str(raw).unwrap();
            parse_claim(&o, raw.as_bytes())
        };
        let e = parse(r#"{"claim_id":"c","player":"p","hunt":"h","sku":"s","customs":[1]}"#).unwrap_err();
        assert_eq!(e.code, "invalid_request");
        // As sent, but for the whitespace between tokens.
        let r = parse(
            "{\"claim_id\":\"c\",\"player\":\"p\",\"hunt\":\"h\",\"sku\":\"s\",\"customs\": {\"b\" : 1.50,\n \"a\":\"x \\u00e9\\\" y\", \"n\":[1e3, 12345678901234567890123]}}",
        )
        .unwrap();
        assert_eq!(
            r.customs,
            r#"{"b":1.50,"a":"x \u00e9\" y","n":[1e3,12345678901234567890123]}"#
        );
        assert_eq!(
            parse(r#"{"claim_id":"c","player":"p","hunt":"h","sku":"s"}"#)
                .unwrap()
                .customs,
            "{}"
        );
        for dup in [
            r#"{"claim_id":"c","player":"p","hunt":"h","sku":"s","customs":{"a":1,"a":2}}"#,
            r#"{"claim_id":"c","player":"p","hunt":"h","sku":"s","customs":{"a":[{"b":1,"b":1}]}}"#,
            r#"{"claim_id":"c","player":"p","hunt":"h","sku":"s","customs":{"a":1},"customs":{"a":1}}"#,
        ] {
            assert_eq!(parse(dup).unwrap_err().code, "invalid_request", "{dup}");
        }
        assert_eq!(customs_raw(&r.customs).get(), r.customs);
        assert_eq!(customs_raw(" not json").get(), r#"" not json""#);
    }
}
