//! Engine errors. Each has a stable snake_case code that the API sends to
//! clients unchanged; see `docs/PROTOCOL.md`.

use crate::journal::JournalError;

/// Why an [`Engine`](crate::Engine) call has no answer. An error is not a
/// decision (a rejected claim is an [`Outcome`](crate::Outcome), not an
/// error): the caller was told nothing durable and may retry a claim with the
/// same `claim_id`. [`EngineError::code`] is the protocol's error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// `invalid_event`: an event of an ingest batch failed validation (bad
    /// player id, unknown hunt or clue, text too long, clue found while the
    /// hunt is closed). Nothing of the batch was applied.
    #[error("event {index} is invalid: {reason}")]
    InvalidEvent {
        /// Position of the first bad event in the batch, from 0.
        index: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// `batch_too_large`: an ingest batch had more than
    /// [`limits::MAX_BATCH_EVENTS`](crate::limits::MAX_BATCH_EVENTS) events.
    #[error("batch of {len} events exceeds the maximum of {max}")]
    BatchTooLarge {
        /// Events in the batch.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// `invalid_request`: a malformed claim (empty or long id, customs too
    /// large) or stock request (`add` of 0, stock past the maximum).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// `invalid_hunt`: the definition failed [`HuntDef::validate`](crate::HuntDef::validate);
    /// carries its sentence.
    #[error("invalid hunt definition: {0}")]
    InvalidHunt(crate::model::HuntInvalid),
    /// `hunt_conflict`: this hunt id is already defined differently. Carries
    /// the id.
    #[error("hunt {0:?} already exists with a different definition")]
    HuntConflict(String),
    /// `unknown_hunt`: no hunt with this id (stock additions and reads; a
    /// claim in an unknown hunt is a rejection instead).
    #[error("unknown hunt {0:?}")]
    UnknownHunt(String),
    /// `unknown_product`: stock was added to a sku the hunt does not have.
    #[error("unknown product {sku:?} in hunt {hunt:?}")]
    UnknownProduct {
        /// Id of the hunt.
        hunt: String,
        /// The sku that is not in it.
        sku: String,
    },
    /// `claim_id_conflict`: the player already used this claim id for another
    /// hunt or sku; carries what the id was first used for.
    #[error("claim id {claim_id:?} was already used for {hunt}/{sku}")]
    ClaimIdConflict {
        /// The reused claim id.
        claim_id: String,
        /// Hunt of the earlier claim with this id.
        hunt: String,
        /// Sku of the earlier claim with this id.
        sku: String,
    },
    /// `too_many_claims`: the player has used
    /// [`limits::MAX_CLAIMS_PER_PLAYER`](crate::limits::MAX_CLAIMS_PER_PLAYER)
    /// claim ids and may decide no new one.
    #[error("player {player:?} has used the maximum number of claim ids")]
    TooManyClaims {
        /// The player.
        player: String,
    },
    /// `overloaded`: no admission capacity freed up within
    /// [`EngineConfig::admission_timeout`](crate::EngineConfig::admission_timeout).
    /// Retry later, with the same claim id.
    #[error("engine is at capacity; retry later")]
    Overloaded,
    /// `record_too_large` if the journal refused this one record, else
    /// `journal_failed`: the journal has fail-stopped and the engine accepts no
    /// more writes.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// `stopped`: the engine is shutting down ([`Engine::stop`](crate::Engine::stop)).
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
