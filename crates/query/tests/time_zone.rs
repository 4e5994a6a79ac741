//! `timezone` parsing (keen-semantics §4.4).

use serde_json::json;
use tally_query::{QueryErrorCode, TimeZone};

#[test]
fn accepted_forms() {
    let cases = [
        (json!("US/Pacific"), TimeZone::Named(chrono_tz::US::Pacific)),
        (json!("Europe/London"), TimeZone::Named(chrono_tz::Europe::London)),
        (json!("UTC"), TimeZone::Named(chrono_tz::UTC)),
        (json!("Etc/UTC"), TimeZone::Named(chrono_tz::Etc::UTC)),
        (json!("us/pacific"), TimeZone::Named(chrono_tz::US::Pacific)),
        (json!(-28800), TimeZone::Fixed(-28800)),
        (json!(-28800.0), TimeZone::Fixed(-28800)),
        (json!(0), TimeZone::Fixed(0)),
        (json!("-28800"), TimeZone::Fixed(-28800)),
        (json!("+3600"), TimeZone::Fixed(3600)),
        (json!("19800"), TimeZone::Fixed(19800)),
        (json!("+05:30"), TimeZone::Fixed(19800)),
        (json!("-08:00"), TimeZone::Fixed(-28800)),
        (json!("+14:00"), TimeZone::Fixed(50400)),
        (json!(50400), TimeZone::Fixed(50400)),
        (json!(-50400), TimeZone::Fixed(-50400)),
        (json!(null), TimeZone::default()),
        // A numeric string is seconds, also with a sign and leading zero.
        (json!("+0530"), TimeZone::Fixed(530)),
    ];
    for (v, want) in cases {
        assert_eq!(TimeZone::parse(&v).unwrap(), want, "{v}");
    }
}

#[test]
fn rejected_forms() {
    for v in [
        json!("Mars/Olympus"),
        json!(""),
        json!(50401),
        json!(-50401),
        json!("50401"),
        json!("+14:01"),
        json!("+15:00"),
        json!("+05:60"),
        json!("+5:30"),
        json!("99999999999999999999999"),
        json!(1.5),
        json!(1e300),
        json!(true),
        json!(["UTC"]),
        json!({"name": "UTC"}),
    ] {
        let err = TimeZone::parse(&v).unwrap_err();
        assert_eq!(err.code, QueryErrorCode::InvalidParameterError, "{v}");
        assert!(err.message.starts_with("timezone: "), "{v}: {}", err.message);
    }
    let err = TimeZone::parse_at(&json!("Nowhere"), "steps[2].timezone").unwrap_err();
    assert_eq!(err.message, r#"steps[2].timezone: unknown timezone "Nowhere""#);
}

#[test]
fn format_uses_local_offset_and_z_for_zero() {
    let london = TimeZone::parse(&json!("Europe/London")).unwrap();
    let winter = tally_ingest::parse_zoned_datetime("2024-01-10T12:00:00Z").unwrap();
    let summer = tally_ingest::parse_zoned_datetime("2024-06-10T12:00:00Z").unwrap();
    assert_eq!(london.format_instant(winter), "2024-01-10T12:00:00.000Z");
    assert_eq!(london.format_instant(summer), "2024-06-10T13:00:00.000+01:00");
}
