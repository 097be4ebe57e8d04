//! # trove-audit
//!
//! Trove's audit product, apart from any transport: exports of the journal,
//! their verification, reports and the claim trail. The `trove` binary's
//! offline tools and the server's `/v1/audit/*` routes are thin shells over
//! this crate; simulations and tests use it directly.
//!
//! - [`export()`] reads checked blocks from a [`BlockSource`] (an offline
//!   `Archive` or the server's `Store`) and writes the records matching
//!   [`Filters`] as JSONL, where each block's header fields (and, when the
//!   export does not hold the whole block, its leaves) let anyone recompute
//!   the hash chain, or as CSV ([`Format`]). It returns an [`ExportSummary`]
//!   or an [`ExportError`].
//! - [`verify_export`] reads a JSONL export back, regenerates every line
//!   from what it proves and compares bytes; the [`VerifyOutcome`] says what
//!   is proven (its [`Start`], completeness, a recorded [`ChainHead`]) or
//!   gives the first [`Problem`] with a stable code ([`CODES`]).
//! - [`report()`] turns persistence's audit rollup of a window into a
//!   [`Report`] (JSON) or a table ([`report_table`]).
//! - [`trail::claim_page`] is one page of every decided claim, customs as stored.
//!
//! Times are RFC 3339 or unix milliseconds ([`parse_time`], [`format_ms`]).
//! The formats are specified in `docs/AUDIT.md`.
//!
//! Only the `chain` module knows persistence's block format; the rest sees
//! blocks through [`Block`] and [`BlockSource`].
//!
//! ```
//! // The smallest export there is: a header and a footer, no blocks.
//! let header = r#"{"type":"header","format":"trove-export","version":2,"filters":{},"generated_at":"2026-05-01T18:00:00.000Z"}"#;
//! let footer = r#"{"type":"footer","records":0,"blocks":0,"first_seq":null,"last_seq":null,"last_hash":null}"#;
//! let export = format!("{header}\n{footer}\n");
//! let outcome = trove_audit::verify_export(export.as_bytes(), None, &mut |_| {});
//! assert!(outcome.ok(), "{}", outcome.render());
//!
//! // A footer that claims a record the export does not hold.
//! let edited = export.replace(r#""records":0"#, r#""records":1"#);
//! let outcome = trove_audit::verify_export(edited.as_bytes(), None, &mut |_| {});
//! assert_eq!(outcome.code(), Some("footer_mismatch"));
//! ```

mod chain;
mod error;
mod export;
mod filter;
mod hash;
mod report;
mod time;
pub mod trail;
mod verify;

pub use chain::{Block, BlockSource};
pub use error::ExportError;
pub use export::csv::CSV_COLUMNS;
pub use export::jsonl::{FORMAT_NAME, FORMAT_VERSION};
pub use export::{export, ExportSummary, Format};
pub use filter::{Filters, TypeSet};
pub use hash::Hash;
pub use report::{report, report_json, report_table, report_window, ClaimCount, EventCount, Report};
pub use time::{format_ms, now_ms, parse_time};
pub use verify::{verify_export, ChainHead, Problem, Start, VerifyOutcome, CODES};
