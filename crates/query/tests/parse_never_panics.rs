//! Property: parsing never panics on arbitrary JSON, and whatever parses
//! can be resolved (timeframe, interval buckets) without panicking either.
//!
//! The generator leans on the query vocabulary (member names, operators,
//! timeframes, zones, intervals) so that most cases get deep into the
//! parser instead of failing on the first member; `query_body` builds
//! near-valid queries so that many of them parse and get resolved. Fixed seed; 256 cases,
//! 10,000 with `TALLY_FULL=1`.

use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use serde_json::{Map, Value};
use tally_query::parse::{parse_analysis, parse_query, parse_query_str};
use tally_query::{Query, TimeZone, Timeframe};

fn cases() -> u32 {
    if std::env::var_os("TALLY_FULL").is_some_and(|v| v == "1") {
        10_000
    } else {
        256
    }
}

const KEYS: &[&str] = &[
    "analysis_type",
    "event_collection",
    "timeframe",
    "timezone",
    "filters",
    "property_name",
    "operator",
    "property_value",
    "property_type",
    "interval",
    "group_by",
    "order_by",
    "limit",
    "direction",
    "buckets",
    "ranges",
    "size",
    "offset",
    "from",
    "to",
    "steps",
    "actor_property",
    "optional",
    "inverted",
    "with_actors",
    "analyses",
    "percentile",
    "target_property",
    "latest",
    "property_names",
    "content_type",
    "email",
    "max_age",
    "include_metadata",
    "coordinates",
    "max_distance_miles",
    "start",
    "end",
    "gross",
    "result",
];

const WORDS: &[&str] = &[
    "count",
    "count_unique",
    "minimum",
    "maximum",
    "sum",
    "average",
    "median",
    "percentile",
    "select_unique",
    "standard_deviation",
    "multi_analysis",
    "funnel",
    "extraction",
    "eq",
    "ne",
    "lt",
    "lte",
    "gt",
    "gte",
    "exists",
    "in",
    "contains",
    "not_contains",
    "regex",
    "within",
    "or",
    "Number",
    "Boolean",
    "Datetime",
    "String",
    "List",
    "this_7_days",
    "previous_1000000_years",
    "this_1000000_minutes",
    "today",
    "yesterday",
    "last_week",
    "this_0_days",
    "previous_3_months",
    r#"{"start": "2024-06-01T00:00:00Z", "end": "2024-07-01T00:00:00Z"}"#,
    r#"{"start": "0000-01-01T00:00:00Z", "end": "9999-12-31T23:59:59Z"}"#,
    "UTC",
    "US/Pacific",
    "Europe/London",
    "America/Santiago",
    "-28800",
    "+05:30",
    "+14:00",
    "minutely",
    "hourly",
    "daily",
    "weekly",
    "monthly",
    "yearly",
    "every_3_months",
    "every_4294967295_years",
    "every_0_days",
    "result",
    "ASC",
    "DESC",
    "desc",
    "keen.location.coordinates",
    "keen.timestamp",
    "user.id",
    "text/csv",
    "true",
    "false",
    "50",
    "99.99",
    "2024-06-12T14:35:20",
    "2024-06-12T14:35:20Z",
    "(",
    "a+",
    "\\w{1000}\\w{1000}",
    "[\"a\", \"b\"]",
    "[{\"operator\": \"or\", \"property_value\": []}]",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-200i64..200).prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        prop::sample::select(WORDS).prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::String),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(KEYS).prop_map(str::to_string),
        1 => "[a-z_.]{0,8}",
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(5, 96, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..8)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A top-level body: mostly an object of query members.
fn body() -> impl Strategy<Value = Value> {
    prop_oneof![
        1 => value(),
        4 => (prop::sample::select(&WORDS[..13]), prop::collection::vec((key(), value()), 0..10))
            .prop_map(|(t, kv)| {
                let mut m: Map<String, Value> = kv.into_iter().collect();
                m.insert("analysis_type".into(), Value::from(t));
                Value::Object(m)
            }),
    ]
}

const TIMEFRAMES: &[&str] = &[
    "this_7_days",
    "previous_24_hours",
    "this_month",
    "previous_week",
    "today",
    "yesterday",
    "this_1000000_years",
    "previous_1000000_minutes",
    "this_2_years",
    "last_3_days",
    "this_0_days",
    r#"{"start": "2024-06-01T00:00:00Z", "end": "2024-07-01T00:00:00Z"}"#,
    r#"{"start": "2024-03-09T00:00:00-08:00", "end": "2024-03-12T00:00:00-07:00"}"#,
];
const ZONES: &[&str] =
    &["UTC", "US/Pacific", "Asia/Kolkata", "America/Santiago", "-28800", "+05:30", "Nowhere"];
const INTERVALS: &[&str] = &[
    "minutely",
    "hourly",
    "daily",
    "weekly",
    "monthly",
    "yearly",
    "every_6_hours",
    "every_3_months",
    "every_2_years",
    "every_4294967295_days",
    "secondly",
];
const OPS: &[&str] = &[
    "eq",
    "ne",
    "lt",
    "lte",
    "gt",
    "gte",
    "exists",
    "in",
    "contains",
    "not_contains",
    "regex",
    "within",
    "equals",
];
const PATHS: &[&str] = &["price", "user.id", "item.id", "keen.location.coordinates", "result", ""];

fn pick(words: &'static [&'static str]) -> impl Strategy<Value = Value> {
    prop::sample::select(words).prop_map(Value::from)
}

/// `Some(v)` with probability `p`: an optional query member.
fn maybe<S: Strategy<Value = Value>>(p: f64, s: S) -> impl Strategy<Value = Option<Value>> {
    prop::option::weighted(p, s)
}

fn filter() -> impl Strategy<Value = Value> {
    let simple = (
        pick(PATHS),
        pick(OPS),
        prop_oneof![
            leaf(),
            prop::collection::vec(leaf(), 0..4).prop_map(Value::Array),
            (-200.0f64..200.0, -100.0f64..100.0, -1.0f64..100.0).prop_map(|(lon, lat, d)| {
                serde_json::json!({"coordinates": [lon, lat], "max_distance_miles": d})
            }),
        ],
        maybe(0.3, pick(&["Number", "Boolean", "Datetime", "String", "Float"])),
    )
        .prop_map(|(name, op, value, ty)| {
            let mut m = Map::new();
            m.insert("property_name".into(), name);
            m.insert("operator".into(), op);
            m.insert("property_value".into(), value);
            if let Some(ty) = ty {
                m.insert("property_type".into(), ty);
            }
            Value::Object(m)
        });
    simple.prop_recursive(3, 24, 4, |inner| {
        prop::collection::vec(inner, 0..4)
            .prop_map(|subs| serde_json::json!({"operator": "or", "property_value": subs}))
    })
}

fn group_by() -> impl Strategy<Value = Value> {
    let elem = prop_oneof![
        pick(PATHS),
        (pick(PATHS), -5.0f64..20.0).prop_map(|(p, size)| {
            serde_json::json!({"property_name": p, "buckets": {"size": size, "offset": 1}})
        }),
        (pick(PATHS), prop::collection::vec((0.0f64..50.0, 0.0f64..50.0), 0..3)).prop_map(
            |(p, r)| {
                let ranges: Vec<Value> =
                    r.into_iter().map(|(a, b)| serde_json::json!({"from": a, "to": b})).collect();
                serde_json::json!({"property_name": p, "ranges": ranges})
            }
        ),
    ];
    prop_oneof![elem.clone(), prop::collection::vec(elem, 0..12).prop_map(Value::Array)]
}

fn order_by() -> impl Strategy<Value = Value> {
    let elem = prop_oneof![
        pick(PATHS),
        pick(&["gross", "count"]),
        (pick(PATHS), pick(&["ASC", "DESC", "desc", "up"]))
            .prop_map(|(p, d)| serde_json::json!({"property_name": p, "direction": d})),
    ];
    prop_oneof![elem.clone(), prop::collection::vec(elem, 0..3).prop_map(Value::Array)]
}

fn step() -> impl Strategy<Value = Value> {
    (
        maybe(0.4, pick(TIMEFRAMES)),
        maybe(0.3, pick(ZONES)),
        maybe(0.3, prop::collection::vec(filter(), 0..3).prop_map(Value::Array)),
        any::<[bool; 3]>(),
    )
        .prop_map(|(tf, tz, filters, [optional, inverted, with_actors])| {
            let mut m = Map::new();
            m.insert("event_collection".into(), "signups".into());
            m.insert("actor_property".into(), "user.id".into());
            for (k, v) in [("timeframe", tf), ("timezone", tz), ("filters", filters)] {
                if let Some(v) = v {
                    m.insert(k.into(), v);
                }
            }
            m.insert("optional".into(), optional.into());
            m.insert("inverted".into(), inverted.into());
            m.insert("with_actors".into(), with_actors.into());
            Value::Object(m)
        })
}

fn analyses() -> impl Strategy<Value = Value> {
    prop::collection::vec(
        (
            pick(&["gross", "buyers", "item.id", "p"]),
            pick(&WORDS[..13]),
            maybe(0.7, pick(PATHS)),
            maybe(0.5, (-5.0f64..110.0).prop_map(Value::from)),
        ),
        0..4,
    )
    .prop_map(|defs| {
        let mut m = Map::new();
        for (label, t, target, p) in defs {
            let mut d = Map::new();
            d.insert("analysis_type".into(), t);
            if let Some(target) = target {
                d.insert("target_property".into(), target);
            }
            if let Some(p) = p {
                d.insert("percentile".into(), p);
            }
            m.insert(label.as_str().unwrap_or("x").to_string(), Value::Object(d));
        }
        Value::Object(m)
    })
}

/// A near-valid query: each member present with its usual shape most of
/// the time, plus a few arbitrary members.
fn query_body() -> impl Strategy<Value = Value> {
    let members = (
        (
            pick(&WORDS[..13]),
            maybe(0.95, pick(&["purchases"])),
            maybe(0.9, pick(TIMEFRAMES)),
            maybe(0.8, pick(PATHS)),
            maybe(0.5, prop_oneof![(-5.0f64..110.0).prop_map(Value::from), leaf()]),
            maybe(0.5, prop_oneof![pick(ZONES), (-60_000i64..60_000).prop_map(Value::from)]),
            maybe(0.5, pick(INTERVALS)),
        ),
        (
            maybe(0.5, prop::collection::vec(filter(), 0..4).prop_map(Value::Array)),
            maybe(0.4, group_by()),
            maybe(0.3, order_by()),
            maybe(0.2, prop_oneof![(0i64..5).prop_map(Value::from), leaf()]),
            maybe(0.8, prop::collection::vec(step(), 0..4).prop_map(Value::Array)),
            maybe(0.8, analyses()),
            prop::collection::vec((key(), value()), 0..3),
        ),
    );
    members.prop_map(
        |((t, coll, tf, target, pct, tz, iv), (filters, gb, ob, limit, steps, an, extra))| {
            let mut m: Map<String, Value> = extra.into_iter().collect();
            m.insert("analysis_type".into(), t);
            for (k, v) in [
                ("event_collection", coll),
                ("timeframe", tf),
                ("target_property", target),
                ("percentile", pct),
                ("timezone", tz),
                ("interval", iv),
                ("filters", filters),
                ("group_by", gb),
                ("order_by", ob),
                ("limit", limit),
                ("steps", steps),
                ("analyses", an),
            ] {
                if let Some(v) = v {
                    m.insert(k.into(), v);
                }
            }
            Value::Object(m)
        },
    )
}

/// Resolves whatever parsed, as the executor would; errors are fine.
fn exercise(q: &Query) {
    let now = 1_718_202_920_000; // 2024-06-12T14:35:20Z
    let run = |tf: &Timeframe, tz: &TimeZone, iv: Option<tally_query::Interval>| {
        if let Ok(r) = tf.resolve(now, tz) {
            assert!(r.start_ms < r.end_ms);
            if let Some(iv) = iv {
                if let Ok(b) = iv.buckets(r, tz) {
                    assert!(b.len() <= 10_000);
                    assert!(b.windows(2).all(|w| w[0].end_ms == w[1].start_ms));
                    assert!(b.iter().all(|x| x.start_ms < x.end_ms));
                    if let (Some(first), Some(last)) = (b.first(), b.last()) {
                        assert_eq!((first.start_ms, last.end_ms), (r.start_ms, r.end_ms));
                    }
                }
            }
        }
    };
    match q {
        Query::Analysis { common, .. } | Query::Multi { common, .. } => {
            run(&common.timeframe, &common.timezone, common.interval)
        }
        Query::Funnel(f) => f.steps.iter().for_each(|s| run(&s.timeframe, &s.timezone, None)),
        Query::Extraction(e) => run(&e.timeframe, &e.timezone, None),
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        rng_seed: RngSeed::Fixed(0x7a11_9e5e),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn parse_query_never_panics(body in body()) {
        if let Ok(q) = parse_query(&body) {
            exercise(&q);
        }
        for t in ["count", "funnel", "multi_analysis", "extraction", "percentile"] {
            if let Ok(q) = parse_analysis(t, &body) {
                exercise(&q);
            }
        }
        if let Ok(text) = serde_json::to_string(&body) {
            let _ = parse_query_str(&text);
        }
    }

    #[test]
    fn near_valid_queries_never_panic(body in query_body()) {
        if let Ok(q) = parse_query(&body) {
            exercise(&q);
        }
    }

    #[test]
    fn parse_query_str_never_panics(text in "\\PC{0,64}") {
        let _ = parse_query_str(&text);
    }
}

#[test]
fn a_valid_query_is_reached_by_the_generator_vocabulary() {
    // Guards the generator: its words still form queries that parse.
    let body: Value = serde_json::json!({"analysis_type": WORDS[0], "event_collection": "user.id",
        "timeframe": "this_7_days", "interval": "every_3_months", "timezone": "America/Santiago"});
    let q = parse_query(&body).unwrap();
    exercise(&q);
}
