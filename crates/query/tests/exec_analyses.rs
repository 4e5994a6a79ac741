//! Analyses, result shapes, group_by, intervals, order_by and limit
//! (keen-semantics §2.2–2.4, §2.6, §5.3–5.4, §6), with the spec's examples.

mod exec_util;

use exec_util::*;
use serde_json::{json, Value};
use tally_query::exec::run_analysis;
use tally_query::{AnalysisKind as K, CmpOp, Filter, GroupBy, QueryErrorCode, TimeZone};

const HOUR: i64 = 3_600_000;

fn numbers(vals: &[&str]) -> std::sync::Arc<tally_ingest::Snapshot> {
    let ev: Vec<String> = vals
        .iter()
        .enumerate()
        .map(|(i, v)| ev(DAY0 + i as i64 * HOUR, &format!(r#""x": {v}"#)))
        .collect();
    snapshot_of(&ev, 2, 3)
}

fn scalar_result(snap: &tally_ingest::Snapshot, kind: K) -> Value {
    run1(Some(snap), &an(kind, Some("x")), &common(1), range(1), None)["result"].clone()
}

#[test]
fn spec_percentile_examples() {
    let a = numbers(&["10", "20", "30", "40"]);
    assert_eq!(scalar_result(&a, K::Median), json!(25));
    assert_eq!(scalar_result(&a, K::Percentile(95.0)), json!(38.5));
    let b = numbers(&["1", "1", "3", "4", "5"]);
    assert_eq!(scalar_result(&b, K::Median), json!(3));
    assert_eq!(scalar_result(&b, K::Percentile(90.0)), json!(4.6));
}

#[test]
fn numeric_analyses_skip_non_numbers() {
    let s = numbers(&["2", "4", "\"100\"", "4", "4", "true", "5", "5", "[1000]", "7", "null", "9"]);
    assert_eq!(scalar_result(&s, K::Count), json!(12));
    assert_eq!(scalar_result(&s, K::Sum), json!(40));
    assert_eq!(scalar_result(&s, K::Minimum), json!(2));
    assert_eq!(scalar_result(&s, K::Maximum), json!(9));
    assert_eq!(scalar_result(&s, K::Average), json!(5));
    assert_eq!(scalar_result(&s, K::StandardDeviation), json!(2));
    assert_eq!(scalar_result(&s, K::Median), json!(4.5));
    let f = numbers(&["0.1", "0.2", "1"]);
    assert_eq!(scalar_result(&f, K::Sum), json!(1.3));
    assert_eq!(scalar_result(&f, K::Minimum), json!(0.1));
    let big = numbers(&["9007199254740993", "1"]);
    assert_eq!(scalar_result(&big, K::Sum), json!(9007199254740994i64));
    let over = numbers(&["9223372036854775807", "9223372036854775807"]);
    // past i64 the sum is an f64 (§2.2)
    assert_eq!(scalar_result(&over, K::Sum).as_f64(), Some(18446744073709551614.0));
    assert!(scalar_result(&over, K::Sum).is_f64());
}

#[test]
fn empty_results() {
    let s = numbers(&["\"a\"", "null"]);
    assert_eq!(scalar_result(&s, K::Sum), json!(0));
    for k in
        [K::Minimum, K::Maximum, K::Average, K::Median, K::Percentile(10.0), K::StandardDeviation]
    {
        assert_eq!(scalar_result(&s, k), Value::Null, "{k:?}");
    }
    let c = common(1);
    let r = range(1);
    let cases = [
        (K::Count, json!(0)),
        (K::CountUnique, json!(0)),
        (K::Sum, json!(0)),
        (K::Average, Value::Null),
        (K::SelectUnique, json!([])),
    ];
    for (k, want) in cases {
        assert_eq!(run1(None, &an(k, Some("x")), &c, r, None), json!({ "result": want }));
    }
    let b = daily(2);
    let got = run1(None, &an(K::Count, None), &c, range(2), Some(&b));
    assert_eq!(
        got,
        json!({"result": [
            {"timeframe": {"start": "2024-06-10T00:00:00.000Z", "end": "2024-06-11T00:00:00.000Z"}, "value": 0},
            {"timeframe": {"start": "2024-06-11T00:00:00.000Z", "end": "2024-06-12T00:00:00.000Z"}, "value": 0}]})
    );
    let mut g = common(2);
    g.group_by = vec![gb("a")];
    assert_eq!(run1(None, &an(K::Count, None), &g, range(2), None), json!({"result": []}));
    let got = run1(None, &an(K::Count, None), &g, range(2), Some(&b));
    assert_eq!(got["result"][1]["value"], json!([]));
}

#[test]
fn count_unique_and_select_unique_are_type_strict_and_look_into_lists() {
    let s = numbers(&[
        r#"["a", "b"]"#,
        r#"["b"]"#,
        r#""a""#,
        "1",
        "1.0",
        r#""1""#,
        "null",
        r#"[null, true]"#,
        "false",
        r#""2024-06-10T08:00:00+02:00""#,
        r#"["2024-06-10T06:00:00.000Z", 2.5]"#,
    ]);
    assert_eq!(scalar_result(&s, K::CountUnique), json!(8));
    assert_eq!(
        scalar_result(&s, K::SelectUnique),
        json!([1, 2.5, "1", "a", "b", false, true, "2024-06-10T06:00:00.000Z"])
    );
    let strs = numbers(&[r#""b""#, r#""a""#, r#""b""#]);
    assert_eq!(scalar_result(&strs, K::CountUnique), json!(2));
    assert_eq!(scalar_result(&strs, K::SelectUnique), json!(["a", "b"]));
    // a filtered selection (not whole segments) counts the same way
    let mut c = common(1);
    c.filters = vec![cmp("x", CmpOp::Ne, json!("a"))];
    let got = run1(Some(&strs), &an(K::CountUnique, Some("x")), &c, range(1), None);
    assert_eq!(got["result"], json!(1));
}

/// keen-semantics §2.4: sum with a daily interval and group_by, zero-filled.
#[test]
fn spec_sum_interval_group_by_example() {
    let evs = vec![
        ev(DAY0 + HOUR, r#""price": 300, "device": {"type": "desktop"}"#),
        ev(DAY0 + 2 * HOUR, r#""price": "42", "device": {"type": "desktop"}"#),
        ev(DAY0 + 3 * HOUR, r#""price": 10.5, "device": {"type": "desktop"}"#),
        ev(DAY0 + DAY + HOUR, r#""price": 98, "device": {"type": "desktop"}"#),
        ev(DAY0 + DAY + 2 * HOUR, r#""price": 12.25, "device": {"type": "mobile"}"#),
        ev(DAY0 + 2 * DAY, r#""price": 1000, "device": {"type": "mobile"}"#),
    ];
    let snap = snapshot_of(&evs, 2, 4);
    let mut c = common(2);
    c.group_by = vec![gb("device.type")];
    let b = daily(2);
    let got = run1(Some(&snap), &an(K::Sum, Some("price")), &c, range(2), Some(&b));
    let want = json!({"result": [
      {"timeframe": {"start": "2024-06-10T00:00:00.000Z", "end": "2024-06-11T00:00:00.000Z"},
       "value": [{"device.type": "desktop", "result": 310.5}, {"device.type": "mobile", "result": 0}]},
      {"timeframe": {"start": "2024-06-11T00:00:00.000Z", "end": "2024-06-12T00:00:00.000Z"},
       "value": [{"device.type": "desktop", "result": 98}, {"device.type": "mobile", "result": 12.25}]}]});
    assert_eq!(got, want);
    assert_eq!(got.to_string(), want.to_string(), "member order");
    // average zero-fills with null
    let got = run1(Some(&snap), &an(K::Average, Some("price")), &c, range(2), Some(&b));
    assert_eq!(got["result"][0]["value"][1], json!({"device.type": "mobile", "result": null}));
    // without interval: the plain group list
    let got = run1(Some(&snap), &an(K::Sum, Some("price")), &c, range(2), None);
    assert_eq!(
        got,
        json!({"result": [{"device.type": "desktop", "result": 408.5}, {"device.type": "mobile", "result": 12.25}]})
    );
    // intervals without group_by
    let got = run1(Some(&snap), &an(K::Count, None), &common(3), range(3), Some(&daily(3)));
    let values: Vec<&Value> =
        got["result"].as_array().unwrap().iter().map(|b| &b["value"]).collect();
    assert_eq!(values, [&json!(3), &json!(2), &json!(1)]);
}

#[test]
fn bucket_bounds_print_in_the_query_timezone() {
    let snap = numbers(&["1"]);
    let mut c = common(1);
    c.timezone = TimeZone::Fixed(3600);
    let b = [tally_query::TimeRange { start_ms: DAY0 - HOUR, end_ms: DAY0 + DAY - HOUR }];
    let got = run1(Some(&snap), &an(K::Count, None), &c, b[0], Some(&b));
    assert_eq!(
        got["result"][0]["timeframe"],
        json!({"start": "2024-06-10T00:00:00.000+01:00", "end": "2024-06-11T00:00:00.000+01:00"})
    );
}

/// keen-semantics §2.6: the four multi_analysis shapes.
#[test]
fn spec_multi_analysis_shapes() {
    let mut evs = Vec::new();
    for i in 0..8 {
        let price = match i {
            0 => r#", "price": 100"#,
            1 => r#", "price": 200"#,
            2 => r#", "price": 14.49"#,
            _ => "",
        };
        evs.push(ev(DAY0 + i * HOUR, &format!(r#""user": "u{i}", "item": {{"id": 2}}{price}"#)));
    }
    let snap = snapshot_of(&evs, 3, 5);
    let gross = an(K::Sum, Some("price"));
    let buyers = an(K::CountUnique, Some("user"));
    let analyses = [(Some("gross"), &gross), (Some("buyers"), &buyers)];
    let c = common(1);
    let plain = run_analysis(Some(&snap), &analyses, &c, range(1), None).unwrap();
    assert_eq!(plain.to_string(), r#"{"result":{"gross":314.49,"buyers":8}}"#);
    let mut g = common(1);
    g.group_by = vec![gb("item.id")];
    let grouped = run_analysis(Some(&snap), &analyses, &g, range(1), None).unwrap();
    assert_eq!(grouped.to_string(), r#"{"result":[{"item.id":2,"gross":314.49,"buyers":8}]}"#);
    let b = [
        tally_query::TimeRange { start_ms: DAY0, end_ms: DAY0 + HOUR },
        tally_query::TimeRange { start_ms: DAY0 + HOUR, end_ms: DAY0 + DAY },
    ];
    let iv = run_analysis(Some(&snap), &analyses, &c, range(1), Some(&b)).unwrap();
    assert_eq!(iv["result"][0]["value"], json!({"gross": 100, "buyers": 1}));
    assert_eq!(iv["result"][1]["value"].to_string(), r#"{"gross":214.49,"buyers":7}"#);
    let both = run_analysis(Some(&snap), &analyses, &g, range(1), Some(&b)).unwrap();
    assert_eq!(both["result"][0]["value"], json!([{"item.id": 2, "gross": 100, "buyers": 1}]));
    // a label equal to a group_by property is refused
    let bad = [(Some("item.id"), &gross)];
    let err = run_analysis(Some(&snap), &bad, &g, range(1), None).unwrap_err();
    assert_eq!(err.code, QueryErrorCode::InvalidParameterError);
    // order_by a label
    let mut o = common(1);
    o.group_by = vec![gb("user")];
    o.order_by = vec![ob("gross", true)];
    o.limit = Some(2);
    let top = run_analysis(Some(&snap), &analyses, &o, range(1), None).unwrap();
    assert_eq!(
        top,
        json!({"result": [{"user": "u1", "gross": 200, "buyers": 1}, {"user": "u0", "gross": 100, "buyers": 1}]})
    );
    o.order_by = vec![ob("result", true)];
    let err = run_analysis(Some(&snap), &analyses, &o, range(1), None).unwrap_err();
    assert_eq!(err.code, QueryErrorCode::InvalidParameterError);
}

/// keen-semantics §6.1: two group_by paths, the null group, canonical order.
#[test]
fn spec_group_by_two_paths_example() {
    let mut evs = Vec::new();
    let mut t = DAY0;
    let mut add = |body: &str, n: usize| {
        for _ in 0..n {
            evs.push(ev(t, body));
            t += 1000;
        }
    };
    add(r#""signup": {"source": "blog", "plan": "free"}"#, 40);
    add(r#""signup": {"source": "ads", "plan": "pro"}"#, 12);
    add(r#""signup": {"source": "ads"}"#, 2);
    add(r#""signup": {"source": "ads", "plan": null}"#, 1);
    let snap = snapshot_of(&evs, 16, 20);
    let mut c = common(1);
    c.group_by = vec![gb("signup.source"), gb("signup.plan")];
    let got = run1(Some(&snap), &an(K::Count, None), &c, range(1), None);
    let want = json!({"result": [{"signup.source": "ads",  "signup.plan": "pro",  "result": 12},
            {"signup.source": "ads",  "signup.plan": null,   "result": 3},
            {"signup.source": "blog", "signup.plan": "free", "result": 40}]});
    assert_eq!(got.to_string(), want.to_string());
    // single path: index cardinalities and the row path agree
    let mut one = common(1);
    one.group_by = vec![gb("signup.plan")];
    let got = run1(Some(&snap), &an(K::Count, None), &one, range(1), None);
    assert_eq!(
        got,
        json!({"result": [{"signup.plan": "free", "result": 40}, {"signup.plan": "pro", "result": 12}, {"signup.plan": null, "result": 3}]})
    );
    let both =
        [(Some("n"), &an(K::Count, None)), (Some("u"), &an(K::CountUnique, Some("signup.source")))];
    let got = run_analysis(Some(&snap), &both, &one, range(1), None).unwrap();
    assert_eq!(got["result"][2], json!({"signup.plan": null, "n": 3, "u": 1}));
}

/// keen-semantics §6.3: top referrers except google.com.
#[test]
fn spec_order_by_limit_example() {
    let mut evs = Vec::new();
    let mut t = DAY0;
    for (domain, n) in [
        ("google.com", 1000),
        ("bing.com", 913),
        ("news.ycombinator.com", 402),
        ("duckduckgo.com", 402),
        ("example.org", 7),
    ] {
        for _ in 0..n {
            evs.push(ev(t, &format!(r#""referrer": {{"domain": "{domain}"}}"#)));
            t += 10;
        }
    }
    for _ in 0..50 {
        evs.push(ev(t, r#""referrer": {"path": "/"}"#));
        t += 10;
    }
    let snap = snapshot_of(&evs, 700, 1500);
    let mut c = common(1);
    c.group_by = vec![gb("referrer.domain")];
    c.filters = vec![
        Filter::Exists { property: "referrer.domain".into(), exists: true },
        cmp("referrer.domain", CmpOp::Ne, json!("google.com")),
    ];
    c.order_by = vec![ob("result", true)];
    c.limit = Some(3);
    let got = run1(Some(&snap), &an(K::Count, None), &c, range(1), None);
    let want = json!({"result": [{"referrer.domain": "bing.com", "result": 913},
            {"referrer.domain": "duckduckgo.com", "result": 402},
            {"referrer.domain": "news.ycombinator.com", "result": 402}]});
    assert_eq!(got, want);
    // ascending: ties still by group value ascending
    c.order_by = vec![ob("result", false)];
    let got = run1(Some(&snap), &an(K::Count, None), &c, range(1), None);
    assert_eq!(got["result"][0], json!({"referrer.domain": "example.org", "result": 7}));
    assert_eq!(got["result"][1]["referrer.domain"], json!("duckduckgo.com"));
    // order by the group property, descending
    c.order_by = vec![ob("referrer.domain", true)];
    let got = run1(Some(&snap), &an(K::Count, None), &c, range(1), None);
    assert_eq!(got["result"][0]["referrer.domain"], json!("news.ycombinator.com"));
    // an unknown order_by property
    c.order_by = vec![ob("nope", true)];
    let err =
        run_analysis(Some(&snap), &[(None, &an(K::Count, None))], &c, range(1), None).unwrap_err();
    assert_eq!(err.code, QueryErrorCode::InvalidParameterError);
}

#[test]
fn null_results_and_null_groups_sort_last_both_ways() {
    let evs = vec![
        ev(DAY0, r#""g": "a", "x": 5"#),
        ev(DAY0 + 1, r#""g": "b", "x": "no""#),
        ev(DAY0 + 2, r#""g": "c", "x": 1"#),
        ev(DAY0 + 3, r#""x": 3"#),
    ];
    let snap = snapshot_of(&evs, 2, 3);
    let mut c = common(1);
    c.group_by = vec![gb("g")];
    for desc in [false, true] {
        c.order_by = vec![ob("result", desc)];
        let got = run1(Some(&snap), &an(K::Average, Some("x")), &c, range(1), None);
        let groups: Vec<Value> =
            got["result"].as_array().unwrap().iter().map(|g| g["g"].clone()).collect();
        let want = if desc { json!(["a", null, "c", "b"]) } else { json!(["c", null, "a", "b"]) };
        assert_eq!(Value::Array(groups), want, "desc {desc}");
        c.order_by = vec![ob("g", desc)];
        let got = run1(Some(&snap), &an(K::Average, Some("x")), &c, range(1), None);
        let last = got["result"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(last, json!({"g": null, "result": 3}), "desc {desc}");
    }
}

#[test]
fn group_values_are_type_strict_lists_whole_datetimes_iso() {
    let evs = vec![
        ev(DAY0, r#""v": 42"#),
        ev(DAY0 + 1, r#""v": "42""#),
        ev(DAY0 + 2, r#""v": 42.0"#),
        ev(DAY0 + 3, r#""v": ["a", "b"]"#),
        ev(DAY0 + 4, r#""v": ["a", "b"]"#),
        ev(DAY0 + 5, r#""v": ["a"]"#),
        ev(DAY0 + 6, r#""v": true"#),
        ev(DAY0 + 7, r#""v": "2024-06-10T02:00:00+02:00""#),
        ev(DAY0 + 8, r#""v": 4.2"#),
        ev(DAY0 + 9, r#""v": "4.2.1""#),
        ev(DAY0 + 10, r#""w": 1"#),
    ];
    let snap = snapshot_of(&evs, 3, 4);
    let mut c = common(1);
    c.group_by = vec![gb("v")];
    let got = run1(Some(&snap), &an(K::Count, None), &c, range(1), None);
    assert_eq!(
        got,
        json!({"result": [
            {"v": 4.2, "result": 1}, {"v": 42, "result": 2},
            {"v": "4.2.1", "result": 1}, {"v": "42", "result": 1},
            {"v": ["a"], "result": 1}, {"v": ["a", "b"], "result": 2},
            {"v": true, "result": 1}, {"v": "2024-06-10T00:00:00.000Z", "result": 1},
            {"v": null, "result": 1}]})
    );
}

#[test]
fn numeric_ranges_and_buckets() {
    let vals = ["5", "12", "18", "29", "30", "45", "\"x\"", "null", "-3"];
    let s = numbers(&vals);
    let mut c = common(1);
    c.group_by = vec![GroupBy::Buckets { property: "x".into(), size: 10.0, offset: 0.0 }];
    let got = run1(Some(&s), &an(K::Count, None), &c, range(1), None);
    assert_eq!(
        got,
        json!({"result": [
            {"x": {"from": -10, "to": 0}, "result": 1}, {"x": {"from": 0, "to": 10}, "result": 1},
            {"x": {"from": 10, "to": 20}, "result": 2}, {"x": {"from": 20, "to": 30}, "result": 1},
            {"x": {"from": 30, "to": 40}, "result": 1}, {"x": {"from": 40, "to": 50}, "result": 1},
            {"x": null, "result": 2}]})
    );
    c.group_by = vec![GroupBy::Ranges {
        property: "x".into(),
        ranges: vec![(Some(18.0), Some(30.0)), (Some(30.0), None), (None, Some(20.0))],
    }];
    let got = run1(Some(&s), &an(K::Count, None), &c, range(1), None);
    assert_eq!(
        got,
        json!({"result": [
            {"x": {"to": 20}, "result": 4}, {"x": {"from": 18, "to": 30}, "result": 2},
            {"x": {"from": 30}, "result": 2}, {"x": null, "result": 2}]})
    );
    // a range group and a property group together
    let evs = vec![
        ev(DAY0, r#""x": 19, "k": "a""#),
        ev(DAY0 + 1, r#""x": 25, "k": "a""#),
        ev(DAY0 + 2, r#""x": 1, "k": "b""#),
    ];
    let s = snapshot_of(&evs, 2, 10);
    c.group_by.push(gb("k"));
    let got = run1(Some(&s), &an(K::Sum, Some("x")), &c, range(1), None);
    assert_eq!(
        got,
        json!({"result": [
            {"x": {"to": 20}, "k": "a", "result": 19}, {"x": {"to": 20}, "k": "b", "result": 1},
            {"x": {"from": 18, "to": 30}, "k": "a", "result": 44}]})
    );
}

#[test]
fn group_by_a_property_named_result_is_refused() {
    let mut c = common(1);
    c.group_by = vec![gb("result")];
    let err = run_analysis(None, &[(None, &an(K::Count, None))], &c, range(1), None).unwrap_err();
    assert_eq!(err.code, QueryErrorCode::InvalidParameterError);
}

#[test]
fn order_and_limit_apply_inside_each_bucket() {
    let evs = vec![
        ev(DAY0, r#""g": "a""#),
        ev(DAY0 + 1, r#""g": "b""#),
        ev(DAY0 + 2, r#""g": "b""#),
        ev(DAY0 + DAY, r#""g": "a""#),
        ev(DAY0 + DAY + 1, r#""g": "a""#),
        ev(DAY0 + DAY + 2, r#""g": "c""#),
    ];
    let snap = snapshot_of(&evs, 2, 4);
    let mut c = common(2);
    c.group_by = vec![gb("g")];
    c.order_by = vec![ob("result", true)];
    c.limit = Some(2);
    let got = run1(Some(&snap), &an(K::Count, None), &c, range(2), Some(&daily(2)));
    assert_eq!(
        got["result"][0]["value"],
        json!([{"g": "b", "result": 2}, {"g": "a", "result": 1}])
    );
    assert_eq!(
        got["result"][1]["value"],
        json!([{"g": "a", "result": 2}, {"g": "c", "result": 1}])
    );
    c.order_by = Vec::new();
    c.limit = None;
    let got = run1(Some(&snap), &an(K::Count, None), &c, range(2), Some(&daily(2)));
    assert_eq!(
        got["result"][0]["value"],
        json!([{"g": "a", "result": 1}, {"g": "b", "result": 2}, {"g": "c", "result": 0}])
    );
}

#[test]
fn metadata_when_asked() {
    let snap = numbers(&["1", "2"]);
    let mut c = common(1);
    c.include_metadata = true;
    let got = run1(Some(&snap), &an(K::Count, None), &c, range(1), None);
    assert_eq!(got["result"], json!(2));
    assert_eq!(got["execution_metadata"]["events_scanned"], json!(2));
    assert!(got["execution_metadata"]["total_processing_time"].is_number());
}

/// Grouped counts from index bitmaps (few and many buckets, whole segments
/// and filtered ones) equal the row-by-row path a multi_analysis takes.
#[test]
fn index_counts_equal_row_counts_for_any_bucket_count() {
    let mut evs = Vec::new();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..2000i64 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let g = match state % 4 {
            0 => r#""g": "a", "#,
            1 => r#""g": "b", "#,
            2 => r#""g": true, "#,
            _ => "",
        };
        evs.push(ev(DAY0 + i * 180_000, &format!(r#"{g}"x": {}"#, state % 10)));
    }
    let snap = snapshot_of(&evs, 300, 700);
    let hours = 100;
    for n_buckets in [1i64, 10, 100] {
        let per = hours / n_buckets;
        let b: Vec<tally_query::TimeRange> = (0..n_buckets)
            .map(|k| tally_query::TimeRange {
                start_ms: DAY0 + k * per * HOUR,
                end_ms: DAY0 + (k + 1) * per * HOUR,
            })
            .collect();
        let r = tally_query::TimeRange { start_ms: DAY0, end_ms: DAY0 + hours * HOUR };
        for filtered in [false, true] {
            let mut c = common(5);
            c.group_by = vec![gb("g")];
            if filtered {
                c.filters = vec![cmp("x", CmpOp::Lt, json!(6))];
            }
            let fast = run1(Some(&snap), &an(K::Count, None), &c, r, Some(&b));
            let count = an(K::Count, None);
            let sum = an(K::Sum, Some("x"));
            let slow = run_analysis(
                Some(&snap),
                &[(Some("n"), &count), (Some("s"), &sum)],
                &c,
                r,
                Some(&b),
            )
            .unwrap();
            for (fb, sb) in
                fast["result"].as_array().unwrap().iter().zip(slow["result"].as_array().unwrap())
            {
                let f: Vec<(Value, Value)> = fb["value"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|g| (g["g"].clone(), g["result"].clone()))
                    .collect();
                let s: Vec<(Value, Value)> = sb["value"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|g| (g["g"].clone(), g["n"].clone()))
                    .collect();
                assert_eq!(f, s, "{n_buckets} buckets, filtered {filtered}");
                assert_eq!(f.len(), 4);
            }
        }
    }
}

/// Rows in a segment's deletion vector count nowhere: not in counts, not in
/// index shortcuts (grouped counts, distinct ids of whole segments).
#[test]
fn deleted_rows_are_left_out_everywhere() {
    let evs: Vec<String> = (0..8)
        .map(|i| ev(DAY0 + i * HOUR, &format!(r#""g": "{}", "x": {i}, "u": "u{}""#, i % 2, i % 4)))
        .collect();
    let snap = snapshot_of(&evs, 4, 4);
    // delete row 0 of every segment
    let segs: Vec<std::sync::Arc<tally_ingest::Segment>> = snap
        .segments()
        .iter()
        .map(|s| {
            let mut d = roaring::RoaringBitmap::new();
            d.insert(0);
            std::sync::Arc::new(s.with_deleted(d))
        })
        .collect();
    let n_segs = segs.len() as i64;
    assert!(n_segs >= 2);
    let del = tally_ingest::Snapshot::new(
        "c".into(),
        segs,
        std::sync::Arc::new(snap.schema().clone()),
        snap.dicts().clone(),
    );
    let c = common(1);
    let got = run1(Some(&del), &an(K::Count, None), &c, range(1), None);
    assert_eq!(got["result"], json!(8 - n_segs));
    // rows 0 and 4 (x = 0 and 4, g "0", u "u0") are gone
    assert_eq!(run1(Some(&del), &an(K::Sum, Some("x")), &c, range(1), None)["result"], json!(24));
    assert_eq!(
        run1(Some(&del), &an(K::CountUnique, Some("u")), &c, range(1), None)["result"],
        json!(3)
    );
    let mut g = common(1);
    g.group_by = vec![gb("g")];
    let got = run1(Some(&del), &an(K::Count, None), &g, range(1), None);
    assert_eq!(got, json!({"result": [{"g": "0", "result": 2}, {"g": "1", "result": 4}]}));
}
