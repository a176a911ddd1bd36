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

/// Whether an instant prints as RFC 3339 and reads back as itself (years 0 to 9999): the
/// instants a store can hold.
pub fn storable(ms: i64) -> bool {
    parse_instant(&format_instant(ms)) == Some(ms)
}

/// Prints an instant as RFC 3339 UTC, with milliseconds only when there are some.
pub(crate) fn format_instant(ms: i64) -> String {
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

    /// Found by the `sessions` fuzz target: `addSeconds(dateTime('2026-11-22T10:00:00Z'),
    /// 9223372036854775807)` overflowed (a panic with overflow checks, else one second
    /// earlier), and `addYears(..., 1000000000)` was the same instant.
    #[test]
    fn lengths_past_the_range_saturate() {
        let ms = parse_instant("2026-11-22T10:00:00Z").unwrap();
        for unit in [Unit::Second, Unit::Minute, Unit::Hour, Unit::Day, Unit::Week, Unit::Month, Unit::Year] {
            for n in [i64::MAX, i64::MIN, 1 << 40, -(1 << 40)] {
                assert!(!storable(add_length(ms, unit, n)), "{unit:?} {n}");
            }
        }
        assert_eq!(add_length(ms, Unit::Second, i64::MAX), i64::MAX);
        assert_eq!(add_length(ms, Unit::Year, 1_000_000_000), i64::MAX);
        assert_eq!(add_length(ms, Unit::Month, -(1 << 40)), i64::MIN);
        assert_eq!(add_length(i64::MAX, Unit::Month, -1), i64::MAX);
        assert_eq!(add_length(ms, Unit::Year, 1), parse_instant("2027-11-22T10:00:00Z").unwrap());
        assert_eq!(add_length(ms, Unit::Day, -2), parse_instant("2026-11-20T10:00:00Z").unwrap());
    }
}

use chrono::{Datelike, Duration, Months, Timelike};

use crate::model::xpath::{DatePart, DateTerm, DateToken, Period, Unit};

fn at(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

fn midnight(t: DateTime<Utc>) -> DateTime<Utc> {
    Utc.from_utc_datetime(&t.date_naive().and_hms_opt(0, 0, 0).unwrap_or_default())
}

/// The first instant of a period containing `now`, and of the period after it.
fn period_bounds(now: i64, period: Period) -> (DateTime<Utc>, DateTime<Utc>) {
    let t = at(now);
    let day = midnight(t);
    match period {
        Period::CurrentMinute => {
            let b = t.with_second(0).and_then(|t| t.with_nanosecond(0)).unwrap_or(t);
            (b, b + Duration::minutes(1))
        }
        Period::CurrentHour => {
            let b = t.with_minute(0).and_then(|t| t.with_second(0)).and_then(|t| t.with_nanosecond(0)).unwrap_or(t);
            (b, b + Duration::hours(1))
        }
        Period::CurrentDay => (day, day + Duration::days(1)),
        Period::Yesterday => (day - Duration::days(1), day),
        Period::Tomorrow => (day + Duration::days(1), day + Duration::days(2)),
        Period::CurrentWeek => {
            let b = day - Duration::days(t.weekday().num_days_from_monday() as i64);
            (b, b + Duration::days(7))
        }
        Period::CurrentMonth => {
            let b = day.with_day(1).unwrap_or(day);
            (b, b.checked_add_months(Months::new(1)).unwrap_or(b))
        }
        Period::CurrentYear => {
            let b = day.with_day(1).and_then(|d| d.with_month(1)).unwrap_or(day);
            (b, b.checked_add_months(Months::new(12)).unwrap_or(b))
        }
    }
}

/// Adds `n` lengths of `unit`; months and years step the calendar, clamping the day.
/// A result past the range of instants saturates (and so is not [`storable`]): it never
/// wraps around to an instant that could be stored.
pub fn add_length(ms: i64, unit: Unit, n: i64) -> i64 {
    let fixed: i64 = match unit {
        Unit::Second => 1_000,
        Unit::Minute => 60_000,
        Unit::Hour => 3_600_000,
        Unit::Day => 86_400_000,
        Unit::Week => 604_800_000,
        Unit::Month => return add_months(ms, n),
        Unit::Year => return add_months(ms, n.saturating_mul(12)),
    };
    ms.saturating_add(fixed.saturating_mul(n))
}

/// Adds calendar months, clamping the day (31 January + 1 month is the end of February).
/// Past the calendar's range the result saturates; an instant already past it stays as it is.
pub fn add_months(ms: i64, n: i64) -> i64 {
    let Some(t) = Utc.timestamp_millis_opt(ms).single() else { return ms };
    let months = Months::new(n.unsigned_abs().min(u32::MAX as u64) as u32);
    let moved = if n >= 0 { t.checked_add_months(months) } else { t.checked_sub_months(months) };
    moved.map_or(if n >= 0 { i64::MAX } else { i64::MIN }, |t| t.timestamp_millis())
}

/// The instant a date-token expression stands for at `now`.
pub fn date_terms(now: i64, terms: &[DateTerm]) -> i64 {
    let mut value = now;
    for (i, term) in terms.iter().enumerate() {
        match term.token {
            DateToken::CurrentDateTime if i == 0 => value = now,
            DateToken::BeginOf(p) if i == 0 => value = period_bounds(now, p).0.timestamp_millis(),
            DateToken::EndOf(p) if i == 0 => value = period_bounds(now, p).1.timestamp_millis() - 1,
            DateToken::Length(unit) => value = add_length(value, unit, term.factor),
            // The checker allows instants only first.
            _ => {}
        }
    }
    value
}

/// A part of an instant, seen in a time zone.
pub fn date_part(ms: i64, part: DatePart, tz: chrono_tz::Tz) -> i64 {
    let t = at(ms).with_timezone(&tz);
    (match part {
        DatePart::Year => t.year() as u32,
        DatePart::Quarter => (t.month() - 1) / 3 + 1,
        DatePart::Month => t.month(),
        DatePart::Day => t.day(),
        DatePart::DayOfYear => t.ordinal(),
        DatePart::Week => t.iso_week().week(),
        DatePart::Weekday => t.weekday().num_days_from_sunday() + 1,
        DatePart::Hours => t.hour(),
        DatePart::Minutes => t.minute(),
        DatePart::Seconds => t.second(),
    }) as i64
}

#[cfg(test)]
mod token_tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        parse_instant(s).unwrap()
    }

    fn term(token: DateToken, factor: i64) -> DateTerm {
        DateTerm { factor, token }
    }

    #[test]
    fn periods_begin_and_end() {
        let now = ms("2026-11-25T10:30:15Z"); // a Wednesday
        let begin = |p| date_terms(now, &[term(DateToken::BeginOf(p), 1)]);
        let end = |p| date_terms(now, &[term(DateToken::EndOf(p), 1)]);
        assert_eq!(begin(Period::CurrentMinute), ms("2026-11-25T10:30:00Z"));
        assert_eq!(end(Period::CurrentMinute), ms("2026-11-25T10:30:59.999Z"));
        assert_eq!(begin(Period::CurrentHour), ms("2026-11-25T10:00:00Z"));
        assert_eq!(begin(Period::CurrentDay), ms("2026-11-25T00:00:00Z"));
        assert_eq!(end(Period::CurrentDay), ms("2026-11-25T23:59:59.999Z"));
        assert_eq!(begin(Period::Yesterday), ms("2026-11-24T00:00:00Z"));
        assert_eq!(end(Period::Yesterday), ms("2026-11-24T23:59:59.999Z"));
        assert_eq!(begin(Period::Tomorrow), ms("2026-11-26T00:00:00Z"));
        assert_eq!(begin(Period::CurrentWeek), ms("2026-11-23T00:00:00Z"));
        assert_eq!(end(Period::CurrentWeek), ms("2026-11-29T23:59:59.999Z"));
        assert_eq!(begin(Period::CurrentMonth), ms("2026-11-01T00:00:00Z"));
        assert_eq!(end(Period::CurrentMonth), ms("2026-11-30T23:59:59.999Z"));
        assert_eq!(begin(Period::CurrentYear), ms("2026-01-01T00:00:00Z"));
        assert_eq!(end(Period::CurrentYear), ms("2026-12-31T23:59:59.999Z"));
    }

    #[test]
    fn lengths_step_the_calendar() {
        let jan31 = ms("2027-01-31T12:00:00Z");
        assert_eq!(add_length(jan31, Unit::Month, 1), ms("2027-02-28T12:00:00Z"));
        assert_eq!(add_length(ms("2028-01-31T12:00:00Z"), Unit::Month, 1), ms("2028-02-29T12:00:00Z"));
        assert_eq!(add_length(ms("2028-02-29T00:00:00Z"), Unit::Year, 1), ms("2029-02-28T00:00:00Z"));
        assert_eq!(add_length(jan31, Unit::Month, -2), ms("2026-11-30T12:00:00Z"));
        let now = ms("2026-11-22T10:00:00Z");
        let t = date_terms(now, &[term(DateToken::CurrentDateTime, 1), term(DateToken::Length(Unit::Day), -30)]);
        assert_eq!(t, ms("2026-10-23T10:00:00Z"));
        let week = date_terms(now, &[term(DateToken::CurrentDateTime, 1), term(DateToken::Length(Unit::Week), 2)]);
        assert_eq!(week, ms("2026-12-06T10:00:00Z"));
    }

    #[test]
    fn date_parts_in_time_zones() {
        let t = ms("2011-01-01T03:00:00Z");
        assert_eq!(date_part(t, DatePart::Year, chrono_tz::UTC), 2011);
        assert_eq!(date_part(t, DatePart::Year, chrono_tz::America::New_York), 2010);
        assert_eq!(date_part(t, DatePart::Weekday, chrono_tz::UTC), 7); // a Saturday
        assert_eq!(date_part(t, DatePart::Quarter, chrono_tz::UTC), 1);
        assert_eq!(date_part(ms("2026-12-31T00:00:00Z"), DatePart::Week, chrono_tz::UTC), 53);
        assert_eq!(date_part(ms("2026-12-31T00:00:00Z"), DatePart::DayOfYear, chrono_tz::UTC), 365);
    }
}
