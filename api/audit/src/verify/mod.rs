//! Verification of a JSONL export: [`verify_export`] reads it line by line
//! and stops at the first [`Problem`].
//!
//! Every line must be byte for byte what the export writes from what it
//! proves: the header from its filters, a block line from header fields
//! that give its hash, a record line from the journal bytes that give its
//! leaf. Between lines the verifier checks the chain, order, the start,
//! completeness where the filters allow it, the footer and, given one, a
//! chain head recorded earlier.
//!
//! Submodules, one job each: [`line`] parses a line; `header`, `block`,
//! `record`, `close` and `footer` check one kind of line (each an `impl` of
//! the verifier's state in [`state`]); [`outcome`] says what was proved.

mod block;
mod canonical;
mod close;
mod footer;
mod head;
mod header;
mod line;
mod open_block;
mod outcome;
mod problem;
mod record;
mod state;

pub use self::head::ChainHead;
pub use self::outcome::{Start, VerifyOutcome};
pub use self::problem::{Problem, CODES};

use self::line::{sniff_seq, Line};
use self::problem::{fail, LineResult};
use self::state::Verifier;
use std::io::BufRead;

/// Checks an export read from `input` (JSONL): every line exactly as the
/// export writes it from what it proves, every block's hash and leaves, the
/// chain between blocks, every record against its leaf and the filters,
/// order, the start, completeness where the filters allow it, the footer,
/// and, given `head`, the chain head an auditor recorded earlier.
/// `progress` gets the bytes read so far.
pub fn verify_export(mut input: impl BufRead, head: Option<ChainHead>, progress: &mut dyn FnMut(u64)) -> VerifyOutcome {
    let mut out = VerifyOutcome::default();
    let mut v = Verifier {
        head,
        ..Verifier::default()
    };
    let mut line = String::new();
    let mut n = 0u64;
    let mut bytes = 0u64;
    let mut footer_seen = false;
    loop {
        line.clear();
        let read = match input.read_line(&mut line) {
            Ok(r) => r,
            Err(e) => {
                out.problem = Some(Problem::at(
                    n + 1,
                    None,
                    "unreadable",
                    format!("cannot read the export: {e}"),
                ));
                return out;
            }
        };
        if read == 0 {
            break;
        }
        n += 1;
        bytes += read as u64;
        if n.is_multiple_of(4096) {
            progress(bytes);
        }
        if let Err(p) = check_line(&mut v, n, &line, &mut out, &mut footer_seen) {
            out.problem = Some(p);
            return out;
        }
    }
    progress(bytes);
    if n == 0 {
        out.problem = Some(Problem::at(1, None, "not_an_export", "empty file: not an export"));
    } else if !footer_seen {
        out.problem = Some(Problem::at(
            n,
            v.last_record_seq,
            "truncated",
            format!("truncated: the export ends at line {n} without its footer"),
        ));
    }
    out
}

/// Checks line `n` (with its newline, if it has one).
fn check_line(
    v: &mut Verifier,
    n: u64,
    line: &str,
    out: &mut VerifyOutcome,
    footer_seen: &mut bool,
) -> Result<(), Problem> {
    let text = line.strip_suffix('\n').unwrap_or(line);
    if *footer_seen {
        return Err(Problem::at(
            n,
            sniff_seq(text),
            "after_footer",
            "content after the footer",
        ));
    }
    if !line.ends_with('\n') {
        // The last line has no newline: the file was cut.
        return Err(Problem::at(
            n,
            sniff_seq(text),
            "truncated",
            "line cut short: the export is truncated",
        ));
    }
    let parsed: Line = serde_json::from_str(text)
        .map_err(|e| Problem::at(n, sniff_seq(text), "bad_line", format!("not a valid export line: {e}")))?;
    dispatch(v, n, text, parsed, out, footer_seen)
        .map_err(|(seq, code, reason)| Problem::at(v.at_line.take().unwrap_or(n), seq, code, reason))
}

/// Hands a parsed line to the check for its type.
fn dispatch(
    v: &mut Verifier,
    n: u64,
    text: &str,
    l: Line,
    out: &mut VerifyOutcome,
    footer_seen: &mut bool,
) -> LineResult {
    if !v.header {
        return v.header_line(text, l, out);
    }
    match l.line_type.as_str() {
        "block" => v.block(n, text, l, out),
        "record" => v.record(n, text, l),
        "footer" => {
            v.close_block()?;
            *footer_seen = true;
            v.footer(text, l, out)
        }
        "header" => fail(None, "bad_line", "a second header"),
        other => fail(None, "bad_line", format!("unknown line type {other:?}")),
    }
}
