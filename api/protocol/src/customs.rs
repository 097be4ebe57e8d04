//! The `customs` document of a claim: kept as sent, byte for byte, except the
//! whitespace between JSON tokens, and refused if an object repeats a key.
//!
//! On a MessagePack connection (`trove.v1.msgpack`) `customs` is a map: it is
//! stored as the JSON text of that map ([`crate::transcode::to_json_text`]:
//! compact, keys in the order sent, integers in decimal, floats in their
//! shortest round-trip form), and given back as a map built from the stored
//! text. The same fields hold [`RawValue`]s with either encoding: they
//! serialize as JSON text into a human-readable serializer (JSON) and as the
//! value it spells into a binary one (MessagePack), and read back the same way.

use crate::transcode::{self, JsonText};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

/// The stored text of a claim's `customs` as the client sent it (`raw`:
/// absent = `{}`): whitespace between tokens removed, nothing else changed
/// (key order, number spelling such as `1.50` or `1e3`, escapes such as
/// `\u00e9` all stay). One line, so the JSONL export can embed it. An
/// object with the same key twice, at any depth, is an error.
pub fn stored_text(raw: Option<&RawValue>) -> Result<String, String> {
    let text = minify(raw.map_or("{}", RawValue::get));
    serde_json::from_str::<UniqueKeys>(&text).map_err(|e| format!("customs: {e}"))?;
    Ok(text)
}

/// Stored `customs` text for output, embedded as is: the stored bytes when
/// they are one JSON document (always, for customs from the API), else the
/// text as a JSON string.
pub fn raw_from_stored(text: &str) -> Box<RawValue> {
    match serde_json::from_str::<&RawValue>(text) {
        Ok(r) if r.get().len() == text.len() => {
            RawValue::from_string(text.to_owned()).unwrap_or_else(|_| string_value(text))
        }
        _ => string_value(text),
    }
}

/// `customs` read from a binary encoding: its stored JSON text. Anything but
/// a map, and a map with the same key twice at any depth, is refused.
pub(crate) struct Customs(pub(crate) String);

impl<'de> Deserialize<'de> for Customs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = transcode::to_json_text(d)?;
        if !text.starts_with('{') {
            return Err(de::Error::custom("field \"customs\" must be a map (a JSON object)"));
        }
        Ok(Customs(text))
    }
}

/// Serializes stored JSON text: as is into JSON, as the value it spells into
/// a binary encoding.
fn serialize_json<S: Serializer>(raw: &RawValue, s: S) -> Result<S::Ok, S::Error> {
    if s.is_human_readable() {
        raw.serialize(s)
    } else {
        JsonText(raw.get()).serialize(s)
    }
}

/// `serialize_with` of a `customs` field that is a `Box<RawValue>`.
pub(crate) fn serialize_boxed<S: Serializer>(raw: &RawValue, s: S) -> Result<S::Ok, S::Error> {
    serialize_json(raw, s)
}

/// `serialize_with` of an optional borrowed `customs` field (skipped when `None`).
pub(crate) fn serialize_borrowed<S: Serializer>(raw: &Option<&RawValue>, s: S) -> Result<S::Ok, S::Error> {
    match raw {
        Some(raw) => serialize_json(raw, s),
        None => s.serialize_none(),
    }
}

/// `deserialize_with` of a `customs` field that is a `Box<RawValue>`: JSON
/// text as is; from a binary encoding, the value as compact JSON text.
pub(crate) fn deserialize_boxed<'de, D: Deserializer<'de>>(d: D) -> Result<Box<RawValue>, D::Error> {
    if d.is_human_readable() {
        return Box::<RawValue>::deserialize(d);
    }
    let text = transcode::to_json_text(d)?;
    RawValue::from_string(text).map_err(de::Error::custom)
}

fn string_value(text: &str) -> Box<RawValue> {
    // A string always serializes; the fallback is unreachable.
    serde_json::value::to_raw_value(text).unwrap_or_default()
}

/// Drops JSON whitespace outside strings. `json` is valid JSON.
fn minify(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            in_string = c == '"';
            out.push(c);
        }
    }
    out
}

/// A JSON document that has no object with the same key twice: readers
/// disagree on which of two such values counts, so customs may not have one.
struct UniqueKeys;

impl<'de> Deserialize<'de> for UniqueKeys {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UniqueKeysVisitor)
    }
}

struct UniqueKeysVisitor;

impl<'de> Visitor<'de> for UniqueKeysVisitor {
    type Value = UniqueKeys;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_i64<E>(self, _: i64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_u64<E>(self, _: u64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_f64<E>(self, _: f64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_str<E>(self, _: &str) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_unit<E>(self) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<UniqueKeys, A::Error> {
        while seq.next_element::<UniqueKeys>()?.is_some() {}
        Ok(UniqueKeys)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UniqueKeys, A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            map.next_value::<UniqueKeys>()?;
            if !seen.insert(key) {
                return Err(de::Error::custom("an object has the same key twice"));
            }
        }
        Ok(UniqueKeys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_text_drops_only_whitespace() {
        let raw: &RawValue =
            serde_json::from_str("{\"b\" : 1.50,\n \"a\":\"x \\u00e9\\\" y\", \"n\":[1e3, 12345678901234567890123]}")
                .unwrap();
        let t = stored_text(Some(raw)).unwrap();
        assert_eq!(t, r#"{"b":1.50,"a":"x \u00e9\" y","n":[1e3,12345678901234567890123]}"#);
        assert_eq!(raw_from_stored(&t).get(), t);
        assert_eq!(raw_from_stored(" not json").get(), r#"" not json""#);
        assert_eq!(stored_text(None).unwrap(), "{}");
        let dup: &RawValue = serde_json::from_str(r#"{"a":[{"b":1,"b":1}]}"#).unwrap();
        assert!(stored_text(Some(dup)).is_err());
    }
}
