//! The MessagePack encoding of the WebSocket protocol (subprotocol
//! `trove.v1.msgpack`): the same requests, replies and pushes as JSON, as
//! MessagePack maps with the same field names (what `rmp_serde::to_vec_named`
//! writes), read with the same precise error codes.
//!
//! Reading a frame is two steps, as with JSON. [`validate`] walks the bytes
//! once: exactly one well-formed value, inside the JSON data model (nil,
//! booleans, integers, finite floats, UTF-8 strings, arrays, and maps whose
//! keys are strings; no byte strings, no extension types), at most
//! [`MAX_DEPTH`] deep. A frame that fails is `invalid_json`: it is not a
//! document of the connection's encoding. Then serde reads typed, borrowed
//! values (`Cow<'a, str>` into the frame) and every failure is a shape
//! error (`invalid_request`, `invalid_event` with its index, ...).
//!
//! The functions mirror [`crate::parse`]: [`envelope`], [`events`],
//! [`claim`], [`body`].

use crate::customs::Customs;
use crate::error::ErrorCode;
use crate::game::{ClaimRequest, GameEvent};
use crate::parse::{Envelope, EnvelopeError, OpName, ParseError};
use crate::ws::RequestId;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;

pub use crate::transcode::MAX_DEPTH;

/// Checks that `bytes` is exactly one MessagePack value in the JSON data
/// model (see the module's documentation); the error says what is wrong.
pub fn validate(bytes: &[u8]) -> Result<(), String> {
    walk(bytes, |_, _| {})
}

/// [`validate`], calling `top_key(key, at)` for every key of a top-level map
/// with the position of its value.
fn walk(bytes: &[u8], mut top_key: impl FnMut(&[u8], usize)) -> Result<(), String> {
    // Items still to read at each open level; in a map, an even count left
    // means the next item is a key.
    let mut open: Vec<(u64, bool)> = Vec::new();
    let mut pos = 0usize;
    let read = |n: usize, pos: &mut usize| -> Result<&[u8], String> {
        let end = pos
            .checked_add(n)
            .filter(|e| *e <= bytes.len())
            .ok_or_else(|| format!("truncated at byte {}: {n} more bytes expected", *pos))?;
        let s = &bytes[*pos..end];
        *pos = end;
        Ok(s)
    };
    loop {
        let key = matches!(open.last(), Some((left, true)) if left % 2 == 0);
        let at = pos;
        let marker = read(1, &mut pos)?[0];
        let mut container = None;
        match marker {
            0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 if key => {
                return Err(format!("byte {at}: a map key that is not a string"));
            }
            0xa0..=0xbf | 0xd9..=0xdb => {
                let n = match marker {
                    0xa0..=0xbf => usize::from(marker & 0x1f),
                    0xd9 => usize::from(read(1, &mut pos)?[0]),
                    0xda => usize::from(u16::from_be_bytes([read(1, &mut pos)?[0], read(1, &mut pos)?[0]])),
                    _ => be_len(read(4, &mut pos)?),
                };
                let s = read(n, &mut pos)?;
                std::str::from_utf8(s).map_err(|_| format!("byte {at}: a string that is not UTF-8"))?;
                if key && open.len() == 1 {
                    top_key(s, pos);
                }
            }
            _ if key => return Err(format!("byte {at}: a map key that is not a string")),
            0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => {}
            0xcc | 0xd0 => drop(read(1, &mut pos)?),
            0xcd | 0xd1 => drop(read(2, &mut pos)?),
            0xce | 0xd2 => drop(read(4, &mut pos)?),
            0xcf | 0xd3 => drop(read(8, &mut pos)?),
            0xca => {
                let b = read(4, &mut pos)?;
                if !f32::from_be_bytes([b[0], b[1], b[2], b[3]]).is_finite() {
                    return Err(format!("byte {at}: NaN and infinities are not JSON numbers"));
                }
            }
            0xcb => {
                let b = read(8, &mut pos)?;
                let v = f64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
                if !v.is_finite() {
                    return Err(format!("byte {at}: NaN and infinities are not JSON numbers"));
                }
            }
            0x90..=0x9f => container = Some((u64::from(marker & 0x0f), false)),
            0xdc => container = Some((be_len(read(2, &mut pos)?) as u64, false)),
            0xdd => container = Some((be_len(read(4, &mut pos)?) as u64, false)),
            0x80..=0x8f => container = Some((u64::from(marker & 0x0f) * 2, true)),
            0xde => container = Some((be_len(read(2, &mut pos)?) as u64 * 2, true)),
            0xdf => container = Some((be_len(read(4, &mut pos)?) as u64 * 2, true)),
            0xc4..=0xc6 => return Err(format!("byte {at}: a byte string (JSON has none; send a string)")),
            0xc7..=0xc9 | 0xd4..=0xd8 => return Err(format!("byte {at}: an extension type (JSON has none)")),
            0xc1 => return Err(format!("byte {at}: the reserved marker 0xc1")),
        }
        if let Some(top) = open.last_mut() {
            top.0 -= 1;
        }
        if let Some((n, map)) = container {
            if n > 0 {
                if open.len() >= MAX_DEPTH {
                    return Err(format!("byte {at}: nested deeper than {MAX_DEPTH} levels"));
                }
                open.push((n, map));
            }
        }
        while open.last().is_some_and(|(left, _)| *left == 0) {
            open.pop();
        }
        if open.is_empty() {
            break;
        }
    }
    if pos != bytes.len() {
        return Err(format!(
            "{} bytes after the end of the value at byte {pos}",
            bytes.len() - pos
        ));
    }
    Ok(())
}

fn be_len(b: &[u8]) -> usize {
    b.iter().fold(0usize, |n, b| (n << 8) | usize::from(*b))
}

/// True if `bytes` starts with a map marker.
fn is_map(bytes: &[u8]) -> bool {
    matches!(bytes.first(), Some(0x80..=0x8f | 0xde | 0xdf))
}

/// How much of a frame is still to check before it is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Check {
    /// Everything: [`validate`], then that it is a map.
    Full,
    /// Only that it is a map: the frame was validated (its envelope was read).
    MapOnly,
}

/// Validates `bytes` (unless `check` says it was) and checks that it is one
/// map (`what` names it).
fn checked(bytes: &[u8], check: Check, what: &str, shape: ErrorCode) -> Result<(), ParseError> {
    if check == Check::Full {
        validate(bytes).map_err(|e| ParseError::new(ErrorCode::InvalidJson, format!("malformed MessagePack: {e}")))?;
    }
    if !is_map(bytes) {
        return Err(ParseError::new(shape, format!("{what} must be a MessagePack map")));
    }
    Ok(())
}

fn shape(e: &rmp_serde::decode::Error, code: ErrorCode) -> ParseError {
    ParseError::new(code, e.to_string())
}

/// The fields of a WebSocket op as `T` (unknown fields, such as the frame's
/// `id` and `op`, are ignored).
pub fn body<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, ParseError> {
    body_in(bytes, Check::Full)
}

/// [`body`], checking what `check` says.
pub(crate) fn body_in<'a, T: Deserialize<'a>>(bytes: &'a [u8], check: Check) -> Result<T, ParseError> {
    checked(bytes, check, "a request", ErrorCode::InvalidRequest)?;
    rmp_serde::from_slice(bytes).map_err(|e| shape(&e, ErrorCode::InvalidRequest))
}

/// A field of the envelope: absent (or nil), a value of `T`, or something else.
#[derive(Default)]
enum Field<T> {
    #[default]
    Missing,
    Value(T),
    Wrong,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Field<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either<T> {
            Value(T),
            Wrong(IgnoredAny),
        }
        Ok(match Option::<Either<T>>::deserialize(d)? {
            None => Field::Missing,
            Some(Either::Value(v)) => Field::Value(v),
            Some(Either::Wrong(_)) => Field::Wrong,
        })
    }
}

/// The field whose value starts at `at` in `bytes` (a validated frame).
fn field_at<'a, T: Deserialize<'a>>(bytes: &'a [u8], at: Option<usize>) -> Result<Field<T>, ParseError> {
    let Some(value) = at.and_then(|at| bytes.get(at..)) else {
        return Ok(Field::Missing);
    };
    rmp_serde::from_slice(value).map_err(|e| shape(&e, ErrorCode::InvalidRequest))
}

/// Reads a frame's `id` and `op` (see [`crate::parse::envelope`]). The
/// validating walk notes where they are; only those two values are decoded.
pub fn envelope(bytes: &[u8]) -> Result<Envelope<'_>, EnvelopeError> {
    let no_id = |error| EnvelopeError { id: None, error };
    let (mut id_at, mut op_at, mut twice) = (None, None, None);
    walk(bytes, |key, at| {
        let (slot, name) = match key {
            b"id" => (&mut id_at, "id"),
            b"op" => (&mut op_at, "op"),
            _ => return,
        };
        if slot.replace(at).is_some() {
            twice = Some(name);
        }
    })
    .map_err(|e| {
        no_id(ParseError::new(
            ErrorCode::InvalidJson,
            format!("malformed MessagePack: {e}"),
        ))
    })?;
    checked(bytes, Check::MapOnly, "a request", ErrorCode::InvalidRequest).map_err(no_id)?;
    if let Some(name) = twice {
        let message = format!("duplicate field `{name}`");
        return Err(no_id(ParseError::new(ErrorCode::InvalidRequest, message)));
    }
    let id: Field<RequestId> = field_at(bytes, id_at).map_err(no_id)?;
    let op: Field<Cow<'_, str>> = field_at(bytes, op_at).map_err(no_id)?;
    let id = match id {
        Field::Value(id) => id,
        Field::Missing => {
            return Err(no_id(ParseError::new(
                ErrorCode::InvalidRequest,
                "missing field \"id\"",
            )))
        }
        Field::Wrong => {
            return Err(no_id(ParseError::new(
                ErrorCode::InvalidRequest,
                "field \"id\" must be an integer",
            )))
        }
    };
    let with_id = |message: &str| EnvelopeError {
        id: Some(id.clone()),
        error: ParseError::new(ErrorCode::InvalidRequest, message),
    };
    let op = match op {
        Field::Value(op) => op,
        Field::Missing => return Err(with_id("missing field \"op\"")),
        Field::Wrong => return Err(with_id("field \"op\" must be a string")),
    };
    Ok(Envelope {
        op: OpName::from_wire(&op).ok_or(op),
        id,
    })
}

/// The events of an `events` request (see [`crate::parse::events`]): more
/// than `max_events` is `batch_too_large` before any event is read; a bad
/// event is `invalid_event` with its index.
pub fn events(bytes: &[u8], max_events: usize) -> Result<Vec<GameEvent<'_>>, ParseError> {
    events_in(bytes, max_events, Check::Full)
}

/// [`events`], checking what `check` says.
pub(crate) fn events_in(bytes: &[u8], max_events: usize, check: Check) -> Result<Vec<GameEvent<'_>>, ParseError> {
    checked(bytes, check, "a request", ErrorCode::InvalidRequest)?;
    let precise = RefCell::new(None);
    let seed = Batch {
        max_events,
        precise: &precise,
    };
    let mut de = rmp_serde::Deserializer::from_read_ref(bytes);
    seed.deserialize(&mut de)
        .map_err(|e| precise.take().unwrap_or_else(|| shape(&e, ErrorCode::InvalidRequest)))
}

/// The request map of an `events` op: finds `events`, ignores the rest.
struct Batch<'p> {
    max_events: usize,
    /// The error to answer, when it is more precise than `invalid_request`.
    precise: &'p RefCell<Option<ParseError>>,
}

impl<'de> DeserializeSeed<'de> for Batch<'_> {
    type Value = Vec<GameEvent<'de>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Batch<'_> {
    type Value = Vec<GameEvent<'de>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a request map")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut events = None;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if key != "events" {
                map.next_value::<IgnoredAny>()?;
            } else if events.is_some() {
                return Err(de::Error::duplicate_field("events"));
            } else {
                events = Some(map.next_value_seed(Events {
                    max_events: self.max_events,
                    precise: self.precise,
                })?);
            }
        }
        events.ok_or_else(|| de::Error::missing_field("events"))
    }
}

/// The `events` array, counted before it is read.
struct Events<'p> {
    max_events: usize,
    precise: &'p RefCell<Option<ParseError>>,
}

impl<'de> DeserializeSeed<'de> for Events<'_> {
    type Value = Vec<GameEvent<'de>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Events<'_> {
    type Value = Vec<GameEvent<'de>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of events")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let n = seq.size_hint().unwrap_or(0);
        if n > self.max_events {
            let message = format!("batch of {n} events exceeds the maximum of {}", self.max_events);
            *self.precise.borrow_mut() = Some(ParseError::new(ErrorCode::BatchTooLarge, message.clone()));
            return Err(de::Error::custom(message));
        }
        let mut out = Vec::with_capacity(n);
        loop {
            let i = out.len();
            match seq.next_element::<GameEvent<'de>>() {
                Ok(Some(e)) => out.push(e),
                Ok(None) => return Ok(out),
                Err(e) => {
                    *self.precise.borrow_mut() = Some(ParseError {
                        code: ErrorCode::InvalidEvent,
                        message: format!("event {i} is invalid: {e}"),
                        index: Some(i),
                        field: None,
                    });
                    return Err(e);
                }
            }
        }
    }
}

/// A claim request and the stored text of its `customs` (a map, absent or
/// nil = `{}`), as [`crate::parse::claim`]. The request's own `customs` is
/// `None`: MessagePack has no JSON text to borrow; the stored text is the
/// second element (see [`crate::customs`] for how it is written).
pub fn claim(bytes: &[u8]) -> Result<(ClaimRequest<'_>, String), ParseError> {
    claim_in(bytes, Check::Full)
}

/// [`claim`], checking what `check` says.
pub(crate) fn claim_in(bytes: &[u8], check: Check) -> Result<(ClaimRequest<'_>, String), ParseError> {
    #[derive(Deserialize)]
    struct Raw<'a> {
        #[serde(borrow)]
        claim_id: Cow<'a, str>,
        #[serde(borrow)]
        player: Cow<'a, str>,
        #[serde(borrow)]
        hunt: Cow<'a, str>,
        #[serde(borrow)]
        sku: Cow<'a, str>,
        #[serde(default)]
        customs: Option<Customs>,
    }
    let raw: Raw = body_in(bytes, check)?;
    let text = raw.customs.map_or_else(|| "{}".to_owned(), |c| c.0);
    let req = ClaimRequest {
        claim_id: raw.claim_id,
        player: raw.player,
        hunt: raw.hunt,
        sku: raw.sku,
        customs: None,
    };
    Ok((req, text))
}

/// An encoded map (`body`) with `"id": id` put first: how a request gets
/// its id (and a reply its request's id) without a serde `flatten`, which
/// would buffer the map.
pub(crate) fn with_id(id: &RequestId, body: &[u8]) -> Result<Vec<u8>, rmp_serde::encode::Error> {
    use rmp_serde::encode::Error;
    let (n, header) = match body.first() {
        Some(&m @ 0x80..=0x8f) => (u32::from(m & 0x0f), 1),
        Some(0xde) if body.len() >= 3 => (u32::from(u16::from_be_bytes([body[1], body[2]])), 3),
        Some(0xdf) if body.len() >= 5 => (u32::from_be_bytes([body[1], body[2], body[3], body[4]]), 5),
        _ => return Err(Error::Syntax("the value is not a map".into())),
    };
    let mut out = Vec::with_capacity(body.len() + 12);
    rmp::encode::write_map_len(&mut out, n.saturating_add(1)).map_err(Error::InvalidValueWrite)?;
    rmp::encode::write_str(&mut out, "id").map_err(Error::InvalidValueWrite)?;
    rmp_serde::encode::write_named(&mut out, id)?;
    out.extend_from_slice(&body[header..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::game::EventKind;
    use serde_json::json;

    /// MessagePack of a JSON value (maps with string keys, as a client writes).
    fn mp(v: serde_json::Value) -> Vec<u8> {
        rmp_serde::to_vec_named(&v).unwrap()
    }

    #[test]
    fn validate_takes_the_json_data_model_only() {
        assert!(validate(&mp(json!({"a": [1, -2, 1.5, null, true, "x", {"b": {}}]}))).is_ok());
        for (bytes, what) in [
            (&[][..], "truncated"),
            (&[0x81, 0xa1, b'a'][..], "truncated"),
            (&[0x81, 0x01, 0x02][..], "not a string"),
            (&[0xc1][..], "reserved"),
            (&[0xc4, 0x01, 0x00][..], "byte string"),
            (&[0xd4, 0x01, 0x00][..], "extension"),
            (&[0xa2, 0xff, 0xfe][..], "UTF-8"),
            (&[0xc0, 0xc0][..], "after the end"),
            (&[0xdd, 0xff, 0xff, 0xff, 0xff][..], "truncated"),
            (&[0xcb, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0][..], "NaN"),
        ] {
            let e = validate(bytes).unwrap_err();
            assert!(e.contains(what), "{bytes:x?}: {e}");
        }
        let deep: Vec<u8> = std::iter::repeat_n(0x91, MAX_DEPTH + 1).chain([0xc0]).collect();
        assert!(validate(&deep).unwrap_err().contains("deeper"));
        let ok: Vec<u8> = std::iter::repeat_n(0x91, MAX_DEPTH).chain([0xc0]).collect();
        assert!(validate(&ok).is_ok());
    }

    #[test]
    fn envelopes_read_id_then_op() {
        let bytes = mp(json!({"id": 7, "op": "player", "player": "p"}));
        let e = envelope(&bytes).unwrap();
        assert_eq!((e.id, e.op), (RequestId::Unsigned(7), Ok(OpName::Player)));
        let bytes = mp(json!({"id": -2, "op": "dance"}));
        let e = envelope(&bytes).unwrap();
        assert_eq!((e.id, e.op), (RequestId::Signed(-2), Err("dance".into())));
        for (bytes, code, id) in [
            (vec![0x81, 0xa1], ErrorCode::InvalidJson, None),
            (mp(json!([1, 2, 3])), ErrorCode::InvalidRequest, None),
            (
                mp(json!({"id": "seven", "op": "player"})),
                ErrorCode::InvalidRequest,
                None,
            ),
            (mp(json!({"id": 1.5, "op": "player"})), ErrorCode::InvalidRequest, None),
            (mp(json!({"id": null, "op": "player"})), ErrorCode::InvalidRequest, None),
            (
                mp(json!({"id": 1})),
                ErrorCode::InvalidRequest,
                Some(RequestId::Unsigned(1)),
            ),
            (
                mp(json!({"id": 1, "op": 3})),
                ErrorCode::InvalidRequest,
                Some(RequestId::Unsigned(1)),
            ),
            // {"id": 1, "id": 2, "op": "player"}, as JSON's duplicate field.
            (
                [
                    &[0x83, 0xa2, b'i', b'd', 1, 0xa2, b'i', b'd', 2, 0xa2, b'o', b'p', 0xa6][..],
                    b"player",
                ]
                .concat(),
                ErrorCode::InvalidRequest,
                None,
            ),
        ] {
            let e = envelope(&bytes).unwrap_err();
            assert_eq!((e.error.code, e.id), (code, id), "{bytes:x?}");
        }
    }

    #[test]
    fn events_report_their_index_and_borrow() {
        let bytes = mp(json!({"id": 1, "op": "events", "events": [
            {"player": "p", "hunt": "h", "type": "clue_found", "clue": "c"},
            {"player": "p", "hunt": "h", "type": "dance"}]}));
        let e = events(&bytes, 10).unwrap_err();
        assert_eq!((e.code, e.index), (ErrorCode::InvalidEvent, Some(1)));
        let bytes = mp(json!({"events": [{"player": "p", "hunt": "h", "type": "clue_found", "clue": "c"}]}));
        let ok = events(&bytes, 10).unwrap();
        assert_eq!(ok[0].kind, EventKind::ClueFound { clue: "c".into() });
        assert!(matches!(ok[0].player, Cow::Borrowed("p")));
        assert_eq!(
            events(&mp(json!({"events": {}})), 10).unwrap_err().code,
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            events(&mp(json!({"event": []})), 10).unwrap_err().code,
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            events(&mp(json!({"events": [1, 2]})), 1).unwrap_err().code,
            ErrorCode::BatchTooLarge
        );
        assert_eq!(
            events(&mp(json!([{"events": []}])), 1).unwrap_err().code,
            ErrorCode::InvalidRequest
        );
    }

    #[test]
    fn customs_become_stored_json_text() {
        let base = json!({"claim_id": "c", "player": "p", "hunt": "h", "sku": "s"});
        let c = |customs: Option<serde_json::Value>| {
            let mut v = base.clone();
            if let Some(c) = customs {
                v["customs"] = c;
            }
            claim(&mp(v)).map(|(_, c)| c).map_err(|e| e.code)
        };
        assert_eq!(c(None), Ok("{}".into()));
        assert_eq!(c(Some(json!(null))), Ok("{}".into()));
        assert_eq!(
            // (json! sorts keys; the stored text keeps the order sent.)
            c(Some(json!({"name": "Pat", "value": 12.5, "n": [1, -1]}))),
            Ok(r#"{"n":[1,-1],"name":"Pat","value":12.5}"#.into())
        );
        assert_eq!(c(Some(json!([1]))), Err(ErrorCode::InvalidRequest));
        assert_eq!(c(Some(json!("text"))), Err(ErrorCode::InvalidRequest));
        // {"a": 1, "a": 2} as customs.
        let mut dup = mp(base);
        dup[0] += 1;
        dup.extend_from_slice(&[0xa7, b'c', b'u', b's', b't', b'o', b'm', b's']);
        dup.extend_from_slice(&[0x82, 0xa1, b'a', 1, 0xa1, b'a', 2]);
        assert_eq!(claim(&dup).unwrap_err().code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn fields_go_first() {
        let bytes = with_id(&RequestId::Signed(-9), &mp(json!({"ok": true}))).unwrap();
        let v: serde_json::Value = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!(v, json!({"id": -9, "ok": true}));
        let wide: serde_json::Map<String, serde_json::Value> = (0..20).map(|i| (format!("k{i}"), json!(i))).collect();
        let bytes = with_id(&RequestId::Unsigned(1), &mp(json!(wide))).unwrap();
        let v: serde_json::Map<String, serde_json::Value> = rmp_serde::from_slice(&bytes).unwrap();
        assert_eq!((v.len(), &v["id"], &v["k19"]), (21, &json!(1), &json!(19)));
        assert!(with_id(&RequestId::Unsigned(9), &mp(json!([1]))).is_err());
    }
}
