//! Why a line verify regenerated from what it proved differs from the line
//! it read: verify accepts export lines only byte for byte as exported.

use serde_json::Value;

/// The first field added, missing or changed; or, when the fields agree,
/// that order, spacing or escapes differ.
pub(crate) fn canonical_diff(given: &str, want: &[u8], what: &str, source: &str) -> String {
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
