//! What an export holds: record types ([`TypeSet`]) and the [`Filters`]
//! that combine them with times, a hunt, a player and a sequence range.
//! Parsed from CLI flags and query parameters, written into and read back
//! from an export's header line, and matched against records.

use crate::time::parse_time;
use serde_json::{json, Value};
use trove_engine::{EventKindView, Millis, RecordView, Seq};

/// Record types, as a bit set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TypeSet(u8);

impl TypeSet {
    /// Claims (granted or rejected).
    pub const CLAIM: u8 = 1;
    /// Clue finds.
    pub const CLUE_FOUND: u8 = 2;
    /// Checkins (telemetry).
    pub const CHECKIN: u8 = 4;
    /// Interactions (telemetry).
    pub const INTERACTION: u8 = 8;
    /// Hunt definitions.
    pub const HUNT_DEFINED: u8 = 16;
    /// Stock changes.
    pub const STOCK_ADDED: u8 = 32;
    /// Every game event: clue finds, checkins, interactions.
    pub const EVENTS: u8 = Self::CLUE_FOUND | Self::CHECKIN | Self::INTERACTION;

    /// A comma-separated list of `claims`, `events`, `hunts`, `stock`, or the
    /// record types themselves (`claim`, `clue_found`, `checkin`,
    /// `interaction`, `hunt_defined`, `stock_added`).
    ///
    /// ```
    /// use trove_audit::TypeSet;
    /// let t = TypeSet::parse("claims,checkin").unwrap();
    /// assert!(t.contains(TypeSet::CLAIM) && !t.contains(TypeSet::CLUE_FOUND));
    /// ```
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

    /// Whether the set holds any of the types of `bit`.
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

/// A record's `record_type`, as export lines and `type` filters spell it.
pub(crate) fn type_name(r: &RecordView<'_>) -> &'static str {
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
    /// Records of this hunt (claims, events, stock changes, its definition).
    pub hunt: Option<String>,
    /// Records of this player (claims and events).
    pub player: Option<String>,
    /// Records of these types (as given, and parsed).
    pub types: Option<(String, TypeSet)>,
    /// Records with a sequence greater than this.
    pub after_seq: Option<Seq>,
    /// Records with a sequence at most this.
    pub until_seq: Option<Seq>,
    /// Leave out the block lines of blocks without matching records.
    pub no_proof: bool,
    /// Not a filter: the cluster partition the journal belongs to, named
    /// in the JSONL header (`"partition": N`) when set.
    pub partition: Option<u32>,
}

impl Filters {
    /// Builds filters from their text forms (CLI flags and query parameters).
    #[allow(
        clippy::too_many_arguments,
        reason = "one argument per filter, as the CLI and the query name them"
    )]
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
            partition: None,
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

    /// Whether a record matches the content filters (type, hunt, player).
    pub(crate) fn matches(&self, r: &RecordView<'_>) -> bool {
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
    pub(crate) fn selects_class(&self, class: u8) -> bool {
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

    /// Whether a block committed at `at` lies in the time window.
    pub(crate) fn time_ok(&self, at: Millis) -> bool {
        self.from.as_ref().is_none_or(|(_, f)| at >= *f) && self.to.as_ref().is_none_or(|(_, t)| at < *t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_parse() {
        let t = TypeSet::parse("claims,checkin").unwrap();
        assert!(t.contains(TypeSet::CLAIM) && t.contains(TypeSet::CHECKIN) && !t.contains(TypeSet::CLUE_FOUND));
        assert!(TypeSet::parse("nope").is_err());
    }
}
