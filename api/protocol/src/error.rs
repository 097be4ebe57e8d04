//! Error codes and error bodies: what a failed request answers, on both
//! transports.

use serde::{Deserialize, Serialize};
use std::fmt;
use utoipa::ToSchema;

macro_rules! error_codes {
    ($( $(#[$doc:meta])* $variant:ident = $text:literal, $status:literal; )*) => {
        /// A stable, snake_case error code. Every code the server sends is a
        /// variant; `docs/PROTOCOL.md` lists them all (a test keeps the two equal).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum ErrorCode {
            $( $(#[$doc])* $variant, )*
        }

        impl ErrorCode {
            /// Every code, in the order of `docs/PROTOCOL.md`'s table.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),*];

            /// The code as it travels on the wire, e.g. `"invalid_event"`.
            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $text,)* }
            }

            /// The HTTP status that carries this code. Codes that only occur
            /// on the WebSocket have a nominal status (never sent over HTTP).
            pub fn http_status(self) -> u16 {
                match self { $(ErrorCode::$variant => $status,)* }
            }

            /// The code with this wire text, if there is one.
            pub fn from_wire(text: &str) -> Option<ErrorCode> {
                match text { $($text => Some(ErrorCode::$variant),)* _ => None }
            }
        }
    };
}

error_codes! {
    /// Missing or unknown key.
    Unauthorized = "unauthorized", 401;
    /// The key's role may not do this.
    Forbidden = "forbidden", 403;
    /// The body or frame is not JSON (or the HTTP body is empty); on a
    /// MessagePack connection, not one well-formed MessagePack value of the
    /// JSON data model.
    InvalidJson = "invalid_json", 400;
    /// Not an object, missing or mistyped field, value out of range.
    InvalidRequest = "invalid_request", 400;
    /// An event of a batch is invalid; [`ErrorBody::index`] is its position.
    InvalidEvent = "invalid_event", 400;
    /// The hunt definition is invalid.
    InvalidHunt = "invalid_hunt", 400;
    /// WebSocket: `op` is not a known op.
    UnknownOp = "unknown_op", 400;
    /// WebSocket: a frame of the other encoding (binary on a JSON
    /// connection, text on a MessagePack one).
    UnsupportedFrame = "unsupported_frame", 400;
    /// No such hunt.
    UnknownHunt = "unknown_hunt", 404;
    /// No such product in the hunt.
    UnknownProduct = "unknown_product", 404;
    /// No such endpoint.
    NotFound = "not_found", 404;
    /// The endpoint exists but not with this method (the answer has `Allow`).
    MethodNotAllowed = "method_not_allowed", 405;
    /// Another definition already uses this hunt id.
    HuntConflict = "hunt_conflict", 409;
    /// This player's `claim_id` was already used for another hunt or sku.
    ClaimIdConflict = "claim_id_conflict", 409;
    /// The player has used the maximum number of claim ids.
    TooManyClaims = "too_many_claims", 409;
    /// Request body or message over the size limit.
    MessageTooLarge = "message_too_large", 413;
    /// Too many events in one batch.
    BatchTooLarge = "batch_too_large", 413;
    /// The journal refused the record as too large.
    RecordTooLarge = "record_too_large", 413;
    /// WebSocket: too many live subscriptions on one connection.
    TooManySubscriptions = "too_many_subscriptions", 429;
    /// WebSocket: `unsubscribe` of a subscription the connection does not hold.
    UnknownSubscription = "unknown_subscription", 404;
    /// The engine is at capacity; retry later.
    Overloaded = "overloaded", 503;
    /// A journal write failed; the server accepts no more writes.
    JournalFailed = "journal_failed", 503;
    /// The engine is stopping.
    Stopped = "stopped", 503;
    /// Still recovering; retry shortly.
    NotReady = "not_ready", 503;
    /// The server is shutting down.
    ShuttingDown = "shutting_down", 503;
    /// `POST /v1/admin/snapshot` could not write the snapshot.
    SnapshotFailed = "snapshot_failed", 503;
    /// A bug or damaged storage.
    Internal = "internal", 500;
    /// Cluster: the player's partition is owned by another node; the error
    /// names the `partition` and its owner's `url` (Redis Cluster's MOVED).
    Moved = "moved", 421;
    /// Cluster: an `events` batch holds players of several partitions;
    /// `partitions` maps each partition to the indexes of its events.
    PartitionSpan = "partition_span", 400;
    /// Cluster: the request named an ownership epoch that is no longer the
    /// partition's; `epoch` is the current one (if this node owns it).
    StaleEpoch = "stale_epoch", 409;
    /// Cluster: this node owns the partition but cannot serve it now (it is
    /// opening, fenced after losing its lease, or its folder is damaged).
    PartitionUnavailable = "partition_unavailable", 503;
    /// Cluster: no such partition (at or over the cluster's count).
    UnknownPartition = "unknown_partition", 404;
    /// Cluster: the cluster (etcd) could not be reached or refused the
    /// change; retry.
    ClusterUnavailable = "cluster_unavailable", 503;
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `error` object of a failed request: `{"code", "message", "index"?, "field"?}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong, as a stable code.
    pub code: ErrorCode,
    /// What went wrong, for people; not stable.
    pub message: String,
    /// For `invalid_event`: the position of the first bad event in the batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0)]
    pub index: Option<usize>,
    /// For `invalid_hunt`: the path of the field at fault, e.g.
    /// `products[1].stock`, when the problem is at one field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For `moved`, `stale_epoch` and `partition_unavailable`: the partition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<u32>,
    /// For `moved`: the URL of the partition's owner, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// For `stale_epoch`: the partition's current epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<i64>,
    /// For `partition_span`: each partition (as a decimal string) with the
    /// indexes of the batch's events that belong to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partitions: Option<std::collections::BTreeMap<String, Vec<usize>>>,
}

impl ErrorBody {
    /// An error body with only a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ErrorBody {
        ErrorBody {
            code,
            message: message.into(),
            index: None,
            field: None,
            partition: None,
            url: None,
            epoch: None,
            partitions: None,
        }
    }
}

/// An HTTP error answer: `{"error": {...}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorReply {
    /// Always `false`, as in WebSocket error replies.
    #[serde(default)]
    pub ok: bool,
    /// The error.
    pub error: ErrorBody,
}

/// Compares with the wire text: `code == "invalid_event"`.
impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}
