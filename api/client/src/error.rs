//! [`ClientError`]: every way a request of either transport can fail, with
//! the server's [`ErrorCode`] when the server answered with an error.
//!
//! A cluster's routing answers (`moved`, `partition_unavailable`,
//! `partition_span`, `stale_epoch`) carry more than a code and a message:
//! the partition, its owner's URL, an epoch, the batch's indexes per
//! partition. Those arrive whole as [`ClientError::Routing`] (read them with
//! [`ClientError::routing`]); every other server error stays a
//! [`ClientError::Server`], so single-node callers see what they always
//! did. The [`ClusterClient`](crate::ClusterClient) adds
//! [`ClientError::Partition`] (a failure on one partition, e.g. of its claims
//! feed) and [`ClientError::Events`] (sub-batches of an events batch that
//! failed while others may have been applied).

use std::fmt;
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
    /// The server answered with an error that carries cluster routing
    /// fields (`partition`, `url`, `epoch` or `partitions`): `moved`,
    /// `partition_unavailable`, `partition_span`, `stale_epoch`. The whole
    /// body is kept; see [`ClientError::routing`].
    #[error("{}: {}", .body.code, .body.message)]
    Routing {
        /// The server's error body, every field of it.
        body: Box<ErrorBody>,
        /// The HTTP status (`None` on the WebSocket).
        status: Option<u16>,
    },
    /// A [`ClusterClient`](crate::ClusterClient) operation failed on one
    /// partition (e.g. its claims feed could not go on).
    #[error("{0}")]
    Partition(Box<PartitionError>),
    /// Some sub-batches of a
    /// [`ClusterClient::events`](crate::ClusterClient::events) batch failed.
    /// The other sub-batches were applied (`applied`); a failed one was not
    /// applied unless its error is one that leaves it unknown
    /// ([`ClientError::Disconnected`], [`ClientError::Timeout`],
    /// [`ClientError::Closed`]).
    #[error("events failed on {} partition(s): {}", .failed.len(), list(.failed))]
    Events {
        /// What the sub-batches that succeeded applied.
        applied: ClusterEventsReply,
        /// Each failed sub-batch, by partition.
        failed: Vec<PartitionError>,
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
    ///
    /// For [`ClientError::Partition`] it is the partition's error's code, for
    /// [`ClientError::Events`] the first failed sub-batch's.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Server { code, .. } => Some(*code),
            ClientError::Routing { body, .. } => Some(body.code),
            ClientError::Partition(p) => p.error.code(),
            ClientError::Events { failed, .. } => failed.first().and_then(|f| f.error.code()),
            ClientError::Unauthorized => Some(ErrorCode::Unauthorized),
            _ => None,
        }
    }

    /// The server's whole error body when it carried cluster routing fields
    /// ([`ClientError::Routing`], also inside [`ClientError::Partition`]):
    /// for `moved`, `partition` and the owner's `url`; for `partition_span`,
    /// `partitions`.
    pub fn routing(&self) -> Option<&ErrorBody> {
        match self {
            ClientError::Routing { body, .. } => Some(body),
            ClientError::Partition(p) => p.error.routing(),
            _ => None,
        }
    }

    pub(crate) fn server(body: ErrorBody, status: Option<u16>) -> ClientError {
        if body.partition.is_some() || body.url.is_some() || body.epoch.is_some() || body.partitions.is_some() {
            return ClientError::Routing {
                body: Box::new(body),
                status,
            };
        }
        ClientError::Server {
            code: body.code,
            message: body.message,
            index: body.index,
            status,
        }
    }
}

/// What failed on one partition, for [`ClientError::Partition`] and
/// [`ClientError::Events`].
#[derive(Debug)]
pub struct PartitionError {
    /// The partition.
    pub partition: u32,
    /// For an events batch: the positions in the caller's batch of the
    /// sub-batch's events (an `invalid_event` error's `index` is already
    /// translated to a position in the caller's batch). Empty otherwise.
    pub indexes: Vec<usize>,
    /// Why.
    pub error: ClientError,
}

impl fmt::Display for PartitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "partition {}", self.partition)?;
        if !self.indexes.is_empty() {
            write!(f, " (events {:?})", self.indexes)?;
        }
        write!(f, ": {}", self.error)
    }
}

fn list(failed: &[PartitionError]) -> String {
    let parts: Vec<String> = failed.iter().map(ToString::to_string).collect();
    parts.join("; ")
}

/// Decodes a reply type that may borrow (`Cow<'a, str>` fields) into its
/// owned (`'static`) form: read through `io::Read`, serde never borrows.
pub(crate) fn decode_owned<T: serde::Deserialize<'static>>(bytes: &[u8]) -> Result<T, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_reader(bytes);
    let value = T::deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// What `ClusterClient::events` applied: the events accepted over all
/// partitions, and the journal sequence each partition's sub-batch reached.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterEventsReply {
    /// Events applied, over all partitions.
    pub accepted: u64,
    /// By partition: the journal sequence of its sub-batch's last event.
    pub seqs: std::collections::BTreeMap<u32, u64>,
}
