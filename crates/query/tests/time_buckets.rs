//! Interval parsing and bucket boundaries (keen-semantics §5).

use serde_json::json;
use tally_query::{Interval, QueryErrorCode, TimeRange, TimeUnit, TimeZone, Timeframe};

fn ms(s: &str) -> i64 {
    tally_ingest::parse_zoned_datetime(s).unwrap_or_else(|| panic!("bad instant {s}"))
}

fn range(start: &str, end: &str) -> TimeRange {
    TimeRange { start_ms: ms(start), end_ms: ms(end) }
}

fn buckets(interval: &str, r: TimeRange, tz: &TimeZone) -> Vec<TimeRange> {
    Interval::parse(&json!(interval)).unwrap().buckets(r, tz).unwrap()
}

/// Buckets rendered in `tz` as `start → end`.
fn render(b: &[TimeRange], tz: &TimeZone) -> Vec<String> {
    b.iter()
        .map(|r| format!("{} → {}", tz.format_instant(r.start_ms), tz.format_instant(r.end_ms)))
        .collect()
}

#[test]
fn section_4_4_us_pacific_daily_across_dst() {
    let tz = TimeZone::parse(&json!("US/Pacific")).unwrap();
    let tf = Timeframe::parse(
        &json!({"start": "2024-03-09T00:00:00-08:00", "end": "2024-03-12T00:00:00-07:00"}),
    )
    .unwrap();
    let r = tf.resolve(0, &tz).unwrap();
    let b = buckets("daily", r, &tz);
    assert_eq!(
        render(&b, &tz),
        [
            "2024-03-09T00:00:00.000-08:00 → 2024-03-10T00:00:00.000-08:00",
            "2024-03-10T00:00:00.000-08:00 → 2024-03-11T00:00:00.000-07:00",
            "2024-03-11T00:00:00.000-07:00 → 2024-03-12T00:00:00.000-07:00",
        ]
    );
    let hours: Vec<i64> = b.iter().map(|r| (r.end_ms - r.start_ms) / 3_600_000).collect();
    assert_eq!(hours, [24, 23, 24]);
}

#[test]
fn section_5_2_weekly_over_a_month_is_clipped() {
    // June 2020: the 7th is a Sunday.
    let utc = TimeZone::default();
    let b = buckets("weekly", range("2020-06-01T00:00:00Z", "2020-07-01T00:00:00Z"), &utc);
    assert_eq!(
        b,
        [
            range("2020-06-01T00:00:00Z", "2020-06-07T00:00:00Z"),
            range("2020-06-07T00:00:00Z", "2020-06-14T00:00:00Z"),
            range("2020-06-14T00:00:00Z", "2020-06-21T00:00:00Z"),
            range("2020-06-21T00:00:00Z", "2020-06-28T00:00:00Z"),
            range("2020-06-28T00:00:00Z", "2020-07-01T00:00:00Z"),
        ]
    );
}

#[test]
fn named_intervals_split_at_calendar_boundaries() {
    let utc = TimeZone::default();
    assert_eq!(
        buckets("hourly", range("2024-06-12T10:30:00Z", "2024-06-12T12:15:00Z"), &utc),
        [
            range("2024-06-12T10:30:00Z", "2024-06-12T11:00:00Z"),
            range("2024-06-12T11:00:00Z", "2024-06-12T12:00:00Z"),
            range("2024-06-12T12:00:00Z", "2024-06-12T12:15:00Z"),
        ]
    );
    assert_eq!(
        buckets("minutely", range("2024-06-12T10:30:30Z", "2024-06-12T10:32:00Z"), &utc),
        [
            range("2024-06-12T10:30:30Z", "2024-06-12T10:31:00Z"),
            range("2024-06-12T10:31:00Z", "2024-06-12T10:32:00Z"),
        ]
    );
    assert_eq!(
        buckets("monthly", range("2024-01-15T00:00:00Z", "2024-04-01T00:00:00Z"), &utc),
        [
            range("2024-01-15T00:00:00Z", "2024-02-01T00:00:00Z"),
            range("2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z"),
            range("2024-03-01T00:00:00Z", "2024-04-01T00:00:00Z"),
        ]
    );
    assert_eq!(
        buckets("yearly", range("2023-06-01T00:00:00Z", "2025-01-01T00:00:00Z"), &utc),
        [
            range("2023-06-01T00:00:00Z", "2024-01-01T00:00:00Z"),
            range("2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z"),
        ]
    );
    // A fixed offset moves the daily boundaries.
    let tz = TimeZone::Fixed(-28800);
    assert_eq!(
        buckets("daily", range("2024-06-12T08:00:00Z", "2024-06-14T08:00:00Z"), &tz),
        [
            range("2024-06-12T08:00:00Z", "2024-06-13T08:00:00Z"),
            range("2024-06-13T08:00:00Z", "2024-06-14T08:00:00Z"),
        ]
    );
}

#[test]
fn relative_timeframe_with_daily_interval() {
    // this_3_days at the §4.3 clock: three whole days.
    let utc = TimeZone::default();
    let r = Timeframe::parse(&json!("this_3_days"))
        .unwrap()
        .resolve(ms("2024-06-12T14:35:20Z"), &utc)
        .unwrap();
    assert_eq!(
        buckets("daily", r, &utc),
        [
            range("2024-06-10T00:00:00Z", "2024-06-11T00:00:00Z"),
            range("2024-06-11T00:00:00Z", "2024-06-12T00:00:00Z"),
            range("2024-06-12T00:00:00Z", "2024-06-13T00:00:00Z"),
        ]
    );
}

#[test]
fn every_n_months_clamps_each_boundary_from_the_start() {
    let utc = TimeZone::default();
    // Nov 30 + 3 months = Feb 29 (leap), + 6 = May 30 (not May 29).
    assert_eq!(
        buckets("every_3_months", range("2023-11-30T00:00:00Z", "2024-09-01T00:00:00Z"), &utc),
        [
            range("2023-11-30T00:00:00Z", "2024-02-29T00:00:00Z"),
            range("2024-02-29T00:00:00Z", "2024-05-30T00:00:00Z"),
            range("2024-05-30T00:00:00Z", "2024-08-30T00:00:00Z"),
            range("2024-08-30T00:00:00Z", "2024-09-01T00:00:00Z"),
        ]
    );
    // Dec 31 + 2 months = Feb 29, + 4 = Apr 30, + 6 = Jun 30; non-leap Feb 28.
    assert_eq!(
        buckets("every_2_months", range("2022-12-31T12:00:00Z", "2023-07-01T00:00:00Z"), &utc),
        [
            range("2022-12-31T12:00:00Z", "2023-02-28T12:00:00Z"),
            range("2023-02-28T12:00:00Z", "2023-04-30T12:00:00Z"),
            range("2023-04-30T12:00:00Z", "2023-06-30T12:00:00Z"),
            range("2023-06-30T12:00:00Z", "2023-07-01T00:00:00Z"),
        ]
    );
    // Years: Feb 29 + 2 years clamps to Feb 28.
    assert_eq!(
        buckets("every_2_years", range("2024-02-29T00:00:00Z", "2027-01-01T00:00:00Z"), &utc),
        [
            range("2024-02-29T00:00:00Z", "2026-02-28T00:00:00Z"),
            range("2026-02-28T00:00:00Z", "2027-01-01T00:00:00Z"),
        ]
    );
}

#[test]
fn every_n_starts_at_the_range_start() {
    let utc = TimeZone::default();
    assert_eq!(
        buckets("every_2_days", range("2024-06-01T06:00:00Z", "2024-06-06T00:00:00Z"), &utc),
        [
            range("2024-06-01T06:00:00Z", "2024-06-03T06:00:00Z"),
            range("2024-06-03T06:00:00Z", "2024-06-05T06:00:00Z"),
            range("2024-06-05T06:00:00Z", "2024-06-06T00:00:00Z"),
        ]
    );
    assert_eq!(
        buckets("every_15_minutes", range("2024-06-01T00:10:00Z", "2024-06-01T00:50:00Z"), &utc),
        [
            range("2024-06-01T00:10:00Z", "2024-06-01T00:25:00Z"),
            range("2024-06-01T00:25:00Z", "2024-06-01T00:40:00Z"),
            range("2024-06-01T00:40:00Z", "2024-06-01T00:50:00Z"),
        ]
    );
    assert_eq!(
        buckets("every_2_weeks", range("2024-06-05T00:00:00Z", "2024-07-01T00:00:00Z"), &utc),
        [
            range("2024-06-05T00:00:00Z", "2024-06-19T00:00:00Z"),
            range("2024-06-19T00:00:00Z", "2024-07-01T00:00:00Z"),
        ]
    );
}

#[test]
fn hours_are_elapsed_days_are_local_across_dst() {
    let tz = TimeZone::parse(&json!("US/Pacific")).unwrap();
    let r = range("2024-03-09T00:00:00-08:00", "2024-03-11T00:00:00-07:00");
    // every_6_hours steps six real hours: 47 h → 7 full buckets + one of 5 h.
    let b = buckets("every_6_hours", r, &tz);
    assert_eq!(b.len(), 8);
    assert!(b[..7].iter().all(|x| x.end_ms - x.start_ms == 6 * 3_600_000));
    assert_eq!(b[7].end_ms - b[7].start_ms, 5 * 3_600_000);
    // every_2_days from local midnight lands on local midnight after the change.
    let b = buckets(
        "every_2_days",
        range("2024-03-09T00:00:00-08:00", "2024-03-13T00:00:00-07:00"),
        &tz,
    );
    assert_eq!(
        render(&b, &tz),
        [
            "2024-03-09T00:00:00.000-08:00 → 2024-03-11T00:00:00.000-07:00",
            "2024-03-11T00:00:00.000-07:00 → 2024-03-13T00:00:00.000-07:00",
        ]
    );
    // A local 02:30 that does not exist moves forward to 03:30 (every_1 day
    // is calendar-aligned, so use every_7_days from Sunday 02:30 PST).
    let b = buckets(
        "every_7_days",
        range("2024-03-03T02:30:00-08:00", "2024-03-17T03:30:00-07:00"),
        &tz,
    );
    assert_eq!(
        render(&b, &tz),
        [
            "2024-03-03T02:30:00.000-08:00 → 2024-03-10T03:30:00.000-07:00",
            "2024-03-10T03:30:00.000-07:00 → 2024-03-17T02:30:00.000-07:00",
            "2024-03-17T02:30:00.000-07:00 → 2024-03-17T03:30:00.000-07:00",
        ]
    );
    // Fall back: a local 01:30 that occurs twice is the earlier instant (PDT).
    let b = buckets(
        "every_7_days",
        range("2024-10-27T01:30:00-07:00", "2024-11-04T00:00:00-08:00"),
        &tz,
    );
    assert_eq!(b[0].end_ms, ms("2024-11-03T01:30:00-07:00"));
}

#[test]
fn bucket_limit() {
    let utc = TimeZone::default();
    // Exactly 10,000 minutes is allowed.
    let start = ms("2024-01-01T00:00:00Z");
    let ok = Interval::named(TimeUnit::Minute)
        .buckets(TimeRange { start_ms: start, end_ms: start + 10_000 * 60_000 }, &utc)
        .unwrap();
    assert_eq!(ok.len(), 10_000);
    let err = Interval::named(TimeUnit::Minute)
        .buckets(TimeRange { start_ms: start, end_ms: start + 10_001 * 60_000 }, &utc)
        .unwrap_err();
    assert_eq!(err.code, QueryErrorCode::LimitExceededError);
    assert!(err.message.starts_with("interval: "), "{}", err.message);
    // A million years of minutes fails fast instead of allocating.
    let big =
        Timeframe::parse(&json!("previous_200000_years")).unwrap().resolve(start, &utc).unwrap();
    let err = Interval::parse(&json!("minutely")).unwrap().buckets(big, &utc).unwrap_err();
    assert_eq!(err.code, QueryErrorCode::LimitExceededError);
}

#[test]
fn empty_range_has_no_buckets() {
    let utc = TimeZone::default();
    let r = TimeRange { start_ms: 5, end_ms: 5 };
    assert!(buckets("daily", r, &utc).is_empty());
}

#[test]
fn extreme_ranges_do_not_panic() {
    let utc = TimeZone::default();
    for interval in
        ["yearly", "every_1000_years", "every_4294967295_years", "every_4294967295_minutes"]
    {
        let iv = Interval::parse(&json!(interval)).unwrap();
        for r in [
            TimeRange { start_ms: i64::MIN, end_ms: i64::MAX },
            TimeRange { start_ms: -8_000_000_000_000_000, end_ms: 8_000_000_000_000_000 },
            TimeRange { start_ms: 8_000_000_000_000_000, end_ms: 8_200_000_000_000_000 },
        ] {
            let _ = iv.buckets(r, &utc);
        }
    }
}

#[test]
fn interval_names() {
    let ok = [
        ("minutely", 1, TimeUnit::Minute),
        ("hourly", 1, TimeUnit::Hour),
        ("daily", 1, TimeUnit::Day),
        ("weekly", 1, TimeUnit::Week),
        ("monthly", 1, TimeUnit::Month),
        ("yearly", 1, TimeUnit::Year),
        ("every_6_hours", 6, TimeUnit::Hour),
        ("every_1_hour", 1, TimeUnit::Hour),
        ("every_30_minutes", 30, TimeUnit::Minute),
        ("every_2_days", 2, TimeUnit::Day),
        ("every_3_weeks", 3, TimeUnit::Week),
        ("every_4_month", 4, TimeUnit::Month),
        ("every_10_years", 10, TimeUnit::Year),
    ];
    for (s, n, unit) in ok {
        let calendar = !s.starts_with("every_");
        assert_eq!(Interval::parse(&json!(s)).unwrap(), Interval { n, unit, calendar }, "{s}");
    }
    for v in [
        json!("secondly"),
        json!("every_0_days"),
        json!("every_days"),
        json!("every_-1_days"),
        json!("every_5_seconds"),
        json!("every_99999999999_days"),
        json!("Daily"),
        json!("fortnightly"),
        json!(""),
        json!(1),
        json!({"every": "day"}),
    ] {
        let err = Interval::parse(&v).unwrap_err();
        assert_eq!(err.code, QueryErrorCode::InvalidParameterError, "{v}");
        assert!(err.message.starts_with("interval: "), "{v}: {}", err.message);
    }
}

#[test]
fn every_1_days_steps_from_the_start_but_daily_splits_at_midnight() {
    let range = TimeRange { start_ms: 1_718_013_600_000, end_ms: 1_718_186_400_000 }; // 06-10T10:00 → 06-12T10:00
    let tz = TimeZone::default();
    let every = Interval::parse(&json!("every_1_days")).unwrap().buckets(range, &tz).unwrap();
    assert_eq!(
        every,
        vec![
            TimeRange { start_ms: 1_718_013_600_000, end_ms: 1_718_100_000_000 },
            TimeRange { start_ms: 1_718_100_000_000, end_ms: 1_718_186_400_000 },
        ]
    );
    let daily = Interval::parse(&json!("daily")).unwrap().buckets(range, &tz).unwrap();
    assert_eq!(
        daily,
        vec![
            TimeRange { start_ms: 1_718_013_600_000, end_ms: 1_718_064_000_000 },
            TimeRange { start_ms: 1_718_064_000_000, end_ms: 1_718_150_400_000 },
            TimeRange { start_ms: 1_718_150_400_000, end_ms: 1_718_186_400_000 },
        ]
    );
}
