//! Instants: UTC milliseconds since 1970, parsed from and printed as RFC 3339.

use chrono::{DateTime, NaiveDate, SecondsFormat, TimeZone, Utc};

/// Parses `2026-11-22T10:00:00Z` (any RFC 3339 offset) or a bare date `2026-11-22` (midnight UTC).
pub fn parse_instant(text: &str) -> Option<i64> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text.trim()) {
        return Some(t.timestamp_millis());
    }
    let date = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok()?;
    Some(Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0)?).timestamp_millis())
}

/// Prints an instant as RFC 3339 UTC, with milliseconds only when there are some.
pub fn format_instant(ms: i64) -> String {
    match Utc.timestamp_millis_opt(ms).single() {
        Some(t) if ms % 1000 == 0 => t.to_rfc3339_opts(SecondsFormat::Secs, true),
        Some(t) => t.to_rfc3339_opts(SecondsFormat::Millis, true),
        None => format!("<instant {ms}>"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let ms = parse_instant("2026-11-22T10:00:00Z").unwrap();
        assert_eq!(format_instant(ms), "2026-11-22T10:00:00Z");
        assert_eq!(format_instant(ms + 5), "2026-11-22T10:00:00.005Z");
        assert_eq!(parse_instant("2026-11-22"), parse_instant("2026-11-22T00:00:00+00:00"));
        assert_eq!(parse_instant("22/11/2026"), None);
    }
}
