//! Times as exports, reports and their filters spell them: RFC 3339 in UTC
//! with milliseconds out, RFC 3339 or unix milliseconds in.

use trove_engine::Millis;

/// Parses an RFC 3339 time (`2026-05-01T18:00:00Z`) or integer unix milliseconds.
///
/// ```
/// assert_eq!(trove_audit::parse_time("1970-01-01T00:00:01.5Z"), Ok(1500));
/// assert_eq!(trove_audit::parse_time("2500"), Ok(2500));
/// ```
pub fn parse_time(s: &str) -> Result<Millis, String> {
    let s = s.trim();
    if let Ok(ms) = s.parse::<i64>() {
        return Ok(ms);
    }
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("{s:?} is not an RFC 3339 time (like 2026-05-01T18:00:00Z) or unix milliseconds: {e}"))?;
    Ok((t.unix_timestamp_nanos() / 1_000_000) as Millis)
}

/// RFC 3339 in UTC with milliseconds: `2026-05-01T18:00:00.123Z` (the bare
/// number when the time is out of range).
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

/// The wall clock in unix milliseconds (0 before 1970).
pub fn now_ms() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_and_format() {
        assert_eq!(parse_time("1970-01-01T00:00:01.5Z").unwrap(), 1500);
        assert_eq!(parse_time("2500").unwrap(), 2500);
        assert!(parse_time("yesterday").is_err());
        assert_eq!(format_ms(1500), "1970-01-01T00:00:01.500Z");
    }
}
