//! Typed, borrowed parsing of requests with the protocol's precise error
//! codes: `invalid_json` for what is not JSON, `invalid_request` for a wrong
//! shape, `invalid_event` with the index of the first bad event,
//! `invalid_hunt` for a bad definition, `unknown_op` for an unknown op.
//!
//! Parsing happens in two steps so that errors come in the documented order:
//! [`envelope`] reads a WebSocket frame's `id` and `op` (and nothing else);
//! the server checks the role, then parses the op's fields from the same
//! bytes with [`events`], [`claim`], [`body`] or [`hunt`].

use crate::customs;
use crate::error::{ErrorBody, ErrorCode};
use crate::game::{ClaimRequest, GameEvent};
use crate::hunt::HuntDefinition;
use crate::ws::RequestId;
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// A request that could not be parsed: the error to answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// `invalid_json`, `invalid_request`, `invalid_event`, `invalid_hunt`,
    /// `batch_too_large` or `unknown_op`.
    pub code: ErrorCode,
    /// What is wrong, for people.
    pub message: String,
    /// For `invalid_event`: the index of the first bad event.
    pub index: Option<usize>,
    /// For `invalid_hunt`: the path of the field at fault.
    pub field: Option<String>,
}

impl ParseError {
    pub(crate) fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ParseError {
            code,
            message: message.into(),
            index: None,
            field: None,
        }
    }

    /// The `error` object of the answer.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code,
            message: self.message.clone(),
            index: self.index,
            field: self.field.clone(),
            ..ErrorBody::new(self.code, "")
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ParseError {}

/// `serde_json`'s error as a protocol error: syntax is `invalid_json`, a
/// wrong shape is `shape` (`invalid_request`, or `invalid_hunt` for hunts).
fn classify(e: &serde_json::Error, shape: ErrorCode) -> ParseError {
    match e.classify() {
        serde_json::error::Category::Data => ParseError::new(shape, e.to_string()),
        _ => ParseError::new(ErrorCode::InvalidJson, format!("malformed JSON: {e}")),
    }
}

/// Checks that `bytes` is one JSON object (`what` names it in the error).
fn object(bytes: &[u8], what: &str, shape: ErrorCode) -> Result<(), ParseError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'{') {
        return Ok(());
    }
    serde_json::from_slice::<IgnoredAny>(bytes).map_err(|e| classify(&e, shape))?;
    Err(ParseError::new(shape, format!("{what} must be a JSON object")))
}

/// Parses `bytes` (one JSON object) as `T`.
fn typed<'a, T: Deserialize<'a>>(bytes: &'a [u8], what: &str, shape: ErrorCode) -> Result<T, ParseError> {
    object(bytes, what, shape)?;
    serde_json::from_slice(bytes).map_err(|e| classify(&e, shape))
}

/// The body of an HTTP request or the fields of a WebSocket op, as `T`
/// (unknown fields, such as a frame's `id` and `op`, are ignored).
pub fn body<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, ParseError> {
    typed(bytes, "the body", ErrorCode::InvalidRequest)
}

/// The ops a frame may name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpName {
    /// `events`
    Events,
    /// `claim`
    Claim,
    /// `player`
    Player,
    /// `leaderboard`
    Leaderboard,
    /// `subscribe`
    Subscribe,
    /// `unsubscribe`
    Unsubscribe,
}

impl OpName {
    /// The op with this name on the wire, if there is one.
    pub fn from_wire(name: &str) -> Option<OpName> {
        Some(match name {
            "events" => OpName::Events,
            "claim" => OpName::Claim,
            "player" => OpName::Player,
            "leaderboard" => OpName::Leaderboard,
            "subscribe" => OpName::Subscribe,
            "unsubscribe" => OpName::Unsubscribe,
            _ => return None,
        })
    }
}

/// A WebSocket frame's envelope: the id to answer with and the op's name (or
/// the unknown name, answered `unknown_op`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// The request's id.
    pub id: RequestId,
    /// The op, or the unknown name that was sent.
    pub op: Result<OpName, Cow<'a, str>>,
}

/// A frame whose envelope is wrong: the error, with the id when it was read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvelopeError {
    /// The request's id, when it could be read.
    pub id: Option<RequestId>,
    /// What is wrong.
    pub error: ParseError,
}

/// Reads a frame's `id` and `op`.
pub fn envelope(bytes: &[u8]) -> Result<Envelope<'_>, EnvelopeError> {
    #[derive(Deserialize)]
    struct Raw<'a> {
        #[serde(borrow, default)]
        id: Option<&'a RawValue>,
        #[serde(borrow, default)]
        op: Option<&'a RawValue>,
    }
    let no_id = |error| EnvelopeError { id: None, error };
    let raw: Raw = typed(bytes, "a request", ErrorCode::InvalidRequest).map_err(no_id)?;
    let id = raw
        .id
        .ok_or_else(|| no_id(ParseError::new(ErrorCode::InvalidRequest, "missing field \"id\"")))?;
    let id: RequestId = serde_json::from_str(id.get()).map_err(|_| {
        no_id(ParseError::new(
            ErrorCode::InvalidRequest,
            "field \"id\" must be an integer",
        ))
    })?;
    let with_id = |message: &str| EnvelopeError {
        id: Some(id.clone()),
        error: ParseError::new(ErrorCode::InvalidRequest, message),
    };
    let op = raw.op.ok_or_else(|| with_id("missing field \"op\""))?;
    let op: Cow<str> = serde_json::from_str(op.get()).map_err(|_| with_id("field \"op\" must be a string"))?;
    Ok(Envelope {
        op: OpName::from_wire(&op).ok_or(op),
        id,
    })
}

/// The events of an `events` request. More than `max_events` is
/// `batch_too_large` (before any event is read); a bad event is
/// `invalid_event` with its index.
pub fn events(bytes: &[u8], max_events: usize) -> Result<Vec<GameEvent<'_>>, ParseError> {
    #[derive(Deserialize)]
    struct Batch<'a> {
        #[serde(borrow)]
        events: Vec<&'a RawValue>,
    }
    let batch: Batch = body(bytes)?;
    if batch.events.len() > max_events {
        return Err(ParseError::new(
            ErrorCode::BatchTooLarge,
            format!(
                "batch of {} events exceeds the maximum of {max_events}",
                batch.events.len()
            ),
        ));
    }
    batch
        .events
        .iter()
        .enumerate()
        .map(|(i, raw)| {
            serde_json::from_str::<GameEvent>(raw.get()).map_err(|e| ParseError {
                code: ErrorCode::InvalidEvent,
                message: format!("event {i} is invalid: {e}"),
                index: Some(i),
                field: None,
            })
        })
        .collect()
}

/// A claim request and the stored text of its `customs` (see [`customs::stored_text`]).
pub fn claim(bytes: &[u8]) -> Result<(ClaimRequest<'_>, String), ParseError> {
    let req: ClaimRequest = body(bytes)?;
    if let Some(raw) = req.customs {
        if !raw.get().starts_with('{') && raw.get() != "null" {
            return Err(ParseError::new(
                ErrorCode::InvalidRequest,
                "field \"customs\" must be a JSON object",
            ));
        }
    }
    let text = customs::stored_text(req.customs.filter(|r| r.get() != "null"))
        .map_err(|e| ParseError::new(ErrorCode::InvalidRequest, e))?;
    Ok((req, text))
}

/// A hunt definition; every shape error is `invalid_hunt`.
pub fn hunt(bytes: &[u8]) -> Result<HuntDefinition<'_>, ParseError> {
    object(bytes, "a hunt definition", ErrorCode::InvalidHunt)?;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let def = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let mut err = classify(e.inner(), ErrorCode::InvalidHunt);
        // `.` is the root: a missing top-level field names itself in the message.
        if err.code == ErrorCode::InvalidHunt && path != "." {
            err.field = Some(path);
        }
        err
    })?;
    de.end().map_err(|e| classify(&e, ErrorCode::InvalidHunt))?;
    Ok(def)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::game::EventKind;

    #[test]
    fn events_report_their_index() {
        let e = events(
            br#"{"events":[{"player":"p","hunt":"h","type":"checkin","location":"x"},{"player":"p","hunt":"h","type":"dance"}]}"#,
            10,
        )
        .unwrap_err();
        assert_eq!((e.code, e.index), (ErrorCode::InvalidEvent, Some(1)));
        let ok = events(
            br#"{"events":[{"player":"p","hunt":"h","type":"clue_found","clue":"c"}]}"#,
            10,
        )
        .unwrap();
        assert_eq!(ok[0].kind, EventKind::ClueFound { clue: "c".into() });
        assert!(matches!(ok[0].player, Cow::Borrowed("p")));
        assert_eq!(
            events(br#"{"events":{}}"#, 10).unwrap_err().code,
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            events(br#"{"events":[1,2]}"#, 1).unwrap_err().code,
            ErrorCode::BatchTooLarge
        );
        assert_eq!(
            events(br#"{"events":[1,2"#, 1).unwrap_err().code,
            ErrorCode::InvalidJson
        );
        assert_eq!(
            events(br#"[{"events":[]}]"#, 1).unwrap_err().code,
            ErrorCode::InvalidRequest
        );
    }

    #[test]
    fn envelopes_read_id_then_op() {
        let e = envelope(br#"{"id":7,"op":"player","player":"p"}"#).unwrap();
        assert_eq!((e.id, e.op), (RequestId::Unsigned(7), Ok(OpName::Player)));
        assert_eq!(envelope(br#"{"id":-2,"op":"dance"}"#).unwrap().op, Err("dance".into()));
        for (text, code, id) in [
            ("{not json", ErrorCode::InvalidJson, None),
            ("[1,2,3]", ErrorCode::InvalidRequest, None),
            (r#"{"id":"seven","op":"player"}"#, ErrorCode::InvalidRequest, None),
            (r#"{"id":1.5,"op":"player"}"#, ErrorCode::InvalidRequest, None),
            (r#"{"id":1}"#, ErrorCode::InvalidRequest, Some(RequestId::Unsigned(1))),
            (
                r#"{"id":1,"op":3}"#,
                ErrorCode::InvalidRequest,
                Some(RequestId::Unsigned(1)),
            ),
        ] {
            let e = envelope(text.as_bytes()).unwrap_err();
            assert_eq!((e.error.code, e.id), (code, id), "{text}");
        }
    }

    #[test]
    fn customs_must_be_an_object() {
        let c = |t: &str| claim(t.as_bytes()).map(|(_, c)| c).map_err(|e| e.code);
        let base = r#"{"claim_id":"c","player":"p","hunt":"h","sku":"s""#;
        assert_eq!(c(&format!("{base},\"customs\":[1]}}")), Err(ErrorCode::InvalidRequest));
        assert_eq!(
            c(&format!("{base},\"customs\":\"text\"}}")),
            Err(ErrorCode::InvalidRequest)
        );
        assert_eq!(c(&format!("{base}}}")), Ok("{}".into()));
        assert_eq!(c(&format!("{base},\"customs\":null}}")), Ok("{}".into()));
        assert_eq!(
            c(&format!("{base},\"customs\": {{\"a\" : 1}}}}")),
            Ok(r#"{"a":1}"#.into())
        );
        for dup in [r#""customs":{"a":1,"a":2}"#, r#""customs":{"a":1},"customs":{"a":1}"#] {
            assert_eq!(c(&format!("{base},{dup}}}")), Err(ErrorCode::InvalidRequest), "{dup}");
        }
    }

    #[test]
    fn hunts_fail_as_invalid_hunt() {
        assert_eq!(
            hunt(br#"{"id":"x","products":[{"sku":"a","stock":-1}]}"#)
                .unwrap_err()
                .code,
            ErrorCode::InvalidHunt
        );
        assert_eq!(hunt(br#"[1]"#).unwrap_err().code, ErrorCode::InvalidHunt);
        assert_eq!(
            hunt(br#"{"id":"x","opens_at":""}"#).unwrap_err().code,
            ErrorCode::InvalidHunt
        );
        let h = hunt(br#"{"id":"x","opens_at":"1970-01-01T00:00:01.5Z","closes_at":1234,"products":[{"sku":"a"}]}"#)
            .unwrap();
        assert_eq!(h.opens_at.map(|t| t.0), Some(1500));
        assert_eq!(h.closes_at.map(|t| t.0), Some(1234));
        assert_eq!(h.products[0].per_player_limit, 1);
    }
}
