//! What the verifier carries from line to line.

use super::head::ChainHead;
use super::open_block::OpenBlock;
use crate::filter::Filters;
use crate::hash::Hash;
use serde_json::Value;
use trove_engine::Seq;

/// The verifier's state between lines. Its checks live in the sibling
/// modules, one per line type (`header`, `block`, `record`, `close`,
/// `footer`).
#[derive(Default)]
pub(crate) struct Verifier {
    pub(crate) header: bool,
    pub(crate) filters: Filters,
    pub(crate) filters_json: Value,
    pub(crate) head: Option<ChainHead>,
    pub(crate) head_found: bool,
    pub(crate) open: Option<OpenBlock>,
    /// (hash, next first_seq) of the last closed block.
    pub(crate) prev: Option<(Hash, Seq)>,
    /// The last block that is first seen and still holds telemetry that
    /// retention would have removed: (line, first, last).
    pub(crate) whole_telemetry: Option<(u64, Seq, Seq)>,
    pub(crate) last_record_seq: Option<Seq>,
    pub(crate) records: u64,
    pub(crate) blocks: u64,
    pub(crate) removed: u64,
    pub(crate) compacted_blocks: u64,
    pub(crate) range: Option<(Seq, Seq)>,
    pub(crate) line_buf: Vec<u8>,
    /// The line a problem is at, when not the line being read (found when a
    /// block is closed).
    pub(crate) at_line: Option<u64>,
}
