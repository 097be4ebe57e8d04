//! Exports: the records of the journal matching [`Filters`], read straight
//! from its blocks, as JSONL with the proofs `verify` checks ([`jsonl`]) or
//! as a flat CSV table ([`csv`]). The same [`export`] runs offline (on an
//! `Archive`) and online (on the server's `Store`, up to the durable
//! sequence), so both write the same lines for the same filters.

pub(crate) mod csv;
pub(crate) mod jsonl;

use self::csv::CsvRows;
use self::jsonl::BlockProof;
use crate::chain::{self, Block, BlockSource};
use crate::error::ExportError;
use crate::filter::Filters;
use crate::hash::Hash;
use crate::time::{format_ms, now_ms};
use std::io::{self, Write};
use trove_engine::{RecordView, Seq};

/// Output is handed to the writer in chunks of about this many bytes.
const CHUNK: usize = 128 << 10;

/// An export's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// JSON lines with hash-chain proofs (`docs/AUDIT.md`).
    Jsonl,
    /// A flat table, no proofs.
    Csv,
}

impl Format {
    /// `jsonl` (or `json`, `ndjson`) or `csv`.
    pub fn parse(s: &str) -> Result<Format, String> {
        match s {
            "jsonl" | "json" | "ndjson" => Ok(Format::Jsonl),
            "csv" => Ok(Format::Csv),
            other => Err(format!("unknown format {other:?} (expected jsonl or csv)")),
        }
    }

    /// The HTTP content type of an export in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Jsonl => "application/x-ndjson",
            Format::Csv => "text/csv; charset=utf-8",
        }
    }
}

/// What an export wrote.
#[derive(Clone, Debug, Default)]
pub struct ExportSummary {
    /// Record lines (rows) written.
    pub records: u64,
    /// Block lines written (JSONL only).
    pub blocks: u64,
    /// The sequence range the export covers, as its footer gives it.
    pub first_seq: Option<Seq>,
    /// The end of that range.
    pub last_seq: Option<Seq>,
    /// The hash of the last block line written.
    pub last_hash: Option<Hash>,
}

/// The lines being written: JSONL into a byte buffer, CSV through the csv
/// writer; either is handed to `out` in chunks.
enum Lines {
    Jsonl(Vec<u8>),
    Csv(Box<CsvRows>),
}

impl Lines {
    fn start(format: Format, filters: &Filters) -> Lines {
        let mut buf: Vec<u8> = Vec::with_capacity(256 << 10);
        match format {
            Format::Jsonl => {
                jsonl::header_line(&mut buf, &filters.to_json(), &format_ms(now_ms()), filters.partition);
                buf.push(b'\n');
                Lines::Jsonl(buf)
            }
            Format::Csv => Lines::Csv(Box::new(CsvRows::new(buf))),
        }
    }

    fn record(&mut self, seq: Seq, at_text: &str, block: &Block<'_, '_>, view: &RecordView<'_>) {
        match self {
            Lines::Jsonl(buf) => {
                jsonl::record_line(buf, seq, at_text, block.committed_at(), view);
                buf.push(b'\n');
            }
            Lines::Csv(rows) => rows.row(seq, at_text, block.committed_at(), view),
        }
    }

    /// Writes what is buffered to `out` once it is a chunk.
    fn spill(&mut self, out: &mut dyn Write) -> io::Result<()> {
        match self {
            Lines::Jsonl(buf) if buf.len() >= CHUNK => {
                out.write_all(buf)?;
                buf.clear();
                Ok(())
            }
            Lines::Csv(rows) if rows.pending() >= CHUNK => rows.drain(|b| out.write_all(b)),
            _ => Ok(()),
        }
    }

    /// The footer (JSONL), then everything left, flushed.
    fn finish(self, sum: &ExportSummary, out: &mut dyn Write) -> io::Result<()> {
        match self {
            Lines::Jsonl(mut buf) => {
                let range = sum.first_seq.zip(sum.last_seq);
                jsonl::footer_line(&mut buf, sum.records, sum.blocks, range, sum.last_hash.as_ref());
                buf.push(b'\n');
                out.write_all(&buf)?;
            }
            Lines::Csv(mut rows) => rows.drain(|b| out.write_all(b))?,
        }
        out.flush()
    }
}

/// One export under way: its filters, its range, and what it has written.
struct Run<'f> {
    filters: &'f Filters,
    /// The first sequence the filters allow.
    seq_lo: Seq,
    /// The last sequence the filters and the limit allow.
    end: Seq,
    lines: Lines,
    sum: ExportSummary,
    leaves: Vec<Option<Hash>>,
    classes: String,
}

impl Run<'_> {
    /// Adds one block: its block line (JSONL, with proofs where the export
    /// does not hold all of it) and its matching records; then `progress`
    /// gets its last sequence. Whether to go on.
    fn block(
        &mut self,
        block: &Block<'_, '_>,
        out: &mut dyn Write,
        progress: &mut dyn FnMut(Seq),
    ) -> Result<bool, ExportError> {
        let (first, last) = (block.first_seq(), block.last_seq());
        if first > self.end {
            return Ok(false);
        }
        if self
            .filters
            .to
            .as_ref()
            .is_some_and(|(_, to)| block.committed_at() >= *to)
        {
            return Ok(false);
        }
        let time_ok = self.filters.time_ok(block.committed_at());
        if !time_ok && self.sum.first_seq.is_none() {
            // Blocks of the index's first second that are before `from`.
            return Ok(true);
        }
        let (lo, hi) = (first.max(self.seq_lo), last.min(self.end));
        self.sum.first_seq.get_or_insert(lo);
        self.sum.last_seq = Some(hi);
        // Which records go in, before the block line (which says whether
        // it carries leaves).
        let mut matched: Vec<(Seq, RecordView<'_>)> = Vec::with_capacity(block.held() as usize);
        for item in block.bodies() {
            let (seq, body) = item?;
            if time_ok && seq >= lo && seq <= hi {
                let view = chain::decode(seq, body)?;
                if self.filters.matches(&view) {
                    matched.push((seq, view));
                }
            }
        }
        let at_text = format_ms(block.committed_at());
        if let Lines::Jsonl(buf) = &mut self.lines {
            if !matched.is_empty() || !self.filters.no_proof {
                let complete = matched.len() == block.held() as usize;
                let proof = if complete && block.compacted().is_none() {
                    None
                } else {
                    block.leaves(&mut self.classes, &mut self.leaves)?;
                    Some(BlockProof {
                        classes: &self.classes,
                        leaves: (!complete).then_some(self.leaves.as_slice()),
                    })
                };
                let compacted = block.compacted();
                let compacted = compacted.as_ref().map(|(removed, root)| (*removed, root));
                jsonl::block_line(buf, &block.header(), &block.hash(), &at_text, compacted, proof);
                buf.push(b'\n');
                self.sum.blocks += 1;
                self.sum.last_hash = Some(block.hash());
            }
        }
        for (seq, view) in &matched {
            self.lines.record(*seq, &at_text, block, view);
        }
        self.sum.records += matched.len() as u64;
        self.lines.spill(out)?;
        progress(last);
        Ok(last < self.end)
    }
}

/// Writes an export of `source` to `out`: the records matching `filters` with
/// sequence at most `limit` (the durable sequence online; `Seq::MAX`
/// offline). `progress` gets the last sequence of each block read;
/// `cancelled` is polled between blocks.
pub fn export(
    source: &dyn BlockSource,
    filters: &Filters,
    format: Format,
    limit: Seq,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(Seq),
    cancelled: &dyn Fn() -> bool,
) -> Result<ExportSummary, ExportError> {
    // The sequence range the filters allow; the walk may start later (at the
    // time index's block for `from`), but always at a block boundary, and
    // the block's time decides which of its records go in.
    let seq_lo = filters.after_seq.unwrap_or(0).saturating_add(1);
    let mut start = seq_lo;
    let end = filters.until_seq.unwrap_or(Seq::MAX).min(limit);
    let mut run = Run {
        filters,
        seq_lo,
        end,
        lines: Lines::start(format, filters),
        sum: ExportSummary::default(),
        leaves: Vec::new(),
        classes: String::new(),
    };
    let mut empty = start > end;
    if let Some((_, from)) = &filters.from {
        match source.first_seq_at(*from)? {
            Some(s) => start = start.max(s),
            None => empty = true,
        }
    }
    if !empty {
        source.walk(start, &mut |block| {
            if cancelled() {
                return Err(ExportError::Interrupted);
            }
            run.block(block, out, progress)
        })?;
    }
    run.lines.finish(&run.sum, out)?;
    Ok(run.sum)
}
