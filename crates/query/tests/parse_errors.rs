//! One test per validation rule: the exact error code, and a message that
//! starts with the offending field (keen-semantics §7).

use serde_json::{json, Value};
use tally_query::parse::{parse_analysis, parse_filters, parse_query, parse_query_str};
use tally_query::QueryErrorCode::{self, *};

fn base(t: &str) -> Value {
    json!({"analysis_type": t, "event_collection": "purchases", "timeframe": "this_7_days"})
}

fn with(mut body: Value, extra: Value) -> Value {
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

#[track_caller]
fn fails(body: Value, code: QueryErrorCode, field: &str) {
    let err = parse_query(&body).expect_err("should fail");
    assert_eq!(err.code, code, "{body}: {}", err.message);
    assert!(
        err.message.starts_with(&format!("{field}: ")),
        "message {:?} should start with {field:?} ({body})",
        err.message
    );
}

#[track_caller]
fn filter_fails(filter: Value, code: QueryErrorCode, field: &str) {
    fails(
        with(
            base("count"),
            json!({"filters": [{"property_name": "ok", "operator": "exists", "property_value": true}, filter]}),
        ),
        code,
        field,
    );
}

#[test]
fn body_and_analysis_type() {
    fails(json!([1]), InvalidParameterError, "query");
    fails(json!("count"), InvalidParameterError, "query");
    fails(
        json!({"event_collection": "c", "timeframe": "today"}),
        MissingParameterError,
        "analysis_type",
    );
    fails(
        with(base("count"), json!({"analysis_type": null})),
        MissingParameterError,
        "analysis_type",
    );
    fails(with(base("count"), json!({"analysis_type": 3})), InvalidParameterError, "analysis_type");
    fails(base("counting"), InvalidParameterError, "analysis_type");
    let err = parse_analysis("nope", &base("count")).unwrap_err();
    assert_eq!(
        (err.code, err.message.as_str()),
        (InvalidParameterError, r#"analysis_type: unknown analysis type "nope""#)
    );
    let err = parse_analysis("count", &json!(null)).unwrap_err();
    assert_eq!(err.code, InvalidParameterError);
}

#[test]
fn invalid_json_text() {
    for text in ["", "{", "{\"analysis_type\": count}", "[1,]"] {
        let err = parse_query_str(text).unwrap_err();
        assert_eq!(err.code, InvalidParameterError, "{text}");
        assert!(err.message.starts_with("query: "), "{}", err.message);
    }
}

#[test]
fn event_collection() {
    fails(
        json!({"analysis_type": "count", "timeframe": "today"}),
        MissingParameterError,
        "event_collection",
    );
    fails(
        with(base("count"), json!({"event_collection": null})),
        MissingParameterError,
        "event_collection",
    );
    fails(
        with(base("count"), json!({"event_collection": 5})),
        InvalidParameterError,
        "event_collection",
    );
    fails(
        with(base("count"), json!({"event_collection": ""})),
        InvalidParameterError,
        "event_collection",
    );
}

#[test]
fn timeframe() {
    fails(
        json!({"analysis_type": "count", "event_collection": "c"}),
        TimeframeDefinitionError,
        "timeframe",
    );
    fails(
        with(base("count"), json!({"timeframe": "this_7_fortnights"})),
        TimeframeDefinitionError,
        "timeframe",
    );
    fails(
        with(
            base("count"),
            json!({"timeframe": {"start": "2024-06-02T00:00:00Z", "end": "2024-06-01T00:00:00Z"}}),
        ),
        TimeframeDefinitionError,
        "timeframe",
    );
    fails(
        with(
            base("count"),
            json!({"timeframe": {"start": "yesterday", "end": "2024-06-01T00:00:00Z"}}),
        ),
        TimeframeDefinitionError,
        "timeframe.start",
    );
}

#[test]
fn target_property() {
    for t in [
        "count_unique",
        "minimum",
        "maximum",
        "sum",
        "average",
        "median",
        "percentile",
        "select_unique",
        "standard_deviation",
    ] {
        fails(with(base(t), json!({"percentile": 50})), MissingParameterError, "target_property");
    }
    fails(
        with(base("sum"), json!({"target_property": 1})),
        InvalidParameterError,
        "target_property",
    );
    fails(
        with(base("sum"), json!({"target_property": ""})),
        InvalidParameterError,
        "target_property",
    );
}

#[test]
fn percentile() {
    let p = |v: Value| with(base("percentile"), json!({"target_property": "x", "percentile": v}));
    fails(
        with(base("percentile"), json!({"target_property": "x"})),
        MissingParameterError,
        "percentile",
    );
    for bad in [
        json!(0),
        json!(-1),
        json!(100.01),
        json!(101),
        json!(12.345),
        json!(0.001),
        json!("abc"),
        json!(true),
        json!([50]),
        json!("NaN"),
    ] {
        fails(p(bad), InvalidParameterError, "percentile");
    }
}

#[test]
fn max_age_and_include_metadata() {
    for bad in
        [json!(30), json!(0), json!(-5), json!(129_601), json!(60.5), json!("sixty"), json!(true)]
    {
        fails(with(base("count"), json!({"max_age": bad})), InvalidParameterError, "max_age");
    }
    for bad in [json!("yes"), json!(1), json!([])] {
        fails(
            with(base("count"), json!({"include_metadata": bad})),
            InvalidParameterError,
            "include_metadata",
        );
    }
}

#[test]
fn timezone() {
    fails(
        with(base("count"), json!({"timezone": "Mars/Olympus"})),
        InvalidParameterError,
        "timezone",
    );
    fails(with(base("count"), json!({"timezone": 50_401})), InvalidParameterError, "timezone");
}

#[test]
fn interval() {
    fails(with(base("count"), json!({"interval": "secondly"})), InvalidParameterError, "interval");
    fails(
        with(base("count"), json!({"interval": "every_0_days"})),
        InvalidParameterError,
        "interval",
    );
}

#[test]
fn filters_shape() {
    fails(
        with(base("count"), json!({"filters": {"property_name": "a"}})),
        FilterDefinitionError,
        "filters",
    );
    fails(with(base("count"), json!({"filters": "not json"})), FilterDefinitionError, "filters");
    filter_fails(json!("a = 1"), FilterDefinitionError, "filters[1]");
    filter_fails(
        json!({"property_name": "a", "property_value": 1}),
        FilterDefinitionError,
        "filters[1].operator",
    );
    filter_fails(
        json!({"property_name": "a", "operator": 1, "property_value": 1}),
        FilterDefinitionError,
        "filters[1].operator",
    );
    filter_fails(
        json!({"operator": "eq", "property_value": 1}),
        FilterDefinitionError,
        "filters[1].property_name",
    );
    filter_fails(
        json!({"property_name": "", "operator": "eq", "property_value": 1}),
        FilterDefinitionError,
        "filters[1].property_name",
    );
    filter_fails(
        json!({"property_name": 7, "operator": "eq", "property_value": 1}),
        FilterDefinitionError,
        "filters[1].property_name",
    );
    filter_fails(
        json!({"property_name": "a", "operator": "eq"}),
        FilterDefinitionError,
        "filters[1].property_value",
    );
}

#[test]
fn unknown_operator_message() {
    let body = with(
        base("count"),
        json!({"filters": [
        {"property_name": "a", "operator": "eq", "property_value": 1},
        {"property_name": "a", "operator": "equals", "property_value": 1}]}),
    );
    let err = parse_query(&body).unwrap_err();
    assert_eq!(err.code, FilterDefinitionError);
    assert_eq!(err.message, r#"filters[1].operator: unknown operator "equals""#);
}

#[test]
fn operator_values() {
    let f = |op: &str, v: Value| json!({"property_name": "a", "operator": op, "property_value": v});
    filter_fails(f("eq", json!({"x": 1})), FilterDefinitionError, "filters[1].property_value");
    filter_fails(f("ne", json!({})), FilterDefinitionError, "filters[1].property_value");
    filter_fails(f("eq", json!([1, [2]])), FilterDefinitionError, "filters[1].property_value[1]");
    filter_fails(f("eq", json!([{"a": 1}])), FilterDefinitionError, "filters[1].property_value[0]");
    for op in ["lt", "lte", "gt", "gte"] {
        for v in [json!(true), json!(null), json!([1]), json!({"a": 1})] {
            filter_fails(f(op, v), FilterDefinitionError, "filters[1].property_value");
        }
    }
    for v in [json!("true"), json!(1), json!(null), json!([true])] {
        filter_fails(f("exists", v), FilterDefinitionError, "filters[1].property_value");
    }
    for v in [json!([]), json!("a"), json!(null), json!({"a": 1})] {
        filter_fails(f("in", v), FilterDefinitionError, "filters[1].property_value");
    }
    filter_fails(
        f("in", json!(["a", ["b"]])),
        FilterDefinitionError,
        "filters[1].property_value[1]",
    );
    for op in ["contains", "not_contains"] {
        for v in [json!(null), json!(["a"]), json!({"a": 1})] {
            filter_fails(f(op, v), FilterDefinitionError, "filters[1].property_value");
        }
    }
}

#[test]
fn regex_rules() {
    let f = |v: Value| json!({"property_name": "a", "operator": "regex", "property_value": v});
    filter_fails(f(json!(5)), FilterDefinitionError, "filters[1].property_value");
    filter_fails(f(json!("a".repeat(1001))), FilterDefinitionError, "filters[1].property_value");
    // 1,000 characters counted as characters, not bytes.
    let ok = "é".repeat(1000);
    parse_query(&with(base("count"), json!({"filters": [f(json!(ok))]}))).unwrap();
    for bad in ["(", "a{2,1}", "(?=a)", "(?<!a)b", "(a)\\1", "[z-a]"] {
        filter_fails(f(json!(bad)), FilterDefinitionError, "filters[1].property_value");
    }
    // Over the compiled-size limit.
    let err =
        parse_query(&with(base("count"), json!({"filters": [f(json!("\\w{1000}\\w{1000}"))]})))
            .unwrap_err();
    assert_eq!(err.code, FilterDefinitionError);
    assert!(
        err.message.starts_with("filters[0].property_value: the compiled pattern exceeds"),
        "{}",
        err.message
    );
}

#[test]
fn within_rules() {
    let geo = json!({"coordinates": [-122.4, 37.77], "max_distance_miles": 10});
    filter_fails(
        json!({"property_name": "location", "operator": "within", "property_value": geo}),
        InvalidPropertyNameForGeoFilter,
        "filters[1].property_name",
    );
    let w = |v: Value| json!({"property_name": "keen.location.coordinates", "operator": "within", "property_value": v});
    filter_fails(w(json!([1, 2])), FilterDefinitionError, "filters[1].property_value");
    filter_fails(
        w(json!({"max_distance_miles": 10})),
        FilterDefinitionError,
        "filters[1].property_value.coordinates",
    );
    filter_fails(
        w(json!({"coordinates": [1], "max_distance_miles": 10})),
        FilterDefinitionError,
        "filters[1].property_value.coordinates",
    );
    filter_fails(
        w(json!({"coordinates": ["1", 2], "max_distance_miles": 10})),
        FilterDefinitionError,
        "filters[1].property_value.coordinates",
    );
    filter_fails(
        w(json!({"coordinates": [200, 2], "max_distance_miles": 10})),
        FilterDefinitionError,
        "filters[1].property_value.coordinates",
    );
    filter_fails(
        w(json!({"coordinates": [2, 91], "max_distance_miles": 10})),
        FilterDefinitionError,
        "filters[1].property_value.coordinates",
    );
    filter_fails(
        w(json!({"coordinates": [2, 1]})),
        FilterDefinitionError,
        "filters[1].property_value.max_distance_miles",
    );
    filter_fails(
        w(json!({"coordinates": [2, 1], "max_distance_miles": -1})),
        FilterDefinitionError,
        "filters[1].property_value.max_distance_miles",
    );
    filter_fails(
        w(json!({"coordinates": [2, 1], "max_distance_miles": "10"})),
        FilterDefinitionError,
        "filters[1].property_value.max_distance_miles",
    );
}

#[test]
fn or_rules() {
    filter_fails(
        json!({"operator": "or", "property_value": {"a": 1}}),
        FilterDefinitionError,
        "filters[1].property_value",
    );
    filter_fails(
        json!({"operator": "or", "property_value": []}),
        FilterDefinitionError,
        "filters[1].property_value",
    );
    filter_fails(json!({"operator": "or"}), FilterDefinitionError, "filters[1].property_value");
    filter_fails(
        json!({"operator": "or", "property_value": [
        {"property_name": "a", "operator": "eq", "property_value": 1},
        {"property_name": "a", "operator": "is", "property_value": 1}]}),
        FilterDefinitionError,
        "filters[1].property_value[1].operator",
    );
    filter_fails(
        json!({"operator": "or", "property_value": [{"operator": "or", "property_value": [7]}]}),
        FilterDefinitionError,
        "filters[1].property_value[0].property_value[0]",
    );
}

#[test]
fn filter_count_limit() {
    let e = json!({"property_name": "p", "operator": "exists", "property_value": true});
    let flat: Vec<Value> = (0..101).map(|_| e.clone()).collect();
    fails(with(base("count"), json!({"filters": flat})), LimitExceededError, "filters[100]");
    // Nested filters count: an or with 100 sub-filters is 101.
    let subs: Vec<Value> = (0..100).map(|_| e.clone()).collect();
    fails(
        with(base("count"), json!({"filters": [{"operator": "or", "property_value": subs}]})),
        LimitExceededError,
        "filters[0].property_value[99]",
    );
    // Deep nesting stops at the limit, not at the stack.
    let mut deep = e.clone();
    for _ in 0..500 {
        deep = json!({"operator": "or", "property_value": [deep]});
    }
    let err = parse_filters(&json!([deep]), "filters").unwrap_err();
    assert_eq!(err.code, LimitExceededError);
    // A funnel counts all its steps together.
    let fifty: Vec<Value> = (0..51).map(|_| e.clone()).collect();
    let step = json!({"event_collection": "a", "actor_property": "u", "filters": fifty});
    fails(
        json!({"analysis_type": "funnel", "timeframe": "today", "steps": [step.clone(), step]}),
        LimitExceededError,
        "steps[1].filters[49]",
    );
}

#[test]
fn property_type_rules() {
    let f = |ty: Value, v: Value| json!({"property_name": "a", "operator": "eq", "property_value": v, "property_type": ty});
    filter_fails(f(json!("Float"), json!(1)), FilterDefinitionError, "filters[1].property_type");
    filter_fails(f(json!(1), json!(1)), FilterDefinitionError, "filters[1].property_type");
    filter_fails(
        f(json!("Number"), json!("abc")),
        FilterDefinitionError,
        "filters[1].property_value",
    );
    filter_fails(
        f(json!("Number"), json!("inf")),
        FilterDefinitionError,
        "filters[1].property_value",
    );
    filter_fails(
        f(json!("Number"), json!(true)),
        FilterDefinitionError,
        "filters[1].property_value",
    );
    filter_fails(
        f(json!("Boolean"), json!("yes")),
        FilterDefinitionError,
        "filters[1].property_value",
    );
    filter_fails(f(json!("Boolean"), json!(1)), FilterDefinitionError, "filters[1].property_value");
    filter_fails(
        f(json!("Datetime"), json!("2024-06-12")),
        FilterDefinitionError,
        "filters[1].property_value",
    );
    filter_fails(
        f(json!("Datetime"), json!(1718202920000_i64)),
        FilterDefinitionError,
        "filters[1].property_value",
    );
    filter_fails(
        f(json!("Number"), json!(["1", "x"])),
        FilterDefinitionError,
        "filters[1].property_value[1]",
    );
}

#[test]
fn group_by_rules() {
    let g = |v: Value| with(base("count"), json!({"group_by": v}));
    fails(g(json!([])), InvalidParameterError, "group_by");
    let eleven: Vec<String> = (0..11).map(|i| format!("p{i}")).collect();
    fails(g(json!(eleven)), InvalidParameterError, "group_by");
    fails(g(json!("result")), InvalidParameterError, "group_by");
    fails(g(json!(["a", "result"])), InvalidParameterError, "group_by[1]");
    fails(
        g(json!([{"property_name": "result", "buckets": {"size": 1}}])),
        InvalidParameterError,
        "group_by[0].property_name",
    );
    fails(g(json!("")), InvalidParameterError, "group_by");
    fails(g(json!(5)), InvalidParameterError, "group_by");
    fails(g(json!(["a", 5])), InvalidParameterError, "group_by[1]");
    fails(g(json!(["a", "a"])), InvalidParameterError, "group_by");
    fails(g(json!({"buckets": {"size": 1}})), MissingParameterError, "group_by.property_name");
    fails(
        g(json!({"property_name": "s", "buckets": {"size": 0}})),
        InvalidParameterError,
        "group_by.buckets.size",
    );
    fails(
        g(json!({"property_name": "s", "buckets": {"size": -2}})),
        InvalidParameterError,
        "group_by.buckets.size",
    );
    fails(
        g(json!({"property_name": "s", "buckets": {"offset": 1}})),
        MissingParameterError,
        "group_by.buckets.size",
    );
    fails(
        g(json!({"property_name": "s", "buckets": {"size": "10"}})),
        InvalidParameterError,
        "group_by.buckets.size",
    );
    fails(
        g(json!({"property_name": "s", "buckets": {"size": 1, "offset": "x"}})),
        InvalidParameterError,
        "group_by.buckets.offset",
    );
    fails(
        g(json!({"property_name": "s", "buckets": 10})),
        InvalidParameterError,
        "group_by.buckets",
    );
    fails(g(json!({"property_name": "s", "ranges": []})), InvalidParameterError, "group_by.ranges");
    fails(
        g(json!({"property_name": "s", "ranges": [{"from": 5, "to": 5}]})),
        InvalidParameterError,
        "group_by.ranges[0]",
    );
    fails(
        g(json!({"property_name": "s", "ranges": [{"from": 1}, 3]})),
        InvalidParameterError,
        "group_by.ranges[1]",
    );
    fails(
        g(json!({"property_name": "s", "ranges": [{"from": "a"}]})),
        InvalidParameterError,
        "group_by.ranges[0].from",
    );
    fails(
        g(json!({"property_name": "s", "buckets": {"size": 1}, "ranges": [{"from": 1}]})),
        InvalidParameterError,
        "group_by",
    );
}

#[test]
fn order_by_and_limit_rules() {
    fails(with(base("count"), json!({"order_by": "result"})), InvalidParameterError, "order_by");
    let g = |extra: Value| with(with(base("count"), json!({"group_by": ["a", "b"]})), extra);
    fails(g(json!({"order_by": "c"})), InvalidParameterError, "order_by");
    fails(
        g(json!({"order_by": {"property_name": "c"}})),
        InvalidParameterError,
        "order_by.property_name",
    );
    fails(
        g(json!({"order_by": {"direction": "DESC"}})),
        MissingParameterError,
        "order_by.property_name",
    );
    fails(
        g(json!({"order_by": {"property_name": "a", "direction": "UP"}})),
        InvalidParameterError,
        "order_by.direction",
    );
    fails(
        g(json!({"order_by": [{"property_name": "a"}, {"property_name": "zz"}]})),
        InvalidParameterError,
        "order_by[1].property_name",
    );
    fails(g(json!({"order_by": []})), InvalidParameterError, "order_by");
    fails(g(json!({"order_by": 1})), InvalidParameterError, "order_by");
    fails(g(json!({"limit": 3})), InvalidParameterError, "limit");
    for bad in [json!(0), json!(-1), json!(1.5), json!("x"), json!(true)] {
        fails(g(json!({"order_by": "result", "limit": bad})), InvalidParameterError, "limit");
    }
}

#[test]
fn multi_analysis_rules() {
    let m = |extra: Value| with(base("multi_analysis"), extra);
    fails(base("multi_analysis"), MissingParameterError, "analyses");
    fails(m(json!({"analyses": [1]})), InvalidParameterError, "analyses");
    fails(m(json!({"analyses": {}})), InvalidParameterError, "analyses");
    fails(m(json!({"analyses": {"a": 1}})), InvalidParameterError, "analyses.a");
    fails(
        m(json!({"analyses": {"a": {"target_property": "x"}}})),
        MissingParameterError,
        "analyses.a.analysis_type",
    );
    for t in ["funnel", "extraction", "multi_analysis", "bogus"] {
        fails(
            m(json!({"analyses": {"a": {"analysis_type": t}}})),
            InvalidParameterError,
            "analyses.a.analysis_type",
        );
    }
    fails(
        m(json!({"analyses": {"gross": {"analysis_type": "sum"}}})),
        MissingParameterError,
        "analyses.gross.target_property",
    );
    fails(
        m(json!({"analyses": {"p": {"analysis_type": "percentile", "target_property": "x"}}})),
        MissingParameterError,
        "analyses.p.percentile",
    );
    fails(
        m(
            json!({"analyses": {"p": {"analysis_type": "percentile", "target_property": "x", "percentile": 0}}}),
        ),
        InvalidParameterError,
        "analyses.p.percentile",
    );
    fails(
        m(json!({"analyses": {"item.id": {"analysis_type": "count"}}, "group_by": "item.id"})),
        InvalidParameterError,
        "analyses.item.id",
    );
    // "result" is not an order_by property in multi_analysis; a label is.
    let two = json!({"gross": {"analysis_type": "sum", "target_property": "price"}, "buyers": {"analysis_type": "count"}});
    fails(
        m(json!({"analyses": two, "group_by": "item.id", "order_by": "result"})),
        InvalidParameterError,
        "order_by",
    );
    parse_query(&m(json!({"analyses": two, "group_by": "item.id", "order_by": "buyers"}))).unwrap();
}

#[test]
fn funnel_rules() {
    let s = |c: &str| json!({"event_collection": c, "actor_property": "user.id"});
    let f = |steps: Value| json!({"analysis_type": "funnel", "timeframe": "this_7_days", "steps": steps});
    fails(json!({"analysis_type": "funnel", "timeframe": "today"}), MissingParameterError, "steps");
    fails(f(json!([])), InvalidParameterError, "steps");
    fails(f(json!({"a": 1})), InvalidParameterError, "steps");
    fails(f(json!([s("a"), 5])), InvalidParameterError, "steps[1]");
    fails(
        f(json!([s("a"), {"actor_property": "u"}])),
        MissingParameterError,
        "steps[1].event_collection",
    );
    fails(
        f(json!([s("a"), {"event_collection": "b"}])),
        MissingParameterError,
        "steps[1].actor_property",
    );
    fails(
        f(json!([{"event_collection": "a", "actor_property": "u", "optional": true}])),
        InvalidParameterError,
        "steps[0].optional",
    );
    fails(
        f(json!([{"event_collection": "a", "actor_property": "u", "inverted": true}])),
        InvalidParameterError,
        "steps[0].inverted",
    );
    fails(
        f(json!([s("a"), {"event_collection": "b", "actor_property": "u", "with_actors": "x"}])),
        InvalidParameterError,
        "steps[1].with_actors",
    );
    fails(
        f(json!([s("a"), {"event_collection": "b", "actor_property": "u", "timezone": "Nowhere"}])),
        InvalidParameterError,
        "steps[1].timezone",
    );
    fails(
        f(json!([s("a"), {"event_collection": "b", "actor_property": "u", "timeframe": "soon"}])),
        TimeframeDefinitionError,
        "steps[1].timeframe",
    );
    fails(
        f(
            json!([s("a"), {"event_collection": "b", "actor_property": "u", "filters": [{"operator": "like"}]}]),
        ),
        FilterDefinitionError,
        "steps[1].filters[0].operator",
    );
    // No timeframe on the funnel or on a step.
    fails(
        json!({"analysis_type": "funnel", "steps": [{"event_collection": "a", "actor_property": "u", "timeframe": "today"}, s("b")]}),
        TimeframeDefinitionError,
        "steps[1].timeframe",
    );
    // A top-level timeframe or timezone is validated even if every step has one.
    fails(
        json!({"analysis_type": "funnel", "timeframe": "bad", "steps": [{"event_collection": "a", "actor_property": "u", "timeframe": "today"}]}),
        TimeframeDefinitionError,
        "timeframe",
    );
    fails(
        json!({"analysis_type": "funnel", "timezone": 99999, "steps": [{"event_collection": "a", "actor_property": "u", "timeframe": "today"}]}),
        InvalidParameterError,
        "timezone",
    );
}

#[test]
fn extraction_rules() {
    let e = |extra: Value| with(base("extraction"), extra);
    fails(
        json!({"analysis_type": "extraction", "timeframe": "today"}),
        MissingParameterError,
        "event_collection",
    );
    fails(
        json!({"analysis_type": "extraction", "event_collection": "c"}),
        TimeframeDefinitionError,
        "timeframe",
    );
    for bad in [json!(0), json!(-3), json!("many"), json!(2.5)] {
        fails(e(json!({"latest": bad})), InvalidParameterError, "latest");
    }
    fails(e(json!({"property_names": "user.id"})), InvalidParameterError, "property_names");
    fails(e(json!({"property_names": []})), InvalidParameterError, "property_names");
    fails(e(json!({"property_names": ["a", 1]})), InvalidParameterError, "property_names[1]");
    fails(e(json!({"property_names": ["a", ""]})), InvalidParameterError, "property_names[1]");
    fails(e(json!({"content_type": "text/html"})), InvalidParameterError, "content_type");
    fails(e(json!({"content_type": 1})), InvalidParameterError, "content_type");
    fails(e(json!({"email": 5})), InvalidParameterError, "email");
    fails(e(json!({"email": ""})), InvalidParameterError, "email");
    fails(
        e(json!({"filters": [{"property_name": "a", "operator": "eq"}]})),
        FilterDefinitionError,
        "filters[0].property_value",
    );
}
