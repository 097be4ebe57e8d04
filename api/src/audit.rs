//! Audit exports, their verification, and audit reports.
//!
//! An export is read straight from the journal's blocks (no second store):
//! JSONL carries, before the records of each block, the block's header
//! fields, from which anyone can recompute the block hash and follow the hash
//! chain, and, when the export does not hold every record of the block, the
//! leaf hash of each record. `trove audit verify` re-encodes every record line
//! into the journal's exact bytes and checks them against those proofs. The
//! format is specified in `docs/AUDIT.md`.
//!
//! The same [`export`] runs offline (`trove export`, on an [`Archive`]) and
//! online (`GET /v1/audit/export`, on the server's [`Store`], up to the
//! durable sequence), so both produce the same lines for the same filters.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::io::{self, BufRead, Write};
use trove_engine::{
    ClaimRequest, ClueDef, EventKind, EventKindView, GameEvent, HuntDef, Millis, Outcome, ProductDef, Record,
    RecordView, RejectReason, Seq,
};
use trove_persistence::chain::{self, Hash, Header};
use trove_persistence::CheckedBlock as Block;
use trove_persistence::{audit::Rollup, Archive, JournalDamage, Store, StoreError};

pub const FORMAT_NAME: &str = "trove-export";
/// 2: journal format 2 (leaf roots split by class; compacted blocks).
pub const FORMAT_VERSION: u64 = 2;

// ------------------------------------------------------------------ times

/// Parses an RFC 3339 time (`2026-05-01T18:00:00Z`) or integer unix milliseconds.
pub fn parse_time(s: &str) -> Result<Millis, String> {
    let s = s.trim();
    if let Ok(ms) = s.parse::<i64>() {
        return Ok(ms);
    }
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("{s:?} is not an RFC 3339 time (like 2026-05-01T18:00:00Z) or unix milliseconds: {e}"))?;
    Ok((t.unix_timestamp_nanos() / 1_000_000) as Millis)
}

/// RFC 3339 in UTC with milliseconds: `2026-05-01T18:00:00.123Z`.
pub fn format_ms(ms: Millis) -> String {
    match time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.millisecond()
        ),
        Err(_) => ms.to_string(),
    }
}

fn hex(h: &Hash) -> String {
    blake3::Hash::from(*h).to_hex().to_string()
}

fn unhex(s: &str) -> Option<Hash> {
    blake3::Hash::from_hex(s).ok().map(|h| *h.as_bytes())
}

// ------------------------------------------------------------------ filters

/// Record types, as a bit set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TypeSet(u8);

impl TypeSet {
    pub const CLAIM: u8 = 1;
    pub const CLUE_FOUND: u8 = 2;
    pub const CHECKIN: u8 = 4;
    pub const INTERACTION: u8 = 8;
    pub const HUNT_DEFINED: u8 = 16;
    pub const STOCK_ADDED: u8 = 32;
    pub const EVENTS: u8 = Self::CLUE_FOUND | Self::CHECKIN | Self::INTERACTION;

    /// A comma-separated list of `claims`, `events`, `hunts`, `stock`, or the
    /// record types themselves (`claim`, `clue_found`, `checkin`,
    /// `interaction`, `hunt_defined`, `stock_added`).
    pub fn parse(list: &str) -> Result<TypeSet, String> {
        let mut bits = 0u8;
        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            bits |= match name {
                "claim" | "claims" => Self::CLAIM,
                "event" | "events" => Self::EVENTS,
                "clue_found" => Self::CLUE_FOUND,
                "checkin" => Self::CHECKIN,
                "interaction" => Self::INTERACTION,
                "hunt" | "hunts" | "hunt_defined" | "hunt_definitions" => Self::HUNT_DEFINED,
                "stock" | "stock_added" | "stock_changes" => Self::STOCK_ADDED,
                other => {
                    return Err(format!(
                        "unknown record type {other:?} (expected claims, events, hunts, stock, or one of claim, clue_found, checkin, interaction, hunt_defined, stock_added)"
                    ))
                }
            };
        }
        if bits == 0 {
            return Err("empty record type list".into());
        }
        Ok(TypeSet(bits))
    }

    pub fn contains(self, bit: u8) -> bool {
        self.0 & bit != 0
    }
}

fn type_bit(r: &RecordView<'_>) -> u8 {
    match r {
        RecordView::Claim { .. } => TypeSet::CLAIM,
        RecordView::HuntDefined(_) => TypeSet::HUNT_DEFINED,
        RecordView::StockAdded { .. } => TypeSet::STOCK_ADDED,
        RecordView::Event(e) => match e.kind {
            EventKindView::ClueFound { .. } => TypeSet::CLUE_FOUND,
            EventKindView::Checkin { .. } => TypeSet::CHECKIN,
            EventKindView::Interaction { .. } => TypeSet::INTERACTION,
        },
    }
}

fn type_name(r: &RecordView<'_>) -> &'static str {
    match r {
        RecordView::Claim { .. } => "claim",
        RecordView::HuntDefined(_) => "hunt_defined",
        RecordView::StockAdded { .. } => "stock_added",
        RecordView::Event(e) => match e.kind {
            EventKindView::ClueFound { .. } => "clue_found",
            EventKindView::Checkin { .. } => "checkin",
            EventKindView::Interaction { .. } => "interaction",
        },
    }
}

/// What an export holds. All filters combine (AND).
#[derive(Clone, Debug, Default)]
pub struct Filters {
    /// Records committed at or after this time (as given, and in ms).
    pub from: Option<(String, Millis)>,
    /// Records committed before this time.
    pub to: Option<(String, Millis)>,
    pub hunt: Option<String>,
    pub player: Option<String>,
    pub types: Option<(String, TypeSet)>,
    /// Records with a sequence greater than this.
    pub after_seq: Option<Seq>,
    /// Records with a sequence at most this.
    pub until_seq: Option<Seq>,
    /// Leave out the block lines of blocks without matching records.
    pub no_proof: bool,
}

impl Filters {
    /// Builds filters from their text forms (CLI flags and query parameters).
    #[allow(clippy::too_many_arguments)]
    pub fn parse(
        from: Option<&str>,
        to: Option<&str>,
        hunt: Option<&str>,
        player: Option<&str>,
        types: Option<&str>,
        after_seq: Option<Seq>,
        until_seq: Option<Seq>,
        no_proof: bool,
    ) -> Result<Filters, String> {
        let time = |name: &str, s: Option<&str>| -> Result<Option<(String, Millis)>, String> {
            s.map(|s| {
                parse_time(s)
                    .map(|ms| (s.to_owned(), ms))
                    .map_err(|e| format!("{name}: {e}"))
            })
            .transpose()
        };
        let f = Filters {
            from: time("from", from)?,
            to: time("to", to)?,
            hunt: hunt.map(str::to_owned),
            player: player.map(str::to_owned),
            types: types
                .map(|t| TypeSet::parse(t).map(|s| (t.to_owned(), s)))
                .transpose()?,
            after_seq,
            until_seq,
            no_proof,
        };
        if let (Some((_, a)), Some((_, b))) = (&f.from, &f.to) {
            if a > b {
                return Err("from is after to".into());
            }
        }
        Ok(f)
    }

    /// The filters as given, for the export's header line.
    pub fn to_json(&self) -> Value {
        let mut m = serde_json::Map::new();
        if let Some((s, _)) = &self.from {
            m.insert("from".into(), json!(s));
        }
        if let Some((s, _)) = &self.to {
            m.insert("to".into(), json!(s));
        }
        if let Some(h) = &self.hunt {
            m.insert("hunt".into(), json!(h));
        }
        if let Some(p) = &self.player {
            m.insert("player".into(), json!(p));
        }
        if let Some((t, _)) = &self.types {
            m.insert("type".into(), json!(t));
        }
        if let Some(s) = self.after_seq {
            m.insert("after_seq".into(), json!(s));
        }
        if let Some(s) = self.until_seq {
            m.insert("until_seq".into(), json!(s));
        }
        if self.no_proof {
            m.insert("no_proof".into(), json!(true));
        }
        Value::Object(m)
    }

    /// Reads the filters back from a header line.
    pub fn from_json(v: &Value) -> Result<Filters, String> {
        let s = |k: &str| v.get(k).and_then(Value::as_str);
        let n = |k: &str| -> Result<Option<u64>, String> {
            match v.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(x) => x
                    .as_u64()
                    .map(Some)
                    .ok_or_else(|| format!("filter {k} is not a number")),
            }
        };
        Filters::parse(
            s("from"),
            s("to"),
            s("hunt"),
            s("player"),
            s("type"),
            n("after_seq")?,
            n("until_seq")?,
            v.get("no_proof").and_then(Value::as_bool).unwrap_or(false),
        )
    }

    /// Whether the filters select by content (hunt, player, type): an export
    /// with such filters cannot prove that nothing matching was left out.
    pub fn by_content(&self) -> bool {
        self.hunt.is_some() || self.player.is_some() || self.types.is_some()
    }

    fn matches(&self, r: &RecordView<'_>) -> bool {
        if let Some((_, t)) = &self.types {
            if !t.contains(type_bit(r)) {
                return false;
            }
        }
        if let Some(h) = &self.hunt {
            let hunt: &str = match r {
                RecordView::Claim { request, .. } => request.hunt,
                RecordView::HuntDefined(def) => &def.id,
                RecordView::StockAdded { hunt, .. } => hunt,
                RecordView::Event(e) => e.hunt,
            };
            if hunt != h {
                return false;
            }
        }
        if let Some(p) = &self.player {
            let player = match r {
                RecordView::Claim { request, .. } => Some(request.player),
                RecordView::Event(e) => Some(e.player),
                _ => None,
            };
            if player != Some(p.as_str()) {
                return false;
            }
        }
        true
    }

    /// Whether the filters select every record of a class (`k` kept, `t`
    /// telemetry): only record types, and all of that class's.
    fn selects_class(&self, class: u8) -> bool {
        if self.hunt.is_some() || self.player.is_some() {
            return false;
        }
        let need = if class == b't' {
            TypeSet::CHECKIN | TypeSet::INTERACTION
        } else {
            TypeSet::CLAIM | TypeSet::CLUE_FOUND | TypeSet::HUNT_DEFINED | TypeSet::STOCK_ADDED
        };
        self.types.as_ref().is_none_or(|(_, t)| t.0 & need == need)
    }

    fn time_ok(&self, at: Millis) -> bool {
        self.from.as_ref().is_none_or(|(_, f)| at >= *f) && self.to.as_ref().is_none_or(|(_, t)| at < *t)
    }
}

// ------------------------------------------------------------------ export

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Jsonl,
    Csv,
}

impl Format {
    pub fn parse(s: &str) -> Result<Format, String> {
        match s {
            "jsonl" | "json" | "ndjson" => Ok(Format::Jsonl),
            "csv" => Ok(Format::Csv),
            other => Err(format!("unknown format {other:?} (expected jsonl or csv)")),
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Jsonl => "application/x-ndjson",
            Format::Csv => "text/csv; charset=utf-8",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Damaged(#[from] JournalDamage),
    #[error("write: {0}")]
    Io(#[from] io::Error),
    #[error("interrupted")]
    Interrupted,
}

/// Where an export reads blocks from: an offline [`Archive`] or the server's [`Store`].
pub trait BlockSource {
    fn first_seq_at(&self, at: Millis) -> Result<Option<Seq>, StoreError>;
    fn walk(
        &self,
        from: Seq,
        visit: &mut dyn FnMut(&Block<'_>) -> Result<bool, ExportError>,
    ) -> Result<(), ExportError>;
}

impl BlockSource for Archive {
    fn first_seq_at(&self, at: Millis) -> Result<Option<Seq>, StoreError> {
        Archive::first_seq_at(self, at)
    }
    fn walk(
        &self,
        from: Seq,
        visit: &mut dyn FnMut(&Block<'_>) -> Result<bool, ExportError>,
    ) -> Result<(), ExportError> {
        self.blocks(from, visit).map_err(|e| e.flatten())
    }
}

impl BlockSource for Store {
    fn first_seq_at(&self, at: Millis) -> Result<Option<Seq>, StoreError> {
        Store::first_seq_at(self, at)
    }
    fn walk(
        &self,
        from: Seq,
        visit: &mut dyn FnMut(&Block<'_>) -> Result<bool, ExportError>,
    ) -> Result<(), ExportError> {
        self.blocks(from, visit).map_err(|e| e.flatten())
    }
}

/// What an export wrote.
#[derive(Clone, Debug, Default)]
pub struct ExportSummary {
    pub records: u64,
    pub blocks: u64,
    pub first_seq: Option<Seq>,
    pub last_seq: Option<Seq>,
    pub last_hash: Option<Hash>,
}

pub const CSV_COLUMNS: [&str; 16] = [
    "seq",
    "committed_at",
    "committed_at_ms",
    "record_type",
    "hunt",
    "player",
    "claim_id",
    "sku",
    "status",
    "reason",
    "customs",
    "clue",
    "location",
    "kind",
    "added",
    "definition",
];

fn push_json_str(buf: &mut Vec<u8>, s: &str) {
    serde_json::to_writer(&mut *buf, s).expect("writing to a Vec");
}

/// Appends the decimal digits of `n` (no allocation: this runs per record).
fn push_u64(buf: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[i..]);
}

fn push_i64(buf: &mut Vec<u8>, n: i64) {
    if n < 0 {
        buf.push(b'-');
    }
    push_u64(buf, n.unsigned_abs());
}

/// Whether `text` is a JSON document that a reader gives back byte for byte
/// as a raw value (customs from the API always are).
fn is_raw_json(text: &str) -> bool {
    serde_json::from_str::<&RawValue>(text).is_ok_and(|r| r.get().len() == text.len())
}

/// One JSONL record line (without the newline).
fn jsonl_record(buf: &mut Vec<u8>, seq: Seq, at_text: &str, at: Millis, r: &RecordView<'_>) {
    buf.extend_from_slice(b"{\"type\":\"record\",\"seq\":");
    push_u64(buf, seq);
    buf.extend_from_slice(b",\"committed_at\":\"");
    buf.extend_from_slice(at_text.as_bytes());
    buf.extend_from_slice(b"\",\"committed_at_ms\":");
    push_i64(buf, at);
    buf.extend_from_slice(b",\"record_type\":\"");
    buf.extend_from_slice(type_name(r).as_bytes());
    buf.push(b'"');
    let field = |buf: &mut Vec<u8>, name: &str, v: &str| {
        buf.extend_from_slice(b",\"");
        buf.extend_from_slice(name.as_bytes());
        buf.extend_from_slice(b"\":");
        push_json_str(buf, v);
    };
    match r {
        RecordView::Claim { request, outcome } => {
            field(buf, "claim_id", request.claim_id);
            field(buf, "player", request.player);
            field(buf, "hunt", request.hunt);
            field(buf, "sku", request.sku);
            if is_raw_json(request.customs) {
                buf.extend_from_slice(b",\"customs\":");
                buf.extend_from_slice(request.customs.as_bytes());
            } else {
                // Not JSON (never from the API): kept as a string instead.
                field(buf, "customs_text", request.customs);
            }
            field(buf, "status", outcome.status());
            if let Some(reason) = outcome.reason() {
                field(buf, "reason", reason.code());
            }
        }
        RecordView::Event(e) => {
            field(buf, "player", e.player);
            field(buf, "hunt", e.hunt);
            match e.kind {
                EventKindView::ClueFound { clue } => field(buf, "clue", clue),
                EventKindView::Checkin { location } => field(buf, "location", location),
                EventKindView::Interaction { kind } => field(buf, "kind", kind),
            }
        }
        RecordView::StockAdded { hunt, sku, added } => {
            field(buf, "hunt", hunt);
            field(buf, "sku", sku);
            buf.extend_from_slice(b",\"added\":");
            push_u64(buf, *added);
        }
        RecordView::HuntDefined(def) => {
            field(buf, "hunt", &def.id);
            // The definition's own fields: id, name, opens_at, closes_at, clues, products.
            let def_json = serde_json::to_vec(def.as_ref()).expect("hunt definitions encode");
            buf.push(b',');
            buf.extend_from_slice(&def_json[1..def_json.len() - 1]);
        }
    }
    buf.push(b'}');
}

/// One CSV field, quoted per RFC 4180 when it needs to be.
fn csv_field(buf: &mut Vec<u8>, s: &str) {
    if s.bytes().any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n')) {
        buf.push(b'"');
        for b in s.bytes() {
            if b == b'"' {
                buf.push(b'"');
            }
            buf.push(b);
        }
        buf.push(b'"');
    } else {
        buf.extend_from_slice(s.as_bytes());
    }
}

fn csv_record(buf: &mut Vec<u8>, seq: Seq, at_text: &str, at: Millis, r: &RecordView<'_>) {
    let mut cols: [&str; 16] = [""; 16];
    let seq_s = seq.to_string();
    let at_s = at.to_string();
    let added_s;
    let def_s;
    cols[0] = &seq_s;
    cols[1] = at_text;
    cols[2] = &at_s;
    cols[3] = type_name(r);
    match r {
        RecordView::Claim { request, outcome } => {
            cols[4] = request.hunt;
            cols[5] = request.player;
            cols[6] = request.claim_id;
            cols[7] = request.sku;
            cols[8] = outcome.status();
            cols[9] = outcome.reason().map_or("", |r| r.code());
            cols[10] = request.customs;
        }
        RecordView::Event(e) => {
            cols[4] = e.hunt;
            cols[5] = e.player;
            match e.kind {
                EventKindView::ClueFound { clue } => cols[11] = clue,
                EventKindView::Checkin { location } => cols[12] = location,
                EventKindView::Interaction { kind } => cols[13] = kind,
            }
        }
        RecordView::StockAdded { hunt, sku, added } => {
            cols[4] = hunt;
            cols[7] = sku;
            added_s = added.to_string();
            cols[14] = &added_s;
        }
        RecordView::HuntDefined(def) => {
            cols[4] = &def.id;
            def_s = serde_json::to_string(def.as_ref()).expect("hunt definitions encode");
            cols[15] = &def_s;
        }
    }
    for (i, c) in cols.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        csv_field(buf, c);
    }
    buf.extend_from_slice(b"\r\n");
}

/// The class of each position of a block: `k` a kept record, `t` telemetry,
/// `-` telemetry retention removed; and the leaf of each record still held.
fn block_leaves(b: &Block<'_>, classes: &mut String, leaves: &mut Vec<Option<Hash>>) -> Result<(), ExportError> {
    classes.clear();
    leaves.clear();
    for r in b.records() {
        let r = r?;
        let index = (r.seq() - b.first_seq()) as usize;
        while leaves.len() < index {
            classes.push('-');
            leaves.push(None);
        }
        classes.push(if r.telemetry() { 't' } else { 'k' });
        leaves.push(Some(r.leaf()));
    }
    while leaves.len() < b.count() as usize {
        classes.push('-');
        leaves.push(None);
    }
    Ok(())
}

/// What a block line carries besides the header fields: per-position classes
/// and leaves when the export does not hold the whole block.
struct BlockProof<'a> {
    classes: &'a str,
    leaves: Option<&'a [Option<Hash>]>,
}

fn block_line(buf: &mut Vec<u8>, b: &Block<'_>, at_text: &str, proof: Option<BlockProof<'_>>) {
    let removed = b.removed();
    let compacted = removed.as_ref().map(|(n, root)| (*n, root));
    block_line_of(buf, &b.header(), &b.hash(), at_text, compacted, proof);
    buf.push(b'\n');
}

/// A block line (without the newline) from the header fields: what the
/// export writes, and what verify regenerates to compare with what it reads.
/// `compacted` is (records removed, telemetry root).
fn block_line_of(
    buf: &mut Vec<u8>,
    h: &Header,
    hash: &Hash,
    at_text: &str,
    compacted: Option<(u32, &Hash)>,
    proof: Option<BlockProof<'_>>,
) {
    buf.extend_from_slice(b"{\"type\":\"block\",\"first_seq\":");
    push_u64(buf, h.first_seq);
    buf.extend_from_slice(b",\"count\":");
    push_u64(buf, u64::from(h.count));
    buf.extend_from_slice(b",\"payload_len\":");
    push_u64(buf, u64::from(h.payload_len));
    buf.extend_from_slice(b",\"committed_at\":\"");
    buf.extend_from_slice(at_text.as_bytes());
    buf.extend_from_slice(b"\",\"committed_at_ms\":");
    push_i64(buf, h.committed_at);
    for (name, v) in [
        ("prev_hash", &h.prev_hash),
        ("leaf_root", &h.leaf_root),
        ("payload_hash", &h.payload_hash),
        ("hash", hash),
    ] {
        push_hash_field(buf, name, v);
    }
    if let Some((removed, telemetry_root)) = compacted {
        buf.extend_from_slice(b",\"removed\":");
        push_u64(buf, u64::from(removed));
        push_hash_field(buf, "telemetry_root", telemetry_root);
    }
    if let Some(proof) = proof {
        buf.extend_from_slice(b",\"classes\":\"");
        buf.extend_from_slice(proof.classes.as_bytes());
        buf.push(b'"');
        if let Some(leaves) = proof.leaves {
            buf.extend_from_slice(b",\"leaves\":[");
            for (i, l) in leaves.iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                match l {
                    Some(l) => {
                        buf.push(b'"');
                        buf.extend_from_slice(hex(l).as_bytes());
                        buf.push(b'"');
                    }
                    None => buf.extend_from_slice(b"null"),
                }
            }
            buf.push(b']');
        }
    }
    buf.push(b'}');
}

/// The header line (without the newline).
fn header_line(buf: &mut Vec<u8>, filters: &Value, generated_at: &str) {
    buf.extend_from_slice(
        format!(
            "{{\"type\":\"header\",\"format\":\"{FORMAT_NAME}\",\"version\":{FORMAT_VERSION},\"filters\":{filters},\"generated_at\":\"{generated_at}\"}}"
        )
        .as_bytes(),
    );
}

/// The footer line (without the newline).
fn footer_line(buf: &mut Vec<u8>, records: u64, blocks: u64, range: Option<(Seq, Seq)>, last_hash: Option<&Hash>) {
    let opt = |v: Option<Seq>| v.map_or("null".to_string(), |s| s.to_string());
    buf.extend_from_slice(
        format!(
            "{{\"type\":\"footer\",\"records\":{records},\"blocks\":{blocks},\"first_seq\":{},\"last_seq\":{},\"last_hash\":{}}}",
            opt(range.map(|r| r.0)),
            opt(range.map(|r| r.1)),
            last_hash.map_or("null".to_string(), |h| format!("\"{}\"", hex(h)))
        )
        .as_bytes(),
    );
}

fn push_hash_field(buf: &mut Vec<u8>, name: &str, h: &Hash) {
    buf.extend_from_slice(b",\"");
    buf.extend_from_slice(name.as_bytes());
    buf.extend_from_slice(b"\":\"");
    buf.extend_from_slice(hex(h).as_bytes());
    buf.push(b'"');
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
    let mut buf: Vec<u8> = Vec::with_capacity(256 << 10);
    match format {
        Format::Jsonl => {
            // Written by hand to keep the documented key order.
            header_line(&mut buf, &filters.to_json(), &format_ms(now_ms()));
            buf.push(b'\n');
        }
        Format::Csv => {
            buf.extend_from_slice(CSV_COLUMNS.join(",").as_bytes());
            buf.extend_from_slice(b"\r\n");
        }
    }
    // The sequence range the filters allow; the walk may start later (at the
    // time index's block for `from`), but always at a block boundary, and
    // the block's time decides which of its records go in.
    let seq_lo = filters.after_seq.unwrap_or(0).saturating_add(1);
    let mut start = seq_lo;
    let end = filters.until_seq.unwrap_or(Seq::MAX).min(limit);
    let mut empty = start > end;
    if let Some((_, from)) = &filters.from {
        match source.first_seq_at(*from)? {
            Some(s) => start = start.max(s),
            None => empty = true,
        }
    }
    let mut sum = ExportSummary::default();
    if !empty {
        let proofs = format == Format::Jsonl;
        let mut leaves: Vec<Option<Hash>> = Vec::new();
        let mut classes = String::new();
        source.walk(start, &mut |block| {
            if cancelled() {
                return Err(ExportError::Interrupted);
            }
            let first = block.first_seq();
            let last = block.last_seq();
            if first > end {
                return Ok(false);
            }
            if filters.to.as_ref().is_some_and(|(_, to)| block.committed_at() >= *to) {
                return Ok(false);
            }
            let time_ok = filters.time_ok(block.committed_at());
            if !time_ok && sum.first_seq.is_none() {
                // Blocks of the index's first second that are before `from`.
                return Ok(true);
            }
            let (lo, hi) = (first.max(seq_lo), last.min(end));
            sum.first_seq.get_or_insert(lo);
            sum.last_seq = Some(hi);
            // Which records go in, before the block line (which says whether
            // it carries leaves).
            let mut matched: Vec<(Seq, RecordView<'_>)> = Vec::with_capacity(block.held() as usize);
            for item in block.records() {
                let record = item?;
                let seq = record.seq();
                if time_ok && seq >= lo && seq <= hi {
                    let view = record.view()?;
                    if filters.matches(&view) {
                        matched.push((seq, view));
                    }
                }
            }
            let complete = matched.len() == block.held() as usize;
            let at_text = format_ms(block.committed_at());
            if proofs && (!matched.is_empty() || !filters.no_proof) {
                let proof = if complete && block.removed().is_none() {
                    None
                } else {
                    block_leaves(block, &mut classes, &mut leaves)?;
                    Some(BlockProof {
                        classes: &classes,
                        leaves: (!complete).then_some(leaves.as_slice()),
                    })
                };
                block_line(&mut buf, block, &at_text, proof);
                sum.blocks += 1;
                sum.last_hash = Some(block.hash());
            }
            for (seq, view) in &matched {
                match format {
                    Format::Jsonl => {
                        jsonl_record(&mut buf, *seq, &at_text, block.committed_at(), view);
                        buf.push(b'\n');
                    }
                    Format::Csv => csv_record(&mut buf, *seq, &at_text, block.committed_at(), view),
                }
            }
            sum.records += matched.len() as u64;
            if buf.len() >= 128 << 10 {
                out.write_all(&buf)?;
                buf.clear();
            }
            progress(last);
            Ok(last < end)
        })?;
    }
    if format == Format::Jsonl {
        let range = sum.first_seq.zip(sum.last_seq);
        footer_line(&mut buf, sum.records, sum.blocks, range, sum.last_hash.as_ref());
        buf.push(b'\n');
    }
    out.write_all(&buf)?;
    out.flush()?;
    Ok(sum)
}

pub fn now_ms() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}

// ------------------------------------------------------------------ verify

/// One line of an export, any type. Parsed into one flat struct (no tagged
/// enum: serde buffers those, which would lose `customs`' exact bytes).
#[derive(Deserialize)]
struct Line {
    #[serde(rename = "type")]
    line_type: String,
    // header
    format: Option<String>,
    version: Option<u64>,
    filters: Option<Value>,
    generated_at: Option<String>,
    // block
    first_seq: Option<Seq>,
    count: Option<u32>,
    payload_len: Option<u32>,
    committed_at_ms: Option<Millis>,
    prev_hash: Option<String>,
    leaf_root: Option<String>,
    payload_hash: Option<String>,
    hash: Option<String>,
    removed: Option<u32>,
    telemetry_root: Option<String>,
    classes: Option<String>,
    leaves: Option<Vec<Option<String>>>,
    // record
    seq: Option<Seq>,
    record_type: Option<String>,
    claim_id: Option<String>,
    player: Option<String>,
    hunt: Option<String>,
    sku: Option<String>,
    customs: Option<Box<RawValue>>,
    customs_text: Option<String>,
    status: Option<String>,
    reason: Option<String>,
    clue: Option<String>,
    location: Option<String>,
    kind: Option<String>,
    added: Option<u64>,
    id: Option<String>,
    name: Option<String>,
    opens_at: Option<Millis>,
    closes_at: Option<Millis>,
    clues: Option<Vec<ClueDef>>,
    products: Option<Vec<ProductDef>>,
    // footer
    records: Option<u64>,
    blocks: Option<u64>,
    last_seq: Option<Seq>,
    last_hash: Option<String>,
}

fn need<T>(v: Option<T>, field: &str) -> Result<T, String> {
    v.ok_or_else(|| format!("missing field {field:?}"))
}

/// The journal record a record line stands for.
fn record_of(l: Line) -> Result<Record, String> {
    let rt = need(l.record_type, "record_type")?;
    Ok(match rt.as_str() {
        "claim" => {
            let customs = match (l.customs, l.customs_text) {
                (Some(raw), None) => raw.get().to_owned(),
                (None, Some(text)) => text,
                _ => return Err("a claim needs exactly one of \"customs\" and \"customs_text\"".into()),
            };
            let outcome = match need(l.status, "status")?.as_str() {
                "granted" => Outcome::Granted,
                "rejected" => {
                    let code = need(l.reason, "reason")?;
                    Outcome::Rejected(
                        RejectReason::ALL
                            .into_iter()
                            .find(|r| r.code() == code)
                            .ok_or_else(|| format!("unknown reject reason {code:?}"))?,
                    )
                }
                other => return Err(format!("unknown claim status {other:?}")),
            };
            Record::Claim {
                request: ClaimRequest {
                    claim_id: need(l.claim_id, "claim_id")?,
                    player: need(l.player, "player")?,
                    hunt: need(l.hunt, "hunt")?,
                    sku: need(l.sku, "sku")?,
                    customs,
                },
                outcome,
            }
        }
        "clue_found" | "checkin" | "interaction" => Record::Event(GameEvent {
            player: need(l.player, "player")?,
            hunt: need(l.hunt, "hunt")?,
            kind: match rt.as_str() {
                "clue_found" => EventKind::ClueFound {
                    clue: need(l.clue, "clue")?,
                },
                "checkin" => EventKind::Checkin {
                    location: need(l.location, "location")?,
                },
                _ => EventKind::Interaction {
                    kind: need(l.kind, "kind")?,
                },
            },
        }),
        "stock_added" => Record::StockAdded {
            hunt: need(l.hunt, "hunt")?,
            sku: need(l.sku, "sku")?,
            added: need(l.added, "added")?,
        },
        "hunt_defined" => Record::HuntDefined(HuntDef {
            id: need(l.id, "id")?,
            name: need(l.name, "name")?,
            opens_at: l.opens_at,
            closes_at: l.closes_at,
            clues: need(l.clues, "clues")?,
            products: need(l.products, "products")?,
        }),
        other => return Err(format!("unknown record_type {other:?}")),
    })
}

/// A chain head an auditor recorded earlier: the hash of the block ending at
/// `seq`, as `trove verify` prints it (`chain head: seq 7, block hash …`) and
/// as an export's footer gives it (`last_seq`, `last_hash`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainHead {
    pub seq: Seq,
    pub hash: Hash,
}

impl ChainHead {
    /// `SEQ:HASH`, the hash as 64 hex digits.
    pub fn parse(s: &str) -> Result<ChainHead, String> {
        let (seq, hash) = s.trim().split_once(':').ok_or_else(|| {
            format!("{s:?} is not SEQ:HASH (like 7:688ec99e…d2be, as trove verify prints the chain head)")
        })?;
        let seq = seq
            .trim()
            .parse::<Seq>()
            .ok()
            .filter(|s| *s > 0)
            .ok_or_else(|| format!("{seq:?} is not a sequence number (1 or more)"))?;
        let hash = hash.trim();
        let hash = Some(hash)
            .filter(|h| h.len() == 64)
            .and_then(unhex)
            .ok_or_else(|| format!("{hash:?} is not a block hash (64 hex digits)"))?;
        Ok(ChainHead { seq, hash })
    }
}

/// A problem found: (seq, stable code, what is wrong).
type Problem = (Option<Seq>, &'static str, String);
type LineResult = Result<(), Problem>;

fn fail<T>(seq: Option<Seq>, code: &'static str, reason: impl Into<String>) -> Result<T, Problem> {
    Err((seq, code, reason.into()))
}

/// Why a line that verify regenerated from what it proved differs from the
/// line read: the first field added, missing or changed.
fn canonical_diff(given: &str, want: &[u8], what: &str, source: &str) -> String {
    let g = serde_json::from_str::<serde_json::Map<String, Value>>(given);
    let w = serde_json::from_slice::<serde_json::Map<String, Value>>(want);
    if let (Ok(g), Ok(w)) = (g, w) {
        for (k, v) in &g {
            match w.get(k) {
                None => return format!("field {k:?} is not part of {what}: an added field, not covered by the proof"),
                Some(x) if x != v => return format!("field {k:?} is {v}, but {source} gives {x}: the line was edited"),
                Some(_) => {}
            }
        }
        if let Some(k) = w.keys().find(|k| !g.contains_key(*k)) {
            return format!("field {k:?} of {what} is missing");
        }
    }
    format!(
        "{what} is not byte for byte as trove writes it (field order, spacing or escapes differ): verify accepts export lines only exactly as exported"
    )
}

/// The block being checked and the records seen in it.
struct OpenBlock {
    line: u64,
    header: Header,
    hash: Hash,
    /// `committed_at` as record lines of this block must spell it.
    at_text: String,
    /// Per position: `k` kept, `t` telemetry, `-` removed by retention.
    classes: Option<Vec<u8>>,
    /// Of a compacted block: stands for its removed records.
    telemetry_root: Option<Hash>,
    removed: u32,
    leaves: Option<Vec<Option<Hash>>>,
    /// (line, seq, leaf, telemetry) of its records.
    seen: Vec<(u64, Seq, Hash, bool)>,
    /// Whether a record seen defines a hunt.
    defines_hunt: bool,
}

impl OpenBlock {
    fn last(&self) -> Seq {
        self.header.first_seq + u64::from(self.header.count) - 1
    }

    fn class(&self, seq: Seq) -> Option<u8> {
        self.classes.as_ref().map(|c| c[(seq - self.header.first_seq) as usize])
    }

    fn is_removed(&self, seq: Seq) -> bool {
        self.class(seq) == Some(b'-')
    }

    /// The block's sequences the export can hold: all but the removed.
    fn present(&self, lo: Seq, hi: Seq) -> Vec<Seq> {
        (lo..=hi).filter(|s| !self.is_removed(*s)).collect()
    }

    /// The leaf root of the records seen (and the telemetry root, if compacted).
    fn root_of_seen(&self) -> Hash {
        let (mut kept, mut telemetry) = (chain::ClassRoot::default(), chain::ClassRoot::default());
        for &(_, seq, leaf, t) in &self.seen {
            let index = (seq - self.header.first_seq) as u32;
            if t {
                telemetry.add(index, &leaf);
            } else {
                kept.add(index, &leaf);
            }
        }
        chain::leaf_root(
            &kept.finish(),
            &self.telemetry_root.unwrap_or_else(|| telemetry.finish()),
        )
    }

    /// Whether the block still holds telemetry and is known not to define a
    /// hunt (every kept record of it was seen): retention would have
    /// compacted it before any later block.
    fn compactable_but_whole(&self) -> bool {
        if self.removed > 0 || self.defines_hunt {
            return false;
        }
        match &self.classes {
            None => self.leaves.is_none() && self.seen.iter().any(|s| s.3),
            Some(c) => {
                let kept = c.iter().filter(|b| **b == b'k').count();
                let kept_seen = self.seen.iter().filter(|s| !s.3).count();
                c.contains(&b't') && kept == kept_seen
            }
        }
    }
}

/// How the start of an export is anchored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Start {
    /// No blocks.
    #[default]
    Empty,
    /// The first block holds seq 1 and has a zero `prev_hash`.
    Journal,
    /// The first block holds `after_seq + 1`.
    AfterSeq(Seq),
    /// Not provable from the export (a `from` filter, `--no-proof`).
    NotProven(&'static str),
}

/// The result of [`verify_export`].
#[derive(Clone, Debug, Default)]
pub struct VerifyOutcome {
    pub records: u64,
    pub blocks: u64,
    pub first_seq: Option<Seq>,
    pub last_seq: Option<Seq>,
    /// The chain's anchors: the first block's `prev_hash`, the last block's `hash`.
    pub anchor_prev_hash: Option<Hash>,
    pub last_hash: Option<Hash>,
    pub filters: Value,
    /// Whether the export proves it holds every record of its range.
    pub complete: bool,
    pub start: Start,
    /// The recorded chain head the export was checked against (and matched).
    pub head: Option<ChainHead>,
    /// Telemetry records absent from blocks marked compacted (the chain
    /// proves where they were and how many).
    pub removed: u64,
    pub compacted_blocks: u64,
    /// The first problem: (line, seq, stable code, reason).
    pub problem: Option<(u64, Option<Seq>, &'static str, String)>,
}

impl VerifyOutcome {
    pub fn ok(&self) -> bool {
        self.problem.is_none()
    }

    /// The stable code of the problem found (`record_missing`, …), if any.
    pub fn code(&self) -> Option<&'static str> {
        self.problem.as_ref().map(|p| p.2)
    }

    /// The lines `trove audit verify` prints.
    pub fn render(&self) -> String {
        let mut s = String::new();
        if let Some((line, seq, code, reason)) = &self.problem {
            match seq {
                Some(seq) => s.push_str(&format!("line {line} (seq {seq}): {reason}\n")),
                None => s.push_str(&format!("line {line}: {reason}\n")),
            }
            s.push_str(&format!("verify: FAILED ({code})\n"));
            return s;
        }
        let range = match (self.first_seq, self.last_seq) {
            (Some(a), Some(b)) => format!("seq {a}..{b}"),
            _ => "no sequence range".into(),
        };
        s.push_str(&format!(
            "OK: {} records in {} blocks, {range}, intact\n",
            self.records, self.blocks
        ));
        if let (Some(p), Some(h)) = (self.anchor_prev_hash, self.last_hash) {
            s.push_str(&format!(
                "chain: first block's prev_hash {} (block before seq {}), last block hash {} (through seq {})\n",
                hex(&p),
                self.first_seq.unwrap_or(0),
                hex(&h),
                self.last_seq.unwrap_or(0)
            ));
        }
        let no_filters = self.filters.as_object().is_none_or(|m| m.is_empty());
        s.push_str(&format!(
            "filters: {} (every record shown matches them)\n",
            if no_filters {
                "none".to_string()
            } else {
                self.filters.to_string()
            }
        ));
        match &self.start {
            Start::Empty => {}
            Start::Journal => s.push_str(
                "start: the start of the journal (the first block holds seq 1 and has a zero prev_hash)\n",
            ),
            Start::AfterSeq(a) => s.push_str(&format!(
                "start: the block holding seq {} (after_seq {a}): nothing after seq {a} is missing before it\n",
                a + 1
            )),
            Start::NotProven(why) => s.push_str(&format!(
                "start: not proven ({why}): blocks before seq {} could have been left out; check its first prev_hash against the block before it (an earlier export), or export with --after-seq\n",
                self.first_seq.unwrap_or(0)
            )),
        }
        match &self.head {
            Some(h) => {
                s.push_str(&format!(
                    "head: the block ending at seq {} has the hash you recorded ({}): this export is the journal you recorded through seq {}",
                    h.seq,
                    hex(&h.hash),
                    h.seq
                ));
                match self.last_seq {
                    Some(b) if b > h.seq => s.push_str(&format!(
                        "; seq {}..{b} is newer than that head (a cut after seq {} is not detectable)\n",
                        h.seq + 1,
                        h.seq
                    )),
                    _ => s.push('\n'),
                }
            }
            None => s.push_str(
                "end: not proven: removing the last blocks (and rewriting the footer) is detectable only against a chain head recorded earlier: trove audit verify FILE --head SEQ:HASH\n",
            ),
        }
        if self.removed > 0 {
            s.push_str(&format!(
                "retention: {} telemetry records were removed from {} compacted blocks; their blocks' hashes, counts and telemetry roots are intact (the chain proves they were checkins or interactions, how many and where, not their content, nor that retention rather than whoever made this file removed them; no claim, clue find, hunt definition or stock change can be hidden this way)\n",
                self.removed, self.compacted_blocks
            ));
        }
        if self.complete {
            s.push_str(&format!(
                "complete: every record of {range} (within its time window) is present and authentic{}\n",
                if self.removed > 0 {
                    ", but for the removed telemetry above"
                } else {
                    ""
                }
            ));
        } else {
            s.push_str(&format!(
                "filtered ({}): every record present is authentic, in place in the hash chain and matches the filters, but this export cannot prove that no other matching record was left out\n",
                self.filters
            ));
        }
        s
    }
}

/// Finds a `"seq":N` in a line that did not parse, for the error position.
fn sniff_seq(line: &str) -> Option<Seq> {
    let i = line.find("\"seq\":")? + 6;
    let digits: String = line[i..].chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

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
                out.problem = Some((n + 1, None, "unreadable", format!("cannot read the export: {e}")));
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
        let text = line.strip_suffix('\n').unwrap_or(&line);
        if footer_seen {
            out.problem = Some((n, sniff_seq(text), "after_footer", "content after the footer".into()));
            return out;
        }
        if !line.ends_with('\n') {
            // The last line has no newline: the file was cut.
            out.problem = Some((
                n,
                sniff_seq(text),
                "truncated",
                "line cut short: the export is truncated".into(),
            ));
            return out;
        }
        let parsed: Line = match serde_json::from_str(text) {
            Ok(l) => l,
            Err(e) => {
                out.problem = Some((n, sniff_seq(text), "bad_line", format!("not a valid export line: {e}")));
                return out;
            }
        };
        if let Err((seq, code, reason)) = v.line(n, text, parsed, &mut out, &mut footer_seen) {
            out.problem = Some((v.at_line.take().unwrap_or(n), seq, code, reason));
            return out;
        }
    }
    progress(bytes);
    if n == 0 {
        out.problem = Some((1, None, "not_an_export", "empty file: not an export".into()));
    } else if !footer_seen {
        let seq = v.last_record_seq;
        out.problem = Some((
            n,
            seq,
            "truncated",
            format!("truncated: the export ends at line {n} without its footer"),
        ));
    }
    out
}

#[derive(Default)]
struct Verifier {
    header: bool,
    filters: Filters,
    filters_json: Value,
    head: Option<ChainHead>,
    head_found: bool,
    open: Option<OpenBlock>,
    /// (hash, next first_seq) of the last closed block.
    prev: Option<(Hash, Seq)>,
    /// The last block that is first seen and still holds telemetry that
    /// retention would have removed: (line, first, last).
    whole_telemetry: Option<(u64, Seq, Seq)>,
    last_record_seq: Option<Seq>,
    records: u64,
    blocks: u64,
    removed: u64,
    compacted_blocks: u64,
    range: Option<(Seq, Seq)>,
    line_buf: Vec<u8>,
    /// The line a problem is at, when not the line being read (found when a
    /// block is closed).
    at_line: Option<u64>,
}

impl Verifier {
    fn line(&mut self, n: u64, text: &str, l: Line, out: &mut VerifyOutcome, footer_seen: &mut bool) -> LineResult {
        if !self.header {
            return self.header_line(text, l, out);
        }
        match l.line_type.as_str() {
            "block" => self.block(n, text, l, out),
            "record" => self.record(n, text, l),
            "footer" => {
                self.close_block()?;
                *footer_seen = true;
                self.footer(text, l, out)
            }
            "header" => fail(None, "bad_line", "a second header"),
            other => fail(None, "bad_line", format!("unknown line type {other:?}")),
        }
    }

    fn header_line(&mut self, text: &str, l: Line, out: &mut VerifyOutcome) -> LineResult {
        if l.line_type != "header" {
            return fail(None, "not_an_export", "the first line is not an export header");
        }
        if l.format.as_deref() != Some(FORMAT_NAME) {
            return fail(None, "not_an_export", format!("format is not {FORMAT_NAME:?}"));
        }
        if l.version != Some(FORMAT_VERSION) {
            return fail(
                None,
                "bad_version",
                format!("unsupported export version {:?}", l.version),
            );
        }
        let filters = need(l.filters, "filters").map_err(|e| (None, "bad_line", e))?;
        self.filters = Filters::from_json(&filters).map_err(|e| (None, "bad_line", format!("header filters: {e}")))?;
        let generated_at = need(l.generated_at, "generated_at").map_err(|e| (None, "bad_line", e))?;
        let at = parse_time(&generated_at).map_err(|e| (None, "bad_line", format!("generated_at: {e}")))?;
        // The filters as the export would write them: unknown or respelled
        // filters, and any other field, are rejected.
        self.filters_json = self.filters.to_json();
        self.line_buf.clear();
        header_line(&mut self.line_buf, &self.filters_json, &format_ms(at));
        if self.line_buf != text.as_bytes() {
            return fail(
                None,
                "not_canonical",
                canonical_diff(text, &self.line_buf, "the header", "the header's parsed filters"),
            );
        }
        out.filters = self.filters_json.clone();
        self.header = true;
        Ok(())
    }

    fn block(&mut self, n: u64, text: &str, l: Line, out: &mut VerifyOutcome) -> LineResult {
        self.close_block()?;
        let first_seq = l.first_seq;
        let bad = |code: &'static str, reason: String| (first_seq, code, reason);
        let h = |v: Option<String>, name: &str| -> Result<Hash, Problem> {
            let s = need(v, name).map_err(|e| bad("bad_line", e))?;
            unhex(&s).ok_or_else(|| bad("bad_line", format!("{name} is not 64 hex digits")))
        };
        let header = Header {
            first_seq: need(l.first_seq, "first_seq").map_err(|e| bad("bad_line", e))?,
            count: need(l.count, "count").map_err(|e| bad("bad_line", e))?,
            payload_len: need(l.payload_len, "payload_len").map_err(|e| bad("bad_line", e))?,
            committed_at: need(l.committed_at_ms, "committed_at_ms").map_err(|e| bad("bad_line", e))?,
            prev_hash: h(l.prev_hash, "prev_hash")?,
            leaf_root: h(l.leaf_root, "leaf_root")?,
            payload_hash: h(l.payload_hash, "payload_hash")?,
        };
        let hash = h(l.hash, "hash")?;
        if header.count == 0 {
            return Err(bad("bad_block", "block of 0 records".into()));
        }
        if header.hash() != hash {
            return Err(bad(
                "block_altered",
                "block hash does not match its header fields (the block line was altered)".into(),
            ));
        }
        let last = header.first_seq + u64::from(header.count) - 1;
        let telemetry_root = match l.telemetry_root {
            Some(t) => Some(unhex(&t).ok_or_else(|| bad("bad_line", "telemetry_root is not 64 hex digits".into()))?),
            None => None,
        };
        let removed = l.removed.unwrap_or(0);
        let classes = match l.classes {
            None => None,
            Some(c) => {
                if c.len() != header.count as usize || !c.bytes().all(|b| matches!(b, b'k' | b't' | b'-')) {
                    return Err(bad(
                        "bad_block",
                        format!("classes must be {} characters of k, t and -", header.count),
                    ));
                }
                Some(c.into_bytes())
            }
        };
        let dashes = classes.as_ref().map_or(0, |c| c.iter().filter(|b| **b == b'-').count());
        if removed > 0 || telemetry_root.is_some() || dashes > 0 {
            // A compacted block.
            if removed == 0 || telemetry_root.is_none() || classes.is_none() {
                return Err(bad(
                    "bad_block",
                    "a compacted block needs removed, telemetry_root and classes together".into(),
                ));
            }
            if dashes != removed as usize {
                return Err(bad(
                    "bad_block",
                    format!("block says {removed} records were removed but its classes mark {dashes}"),
                ));
            }
            if classes.as_ref().is_some_and(|c| c.contains(&b't')) {
                return Err(bad("bad_block", "a compacted block cannot still hold telemetry".into()));
            }
            if let Some((wl, wf, wlast)) = self.whole_telemetry {
                // Retention compacts from the start of the journal and stops
                // for good at the first block it leaves whole (only blocks
                // that define a hunt are skipped).
                return Err(bad(
                    "compaction_impossible",
                    format!(
                        "block seq {}..{last} is marked compacted, but block seq {wf}..{wlast} (line {wl}) before it still holds its telemetry and defines no hunt: retention never compacts a block after one it left whole, so these records were removed by whoever made this file",
                        header.first_seq
                    ),
                ));
            }
        } else if classes.is_some() && l.leaves.is_none() {
            return Err(bad(
                "bad_block",
                "classes without leaves on a block that is not compacted".into(),
            ));
        }
        let leaves = match l.leaves {
            None => None,
            Some(list) => {
                let Some(classes) = &classes else {
                    return Err(bad("bad_block", "leaves without classes".into()));
                };
                if list.len() != header.count as usize {
                    return Err(bad(
                        "bad_block",
                        format!("block lists {} leaves for {} records", list.len(), header.count),
                    ));
                }
                let (mut kept, mut telemetry) = (chain::ClassRoot::default(), chain::ClassRoot::default());
                let mut leaves = Vec::with_capacity(list.len());
                for (i, (leaf, class)) in list.iter().zip(classes).enumerate() {
                    let leaf = match (leaf, class) {
                        (None, b'-') => None,
                        (Some(l), b'k' | b't') => {
                            Some(unhex(l).ok_or_else(|| bad("bad_line", "a leaf is not 64 hex digits".into()))?)
                        }
                        _ => return Err(bad("bad_block", format!("leaf {i} does not agree with its class"))),
                    };
                    match (leaf, class) {
                        (Some(l), b't') => telemetry.add(i as u32, &l),
                        (Some(l), _) => kept.add(i as u32, &l),
                        (None, _) => {}
                    }
                    leaves.push(leaf);
                }
                let telemetry = telemetry_root.unwrap_or_else(|| telemetry.finish());
                if chain::leaf_root(&kept.finish(), &telemetry) != header.leaf_root {
                    return Err(bad(
                        "record_altered",
                        "the block's leaves do not give its leaf_root".into(),
                    ));
                }
                Some(leaves)
            }
        };
        // Every field of the line is one of these, as the export writes it.
        let at_text = format_ms(header.committed_at);
        self.line_buf.clear();
        let proof = classes.as_ref().map(|c| BlockProof {
            classes: std::str::from_utf8(c).expect("checked: k, t and -"),
            leaves: leaves.as_deref(),
        });
        let compacted = telemetry_root.as_ref().map(|t| (removed, t));
        block_line_of(&mut self.line_buf, &header, &hash, &at_text, compacted, proof);
        if self.line_buf != text.as_bytes() {
            return Err(bad(
                "not_canonical",
                canonical_diff(text, &self.line_buf, "a block line", "the block's proven header"),
            ));
        }
        if header.first_seq == 1 && header.prev_hash != [0u8; 32] {
            return Err(bad(
                "chain_broken",
                "the journal's first block (seq 1) must have a zero prev_hash".into(),
            ));
        }
        if let Some((_, to)) = &self.filters.to {
            if header.committed_at >= *to {
                return Err(bad(
                    "filter_mismatch",
                    format!("block committed at {at_text}, at or after the export's to: an export stops before it"),
                ));
            }
        }
        if let Some(head) = self.head {
            if last == head.seq {
                if hash != head.hash {
                    return Err(bad(
                        "head_mismatch",
                        format!(
                            "the block ending at seq {} has hash {}, but the head you recorded has {}: the journal was rewritten at or before seq {}",
                            head.seq,
                            hex(&hash),
                            hex(&head.hash),
                            head.seq
                        ),
                    ));
                }
                self.head_found = true;
            } else if header.first_seq <= head.seq && head.seq < last {
                return Err(bad(
                    "head_mismatch",
                    format!(
                        "the head you recorded is a block ending at seq {}, but here seq {} lies inside block seq {}..{last}: the journal was rewritten",
                        head.seq, head.seq, header.first_seq
                    ),
                ));
            } else if header.first_seq == head.seq + 1 {
                if header.prev_hash != head.hash {
                    return Err(bad(
                        "head_mismatch",
                        format!(
                            "the block after seq {} has prev_hash {}, but the head you recorded has {}: the journal was rewritten at or before seq {}",
                            head.seq,
                            hex(&header.prev_hash),
                            hex(&head.hash),
                            head.seq
                        ),
                    ));
                }
                self.head_found = true;
            }
        }
        match self.prev {
            Some((prev_hash, next)) => {
                if self.filters.no_proof {
                    // Blocks without matching records were left out: only order is checked.
                    if header.first_seq < next {
                        return Err(bad(
                            "sequence_gap",
                            format!(
                                "block starts at seq {} but the previous block ended at {}",
                                header.first_seq,
                                next - 1
                            ),
                        ));
                    }
                    if header.first_seq == next && header.prev_hash != prev_hash {
                        return Err(bad(
                            "chain_broken",
                            "hash chain broken: prev_hash is not the previous block's hash".into(),
                        ));
                    }
                } else {
                    if header.first_seq != next {
                        return Err(bad(
                            "sequence_gap",
                            format!(
                                "sequence gap: expected a block starting at seq {next}, found {} (blocks missing, reordered or inserted)",
                                header.first_seq
                            ),
                        ));
                    }
                    if header.prev_hash != prev_hash {
                        return Err(bad(
                            "chain_broken",
                            "hash chain broken: prev_hash is not the previous block's hash".into(),
                        ));
                    }
                }
            }
            None => {
                out.anchor_prev_hash = Some(header.prev_hash);
                out.start = self.start_of(&header)?;
            }
        }
        self.open = Some(OpenBlock {
            line: n,
            header,
            hash,
            at_text,
            classes,
            telemetry_root,
            removed,
            leaves,
            seen: Vec::new(),
            defines_hunt: false,
        });
        Ok(())
    }

    /// Checks where the first block of the export starts.
    fn start_of(&self, header: &Header) -> Result<Start, Problem> {
        if self.filters.no_proof {
            return Ok(Start::NotProven(
                "--no-proof leaves out blocks without matching records",
            ));
        }
        if !self.filters.time_ok(header.committed_at) {
            return fail(
                Some(header.first_seq),
                "filter_mismatch",
                "the first block was committed before the export's from: an export starts at the first block committed at or after it",
            );
        }
        if self.filters.from.is_some() {
            return Ok(Start::NotProven(
                "a from filter: the block before the first is not in the export",
            ));
        }
        let want = self.filters.after_seq.map_or(1, |s| s + 1);
        let last = header.first_seq + u64::from(header.count) - 1;
        if header.first_seq > want {
            let rule = match self.filters.after_seq {
                None => "it has no after_seq filter, so its first block must hold seq 1".to_string(),
                Some(s) => format!("its after_seq is {s}, so its first block must hold seq {want}"),
            };
            return fail(
                Some(header.first_seq),
                "start_missing",
                format!(
                    "the export starts at seq {}, but {rule}: records {want}..{} were removed from its start",
                    header.first_seq,
                    header.first_seq - 1
                ),
            );
        }
        if last < want {
            return fail(
                Some(header.first_seq),
                "filter_mismatch",
                "block lies outside the export's sequence filters",
            );
        }
        Ok(match self.filters.after_seq {
            None | Some(0) => Start::Journal,
            Some(s) => Start::AfterSeq(s),
        })
    }

    fn record(&mut self, n: u64, text: &str, l: Line) -> LineResult {
        let seq = l.seq;
        let Some(b) = self.open.as_mut() else {
            return fail(seq, "record_misplaced", "a record before any block line");
        };
        let seq = need(seq, "seq").map_err(|e| (None, "bad_line", e))?;
        let (first, last) = (b.header.first_seq, b.last());
        if seq < first || seq > last {
            return fail(
                Some(seq),
                "record_misplaced",
                format!("record outside its block (seq {first}..{last}): records reordered or moved"),
            );
        }
        if let Some(&(_, prev, _, _)) = b.seen.last() {
            if seq <= prev {
                return fail(
                    Some(seq),
                    "record_misplaced",
                    format!("seq {seq} after seq {prev}: records out of order or duplicated"),
                );
            }
        }
        if b.is_removed(seq) {
            return fail(
                Some(seq),
                "record_misplaced",
                format!("record {seq} is where its block says retention removed a record"),
            );
        }
        if b.leaves.is_none() {
            // A whole block: its records must all be here, in order.
            let after = b.seen.last().map_or(first, |s| s.1 + 1);
            let expected = (after..=last).find(|s| !b.is_removed(*s)).unwrap_or(last + 1);
            if seq != expected {
                return fail(
                    Some(expected),
                    "record_missing",
                    format!("record {expected} is missing or out of order: found seq {seq} in its place"),
                );
            }
        }
        let record = record_of(l).map_err(|e| (Some(seq), "bad_line", e))?;
        let leaf = trove_persistence::record_leaf(&record).map_err(|e| (Some(seq), "bad_line", e))?;
        let telemetry = record.is_telemetry();
        if let Some(class) = b.class(seq) {
            if class != if telemetry { b't' } else { b'k' } {
                return fail(
                    Some(seq),
                    "record_altered",
                    "record's type does not match its class in the block: its content was altered",
                );
            }
        }
        if let Some(leaves) = &b.leaves {
            if leaves[(seq - first) as usize] != Some(leaf) {
                return fail(
                    Some(seq),
                    "record_altered",
                    "record does not match its leaf hash in the block: its content was altered",
                );
            }
        }
        let view = record.view();
        let f = &self.filters;
        let in_seq = f.after_seq.is_none_or(|a| seq > a) && f.until_seq.is_none_or(|u| seq <= u);
        if !in_seq || !f.time_ok(b.header.committed_at) || !f.matches(&view) {
            return fail(
                Some(seq),
                "filter_mismatch",
                format!(
                    "record {seq} ({}) does not match the export's filters {}: an export holds only matching records (its header's filters were edited?)",
                    type_name(&view),
                    self.filters_json
                ),
            );
        }
        // Every field of the line as the export writes it from this record
        // and its block: nothing a reader sees escapes the proof.
        self.line_buf.clear();
        jsonl_record(&mut self.line_buf, seq, &b.at_text, b.header.committed_at, &view);
        if self.line_buf != text.as_bytes() {
            return fail(
                Some(seq),
                "not_canonical",
                canonical_diff(
                    text,
                    &self.line_buf,
                    &format!("a {} record line", type_name(&view)),
                    "the proven record with its block's commit time",
                ),
            );
        }
        if matches!(record, Record::HuntDefined(_)) {
            if b.removed > 0 {
                return fail(
                    Some(seq),
                    "compaction_impossible",
                    format!(
                        "block seq {first}..{last} is marked compacted but defines a hunt: retention never compacts such a block"
                    ),
                );
            }
            b.defines_hunt = true;
        }
        b.seen.push((n, seq, leaf, telemetry));
        self.records += 1;
        self.last_record_seq = Some(seq);
        Ok(())
    }

    fn close_block(&mut self) -> LineResult {
        let Some(b) = self.open.take() else {
            return Ok(());
        };
        let (first, last) = (b.header.first_seq, b.last());
        if b.leaves.is_none() {
            let held = b.header.count - b.removed;
            if b.seen.len() != held as usize {
                let present = b.present(first, last);
                let missing = present.get(b.seen.len()).copied().unwrap_or(last);
                self.at_line = Some(b.seen.last().map_or(b.line, |s| s.0) + 1);
                return fail(
                    Some(missing),
                    "record_missing",
                    format!(
                        "block seq {first}..{last} (line {}) holds {held} records but the export holds {}: record {missing} is missing",
                        b.line,
                        b.seen.len()
                    ),
                );
            }
            if b.root_of_seen() != b.header.leaf_root {
                self.at_line = Some(b.seen.first().map_or(b.line, |s| s.0));
                return fail(
                    Some(first),
                    "record_altered",
                    format!(
                        "the records of block seq {first}..{last} (lines {}..{}) do not give its leaf_root: one of them was altered",
                        b.seen.first().map_or(b.line, |s| s.0),
                        b.seen.last().map_or(b.line, |s| s.0)
                    ),
                );
            }
        }
        // The range this block contributes, and completeness where provable.
        let lo = first.max(self.filters.after_seq.map_or(0, |s| s + 1));
        let hi = last.min(self.filters.until_seq.unwrap_or(Seq::MAX));
        if lo > hi {
            self.at_line = Some(b.line);
            return fail(
                Some(first),
                "filter_mismatch",
                "block lies outside the export's sequence filters",
            );
        }
        let time_ok = self.filters.time_ok(b.header.committed_at);
        if !self.filters.by_content() && !self.filters.no_proof {
            let expect: Vec<Seq> = if time_ok { b.present(lo, hi) } else { Vec::new() };
            let got: Vec<Seq> = b.seen.iter().map(|s| s.1).collect();
            if got != expect {
                let missing = expect.iter().find(|s| !got.contains(s)).copied();
                let extra = got.iter().find(|s| !expect.contains(s)).copied();
                self.at_line = Some(match (missing, extra) {
                    (Some(m), _) => b.seen.iter().rfind(|s| s.1 < m).map_or(b.line, |s| s.0) + 1,
                    (None, Some(x)) => b.seen.iter().find(|s| s.1 == x).map_or(b.line, |s| s.0),
                    _ => b.line,
                });
                return Err(match (missing, extra) {
                    (Some(m), _) => (
                        Some(m),
                        "record_missing",
                        format!("record {m} is missing from block seq {first}..{last} (line {})", b.line),
                    ),
                    (None, Some(x)) => (
                        Some(x),
                        "filter_mismatch",
                        format!("record {x} is outside the export's filters"),
                    ),
                    _ => (
                        Some(first),
                        "filter_mismatch",
                        "records do not match the filters".into(),
                    ),
                });
            }
        } else if time_ok && b.leaves.is_some() {
            // Content filters: a leaf says a record exists, not what it
            // holds. Where the filters select every record of a class, a
            // position of that class left out is a record removed.
            for s in lo..=hi {
                let class = b.class(s).unwrap_or(b'-');
                if class != b'-' && self.filters.selects_class(class) && !b.seen.iter().any(|x| x.1 == s) {
                    self.at_line = Some(b.seen.iter().rfind(|x| x.1 < s).map_or(b.line, |x| x.0) + 1);
                    return fail(
                        Some(s),
                        "record_omitted",
                        format!(
                            "record {s} is missing from block seq {first}..{last} (line {}): the filters {} select every {} record, and the block's leaves show one at seq {s}",
                            b.line,
                            self.filters_json,
                            if class == b't' { "telemetry" } else { "kept" }
                        ),
                    );
                }
            }
        }
        if self.whole_telemetry.is_none() && b.compactable_but_whole() {
            self.whole_telemetry = Some((b.line, first, last));
        }
        self.range = Some(match self.range {
            None => (lo, hi),
            Some((a, _)) => (a, hi),
        });
        self.blocks += 1;
        if b.removed > 0 {
            self.removed += u64::from(b.removed);
            self.compacted_blocks += 1;
        }
        self.prev = Some((b.hash, last + 1));
        Ok(())
    }

    fn footer(&mut self, text: &str, l: Line, out: &mut VerifyOutcome) -> LineResult {
        let last_hash = self.prev.map(|p| p.0);
        if self.filters.no_proof {
            // Blocks without matching records were left out: the footer's
            // range (the one scanned) may be wider than the blocks present.
            // Its start is known without a from filter.
            if let (Some(fa), Some(fb)) = (l.first_seq, l.last_seq) {
                let start_ok = self.filters.from.is_some() || fa == self.filters.after_seq.map_or(1, |s| s + 1);
                if !start_ok {
                    return fail(
                        Some(fa),
                        "start_missing",
                        format!(
                            "footer says the export scanned from seq {fa}, but its filters make it start at seq {}",
                            self.filters.after_seq.map_or(1, |s| s + 1)
                        ),
                    );
                }
                if fa <= fb && self.range.is_none_or(|(a, b)| fa <= a && fb >= b) {
                    self.range = Some((fa, fb));
                }
            }
        }
        let checks: [(&str, String, String); 5] = [
            (
                "records",
                format!("{:?}", l.records),
                format!("{:?}", Some(self.records)),
            ),
            ("blocks", format!("{:?}", l.blocks), format!("{:?}", Some(self.blocks))),
            (
                "first_seq",
                format!("{:?}", l.first_seq),
                format!("{:?}", self.range.map(|r| r.0)),
            ),
            (
                "last_seq",
                format!("{:?}", l.last_seq),
                format!("{:?}", self.range.map(|r| r.1)),
            ),
            (
                "last_hash",
                format!("{:?}", l.last_hash),
                format!("{:?}", last_hash.as_ref().map(hex)),
            ),
        ];
        for (name, said, found) in checks {
            if said != found {
                return fail(
                    self.last_record_seq,
                    "footer_mismatch",
                    format!("footer says {name} {said}, the export holds {found} (lines removed or added)"),
                );
            }
        }
        self.line_buf.clear();
        footer_line(
            &mut self.line_buf,
            self.records,
            self.blocks,
            self.range,
            last_hash.as_ref(),
        );
        if self.line_buf != text.as_bytes() {
            return fail(
                self.last_record_seq,
                "not_canonical",
                canonical_diff(text, &self.line_buf, "the footer", "the export's content"),
            );
        }
        if let Some(head) = self.head {
            if !self.head_found {
                let ends = self.prev.map(|p| p.1 - 1);
                return match ends {
                    Some(e) if e > head.seq => fail(
                        self.last_record_seq,
                        "head_not_covered",
                        format!(
                            "the export does not hold the block ending at seq {} (nor the block after it): it cannot be checked against the head you recorded; export a range that covers seq {}",
                            head.seq, head.seq
                        ),
                    ),
                    _ => fail(
                        self.last_record_seq,
                        "head_not_reached",
                        format!(
                            "the export ends at {}, before the head you recorded at seq {}: its end was cut (or it was made with to or until_seq before the head)",
                            ends.map_or("its start (no blocks)".to_string(), |e| format!("seq {e}")),
                            head.seq
                        ),
                    ),
                };
            }
            out.head = Some(head);
        }
        out.records = self.records;
        out.blocks = self.blocks;
        out.removed = self.removed;
        out.compacted_blocks = self.compacted_blocks;
        out.first_seq = self.range.map(|r| r.0);
        out.last_seq = self.range.map(|r| r.1);
        out.last_hash = last_hash;
        out.complete = !self.filters.by_content() && !self.filters.no_proof;
        Ok(())
    }
}

// ------------------------------------------------------------------ reports

/// A report: counts over `[from, to)` from the audit rollups. Serializes
/// with its fields in this order.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ok: Option<bool>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub from_ms: Option<Millis>,
    pub to_ms: Option<Millis>,
    pub records: u64,
    pub claims: Vec<ClaimCount>,
    pub events: Vec<EventCount>,
    pub hunts_defined: u64,
    pub stock_changes: u64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ClaimCount {
    pub hunt: String,
    pub sku: String,
    /// `granted` or the reject reason.
    pub outcome: String,
    pub count: u64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct EventCount {
    pub hunt: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub count: u64,
}

pub fn report(r: &Rollup, from: Option<Millis>, to: Option<Millis>) -> Report {
    Report {
        ok: None,
        from: from.map(format_ms),
        to: to.map(format_ms),
        from_ms: from,
        to_ms: to,
        records: r.records,
        claims: r
            .claims
            .iter()
            .map(|((hunt, sku, outcome), n)| ClaimCount {
                hunt: hunt.clone(),
                sku: sku.clone(),
                outcome: outcome.clone(),
                count: *n,
            })
            .collect(),
        events: r
            .events
            .iter()
            .map(|((hunt, kind), n)| EventCount {
                hunt: hunt.clone(),
                event_type: kind.clone(),
                count: *n,
            })
            .collect(),
        hunts_defined: r.hunts_defined,
        stock_changes: r.stock_changes,
    }
}

/// The report as JSON text (fields in their documented order).
pub fn report_json(r: &Rollup, from: Option<Millis>, to: Option<Millis>) -> String {
    serde_json::to_string(&report(r, from, to)).expect("reports encode")
}

/// The window a report covers: open ends become the widest range.
pub fn report_window(from: Option<Millis>, to: Option<Millis>) -> (Millis, Millis) {
    (from.unwrap_or(i64::MIN / 2), to.unwrap_or(i64::MAX / 2))
}

/// The report as a table, for people.
pub fn report_table(r: &Rollup, from: Option<Millis>, to: Option<Millis>) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "window: {} .. {} (whole seconds)\n",
        from.map_or("start".into(), format_ms),
        to.map_or("end".into(), format_ms)
    ));
    s.push_str(&format!(
        "records: {}  (hunts defined: {}, stock changes: {})\n\n",
        r.records, r.hunts_defined, r.stock_changes
    ));
    let mut claims = vec![["hunt".to_string(), "sku".into(), "outcome".into(), "count".into()]];
    claims.extend(
        r.claims
            .iter()
            .map(|((h, k, o), n)| [h.clone(), k.clone(), o.clone(), n.to_string()]),
    );
    s.push_str("claims\n");
    s.push_str(&table(&claims));
    let mut events = vec![["hunt".to_string(), "type".into(), "count".into()]];
    events.extend(r.events.iter().map(|((h, k), n)| [h.clone(), k.clone(), n.to_string()]));
    s.push_str("\nevents\n");
    s.push_str(&table(&events));
    s
}

fn table<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0usize; N];
    for row in rows {
        for (i, c) in row.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let mut s = String::new();
    for (j, row) in rows.iter().enumerate() {
        for (i, c) in row.iter().enumerate() {
            if i + 1 == N {
                // Counts, right-aligned.
                s.push_str(&format!("{c:>w$}", w = widths[i]));
            } else {
                s.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        s.push('\n');
        if j == 0 && rows.len() == 1 {
            s.push_str("(none)\n");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_types_parse() {
        assert_eq!(parse_time("1970-01-01T00:00:01.5Z").unwrap(), 1500);
        assert_eq!(parse_time("2500").unwrap(), 2500);
        assert!(parse_time("yesterday").is_err());
        assert_eq!(format_ms(1500), "1970-01-01T00:00:01.500Z");
        let t = TypeSet::parse("claims,checkin").unwrap();
        assert!(t.contains(TypeSet::CLAIM) && t.contains(TypeSet::CHECKIN) && !t.contains(TypeSet::CLUE_FOUND));
        assert!(TypeSet::parse("nope").is_err());
    }

    #[test]
    fn chain_heads_parse() {
        let h = "688ec99ece3c24d9932a28c9e38720710fc00df6434c7a293a39ba0b3fc6d2be";
        let head = ChainHead::parse(&format!("7:{h}")).unwrap();
        assert_eq!((head.seq, hex(&head.hash)), (7, h.to_string()));
        assert_eq!(ChainHead::parse(&format!(" 7 : {} ", h.to_uppercase())).unwrap(), head);
        for bad in [
            String::new(),
            "7".into(),
            format!("0:{h}"),
            format!("x:{h}"),
            format!("7:{}", &h[..63]),
            format!("7:{h}0"),
            format!("7:{}", "g".repeat(64)),
        ] {
            assert!(ChainHead::parse(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn numbers_format() {
        for n in [0i64, 7, 10, 1795908678744, -5, i64::MIN, i64::MAX] {
            let mut b = Vec::new();
            push_i64(&mut b, n);
            assert_eq!(String::from_utf8(b).unwrap(), n.to_string());
        }
        let mut b = Vec::new();
        push_u64(&mut b, u64::MAX);
        assert_eq!(String::from_utf8(b).unwrap(), u64::MAX.to_string());
    }

    #[test]
    fn csv_quotes_per_rfc4180() {
        let mut b = Vec::new();
        csv_field(&mut b, "plain");
        b.push(b'|');
        csv_field(&mut b, r#"{"a":"x,y"}"#);
        assert_eq!(String::from_utf8(b).unwrap(), r#"plain|"{""a"":""x,y""}""#);
    }

    #[test]
    fn record_lines_reencode_to_the_same_bytes() {
        let records = vec![
            Record::Claim {
                request: ClaimRequest {
                    claim_id: "k".into(),
                    player: "p\"1".into(),
                    hunt: "h".into(),
                    sku: "s".into(),
                    customs: r#"{"a":"é\u00e9","n":1.50}"#.into(),
                },
                outcome: Outcome::Rejected(RejectReason::OutOfStock),
            },
            Record::Claim {
                request: ClaimRequest {
                    claim_id: "k".into(),
                    player: "p".into(),
                    hunt: "h".into(),
                    sku: "s".into(),
                    customs: " not json".into(),
                },
                outcome: Outcome::Granted,
            },
            Record::HuntDefined(HuntDef {
                id: "h".into(),
                name: "n".into(),
                opens_at: None,
                closes_at: Some(5),
                clues: vec![ClueDef {
                    id: "c".into(),
                    points: 3,
                }],
                products: vec![ProductDef {
                    sku: "s".into(),
                    stock: 2,
                    per_player_limit: 1,
                    min_score: 0,
                }],
            }),
            Record::StockAdded {
                hunt: "h".into(),
                sku: "s".into(),
                added: 9,
            },
            Record::Event(GameEvent {
                player: "p".into(),
                hunt: "h".into(),
                kind: EventKind::Interaction { kind: "x\ny".into() },
            }),
        ];
        for r in records {
            let mut line = Vec::new();
            jsonl_record(&mut line, 7, &format_ms(1), 1, &r.view());
            let l: Line = serde_json::from_slice(&line).unwrap();
            assert_eq!(record_of(l).unwrap(), r, "{}", String::from_utf8_lossy(&line));
        }
    }
}

// ------------------------------------------------------------------ HTTP

pub mod http {
    //! `GET /v1/audit/export` and `GET /v1/audit/report` (auditor, admin).

    use super::*;
    use crate::auth::{query_param, Action};
    use crate::error::ApiError;
    use crate::state::AppState;
    use actix_web::web::{self, Bytes};
    use actix_web::{HttpRequest, HttpResponse};
    use std::sync::Arc;

    /// Chunks the export hands to the response stream; the channel holds a
    /// few, so a slow client slows the export instead of filling memory, and
    /// one that stops reading is dropped (see `crate::stream`).
    const CHANNEL_CHUNKS: usize = 4;

    fn opt(q: &str, names: &[&str]) -> Option<String> {
        names.iter().find_map(|n| query_param(q, n)).filter(|s| !s.is_empty())
    }

    fn opt_seq(q: &str, names: &[&str]) -> Result<Option<Seq>, ApiError> {
        opt(q, names)
            .map(|s| {
                s.parse::<Seq>()
                    .map_err(|_| ApiError::invalid_request(format!("{} must be a whole number, not {s:?}", names[0])))
            })
            .transpose()
    }

    fn time(q: &str, name: &str) -> Result<Option<Millis>, ApiError> {
        opt(q, &[name])
            .map(|s| parse_time(&s).map_err(|e| ApiError::invalid_request(format!("{name}: {e}"))))
            .transpose()
    }

    /// The filters of an export request's query string.
    pub fn filters_of(q: &str) -> Result<(Format, Filters), ApiError> {
        let format =
            Format::parse(opt(q, &["format"]).as_deref().unwrap_or("jsonl")).map_err(ApiError::invalid_request)?;
        let no_proof = match opt(q, &["no_proof", "no-proof"]).as_deref() {
            None | Some("false") | Some("0") => false,
            Some("true") | Some("1") => true,
            Some(other) => {
                return Err(ApiError::invalid_request(format!(
                    "no_proof must be true or false, not {other:?}"
                )))
            }
        };
        let filters = Filters::parse(
            opt(q, &["from"]).as_deref(),
            opt(q, &["to"]).as_deref(),
            opt(q, &["hunt"]).as_deref(),
            opt(q, &["player"]).as_deref(),
            opt(q, &["type"]).as_deref(),
            opt_seq(q, &["after_seq", "after-seq"])?,
            opt_seq(q, &["until_seq", "until-seq"])?,
            no_proof,
        )
        .map_err(ApiError::invalid_request)?;
        Ok((format, filters))
    }

    pub async fn export(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
        let (_, core) = crate::http::enter(&state, &req, Action::Audit)?;
        let (format, filters) = filters_of(req.query_string())?;
        // Only what is durable when the request starts: never a record a crash could undo.
        let limit = core.store.durable_seq();
        let store = Arc::clone(&core.store);
        let (sink, body) = crate::stream::chunked(CHANNEL_CHUNKS);
        tokio::task::spawn_blocking(move || {
            let mut out = io::BufWriter::with_capacity(64 << 10, sink.clone());
            let started = std::time::Instant::now();
            let result = super::export(&*store, &filters, format, limit, &mut out, &mut |_| {}, &|| {
                sink.is_closed()
            })
            .and_then(|sum| out.flush().map(|()| sum).map_err(ExportError::Io));
            match result {
                Ok(sum) => {
                    sink.finish();
                    tracing::info!(
                        records = sum.records,
                        blocks = sum.blocks,
                        ms = started.elapsed().as_millis() as u64,
                        "audit export streamed"
                    )
                }
                Err(ExportError::Io(_)) | Err(ExportError::Interrupted) if sink.is_closed() => {
                    tracing::info!("audit export: the client went away")
                }
                Err(ExportError::Io(e)) if e.kind() == io::ErrorKind::TimedOut => {
                    // The body ends with an error: the client sees it incomplete.
                    tracing::warn!("audit export: the client does not read; export dropped");
                    metrics::counter!("trove_audit_export_slow_client_total").increment(1);
                }
                Err(e) => {
                    tracing::error!(error = %e, "audit export failed");
                    drop(out);
                    if format == Format::Jsonl {
                        let line = format!("{}\n", json!({"type": "error", "message": e.to_string()}));
                        let _ = sink.send(Ok(Bytes::from(line)));
                    }
                    // Not finished: the body ends with an error, so the
                    // client sees the response is incomplete.
                }
            }
        });
        Ok(HttpResponse::Ok().content_type(format.content_type()).streaming(body))
    }

    pub async fn report(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
        let (_, core) = crate::http::enter(&state, &req, Action::Audit)?;
        let q = req.query_string();
        let (from, to) = (time(q, "from")?, time(q, "to")?);
        if let (Some(a), Some(b)) = (from, to) {
            if a > b {
                return Err(ApiError::invalid_request("from is after to"));
            }
        }
        let (a, b) = report_window(from, to);
        let store = Arc::clone(&core.store);
        let rollup = tokio::task::spawn_blocking(move || store.report(a, b))
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let mut body = super::report(&rollup, from, to);
        body.ok = Some(true);
        Ok(HttpResponse::Ok().json(body))
    }
}
