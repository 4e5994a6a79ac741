//! Query JSON that parses, and the typed values it becomes
//! (keen-semantics §2, §3, §5, §6, §9.5).

use serde_json::{json, Value};
use tally_query::parse::{parse_analysis, parse_filters, parse_query, parse_query_str};
use tally_query::{
    Analysis, AnalysisKind, CmpOp, Filter, GroupBy, Interval, Number, Operand, OrderBy, Query,
    Scalar, TimeUnit, TimeZone, Timeframe,
};

fn base(t: &str) -> Value {
    json!({"analysis_type": t, "event_collection": "purchases", "timeframe": "this_7_days"})
}

fn with(mut body: Value, extra: Value) -> Value {
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

fn simple(body: Value) -> (Analysis, tally_query::Common) {
    match parse_query(&body).unwrap() {
        Query::Analysis { analysis, common } => (analysis, common),
        other => panic!("not a simple analysis: {other:?}"),
    }
}

fn filters(f: Value) -> Vec<Filter> {
    parse_filters(&f, "filters").unwrap()
}

fn one(f: Value) -> Filter {
    let mut v = filters(json!([f]));
    v.pop().unwrap()
}

fn ms(s: &str) -> i64 {
    tally_ingest::parse_zoned_datetime(s).unwrap()
}

#[test]
fn minimal_count_and_defaults() {
    let (a, c) = simple(base("count"));
    assert_eq!(a, Analysis { kind: AnalysisKind::Count, target_property: None });
    assert_eq!(c.event_collection, "purchases");
    assert_eq!(c.timeframe, Timeframe::Relative { previous: false, n: 7, unit: TimeUnit::Day });
    assert_eq!(c.timezone, TimeZone::default());
    assert!(c.filters.is_empty() && c.group_by.is_empty() && c.order_by.is_empty());
    assert_eq!((c.interval, c.limit, c.max_age, c.include_metadata), (None, None, None, false));
}

#[test]
fn every_simple_type() {
    let kinds = [
        ("count_unique", AnalysisKind::CountUnique),
        ("minimum", AnalysisKind::Minimum),
        ("maximum", AnalysisKind::Maximum),
        ("sum", AnalysisKind::Sum),
        ("average", AnalysisKind::Average),
        ("median", AnalysisKind::Median),
        ("select_unique", AnalysisKind::SelectUnique),
        ("standard_deviation", AnalysisKind::StandardDeviation),
    ];
    for (t, kind) in kinds {
        let (a, _) = simple(with(base(t), json!({"target_property": "price"})));
        assert_eq!(a, Analysis { kind, target_property: Some("price".into()) }, "{t}");
    }
    for (p, want) in
        [(json!(90), 90.0), (json!(99.99), 99.99), (json!(100), 100.0), (json!("0.01"), 0.01)]
    {
        let (a, _) =
            simple(with(base("percentile"), json!({"target_property": "price", "percentile": p})));
        assert_eq!(a.kind, AnalysisKind::Percentile(want));
    }
    // count ignores target_property (even a malformed one); median ignores percentile.
    let (a, _) = simple(with(base("count"), json!({"target_property": 5})));
    assert_eq!(a.target_property, None);
    let (a, _) = simple(with(base("median"), json!({"target_property": "x", "percentile": 500})));
    assert_eq!(a.kind, AnalysisKind::Median);
}

#[test]
fn unknown_and_unneeded_members_are_ignored() {
    let body = with(
        base("count"),
        json!({"cache": false, "foo": {"bar": [1, 2]}, "latest": "nope", "steps": 3,
               "analyses": 1, "email": 7, "refresh_rate": -1}),
    );
    let (a, _) = simple(body);
    assert_eq!(a.kind, AnalysisKind::Count);
    // parse_analysis takes the type from the path: a body analysis_type is ignored.
    let q =
        parse_analysis("sum", &with(base("nonsense"), json!({"target_property": "p"}))).unwrap();
    assert!(matches!(
        q,
        Query::Analysis { analysis: Analysis { kind: AnalysisKind::Sum, .. }, .. }
    ));
    let q =
        parse_analysis("count", &json!({"event_collection": "e", "timeframe": "today"})).unwrap();
    assert!(matches!(q, Query::Analysis { .. }));
    // Unknown members inside filters, steps and group objects too.
    let f = one(json!({"property_name": "a", "operator": "eq", "property_value": 1, "x": true}));
    assert!(matches!(f, Filter::Cmp { op: CmpOp::Eq, .. }));
}

#[test]
fn null_members_are_absent() {
    // The shape a saved-query definition echoes (§9.1).
    let body = json!({"analysis_type": "count", "event_collection": "purchases", "timeframe": "this_2_weeks",
                      "timezone": null, "interval": null, "group_by": null, "target_property": null,
                      "percentile": null, "order_by": null, "limit": null, "filters": null,
                      "max_age": null, "include_metadata": null});
    let (_, c) = simple(body);
    assert_eq!(c.timezone, TimeZone::default());
    assert!(c.group_by.is_empty() && c.filters.is_empty());
}

#[test]
fn common_parameters() {
    let body = with(
        base("sum"),
        json!({"target_property": "price", "timezone": "US/Pacific", "interval": "every_6_hours",
               "group_by": ["device.type", {"property_name": "score", "buckets": {"size": 10}},
                            {"property_name": "age", "ranges": [{"from": 18, "to": 30}, {"from": 30}, {"to": 18}]},
                            {"property_name": "plan"}],
               "order_by": [{"property_name": "result", "direction": "desc"}, "device.type",
                            {"property_name": "age"}],
               "limit": 3, "max_age": 31, "include_metadata": true}),
    );
    let (_, c) = simple(body);
    assert_eq!(c.timezone, TimeZone::Named(chrono_tz::US::Pacific));
    assert_eq!(c.interval, Some(Interval::every(6, TimeUnit::Hour)));
    assert_eq!(
        c.group_by,
        [
            GroupBy::Property("device.type".into()),
            GroupBy::Buckets { property: "score".into(), size: 10.0, offset: 0.0 },
            GroupBy::Ranges {
                property: "age".into(),
                ranges: vec![(Some(18.0), Some(30.0)), (Some(30.0), None), (None, Some(18.0))]
            },
            GroupBy::Property("plan".into()),
        ]
    );
    assert_eq!(
        c.order_by,
        [
            OrderBy { property: "result".into(), descending: true },
            OrderBy { property: "device.type".into(), descending: false },
            OrderBy { property: "age".into(), descending: false },
        ]
    );
    assert_eq!((c.limit, c.max_age, c.include_metadata), (Some(3), Some(31), true));
    // Single forms: a path string, an object order_by, offset buckets.
    let (_, c) = simple(with(
        base("count"),
        json!({"group_by": {"property_name": "score", "buckets": {"size": 2.5, "offset": -1}},
               "order_by": {"property_name": "score", "direction": "ASC"}, "max_age": 129600}),
    ));
    assert_eq!(
        c.group_by,
        [GroupBy::Buckets { property: "score".into(), size: 2.5, offset: -1.0 }]
    );
    assert_eq!(c.order_by, [OrderBy { property: "score".into(), descending: false }]);
    assert_eq!(c.max_age, Some(129_600));
    let (_, c) =
        simple(with(base("count"), json!({"group_by": "referrer.domain", "order_by": "result"})));
    assert_eq!(c.group_by, [GroupBy::Property("referrer.domain".into())]);
    assert_eq!(c.order_by, [OrderBy { property: "result".into(), descending: false }]);
    // Ten group_by paths is the most.
    let ten: Vec<String> = (0..10).map(|i| format!("p{i}")).collect();
    let (_, c) = simple(with(base("count"), json!({"group_by": ten})));
    assert_eq!(c.group_by.len(), 10);
}

#[test]
fn section_6_3_example_parses() {
    let body = json!({"analysis_type": "count", "event_collection": "pageviews", "timeframe": "this_14_days",
     "group_by": "referrer.domain",
     "filters": [{"property_name": "referrer.domain", "operator": "exists", "property_value": true},
                 {"property_name": "referrer.domain", "operator": "ne", "property_value": "google.com"}],
     "order_by": {"property_name": "result", "direction": "DESC"}, "limit": 3});
    let (_, c) = simple(body);
    assert!(
        matches!(&c.filters[0], Filter::Exists { property, exists: true } if property == "referrer.domain")
    );
    assert!(
        matches!(&c.filters[1], Filter::Cmp { op: CmpOp::Ne, operand: Operand { value: Scalar::Str(s), as_datetime: None }, .. } if s == "google.com")
    );
    assert_eq!(c.order_by, [OrderBy { property: "result".into(), descending: true }]);
    assert_eq!(c.limit, Some(3));
}

#[test]
fn get_encoded_members() {
    let body = json!({"analysis_type": "percentile", "event_collection": "purchases",
        "timeframe": r#"{"start": "2024-06-01T00:00:00.000Z", "end": "2024-07-01T00:00:00.000Z"}"#,
        "target_property": "price", "percentile": "95",
        "filters": r#"[{"property_name":"price","operator":"gte","property_value":0.99}]"#,
        "group_by": r#"["a", "b"]"#, "order_by": r#"{"property_name": "a", "direction": "DESC"}"#,
        "limit": "2", "max_age": "300", "include_metadata": "true", "timezone": "-28800"});
    let (a, c) = simple(body);
    assert_eq!(a.kind, AnalysisKind::Percentile(95.0));
    assert_eq!(
        c.timeframe,
        Timeframe::Absolute {
            start_ms: ms("2024-06-01T00:00:00Z"),
            end_ms: ms("2024-07-01T00:00:00Z")
        }
    );
    assert!(
        matches!(&c.filters[..], [Filter::Cmp { op: CmpOp::Gte, operand: Operand { value: Scalar::Num(n), .. }, .. }] if *n == Number::Float(0.99))
    );
    assert_eq!(c.group_by, [GroupBy::Property("a".into()), GroupBy::Property("b".into())]);
    assert_eq!(c.order_by, [OrderBy { property: "a".into(), descending: true }]);
    assert_eq!((c.limit, c.max_age, c.include_metadata), (Some(2), Some(300), true));
    assert_eq!(c.timezone, TimeZone::Fixed(-28800));
    // A group_by string that is not JSON stays a path.
    let (_, c) = simple(with(base("count"), json!({"group_by": "[weird"})));
    assert_eq!(c.group_by, [GroupBy::Property("[weird".into())]);
}

#[test]
fn comparison_operators_and_the_datetime_bridge() {
    for (op, want) in [
        ("eq", CmpOp::Eq),
        ("ne", CmpOp::Ne),
        ("lt", CmpOp::Lt),
        ("lte", CmpOp::Lte),
        ("gt", CmpOp::Gt),
        ("gte", CmpOp::Gte),
    ] {
        let f = one(json!({"property_name": "keen.timestamp", "operator": op,
                           "property_value": "2024-06-12T14:35:20"}));
        match f {
            Filter::Cmp { property, op, operand } => {
                assert_eq!((property.as_str(), op), ("keen.timestamp", want));
                assert_eq!(
                    operand,
                    Operand {
                        value: Scalar::Str("2024-06-12T14:35:20".into()),
                        as_datetime: Some(ms("2024-06-12T14:35:20Z"))
                    }
                );
            }
            other => panic!("{other:?}"),
        }
    }
    // A plain string has no instant; numbers keep exact integers; 42.0 is 42.
    let cases = [
        (json!("hello"), Scalar::Str("hello".into()), None),
        (json!("2024-06-12"), Scalar::Str("2024-06-12".into()), None),
        (
            json!("2024-06-12T16:35:20+02:00"),
            Scalar::Str("2024-06-12T16:35:20+02:00".into()),
            Some(ms("2024-06-12T14:35:20Z")),
        ),
        (json!(9_007_199_254_740_993_i64), Scalar::Num(Number::Int(9_007_199_254_740_993)), None),
        (json!(42.0), Scalar::Num(Number::Int(42)), None),
        (json!(-0.5), Scalar::Num(Number::Float(-0.5)), None),
        (
            json!(18_446_744_073_709_551_615_u64),
            Scalar::Num(Number::Float(18_446_744_073_709_551_615.0)),
            None,
        ),
    ];
    for (v, value, as_datetime) in cases {
        let f = one(json!({"property_name": "p", "operator": "lt", "property_value": v}));
        let Filter::Cmp { operand, .. } = f else { panic!() };
        assert_eq!(operand, Operand { value, as_datetime }, "{v}");
    }
    // eq/ne take any primitive, null, or a list (element-for-element).
    for (v, want) in [
        (json!(true), Scalar::Bool(true)),
        (json!(null), Scalar::Null),
        (
            json!(["a", 1, null, false]),
            Scalar::List(vec![
                Scalar::Str("a".into()),
                Scalar::Num(Number::Int(1)),
                Scalar::Null,
                Scalar::Bool(false),
            ]),
        ),
        (json!([]), Scalar::List(vec![])),
    ] {
        for op in ["eq", "ne"] {
            let f = one(json!({"property_name": "p", "operator": op, "property_value": v}));
            let Filter::Cmp { operand, .. } = f else { panic!() };
            assert_eq!(operand.value, want, "{op} {v}");
            assert_eq!(operand.as_datetime, None);
        }
    }
}

#[test]
fn other_operators() {
    let f = one(json!({"property_name": "p", "operator": "exists", "property_value": false}));
    assert!(matches!(f, Filter::Exists { exists: false, .. }));
    let f = one(
        json!({"property_name": "user.id", "operator": "in", "property_value": ["u1", 2, null]}),
    );
    let Filter::In { property, operands } = f else { panic!() };
    assert_eq!(property, "user.id");
    assert_eq!(
        operands.into_iter().map(|o| o.value).collect::<Vec<_>>(),
        [Scalar::Str("u1".into()), Scalar::Num(Number::Int(2)), Scalar::Null]
    );
    for (op, negated) in [("contains", false), ("not_contains", true)] {
        let f = one(json!({"property_name": "tags", "operator": op, "property_value": "a"}));
        assert!(
            matches!(f, Filter::Contains { negated: n, operand: Operand { value: Scalar::Str(_), .. }, .. } if n == negated)
        );
    }
    let f = one(
        json!({"property_name": "n", "operator": "regex", "property_value": "(?i)^go+gle\\.com$"}),
    );
    let Filter::Regex { regex, .. } = f else { panic!() };
    assert!(regex.is_match("GOOOGLE.com") && !regex.is_match("google.co"));
    let pattern: String = "a".repeat(1000);
    assert!(matches!(
        one(json!({"property_name": "n", "operator": "regex", "property_value": pattern})),
        Filter::Regex { .. }
    ));
    let f = one(json!({"property_name": "keen.location.coordinates", "operator": "within",
                       "property_value": {"coordinates": [-122.4, 37.77], "max_distance_miles": 10}}));
    assert!(
        matches!(f, Filter::Within { lon, lat, max_distance_miles } if lon == -122.4 && lat == 37.77 && max_distance_miles == 10.0)
    );
}

#[test]
fn or_nests() {
    let f = one(json!({"operator": "or", "property_value": [
        {"property_name": "plan", "operator": "eq", "property_value": "pro"},
        {"property_name": "user.id", "operator": "in", "property_value": ["u1", "u2"]},
        {"operator": "or", "property_name": "ignored", "property_value": [
            {"property_name": "x", "operator": "exists", "property_value": true}]}]}));
    let Filter::Or(subs) = f else { panic!() };
    assert_eq!(subs.len(), 3);
    assert!(matches!(&subs[0], Filter::Cmp { op: CmpOp::Eq, .. }));
    assert!(matches!(&subs[1], Filter::In { operands, .. } if operands.len() == 2));
    assert!(
        matches!(&subs[2], Filter::Or(inner) if matches!(inner[..], [Filter::Exists { exists: true, .. }]))
    );
}

#[test]
fn property_type_coercion() {
    let cmp = |ty: &str, v: Value| -> Operand {
        match one(
            json!({"property_name": "p", "operator": "eq", "property_value": v, "property_type": ty}),
        ) {
            Filter::Cmp { operand, .. } => operand,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(cmp("Number", json!("42")).value, Scalar::Num(Number::Int(42)));
    assert_eq!(cmp("Number", json!("4.5")).value, Scalar::Num(Number::Float(4.5)));
    assert_eq!(cmp("Number", json!("1e3")).value, Scalar::Num(Number::Int(1000)));
    assert_eq!(cmp("Number", json!(7)).value, Scalar::Num(Number::Int(7)));
    assert_eq!(cmp("number", json!(null)).value, Scalar::Null);
    assert_eq!(cmp("Boolean", json!("true")).value, Scalar::Bool(true));
    assert_eq!(cmp("Boolean", json!(false)).value, Scalar::Bool(false));
    let t = ms("2024-06-12T14:35:20Z");
    assert_eq!(
        cmp("Datetime", json!("2024-06-12T14:35:20")),
        Operand { value: Scalar::Datetime(t), as_datetime: Some(t) }
    );
    // The other names change nothing.
    for ty in ["String", "List", "Geo", "Null"] {
        assert_eq!(cmp(ty, json!("42")).value, Scalar::Str("42".into()), "{ty}");
        assert_eq!(cmp(ty, json!(42)).value, Scalar::Num(Number::Int(42)), "{ty}");
    }
    // Coercion applies to each element of in and list operands, and to exists.
    let f = one(
        json!({"property_name": "p", "operator": "in", "property_value": ["1", "2.5"], "property_type": "Number"}),
    );
    let Filter::In { operands, .. } = f else { panic!() };
    assert_eq!(operands[1].value, Scalar::Num(Number::Float(2.5)));
    assert_eq!(
        cmp("Number", json!(["1", 2])).value,
        Scalar::List(vec![Scalar::Num(Number::Int(1)), Scalar::Num(Number::Int(2))])
    );
    let f = one(
        json!({"property_name": "p", "operator": "exists", "property_value": "true", "property_type": "Boolean"}),
    );
    assert!(matches!(f, Filter::Exists { exists: true, .. }));
}

#[test]
fn hundred_filters_is_the_most() {
    let flat: Vec<Value> = (0..100).map(|i| json!({"property_name": format!("p{i}"), "operator": "exists", "property_value": true})).collect();
    assert_eq!(filters(Value::Array(flat)).len(), 100);
    // An or with 99 sub-filters counts 100.
    let subs: Vec<Value> = (0..99)
        .map(|_| json!({"property_name": "p", "operator": "exists", "property_value": true}))
        .collect();
    assert_eq!(filters(json!([{"operator": "or", "property_value": subs}])).len(), 1);
}

#[test]
fn multi_analysis_keeps_label_order() {
    let body = json!({"analysis_type": "multi_analysis", "event_collection": "purchases", "timeframe": "this_7_days",
        "analyses": {"zeta": {"analysis_type": "sum", "target_property": "price"},
                     "alpha": {"analysis_type": "count"},
                     "mid": {"analysis_type": "percentile", "target_property": "price", "percentile": 95},
                     "uniq": {"analysis_type": "count_unique", "target_property": "user.id", "extra": 1}},
        "group_by": "item.id", "interval": "daily",
        "order_by": [{"property_name": "zeta", "direction": "DESC"}, {"property_name": "item.id"}], "limit": 5});
    let Query::Multi { analyses, common } = parse_query(&body).unwrap() else { panic!() };
    let labels: Vec<&str> = analyses.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(labels, ["zeta", "alpha", "mid", "uniq"]);
    assert_eq!(
        analyses[0].1,
        Analysis { kind: AnalysisKind::Sum, target_property: Some("price".into()) }
    );
    assert_eq!(analyses[1].1, Analysis { kind: AnalysisKind::Count, target_property: None });
    assert_eq!(analyses[2].1.kind, AnalysisKind::Percentile(95.0));
    assert_eq!(common.order_by[0], OrderBy { property: "zeta".into(), descending: true });
    assert_eq!(common.limit, Some(5));
    // GET-encoded analyses.
    let body = json!({"event_collection": "e", "timeframe": "today",
                      "analyses": r#"{"b": {"analysis_type": "count"}, "a": {"analysis_type": "count"}}"#});
    let Query::Multi { analyses, .. } = parse_analysis("multi_analysis", &body).unwrap() else {
        panic!()
    };
    assert_eq!(analyses.iter().map(|(l, _)| l.as_str()).collect::<Vec<_>>(), ["b", "a"]);
}

#[test]
fn extraction() {
    let body = json!({"analysis_type": "extraction", "event_collection": "purchases", "timeframe": "this_7_days",
        "timezone": "Europe/London", "latest": 10, "property_names": ["user.id", "keen.timestamp"],
        "content_type": "text/csv", "email": "ada@example.com", "include_metadata": true,
        "filters": [{"property_name": "price", "operator": "gt", "property_value": 1}],
        "interval": "not checked for extraction", "group_by": 7});
    let Query::Extraction(e) = parse_query(&body).unwrap() else { panic!() };
    assert_eq!(e.event_collection, "purchases");
    assert_eq!(e.timezone, TimeZone::Named(chrono_tz::Europe::London));
    assert_eq!(e.latest, Some(10));
    assert_eq!(e.property_names, Some(vec!["user.id".to_string(), "keen.timestamp".to_string()]));
    assert!(e.csv && e.include_metadata);
    assert_eq!(e.email.as_deref(), Some("ada@example.com"));
    assert_eq!(e.filters.len(), 1);
    let Query::Extraction(e) =
        parse_query(&json!({"analysis_type": "extraction", "event_collection": "c",
        "timeframe": "today", "content_type": "application/json", "property_names": "[\"a\"]"}))
        .unwrap()
    else {
        panic!()
    };
    assert!(!e.csv);
    assert_eq!(e.latest, None);
    assert_eq!(e.property_names, Some(vec!["a".to_string()]));
}

#[test]
fn from_text() {
    let q = parse_query_str(
        r#"{"analysis_type": "count", "event_collection": "c", "timeframe": "today"}"#,
    )
    .unwrap();
    assert!(matches!(q, Query::Analysis { .. }));
}
