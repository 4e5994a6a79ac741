//! Timeframe parsing and resolution (keen-semantics §4): every row of the
//! §4.3 table, the §4.4 examples, DST rules and out-of-range results.

use serde_json::json;
use tally_query::{QueryErrorCode, TimeRange, TimeUnit, TimeZone, Timeframe};

fn ms(s: &str) -> i64 {
    tally_ingest::parse_zoned_datetime(s).unwrap_or_else(|| panic!("bad instant {s}"))
}

/// 2024-06-12T14:35:20Z, a Wednesday (the §4.3 clock).
fn now() -> i64 {
    ms("2024-06-12T14:35:20Z")
}

fn resolve(tf: &str, tz: &TimeZone) -> TimeRange {
    Timeframe::parse(&json!(tf)).unwrap().resolve(now(), tz).unwrap()
}

fn range(start: &str, end: &str) -> TimeRange {
    TimeRange { start_ms: ms(start), end_ms: ms(end) }
}

#[test]
fn section_4_3_table_utc() {
    let utc = TimeZone::default();
    let rows = [
        ("this_hour", "2024-06-12T14:00:00Z", "2024-06-12T15:00:00Z"),
        ("previous_3_hours", "2024-06-12T11:00:00Z", "2024-06-12T14:00:00Z"),
        ("this_3_days", "2024-06-10T00:00:00Z", "2024-06-13T00:00:00Z"),
        ("previous_3_days", "2024-06-09T00:00:00Z", "2024-06-12T00:00:00Z"),
        ("today", "2024-06-12T00:00:00Z", "2024-06-13T00:00:00Z"),
        ("yesterday", "2024-06-11T00:00:00Z", "2024-06-12T00:00:00Z"),
        ("this_week", "2024-06-09T00:00:00Z", "2024-06-16T00:00:00Z"),
        ("previous_2_weeks", "2024-05-26T00:00:00Z", "2024-06-09T00:00:00Z"),
        ("this_month", "2024-06-01T00:00:00Z", "2024-07-01T00:00:00Z"),
        ("previous_2_months", "2024-04-01T00:00:00Z", "2024-06-01T00:00:00Z"),
        ("this_2_years", "2023-01-01T00:00:00Z", "2025-01-01T00:00:00Z"),
    ];
    for (tf, start, end) in rows {
        assert_eq!(resolve(tf, &utc), range(start, end), "{tf}");
    }
}

#[test]
fn more_units_utc() {
    let utc = TimeZone::default();
    let rows = [
        ("this_minute", "2024-06-12T14:35:00Z", "2024-06-12T14:36:00Z"),
        ("this_5_minutes", "2024-06-12T14:31:00Z", "2024-06-12T14:36:00Z"),
        ("previous_minute", "2024-06-12T14:34:00Z", "2024-06-12T14:35:00Z"),
        ("this_24_hours", "2024-06-11T15:00:00Z", "2024-06-12T15:00:00Z"),
        ("this_7_days", "2024-06-06T00:00:00Z", "2024-06-13T00:00:00Z"),
        ("this_14_days", "2024-05-30T00:00:00Z", "2024-06-13T00:00:00Z"),
        ("previous_week", "2024-06-02T00:00:00Z", "2024-06-09T00:00:00Z"),
        ("previous_year", "2023-01-01T00:00:00Z", "2024-01-01T00:00:00Z"),
        ("this_year", "2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z"),
        ("this_13_months", "2023-06-01T00:00:00Z", "2024-07-01T00:00:00Z"),
        // Legacy `last_` is `previous_` (§4.2).
        ("last_3_days", "2024-06-09T00:00:00Z", "2024-06-12T00:00:00Z"),
        ("last_week", "2024-06-02T00:00:00Z", "2024-06-09T00:00:00Z"),
    ];
    for (tf, start, end) in rows {
        assert_eq!(resolve(tf, &utc), range(start, end), "{tf}");
    }
}

#[test]
fn section_4_4_fixed_offset_today() {
    let tz = TimeZone::parse(&json!(-28800)).unwrap();
    assert_eq!(tz, TimeZone::Fixed(-28800));
    assert_eq!(resolve("today", &tz), range("2024-06-12T08:00:00Z", "2024-06-13T08:00:00Z"));
    // The same offset as a numeric string and as "-08:00".
    for v in [json!("-28800"), json!("-08:00")] {
        let tz = TimeZone::parse(&v).unwrap();
        assert_eq!(resolve("today", &tz), range("2024-06-12T08:00:00Z", "2024-06-13T08:00:00Z"));
    }
}

#[test]
fn named_zone_moves_boundaries() {
    let tz = TimeZone::parse(&json!("US/Pacific")).unwrap();
    // 14:35Z is 07:35 PDT (-07:00) on Wednesday 06-12.
    assert_eq!(resolve("today", &tz), range("2024-06-12T07:00:00Z", "2024-06-13T07:00:00Z"));
    assert_eq!(resolve("this_week", &tz), range("2024-06-09T07:00:00Z", "2024-06-16T07:00:00Z"));
    assert_eq!(resolve("this_month", &tz), range("2024-06-01T07:00:00Z", "2024-07-01T07:00:00Z"));
    // this_year starts in PST (-08:00) and ends in PST.
    assert_eq!(resolve("this_year", &tz), range("2024-01-01T08:00:00Z", "2025-01-01T08:00:00Z"));
    // Half-hour zone: hours split at :30 UTC.
    let kolkata = TimeZone::parse(&json!("Asia/Kolkata")).unwrap();
    assert_eq!(
        resolve("this_hour", &kolkata),
        range("2024-06-12T14:30:00Z", "2024-06-12T15:30:00Z")
    );
}

#[test]
fn days_across_dst_use_local_midnights() {
    let tz = TimeZone::parse(&json!("US/Pacific")).unwrap();
    // now = 2024-03-11T12:00 PDT; this_3_days = 03-09 00:00 PST .. 03-12 00:00 PDT (71 h).
    let now = ms("2024-03-11T19:00:00Z");
    let tf = Timeframe::parse(&json!("this_3_days")).unwrap();
    assert_eq!(
        tf.resolve(now, &tz).unwrap(),
        range("2024-03-09T00:00:00-08:00", "2024-03-12T00:00:00-07:00")
    );
    // Hours are elapsed time: previous_24_hours is 24 real hours across the gap.
    let tf = Timeframe::parse(&json!("previous_24_hours")).unwrap();
    assert_eq!(
        tf.resolve(now, &tz).unwrap(),
        range("2024-03-10T19:00:00Z", "2024-03-11T19:00:00Z")
    );
}

#[test]
fn fall_back_hour_floor_stays_in_current_hour() {
    // 2024-11-03 01:30 PST (the second 01:30, 09:30Z) in US/Pacific.
    let tz = TimeZone::parse(&json!("US/Pacific")).unwrap();
    let tf = Timeframe::parse(&json!("this_hour")).unwrap();
    assert_eq!(
        tf.resolve(ms("2024-11-03T09:30:00Z"), &tz).unwrap(),
        range("2024-11-03T09:00:00Z", "2024-11-03T10:00:00Z")
    );
    // `today` that day is 25 hours long.
    let tf = Timeframe::parse(&json!("today")).unwrap();
    assert_eq!(
        tf.resolve(ms("2024-11-03T09:30:00Z"), &tz).unwrap(),
        range("2024-11-03T00:00:00-07:00", "2024-11-04T00:00:00-08:00")
    );
}

#[test]
fn midnight_in_a_gap_moves_forward() {
    // America/Santiago skipped 2022-09-11 00:00 → 01:00 (-04:00 → -03:00).
    let tz = TimeZone::parse(&json!("America/Santiago")).unwrap();
    let tf = Timeframe::parse(&json!("today")).unwrap();
    let r = tf.resolve(ms("2022-09-11T12:00:00-03:00"), &tz).unwrap();
    assert_eq!(r, range("2022-09-11T01:00:00-03:00", "2022-09-12T00:00:00-03:00"));
    assert_eq!(tz.format_instant(r.start_ms), "2022-09-11T01:00:00.000-03:00");
}

#[test]
fn absolute_resolves_to_itself() {
    let tf = Timeframe::parse(
        &json!({"start": "2024-06-01T00:00:00.000Z", "end": "2024-07-01T00:00:00.000Z"}),
    )
    .unwrap();
    let tz = TimeZone::parse(&json!("US/Pacific")).unwrap();
    assert_eq!(
        tf.resolve(now(), &tz).unwrap(),
        range("2024-06-01T00:00:00Z", "2024-07-01T00:00:00Z")
    );
}

#[test]
fn huge_n_is_an_error_not_a_panic() {
    let utc = TimeZone::default();
    for tf in ["this_1000000_years", "previous_1000000_years"] {
        let err = Timeframe::parse(&json!(tf)).unwrap().resolve(now(), &utc).unwrap_err();
        assert_eq!(err.code, QueryErrorCode::TimeframeDefinitionError, "{tf}");
        assert!(err.message.starts_with("timeframe:"), "{}", err.message);
    }
    // The largest N of every other unit still resolves.
    for tf in [
        "this_1000000_minutes",
        "this_1000000_hours",
        "this_1000000_days",
        "this_1000000_weeks",
        "this_1000000_months",
        "previous_200000_years",
    ] {
        let r = Timeframe::parse(&json!(tf)).unwrap().resolve(now(), &utc).unwrap();
        assert!(r.start_ms < r.end_ms, "{tf}");
    }
    // Clocks outside the representable range.
    for clock in [i64::MAX, i64::MIN, 9_000_000_000_000_000] {
        for unit in [TimeUnit::Minute, TimeUnit::Day, TimeUnit::Year] {
            let tf = Timeframe::Relative { previous: false, n: 1, unit };
            let tz = TimeZone::parse(&json!("Europe/London")).unwrap();
            let err = tf.resolve(clock, &tz).unwrap_err();
            assert_eq!(err.code, QueryErrorCode::TimeframeDefinitionError);
        }
    }
    // N = 0 built by hand.
    let tf = Timeframe::Relative { previous: true, n: 0, unit: TimeUnit::Day };
    assert!(tf.resolve(now(), &utc).is_err());
}

#[test]
fn relative_grammar() {
    let ok = [
        ("this_7_days", false, 7, TimeUnit::Day),
        ("this_1_day", false, 1, TimeUnit::Day),
        ("this_days", false, 1, TimeUnit::Day),
        ("this_day", false, 1, TimeUnit::Day),
        ("previous_24_hours", true, 24, TimeUnit::Hour),
        ("previous_week", true, 1, TimeUnit::Week),
        ("this_month", false, 1, TimeUnit::Month),
        ("this_2_year", false, 2, TimeUnit::Year),
        ("previous_1000000_minutes", true, 1_000_000, TimeUnit::Minute),
        ("last_5_minute", true, 5, TimeUnit::Minute),
        ("today", false, 1, TimeUnit::Day),
        ("yesterday", true, 1, TimeUnit::Day),
    ];
    for (s, previous, n, unit) in ok {
        assert_eq!(
            Timeframe::parse(&json!(s)).unwrap(),
            Timeframe::Relative { previous, n, unit },
            "{s}"
        );
    }
    let bad = [
        "",
        "this",
        "this_",
        "this_0_days",
        "this_1000001_days",
        "this_-1_days",
        "this_+1_days",
        "this_1.5_days",
        "this_7_fortnights",
        "this_7_days_ago",
        "next_7_days",
        "This_7_days",
        "this_7_secondss",
        "this_7_seconds",
        "this_7__days",
        "this_99999999999_days",
        "tomorrow",
        "{not json",
    ];
    for s in bad {
        let err = Timeframe::parse(&json!(s)).unwrap_err();
        assert_eq!(err.code, QueryErrorCode::TimeframeDefinitionError, "{s}");
        assert!(err.message.starts_with("timeframe: "), "{}", err.message);
    }
}

#[test]
fn absolute_forms() {
    let want = Timeframe::Absolute {
        start_ms: ms("2024-06-01T00:00:00Z"),
        end_ms: ms("2024-07-01T00:00:00Z"),
    };
    // Object, missing zone = UTC, offsets, GET encoding as a JSON string.
    for v in [
        json!({"start": "2024-06-01T00:00:00.000Z", "end": "2024-07-01T00:00:00.000Z"}),
        json!({"start": "2024-06-01T00:00:00", "end": "2024-07-01T00:00"}),
        json!({"start": "2024-06-01T02:00:00+02:00", "end": "2024-06-30T17:00:00-0700"}),
        json!(r#"{"start": "2024-06-01T00:00:00.000Z", "end": "2024-07-01T00:00:00.000Z"}"#),
    ] {
        assert_eq!(Timeframe::parse(&v).unwrap(), want, "{v}");
    }
    let bad = [
        (json!(null), "timeframe: "),
        (json!(7), "timeframe: "),
        (json!(["this_7_days"]), "timeframe: "),
        (json!({"end": "2024-07-01T00:00:00Z"}), "timeframe.start: "),
        (json!({"start": "2024-07-01T00:00:00Z"}), "timeframe.end: "),
        (json!({"start": "2024-06-01", "end": "2024-07-01T00:00:00Z"}), "timeframe.start: "),
        (json!({"start": 0, "end": "2024-07-01T00:00:00Z"}), "timeframe.start: "),
        (json!({"start": "2024-07-01T00:00:00Z", "end": "2024-07-01T00:00:00Z"}), "timeframe: "),
        (json!({"start": "2024-07-02T00:00:00Z", "end": "2024-07-01T00:00:00Z"}), "timeframe: "),
        (json!(r#"{"start": "2024-07-02T00:00:00Z"}"#), "timeframe.end: "),
        (json!("[1, 2]"), "timeframe: "),
    ];
    for (v, prefix) in bad {
        let err = Timeframe::parse(&v).unwrap_err();
        assert_eq!(err.code, QueryErrorCode::TimeframeDefinitionError, "{v}");
        assert!(err.message.starts_with(prefix), "{v}: {}", err.message);
    }
}

#[test]
fn describe_round_trips_relative() {
    for s in ["this_7_days", "previous_1_week", "this_1_day"] {
        let tf = Timeframe::parse(&json!(s)).unwrap();
        assert_eq!(tf.describe(), s);
        assert_eq!(Timeframe::parse(&json!(tf.describe())).unwrap(), tf);
    }
}

#[test]
fn calendar_limits_sweep_does_not_panic() {
    // chrono's range ends near ±262,143 years; walk N across it in several
    // zones and clocks, and split whatever resolves into yearly buckets.
    let zones = ["UTC", "US/Pacific", "Pacific/Kiritimati", "-50400", "50400"];
    let max_ms = chrono::DateTime::<chrono::Utc>::MAX_UTC.timestamp_millis();
    let min_ms = chrono::DateTime::<chrono::Utc>::MIN_UTC.timestamp_millis();
    let clocks = [now(), max_ms, max_ms - 1, min_ms, min_ms + 1, 0];
    for z in zones {
        let tz = TimeZone::parse(&json!(z)).unwrap();
        for clock in clocks {
            for n in [1, 264_000, 264_100, 264_200, 266_000, 999_999] {
                for unit in [TimeUnit::Year, TimeUnit::Month, TimeUnit::Week, TimeUnit::Day] {
                    for previous in [false, true] {
                        let tf = Timeframe::Relative { previous, n, unit };
                        if let Ok(r) = tf.resolve(clock, &tz) {
                            assert!(r.start_ms < r.end_ms);
                            let _ = tally_query::Interval::named(TimeUnit::Year).buckets(r, &tz);
                            let _ =
                                tally_query::Interval::every(7, TimeUnit::Month).buckets(r, &tz);
                            let _ = tz.format_instant(r.start_ms);
                        }
                    }
                }
            }
        }
    }
}
