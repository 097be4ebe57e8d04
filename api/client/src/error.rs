//! [`ClientError`]: every way a request of either transport can fail, with
//! the server's [`ErrorCode`] when the server answered with an error.

use std::time::Duration;
use trove_protocol::{ErrorBody, ErrorCode};

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error (`{"ok": false, "error"}` on the
    /// WebSocket, a 4xx/5xx with `{"error"}` over HTTP).
    #[error("{code}: {message}")]
    Server {
        /// The contract's code.
        code: ErrorCode,
        /// The server's message, for people.
        message: String,
        /// For `invalid_event`: the position of the bad event.
        index: Option<usize>,
        /// The HTTP status (`None` on the WebSocket).
        status: Option<u16>,
    },
    /// The WebSocket upgrade was refused with `401`: a missing or unknown
    /// key. Never retried.
    #[error("unauthorized: the server refused the key")]
    Unauthorized,
    /// The connection ended before the reply came. The request may or may
    /// not have been applied (claims are never failed this way: they are
    /// re-sent after the reconnect).
    #[error("disconnected before the reply")]
    Disconnected,
    /// No reply within the request timeout (the wait for a slot included).
    #[error("no reply within {0:?}")]
    Timeout(Duration),
    /// Admission refused: the connection already has this many requests in
    /// flight (only with [`Admission::FailFast`](crate::Admission::FailFast)).
    #[error("{0} requests already in flight")]
    Overloaded(usize),
    /// The client gave up reconnecting, or was shut down.
    #[error("the client is closed")]
    Closed,
    /// The WebSocket could not be opened or broke (other than a 401).
    #[error("websocket: {0}")]
    WebSocket(#[from] Box<tokio_tungstenite::tungstenite::Error>),
    /// The HTTP request failed below the protocol (connect, I/O, timeout).
    #[error("http: {0}")]
    Http(#[from] reqwest::Error),
    /// An answer that is not the expected JSON.
    #[error("unexpected answer: {0}")]
    Decode(#[from] serde_json::Error),
    /// A WebSocket frame that could not be written or read in the
    /// connection's [`Codec`](trove_protocol::Codec) (e.g. an answer that is
    /// not the expected MessagePack).
    #[error("unexpected frame: {0}")]
    Codec(#[from] trove_protocol::CodecError),
    /// An HTTP error status without the contract's error body.
    #[error("unexpected HTTP status {status}: {body}")]
    Status {
        /// The status.
        status: u16,
        /// The body, lossily as text.
        body: String,
    },
    /// The base URL or a path built from it is not a valid URL.
    #[error("invalid url: {0}")]
    Url(String),
}

impl ClientError {
    /// The contract's error code, when the server gave one (a refused
    /// WebSocket upgrade counts as [`ErrorCode::Unauthorized`]).
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Server { code, .. } => Some(*code),
            ClientError::Unauthorized => Some(ErrorCode::Unauthorized),
            _ => None,
        }
    }

    pub(crate) fn server(body: ErrorBody, status: Option<u16>) -> ClientError {
        ClientError::Server {
            code: body.code,
            message: body.message,
            index: body.index,
            status,
        }
    }
}

/// Decodes a reply type that may borrow (`Cow<'a, str>` fields) into its
/// owned (`'static`) form: read through `io::Read`, serde never borrows.
pub(crate) fn decode_owned<T: serde::Deserialize<'static>>(bytes: &[u8]) -> Result<T, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_reader(bytes);
    let value = T::deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}
