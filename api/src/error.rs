//! API errors: a stable [`ErrorCode`], a human message, and the HTTP status
//! the code maps to. The same codes travel in WebSocket error replies.
//! Every code is listed in `docs/PROTOCOL.md` (a test of trove-protocol keeps
//! the list equal to [`ErrorCode::ALL`]).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use trove_engine::EngineError;
use trove_protocol::parse::ParseError;
use trove_protocol::{ErrorBody, ErrorCode, ErrorReply};
use trove_readmodel::ReadModelError;

/// An error answer: over HTTP `{"error": {...}}` with [`ApiError::status`],
/// over the WebSocket an error reply with the request's id.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub(crate) struct ApiError {
    /// The stable code.
    pub(crate) code: ErrorCode,
    /// What went wrong, for people.
    pub(crate) message: String,
    /// The HTTP status (the code's, see [`ErrorCode::http_status`]).
    pub(crate) status: StatusCode,
    /// Index of the offending event, for `invalid_event`.
    pub(crate) index: Option<usize>,
    /// The field at fault, for `invalid_hunt`.
    pub(crate) field: Option<String>,
    /// Cluster routing details (`moved`, `partition_span`, ...).
    pub(crate) routing: Option<Box<Routing>>,
}

/// The cluster fields of an error body.
#[derive(Debug, Clone, Default)]
pub(crate) struct Routing {
    partition: Option<u32>,
    url: Option<String>,
    epoch: Option<i64>,
    partitions: Option<std::collections::BTreeMap<String, Vec<usize>>>,
}

impl ApiError {
    /// An error with `code`, answered over HTTP with the code's status.
    pub(crate) fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            status: StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            index: None,
            field: None,
            routing: None,
        }
    }

    #[cfg_attr(not(feature = "cluster"), allow(dead_code))]
    fn routing_mut(&mut self) -> &mut Routing {
        self.routing.get_or_insert_with(Default::default)
    }

    #[cfg_attr(not(feature = "cluster"), allow(dead_code))]
    /// With the partition concerned and, for `moved`, its owner's URL.
    pub(crate) fn routing(mut self, partition: u32, url: Option<String>) -> Self {
        let r = self.routing_mut();
        r.partition = Some(partition);
        r.url = url;
        self
    }

    #[cfg_attr(not(feature = "cluster"), allow(dead_code))]
    /// With the partition's current epoch.
    pub(crate) fn with_epoch(mut self, epoch: i64) -> Self {
        self.routing_mut().epoch = Some(epoch);
        self
    }

    #[cfg_attr(not(feature = "cluster"), allow(dead_code))]
    /// For `partition_span`: the indexes of a batch per partition.
    pub(crate) fn spanning(mut self, by_partition: std::collections::BTreeMap<u32, Vec<usize>>) -> Self {
        self.routing_mut().partitions = Some(by_partition.into_iter().map(|(p, v)| (p.to_string(), v)).collect());
        self
    }

    /// `invalid_request`: a wrong shape or value.
    pub(crate) fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, message)
    }

    /// `invalid_json`: not JSON, or an empty body.
    pub(crate) fn invalid_json(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidJson, message)
    }

    /// `unauthorized`: missing or unknown key.
    pub(crate) fn unauthorized() -> Self {
        Self::new(
            ErrorCode::Unauthorized,
            "missing or invalid key: send `Authorization: Bearer KEY`",
        )
    }

    /// `forbidden`: the role may not do `what`.
    pub(crate) fn forbidden(role: &str, what: &str) -> Self {
        Self::new(ErrorCode::Forbidden, format!("the {role} role may not {what}"))
    }

    /// `not_ready`: still recovering.
    pub(crate) fn not_ready() -> Self {
        Self::new(
            ErrorCode::NotReady,
            "the server is still recovering its state; retry shortly",
        )
    }

    /// `shutting_down`.
    pub(crate) fn shutting_down() -> Self {
        Self::new(ErrorCode::ShuttingDown, "the server is shutting down")
    }

    /// `message_too_large`: `len` bytes over `max`.
    pub(crate) fn message_too_large(len: usize, max: usize) -> Self {
        Self::new(
            ErrorCode::MessageTooLarge,
            format!("message of {len} bytes exceeds the maximum of {max}"),
        )
    }

    /// `internal`: a bug or damaged storage.
    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }

    /// The `error` object of a reply.
    pub(crate) fn body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code,
            message: self.message.clone(),
            index: self.index,
            field: self.field.clone(),
            partition: self.routing.as_ref().and_then(|r| r.partition),
            url: self.routing.as_ref().and_then(|r| r.url.clone()),
            epoch: self.routing.as_ref().and_then(|r| r.epoch),
            partitions: self.routing.as_ref().and_then(|r| r.partitions.clone()),
        }
    }
}

impl From<ParseError> for ApiError {
    fn from(e: ParseError) -> Self {
        ApiError {
            index: e.index,
            field: e.field,
            ..ApiError::new(e.code, e.message)
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let code = match &e {
            EngineError::InvalidEvent { .. } => ErrorCode::InvalidEvent,
            EngineError::BatchTooLarge { .. } => ErrorCode::BatchTooLarge,
            EngineError::InvalidRequest(_) => ErrorCode::InvalidRequest,
            EngineError::InvalidHunt(_) => ErrorCode::InvalidHunt,
            EngineError::HuntConflict(_) => ErrorCode::HuntConflict,
            EngineError::UnknownHunt(_) => ErrorCode::UnknownHunt,
            EngineError::UnknownProduct { .. } => ErrorCode::UnknownProduct,
            EngineError::ClaimIdConflict { .. } => ErrorCode::ClaimIdConflict,
            EngineError::TooManyClaims { .. } => ErrorCode::TooManyClaims,
            EngineError::Overloaded => ErrorCode::Overloaded,
            EngineError::Journal(trove_engine::JournalError::Refused(_)) => ErrorCode::RecordTooLarge,
            EngineError::Journal(_) => ErrorCode::JournalFailed,
            EngineError::Stopped => ErrorCode::Stopped,
        };
        debug_assert_eq!(code.as_str(), e.code());
        let index = match &e {
            EngineError::InvalidEvent { index, .. } => Some(*index),
            _ => None,
        };
        let field = match &e {
            EngineError::InvalidHunt(h) => Some(h.field.clone()),
            _ => None,
        };
        ApiError {
            index,
            field,
            ..ApiError::new(code, e.to_string())
        }
    }
}

/// The read models' errors keep the codes they had inside trove-api: an
/// engine refusal as that engine error, anything else `500 internal`.
impl From<ReadModelError> for ApiError {
    fn from(e: ReadModelError) -> Self {
        match e {
            ReadModelError::Engine(e) => e.into(),
            other => ApiError::internal(other.to_string()),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut r = HttpResponse::build(self.status);
        if self.status == StatusCode::UNAUTHORIZED {
            r.insert_header(("WWW-Authenticate", "Bearer"));
        }
        r.json(ErrorReply {
            ok: false,
            error: self.body(),
        })
    }
}
