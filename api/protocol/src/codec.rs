//! [`Codec`]: the encoding of one WebSocket connection, chosen in the
//! handshake with `Sec-WebSocket-Protocol`: JSON text frames
//! (`trove.v1.json`, the default) or MessagePack binary frames
//! (`trove.v1.msgpack`). Both carry the same ops, fields and error codes;
//! only the bytes differ. The server reads requests and writes replies and
//! pushes through it; a client writes requests and reads replies through it.

use crate::error::ErrorCode;
use crate::game::{ClaimRequest, GameEvent};
use crate::msgpack::{self, Check};
use crate::parse::{self, Envelope, EnvelopeError, ParseError};
use crate::ws::{Op, RequestId, WsReply};
use serde::{Deserialize, Serialize};

/// The encoding of a WebSocket connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Codec {
    /// JSON text frames: subprotocol `trove.v1.json`, or none.
    #[default]
    Json,
    /// MessagePack binary frames: subprotocol `trove.v1.msgpack`.
    MessagePack,
}

/// A frame to send: text for JSON, binary for MessagePack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// A text frame (JSON).
    Text(String),
    /// A binary frame (MessagePack).
    Binary(Vec<u8>),
}

impl Frame {
    /// The frame's payload.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Frame::Text(t) => t.as_bytes(),
            Frame::Binary(b) => b,
        }
    }
}

/// A value that could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// JSON.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    /// MessagePack, writing.
    #[error("msgpack: {0}")]
    Encode(#[from] rmp_serde::encode::Error),
    /// MessagePack, reading.
    #[error("msgpack: {0}")]
    Decode(#[from] rmp_serde::decode::Error),
}

/// What went wrong in the handshake's `Sec-WebSocket-Protocol`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("no supported subprotocol in {offered:?}; offer trove.v1.json or trove.v1.msgpack (or none, for JSON)")]
pub struct UnsupportedSubprotocol {
    /// The protocols the client offered.
    pub offered: Vec<String>,
}

impl Codec {
    /// Both codecs.
    pub const ALL: [Codec; 2] = [Codec::Json, Codec::MessagePack];

    /// The subprotocol name of the codec, as in `Sec-WebSocket-Protocol`.
    pub const fn subprotocol(self) -> &'static str {
        match self {
            Codec::Json => "trove.v1.json",
            Codec::MessagePack => "trove.v1.msgpack",
        }
    }

    /// The codec of a subprotocol name (exact, case-sensitive).
    pub fn from_subprotocol(name: &str) -> Option<Codec> {
        Codec::ALL.into_iter().find(|c| c.subprotocol() == name)
    }

    /// The server's choice from the values of the client's
    /// `Sec-WebSocket-Protocol` headers (each a comma-separated list, in the
    /// client's order of preference): `Ok(None)` when nothing was offered
    /// (JSON, and no protocol in the answer), the client's first supported
    /// protocol otherwise, and an error when none of the offered ones is
    /// supported (the server refuses the upgrade).
    pub fn negotiate<'a>(headers: impl IntoIterator<Item = &'a str>) -> Result<Option<Codec>, UnsupportedSubprotocol> {
        let offered: Vec<&str> = headers
            .into_iter()
            .flat_map(|h| h.split(','))
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        if offered.is_empty() {
            return Ok(None);
        }
        match offered.iter().find_map(|p| Codec::from_subprotocol(p)) {
            Some(c) => Ok(Some(c)),
            None => Err(UnsupportedSubprotocol {
                offered: offered.into_iter().map(str::to_owned).collect(),
            }),
        }
    }

    /// Reads a request frame's `id` and `op`, and hands back the frame's
    /// [`Fields`] to read the op's fields from: what the server does with
    /// every frame. The frame is checked once (a MessagePack frame is
    /// validated here, not again when its fields are read).
    pub fn read(self, bytes: &[u8]) -> Result<(Envelope<'_>, Fields<'_>), EnvelopeError> {
        let envelope = self.envelope(bytes)?;
        Ok((envelope, Fields { codec: self, bytes }))
    }

    /// Reads a request frame's `id` and `op`.
    pub fn envelope(self, bytes: &[u8]) -> Result<Envelope<'_>, EnvelopeError> {
        match self {
            Codec::Json => parse::envelope(bytes),
            Codec::MessagePack => msgpack::envelope(bytes),
        }
    }

    /// The events of an `events` request (`batch_too_large` beyond `max_events`).
    pub fn events(self, bytes: &[u8], max_events: usize) -> Result<Vec<GameEvent<'_>>, ParseError> {
        match self {
            Codec::Json => parse::events(bytes, max_events),
            Codec::MessagePack => msgpack::events(bytes, max_events),
        }
    }

    /// A claim request and the stored JSON text of its `customs`.
    pub fn claim(self, bytes: &[u8]) -> Result<(ClaimRequest<'_>, String), ParseError> {
        match self {
            Codec::Json => parse::claim(bytes),
            Codec::MessagePack => msgpack::claim(bytes),
        }
    }

    /// An op's fields as `T`.
    pub fn body<'a, T: Deserialize<'a>>(self, bytes: &'a [u8]) -> Result<T, ParseError> {
        match self {
            Codec::Json => parse::body(bytes),
            Codec::MessagePack => msgpack::body(bytes),
        }
    }

    /// One value as a frame (a push, an error reply).
    pub fn encode<T: Serialize + ?Sized>(self, value: &T) -> Result<Frame, CodecError> {
        Ok(match self {
            Codec::Json => Frame::Text(serde_json::to_string(value)?),
            Codec::MessagePack => Frame::Binary(rmp_serde::to_vec_named(value)?),
        })
    }

    /// A success reply: `id` first, then the fields of `body` (one of the
    /// `*Reply` types).
    pub fn reply<T: Serialize>(self, id: &RequestId, body: &T) -> Result<Frame, CodecError> {
        match self {
            Codec::Json => self.encode(&WsReply { id: id.clone(), body }),
            Codec::MessagePack => Ok(Frame::Binary(msgpack::with_id(id, &rmp_serde::to_vec_named(body)?)?)),
        }
    }

    /// A request frame: `{"id": id, "op": ..., ...fields}`.
    pub fn request(self, id: &RequestId, op: &Op<'_>) -> Result<Frame, CodecError> {
        self.with_id(id, &self.encode(op)?)
    }

    /// An encoded map (e.g. an [`Op`] from [`Codec::encode`]) with `"id": id`
    /// put first, so that a request can be encoded before its id is known.
    pub fn with_id(self, id: &RequestId, frame: &Frame) -> Result<Frame, CodecError> {
        match (self, frame) {
            (Codec::Json, Frame::Text(text)) => {
                let rest = text
                    .trim_start()
                    .strip_prefix('{')
                    .ok_or_else(|| CodecError::Json(serde::ser::Error::custom("the frame is not a JSON object")))?;
                let id = serde_json::to_string(id)?;
                let sep = if rest.trim_start().starts_with('}') { "" } else { "," };
                Ok(Frame::Text(format!("{{\"id\":{id}{sep}{rest}")))
            }
            (Codec::MessagePack, Frame::Binary(bytes)) => Ok(Frame::Binary(msgpack::with_id(id, bytes)?)),
            _ => Err(CodecError::Encode(rmp_serde::encode::Error::Syntax(
                "a frame of the other codec".into(),
            ))),
        }
    }

    /// Reads a whole frame as `T` in its owned form (strings are copied, so
    /// `T` may be a `'static` reply type with `Cow` fields).
    pub fn decode_owned<T: Deserialize<'static>>(self, bytes: &[u8]) -> Result<T, CodecError> {
        match self {
            Codec::Json => {
                let mut de = serde_json::Deserializer::from_reader(bytes);
                let value = T::deserialize(&mut de)?;
                de.end()?;
                Ok(value)
            }
            Codec::MessagePack => {
                let mut rd = bytes;
                let value = T::deserialize(&mut rmp_serde::Deserializer::new(&mut rd))?;
                if !rd.is_empty() {
                    return Err(CodecError::Decode(rmp_serde::decode::Error::Syntax(format!(
                        "{} bytes after the value",
                        rd.len()
                    ))));
                }
                Ok(value)
            }
        }
    }

    /// Reads a whole frame as `T`, borrowing strings from `bytes` where it can.
    pub fn decode<'a, T: Deserialize<'a>>(self, bytes: &'a [u8]) -> Result<T, CodecError> {
        Ok(match self {
            Codec::Json => serde_json::from_slice(bytes)?,
            Codec::MessagePack => rmp_serde::from_slice(bytes)?,
        })
    }

    /// The error to answer a frame of the other kind (a binary frame on a
    /// JSON connection, a text frame on a MessagePack one).
    pub fn wrong_frame(self) -> (ErrorCode, &'static str) {
        match self {
            Codec::Json => (
                ErrorCode::UnsupportedFrame,
                "binary frames are not supported on a JSON connection; send JSON text frames \
                 (or connect with the subprotocol trove.v1.msgpack)",
            ),
            Codec::MessagePack => (
                ErrorCode::UnsupportedFrame,
                "text frames are not supported on a MessagePack connection (trove.v1.msgpack); \
                 send MessagePack binary frames",
            ),
        }
    }
}

/// The bytes of one request, whose op's fields are read from them: from
/// [`Codec::read`] (a WebSocket frame whose envelope was read) or
/// [`Fields::json`] (a JSON document, e.g. an HTTP body). The fields borrow
/// from the bytes.
#[derive(Clone, Copy, Debug)]
pub struct Fields<'a> {
    codec: Codec,
    /// JSON, or MessagePack that [`Codec::read`] validated.
    bytes: &'a [u8],
}

impl<'a> Fields<'a> {
    /// A JSON document's fields (nothing is checked yet).
    pub fn json(bytes: &'a [u8]) -> Fields<'a> {
        Fields {
            codec: Codec::Json,
            bytes,
        }
    }

    /// The codec of the bytes.
    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// The events of an `events` request (see [`Codec::events`]).
    pub fn events(self, max_events: usize) -> Result<Vec<GameEvent<'a>>, ParseError> {
        match self.codec {
            Codec::Json => parse::events(self.bytes, max_events),
            Codec::MessagePack => msgpack::events_in(self.bytes, max_events, Check::MapOnly),
        }
    }

    /// A claim request and the stored JSON text of its `customs` (see [`Codec::claim`]).
    pub fn claim(self) -> Result<(ClaimRequest<'a>, String), ParseError> {
        match self.codec {
            Codec::Json => parse::claim(self.bytes),
            Codec::MessagePack => msgpack::claim_in(self.bytes, Check::MapOnly),
        }
    }

    /// An op's fields as `T` (see [`Codec::body`]).
    pub fn body<T: Deserialize<'a>>(self) -> Result<T, ParseError> {
        match self.codec {
            Codec::Json => parse::body(self.bytes),
            Codec::MessagePack => msgpack::body_in(self.bytes, Check::MapOnly),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_takes_the_clients_first_supported_protocol() {
        assert_eq!(Codec::negotiate([]), Ok(None));
        assert_eq!(Codec::negotiate([""]), Ok(None));
        assert_eq!(Codec::negotiate(["trove.v1.msgpack"]), Ok(Some(Codec::MessagePack)));
        assert_eq!(
            Codec::negotiate(["chat, trove.v1.json", "trove.v1.msgpack"]),
            Ok(Some(Codec::Json))
        );
        assert_eq!(
            Codec::negotiate(["trove.v2.msgpack,TROVE.V1.JSON"])
                .unwrap_err()
                .offered,
            ["trove.v2.msgpack", "TROVE.V1.JSON"]
        );
    }

    #[test]
    fn replies_and_requests_put_the_id_first() {
        let id = RequestId::from(5u64);
        let body = crate::EventsReply {
            ok: true,
            accepted: 2,
            seq: 9,
        };
        let json = Codec::Json.reply(&id, &body).unwrap();
        assert_eq!(json, Frame::Text(r#"{"id":5,"ok":true,"accepted":2,"seq":9}"#.into()));
        let mp = Codec::MessagePack.reply(&id, &body).unwrap();
        let v: serde_json::Value = Codec::MessagePack.decode(mp.as_bytes()).unwrap();
        let j: serde_json::Value = serde_json::from_slice(json.as_bytes()).unwrap();
        assert_eq!(v, j);
        let back: crate::EventsReply = Codec::MessagePack.decode_owned(mp.as_bytes()).unwrap();
        assert_eq!(back, body);
        let op = Op::Unsubscribe(crate::UnsubscribeRequest { subscription: 3 });
        for codec in Codec::ALL {
            let frame = codec.request(&id, &op).unwrap();
            let v: serde_json::Value = codec.decode(frame.as_bytes()).unwrap();
            assert_eq!(v, serde_json::json!({"id": 5, "op": "unsubscribe", "subscription": 3}));
        }
        assert_eq!(
            Codec::Json.with_id(&id, &Frame::Text("{}".into())).unwrap(),
            Frame::Text(r#"{"id":5}"#.into())
        );
    }
}
