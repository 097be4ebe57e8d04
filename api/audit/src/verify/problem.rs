//! What verify reports when an export fails: a [`Problem`] with a stable
//! code (a contract: `docs/AUDIT.md` lists them), the line and the sequence
//! it is at, and why, in words.

use trove_engine::Seq;

/// Every stable code a [`Problem`] can carry, as `docs/AUDIT.md` lists them.
pub const CODES: [&str; 22] = [
    "not_an_export",
    "bad_version",
    "bad_line",
    "unreadable",
    "truncated",
    "after_footer",
    "not_canonical",
    "block_altered",
    "bad_block",
    "chain_broken",
    "sequence_gap",
    "start_missing",
    "record_missing",
    "record_misplaced",
    "record_altered",
    "record_omitted",
    "filter_mismatch",
    "compaction_impossible",
    "footer_mismatch",
    "head_mismatch",
    "head_not_reached",
    "head_not_covered",
];

/// The first problem an export has: where, its stable code, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason} ({code})")]
pub struct Problem {
    /// The line (from 1) the problem is at.
    pub line: u64,
    /// The record or block sequence it concerns, when there is one.
    pub seq: Option<Seq>,
    /// One of [`CODES`].
    pub code: &'static str,
    /// What is wrong, for people.
    pub reason: String,
}

impl Problem {
    /// A problem at `line`.
    pub(crate) fn at(line: u64, seq: Option<Seq>, code: &'static str, reason: impl Into<String>) -> Problem {
        debug_assert!(CODES.contains(&code), "{code} is not a documented code");
        Problem {
            line,
            seq,
            code,
            reason: reason.into(),
        }
    }
}

/// A problem found by a check of one line, before its line is known: (seq,
/// stable code, what is wrong).
pub(crate) type Fault = (Option<Seq>, &'static str, String);

/// The result of checking one line.
pub(crate) type LineResult = Result<(), Fault>;

/// A failed check.
pub(crate) fn fail<T>(seq: Option<Seq>, code: &'static str, reason: impl Into<String>) -> Result<T, Fault> {
    debug_assert!(CODES.contains(&code), "{code} is not a documented code");
    Err((seq, code, reason.into()))
}
