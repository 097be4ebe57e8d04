//! Times on the wire: accepted as RFC 3339 text or integer unix
//! milliseconds, always answered as integer unix milliseconds.

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;

/// Unix time in milliseconds.
pub type Millis = i64;

/// A time as a client may send it: `"2026-05-01T18:00:00Z"` or
/// `1777658400000`. Serializes as unix milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(pub Millis);

/// The earliest time a query parameter may name: 0001-01-01T00:00:00Z.
pub const MIN_PARAM_MILLIS: Millis = -62_135_596_800_000;
/// The latest time a query parameter may name: 9999-12-31T23:59:59.999Z.
pub const MAX_PARAM_MILLIS: Millis = 253_402_300_799_999;

/// Parses a time query parameter: RFC 3339 text or integer unix
/// milliseconds, between [`MIN_PARAM_MILLIS`] and [`MAX_PARAM_MILLIS`]. An
/// empty string is an error.
pub fn parse_time(text: &str) -> Result<Millis, String> {
    let ms = match text.parse::<i64>() {
        Ok(ms) => ms,
        Err(_) => {
            let t = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                .map_err(|e| format!("{text:?} is not an RFC 3339 time nor unix milliseconds: {e}"))?;
            Millis::try_from(t.unix_timestamp_nanos() / 1_000_000).map_err(|_| format!("{text:?} is out of range"))?
        }
    };
    if (MIN_PARAM_MILLIS..=MAX_PARAM_MILLIS).contains(&ms) {
        Ok(ms)
    } else {
        Err(format!("{text:?} is outside years 1 to 9999"))
    }
}

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(self.0)
    }
}

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Time;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("integer unix milliseconds or an RFC 3339 string")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Time, E> {
                Ok(Time(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Time, E> {
                i64::try_from(v).map(Time).map_err(|_| E::custom("time out of range"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Time, E> {
                time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339)
                    .map_err(|e| E::custom(format!("{v:?} is not an RFC 3339 time: {e}")))
                    .and_then(|t| {
                        Millis::try_from(t.unix_timestamp_nanos() / 1_000_000)
                            .map(Time)
                            .map_err(|_| E::custom("time out of range"))
                    })
            }
        }
        d.deserialize_any(V)
    }
}

fn time_schema(
    int_range: Option<(Millis, Millis)>,
    what: &str,
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat, Type};
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                .minimum(int_range.map(|r| r.0))
                .maximum(int_range.map(|r| r.1)),
        )
        .description(Some(what))
        .into()
}

impl utoipa::PartialSchema for Time {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        time_schema(None, "RFC 3339 text or integer unix milliseconds")
    }
}

impl utoipa::ToSchema for Time {}

/// The schema of a time query parameter (see [`parse_time`]): RFC 3339 text
/// or integer unix milliseconds, years 1 to 9999. Only a schema; parameters
/// are read as text.
pub struct TimeParam;

impl utoipa::PartialSchema for TimeParam {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        time_schema(
            Some((MIN_PARAM_MILLIS, MAX_PARAM_MILLIS)),
            "RFC 3339 text or integer unix milliseconds, years 1 to 9999",
        )
    }
}

impl utoipa::ToSchema for TimeParam {}
