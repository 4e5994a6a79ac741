//! Query limits the parser owns, at, under and over each bound
//! (RELIABILITY §3c, §6.4 item 14; keen-semantics §2.1, §2.5, §3, §5.2,
//! §6.1): 100 filters (nested `or` and funnel steps counted), `in` lists of
//! 10,000 members, 10 group_by paths, 25 funnel steps, 1,000-character
//! regex patterns, 10,000 interval buckets, percentile and max_age bounds.

use serde_json::{json, Value};
use tally_query::parse::{
    parse_filters, MAX_AGE_BOUNDS, MAX_FILTERS, MAX_FUNNEL_STEPS, MAX_GROUP_BY, MAX_IN_MEMBERS,
    MAX_REGEX_CHARS,
};
use tally_query::time::MAX_BUCKETS;
use tally_query::{
    parse_query, Filter, Interval, Query, QueryErrorCode, QueryErrorCode::*, TimeRange, TimeUnit,
    TimeZone,
};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 86_400_000;
/// 2024-01-01T00:00:00Z.
const Y2024: i64 = 1_704_067_200_000;

fn count_with(extra: Value) -> Value {
    let mut body =
        json!({"analysis_type": "count", "event_collection": "c", "timeframe": "this_7_days"});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

fn exists(i: usize) -> Value {
    json!({"property_name": format!("p{i}"), "operator": "exists", "property_value": true})
}

#[track_caller]
fn ok(body: &Value) -> Query {
    match parse_query(body) {
        Ok(q) => q,
        Err(e) => panic!("should parse, got {e}"),
    }
}

#[track_caller]
fn fails(body: &Value, code: QueryErrorCode, prefix: &str) -> String {
    let e = parse_query(body).expect_err("should fail");
    assert_eq!(e.code, code, "{}", e.message);
    assert!(e.message.starts_with(prefix), "message {:?} should start with {prefix:?}", e.message);
    e.message
}

fn filters_of(q: &Query) -> &[Filter] {
    match q {
        Query::Analysis { common, .. } | Query::Multi { common, .. } => &common.filters,
        Query::Extraction(x) => &x.filters,
        Query::Funnel(_) => panic!("not a funnel here"),
    }
}

#[test]
fn the_limits_are_the_documented_figures() {
    assert_eq!(MAX_FILTERS, 100);
    assert_eq!(MAX_IN_MEMBERS, 10_000);
    assert_eq!(MAX_GROUP_BY, 10);
    assert_eq!(MAX_FUNNEL_STEPS, 25);
    assert_eq!(MAX_REGEX_CHARS, 1_000);
    assert_eq!(MAX_BUCKETS, 10_000);
    assert_eq!(MAX_AGE_BOUNDS, (30, 129_600));
}

// ------------------------------------------------------------- filters

#[test]
fn filters_99_100_101() {
    for n in [99, 100] {
        let q = ok(&count_with(json!({"filters": (0..n).map(exists).collect::<Vec<_>>()})));
        assert_eq!(filters_of(&q).len(), n);
    }
    let body = count_with(json!({"filters": (0..101).map(exists).collect::<Vec<_>>()}));
    let msg = fails(&body, LimitExceededError, "filters[100]: ");
    assert!(msg.contains("100"), "{msg}");
}

#[test]
fn nested_or_filters_count_towards_the_limit() {
    // One `or` with 99 sub-filters = 100 filters.
    let or = |n: usize| json!({"operator": "or", "property_value": (0..n).map(exists).collect::<Vec<_>>()});
    let q = ok(&count_with(json!({"filters": [or(99)]})));
    match &filters_of(&q)[0] {
        Filter::Or(subs) => assert_eq!(subs.len(), 99),
        other => panic!("expected an or, got {other:?}"),
    }
    fails(
        &count_with(json!({"filters": [or(100)]})),
        LimitExceededError,
        "filters[0].property_value[99]: ",
    );
    // 50 plain + one `or` (1) with 49 sub-filters = 100; one more is 101.
    let mut list: Vec<Value> = (0..50).map(exists).collect();
    list.push(or(49));
    ok(&count_with(json!({"filters": list.clone()})));
    list.push(exists(999));
    fails(&count_with(json!({"filters": list})), LimitExceededError, "filters[51]: ");
    // Nested two levels: or(or(98)) = 1 + 1 + 98 = 100.
    let deep = |n: usize| json!({"operator": "or", "property_value": [or(n)]});
    ok(&count_with(json!({"filters": [deep(98)]})));
    fails(
        &count_with(json!({"filters": [deep(99)]})),
        LimitExceededError,
        "filters[0].property_value[0].property_value[98]: ",
    );
}

#[test]
fn funnel_filters_count_over_all_steps() {
    let step = |n: usize| {
        json!({"event_collection": "c", "actor_property": "u", "timeframe": "today",
               "filters": (0..n).map(exists).collect::<Vec<_>>()})
    };
    ok(&json!({"analysis_type": "funnel", "steps": [step(50), step(50)]}));
    let body = json!({"analysis_type": "funnel", "steps": [step(50), step(51)]});
    fails(&body, LimitExceededError, "steps[1].filters[50]: ");
    let body = json!({"analysis_type": "funnel", "steps": [step(100), step(0), step(1)]});
    fails(&body, LimitExceededError, "steps[2].filters[0]: ");
}

#[test]
fn filter_limit_also_holds_for_extractions_multi_and_filter_lists() {
    let list = |n: usize| Value::Array((0..n).map(exists).collect());
    let ex = |n: usize| json!({"analysis_type": "extraction", "event_collection": "c", "timeframe": "today", "filters": list(n)});
    assert_eq!(filters_of(&ok(&ex(100))).len(), 100);
    fails(&ex(101), LimitExceededError, "filters[100]: ");
    let multi = |n: usize| {
        json!({"analysis_type": "multi_analysis", "event_collection": "c", "timeframe": "today",
               "analyses": {"n": {"analysis_type": "count"}}, "filters": list(n)})
    };
    ok(&multi(100));
    fails(&multi(101), LimitExceededError, "filters[100]: ");
    assert_eq!(parse_filters(&list(100), "filters").unwrap().len(), 100);
    let e = parse_filters(&list(101), "access_key.filters").unwrap_err();
    assert_eq!(e.code, LimitExceededError);
    assert!(e.message.starts_with("access_key.filters[100]: "), "{}", e.message);
}

#[test]
fn in_list_10000_members_and_not_10001() {
    let in_filter = |n: usize| {
        json!({"property_name": "user.id", "operator": "in",
               "property_value": (0..n).map(|i| json!(format!("u{i}"))).collect::<Vec<_>>()})
    };
    for n in [1, 9_999, 10_000] {
        let q = ok(&count_with(json!({"filters": [in_filter(n)]})));
        match &filters_of(&q)[0] {
            Filter::In { operands, .. } => assert_eq!(operands.len(), n),
            other => panic!("expected an in filter, got {other:?}"),
        }
    }
    let msg = fails(
        &count_with(json!({"filters": [exists(0), in_filter(10_001)]})),
        LimitExceededError,
        "filters[1].property_value: ",
    );
    assert!(msg.contains("10001") && msg.contains("10000"), "{msg}");
    // Inside an `or`, and on a funnel step, the path says where.
    let or = json!({"operator": "or", "property_value": [exists(1), in_filter(10_001)]});
    fails(
        &count_with(json!({"filters": [or]})),
        LimitExceededError,
        "filters[0].property_value[1].property_value: ",
    );
    let body = json!({"analysis_type": "funnel", "steps": [
        {"event_collection": "c", "actor_property": "u", "timeframe": "today", "filters": [in_filter(10_001)]}]});
    fails(&body, LimitExceededError, "steps[0].filters[0].property_value: ");
    // The limit counts members, whatever their type.
    let mixed: Vec<Value> =
        (0..10_001).map(|i| if i % 2 == 0 { json!(i) } else { Value::Null }).collect();
    let f = json!({"property_name": "n", "operator": "in", "property_value": mixed});
    fails(&count_with(json!({"filters": [f]})), LimitExceededError, "filters[0].property_value: ");
}

// ------------------------------------------------------------- group_by

#[test]
fn group_by_10_paths_and_not_11() {
    let paths = |n: usize| (0..n).map(|i| json!(format!("g{i}"))).collect::<Vec<_>>();
    for n in [1, 9, 10] {
        match ok(&count_with(json!({"group_by": paths(n)}))) {
            Query::Analysis { common, .. } => assert_eq!(common.group_by.len(), n),
            other => panic!("{other:?}"),
        }
    }
    let msg =
        fails(&count_with(json!({"group_by": paths(11)})), InvalidParameterError, "group_by: ");
    assert!(msg.contains("11"), "{msg}");
    // Ranges and buckets count as paths too.
    let mut mixed = paths(9);
    mixed.push(json!({"property_name": "score", "buckets": {"size": 10}}));
    ok(&count_with(json!({"group_by": mixed.clone()})));
    mixed.push(json!({"property_name": "age", "ranges": [{"from": 18}]}));
    fails(&count_with(json!({"group_by": mixed})), InvalidParameterError, "group_by: ");
    // Also for multi_analysis.
    let multi = |n: usize| {
        json!({"analysis_type": "multi_analysis", "event_collection": "c", "timeframe": "today",
               "analyses": {"n": {"analysis_type": "count"}}, "group_by": paths(n)})
    };
    ok(&multi(10));
    fails(&multi(11), InvalidParameterError, "group_by: ");
}

// --------------------------------------------------------------- funnel

#[test]
fn funnel_25_steps_and_not_26() {
    let funnel = |n: usize| {
        let steps: Vec<Value> = (0..n)
            .map(|i| json!({"event_collection": format!("c{i}"), "actor_property": "u"}))
            .collect();
        json!({"analysis_type": "funnel", "timeframe": "this_7_days", "steps": steps})
    };
    for n in [1, 24, 25] {
        match ok(&funnel(n)) {
            Query::Funnel(f) => assert_eq!(f.steps.len(), n),
            other => panic!("{other:?}"),
        }
    }
    let msg = fails(&funnel(26), InvalidParameterError, "steps: ");
    assert!(msg.contains("26"), "{msg}");
    fails(&funnel(0), InvalidParameterError, "steps: ");
}

// ---------------------------------------------------------------- regex

#[test]
fn regex_1000_chars_and_not_1001() {
    let regex = |p: String| {
        count_with(
            json!({"filters": [{"property_name": "e", "operator": "regex", "property_value": p}]}),
        )
    };
    for p in ["a".repeat(999), "a".repeat(1_000), "é".repeat(1_000), "日".repeat(1_000)] {
        ok(&regex(p));
    }
    for p in ["a".repeat(1_001), "é".repeat(1_001), format!("{}b", "日".repeat(1_000))] {
        let msg = fails(&regex(p), FilterDefinitionError, "filters[0].property_value: ");
        assert!(msg.contains("1001") && msg.contains("1000"), "{msg}");
    }
    // Characters, not bytes: 1,000 two-byte characters are 2,000 bytes.
    assert_eq!("é".repeat(1_000).len(), 2_000);
}

// -------------------------------------------------------------- buckets

#[test]
fn interval_10000_buckets_and_not_10001() {
    let utc = TimeZone::default();
    let cases: [(Interval, i64); 4] = [
        (Interval::named(TimeUnit::Minute), MINUTE),
        (Interval::named(TimeUnit::Hour), HOUR),
        (Interval::named(TimeUnit::Day), DAY),
        (Interval::every(6, TimeUnit::Hour), 6 * HOUR),
    ];
    for (interval, step) in cases {
        for n in [1i64, 9_999, 10_000] {
            let range = TimeRange { start_ms: Y2024, end_ms: Y2024 + n * step };
            let b = interval.buckets(range, &utc).unwrap();
            assert_eq!(b.len() as i64, n, "{interval:?}");
            assert_eq!(b[0].start_ms, Y2024);
            assert_eq!(b.last().unwrap().end_ms, range.end_ms);
        }
        // One more bucket, even a partial one, is over the limit.
        for extra in [step, 1] {
            let range = TimeRange { start_ms: Y2024, end_ms: Y2024 + 10_000 * step + extra };
            let e = interval.buckets(range, &utc).unwrap_err();
            assert_eq!(e.code, LimitExceededError, "{interval:?}");
            assert!(e.message.starts_with("interval: "), "{}", e.message);
            assert!(e.message.contains("10000"), "{}", e.message);
        }
    }
    // Calendar buckets clipped at both ends still count: a daily interval
    // from 12:00 over 9,999 whole days and two halves is 10,001 buckets.
    let daily = Interval::named(TimeUnit::Day);
    let range = TimeRange { start_ms: Y2024 + DAY / 2, end_ms: Y2024 + 10_000 * DAY + DAY / 2 };
    assert_eq!(daily.buckets(range, &utc).unwrap_err().code, LimitExceededError);
    let range = TimeRange { start_ms: Y2024 + DAY / 2, end_ms: Y2024 + 9_999 * DAY + DAY / 2 };
    assert_eq!(daily.buckets(range, &utc).unwrap().len(), 10_000);
}

// ------------------------------------------------------------ percentile

#[test]
fn percentile_bounds() {
    let p = |v: Value| {
        json!({"analysis_type": "percentile", "event_collection": "c", "timeframe": "today",
               "target_property": "x", "percentile": v})
    };
    for (v, want) in [
        (json!(0.01), 0.01),
        (json!(0.1), 0.1),
        (json!(1), 1.0),
        (json!(50), 50.0),
        (json!(99.99), 99.99),
        (json!(100), 100.0),
        (json!(100.0), 100.0),
        (json!("12.34"), 12.34),
    ] {
        match ok(&p(v.clone())) {
            Query::Analysis { analysis, .. } => {
                assert_eq!(analysis.kind, tally_query::AnalysisKind::Percentile(want), "{v}")
            }
            other => panic!("{other:?}"),
        }
    }
    for v in [
        json!(0),
        json!(-0.01),
        json!(0.001),
        json!(0.009),
        json!(0.00000001),
        json!(99.999),
        json!(100.001),
        json!(100.01),
        json!(101),
    ] {
        fails(&p(v), InvalidParameterError, "percentile: ");
    }
    fails(&p(Value::Null), MissingParameterError, "percentile: ");
    // Every two-decimal value in (0, 100] is accepted.
    for d in 1..=10_000u32 {
        let text = format!("{}.{:02}", d / 100, d % 100);
        let v: Value = serde_json::from_str(&text).unwrap();
        assert!(parse_query(&p(v)).is_ok(), "percentile {text} should be accepted");
    }
}

// --------------------------------------------------------------- max_age

#[test]
fn max_age_bounds() {
    let bodies = |v: Value| {
        vec![
            count_with(json!({"max_age": v.clone()})),
            json!({"analysis_type": "funnel", "max_age": v.clone(), "steps": [
                {"event_collection": "c", "actor_property": "u", "timeframe": "today"}]}),
            json!({"analysis_type": "extraction", "event_collection": "c", "timeframe": "today",
                   "max_age": v}),
        ]
    };
    for v in [json!(31), json!(3_600), json!(129_600), json!("129600"), json!(129_600.0)] {
        for b in bodies(v.clone()) {
            ok(&b);
        }
    }
    match ok(&count_with(json!({"max_age": 31}))) {
        Query::Analysis { common, .. } => assert_eq!(common.max_age, Some(31)),
        other => panic!("{other:?}"),
    }
    match ok(&count_with(json!({"max_age": 129_600}))) {
        Query::Analysis { common, .. } => assert_eq!(common.max_age, Some(129_600)),
        other => panic!("{other:?}"),
    }
    for v in [json!(30), json!(0), json!(129_601), json!(30.5), json!("30")] {
        for b in bodies(v.clone()) {
            fails(&b, InvalidParameterError, "max_age: ");
        }
    }
}

// --------------------------------------------------------- relative N

#[test]
fn relative_timeframe_n_bounds() {
    for tf in ["this_1_days", "this_1000000_days", "previous_1000000_minutes", "last_1000000_hours"]
    {
        ok(&count_with(json!({"timeframe": tf})));
    }
    for tf in ["this_0_days", "this_1000001_days", "previous_0_minutes", "last_1000001_hours"] {
        fails(&count_with(json!({"timeframe": tf})), TimeframeDefinitionError, "timeframe: ");
    }
}

#[test]
fn timezone_offset_bounds() {
    for tz in [json!(50_400), json!(-50_400), json!("+14:00"), json!("-14:00"), json!("50400")] {
        ok(&count_with(json!({"timezone": tz})));
    }
    for tz in [json!(50_401), json!(-50_401), json!("+14:01"), json!("-50401")] {
        fails(&count_with(json!({"timezone": tz})), InvalidParameterError, "timezone: ");
    }
}
