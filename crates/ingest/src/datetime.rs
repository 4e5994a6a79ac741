//! ISO-8601 date-times: recognition of `datetime` values (keen-semantics §0),
//! `keen.timestamp` parsing (§1.3) and the canonical rendering.
//!
//! Parsing is hand-written over bytes (no allocation, no regex) so that the
//! parser can test every string value cheaply: [`looks_like_datetime`] is a
//! handful of byte compares that rejects ordinary strings at once.

use chrono::{DateTime, NaiveDate};

/// How strict a date-time parse is.
#[derive(Clone, Copy)]
struct Form {
    /// The zone (`Z`, `±HH:MM`, `±HHMM`) must be present.
    zone_required: bool,
    /// Seconds (`:SS`) must be present.
    seconds_required: bool,
    /// A space is accepted in place of `T`.
    space_separator: bool,
}

/// The value-type form of §0: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM|±HHMM)`.
const ZONED: Form = Form { zone_required: true, seconds_required: true, space_separator: false };
/// `keen.timestamp` and filter values: ISO-8601 date-time, zone optional (UTC).
const TIMESTAMP: Form =
    Form { zone_required: false, seconds_required: false, space_separator: false };
/// Airbyte timestamp inference: also `YYYY-MM-DD HH:MM:SS`.
const LENIENT: Form = Form { zone_required: false, seconds_required: false, space_separator: true };

/// Cheap byte-shape test run before [`parse_zoned_datetime`] on every string
/// value: length 20..=40 and the separators of `YYYY-MM-DDTHH:MM:SS` in place.
#[inline]
pub(crate) fn looks_like_datetime(b: &[u8]) -> bool {
    b.len() >= 20
        && b.len() <= 40
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
}

/// Parses a string that is exactly a zoned ISO-8601 date-time,
/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM|±HHMM)`, into UTC milliseconds
/// since the epoch. The fraction is truncated to milliseconds.
///
/// This is the rule that types a JSON string as `datetime` (keen-semantics §0);
/// anything else (no zone, date only, lowercase `t`, a space) is `None`.
///
/// ```
/// use tally_ingest::parse_zoned_datetime;
/// assert_eq!(parse_zoned_datetime("1970-01-01T00:00:01.5Z"), Some(1_500));
/// assert_eq!(parse_zoned_datetime("1970-01-01T01:00:00+0100"), Some(0));
/// assert_eq!(parse_zoned_datetime("1970-01-01T00:00:00"), None);
/// ```
pub fn parse_zoned_datetime(s: &str) -> Option<i64> {
    if !looks_like_datetime(s.as_bytes()) {
        return None;
    }
    parse_with(s.as_bytes(), ZONED)
}

/// Parses an ISO-8601 date-time whose zone is optional (absent = UTC) into
/// UTC milliseconds: `YYYY-MM-DDTHH:MM[:SS[.fraction]][Z|±HH:MM|±HHMM]`.
///
/// Used for `keen.timestamp` (keen-semantics §1.3) and for filter values
/// compared against `datetime` properties (§3.2).
///
/// ```
/// use tally_ingest::parse_timestamp;
/// assert_eq!(parse_timestamp("1970-01-01T00:00:02"), Some(2_000));
/// assert_eq!(parse_timestamp("1970-01-01T00:01Z"), Some(60_000));
/// assert_eq!(parse_timestamp("1970-01-01"), None);
/// ```
pub fn parse_timestamp(s: &str) -> Option<i64> {
    parse_with(s.as_bytes(), TIMESTAMP)
}

/// Like [`parse_timestamp`], but also accepts a space for `T`
/// (`YYYY-MM-DD HH:MM:SS`) and a date alone (`YYYY-MM-DD`, midnight UTC).
pub(crate) fn parse_lenient(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() == 10 {
        let (y, m, d) = parse_date(b)?;
        let date = NaiveDate::from_ymd_opt(y, m, d)?;
        return Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis());
    }
    parse_with(b, LENIENT)
}

/// Renders UTC milliseconds as `YYYY-MM-DDTHH:MM:SS.sssZ` (keen-semantics §0).
///
/// Instants outside chrono's range (about ±262,000 years) render as the
/// nearest representable instant rather than panicking.
///
/// ```
/// use tally_ingest::format_datetime;
/// assert_eq!(format_datetime(1_500), "1970-01-01T00:00:01.500Z");
/// ```
pub fn format_datetime(ms: i64) -> String {
    let dt = DateTime::from_timestamp_millis(ms).unwrap_or(if ms < 0 {
        DateTime::<chrono::Utc>::MIN_UTC
    } else {
        DateTime::<chrono::Utc>::MAX_UTC
    });
    dt.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn digit(b: u8) -> Option<u32> {
    if b.is_ascii_digit() {
        Some(u32::from(b - b'0'))
    } else {
        None
    }
}

fn two(b: &[u8], i: usize) -> Option<u32> {
    Some(digit(*b.get(i)?)? * 10 + digit(*b.get(i + 1)?)?)
}

/// `YYYY-MM-DD` at the start of `b`.
fn parse_date(b: &[u8]) -> Option<(i32, u32, u32)> {
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = two(b, 0)? * 100 + two(b, 2)?;
    let year = i32::try_from(year).ok()?;
    Some((year, two(b, 5)?, two(b, 8)?))
}

fn parse_with(b: &[u8], form: Form) -> Option<i64> {
    let (y, mo, d) = parse_date(b)?;
    match b.get(10)? {
        b'T' => {}
        b' ' if form.space_separator => {}
        _ => return None,
    }
    let hour = two(b, 11)?;
    if *b.get(13)? != b':' {
        return None;
    }
    let minute = two(b, 14)?;
    let mut i = 16;
    let mut second = 0;
    let mut milli = 0;
    if b.get(i) == Some(&b':') {
        second = two(b, i + 1)?;
        i += 3;
        if b.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            while let Some(&c) = b.get(i) {
                let Some(v) = digit(c) else { break };
                if i - start < 3 {
                    milli = milli * 10 + v;
                }
                i += 1;
            }
            let n = i - start;
            if n == 0 {
                return None;
            }
            for _ in n..3 {
                milli *= 10;
            }
        }
    } else if form.seconds_required {
        return None;
    }
    let offset_secs: i64 = match b.get(i) {
        None if !form.zone_required => 0,
        None => return None,
        Some(b'Z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) => {
            let oh = two(b, i + 1)?;
            let om = match b.len() - i {
                6 if b[i + 3] == b':' => two(b, i + 4)?,
                5 => two(b, i + 3)?,
                _ => return None,
            };
            if oh > 23 || om > 59 {
                return None;
            }
            let secs = i64::from(oh * 3600 + om * 60);
            if sign == b'-' {
                -secs
            } else {
                secs
            }
        }
        Some(_) => return None,
    };
    if !(1..=12).contains(&mo) || d == 0 || d > days_in_month(y, mo) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let secs = days_from_civil(y, mo, d) * 86_400 + i64::from(hour * 3600 + minute * 60 + second)
        - offset_secs;
    Some(secs * 1000 + i64::from(milli))
}

fn is_leap(y: i32) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to `y-m-d` in the proleptic Gregorian calendar
/// (H. Hinnant's `days_from_civil`); `m` in 1..=12, `d` valid for the month.
fn days_from_civil(y: i32, m: u32, d: u32) -> i64 {
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zoned_forms() {
        let base = parse_zoned_datetime("2024-06-12T14:35:20Z").unwrap();
        assert_eq!(format_datetime(base), "2024-06-12T14:35:20.000Z");
        assert_eq!(parse_zoned_datetime("2024-06-12T14:35:20.1Z"), Some(base + 100));
        assert_eq!(parse_zoned_datetime("2024-06-12T14:35:20.123456789Z"), Some(base + 123));
        assert_eq!(parse_zoned_datetime("2024-06-12T16:35:20+02:00"), Some(base));
        assert_eq!(parse_zoned_datetime("2024-06-12T16:35:20+0200"), Some(base));
        assert_eq!(parse_zoned_datetime("2024-06-12T12:35:20-02:00"), Some(base));
        assert_eq!(parse_zoned_datetime("2024-06-12T14:35:20+00:00"), Some(base));
    }

    #[test]
    fn zoned_rejects() {
        for s in [
            "2024-06-12T14:35:20",
            "2024-06-12",
            "2024-06-12 14:35:20Z",
            "2024-06-12t14:35:20Z",
            "2024-06-12T14:35Z",
            "2024-06-12T14:35:20.Z",
            "2024-06-12T14:35:20ZZ",
            "2024-06-12T14:35:20+2:00",
            "2024-06-12T14:35:20+02:0",
            "2024-06-12T14:35:20+24:00",
            "2024-06-12T14:35:20+02:60",
            "2024-02-30T14:35:20Z",
            "2024-06-12T24:00:00Z",
            "2024-06-12T14:60:00Z",
            "2024-06-12T14:35:60Z",
            "2024-13-12T14:35:20Z",
            "2024-06-12T14:35:20z",
            "+024-06-12T14:35:20Z",
            "2024-06-12T14:35:20Z ",
            "2024-06-12T14:35:20.5é",
            "",
            "hello world, this is long",
        ] {
            assert_eq!(parse_zoned_datetime(s), None, "{s}");
        }
    }

    #[test]
    fn timestamp_forms() {
        let base = parse_zoned_datetime("2024-06-12T14:35:20Z").unwrap();
        assert_eq!(parse_timestamp("2024-06-12T14:35:20"), Some(base));
        assert_eq!(parse_timestamp("2024-06-12T14:35:20.000"), Some(base));
        assert_eq!(parse_timestamp("2024-06-12T14:35"), Some(base - 20_000));
        assert_eq!(parse_timestamp("2024-06-12T14:35+01:00"), Some(base - 20_000 - 3_600_000));
        assert_eq!(parse_timestamp("2024-06-12 14:35:20"), None);
        assert_eq!(parse_timestamp("2024-06-12"), None);
        assert_eq!(parse_lenient("2024-06-12 14:35:20"), Some(base));
        assert_eq!(parse_lenient("2024-06-12"), Some(base - (14 * 3600 + 35 * 60 + 20) * 1000));
        assert_eq!(parse_lenient("2024-06-1x"), None);
    }

    #[test]
    fn format_extremes_do_not_panic() {
        assert_eq!(format_datetime(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_datetime(-1), "1969-12-31T23:59:59.999Z");
        let _ = format_datetime(i64::MAX);
        let _ = format_datetime(i64::MIN);
    }

    #[test]
    fn civil_days_match_chrono() {
        for y in [0, 1, 4, 99, 100, 400, 1600, 1900, 1969, 1970, 2000, 2023, 2024, 2100, 9999] {
            for m in 1..=12 {
                for d in [1, 15, 28, days_in_month(y, m)] {
                    let date = NaiveDate::from_ymd_opt(y, m, d).unwrap();
                    let want = date.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp() / 86_400;
                    assert_eq!(days_from_civil(y, m, d), want, "{y}-{m}-{d}");
                }
                assert!(NaiveDate::from_ymd_opt(y, m, days_in_month(y, m) + 1).is_none());
            }
        }
    }

    #[test]
    fn years_round_trip() {
        for s in
            ["0000-01-01T00:00:00.000Z", "9999-12-31T23:59:59.999Z", "2000-02-29T12:00:00.007Z"]
        {
            let ms = parse_zoned_datetime(s).unwrap();
            assert_eq!(format_datetime(ms), s);
        }
    }
}
