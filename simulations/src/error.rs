//! [`SimError`]: why a run could not be carried out.

use crate::scenario::ScenarioError;

/// Why a run could not be carried out (a violated invariant is not an error:
/// it is in the report).
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The scenario file could not be read or is invalid.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// The engine's journal or data folder failed.
    #[error("storage: {0}")]
    Store(#[from] trove_persistence::StoreError),
    /// The engine refused a request the simulator relies on.
    #[error("engine: {0}")]
    Engine(#[from] trove_engine::EngineError),
    /// A file operation failed; `context` says which.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, e.g. "read /tmp/data".
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The live server could not be reached or broke the protocol.
    #[error("live run: {0}")]
    Live(String),
    /// Anything else, as a sentence.
    #[error("{0}")]
    Other(String),
}

impl SimError {
    /// An [`SimError::Io`] with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> SimError {
        SimError::Io {
            context: context.into(),
            source,
        }
    }
}
