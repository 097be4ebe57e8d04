//! Moving a JSON document between encodings without building a tree: a
//! claim's `customs` is stored as JSON text, but travels as a MessagePack map
//! on `trove.v1.msgpack` connections.
//!
//! - [`to_json_text`] reads one value from any self-describing deserializer
//!   (MessagePack) and writes it as compact JSON text, refusing what JSON
//!   cannot hold: byte strings, non-string map keys, NaN and infinities, an
//!   object with the same key twice, nesting deeper than [`MAX_DEPTH`].
//! - [`JsonText`] serializes stored JSON text into any serializer
//!   (MessagePack), value by value, as it is read.

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{self, Serialize, SerializeMap, SerializeSeq, Serializer};
use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt::{self, Write as _};

/// Deepest nesting of arrays and maps accepted (`serde_json`'s own limit).
pub const MAX_DEPTH: usize = 128;

/// Reads one value from `d` and returns it as compact JSON text (no
/// whitespace; keys in the order given; integers in decimal; floats in the
/// shortest form that reads back to the same number).
pub fn to_json_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let mut out = String::new();
    ToJson {
        out: &mut out,
        depth: 0,
    }
    .deserialize(d)?;
    Ok(out)
}

/// Writes one value as JSON into `out`.
struct ToJson<'o> {
    out: &'o mut String,
    depth: usize,
}

impl ToJson<'_> {
    fn push_json<T: Serialize + ?Sized, E: de::Error>(&mut self, v: &T) -> Result<(), E> {
        let text = serde_json::to_string(v).map_err(E::custom)?;
        self.out.push_str(&text);
        Ok(())
    }

    fn nested<E: de::Error>(&mut self) -> Result<ToJson<'_>, E> {
        if self.depth >= MAX_DEPTH {
            return Err(E::custom(format_args!("nested deeper than {MAX_DEPTH} levels")));
        }
        Ok(ToJson {
            out: self.out,
            depth: self.depth + 1,
        })
    }
}

impl<'de> DeserializeSeed<'de> for ToJson<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ToJson<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value (nil, boolean, number, string, array or map with string keys)")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.out.push_str(if v { "true" } else { "false" });
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        let _ = write!(self.out, "{v}");
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        let _ = write!(self.out, "{v}");
        Ok(())
    }
    fn visit_f32<E: de::Error>(mut self, v: f32) -> Result<(), E> {
        if !v.is_finite() {
            return Err(E::custom("NaN and infinities are not JSON numbers"));
        }
        self.push_json(&v)
    }
    fn visit_f64<E: de::Error>(mut self, v: f64) -> Result<(), E> {
        if !v.is_finite() {
            return Err(E::custom("NaN and infinities are not JSON numbers"));
        }
        self.push_json(&v)
    }
    fn visit_str<E: de::Error>(mut self, v: &str) -> Result<(), E> {
        self.push_json(v)
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.out.push_str("null");
        Ok(())
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.visit_unit()
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        let inner = self.nested()?;
        inner.out.push('[');
        let mut first = true;
        loop {
            let mark = inner.out.len();
            if !first {
                inner.out.push(',');
            }
            let seed = ToJson {
                out: inner.out,
                depth: inner.depth,
            };
            if seq.next_element_seed(seed)?.is_none() {
                inner.out.truncate(mark);
                break;
            }
            first = false;
        }
        inner.out.push(']');
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        let mut inner = self.nested()?;
        inner.out.push('{');
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key_seed(Key)? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom("an object has the same key twice"));
            }
            if seen.len() > 1 {
                inner.out.push(',');
            }
            inner.push_json::<_, A::Error>(&key)?;
            inner.out.push(':');
            map.next_value_seed(ToJson {
                out: inner.out,
                depth: inner.depth,
            })?;
        }
        inner.out.push('}');
        Ok(())
    }
}

/// A map key, which JSON requires to be a string.
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = String;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for Key {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string map key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }
}

/// JSON text (one valid document) that serializes as the value it spells,
/// e.g. into MessagePack. Integers stay integers (beyond 64 bits they become
/// floats); every other number is a float.
#[derive(Clone, Copy, Debug)]
pub struct JsonText<'a>(pub &'a str);

impl Serialize for JsonText<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut de = serde_json::Deserializer::from_str(self.0);
        let ok = Transcoder::new(&mut de).serialize(s)?;
        de.end().map_err(ser::Error::custom)?;
        Ok(ok)
    }
}

/// Serializes the next value of a deserializer (taken once).
struct Transcoder<D>(RefCell<Option<D>>);

impl<D> Transcoder<D> {
    fn new(d: D) -> Self {
        Transcoder(RefCell::new(Some(d)))
    }
}

impl<'de, D: Deserializer<'de>> Serialize for Transcoder<D> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let d = self
            .0
            .borrow_mut()
            .take()
            .ok_or_else(|| ser::Error::custom("a value transcoded twice"))?;
        d.deserialize_any(Emit(s)).map_err(ser::Error::custom)
    }
}

/// A visitor that hands each value it visits to a serializer.
struct Emit<S>(S);

fn fail<S: ser::Error, E: de::Error>(e: S) -> E {
    E::custom(e)
}

impl<'de, S: Serializer> Visitor<'de> for Emit<S> {
    type Value = S::Ok;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<S::Ok, E> {
        self.0.serialize_bool(v).map_err(fail)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<S::Ok, E> {
        self.0.serialize_i64(v).map_err(fail)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<S::Ok, E> {
        self.0.serialize_u64(v).map_err(fail)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<S::Ok, E> {
        self.0.serialize_f64(v).map_err(fail)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<S::Ok, E> {
        self.0.serialize_str(v).map_err(fail)
    }
    fn visit_unit<E: de::Error>(self) -> Result<S::Ok, E> {
        self.0.serialize_unit().map_err(fail)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<S::Ok, A::Error> {
        let mut out = self.0.serialize_seq(seq.size_hint()).map_err(fail)?;
        while seq.next_element_seed(Element(&mut out))?.is_some() {}
        out.end().map_err(fail)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<S::Ok, A::Error> {
        let mut out = self.0.serialize_map(map.size_hint()).map_err(fail)?;
        while map.next_key_seed(Entry::Key(&mut out))?.is_some() {
            map.next_value_seed(Entry::Value(&mut out))?;
        }
        out.end().map_err(fail)
    }
}

/// An array element, serialized into the array being written.
struct Element<'s, Q>(&'s mut Q);

impl<'de, Q: SerializeSeq> DeserializeSeed<'de> for Element<'_, Q> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.0.serialize_element(&Transcoder::new(d)).map_err(fail)
    }
}

/// A map key or value, serialized into the map being written.
enum Entry<'s, M> {
    Key(&'s mut M),
    Value(&'s mut M),
}

impl<'de, M: SerializeMap> DeserializeSeed<'de> for Entry<'_, M> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        match self {
            Entry::Key(m) => m.serialize_key(&Transcoder::new(d)).map_err(fail),
            Entry::Value(m) => m.serialize_value(&Transcoder::new(d)).map_err(fail),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(json: &str) -> String {
        let bytes = rmp_serde::to_vec(&JsonText(json)).unwrap();
        to_json_text(&mut rmp_serde::Deserializer::new(&bytes[..])).unwrap()
    }

    #[test]
    fn json_goes_to_msgpack_and_back() {
        assert_eq!(
            round_trip(r#"{"name":"Pat \"Doe\"","n":[1,-2,12.5,null,true,{}],"e":"\u00e9"}"#),
            r#"{"name":"Pat \"Doe\"","n":[1,-2,12.5,null,true,{}],"e":"é"}"#
        );
        assert_eq!(round_trip(r#"{"x":1.50,"y":1e3}"#), r#"{"x":1.5,"y":1000.0}"#);
        assert_eq!(round_trip("[]"), "[]");
    }

    #[test]
    fn floats_keep_every_bit_across_encodings() {
        // serde_json's default float parsing may be one ulp off for numbers
        // like these (found by the mutation property test); the workspace
        // enables `float_roundtrip`, so a customs float reads back exactly.
        for text in [
            "1.0000000013533281",
            "0.30000000000000004",
            "2.2250738585072014e-308",
            "9007199254740993.0",
        ] {
            let parsed: f64 = text.parse().unwrap();
            let back = round_trip(&format!("[{text}]"));
            let again: f64 = back.trim_matches(['[', ']']).parse().unwrap();
            assert_eq!(again.to_bits(), parsed.to_bits(), "{text} -> {back}");
        }
    }

    #[test]
    fn what_json_cannot_hold_is_refused() {
        let text = |bytes: &[u8]| to_json_text(&mut rmp_serde::Deserializer::new(bytes)).map_err(|e| e.to_string());
        // {1: 2}: an integer key.
        assert!(text(&[0x81, 0x01, 0x02]).is_err());
        // {"a": 1, "a": 2}
        assert!(text(&[0x82, 0xa1, b'a', 1, 0xa1, b'a', 2])
            .unwrap_err()
            .contains("twice"));
        // NaN
        assert!(text(&[0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0]).is_err());
        // 0.1 as f32 reads as 0.1
        assert_eq!(text(&[0xca, 0x3d, 0xcc, 0xcc, 0xcd]).unwrap(), "0.1");
        let deep: Vec<u8> = std::iter::repeat_n(0x91, MAX_DEPTH + 1).chain([0xc0]).collect();
        assert!(text(&deep).is_err());
    }
}
