//! API errors: a stable snake_case `code`, a human message, and the HTTP
//! status it maps to. The same codes travel in WebSocket error replies.
//! Every code is listed in `docs/PROTOCOL.md`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::{json, Value};
use std::borrow::Cow;
use trove_engine::EngineError;
use trove_readmodel::ReadModelError;

#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub code: Cow<'static, str>,
    pub message: String,
    pub status: StatusCode,
    /// Index of the offending event, for `invalid_event`.
    pub index: Option<usize>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code: Cow::Borrowed(code),
            message: message.into(),
            status,
            index: None,
        }
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    pub fn invalid_json(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_json", message)
    }

    pub fn invalid_event(index: usize, message: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::BAD_REQUEST, "invalid_event", message);
        e.index = Some(index);
        e
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or invalid key: send `Authorization: Bearer KEY`",
        )
    }

    pub fn forbidden(role: &str, what: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("the {role} role may not {what}"),
        )
    }

    pub fn not_ready() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "the server is still recovering its state; retry shortly",
        )
    }

    pub fn shutting_down() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the server is shutting down",
        )
    }

    pub fn message_too_large(len: usize, max: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "message_too_large",
            format!("message of {len} bytes exceeds the maximum of {max}"),
        )
    }

    pub fn unknown_hunt(hunt: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "unknown_hunt", format!("unknown hunt {hunt:?}"))
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    /// The `error` object of a reply.
    pub fn body(&self) -> Value {
        let mut e = json!({ "code": self.code, "message": self.message });
        if let Some(i) = self.index {
            e["index"] = json!(i);
        }
        e
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let status = match &e {
            EngineError::InvalidEvent { .. } | EngineError::InvalidRequest(_) | EngineError::InvalidHunt(_) => {
                StatusCode::BAD_REQUEST
            }
            EngineError::BatchTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            EngineError::HuntConflict(_) | EngineError::ClaimIdConflict { .. } => StatusCode::CONFLICT,
            EngineError::UnknownHunt(_) | EngineError::UnknownProduct { .. } => StatusCode::NOT_FOUND,
            EngineError::TooManyClaims { .. } => StatusCode::CONFLICT,
            EngineError::Journal(trove_engine::JournalError::Refused(_)) => StatusCode::PAYLOAD_TOO_LARGE,
            EngineError::Overloaded | EngineError::Journal(_) | EngineError::Stopped => StatusCode::SERVICE_UNAVAILABLE,
        };
        let index = match &e {
            EngineError::InvalidEvent { index, .. } => Some(*index),
            _ => None,
        };
        ApiError {
            code: Cow::Borrowed(e.code()),
            message: e.to_string(),
            status,
            index,
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
        r.json(json!({ "error": self.body() }))
    }
}
