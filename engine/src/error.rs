//! Engine errors. Each has a stable snake_case code that the API sends to
//! clients unchanged; see `docs/PROTOCOL.md`.

use crate::journal::JournalError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    #[error("event {index} is invalid: {reason}")]
    InvalidEvent { index: usize, reason: String },
    #[error("batch of {len} events exceeds the maximum of {max}")]
    BatchTooLarge { len: usize, max: usize },
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("invalid hunt definition: {0}")]
    InvalidHunt(String),
    #[error("hunt {0:?} already exists with a different definition")]
    HuntConflict(String),
    #[error("unknown hunt {0:?}")]
    UnknownHunt(String),
    #[error("unknown product {sku:?} in hunt {hunt:?}")]
    UnknownProduct { hunt: String, sku: String },
    #[error("claim id {claim_id:?} was already used for {hunt}/{sku}")]
    ClaimIdConflict {
        claim_id: String,
        hunt: String,
        sku: String,
    },
    #[error("player {player:?} has used the maximum number of claim ids")]
    TooManyClaims { player: String },
    #[error("engine is at capacity; retry later")]
    Overloaded,
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("engine is stopped")]
    Stopped,
}

impl EngineError {
    /// The stable error code clients see.
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::InvalidEvent { .. } => "invalid_event",
            EngineError::BatchTooLarge { .. } => "batch_too_large",
            EngineError::InvalidRequest(_) => "invalid_request",
            EngineError::InvalidHunt(_) => "invalid_hunt",
            EngineError::HuntConflict(_) => "hunt_conflict",
            EngineError::UnknownHunt(_) => "unknown_hunt",
            EngineError::UnknownProduct { .. } => "unknown_product",
            EngineError::ClaimIdConflict { .. } => "claim_id_conflict",
            EngineError::TooManyClaims { .. } => "too_many_claims",
            EngineError::Overloaded => "overloaded",
            EngineError::Journal(JournalError::Refused(_)) => "record_too_large",
            EngineError::Journal(_) => "journal_failed",
            EngineError::Stopped => "stopped",
        }
    }
}
