//! Proptest strategies for random event sets and random Keen queries, drawn
//! from small value domains so that filters and groups hit, plus the fixed
//! clock and the deterministic proptest configuration they run under.
//!
//! Events come out as a writer would send them: `keen.timestamp` set
//! (in several ISO-8601 spellings), `keen.created_at` and `keen.id` absent.
//! [`stored_form`] gives what the engine stores for such an event, which is
//! what the reference evaluator should be handed.

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, RngAlgorithm, RngSeed};
use serde_json::{json, Map, Value};

use super::reference;

/// The fixed "now" of generated queries: 2024-06-12T14:35:20.123Z (a Wednesday).
pub const NOW_MS: i64 = 1_718_202_920_123;
/// 2024-06-12T00:00:00Z, the day events spread around.
const BASE_DAY_MS: i64 = 1_718_150_400_000;
const DAY_MS: i64 = 86_400_000;

/// The collections generated events go to.
pub const COLLECTIONS: [&str; 3] = ["purchases", "signups", "visits"];

/// A deterministic proptest configuration: fixed ChaCha seed, no failure
/// persistence files, `cases` cases.
pub fn config(cases: u32) -> Config {
    Config {
        cases,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(0x7A11_E7A1),
        failure_persistence: None,
        ..Config::default()
    }
}

/// What the engine stores for a raw event (the form the reference should
/// be given): datetimes normalised to `YYYY-MM-DDTHH:MM:SS.sssZ` (ms
/// precision, zone-less `keen.timestamp` read as UTC), integral numbers
/// without a fraction, empty objects dropped. `keen.created_at` and
/// `keen.id` are not added: analyses never look at them.
pub fn stored_form(raw: &Value) -> Value {
    reference::normalise(raw).unwrap_or_else(|| Value::Object(Map::new()))
}

fn fmt_local(ms: i64, offset_secs: i64, frac: &str, zone: &str) -> String {
    let t = DateTime::<Utc>::from_timestamp_millis(ms + offset_secs * 1000).unwrap_or_default();
    format!("{}{}{}", t.format("%Y-%m-%dT%H:%M:%S"), frac_of(t, frac), zone)
}

fn frac_of(t: DateTime<Utc>, kind: &str) -> String {
    let ms = t.timestamp_subsec_millis();
    match kind {
        "ms" => format!(".{ms:03}"),
        "us" => format!(".{ms:03}456"),
        _ => String::new(),
    }
}

/// `keen.timestamp` values spread over ±60 days around 2024-06-12, with
/// extra weight on exact UTC midnights, US/Pacific midnights and hours, in
/// several spellings (ms `Z`, `+05:30`, no zone, microseconds).
pub fn timestamp() -> impl Strategy<Value = Value> {
    (0u8..7, -60i64..=60, 0i64..DAY_MS, 0u8..5).prop_map(|(kind, day, in_day, fmt)| {
        let day_start = BASE_DAY_MS + day * DAY_MS;
        let ms = match kind {
            0..=2 => day_start + in_day,
            3 => day_start,                                    // UTC midnight
            4 => day_start + 7 * 3_600_000,                    // US/Pacific midnight (PDT)
            5 => day_start + (in_day / 3_600_000) * 3_600_000, // an exact hour
            _ => day_start + 18 * 3_600_000 + 30 * 60_000,     // Asia/Kolkata midnight
        };
        let s = match fmt {
            0 | 1 => fmt_local(ms, 0, "ms", "Z"),
            2 => fmt_local(ms, 19_800, "ms", "+05:30"),
            3 => fmt_local(ms, 0, "ms", ""),
            _ => fmt_local(ms, -25_200, "us", "-0700"),
        };
        Value::String(s)
    })
}

fn vals(v: Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a,
        other => vec![other],
    }
}

/// Values of `price`: numbers only (ints, floats, `42.0`, a large int).
fn price() -> impl Strategy<Value = Value> {
    select(vals(json!([
        0,
        1,
        2.5,
        -3,
        10,
        42,
        42.0,
        0.001,
        7,
        12.25,
        9_007_199_254_740_993_i64,
        null
    ])))
}

/// Values of `mixed`: a number in some events, a string in others.
fn mixed() -> impl Strategy<Value = Value> {
    select(vals(json!([1, "1", 2, "x", 2.5, "2.5", null])))
}

/// Values of `when`: zoned datetimes (several spellings), and strings that
/// only look like dates.
fn when() -> impl Strategy<Value = Value> {
    select(vals(json!([
        "2024-06-12T10:00:00Z",
        "2024-06-12T12:00:00+02:00",
        "2024-06-11T23:59:59.999-0700",
        "2024-06-12T10:00:00.000123Z",
        "2024-06-12",
        "2024-06-12T10:00:00",
        null
    ])))
}

fn list_elem() -> impl Strategy<Value = Value> {
    select(vals(json!(["a", "b", 1, 2.5, null, true, "2024-06-12T10:00:00Z", "Ab"])))
}

fn item() -> impl Strategy<Value = Value> {
    select(vals(json!(["a", "b", "c", "Ab", "a b", null])))
}

fn user() -> impl Strategy<Value = Value> {
    (
        select(vec!["u1", "u2", "u3", "u4", "u5"]),
        select(vals(json!(["pro", "free", null, "absent"]))),
        prop::option::of(select(vec!["Oslo", "Pune", "Lima"])),
        0u8..8,
    )
        .prop_map(|(id, plan, city, shape)| {
            let mut u = Map::new();
            if shape == 0 {
                return json!({}); // an empty object: no property at all
            }
            u.insert("id".into(), json!(id));
            if plan != json!("absent") {
                u.insert("plan".into(), plan);
            }
            match city {
                Some(c) => {
                    u.insert("address".into(), json!({ "city": c }));
                }
                None if shape == 1 => {
                    u.insert("address".into(), json!({}));
                }
                None => {}
            }
            Value::Object(u)
        })
}

fn coordinates() -> impl Strategy<Value = Value> {
    select(vals(json!([[10.75, 59.91], [73.85, 18.52], [-77.04, -12.05], [-122.42, 37.77]])))
}

fn maybe<S: Strategy<Value = Value> + 'static>(s: S) -> BoxedStrategy<Option<Value>> {
    prop_oneof![1 => Just(None), 3 => s.prop_map(Some)].boxed()
}

fn rarely<S: Strategy<Value = Value> + 'static>(s: S) -> BoxedStrategy<Option<Value>> {
    prop_oneof![2 => Just(None), 1 => s.prop_map(Some)].boxed()
}

/// One raw event: every value type, nulls, missing properties, nested
/// objects (some empty), lists (mixed, empty, with null), `keen.location`.
pub fn event() -> impl Strategy<Value = Value> {
    (
        timestamp(),
        maybe(item()),
        maybe(price()),
        maybe(any::<bool>().prop_map(Value::Bool)),
        maybe(mixed()),
        maybe(when()),
        maybe(prop::collection::vec(list_elem(), 0..4).prop_map(Value::Array)),
        maybe(user()),
        rarely(coordinates()),
    )
        .prop_map(|(ts, item, price, flag, mixed, when, tags, user, coords)| {
            let mut keen = Map::new();
            keen.insert("timestamp".into(), ts);
            if let Some(c) = coords {
                keen.insert("location".into(), json!({ "coordinates": c }));
            }
            let mut e = Map::new();
            e.insert("keen".into(), Value::Object(keen));
            for (k, v) in [
                ("item", item),
                ("price", price),
                ("flag", flag),
                ("mixed", mixed),
                ("when", when),
                ("tags", tags),
                ("user", user),
            ] {
                if let Some(v) = v {
                    e.insert(k.into(), v);
                }
            }
            Value::Object(e)
        })
}

/// A set of 0–40 raw events over 1–3 collections.
pub fn events() -> impl Strategy<Value = Vec<(String, Value)>> {
    (1usize..=3).prop_flat_map(|n| {
        prop::collection::vec((select(COLLECTIONS[..n].to_vec()), event()), 0..40)
            .prop_map(|v| v.into_iter().map(|(c, e)| (c.to_string(), e)).collect::<Vec<_>>())
    })
}

/// A raw event set in stored form, ready for the reference.
pub fn stored_events() -> impl Strategy<Value = Vec<(String, Value)>> {
    events().prop_map(|v| v.into_iter().map(|(c, e)| (c, stored_form(&e))).collect())
}

// ---------------------------------------------------------------------------
// queries
// ---------------------------------------------------------------------------

const FILTER_PATHS: [&str; 11] = [
    "item",
    "price",
    "flag",
    "mixed",
    "when",
    "tags",
    "user.id",
    "user.plan",
    "user.address.city",
    "keen.timestamp",
    "nope",
];

/// Filter values drawn from the event domains.
fn pool() -> impl Strategy<Value = Value> {
    select(vals(json!([
        "a",
        "b",
        "c",
        "Ab",
        0,
        1,
        2.5,
        42,
        42.0,
        -3,
        10,
        "1",
        "x",
        true,
        false,
        "2024-06-12T10:00:00Z",
        "2024-06-12T12:00:00+02:00",
        "2024-06-12",
        "u1",
        "u2",
        "pro",
        "Oslo"
    ])))
}

fn ordered_value() -> impl Strategy<Value = Value> {
    select(vals(json!([
        0,
        1,
        2.5,
        10,
        42,
        -3,
        "a",
        "b",
        "Ab",
        "u3",
        "2024-06-12T10:00:00Z",
        "2024-06-12T10:00:00",
        "2024-06-01T00:00:00.000Z",
        "2024-06-12"
    ])))
}

fn leaf_filter() -> BoxedStrategy<Value> {
    let path = select(FILTER_PATHS.to_vec());
    prop_oneof![
        (path.clone(), select(vec!["eq", "ne"]), prop_oneof![4 => pool(), 1 => Just(Value::Null), 1 => select(vals(json!([["a", "b"], [1], []])))])
            .prop_map(|(p, o, v)| json!({"property_name": p, "operator": o, "property_value": v})),
        (path.clone(), select(vec!["lt", "lte", "gt", "gte"]), ordered_value())
            .prop_map(|(p, o, v)| json!({"property_name": p, "operator": o, "property_value": v})),
        (path.clone(), any::<bool>())
            .prop_map(|(p, b)| json!({"property_name": p, "operator": "exists", "property_value": b})),
        (path.clone(), prop::collection::vec(prop_oneof![5 => pool(), 1 => Just(Value::Null)], 1..4))
            .prop_map(|(p, v)| json!({"property_name": p, "operator": "in", "property_value": v})),
        (path.clone(), select(vec!["contains", "not_contains"]), select(vals(json!(["a", "b", "A", " ", 1, "u", "2024"]))))
            .prop_map(|(p, o, v)| json!({"property_name": p, "operator": o, "property_value": v})),
        (path.clone(), select(vec!["^a", "b$", "(?i)ab", "^[0-9]+$", "a|c", "^u[12]$"]))
            .prop_map(|(p, v)| json!({"property_name": p, "operator": "regex", "property_value": v})),
        (coordinates(), select(vals(json!([0, 10, 100.5, 5000, 20000]))))
            .prop_map(|(c, d)| json!({"property_name": "keen.location.coordinates", "operator": "within",
                                      "property_value": {"coordinates": c, "max_distance_miles": d}})),
        // property_type coercions (§3.1).
        select(vals(json!([
            {"property_name": "price", "operator": "eq", "property_value": "42", "property_type": "Number"},
            {"property_name": "mixed", "operator": "gte", "property_value": "1", "property_type": "Number"},
            {"property_name": "flag", "operator": "eq", "property_value": "true", "property_type": "Boolean"},
            {"property_name": "when", "operator": "lt", "property_value": "2024-06-12T11:00:00Z", "property_type": "Datetime"},
            {"property_name": "item", "operator": "eq", "property_value": "a", "property_type": "String"},
            {"property_name": "tags", "operator": "contains", "property_value": "a", "property_type": "List"}
        ]))),
    ]
    .boxed()
}

fn or_of(s: BoxedStrategy<Value>) -> BoxedStrategy<Value> {
    prop::collection::vec(s, 1..4)
        .prop_map(|v| json!({"operator": "or", "property_value": v}))
        .boxed()
}

/// One filter: any operator, or an `or` (possibly nested).
pub fn filter() -> BoxedStrategy<Value> {
    let nested = or_of(prop_oneof![3 => leaf_filter(), 1 => or_of(leaf_filter())].boxed());
    prop_oneof![8 => leaf_filter(), 2 => nested].boxed()
}

/// 0–3 filters (mostly 0 or 1, so that results are often non-empty).
pub fn filters() -> impl Strategy<Value = Vec<Value>> {
    prop_oneof![
        3 => Just(Vec::new()),
        3 => prop::collection::vec(filter(), 1..2),
        1 => prop::collection::vec(filter(), 2..4),
    ]
}

/// A timezone parameter value.
pub fn timezone() -> impl Strategy<Value = Value> {
    select(vals(json!([
        "UTC",
        "US/Pacific",
        "Europe/London",
        "Asia/Kolkata",
        -28800,
        "-28800",
        "+05:30",
        19800,
        0,
        "Etc/UTC"
    ])))
}

/// A timeframe with an interval that keeps the bucket count small, or none.
pub fn timeframe_and_interval() -> impl Strategy<Value = (Value, Option<Value>)> {
    let rel = |unit: &'static str, n: std::ops::RangeInclusive<u32>, ivs: Vec<&'static str>| {
        (any::<bool>(), n, prop::option::of(select(ivs)), any::<bool>()).prop_map(
            move |(this, n, iv, plural)| {
                let word = if this { "this" } else { "previous" };
                let s = if n == 1 && !plural {
                    format!("{word}_{unit}")
                } else {
                    format!("{word}_{n}_{unit}s")
                };
                (Value::String(s), iv.map(|i| Value::String(i.to_string())))
            },
        )
    };
    let absolute = (
        select(vals(json!([
            {"start": "2024-06-01T00:00:00.000Z", "end": "2024-07-01T00:00:00.000Z"},
            {"start": "2024-06-10T00:00:00.000Z", "end": "2024-06-12T00:00:00.000Z"},
            {"start": "2024-05-15T12:34:56.789+05:30", "end": "2024-06-20T07:00:00-07:00"},
            {"start": "2024-04-15T00:00:00", "end": "2024-08-10T00:00:00"},
            {"start": "2024-03-09T00:00:00-08:00", "end": "2024-04-02T00:00:00Z"},
            {"start": "2024-06-12T14:00:00Z", "end": "2024-06-12T16:00:00Z"}
        ]))),
        prop::option::of(select(vec![
            "daily",
            "weekly",
            "monthly",
            "every_2_days",
            "every_3_weeks",
            "every_12_hours",
            "every_1_months",
        ])),
    )
        .prop_map(|(tf, iv)| (tf, iv.map(|i| Value::String(i.to_string()))));
    prop_oneof![
        rel("minute", 1..=120, vec!["minutely", "every_5_minutes", "hourly"]),
        rel("hour", 1..=72, vec!["hourly", "every_6_hours", "minutely", "daily"]),
        rel("day", 1..=120, vec!["daily", "every_2_days", "hourly", "weekly", "monthly"]),
        rel("week", 1..=16, vec!["daily", "weekly", "every_2_weeks"]),
        rel("month", 1..=4, vec!["daily", "weekly", "monthly", "every_2_months"]),
        rel("year", 1..=2, vec!["monthly", "yearly", "weekly"]),
        select(vec!["today", "yesterday", "last_3_days", "this_days"])
            .prop_map(|s| (json!(s), None)),
        absolute,
    ]
}

const GROUP_PATHS: [&str; 8] =
    ["item", "user.plan", "mixed", "tags", "flag", "when", "user.id", "nope"];

/// A `group_by` value: one path, two paths, buckets, ranges, or a mix.
pub fn group_by() -> impl Strategy<Value = Value> {
    let path = select(GROUP_PATHS.to_vec());
    prop_oneof![
        3 => path.clone().prop_map(|p| json!(p)),
        2 => (path.clone(), path.clone()).prop_filter("distinct paths", |(a, b)| a != b).prop_map(|(a, b)| json!([a, b])),
        1 => (select(vals(json!([5, 2.5, 10]))), select(vals(json!([0, 1, -0.5]))))
            .prop_map(|(s, o)| json!({"property_name": "price", "buckets": {"size": s, "offset": o}})),
        1 => Just(json!({"property_name": "price", "ranges": [{"from": 0, "to": 10}, {"from": 5}, {"to": 0}]})),
        1 => path.prop_map(|p| json!([p, {"property_name": "price", "ranges": [{"from": 1, "to": 42}, {"from": 42}]}])),
    ]
}

fn group_names(g: &Value) -> Vec<String> {
    let items = match g {
        Value::Array(a) => a.clone(),
        x => vec![x.clone()],
    };
    items
        .iter()
        .filter_map(|i| match i {
            Value::String(s) => Some(s.clone()),
            Value::Object(o) => o.get("property_name").and_then(Value::as_str).map(str::to_string),
            _ => None,
        })
        .collect()
}

const KINDS: [&str; 13] = [
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
];

const TARGETS: [&str; 9] =
    ["price", "price", "mixed", "item", "tags", "when", "user.id", "nope", "keen.timestamp"];
const PERCENTILES: [f64; 7] = [0.01, 25.0, 50.0, 90.0, 99.99, 100.0, 33.33];

fn step() -> impl Strategy<Value = Value> {
    (
        select(COLLECTIONS.to_vec()),
        select(vec!["user.id", "user.id", "item"]),
        0u8..5,
        any::<bool>(),
        prop::option::of(filter()),
        prop::option::of(select(vec!["this_30_days", "previous_2_weeks", "this_3_months"])),
    )
        .prop_map(|(c, actor, mode, with_actors, f, tf)| {
            let mut s = Map::new();
            s.insert("event_collection".into(), json!(c));
            s.insert("actor_property".into(), json!(actor));
            match mode {
                1 => {
                    s.insert("optional".into(), json!(true));
                }
                2 => {
                    s.insert("inverted".into(), json!(true));
                }
                3 => {
                    s.insert("optional".into(), json!(true));
                    s.insert("inverted".into(), json!(true));
                }
                _ => {}
            }
            if with_actors {
                s.insert("with_actors".into(), json!(true));
            }
            if let Some(f) = f {
                s.insert("filters".into(), json!([f]));
            }
            if let Some(tf) = tf {
                s.insert("timeframe".into(), json!(tf));
            }
            Value::Object(s)
        })
}

/// A random valid query body with `analysis_type`: every analysis, filters,
/// absolute and relative timeframes, timezones, intervals, group_by,
/// order_by/limit, multi_analysis and funnels.
pub fn query() -> impl Strategy<Value = Value> {
    (
        (0usize..KINDS.len(), select(COLLECTIONS.to_vec()), select(TARGETS.to_vec()), select(PERCENTILES.to_vec())),
        filters(),
        timeframe_and_interval(),
        prop::option::of(timezone()),
        prop::option::of(group_by()),
        (0u8..6, prop::option::of(1u64..4)),
        prop::collection::vec((0usize..10, select(TARGETS.to_vec())), 1..4),
        prop::collection::vec(step(), 1..5),
        (prop::option::of(1u64..6), prop::option::of(prop::sample::subsequence(vec!["item", "user.id", "keen.timestamp", "tags", "user.address.city", "user"], 1..4))),
    )
        .prop_map(|((k, coll, target, pct), filters, (tf, iv), tz, gb, (ord, limit), analyses, steps, (latest, names))| {
            let kind = KINDS[k];
            let mut q = Map::new();
            q.insert("analysis_type".into(), json!(kind));
            q.insert("timeframe".into(), tf);
            if let Some(tz) = tz {
                q.insert("timezone".into(), tz);
            }
            if kind == "funnel" {
                let mut steps = steps;
                if let Some(Value::Object(s0)) = steps.first_mut() {
                    s0.remove("optional");
                    s0.remove("inverted");
                }
                q.insert("steps".into(), Value::Array(steps));
                return Value::Object(q);
            }
            q.insert("event_collection".into(), json!(coll));
            if !filters.is_empty() {
                q.insert("filters".into(), Value::Array(filters));
            }
            if kind == "extraction" {
                if let Some(n) = latest {
                    q.insert("latest".into(), json!(n));
                }
                if let Some(names) = names {
                    q.insert("property_names".into(), json!(names));
                }
                return Value::Object(q);
            }
            let mut labels = Vec::new();
            if kind == "multi_analysis" {
                let mut a = Map::new();
                for (i, t) in analyses {
                    let sub = KINDS[i];
                    let label = format!("l_{sub}");
                    let mut d = Map::new();
                    d.insert("analysis_type".into(), json!(sub));
                    if sub != "count" {
                        d.insert("target_property".into(), json!(t));
                    }
                    if sub == "percentile" {
                        d.insert("percentile".into(), json!(pct));
                    }
                    labels.push(label.clone());
                    a.insert(label, Value::Object(d));
                }
                q.insert("analyses".into(), Value::Object(a));
            } else {
                if kind != "count" || target == "mixed" {
                    q.insert("target_property".into(), json!(target));
                }
                if kind == "percentile" {
                    q.insert("percentile".into(), json!(pct));
                }
            }
            if let Some(iv) = iv {
                q.insert("interval".into(), iv);
            }
            if let Some(gb) = gb {
                let names = group_names(&gb);
                q.insert("group_by".into(), gb);
                let result_name = labels.first().cloned().unwrap_or_else(|| "result".to_string());
                let order = match ord {
                    1 => Some(json!(result_name)),
                    2 => Some(json!({"property_name": result_name, "direction": "DESC"})),
                    3 => Some(json!([{"property_name": names[0], "direction": "desc"}, {"property_name": result_name}])),
                    4 => Some(json!(names[0])),
                    _ => None,
                };
                if let Some(o) = order {
                    q.insert("order_by".into(), o);
                    if let Some(n) = limit {
                        q.insert("limit".into(), json!(n));
                    }
                }
            }
            Value::Object(q)
        })
}
