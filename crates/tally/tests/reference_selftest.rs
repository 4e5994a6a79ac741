//! Self-test of the reference evaluator (tests/support/reference.rs)
//! against the worked examples of keen-semantics.md, with the spec's exact
//! expected output, and a property test that the generators
//! (tests/support/gen.rs) produce valid inputs on which the evaluator
//! never panics.

mod support;

use proptest::prelude::*;
use serde_json::{json, Value};
use support::gen;
use support::reference::evaluate;

/// 2024-06-12T14:35:20Z, a Wednesday: the "now" of §4.3's table.
const NOW: i64 = 1_718_202_920_000;

/// An event of collection `c` at `ts` with the properties of `body`.
fn ev(c: &str, ts: &str, body: Value) -> (String, Value) {
    let mut e = body;
    let obj = e.as_object_mut().expect("event body is an object");
    let keen = obj.entry("keen").or_insert_with(|| json!({}));
    keen.as_object_mut().expect("keen is an object").insert("timestamp".into(), json!(ts));
    (c.to_string(), gen::stored_form(&e))
}

fn run(events: &[(String, Value)], q: Value) -> Value {
    match evaluate(events, &q, NOW) {
        Ok(v) => v,
        Err(e) => panic!("query {q} failed: {e:?}"),
    }
}

fn result(events: &[(String, Value)], q: Value) -> Value {
    run(events, q)["result"].clone()
}

fn code(events: &[(String, Value)], q: Value) -> String {
    match evaluate(events, &q, NOW) {
        Ok(v) => panic!("query {q} should fail, got {v}"),
        Err(e) => e.code,
    }
}

/// `n` copies of an event.
fn times(n: usize, e: (String, Value)) -> Vec<(String, Value)> {
    vec![e; n]
}

// ---------------------------------------------------------------------------
// §2.2 definitions
// ---------------------------------------------------------------------------

fn values_events(vals: &[Value]) -> Vec<(String, Value)> {
    vals.iter().map(|v| ev("c", "2024-06-12T10:00:00.000Z", json!({ "x": v }))).collect()
}

fn pct(vals: &[Value], p: f64) -> Value {
    let q = json!({"analysis_type": "percentile", "event_collection": "c", "target_property": "x",
                   "percentile": p, "timeframe": "today"});
    result(&values_events(vals), q)
}

fn median(vals: &[Value]) -> Value {
    let q = json!({"analysis_type": "median", "event_collection": "c", "target_property": "x", "timeframe": "today"});
    result(&values_events(vals), q)
}

#[test]
fn percentile_examples_s2_2() {
    let a = [json!(10), json!(20), json!(30), json!(40)];
    assert_eq!(median(&a), json!(25));
    assert_eq!(pct(&a, 95.0), json!(38.5));
    let b = [json!(1), json!(1), json!(3), json!(4), json!(5)];
    assert_eq!(median(&b), json!(3));
    assert_eq!(pct(&b, 90.0), json!(4.6));
    // Order of input does not matter; non-numbers are skipped (§2.1).
    let c = [json!(40), json!("99"), json!(10), json!(null), json!(30), json!([5]), json!(20)];
    assert_eq!(median(&c), json!(25));
    assert_eq!(pct(&c, 100.0), json!(40));
    assert_eq!(pct(&c, 0.01), json!(10.003));
}

fn simple(kind: &str, vals: &[Value]) -> Value {
    let q = json!({"analysis_type": kind, "event_collection": "c", "target_property": "x", "timeframe": "today"});
    result(&values_events(vals), q)
}

#[test]
fn numeric_analyses_s2_2() {
    let v = [
        json!(2),
        json!(4),
        json!(4),
        json!(4),
        json!(5),
        json!(5),
        json!(7),
        json!(9),
        json!("100"),
        json!(true),
    ];
    assert_eq!(simple("minimum", &v), json!(2));
    assert_eq!(simple("maximum", &v), json!(9));
    assert_eq!(simple("sum", &v), json!(40));
    assert_eq!(simple("average", &v), json!(5));
    // Population standard deviation of 2,4,4,4,5,5,7,9 is exactly 2.
    assert_eq!(simple("standard_deviation", &v), json!(2));
    assert_eq!(simple("sum", &[json!(0.5), json!(1), json!(1.5)]), json!(3));
    assert_eq!(simple("average", &[json!(1), json!(2)]), json!(1.5));
    assert_eq!(simple("minimum", &[json!(2.5), json!(-3)]), json!(-3));
    // Integer sums are exact beyond 2^53 while they fit in i64 (§0).
    let big = [json!(9_007_199_254_740_993_i64), json!(2)];
    assert_eq!(simple("sum", &big), json!(9_007_199_254_740_995_i64));
    // Past i64 the sum is an f64.
    let huge = [json!(i64::MAX), json!(i64::MAX)];
    assert_eq!(simple("sum", &huge), json!(18_446_744_073_709_551_614.0_f64));
    // 42.0 is the number 42.
    assert_eq!(simple("maximum", &[json!(42.0)]), json!(42));
}

#[test]
fn count_unique_and_select_unique_s2_2() {
    // A list contributes each element: ["a","b"] and ["b"] → 2.
    assert_eq!(simple("count_unique", &[json!(["a", "b"]), json!(["b"])]), json!(2));
    // Type-strict: 1 and "1" are two values; 1 and 1.0 one. Null/missing not counted.
    let v = [json!(1), json!("1"), json!(1.0), json!(null), json!([null, 1])];
    assert_eq!(simple("count_unique", &v), json!(2));
    // select_unique: canonical order num < string < list < bool < datetime, no null;
    // datetimes normalised (§1.7).
    let v = [
        json!("b"),
        json!(true),
        json!("2024-06-12T12:00:00+02:00"),
        json!(10),
        json!(2.5),
        json!("a"),
        json!(false),
        json!(null),
        json!(["a", null, 3]),
        json!("2024-06-12"),
    ];
    assert_eq!(
        simple("select_unique", &v),
        json!([2.5, 3, 10, "2024-06-12", "a", "b", false, true, "2024-06-12T10:00:00.000Z"])
    );
}

#[test]
fn empty_results_s2_3() {
    let none: Vec<(String, Value)> = Vec::new();
    for (kind, empty) in [
        ("count", json!(0)),
        ("count_unique", json!(0)),
        ("sum", json!(0)),
        ("minimum", json!(null)),
        ("maximum", json!(null)),
        ("average", json!(null)),
        ("median", json!(null)),
        ("standard_deviation", json!(null)),
        ("select_unique", json!([])),
    ] {
        let q = json!({"analysis_type": kind, "event_collection": "never", "target_property": "x", "timeframe": "today"});
        assert_eq!(run(&none, q), json!({ "result": empty }), "{kind}");
    }
    let q = json!({"analysis_type": "percentile", "event_collection": "c", "target_property": "x",
                   "percentile": 50, "timeframe": "today"});
    assert_eq!(run(&values_events(&[json!("a")]), q), json!({"result": null}));
    let q =
        json!({"analysis_type": "extraction", "event_collection": "never", "timeframe": "today"});
    assert_eq!(run(&none, q), json!({"result": []}));
}

// ---------------------------------------------------------------------------
// §2.4 shapes
// ---------------------------------------------------------------------------

#[test]
fn sum_interval_group_by_example_s2_4() {
    let events = vec![
        ev(
            "purchases",
            "2024-06-10T09:00:00.000Z",
            json!({"price": 300, "device": {"type": "desktop"}}),
        ),
        ev(
            "purchases",
            "2024-06-10T18:00:00.000Z",
            json!({"price": 10.5, "device": {"type": "desktop"}}),
        ),
        ev(
            "purchases",
            "2024-06-11T01:00:00.000Z",
            json!({"price": 98, "device": {"type": "desktop"}}),
        ),
        ev(
            "purchases",
            "2024-06-11T02:00:00.000Z",
            json!({"price": 12.25, "device": {"type": "mobile"}}),
        ),
        // outside the timeframe
        ev(
            "purchases",
            "2024-06-12T00:00:00.000Z",
            json!({"price": 1000, "device": {"type": "tablet"}}),
        ),
    ];
    let q = json!({"analysis_type": "sum", "event_collection": "purchases", "target_property": "price",
        "timeframe": {"start": "2024-06-10T00:00:00.000Z", "end": "2024-06-12T00:00:00.000Z"},
        "interval": "daily", "group_by": "device.type"});
    let expected = json!({"result": [
      {"timeframe": {"start": "2024-06-10T00:00:00.000Z", "end": "2024-06-11T00:00:00.000Z"},
       "value": [{"device.type": "desktop", "result": 310.5}, {"device.type": "mobile", "result": 0}]},
      {"timeframe": {"start": "2024-06-11T00:00:00.000Z", "end": "2024-06-12T00:00:00.000Z"},
       "value": [{"device.type": "desktop", "result": 98}, {"device.type": "mobile", "result": 12.25}]}]});
    assert_eq!(run(&events, q), expected);
}

#[test]
fn result_shapes_s2_4() {
    let events = vec![
        ev("p", "2024-06-12T01:00:00.000Z", json!({"item": {"id": 123}, "price": 200})),
        ev("p", "2024-06-12T02:00:00.000Z", json!({"item": {"id": 123}, "price": 40})),
    ];
    let base = json!({"analysis_type": "sum", "event_collection": "p", "target_property": "price",
                      "timeframe": {"start": "2024-06-12T00:00:00Z", "end": "2024-06-13T00:00:00Z"}});
    let with = |k: &str, v: Value| {
        let mut q = base.clone();
        q[k] = v;
        q
    };
    assert_eq!(run(&events, base.clone()), json!({"result": 240}));
    assert_eq!(
        run(&events, with("group_by", json!("item.id"))),
        json!({"result": [{"item.id": 123, "result": 240}]})
    );
    assert_eq!(
        run(&events, with("interval", json!("daily"))),
        json!({"result": [{"timeframe": {"start": "2024-06-12T00:00:00.000Z", "end": "2024-06-13T00:00:00.000Z"}, "value": 240}]})
    );
    let mut both = with("interval", json!("daily"));
    both["group_by"] = json!("item.id");
    assert_eq!(
        run(&events, both),
        json!({"result": [{"timeframe": {"start": "2024-06-12T00:00:00.000Z", "end": "2024-06-13T00:00:00.000Z"},
                           "value": [{"item.id": 123, "result": 240}]}]})
    );
}

// ---------------------------------------------------------------------------
// §2.5 funnel
// ---------------------------------------------------------------------------

#[test]
fn funnel_example_s2_5() {
    let mut events = Vec::new();
    let at = "2024-06-11T10:00:00.000Z";
    for u in ["u1", "u2", "u3", "u4"] {
        events.push(ev("signups", at, json!({"user": {"id": u}})));
    }
    for u in ["u2", "u3", "u9", "u3"] {
        events.push(ev("purchases", at, json!({"user": {"id": u}})));
    }
    events.push(ev("purchases", at, json!({"user": {"id": null}})));
    events.push(ev("referrals", at, json!({"user": {"id": "u3"}})));
    events.push(ev("churned", at, json!({"user": {"id": "u2"}})));
    // Outside this_7_days: ignored.
    events.push(ev("churned", "2024-05-01T00:00:00.000Z", json!({"user": {"id": "u3"}})));
    let q = json!({"analysis_type": "funnel", "timeframe": "this_7_days", "steps": [
        {"event_collection": "signups", "actor_property": "user.id"},
        {"event_collection": "purchases", "actor_property": "user.id", "with_actors": true},
        {"event_collection": "referrals", "actor_property": "user.id", "optional": true},
        {"event_collection": "churned", "actor_property": "user.id", "inverted": true}]});
    let expected = json!({"result": [4, 2, 1, 1],
     "actors": [null, ["u2", "u3"], null, null],
     "steps": [{"event_collection": "signups",   "actor_property": "user.id", "timeframe": "this_7_days", "timezone": "UTC", "filters": [], "optional": false, "inverted": false, "with_actors": false},
               {"event_collection": "purchases", "actor_property": "user.id", "timeframe": "this_7_days", "timezone": "UTC", "filters": [], "optional": false, "inverted": false, "with_actors": true},
               {"event_collection": "referrals", "actor_property": "user.id", "timeframe": "this_7_days", "timezone": "UTC", "filters": [], "optional": true,  "inverted": false, "with_actors": false},
               {"event_collection": "churned",   "actor_property": "user.id", "timeframe": "this_7_days", "timezone": "UTC", "filters": [], "optional": false, "inverted": true,  "with_actors": false}]});
    assert_eq!(run(&events, q.clone()), expected);

    // Without with_actors there is no `actors` member; a step's own
    // timeframe overrides the top-level one.
    let mut q2 = q.clone();
    q2["steps"][1]["with_actors"] = json!(false);
    q2["steps"][3]["timeframe"] = json!("this_2_months");
    let out = run(&events, q2);
    assert_eq!(out["result"], json!([4, 2, 1, 0]));
    assert!(out.get("actors").is_none());
    assert_eq!(out["steps"][3]["timeframe"], json!("this_2_months"));

    // Step 0 may be neither optional nor inverted.
    let mut bad = q.clone();
    bad["steps"][0]["optional"] = json!(true);
    assert_eq!(code(&events, bad), "InvalidParameterError");
    let mut bad = q.clone();
    bad["steps"][2].as_object_mut().unwrap().remove("actor_property");
    assert_eq!(code(&events, bad), "MissingParameterError");
    let mut bad = q;
    bad.as_object_mut().unwrap().remove("timeframe");
    assert_eq!(code(&events, bad), "TimeframeDefinitionError");
}

// ---------------------------------------------------------------------------
// §2.6 multi-analysis
// ---------------------------------------------------------------------------

#[test]
fn multi_analysis_shapes_s2_6() {
    let mut events = Vec::new();
    let prices = [100, 100, 100, 14];
    for (i, p) in prices.iter().enumerate() {
        events.push(ev(
            "p",
            "2024-06-12T01:00:00.000Z",
            json!({"item": {"id": 2}, "price": p, "user": format!("u{i}")}),
        ));
    }
    events.push(ev(
        "p",
        "2024-06-12T01:00:00.000Z",
        json!({"item": {"id": 2}, "price": 0.49, "user": "u4"}),
    ));
    for i in 5..8 {
        events.push(ev(
            "p",
            "2024-06-12T01:00:00.000Z",
            json!({"item": {"id": 2}, "user": format!("u{i}")}),
        ));
    }
    let q = json!({"analysis_type": "multi_analysis", "event_collection": "p",
        "timeframe": {"start": "2024-06-12T00:00:00Z", "end": "2024-06-13T00:00:00Z"},
        "analyses": {"gross": {"analysis_type": "sum", "target_property": "price"},
                     "buyers": {"analysis_type": "count_unique", "target_property": "user"}}});
    assert_eq!(run(&events, q.clone()), json!({"result": {"gross": 314.49, "buyers": 8}}));
    let mut g = q.clone();
    g["group_by"] = json!("item.id");
    assert_eq!(
        run(&events, g.clone()),
        json!({"result": [{"item.id": 2, "gross": 314.49, "buyers": 8}]})
    );
    let mut i = q.clone();
    i["interval"] = json!("daily");
    assert_eq!(
        run(&events, i),
        json!({"result": [{"timeframe": {"start": "2024-06-12T00:00:00.000Z", "end": "2024-06-13T00:00:00.000Z"},
                           "value": {"gross": 314.49, "buyers": 8}}]})
    );
    let mut b = g.clone();
    b["interval"] = json!("daily");
    assert_eq!(
        run(&events, b),
        json!({"result": [{"timeframe": {"start": "2024-06-12T00:00:00.000Z", "end": "2024-06-13T00:00:00.000Z"},
                           "value": [{"item.id": 2, "gross": 314.49, "buyers": 8}]}]})
    );
    // order_by a label works; "result" does not; a label may not be a group name.
    let mut o = g.clone();
    o["order_by"] = json!({"property_name": "gross", "direction": "DESC"});
    assert_eq!(run(&events, o.clone())["result"][0]["gross"], json!(314.49));
    o["order_by"] = json!("result");
    assert_eq!(code(&events, o), "InvalidParameterError");
    let mut clash = g;
    clash["analyses"]["item.id"] = json!({"analysis_type": "count"});
    assert_eq!(code(&events, clash), "InvalidParameterError");
    let mut sub = q;
    sub["analyses"]["f"] = json!({"analysis_type": "funnel"});
    assert_eq!(code(&events, sub), "InvalidParameterError");
}

// ---------------------------------------------------------------------------
// §3.2 filter operators: one test per row of the table
// ---------------------------------------------------------------------------

/// Events of every kind for the filter table, tagged by `k`.
fn filter_events() -> Vec<(String, Value)> {
    let at = "2024-06-12T10:00:00.000Z";
    let mk = |k: &str, v: Option<Value>| {
        let mut b = json!({ "k": k });
        if let Some(v) = v {
            b["v"] = v;
        }
        ev("c", at, b)
    };
    vec![
        mk("str", Some(json!("abc"))),
        mk("str42", Some(json!("42"))),
        mk("num", Some(json!(42))),
        mk("float", Some(json!(2.5))),
        mk("bool", Some(json!(true))),
        mk("dt", Some(json!("2024-06-12T10:00:00.000Z"))),
        mk("list", Some(json!(["abc", 42, null]))),
        mk("empty", Some(json!([]))),
        mk("null", Some(Value::Null)),
        mk("missing", None),
    ]
}

/// The `k` tags of the events a filter on `v` matches, sorted.
fn hits(op: &str, value: Value) -> Vec<String> {
    hits_f(json!({"property_name": "v", "operator": op, "property_value": value}))
}

fn hits_f(filter: Value) -> Vec<String> {
    let q = json!({"analysis_type": "select_unique", "event_collection": "c", "target_property": "k",
                   "timeframe": "today", "filters": [filter]});
    let r = result(&filter_events(), q);
    r.as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
}

fn tags(s: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = s.iter().map(|x| x.to_string()).collect();
    v.sort();
    v
}

#[test]
fn filter_eq_s3_2() {
    assert_eq!(hits("eq", json!(42)), tags(&["list", "num"]));
    assert_eq!(hits("eq", json!(42.0)), tags(&["list", "num"]));
    assert_eq!(hits("eq", json!("42")), tags(&["str42"]));
    assert_eq!(hits("eq", json!("abc")), tags(&["list", "str"]));
    assert_eq!(hits("eq", json!(true)), tags(&["bool"]));
    // The datetime bridge: a string that parses as ISO-8601 equals the instant.
    assert_eq!(hits("eq", json!("2024-06-12T12:00:00+02:00")), tags(&["dt"]));
    assert_eq!(hits("eq", json!("2024-06-12T10:00:00")), tags(&["dt"]));
    // eq null matches exactly the missing/null events (not a list's null element).
    assert_eq!(hits("eq", Value::Null), tags(&["missing", "null"]));
    // An array value matches a list equal element for element.
    assert_eq!(hits("eq", json!(["abc", 42, null])), tags(&["list"]));
    assert_eq!(hits("eq", json!([])), tags(&["empty"]));
    assert_eq!(hits("eq", json!(["abc"])), tags(&[]));
}

#[test]
fn filter_ne_s3_2() {
    assert_eq!(
        hits("ne", json!(42)),
        tags(&["bool", "dt", "empty", "float", "missing", "null", "str", "str42"])
    );
    assert_eq!(
        hits("ne", json!("abc")),
        tags(&["bool", "dt", "empty", "float", "missing", "null", "num", "str42"])
    );
    // ne null matches every present non-null value.
    assert_eq!(
        hits("ne", Value::Null),
        tags(&["bool", "dt", "empty", "float", "list", "num", "str", "str42"])
    );
}

#[test]
fn filter_order_comparisons_s3_2() {
    assert_eq!(hits("lt", json!(42)), tags(&["float"]));
    assert_eq!(hits("lte", json!(42)), tags(&["float", "list", "num"]));
    assert_eq!(hits("gt", json!(2.5)), tags(&["list", "num"]));
    assert_eq!(hits("gte", json!(2.5)), tags(&["float", "list", "num"]));
    // Strings by code point, only against strings ("42" < "abc").
    assert_eq!(hits("gt", json!("4")), tags(&["list", "str", "str42"]));
    assert_eq!(hits("lt", json!("abc")), tags(&["str42"]));
    // A date-time string against datetimes (and as a string against strings).
    assert_eq!(hits("gte", json!("2024-06-12T10:00:00Z")), tags(&["dt", "list", "str", "str42"]));
    assert_eq!(hits("lt", json!("2024-06-12T10:00:00.001Z")), tags(&["dt"]));
    // Booleans are never ordered; missing/null never match.
    assert_eq!(hits("gt", json!(-1000)), tags(&["float", "list", "num"]));
}

#[test]
fn filter_exists_s3_2() {
    assert_eq!(
        hits("exists", json!(true)),
        tags(&["bool", "dt", "empty", "float", "list", "num", "str", "str42"])
    );
    assert_eq!(hits("exists", json!(false)), tags(&["missing", "null"]));
}

#[test]
fn filter_in_s3_2() {
    assert_eq!(hits("in", json!([42, "abc"])), tags(&["list", "num", "str"]));
    assert_eq!(hits("in", json!(["42", false])), tags(&["str42"]));
    // The array contains null: missing/null match too (a list's null element does not).
    assert_eq!(hits("in", json!([null, 2.5])), tags(&["float", "missing", "null"]));
    assert_eq!(hits("in", json!(["2024-06-12T10:00:00Z"])), tags(&["dt"]));
}

#[test]
fn filter_contains_s3_2() {
    // Scalar: substring of a string value, case-sensitive; datetime never.
    assert_eq!(hits("contains", json!("b")), tags(&["str"]));
    assert_eq!(hits("contains", json!("B")), tags(&[]));
    assert_eq!(hits("contains", json!("2024")), tags(&[]));
    // List: membership (some element equal), not substring.
    assert_eq!(hits("contains", json!("abc")), tags(&["list", "str"]));
    assert_eq!(hits("contains", json!(42)), tags(&["list"]));
}

#[test]
fn filter_not_contains_s3_2() {
    assert_eq!(
        hits("not_contains", json!("b")),
        tags(&["bool", "dt", "empty", "float", "list", "missing", "null", "num", "str42"])
    );
    assert_eq!(
        hits("not_contains", json!(42)),
        tags(&["bool", "dt", "empty", "float", "missing", "null", "num", "str", "str42"])
    );
    // not_contains is always true on a datetime.
    assert!(hits("not_contains", json!("2024")).contains(&"dt".to_string()));
}

#[test]
fn filter_regex_s3_2() {
    assert_eq!(hits("regex", json!("^a")), tags(&["list", "str"]));
    assert_eq!(hits("regex", json!("B")), tags(&[]));
    assert_eq!(hits("regex", json!("(?i)B")), tags(&["list", "str"]));
    assert_eq!(hits("regex", json!("^[0-9]+$")), tags(&["str42"]));
    // Never a datetime, never a number.
    assert_eq!(hits("regex", json!("2024")), tags(&[]));
    assert_eq!(code(&filter_events(), regex_q("(")), "FilterDefinitionError");
    assert_eq!(code(&filter_events(), regex_q("(?=a)")), "FilterDefinitionError");
}

fn regex_q(p: &str) -> Value {
    json!({"analysis_type": "count", "event_collection": "c", "timeframe": "today",
           "filters": [{"property_name": "v", "operator": "regex", "property_value": p}]})
}

#[test]
fn filter_within_s3_2() {
    let at = "2024-06-12T10:00:00.000Z";
    let events = vec![
        ev("c", at, json!({"k": "oslo", "keen": {"location": {"coordinates": [10.75, 59.91]}}})),
        ev("c", at, json!({"k": "bergen", "keen": {"location": {"coordinates": [5.32, 60.39]}}})),
        ev("c", at, json!({"k": "none"})),
    ];
    let q = |d: f64| {
        json!({"analysis_type": "select_unique", "event_collection": "c", "target_property": "k", "timeframe": "today",
               "filters": [{"property_name": "keen.location.coordinates", "operator": "within",
                            "property_value": {"coordinates": [10.75, 59.91], "max_distance_miles": d}}]})
    };
    // Oslo–Bergen is about 190 miles.
    assert_eq!(result(&events, q(10.0)), json!(["oslo"]));
    assert_eq!(result(&events, q(250.0)), json!(["bergen", "oslo"]));
    assert_eq!(result(&events, q(150.0)), json!(["oslo"]));
    let mut bad = q(10.0);
    bad["filters"][0]["property_name"] = json!("location");
    assert_eq!(code(&events, bad), "InvalidPropertyNameForGeoFilter");
}

#[test]
fn filter_or_s3_2() {
    let f = json!({"operator": "or", "property_value": [
        {"property_name": "v", "operator": "eq", "property_value": true},
        {"operator": "or", "property_value": [
            {"property_name": "k", "operator": "in", "property_value": ["missing", "num"]}]}]});
    assert_eq!(hits_f(f), tags(&["bool", "missing", "num"]));
}

#[test]
fn filter_property_type_and_errors_s3_1() {
    let with_type = |op: &str, v: Value, t: &str| {
        hits_f(
            json!({"property_name": "v", "operator": op, "property_value": v, "property_type": t}),
        )
    };
    assert_eq!(with_type("eq", json!("42"), "Number"), tags(&["list", "num"]));
    assert_eq!(with_type("eq", json!("true"), "Boolean"), tags(&["bool"]));
    assert_eq!(with_type("eq", json!("2024-06-12T10:00:00Z"), "Datetime"), tags(&["dt"]));
    assert_eq!(with_type("eq", json!("42"), "String"), tags(&["str42"]));
    let events = filter_events();
    let q = |f: Value| json!({"analysis_type": "count", "event_collection": "c", "timeframe": "today", "filters": [f]});
    for f in [
        json!({"property_name": "v", "operator": "equals", "property_value": 1}),
        json!({"property_name": "v", "operator": "eq"}),
        json!({"operator": "eq", "property_value": 1}),
        json!({"property_name": "v", "operator": "eq", "property_value": {"a": 1}}),
        json!({"property_name": "v", "operator": "in", "property_value": []}),
        json!({"property_name": "v", "operator": "in", "property_value": 3}),
        json!({"property_name": "v", "operator": "exists", "property_value": "yes"}),
        json!({"property_name": "v", "operator": "gt", "property_value": true}),
        json!({"property_name": "v", "operator": "regex", "property_value": 3}),
        json!({"property_name": "v", "operator": "eq", "property_value": "x", "property_type": "Number"}),
        json!({"property_name": "v", "operator": "eq", "property_value": "x", "property_type": "Datetime"}),
        json!({"property_name": "keen.location.coordinates", "operator": "within", "property_value": [1, 2]}),
        json!("not an object"),
    ] {
        assert_eq!(code(&events, q(f.clone())), "FilterDefinitionError", "{f}");
    }
    let mut q2 = q(json!({"property_name": "v", "operator": "exists", "property_value": true}));
    q2["filters"] = json!({"property_name": "v"});
    assert_eq!(code(&events, q2), "FilterDefinitionError");
}

// ---------------------------------------------------------------------------
// §0 value typing, §1.6 flattening
// ---------------------------------------------------------------------------

#[test]
fn value_typing_s0_s1_6() {
    let at = "2024-06-12T10:00:00.000Z";
    let events = vec![
        ev(
            "c",
            at,
            json!({"user": {"id": 7, "address": {"city": "Oslo"}}, "tags": ["a", "b"], "ok": true, "gone": null, "e": {}}),
        ),
        ev("c", at, json!({"user": {"id": 7.0}, "tags": "a"})),
    ];
    let q = |kind: &str, t: &str| json!({"analysis_type": kind, "event_collection": "c", "target_property": t, "timeframe": "today"});
    assert_eq!(result(&events, q("count_unique", "user.id")), json!(1));
    assert_eq!(result(&events, q("select_unique", "user.address.city")), json!(["Oslo"]));
    // A path naming an object is missing; an empty object is no property.
    let cnt = |f: Value| {
        result(
            &events,
            json!({"analysis_type": "count", "event_collection": "c", "timeframe": "today", "filters": [f]}),
        )
    };
    assert_eq!(
        cnt(json!({"property_name": "user", "operator": "exists", "property_value": true})),
        json!(0)
    );
    assert_eq!(
        cnt(json!({"property_name": "e", "operator": "exists", "property_value": true})),
        json!(0)
    );
    assert_eq!(
        cnt(json!({"property_name": "gone", "operator": "exists", "property_value": false})),
        json!(2)
    );
    // Zoned date-time strings are datetimes; date-only or zone-less ones stay strings.
    let dts = vec![
        ev("d", at, json!({"w": "2024-06-12T10:00:00+0000"})),
        ev("d", at, json!({"w": "2024-06-12"})),
        ev("d", at, json!({"w": "2024-06-12T10:00:00"})),
    ];
    let q = json!({"analysis_type": "select_unique", "event_collection": "d", "target_property": "w", "timeframe": "today"});
    assert_eq!(
        result(&dts, q),
        json!(["2024-06-12", "2024-06-12T10:00:00", "2024-06-12T10:00:00.000Z"])
    );
}

// ---------------------------------------------------------------------------
// §4 timeframes
// ---------------------------------------------------------------------------

/// Resolves a timeframe by counting events at the instants around `start`
/// and `end`: asserts that exactly `start` and `end − 1 ms` are inside.
fn assert_window(tf: Value, tz: Value, start: &str, end: &str) {
    let s = support::reference::parse_timestamp(start).unwrap();
    let e = support::reference::parse_timestamp(end).unwrap();
    let fmt = support::reference::format_utc;
    let events = vec![
        ev("c", &fmt(s - 1), json!({"pos": "before"})),
        ev("c", &fmt(s), json!({"pos": "start"})),
        ev("c", &fmt(e - 1), json!({"pos": "last"})),
        ev("c", &fmt(e), json!({"pos": "end"})),
    ];
    let q =
        json!({"analysis_type": "count", "event_collection": "c", "timeframe": tf, "timezone": tz});
    assert_eq!(result(&events, q), json!(2), "{tf} in {tz}: count");
    let q = json!({"analysis_type": "select_unique", "event_collection": "c", "target_property": "pos",
                   "timeframe": tf, "timezone": tz});
    assert_eq!(
        result(&events, q),
        json!(["last", "start"]),
        "{tf} in {tz}: expected [{start}, {end})"
    );
}

#[test]
fn relative_timeframes_table_s4_3() {
    for (tf, s, e) in [
        ("this_hour", "2024-06-12T14:00Z", "2024-06-12T15:00Z"),
        ("previous_3_hours", "2024-06-12T11:00Z", "2024-06-12T14:00Z"),
        ("this_3_days", "2024-06-10T00:00Z", "2024-06-13T00:00Z"),
        ("previous_3_days", "2024-06-09T00:00Z", "2024-06-12T00:00Z"),
        ("today", "2024-06-12T00:00Z", "2024-06-13T00:00Z"),
        ("yesterday", "2024-06-11T00:00Z", "2024-06-12T00:00Z"),
        ("this_week", "2024-06-09T00:00Z", "2024-06-16T00:00Z"),
        ("previous_2_weeks", "2024-05-26T00:00Z", "2024-06-09T00:00Z"),
        ("this_month", "2024-06-01T00:00Z", "2024-07-01T00:00Z"),
        ("previous_2_months", "2024-04-01T00:00Z", "2024-06-01T00:00Z"),
        ("this_2_years", "2023-01-01T00:00Z", "2025-01-01T00:00Z"),
        // grammar (§4.2): singular/plural, legacy last_, N = 1 implied
        ("this_1_hours", "2024-06-12T14:00Z", "2024-06-12T15:00Z"),
        ("last_3_days", "2024-06-09T00:00Z", "2024-06-12T00:00Z"),
        ("previous_day", "2024-06-11T00:00Z", "2024-06-12T00:00Z"),
        ("this_5_minutes", "2024-06-12T14:31Z", "2024-06-12T14:36Z"),
        ("this_14_days", "2024-05-30T00:00Z", "2024-06-13T00:00Z"),
    ] {
        assert_window(json!(tf), json!("UTC"), s, e);
    }
}

#[test]
fn timezones_move_boundaries_s4_4() {
    // With "timezone": -28800, today = [2024-06-12T08:00Z, 2024-06-13T08:00Z).
    assert_window(json!("today"), json!(-28800), "2024-06-12T08:00Z", "2024-06-13T08:00Z");
    assert_window(json!("today"), json!("-28800"), "2024-06-12T08:00Z", "2024-06-13T08:00Z");
    assert_window(json!("today"), json!("-08:00"), "2024-06-12T08:00Z", "2024-06-13T08:00Z");
    // US/Pacific in June is -07:00.
    assert_window(json!("today"), json!("US/Pacific"), "2024-06-12T07:00Z", "2024-06-13T07:00Z");
    assert_window(
        json!("this_week"),
        json!("US/Pacific"),
        "2024-06-09T07:00Z",
        "2024-06-16T07:00Z",
    );
    // Asia/Kolkata: +05:30; hours are local hours.
    assert_window(
        json!("this_hour"),
        json!("Asia/Kolkata"),
        "2024-06-12T14:30Z",
        "2024-06-12T15:30Z",
    );
    assert_window(
        json!("this_month"),
        json!("Europe/London"),
        "2024-05-31T23:00Z",
        "2024-06-30T23:00Z",
    );
    // Hours are elapsed time across DST; days are local calendar days.
    let now_dst: i64 = support::reference::parse_timestamp("2024-03-10T12:00:00Z").unwrap();
    let events = vec![
        ev("c", "2024-03-09T08:00:00.000Z", json!({"p": "sat_start"})),
        ev("c", "2024-03-10T07:59:59.999Z", json!({"p": "sun_last"})),
        ev("c", "2024-03-10T08:00:00.000Z", json!({"p": "sun_start"})),
    ];
    let q = json!({"analysis_type": "select_unique", "event_collection": "c", "target_property": "p",
                   "timeframe": "previous_1_days", "timezone": "US/Pacific"});
    assert_eq!(evaluate(&events, &q, now_dst).unwrap()["result"], json!(["sat_start", "sun_last"]));
}

#[test]
fn absolute_timeframes_and_errors_s4_1() {
    // A missing zone means UTC whatever the query timezone.
    assert_window(
        json!({"start": "2024-06-01T00:00:00", "end": "2024-06-02T00:00:00.000Z"}),
        json!("US/Pacific"),
        "2024-06-01T00:00Z",
        "2024-06-02T00:00Z",
    );
    let events = Vec::new();
    for tf in [
        json!(null),
        json!({"start": "2024-06-02T00:00:00Z", "end": "2024-06-01T00:00:00Z"}),
        json!({"start": "2024-06-01T00:00:00Z", "end": "2024-06-01T00:00:00Z"}),
        json!({"start": "yesterday", "end": "2024-06-01T00:00:00Z"}),
        json!({"start": "2024-06-01T00:00:00Z"}),
        json!("this_0_days"),
        json!("this_7_fortnights"),
        json!("next_7_days"),
        json!("this_-1_days"),
        json!(7),
    ] {
        let q = json!({"analysis_type": "count", "event_collection": "c", "timeframe": tf});
        assert_eq!(code(&events, q), "TimeframeDefinitionError", "{tf}");
    }
    let q = json!({"analysis_type": "count", "event_collection": "c"});
    assert_eq!(code(&events, q), "TimeframeDefinitionError");
}

#[test]
fn pacific_dst_buckets_s4_4() {
    let q = json!({"analysis_type": "count", "event_collection": "c", "timezone": "US/Pacific", "interval": "daily",
                   "timeframe": {"start": "2024-03-09T00:00:00-08:00", "end": "2024-03-12T00:00:00-07:00"}});
    let events = vec![ev("c", "2024-03-10T08:30:00.000Z", json!({}))];
    assert_eq!(
        result(&events, q),
        json!([
            {"timeframe": {"start": "2024-03-09T00:00:00.000-08:00", "end": "2024-03-10T00:00:00.000-08:00"}, "value": 0},
            {"timeframe": {"start": "2024-03-10T00:00:00.000-08:00", "end": "2024-03-11T00:00:00.000-07:00"}, "value": 1},
            {"timeframe": {"start": "2024-03-11T00:00:00.000-07:00", "end": "2024-03-12T00:00:00.000-07:00"}, "value": 0}
        ])
    );
    // Europe/London in winter prints Z; in summer +01:00.
    let q = json!({"analysis_type": "count", "event_collection": "c", "timezone": "Europe/London", "interval": "daily",
                   "timeframe": {"start": "2024-03-30T00:00:00Z", "end": "2024-04-01T00:00:00+01:00"}});
    assert_eq!(
        result(&[], q),
        json!([
            {"timeframe": {"start": "2024-03-30T00:00:00.000Z", "end": "2024-03-31T00:00:00.000Z"}, "value": 0},
            {"timeframe": {"start": "2024-03-31T00:00:00.000Z", "end": "2024-04-01T00:00:00.000+01:00"}, "value": 0}
        ])
    );
}

// ---------------------------------------------------------------------------
// §5 intervals
// ---------------------------------------------------------------------------

fn bucket_starts(tf: Value, tz: Value, interval: &str) -> Vec<(String, String)> {
    let q = json!({"analysis_type": "count", "event_collection": "c", "timeframe": tf, "timezone": tz, "interval": interval});
    result(&[], q)
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["timeframe"]["start"].as_str().unwrap().to_string(),
                b["timeframe"]["end"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

#[test]
fn interval_boundaries_s5_2() {
    // Weekly over a month: clipped first/last buckets, splits on Sundays (June 2015).
    let tf = json!({"start": "2015-06-01T00:00:00Z", "end": "2015-07-01T00:00:00Z"});
    assert_eq!(
        bucket_starts(tf, json!("UTC"), "weekly"),
        pairs(&[
            ("2015-06-01T00:00:00.000Z", "2015-06-07T00:00:00.000Z"),
            ("2015-06-07T00:00:00.000Z", "2015-06-14T00:00:00.000Z"),
            ("2015-06-14T00:00:00.000Z", "2015-06-21T00:00:00.000Z"),
            ("2015-06-21T00:00:00.000Z", "2015-06-28T00:00:00.000Z"),
            ("2015-06-28T00:00:00.000Z", "2015-07-01T00:00:00.000Z"),
        ])
    );
    // every_N_months: start + k·N months, clamped to the month's last day.
    let tf = json!({"start": "2024-01-31T00:00:00Z", "end": "2024-04-15T00:00:00Z"});
    assert_eq!(
        bucket_starts(tf, json!("UTC"), "every_1_months"),
        pairs(&[
            ("2024-01-31T00:00:00.000Z", "2024-02-29T00:00:00.000Z"),
            ("2024-02-29T00:00:00.000Z", "2024-03-31T00:00:00.000Z"),
            ("2024-03-31T00:00:00.000Z", "2024-04-15T00:00:00.000Z"),
        ])
    );
    // every_N_days in the local calendar: 02:30 in the spring-forward gap moves to 03:30.
    let tf = json!({"start": "2024-03-09T02:30:00-08:00", "end": "2024-03-12T00:00:00Z"});
    assert_eq!(
        bucket_starts(tf, json!("US/Pacific"), "every_1_day"),
        pairs(&[
            ("2024-03-09T02:30:00.000-08:00", "2024-03-10T03:30:00.000-07:00"),
            ("2024-03-10T03:30:00.000-07:00", "2024-03-11T02:30:00.000-07:00"),
            ("2024-03-11T02:30:00.000-07:00", "2024-03-11T17:00:00.000-07:00"),
        ])
    );
    // Fall back: 01:30 happens twice, the earlier one is taken.
    let tf = json!({"start": "2024-11-02T01:30:00-07:00", "end": "2024-11-04T00:00:00Z"});
    assert_eq!(
        bucket_starts(tf, json!("US/Pacific"), "every_1_days"),
        pairs(&[
            ("2024-11-02T01:30:00.000-07:00", "2024-11-03T01:30:00.000-07:00"),
            ("2024-11-03T01:30:00.000-07:00", "2024-11-03T16:00:00.000-08:00"),
        ])
    );
    // every_N_hours is elapsed time across DST.
    let tf = json!({"start": "2024-03-10T00:00:00-08:00", "end": "2024-03-10T20:00:00-07:00"});
    assert_eq!(
        bucket_starts(tf, json!("US/Pacific"), "every_6_hours"),
        pairs(&[
            ("2024-03-10T00:00:00.000-08:00", "2024-03-10T07:00:00.000-07:00"),
            ("2024-03-10T07:00:00.000-07:00", "2024-03-10T13:00:00.000-07:00"),
            ("2024-03-10T13:00:00.000-07:00", "2024-03-10T19:00:00.000-07:00"),
            ("2024-03-10T19:00:00.000-07:00", "2024-03-10T20:00:00.000-07:00"),
        ])
    );
    // Named intervals split at calendar boundaries; hourly in a +05:30 zone at :30 UTC.
    let tf = json!({"start": "2024-06-12T10:00:00Z", "end": "2024-06-12T12:00:00Z"});
    assert_eq!(
        bucket_starts(tf, json!("Asia/Kolkata"), "hourly"),
        pairs(&[
            ("2024-06-12T15:30:00.000+05:30", "2024-06-12T16:00:00.000+05:30"),
            ("2024-06-12T16:00:00.000+05:30", "2024-06-12T17:00:00.000+05:30"),
            ("2024-06-12T17:00:00.000+05:30", "2024-06-12T17:30:00.000+05:30"),
        ])
    );
    // Monthly and yearly over a relative timeframe.
    assert_eq!(
        bucket_starts(json!("previous_2_months"), json!("UTC"), "monthly"),
        pairs(&[
            ("2024-04-01T00:00:00.000Z", "2024-05-01T00:00:00.000Z"),
            ("2024-05-01T00:00:00.000Z", "2024-06-01T00:00:00.000Z"),
        ])
    );
    assert_eq!(
        bucket_starts(json!("this_2_years"), json!("UTC"), "yearly"),
        pairs(&[
            ("2023-01-01T00:00:00.000Z", "2024-01-01T00:00:00.000Z"),
            ("2024-01-01T00:00:00.000Z", "2025-01-01T00:00:00.000Z"),
        ])
    );
}

#[test]
fn interval_errors_s5() {
    for iv in ["secondly", "every_0_days", "every_2_fortnights", "daily2"] {
        let q = json!({"analysis_type": "count", "event_collection": "c", "timeframe": "today", "interval": iv});
        assert_eq!(code(&[], q), "InvalidParameterError", "{iv}");
    }
    // previous_7_days minutely = 10,080 buckets > 10,000; hourly is fine.
    let q = json!({"analysis_type": "count", "event_collection": "c", "timeframe": "previous_7_days", "interval": "minutely"});
    assert_eq!(code(&[], q), "LimitExceededError");
    let q = json!({"analysis_type": "count", "event_collection": "c", "timeframe": "previous_6_days", "interval": "minutely"});
    assert_eq!(result(&[], q).as_array().unwrap().len(), 8640);
}

#[test]
fn zero_fill_s5_4() {
    let events = vec![
        ev("c", "2024-06-10T10:00:00.000Z", json!({"g": "x", "n": 4})),
        ev("c", "2024-06-11T10:00:00.000Z", json!({"g": "y", "n": 1})),
    ];
    let tf = json!({"start": "2024-06-10T00:00:00Z", "end": "2024-06-13T00:00:00Z"});
    let q = |kind: &str| {
        json!({"analysis_type": kind, "event_collection": "c", "target_property": "n", "timeframe": tf,
               "interval": "daily", "group_by": "g"})
    };
    let values = |kind: &str| -> Vec<Value> {
        result(&events, q(kind)).as_array().unwrap().iter().map(|b| b["value"].clone()).collect()
    };
    assert_eq!(
        values("count"),
        vec![
            json!([{"g": "x", "result": 1}, {"g": "y", "result": 0}]),
            json!([{"g": "x", "result": 0}, {"g": "y", "result": 1}]),
            json!([{"g": "x", "result": 0}, {"g": "y", "result": 0}]),
        ]
    );
    assert_eq!(
        values("average")[2],
        json!([{"g": "x", "result": null}, {"g": "y", "result": null}])
    );
    assert_eq!(
        values("select_unique")[0],
        json!([{"g": "x", "result": [4]}, {"g": "y", "result": []}])
    );
    let mut plain = q("sum");
    plain.as_object_mut().unwrap().remove("group_by");
    let vals: Vec<Value> =
        result(&events, plain).as_array().unwrap().iter().map(|b| b["value"].clone()).collect();
    assert_eq!(vals, vec![json!(4), json!(1), json!(0)]);
}

// ---------------------------------------------------------------------------
// §6 group_by, order_by, limit
// ---------------------------------------------------------------------------

#[test]
fn group_by_example_s6_1() {
    let at = "2024-06-08T10:00:00.000Z";
    let mut events =
        times(12, ev("signups", at, json!({"signup": {"source": "ads", "plan": "pro"}})));
    events.extend(times(2, ev("signups", at, json!({"signup": {"source": "ads"}}))));
    events.push(ev("signups", at, json!({"signup": {"source": "ads", "plan": null}})));
    events.extend(times(
        40,
        ev("signups", at, json!({"signup": {"source": "blog", "plan": "free"}})),
    ));
    let q = json!({"analysis_type": "count", "event_collection": "signups",
                   "group_by": ["signup.source", "signup.plan"], "timeframe": "previous_7_days"});
    assert_eq!(
        run(&events, q),
        json!({"result": [{"signup.source": "ads",  "signup.plan": "pro",  "result": 12},
                          {"signup.source": "ads",  "signup.plan": null,   "result": 3},
                          {"signup.source": "blog", "signup.plan": "free", "result": 40}]})
    );
}

#[test]
fn group_values_are_type_strict_s6_1() {
    let at = "2024-06-12T10:00:00.000Z";
    let events: Vec<(String, Value)> = [
        json!(4.2),
        json!("4.2.1"),
        json!(42),
        json!("42"),
        json!(42.0),
        json!(["a", "b"]),
        json!(["a", "b"]),
        json!(["b"]),
        json!(true),
        json!("2024-06-12T12:00:00+02:00"),
        json!(null),
    ]
    .into_iter()
    .map(|v| ev("c", at, json!({ "v": v })))
    .chain(std::iter::once(ev("c", at, json!({}))))
    .collect();
    let q = json!({"analysis_type": "count", "event_collection": "c", "group_by": "v", "timeframe": "today"});
    assert_eq!(
        result(&events, q),
        json!([
            {"v": 4.2, "result": 1},
            {"v": 42, "result": 2},
            {"v": "4.2.1", "result": 1},
            {"v": "42", "result": 1},
            {"v": ["a", "b"], "result": 2},
            {"v": ["b"], "result": 1},
            {"v": true, "result": 1},
            {"v": "2024-06-12T10:00:00.000Z", "result": 1},
            {"v": null, "result": 2}
        ])
    );
    let q = json!({"analysis_type": "count", "event_collection": "c", "group_by": "result", "timeframe": "today"});
    assert_eq!(code(&events, q), "InvalidParameterError");
    let q = json!({"analysis_type": "count", "event_collection": "c", "group_by": [], "timeframe": "today"});
    assert_eq!(code(&events, q), "InvalidParameterError");
}

#[test]
fn buckets_and_ranges_s6_2() {
    let at = "2024-06-12T10:00:00.000Z";
    let events: Vec<(String, Value)> =
        [json!(3), json!(15), json!(17), json!(10), json!("x"), json!(-0.5), json!(30), json!(18)]
            .into_iter()
            .map(|v| ev("c", at, json!({ "score": v })))
            .chain(std::iter::once(ev("c", at, json!({}))))
            .collect();
    let q = json!({"analysis_type": "count", "event_collection": "c", "timeframe": "today",
                   "group_by": {"property_name": "score", "buckets": {"size": 10}}});
    assert_eq!(
        result(&events, q),
        json!([
            {"score": {"from": -10, "to": 0}, "result": 1},
            {"score": {"from": 0, "to": 10}, "result": 1},
            {"score": {"from": 10, "to": 20}, "result": 4},
            {"score": {"from": 30, "to": 40}, "result": 1},
            {"score": null, "result": 2}
        ])
    );
    let q = json!({"analysis_type": "count", "event_collection": "c", "timeframe": "today",
                   "group_by": {"property_name": "score", "buckets": {"size": 10, "offset": 5}}});
    assert_eq!(result(&events, q)[0], json!({"score": {"from": -5, "to": 5}, "result": 2}));
    // Ranges: from inclusive, to exclusive, open sides; an event counts in every
    // range containing it; ordered by (from, to), open from first, open to last.
    let q = json!({"analysis_type": "count", "event_collection": "c", "timeframe": "today",
                   "group_by": {"property_name": "score", "ranges": [{"from": 18, "to": 30}, {"from": 30}, {"to": 10}, {"from": 10}]}});
    assert_eq!(
        result(&events, q),
        json!([
            {"score": {"to": 10}, "result": 2},
            {"score": {"from": 10}, "result": 5},
            {"score": {"from": 18, "to": 30}, "result": 1},
            {"score": {"from": 30}, "result": 1},
            {"score": null, "result": 2}
        ])
    );
    // Mixed with a path.
    let q = json!({"analysis_type": "count", "event_collection": "c", "timeframe": "today",
                   "group_by": [{"property_name": "score", "ranges": [{"from": 15, "to": 16}]}, "nope"]});
    assert_eq!(
        result(&events, q)[0],
        json!({"score": {"from": 15, "to": 16}, "nope": null, "result": 1})
    );
}

#[test]
fn order_by_limit_example_s6_3() {
    let at = "2024-06-10T10:00:00.000Z";
    let mut events = Vec::new();
    for (d, n) in [
        ("bing.com", 913),
        ("news.ycombinator.com", 402),
        ("duckduckgo.com", 402),
        ("google.com", 2000),
        ("a.com", 7),
    ] {
        events.extend(times(n, ev("pageviews", at, json!({"referrer": {"domain": d}}))));
    }
    events.extend(times(1000, ev("pageviews", at, json!({"referrer": {"domain": null}}))));
    let q = json!({"analysis_type": "count", "event_collection": "pageviews", "timeframe": "this_14_days",
     "group_by": "referrer.domain",
     "filters": [{"property_name": "referrer.domain", "operator": "exists", "property_value": true},
                 {"property_name": "referrer.domain", "operator": "ne", "property_value": "google.com"}],
     "order_by": {"property_name": "result", "direction": "DESC"}, "limit": 3});
    assert_eq!(
        run(&events, q),
        json!({"result": [{"referrer.domain": "bing.com", "result": 913},
                          {"referrer.domain": "duckduckgo.com", "result": 402},
                          {"referrer.domain": "news.ycombinator.com", "result": 402}]})
    );
}

#[test]
fn ordering_rules_s6_3() {
    let at = "2024-06-12T10:00:00.000Z";
    let events = vec![
        ev("c", at, json!({"g": "a", "n": 5})),
        ev("c", at, json!({"g": "b", "n": 1})),
        ev("c", at, json!({"g": "c"})),
        ev("c", at, json!({"n": 9})),
        ev("c", at, json!({"g": 1, "n": 3})),
    ];
    let q = |order: Value| {
        json!({"analysis_type": "average", "event_collection": "c", "target_property": "n", "timeframe": "today",
               "group_by": "g", "order_by": order})
    };
    let groups = |order: Value| -> Vec<Value> {
        result(&events, q(order)).as_array().unwrap().iter().map(|r| r["g"].clone()).collect()
    };
    // null results last in both directions; ties by group value ascending.
    assert_eq!(
        groups(json!("result")),
        vec![json!("b"), json!(1), json!("a"), json!(null), json!("c")]
    );
    assert_eq!(
        groups(json!({"property_name": "result", "direction": "desc"})),
        vec![json!(null), json!("a"), json!(1), json!("b"), json!("c")]
    );
    // By group value; null group last also in DESC.
    assert_eq!(
        groups(json!({"property_name": "g", "direction": "DESC"})),
        vec![json!("c"), json!("b"), json!("a"), json!(1), json!(null)]
    );
    assert_eq!(
        groups(json!([{"property_name": "g"}])),
        vec![json!(1), json!("a"), json!("b"), json!("c"), json!(null)]
    );
    // Without order_by: canonical order of group values.
    let mut plain = q(json!("result"));
    plain.as_object_mut().unwrap().remove("order_by");
    let g: Vec<Value> =
        result(&events, plain).as_array().unwrap().iter().map(|r| r["g"].clone()).collect();
    assert_eq!(g, vec![json!(1), json!("a"), json!("b"), json!("c"), json!(null)]);
    // limit keeps the first N; with interval inside each bucket.
    let mut lim = q(json!("result"));
    lim["limit"] = json!(2);
    lim["interval"] = json!("daily");
    assert_eq!(
        result(&events, lim)[0]["value"],
        json!([{"g": "b", "result": 1}, {"g": 1, "result": 3}])
    );
    // Errors.
    let bad = |q: Value| code(&events, q);
    let mut no_group = q(json!("result"));
    no_group.as_object_mut().unwrap().remove("group_by");
    assert_eq!(bad(no_group), "InvalidParameterError");
    let mut no_order = q(json!("result"));
    no_order.as_object_mut().unwrap().remove("order_by");
    no_order["limit"] = json!(1);
    assert_eq!(bad(no_order), "InvalidParameterError");
    let mut zero = q(json!("result"));
    zero["limit"] = json!(0);
    assert_eq!(bad(zero), "InvalidParameterError");
    assert_eq!(bad(q(json!("n"))), "InvalidParameterError");
    assert_eq!(
        bad(q(json!({"property_name": "result", "direction": "UP"}))),
        "InvalidParameterError"
    );
}

// ---------------------------------------------------------------------------
// §7 errors
// ---------------------------------------------------------------------------

#[test]
fn parameter_errors_s7() {
    let e: Vec<(String, Value)> = Vec::new();
    let c = |q: Value| code(&e, q);
    assert_eq!(c(json!({"analysis_type": "count", "timeframe": "today"})), "MissingParameterError");
    assert_eq!(c(json!({"event_collection": "c", "timeframe": "today"})), "MissingParameterError");
    assert_eq!(
        c(json!({"analysis_type": "sum", "event_collection": "c", "timeframe": "today"})),
        "MissingParameterError"
    );
    assert_eq!(
        c(
            json!({"analysis_type": "percentile", "event_collection": "c", "target_property": "x", "timeframe": "today"})
        ),
        "MissingParameterError"
    );
    assert_eq!(
        c(json!({"analysis_type": "funnel", "timeframe": "today"})),
        "MissingParameterError"
    );
    assert_eq!(
        c(
            json!({"analysis_type": "multi_analysis", "event_collection": "c", "timeframe": "today"})
        ),
        "MissingParameterError"
    );
    assert_eq!(
        c(json!({"analysis_type": "counting", "event_collection": "c", "timeframe": "today"})),
        "InvalidParameterError"
    );
    for p in [json!(0), json!(100.5), json!(-1), json!(12.345), json!("50")] {
        let q = json!({"analysis_type": "percentile", "event_collection": "c", "target_property": "x",
                       "percentile": p, "timeframe": "today"});
        assert_eq!(c(q), "InvalidParameterError", "{p}");
    }
    for tz in [json!("Mars/Olympus"), json!(50401), json!("-50401"), json!("+25:00"), json!(true)] {
        let q = json!({"analysis_type": "count", "event_collection": "c", "timeframe": "today", "timezone": tz});
        assert_eq!(c(q), "InvalidParameterError", "{tz}");
    }
    // Accepted: the bounds, Etc/UTC; count ignores target_property; unknown members ignored.
    for tz in [json!(50400), json!(-50400), json!("Etc/UTC"), json!("+05:30")] {
        let q = json!({"analysis_type": "count", "event_collection": "c", "timeframe": "today", "timezone": tz,
                       "target_property": 7, "cache": true});
        assert_eq!(run(&e, q), json!({"result": 0}));
    }
    let q = json!({"analysis_type": "count", "event_collection": "c", "timeframe": "today", "max_age": 30});
    assert_eq!(c(q), "InvalidParameterError");
}

#[test]
fn metadata_and_ignored_members_s2_1() {
    let events = vec![ev("c", "2024-06-12T10:00:00.000Z", json!({"a": 1, "b": {"c": 2}}))];
    let q = json!({"analysis_type": "count", "event_collection": "c", "timeframe": "today",
                   "include_metadata": true, "max_age": 300, "cache": false});
    let out = run(&events, q);
    assert_eq!(out["result"], json!(1));
    let md = out["execution_metadata"].as_object().unwrap();
    let mut keys: Vec<&str> = md.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, vec!["events_scanned", "properties_per_event", "total_processing_time"]);
    assert_eq!(md["events_scanned"], json!(1));
    let q = json!({"analysis_type": "count", "event_collection": "c", "timeframe": "today", "include_metadata": false});
    assert_eq!(run(&events, q), json!({"result": 1}));
    // Errors inside analyses name the member.
    let q = json!({"analysis_type": "multi_analysis", "event_collection": "c", "timeframe": "today",
                   "analyses": {"gross": {"analysis_type": "sum"}}});
    let e = evaluate(&events, &q, NOW).unwrap_err();
    assert_eq!(e.code, "MissingParameterError");
    assert!(e.message.starts_with("analyses.gross.target_property"), "{}", e.message);
}

// ---------------------------------------------------------------------------
// §9.5 extraction
// ---------------------------------------------------------------------------

#[test]
fn extraction_s9_5() {
    let events = vec![
        ev("c", "2024-06-12T03:00:00.000Z", json!({"user": {"id": "u3", "name": "C"}, "n": 3})),
        ev(
            "c",
            "2024-06-12T01:00:00.000+00:00",
            json!({"user": {"id": "u1", "name": "A"}, "n": 1, "w": "2024-06-12T05:00:00+02:00"}),
        ),
        ev("c", "2024-06-12T02:00:00.000Z", json!({"user": {"id": "u2"}, "n": 2.0})),
        ev("c", "2024-06-01T02:00:00.000Z", json!({"user": {"id": "old"}})),
    ];
    let q = json!({"analysis_type": "extraction", "event_collection": "c", "timeframe": "today"});
    assert_eq!(
        result(&events, q.clone()),
        json!([
            {"user": {"id": "u1", "name": "A"}, "n": 1, "w": "2024-06-12T03:00:00.000Z", "keen": {"timestamp": "2024-06-12T01:00:00.000Z"}},
            {"user": {"id": "u2"}, "n": 2, "keen": {"timestamp": "2024-06-12T02:00:00.000Z"}},
            {"user": {"id": "u3", "name": "C"}, "n": 3, "keen": {"timestamp": "2024-06-12T03:00:00.000Z"}}
        ])
    );
    let mut latest = q.clone();
    latest["latest"] = json!(2);
    latest["property_names"] = json!(["user.id", "keen.timestamp", "user"]);
    assert_eq!(
        result(&events, latest),
        json!([
            {"user": {"id": "u2"}, "keen": {"timestamp": "2024-06-12T02:00:00.000Z"}},
            {"user": {"id": "u3"}, "keen": {"timestamp": "2024-06-12T03:00:00.000Z"}}
        ])
    );
    let mut f = q;
    f["filters"] = json!([{"property_name": "n", "operator": "gte", "property_value": 2}]);
    f["property_names"] = json!(["n"]);
    assert_eq!(result(&events, f), json!([{"n": 2}, {"n": 3}]));
}

// ---------------------------------------------------------------------------
// generators
// ---------------------------------------------------------------------------

#[test]
fn stored_form_normalises() {
    let raw = json!({"keen": {"timestamp": "2024-06-12T10:00:00.123456"}, "a": 42.0, "b": {"c": {}},
                     "d": ["2024-06-12T12:00:00+02:00", null, 1.5], "e": "2024-06-12"});
    assert_eq!(
        gen::stored_form(&raw),
        json!({"keen": {"timestamp": "2024-06-12T10:00:00.123Z"}, "a": 42,
               "d": ["2024-06-12T10:00:00.000Z", null, 1.5], "e": "2024-06-12"})
    );
}

proptest! {
    #![proptest_config(gen::config(256))]

    /// Generated events are valid stored events and generated queries are
    /// valid: evaluate() answers every one with a result (and never panics).
    #[test]
    fn generated_queries_evaluate(events in gen::stored_events(), query in gen::query()) {
        for (c, e) in &events {
            prop_assert!(gen::COLLECTIONS.contains(&c.as_str()));
            prop_assert!(e.pointer("/keen/timestamp").and_then(Value::as_str).is_some());
            prop_assert!(e.pointer("/keen/created_at").is_none());
        }
        let out = evaluate(&events, &query, gen::NOW_MS);
        prop_assert!(out.is_ok(), "query {} failed: {:?}", query, out);
        let out = out.unwrap();
        prop_assert!(out.get("result").is_some());
        if query["analysis_type"] == "funnel" {
            prop_assert_eq!(out["result"].as_array().map(Vec::len), query["steps"].as_array().map(Vec::len));
        }
    }

    /// Invalid or odd queries never panic: each query gets one member
    /// replaced by an arbitrary JSON value.
    #[test]
    fn mutated_queries_never_panic(events in gen::stored_events(), query in gen::query(),
                                   member in prop::sample::select(vec!["timeframe", "timezone", "interval", "group_by",
                                       "order_by", "limit", "filters", "percentile", "target_property", "steps",
                                       "analyses", "latest", "property_names", "event_collection"]),
                                   junk in prop::sample::select(vec![json!(null), json!(0), json!(-1), json!("x"), json!([]),
                                       json!({}), json!([{}]), json!(true), json!(1e300), json!("this_1000000_years"),
                                       json!([null]), json!({"start": "x"}), json!("every_1000000_years")])) {
        let mut q = query;
        q[member] = junk;
        let _ = evaluate(&events, &q, gen::NOW_MS);
    }
}
