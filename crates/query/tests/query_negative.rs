//! The malformed-query suite (RELIABILITY §6.4 item 12): thousands of
//! generated bad queries, each with the golden Keen error code and the field
//! path the message must start with (keen-semantics §2–7, §9.5).
//!
//! How the cases are made: a few valid base queries per analysis type
//! (every simple type, multi_analysis, funnel, extraction; plain, with the
//! optional members set, and grouped with `order_by`/`limit`) × the rule
//! tables below. A rule replaces (or removes) one member of a base with a
//! bad value and names the code and the path, relative to that member, that
//! the error must carry. Bad filters are placed at several positions of a
//! filter list and nested inside an `or`, so that the path changes with the
//! position. Every case has exactly one defect.
//!
//! The expected codes are written here, from the spec, never taken from the
//! parser: a wrong code or a message that does not start with
//! `"<path>: "` fails the test, and so does a panic.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use serde_json::{json, Value};
use tally_query::parse_query;
use tally_query::QueryErrorCode::{self, *};

/// The member is removed instead of replaced.
const MISSING: &str = "<missing>";

/// One rule: the bad value (JSON text, or [`MISSING`]), the error code, and
/// the error path relative to the member (`""` = the member itself).
type Rule = (&'static str, QueryErrorCode, &'static str);

// ------------------------------------------------------------ rule tables

/// `event_collection` (§2.1: required string) — also each funnel step's
/// `event_collection` and `actor_property` (§2.5).
const REQUIRED_STRING: &[Rule] = &[
    (MISSING, MissingParameterError, ""),
    ("null", MissingParameterError, ""),
    (r#""""#, InvalidParameterError, ""),
    ("42", InvalidParameterError, ""),
    ("0.5", InvalidParameterError, ""),
    ("true", InvalidParameterError, ""),
    ("false", InvalidParameterError, ""),
    ("[]", InvalidParameterError, ""),
    (r#"["purchases"]"#, InvalidParameterError, ""),
    ("{}", InvalidParameterError, ""),
    (r#"{"name": "purchases"}"#, InvalidParameterError, ""),
];

/// `analysis_type` of the body (§2, §7.2: unknown analysis type → invalid).
const ANALYSIS_TYPE: &[Rule] = &[
    (MISSING, MissingParameterError, ""),
    ("null", MissingParameterError, ""),
    (r#""counts""#, InvalidParameterError, ""),
    (r#""Count""#, InvalidParameterError, ""),
    (r#""COUNT""#, InvalidParameterError, ""),
    (r#"" count""#, InvalidParameterError, ""),
    (r#""""#, InvalidParameterError, ""),
    (r#""funnels""#, InvalidParameterError, ""),
    (r#""select-unique""#, InvalidParameterError, ""),
    (r#""percentile_cont""#, InvalidParameterError, ""),
    (r#""avg""#, InvalidParameterError, ""),
    (r#""mean""#, InvalidParameterError, ""),
    (r#""std_dev""#, InvalidParameterError, ""),
    (r#""multi-analysis""#, InvalidParameterError, ""),
    (r#""extractions""#, InvalidParameterError, ""),
    ("1", InvalidParameterError, ""),
    ("true", InvalidParameterError, ""),
    ("[]", InvalidParameterError, ""),
    (r#"["count"]"#, InvalidParameterError, ""),
    ("{}", InvalidParameterError, ""),
];

/// `timeframe` (§4.1–4.2): anything wrong is a `TimeframeDefinitionError`.
const TIMEFRAME: &[Rule] = &[
    (MISSING, TimeframeDefinitionError, ""),
    ("null", TimeframeDefinitionError, ""),
    (r#""this_0_days""#, TimeframeDefinitionError, ""),
    (r#""this_1000001_days""#, TimeframeDefinitionError, ""),
    (r#""previous_1000001_hours""#, TimeframeDefinitionError, ""),
    (r#""previous_0_hours""#, TimeframeDefinitionError, ""),
    (r#""last_0_weeks""#, TimeframeDefinitionError, ""),
    (r#""this_99999999999_days""#, TimeframeDefinitionError, ""),
    (r#""this_7_fortnights""#, TimeframeDefinitionError, ""),
    (r#""this_7_seconds""#, TimeframeDefinitionError, ""),
    (r#""this_7_decades""#, TimeframeDefinitionError, ""),
    (r#""next_7_days""#, TimeframeDefinitionError, ""),
    (r#""this-7-days""#, TimeframeDefinitionError, ""),
    (r#""this_-1_days""#, TimeframeDefinitionError, ""),
    (r#""this_+7_days""#, TimeframeDefinitionError, ""),
    (r#""this_7.5_days""#, TimeframeDefinitionError, ""),
    (r#""this_1e3_days""#, TimeframeDefinitionError, ""),
    (r#""this__days""#, TimeframeDefinitionError, ""),
    (r#""this_7_""#, TimeframeDefinitionError, ""),
    (r#""this_""#, TimeframeDefinitionError, ""),
    (r#""this""#, TimeframeDefinitionError, ""),
    (r#""previous""#, TimeframeDefinitionError, ""),
    (r#""7_days""#, TimeframeDefinitionError, ""),
    (r#""""#, TimeframeDefinitionError, ""),
    (r#""this_7_days ""#, TimeframeDefinitionError, ""),
    (r#"" this_7_days""#, TimeframeDefinitionError, ""),
    (r#""THIS_7_DAYS""#, TimeframeDefinitionError, ""),
    (r#""This_7_Days""#, TimeframeDefinitionError, ""),
    (r#""tomorrow""#, TimeframeDefinitionError, ""),
    (r#""this_7_days_ago""#, TimeframeDefinitionError, ""),
    (r#""{bad json""#, TimeframeDefinitionError, ""),
    (r#""{\"start\": 1}""#, TimeframeDefinitionError, ".start"),
    (
        r#""{\"start\": \"2024-06-02T00:00:00Z\", \"end\": \"2024-06-01T00:00:00Z\"}""#,
        TimeframeDefinitionError,
        "",
    ),
    ("7", TimeframeDefinitionError, ""),
    ("-1", TimeframeDefinitionError, ""),
    ("true", TimeframeDefinitionError, ""),
    ("false", TimeframeDefinitionError, ""),
    ("[]", TimeframeDefinitionError, ""),
    (r#"["this_7_days"]"#, TimeframeDefinitionError, ""),
    ("{}", TimeframeDefinitionError, ".start"),
    (r#"{"start": "2024-06-01T00:00:00Z"}"#, TimeframeDefinitionError, ".end"),
    (r#"{"end": "2024-06-01T00:00:00Z"}"#, TimeframeDefinitionError, ".start"),
    (r#"{"start": null, "end": "2024-06-01T00:00:00Z"}"#, TimeframeDefinitionError, ".start"),
    (r#"{"start": "2024-06-01T00:00:00Z", "end": null}"#, TimeframeDefinitionError, ".end"),
    (r#"{"start": 5, "end": "2024-06-01T00:00:00Z"}"#, TimeframeDefinitionError, ".start"),
    (r#"{"start": "2024-06-01T00:00:00Z", "end": true}"#, TimeframeDefinitionError, ".end"),
    (r#"{"start": [], "end": "2024-06-01T00:00:00Z"}"#, TimeframeDefinitionError, ".start"),
    (r#"{"start": "2024-06-01T00:00:00Z", "end": {}}"#, TimeframeDefinitionError, ".end"),
    (
        r#"{"start": "2024-13-01T00:00:00Z", "end": "2024-14-01T00:00:00Z"}"#,
        TimeframeDefinitionError,
        ".start",
    ),
    (
        r#"{"start": "yesterday", "end": "2024-06-01T00:00:00Z"}"#,
        TimeframeDefinitionError,
        ".start",
    ),
    (
        r#"{"start": "2024-06-01T00:00:00Z", "end": "2024-06-31T00:00:00Z"}"#,
        TimeframeDefinitionError,
        ".end",
    ),
    (r#"{"start": "2024-06-01T00:00:00Z", "end": "not a date"}"#, TimeframeDefinitionError, ".end"),
    (
        r#"{"start": "2024-06-01T00:00:00Z", "end": "2024-06-01T00:00:00Z"}"#,
        TimeframeDefinitionError,
        "",
    ),
    (
        r#"{"start": "2024-06-02T00:00:00Z", "end": "2024-06-01T00:00:00Z"}"#,
        TimeframeDefinitionError,
        "",
    ),
    (
        r#"{"start": "2024-06-01T00:00:00.001Z", "end": "2024-06-01T00:00:00.000Z"}"#,
        TimeframeDefinitionError,
        "",
    ),
    (
        r#"{"start": "2024-06-01T02:00:00+02:00", "end": "2024-06-01T00:00:00Z"}"#,
        TimeframeDefinitionError,
        "",
    ),
];

/// `timezone` (§4.4): unknown names and offsets beyond ±50,400 s →
/// `InvalidParameterError`.
const TIMEZONE: &[Rule] = &[
    (r#""Mars/Olympus""#, InvalidParameterError, ""),
    (r#""US/Pacifc""#, InvalidParameterError, ""),
    (r#""Europe/Londres""#, InvalidParameterError, ""),
    (r#""""#, InvalidParameterError, ""),
    (r#""UTC+5""#, InvalidParameterError, ""),
    (r#""+25:00""#, InvalidParameterError, ""),
    (r#""+14:01""#, InvalidParameterError, ""),
    (r#""-14:01""#, InvalidParameterError, ""),
    (r#""+05:60""#, InvalidParameterError, ""),
    (r#""+5:30""#, InvalidParameterError, ""),
    (r#""05:30""#, InvalidParameterError, ""),
    (r#""+0a:00""#, InvalidParameterError, ""),
    ("50401", InvalidParameterError, ""),
    ("-50401", InvalidParameterError, ""),
    ("86400", InvalidParameterError, ""),
    (r#""50401""#, InvalidParameterError, ""),
    (r#""-50401""#, InvalidParameterError, ""),
    (r#""99999999999999999999""#, InvalidParameterError, ""),
    ("100000000000000000000", InvalidParameterError, ""),
    ("1.5", InvalidParameterError, ""),
    ("-3600.25", InvalidParameterError, ""),
    (r#""1.5""#, InvalidParameterError, ""),
    ("true", InvalidParameterError, ""),
    ("[]", InvalidParameterError, ""),
    (r#"["UTC"]"#, InvalidParameterError, ""),
    ("{}", InvalidParameterError, ""),
    (r#"{"name": "UTC"}"#, InvalidParameterError, ""),
];

/// `interval` (§5.1): unknown → `InvalidParameterError`.
const INTERVAL: &[Rule] = &[
    (r#""secondly""#, InvalidParameterError, ""),
    (r#""every_0_days""#, InvalidParameterError, ""),
    (r#""every_0_minutes""#, InvalidParameterError, ""),
    (r#""every_days""#, InvalidParameterError, ""),
    (r#""every_6""#, InvalidParameterError, ""),
    (r#""every_1_fortnights""#, InvalidParameterError, ""),
    (r#""every_1_seconds""#, InvalidParameterError, ""),
    (r#""every_-1_days""#, InvalidParameterError, ""),
    (r#""every_1.5_days""#, InvalidParameterError, ""),
    (r#""every__days""#, InvalidParameterError, ""),
    (r#""every_99999999999_days""#, InvalidParameterError, ""),
    (r#""Daily""#, InvalidParameterError, ""),
    (r#""DAILY""#, InvalidParameterError, ""),
    (r#""daily ""#, InvalidParameterError, ""),
    (r#""hourly_""#, InvalidParameterError, ""),
    (r#""biweekly""#, InvalidParameterError, ""),
    (r#""day""#, InvalidParameterError, ""),
    (r#""this_7_days""#, InvalidParameterError, ""),
    (r#""""#, InvalidParameterError, ""),
    ("1", InvalidParameterError, ""),
    ("true", InvalidParameterError, ""),
    ("[]", InvalidParameterError, ""),
    (r#"["daily"]"#, InvalidParameterError, ""),
    ("{}", InvalidParameterError, ""),
    (r#"{"every": 1, "unit": "day"}"#, InvalidParameterError, ""),
];

/// `group_by` (§6.1–6.2): `InvalidParameterError` (missing
/// `property_name`/`size` inside an object: `MissingParameterError`).
const GROUP_BY: &[Rule] = &[
    ("1", InvalidParameterError, ""),
    ("true", InvalidParameterError, ""),
    ("[]", InvalidParameterError, ""),
    (r#""""#, InvalidParameterError, ""),
    (r#""result""#, InvalidParameterError, ""),
    (r#""[]""#, InvalidParameterError, ""),
    (r#""[\"a\", \"a\"]""#, InvalidParameterError, ""),
    (r#"["a", ""]"#, InvalidParameterError, "[1]"),
    (r#"["a", 1]"#, InvalidParameterError, "[1]"),
    (r#"["a", null]"#, InvalidParameterError, "[1]"),
    (r#"["a", true]"#, InvalidParameterError, "[1]"),
    (r#"["a", "a"]"#, InvalidParameterError, ""),
    (r#"["a", "b", "a"]"#, InvalidParameterError, ""),
    (r#"["a", "result"]"#, InvalidParameterError, "[1]"),
    (r#"["result"]"#, InvalidParameterError, "[0]"),
    (r#"[["a"]]"#, InvalidParameterError, "[0]"),
    ("{}", MissingParameterError, ".property_name"),
    (r#"{"property_name": null}"#, MissingParameterError, ".property_name"),
    (r#"{"property_name": "result"}"#, InvalidParameterError, ".property_name"),
    (r#"{"property_name": 1}"#, InvalidParameterError, ".property_name"),
    (r#"{"property_name": ""}"#, InvalidParameterError, ".property_name"),
    (r#"[{"property_name": "result"}]"#, InvalidParameterError, "[0].property_name"),
    (r#"["a", {"property_name": "a", "buckets": {"size": 5}}]"#, InvalidParameterError, ""),
    (
        r#"{"property_name": "price", "buckets": {"size": 0}}"#,
        InvalidParameterError,
        ".buckets.size",
    ),
    (
        r#"{"property_name": "price", "buckets": {"size": -1}}"#,
        InvalidParameterError,
        ".buckets.size",
    ),
    (
        r#"{"property_name": "price", "buckets": {"size": "10"}}"#,
        InvalidParameterError,
        ".buckets.size",
    ),
    (r#"{"property_name": "price", "buckets": {}}"#, MissingParameterError, ".buckets.size"),
    (
        r#"{"property_name": "price", "buckets": {"offset": 1}}"#,
        MissingParameterError,
        ".buckets.size",
    ),
    (r#"{"property_name": "price", "buckets": 10}"#, InvalidParameterError, ".buckets"),
    (r#"{"property_name": "price", "buckets": [10]}"#, InvalidParameterError, ".buckets"),
    (
        r#"{"property_name": "price", "buckets": {"size": 10, "offset": "x"}}"#,
        InvalidParameterError,
        ".buckets.offset",
    ),
    (r#"{"property_name": "price", "ranges": []}"#, InvalidParameterError, ".ranges"),
    (r#"{"property_name": "price", "ranges": {}}"#, InvalidParameterError, ".ranges"),
    (r#"{"property_name": "price", "ranges": 5}"#, InvalidParameterError, ".ranges"),
    (r#"{"property_name": "price", "ranges": [5]}"#, InvalidParameterError, ".ranges[0]"),
    (
        r#"{"property_name": "price", "ranges": [{"from": 5, "to": 5}]}"#,
        InvalidParameterError,
        ".ranges[0]",
    ),
    (
        r#"{"property_name": "price", "ranges": [{"from": 10, "to": 5}]}"#,
        InvalidParameterError,
        ".ranges[0]",
    ),
    (
        r#"{"property_name": "price", "ranges": [{"from": "a"}]}"#,
        InvalidParameterError,
        ".ranges[0].from",
    ),
    (
        r#"{"property_name": "price", "ranges": [{"from": 1, "to": "b"}]}"#,
        InvalidParameterError,
        ".ranges[0].to",
    ),
    (
        r#"{"property_name": "price", "ranges": [{"from": 1, "to": 2}, {"from": 3, "to": 3}]}"#,
        InvalidParameterError,
        ".ranges[1]",
    ),
    (
        r#"{"property_name": "price", "buckets": {"size": 1}, "ranges": [{"from": 1}]}"#,
        InvalidParameterError,
        "",
    ),
    (
        r#"["a", {"property_name": "b", "buckets": {"size": 0}}]"#,
        InvalidParameterError,
        "[1].buckets.size",
    ),
];

/// `order_by` on a query grouped by `item.id` (§6.3).
const ORDER_BY: &[Rule] = &[
    (r#""price""#, InvalidParameterError, ""),
    (r#""""#, InvalidParameterError, ""),
    (r#"{"property_name": "price"}"#, InvalidParameterError, ".property_name"),
    (r#"{"property_name": "price", "direction": "DESC"}"#, InvalidParameterError, ".property_name"),
    (r#"{"property_name": "item.id", "direction": "up"}"#, InvalidParameterError, ".direction"),
    (r#"{"property_name": "item.id", "direction": ""}"#, InvalidParameterError, ".direction"),
    (
        r#"{"property_name": "item.id", "direction": "DESCENDING"}"#,
        InvalidParameterError,
        ".direction",
    ),
    (r#"{"property_name": "item.id", "direction": 1}"#, InvalidParameterError, ".direction"),
    (r#"{"property_name": "item.id", "direction": true}"#, InvalidParameterError, ".direction"),
    ("{}", MissingParameterError, ".property_name"),
    (r#"{"direction": "ASC"}"#, MissingParameterError, ".property_name"),
    (r#"{"property_name": ""}"#, InvalidParameterError, ".property_name"),
    (r#"{"property_name": 1}"#, InvalidParameterError, ".property_name"),
    (r#"{"property_name": ["item.id"]}"#, InvalidParameterError, ".property_name"),
    ("[]", InvalidParameterError, ""),
    (r#""[]""#, InvalidParameterError, ""),
    (r#"["item.id", "price"]"#, InvalidParameterError, "[1]"),
    (
        r#"[{"property_name": "item.id"}, {"property_name": "nope", "direction": "ASC"}]"#,
        InvalidParameterError,
        "[1].property_name",
    ),
    (
        r#"[{"property_name": "item.id"}, {"property_name": "item.id", "direction": "sideways"}]"#,
        InvalidParameterError,
        "[1].direction",
    ),
    ("1", InvalidParameterError, ""),
    ("true", InvalidParameterError, ""),
    ("[1]", InvalidParameterError, "[0]"),
    ("[null]", InvalidParameterError, "[0]"),
    ("[[\"item.id\"]]", InvalidParameterError, "[0]"),
];

/// `order_by` rules only multi_analysis has (§2.6: `"result"` is not valid
/// there).
const ORDER_BY_MULTI: &[Rule] = &[
    (r#""result""#, InvalidParameterError, ""),
    (r#"{"property_name": "result"}"#, InvalidParameterError, ".property_name"),
    (
        r#"{"property_name": "result", "direction": "DESC"}"#,
        InvalidParameterError,
        ".property_name",
    ),
    (r#"["gross", "result"]"#, InvalidParameterError, "[1]"),
];

/// `limit` on a query with `order_by` (§6.3: an integer ≥ 1).
const LIMIT: &[Rule] = &[
    ("0", InvalidParameterError, ""),
    ("-1", InvalidParameterError, ""),
    ("-0.5", InvalidParameterError, ""),
    ("1.5", InvalidParameterError, ""),
    ("0.999", InvalidParameterError, ""),
    ("18446744073709551616", InvalidParameterError, ""),
    (r#""x""#, InvalidParameterError, ""),
    (r#""""#, InvalidParameterError, ""),
    (r#""0""#, InvalidParameterError, ""),
    (r#""1.5""#, InvalidParameterError, ""),
    (r#""-1""#, InvalidParameterError, ""),
    (r#"" 3""#, InvalidParameterError, ""),
    ("true", InvalidParameterError, ""),
    ("[]", InvalidParameterError, ""),
    ("[3]", InvalidParameterError, ""),
    ("{}", InvalidParameterError, ""),
];

/// `max_age` (§2.1: integer seconds, 30 < max_age ≤ 129,600).
const MAX_AGE: &[Rule] = &[
    ("30", InvalidParameterError, ""),
    ("29", InvalidParameterError, ""),
    ("0", InvalidParameterError, ""),
    ("-1", InvalidParameterError, ""),
    ("-31", InvalidParameterError, ""),
    ("129601", InvalidParameterError, ""),
    ("1000000000", InvalidParameterError, ""),
    ("30.5", InvalidParameterError, ""),
    ("45.5", InvalidParameterError, ""),
    (r#""x""#, InvalidParameterError, ""),
    (r#""""#, InvalidParameterError, ""),
    (r#""30""#, InvalidParameterError, ""),
    (r#""129601""#, InvalidParameterError, ""),
    (r#""45.5""#, InvalidParameterError, ""),
    ("true", InvalidParameterError, ""),
    ("[]", InvalidParameterError, ""),
    ("[60]", InvalidParameterError, ""),
    ("{}", InvalidParameterError, ""),
];

/// Boolean members: `include_metadata`, and a step's `optional`,
/// `inverted`, `with_actors` (a boolean, or `"true"`/`"false"`).
const BOOLEAN: &[Rule] = &[
    ("1", InvalidParameterError, ""),
    ("0", InvalidParameterError, ""),
    (r#""yes""#, InvalidParameterError, ""),
    (r#""TRUE""#, InvalidParameterError, ""),
    (r#""""#, InvalidParameterError, ""),
    ("[]", InvalidParameterError, ""),
    ("[true]", InvalidParameterError, ""),
    ("{}", InvalidParameterError, ""),
];

/// `target_property` of every type but count (§2.1: required).
const TARGET_PROPERTY: &[Rule] = &[
    (MISSING, MissingParameterError, ""),
    ("null", MissingParameterError, ""),
    (r#""""#, InvalidParameterError, ""),
    ("1", InvalidParameterError, ""),
    ("true", InvalidParameterError, ""),
    ("[]", InvalidParameterError, ""),
    (r#"["price"]"#, InvalidParameterError, ""),
    ("{}", InvalidParameterError, ""),
];

/// `percentile` (§2.1: required; 0 < p ≤ 100, at most two decimals).
const PERCENTILE: &[Rule] = &[
    (MISSING, MissingParameterError, ""),
    ("null", MissingParameterError, ""),
    ("0", InvalidParameterError, ""),
    ("0.0", InvalidParameterError, ""),
    ("-1", InvalidParameterError, ""),
    ("-0.5", InvalidParameterError, ""),
    ("100.001", InvalidParameterError, ""),
    ("100.01", InvalidParameterError, ""),
    ("101", InvalidParameterError, ""),
    ("1000", InvalidParameterError, ""),
    ("12.345", InvalidParameterError, ""),
    ("99.999", InvalidParameterError, ""),
    ("0.001", InvalidParameterError, ""),
    ("50.0001", InvalidParameterError, ""),
    ("0.00000001", InvalidParameterError, ""),
    ("1e-300", InvalidParameterError, ""),
    (r#""abc""#, InvalidParameterError, ""),
    (r#""""#, InvalidParameterError, ""),
    (r#""0""#, InvalidParameterError, ""),
    (r#""100.5""#, InvalidParameterError, ""),
    (r#""12.345""#, InvalidParameterError, ""),
    (r#""NaN""#, InvalidParameterError, ""),
    (r#""inf""#, InvalidParameterError, ""),
    ("true", InvalidParameterError, ""),
    ("[]", InvalidParameterError, ""),
    ("[50]", InvalidParameterError, ""),
    ("{}", InvalidParameterError, ""),
];

/// `analyses` of multi_analysis (§2.6: an object label → analysis).
const ANALYSES: &[Rule] = &[
    (MISSING, MissingParameterError, ""),
    ("null", MissingParameterError, ""),
    ("1", InvalidParameterError, ""),
    (r#""x""#, InvalidParameterError, ""),
    ("true", InvalidParameterError, ""),
    ("[]", InvalidParameterError, ""),
    (r#"[{"analysis_type": "count"}]"#, InvalidParameterError, ""),
    ("{}", InvalidParameterError, ""),
    (r#""{}""#, InvalidParameterError, ""),
    (
        r#"{"gross": {"analysis_type": "sum", "target_property": "price"}, "": {"analysis_type": "count"}}"#,
        InvalidParameterError,
        "",
    ),
];

/// One member of `analyses` (the value under its label).
const ANALYSIS_MEMBER: &[Rule] = &[
    ("1", InvalidParameterError, ""),
    ("null", InvalidParameterError, ""),
    (r#""sum""#, InvalidParameterError, ""),
    ("true", InvalidParameterError, ""),
    ("[]", InvalidParameterError, ""),
    ("{}", MissingParameterError, ".analysis_type"),
];

/// A multi-analysis member's `analysis_type` (§2.6: simple types only).
const MEMBER_TYPE: &[Rule] = &[
    (MISSING, MissingParameterError, ""),
    ("null", MissingParameterError, ""),
    (r#""funnel""#, InvalidParameterError, ""),
    (r#""extraction""#, InvalidParameterError, ""),
    (r#""multi_analysis""#, InvalidParameterError, ""),
    (r#""counts""#, InvalidParameterError, ""),
    (r#""Sum""#, InvalidParameterError, ""),
    (r#""""#, InvalidParameterError, ""),
    ("1", InvalidParameterError, ""),
    ("true", InvalidParameterError, ""),
    ("[]", InvalidParameterError, ""),
    ("{}", InvalidParameterError, ""),
];

/// Funnel `steps` (§2.5: required, 1 to 25 step objects).
const STEPS: &[Rule] = &[
    (MISSING, MissingParameterError, ""),
    ("null", MissingParameterError, ""),
    ("1", InvalidParameterError, ""),
    (r#""x""#, InvalidParameterError, ""),
    ("true", InvalidParameterError, ""),
    ("{}", InvalidParameterError, ""),
    (r#"{"event_collection": "signups", "actor_property": "user.id"}"#, InvalidParameterError, ""),
    ("[]", InvalidParameterError, ""),
    (r#""[]""#, InvalidParameterError, ""),
    ("[1]", InvalidParameterError, "[0]"),
    (r#"["signups"]"#, InvalidParameterError, "[0]"),
    ("[null]", InvalidParameterError, "[0]"),
    ("[[]]", InvalidParameterError, "[0]"),
];

/// One funnel step, replaced whole.
const STEP: &[Rule] = &[
    ("1", InvalidParameterError, ""),
    ("null", InvalidParameterError, ""),
    (r#""signups""#, InvalidParameterError, ""),
    ("true", InvalidParameterError, ""),
    ("[]", InvalidParameterError, ""),
];

/// Extraction `latest` (§9.5: an integer ≥ 1).
const LATEST: &[Rule] = &[
    ("0", InvalidParameterError, ""),
    ("-1", InvalidParameterError, ""),
    ("1.5", InvalidParameterError, ""),
    (r#""x""#, InvalidParameterError, ""),
    (r#""""#, InvalidParameterError, ""),
    (r#""0""#, InvalidParameterError, ""),
    (r#""-1""#, InvalidParameterError, ""),
    ("true", InvalidParameterError, ""),
    ("[]", InvalidParameterError, ""),
    ("[10]", InvalidParameterError, ""),
    ("{}", InvalidParameterError, ""),
];

/// Extraction `property_names` (a non-empty array of non-empty paths).
const PROPERTY_NAMES: &[Rule] = &[
    ("[]", InvalidParameterError, ""),
    (r#""[]""#, InvalidParameterError, ""),
    (r#""user.id""#, InvalidParameterError, ""),
    ("1", InvalidParameterError, ""),
    ("true", InvalidParameterError, ""),
    ("{}", InvalidParameterError, ""),
    (r#"["user.id", ""]"#, InvalidParameterError, "[1]"),
    (r#"["user.id", 1]"#, InvalidParameterError, "[1]"),
    ("[null]", InvalidParameterError, "[0]"),
    (r#"[["user.id"]]"#, InvalidParameterError, "[0]"),
    ("[{}]", InvalidParameterError, "[0]"),
];

/// Extraction `content_type` (`"text/csv"` or `"application/json"`).
const CONTENT_TYPE: &[Rule] = &[
    (r#""text/html""#, InvalidParameterError, ""),
    (r#""csv""#, InvalidParameterError, ""),
    (r#""json""#, InvalidParameterError, ""),
    (r#""""#, InvalidParameterError, ""),
    ("1", InvalidParameterError, ""),
    ("true", InvalidParameterError, ""),
    ("[]", InvalidParameterError, ""),
    ("{}", InvalidParameterError, ""),
];

/// Extraction `email` (a non-empty string).
const EMAIL: &[Rule] = &[
    (r#""""#, InvalidParameterError, ""),
    ("1", InvalidParameterError, ""),
    ("true", InvalidParameterError, ""),
    ("[]", InvalidParameterError, ""),
    (r#"["ops@example.com"]"#, InvalidParameterError, ""),
    ("{}", InvalidParameterError, ""),
];

/// The `filters` member itself (§3.1: an array, or on GET a string
/// holding one).
const FILTERS: &[Rule] = &[
    ("42", FilterDefinitionError, ""),
    ("true", FilterDefinitionError, ""),
    (r#""abc""#, FilterDefinitionError, ""),
    (r#""""#, FilterDefinitionError, ""),
    (
        r#"{"property_name": "a", "operator": "exists", "property_value": true}"#,
        FilterDefinitionError,
        "",
    ),
    (r#""[1]""#, FilterDefinitionError, "[0]"),
    (r#""[{\"operator\": \"nope\"}]""#, FilterDefinitionError, "[0].operator"),
];

/// One valid filter per operator (§3.2); the filter rules mutate these.
const VALID_FILTERS: &[(&str, &str)] = &[
    ("eq", r#"{"property_name": "plan", "operator": "eq", "property_value": "pro"}"#),
    ("ne", r#"{"property_name": "plan", "operator": "ne", "property_value": "free"}"#),
    ("lt", r#"{"property_name": "price", "operator": "lt", "property_value": 10}"#),
    ("lte", r#"{"property_name": "price", "operator": "lte", "property_value": 10.5}"#),
    ("gt", r#"{"property_name": "price", "operator": "gt", "property_value": "a"}"#),
    (
        "gte",
        r#"{"property_name": "at", "operator": "gte", "property_value": "2024-06-01T00:00:00Z"}"#,
    ),
    ("exists", r#"{"property_name": "plan", "operator": "exists", "property_value": true}"#),
    ("in", r#"{"property_name": "user.id", "operator": "in", "property_value": ["u1", 2, null]}"#),
    ("contains", r#"{"property_name": "name", "operator": "contains", "property_value": "pro"}"#),
    (
        "not_contains",
        r#"{"property_name": "tags", "operator": "not_contains", "property_value": 3}"#,
    ),
    ("regex", r#"{"property_name": "email", "operator": "regex", "property_value": "^[a-z]+@"}"#),
    (
        "within",
        r#"{"property_name": "keen.location.coordinates", "operator": "within",
            "property_value": {"coordinates": [-122.4, 37.7], "max_distance_miles": 10}}"#,
    ),
    (
        "or",
        r#"{"operator": "or", "property_value": [
            {"property_name": "plan", "operator": "eq", "property_value": "pro"},
            {"property_name": "user.id", "operator": "in", "property_value": ["u1", "u2"]}]}"#,
    ),
];

/// Shape rules applied to the valid filter of every operator: (member, bad
/// value, code, path relative to the filter). `property_name` and
/// `property_type` rules skip `or`, which ignores both (§3.2).
const FILTER_SHAPE: &[(&str, &str, QueryErrorCode, &str)] = &[
    ("operator", MISSING, FilterDefinitionError, ".operator"),
    ("operator", "null", FilterDefinitionError, ".operator"),
    ("operator", r#""equals""#, FilterDefinitionError, ".operator"),
    ("operator", r#""EQ""#, FilterDefinitionError, ".operator"),
    ("operator", r#""""#, FilterDefinitionError, ".operator"),
    ("operator", r#""not_in""#, FilterDefinitionError, ".operator"),
    ("operator", r#""and""#, FilterDefinitionError, ".operator"),
    ("operator", r#""starts_with""#, FilterDefinitionError, ".operator"),
    ("operator", r#""=""#, FilterDefinitionError, ".operator"),
    ("operator", "1", FilterDefinitionError, ".operator"),
    ("operator", "true", FilterDefinitionError, ".operator"),
    ("operator", r#"["eq"]"#, FilterDefinitionError, ".operator"),
    ("operator", r#"{"name": "eq"}"#, FilterDefinitionError, ".operator"),
    ("property_value", MISSING, FilterDefinitionError, ".property_value"),
    ("property_name", MISSING, FilterDefinitionError, ".property_name"),
    ("property_name", "null", FilterDefinitionError, ".property_name"),
    ("property_name", r#""""#, FilterDefinitionError, ".property_name"),
    ("property_name", "1", FilterDefinitionError, ".property_name"),
    ("property_name", "true", FilterDefinitionError, ".property_name"),
    ("property_name", r#"["plan"]"#, FilterDefinitionError, ".property_name"),
    ("property_name", "{}", FilterDefinitionError, ".property_name"),
    ("property_type", r#""Integer""#, FilterDefinitionError, ".property_type"),
    ("property_type", r#""str""#, FilterDefinitionError, ".property_type"),
    ("property_type", r#""Date""#, FilterDefinitionError, ".property_type"),
    ("property_type", r#""""#, FilterDefinitionError, ".property_type"),
    ("property_type", "1", FilterDefinitionError, ".property_type"),
    ("property_type", "true", FilterDefinitionError, ".property_type"),
    ("property_type", r#"["String"]"#, FilterDefinitionError, ".property_type"),
    ("property_type", "{}", FilterDefinitionError, ".property_type"),
];

/// Operands each operator refuses (§3.2): (operator, bad `property_value`,
/// path relative to `.property_value`). All are `FilterDefinitionError`.
const BAD_OPERANDS: &[(&str, &str, &str)] = &[
    ("eq", r#"{"a": 1}"#, ""),
    ("eq", "{}", ""),
    ("eq", r#"[1, {"a": 1}]"#, "[1]"),
    ("eq", "[[1]]", "[0]"),
    ("eq", "[{}]", "[0]"),
    ("ne", r#"{"a": 1}"#, ""),
    ("ne", r#"[1, {"a": 1}]"#, "[1]"),
    ("ne", r#"["a", ["b"]]"#, "[1]"),
    ("lt", "true", ""),
    ("lt", "null", ""),
    ("lt", "[1]", ""),
    ("lt", "{}", ""),
    ("lte", "false", ""),
    ("lte", "null", ""),
    ("lte", "[]", ""),
    ("lte", r#"{"a": 1}"#, ""),
    ("gt", "true", ""),
    ("gt", "null", ""),
    ("gt", r#"["a"]"#, ""),
    ("gt", "{}", ""),
    ("gte", "false", ""),
    ("gte", "null", ""),
    ("gte", "[1, 2]", ""),
    ("gte", r#"{"from": 1}"#, ""),
    ("exists", r#""true""#, ""),
    ("exists", r#""yes""#, ""),
    ("exists", "1", ""),
    ("exists", "0", ""),
    ("exists", "null", ""),
    ("exists", "[]", ""),
    ("exists", "[true]", ""),
    ("exists", "{}", ""),
    ("in", "[]", ""),
    ("in", "{}", ""),
    ("in", r#""u1""#, ""),
    ("in", "1", ""),
    ("in", "null", ""),
    ("in", "true", ""),
    ("in", r#""[]""#, ""),
    ("in", r#"{"a": [1]}"#, ""),
    ("in", r#"["u1", {"a": 1}]"#, "[1]"),
    ("in", r#"[{}]"#, "[0]"),
    ("in", "[[1]]", "[0]"),
    ("in", r#"["u1", "u2", ["u3"]]"#, "[2]"),
    ("contains", "null", ""),
    ("contains", "[]", ""),
    ("contains", r#"["a"]"#, ""),
    ("contains", r#"{"a": 1}"#, ""),
    ("not_contains", "null", ""),
    ("not_contains", "[]", ""),
    ("not_contains", "[1]", ""),
    ("not_contains", "{}", ""),
    ("regex", "1", ""),
    ("regex", "null", ""),
    ("regex", "true", ""),
    ("regex", "[]", ""),
    ("regex", r#"["a"]"#, ""),
    ("regex", "{}", ""),
    ("regex", r#""(""#, ""),
    ("regex", r#""[""#, ""),
    ("regex", r#""a{2,1}""#, ""),
    ("regex", r#""(?<=a)b""#, ""),
    ("regex", r#""a(?=b)""#, ""),
    ("regex", r#""(a)\\1""#, ""),
    ("regex", r#""[z-a]""#, ""),
    ("regex", r#""*a""#, ""),
    ("regex", r#""(?P<n>a)(?P<n>b)""#, ""),
    ("regex", r#""\\""#, ""),
    ("within", r#""near""#, ""),
    ("within", "1", ""),
    ("within", "null", ""),
    ("within", "true", ""),
    ("within", "[-122.4, 37.7]", ""),
    ("within", "{}", ".coordinates"),
    ("within", r#"{"max_distance_miles": 10}"#, ".coordinates"),
    ("within", r#"{"coordinates": null, "max_distance_miles": 10}"#, ".coordinates"),
    ("within", r#"{"coordinates": [1], "max_distance_miles": 10}"#, ".coordinates"),
    ("within", r#"{"coordinates": [1, 2, 3], "max_distance_miles": 10}"#, ".coordinates"),
    ("within", r#"{"coordinates": ["a", "b"], "max_distance_miles": 10}"#, ".coordinates"),
    ("within", r#"{"coordinates": "1,2", "max_distance_miles": 10}"#, ".coordinates"),
    (
        "within",
        r#"{"coordinates": {"lon": 1, "lat": 2}, "max_distance_miles": 10}"#,
        ".coordinates",
    ),
    ("within", r#"{"coordinates": [181, 0], "max_distance_miles": 10}"#, ".coordinates"),
    ("within", r#"{"coordinates": [-180.5, 0], "max_distance_miles": 10}"#, ".coordinates"),
    ("within", r#"{"coordinates": [0, 90.01], "max_distance_miles": 10}"#, ".coordinates"),
    ("within", r#"{"coordinates": [0, -91], "max_distance_miles": 10}"#, ".coordinates"),
    ("within", r#"{"coordinates": [0, 0]}"#, ".max_distance_miles"),
    ("within", r#"{"coordinates": [0, 0], "max_distance_miles": null}"#, ".max_distance_miles"),
    ("within", r#"{"coordinates": [0, 0], "max_distance_miles": -1}"#, ".max_distance_miles"),
    ("within", r#"{"coordinates": [0, 0], "max_distance_miles": "10"}"#, ".max_distance_miles"),
    ("within", r#"{"coordinates": [0, 0], "max_distance_miles": true}"#, ".max_distance_miles"),
    ("within", r#"{"coordinates": [0, 0], "max_distance_miles": [10]}"#, ".max_distance_miles"),
    ("or", "[]", ""),
    ("or", "{}", ""),
    ("or", r#""x""#, ""),
    ("or", r#""[]""#, ""),
    ("or", "1", ""),
    ("or", "null", ""),
    ("or", "true", ""),
    ("or", "[1]", "[0]"),
    ("or", "[null]", "[0]"),
    ("or", "[[]]", "[0]"),
    (
        "or",
        r#"[{"property_name": "a", "operator": "equals", "property_value": 1}]"#,
        "[0].operator",
    ),
    (
        "or",
        r#"[{"property_name": "a", "operator": "eq", "property_value": 1}, {"operator": "eq"}]"#,
        "[1].property_name",
    ),
    (
        "or",
        r#"[{"property_name": "a", "operator": "eq", "property_value": 1},
            {"operator": "or", "property_value": [{"property_name": "b", "operator": "in", "property_value": []}]}]"#,
        "[1].property_value[0].property_value",
    ),
    ("or", r#"[{"operator": "or", "property_value": []}]"#, "[0].property_value"),
];

/// Whole bad filters that the tables above do not cover: `property_type`
/// coercions (§3.1), `within` on another property (§3.2), non-objects.
const BAD_FILTERS: &[(&str, QueryErrorCode, &str)] = &[
    (
        r#"{"property_name": "price", "operator": "eq", "property_value": "abc", "property_type": "Number"}"#,
        FilterDefinitionError,
        ".property_value",
    ),
    (
        r#"{"property_name": "price", "operator": "gt", "property_value": "1e", "property_type": "Number"}"#,
        FilterDefinitionError,
        ".property_value",
    ),
    (
        r#"{"property_name": "price", "operator": "gt", "property_value": "NaN", "property_type": "number"}"#,
        FilterDefinitionError,
        ".property_value",
    ),
    (
        r#"{"property_name": "price", "operator": "eq", "property_value": true, "property_type": "Number"}"#,
        FilterDefinitionError,
        ".property_value",
    ),
    (
        r#"{"property_name": "on", "operator": "eq", "property_value": "yes", "property_type": "Boolean"}"#,
        FilterDefinitionError,
        ".property_value",
    ),
    (
        r#"{"property_name": "on", "operator": "exists", "property_value": "TRUE", "property_type": "Boolean"}"#,
        FilterDefinitionError,
        ".property_value",
    ),
    (
        r#"{"property_name": "on", "operator": "eq", "property_value": 1, "property_type": "Boolean"}"#,
        FilterDefinitionError,
        ".property_value",
    ),
    (
        r#"{"property_name": "at", "operator": "gt", "property_value": "2024-13-01T00:00:00Z", "property_type": "Datetime"}"#,
        FilterDefinitionError,
        ".property_value",
    ),
    (
        r#"{"property_name": "at", "operator": "lt", "property_value": "yesterday", "property_type": "Datetime"}"#,
        FilterDefinitionError,
        ".property_value",
    ),
    (
        r#"{"property_name": "at", "operator": "eq", "property_value": 5, "property_type": "Datetime"}"#,
        FilterDefinitionError,
        ".property_value",
    ),
    (
        r#"{"property_name": "at", "operator": "eq", "property_value": true, "property_type": "Datetime"}"#,
        FilterDefinitionError,
        ".property_value",
    ),
    (
        r#"{"property_name": "price", "operator": "in", "property_value": ["1", "x"], "property_type": "Number"}"#,
        FilterDefinitionError,
        ".property_value[1]",
    ),
    (
        r#"{"property_name": "tags", "operator": "eq", "property_value": ["1", "x"], "property_type": "Number"}"#,
        FilterDefinitionError,
        ".property_value[1]",
    ),
    (
        r#"{"property_name": "on", "operator": "in", "property_value": ["true", "no"], "property_type": "Boolean"}"#,
        FilterDefinitionError,
        ".property_value[1]",
    ),
    (
        r#"{"property_name": "name", "operator": "contains", "property_value": "x", "property_type": "Number"}"#,
        FilterDefinitionError,
        ".property_value",
    ),
    (
        r#"{"property_name": "location", "operator": "within",
            "property_value": {"coordinates": [0, 0], "max_distance_miles": 1}}"#,
        InvalidPropertyNameForGeoFilter,
        ".property_name",
    ),
    (
        r#"{"property_name": "keen.location", "operator": "within",
            "property_value": {"coordinates": [0, 0], "max_distance_miles": 1}}"#,
        InvalidPropertyNameForGeoFilter,
        ".property_name",
    ),
    (
        r#"{"property_name": "Keen.Location.Coordinates", "operator": "within",
            "property_value": {"coordinates": [0, 0], "max_distance_miles": 1}}"#,
        InvalidPropertyNameForGeoFilter,
        ".property_name",
    ),
    (
        r#"{"property_name": "keen.location.coordinates.0", "operator": "within",
            "property_value": {"coordinates": [0, 0], "max_distance_miles": 1}}"#,
        InvalidPropertyNameForGeoFilter,
        ".property_name",
    ),
    (
        r#"{"property_name": "user.location", "operator": "within", "property_value": "bad"}"#,
        InvalidPropertyNameForGeoFilter,
        ".property_name",
    ),
    ("1", FilterDefinitionError, ""),
    (r#""plan eq pro""#, FilterDefinitionError, ""),
    ("true", FilterDefinitionError, ""),
    ("null", FilterDefinitionError, ""),
    ("[]", FilterDefinitionError, ""),
    (
        r#"[{"property_name": "plan", "operator": "exists", "property_value": true}]"#,
        FilterDefinitionError,
        "",
    ),
    ("{}", FilterDefinitionError, ".operator"),
];

// ------------------------------------------------------------- the bases

/// The simple analysis types (§2.2).
const SIMPLE: &[&str] = &[
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
];

/// A valid filter used beside the bad one.
fn ok_filter(i: usize) -> Value {
    json!({"property_name": format!("p{i}"), "operator": "exists", "property_value": true})
}

/// The three flavours of a simple or multi query: plain, every optional
/// member set, grouped with order_by and limit.
#[derive(Clone, Copy, PartialEq)]
enum Flavour {
    Plain,
    Full,
    Grouped,
}

const FLAVOURS: [Flavour; 3] = [Flavour::Plain, Flavour::Full, Flavour::Grouped];

fn with_flavour(mut body: Value, flavour: Flavour, order_key: &str) -> Value {
    let o = body.as_object_mut().unwrap();
    match flavour {
        Flavour::Plain => {}
        Flavour::Full => {
            o.insert(
                "timeframe".into(),
                json!({"start": "2024-06-01T00:00:00.000Z", "end": "2024-07-01T00:00:00.000Z"}),
            );
            o.insert("timezone".into(), json!("US/Pacific"));
            o.insert("interval".into(), json!("daily"));
            o.insert("filters".into(), json!([ok_filter(0)]));
            o.insert("max_age".into(), json!(300));
            o.insert("include_metadata".into(), json!(true));
        }
        Flavour::Grouped => {
            o.insert("group_by".into(), json!("item.id"));
            o.insert("order_by".into(), json!({"property_name": order_key, "direction": "DESC"}));
            o.insert("limit".into(), json!(3));
        }
    }
    body
}

fn simple_base(t: &str, flavour: Flavour) -> Value {
    let mut body =
        json!({"analysis_type": t, "event_collection": "purchases", "timeframe": "this_7_days"});
    if t != "count" {
        body["target_property"] = json!("price");
    }
    if t == "percentile" {
        body["percentile"] = json!(90);
    }
    with_flavour(body, flavour, "result")
}

fn multi_base(flavour: Flavour) -> Value {
    let body = json!({
        "analysis_type": "multi_analysis", "event_collection": "purchases", "timeframe": "this_7_days",
        "analyses": {
            "gross": {"analysis_type": "sum", "target_property": "price"},
            "buyers": {"analysis_type": "count_unique", "target_property": "user.id"},
            "p90": {"analysis_type": "percentile", "target_property": "price", "percentile": 90},
            "n": {"analysis_type": "count"}
        }
    });
    with_flavour(body, flavour, "gross")
}

/// `top`: the funnel's timeframe/timezone are given at the top and not on
/// the steps; else each step has its own.
fn funnel_base(top: bool) -> Value {
    let step = |c: &str| {
        let mut s = json!({"event_collection": c, "actor_property": "user.id"});
        if !top {
            s["timeframe"] = json!("this_7_days");
            s["timezone"] = json!("UTC");
        }
        s
    };
    let mut steps = vec![step("signups"), step("purchases"), step("referrals")];
    steps[1]["with_actors"] = json!(true);
    steps[2]["optional"] = json!(true);
    steps[2]["inverted"] = json!(true);
    let mut body = json!({"analysis_type": "funnel", "steps": steps});
    if top {
        body["timeframe"] = json!("previous_2_weeks");
        body["timezone"] = json!(-28800);
        body["include_metadata"] = json!(false);
        body["steps"][1]["filters"] = json!([ok_filter(0)]);
    }
    body
}

fn extraction_base(full: bool) -> Value {
    let mut body = json!({"analysis_type": "extraction", "event_collection": "purchases", "timeframe": "this_7_days"});
    if full {
        body = json!({
            "analysis_type": "extraction", "event_collection": "purchases",
            "timeframe": {"start": "2024-06-01T00:00:00Z", "end": "2024-06-02T00:00:00Z"},
            "timezone": "Europe/London", "filters": [ok_filter(0)], "latest": 10,
            "property_names": ["user.id", "keen.timestamp"], "content_type": "text/csv",
            "email": "ops@example.com", "include_metadata": true
        });
    }
    body
}

// -------------------------------------------------------------- the cases

struct Case {
    body: Value,
    code: QueryErrorCode,
    path: String,
    rule: String,
}

#[derive(Default)]
struct Cases(Vec<Case>);

impl Cases {
    /// `body` with the member `member` of the object at JSON pointer
    /// `parent` replaced by `value` (JSON text, or [`MISSING`]).
    fn mutate(body: &Value, parent: &str, member: &str, value: &Value) -> Value {
        let mut body = body.clone();
        let missing = value.as_str() == Some(MISSING);
        match body.pointer_mut(parent) {
            Some(Value::Object(obj)) => {
                if missing {
                    obj.remove(member);
                } else {
                    obj.insert(member.to_string(), value.clone());
                }
            }
            Some(Value::Array(items)) if !missing => {
                let i: usize = member.parse().expect("an array index");
                items[i] = value.clone();
            }
            _ => panic!("no object or array at {parent:?}"),
        }
        body
    }

    fn push(&mut self, body: Value, code: QueryErrorCode, path: String, rule: String) {
        self.0.push(Case { body, code, path, rule });
    }

    /// Each rule applied to `member` of the object at `parent`, whose error
    /// path is `field`.
    fn rules(&mut self, base: &Value, parent: &str, member: &str, field: &str, rules: &[Rule]) {
        for &(text, code, at) in rules {
            let value = value_of(text);
            self.push(
                Self::mutate(base, parent, member, &value),
                code,
                format!("{field}{at}"),
                format!("{field} = {text}"),
            );
        }
    }

    /// Each rule with a computed value.
    fn owned_rules(
        &mut self,
        base: &Value,
        parent: &str,
        member: &str,
        field: &str,
        rules: &[(Value, QueryErrorCode, String)],
    ) {
        for (value, code, at) in rules {
            self.push(
                Self::mutate(base, parent, member, value),
                *code,
                format!("{field}{at}"),
                format!("{field} = <generated {}>", short(value)),
            );
        }
    }

    /// Every bad filter, placed in the `filters` member of the object at
    /// `parent` (error path `field`): alone, third after two good ones, and
    /// nested as the second member of an `or`.
    fn filters(&mut self, base: &Value, parent: &str, field: &str) {
        self.rules(base, parent, "filters", field, FILTERS);
        for (filter, code, at) in bad_filters() {
            let placements = [
                (json!([filter.clone()]), format!("{field}[0]")),
                (json!([ok_filter(1), ok_filter(2), filter.clone()]), format!("{field}[2]")),
                (
                    json!([ok_filter(1), {"operator": "or", "property_value": [ok_filter(2), filter.clone()]}]),
                    format!("{field}[1].property_value[1]"),
                ),
            ];
            for (list, path) in placements {
                self.push(
                    Self::mutate(base, parent, "filters", &list),
                    code,
                    format!("{path}{at}"),
                    format!("{path} = {}", short(&filter)),
                );
            }
        }
        // §3.1: more than 100 filters in one query.
        let many: Vec<Value> = (0..101).map(ok_filter).collect();
        self.push(
            Self::mutate(base, parent, "filters", &Value::Array(many)),
            LimitExceededError,
            format!("{field}[100]"),
            format!("{field} = 101 filters"),
        );
        // RELIABILITY §3c: an `in` list holds at most 10,000 members.
        let members: Vec<Value> = (0..10_001).map(|i| json!(i)).collect();
        let f = json!({"property_name": "n", "operator": "in", "property_value": members});
        self.push(
            Self::mutate(base, parent, "filters", &json!([ok_filter(0), f])),
            LimitExceededError,
            format!("{field}[1].property_value"),
            format!("{field}[1] = in with 10,001 members"),
        );
    }
}

fn value_of(text: &str) -> Value {
    if text == MISSING {
        Value::String(MISSING.into())
    } else {
        serde_json::from_str(text)
            .unwrap_or_else(|e| panic!("bad JSON in a rule table {text}: {e}"))
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 120 {
        format!("{}…", s.chars().take(120).collect::<String>())
    } else {
        s
    }
}

/// Every bad filter with its code and path relative to the filter.
fn bad_filters() -> Vec<(Value, QueryErrorCode, String)> {
    let mut out = Vec::new();
    for &(op, valid) in VALID_FILTERS {
        let valid = value_of(valid);
        for &(member, text, code, at) in FILTER_SHAPE {
            if op == "or" && matches!(member, "property_name" | "property_type") {
                continue;
            }
            let f = Cases::mutate(&valid, "", member, &value_of(text));
            out.push((f, code, at.to_string()));
        }
        for &(bad_op, text, at) in BAD_OPERANDS {
            if bad_op == op {
                let f = Cases::mutate(&valid, "", "property_value", &value_of(text));
                out.push((f, FilterDefinitionError, format!(".property_value{at}")));
            }
        }
    }
    for &(text, code, at) in BAD_FILTERS {
        out.push((value_of(text), code, at.to_string()));
    }
    // §3.2: a regex pattern of more than 1,000 characters.
    let long = "a".repeat(1_001);
    let f = json!({"property_name": "email", "operator": "regex", "property_value": long});
    out.push((f, FilterDefinitionError, ".property_value".into()));
    let long = "é".repeat(1_001);
    let f = json!({"property_name": "email", "operator": "regex", "property_value": long});
    out.push((f, FilterDefinitionError, ".property_value".into()));
    out
}

/// group_by of 11 paths (§6.1: 1 to 10).
fn eleven_paths() -> Vec<(Value, QueryErrorCode, String)> {
    let paths: Vec<Value> = (0..11).map(|i| json!(format!("g{i}"))).collect();
    vec![(Value::Array(paths), InvalidParameterError, String::new())]
}

/// The rules every simple and multi query shares (§2.1, §4–6).
fn common_cases(cases: &mut Cases, base: &Value, flavour: Flavour, multi: bool) {
    cases.rules(base, "", "event_collection", "event_collection", REQUIRED_STRING);
    cases.rules(base, "", "timeframe", "timeframe", TIMEFRAME);
    cases.rules(base, "", "timezone", "timezone", TIMEZONE);
    cases.rules(base, "", "interval", "interval", INTERVAL);
    cases.rules(base, "", "group_by", "group_by", GROUP_BY);
    cases.owned_rules(base, "", "group_by", "group_by", &eleven_paths());
    cases.rules(base, "", "max_age", "max_age", MAX_AGE);
    cases.rules(base, "", "include_metadata", "include_metadata", BOOLEAN);
    if flavour == Flavour::Grouped {
        cases.rules(base, "", "order_by", "order_by", ORDER_BY);
        if multi {
            cases.rules(base, "", "order_by", "order_by", ORDER_BY_MULTI);
        }
        cases.rules(base, "", "limit", "limit", LIMIT);
        // §6.3: order_by requires group_by, limit requires order_by.
        let missing = value_of(MISSING);
        let no_group = Cases::mutate(base, "", "group_by", &missing);
        cases.push(no_group, InvalidParameterError, "order_by".into(), "no group_by".into());
        let no_order = Cases::mutate(base, "", "order_by", &missing);
        cases.push(no_order, InvalidParameterError, "limit".into(), "no order_by".into());
    } else {
        let order = json!({"property_name": if multi { "gross" } else { "result" }});
        let b = Cases::mutate(base, "", "order_by", &order);
        cases.push(b, InvalidParameterError, "order_by".into(), "order_by without group_by".into());
        let b = Cases::mutate(base, "", "limit", &json!(3));
        cases.push(b, InvalidParameterError, "limit".into(), "limit without order_by".into());
    }
    if flavour == Flavour::Plain {
        cases.filters(base, "", "filters");
    } else if flavour == Flavour::Full {
        // A bad filter after the base's good one.
        for (filter, code, at) in bad_filters().into_iter().step_by(3) {
            let list = json!([ok_filter(0), filter]);
            let b = Cases::mutate(base, "", "filters", &list);
            cases.push(b, code, format!("filters[1]{at}"), "filters[1]".into());
        }
    }
}

fn all_cases() -> (Vec<Value>, Vec<Case>) {
    let mut bases = Vec::new();
    let mut cases = Cases::default();
    for &t in SIMPLE {
        for flavour in FLAVOURS {
            let base = simple_base(t, flavour);
            cases.rules(&base, "", "analysis_type", "analysis_type", ANALYSIS_TYPE);
            if t != "count" {
                cases.rules(&base, "", "target_property", "target_property", TARGET_PROPERTY);
            }
            if t == "percentile" {
                cases.rules(&base, "", "percentile", "percentile", PERCENTILE);
            }
            common_cases(&mut cases, &base, flavour, false);
            bases.push(base);
        }
    }
    for flavour in FLAVOURS {
        let base = multi_base(flavour);
        cases.rules(&base, "", "analysis_type", "analysis_type", ANALYSIS_TYPE);
        cases.rules(&base, "", "analyses", "analyses", ANALYSES);
        for label in ["gross", "buyers", "p90", "n"] {
            let field = format!("analyses.{label}");
            let ptr = format!("/analyses/{label}");
            cases.rules(&base, "/analyses", label, &field, ANALYSIS_MEMBER);
            cases.rules(
                &base,
                &ptr,
                "analysis_type",
                &format!("{field}.analysis_type"),
                MEMBER_TYPE,
            );
            if label != "n" {
                let f = format!("{field}.target_property");
                cases.rules(&base, &ptr, "target_property", &f, TARGET_PROPERTY);
            }
            if label == "p90" {
                cases.rules(&base, &ptr, "percentile", &format!("{field}.percentile"), PERCENTILE);
            }
        }
        if flavour == Flavour::Grouped {
            // §2.6: a label may not equal a group_by property.
            let count = json!({"analysis_type": "count"});
            let b = Cases::mutate(&base, "/analyses", "item.id", &count);
            cases.push(b, InvalidParameterError, "analyses.item.id".into(), "label = group".into());
            let b = Cases::mutate(&base, "", "group_by", &json!(["day", "gross"]));
            let b = Cases::mutate(&b, "", "order_by", &json!("day"));
            cases.push(b, InvalidParameterError, "analyses.gross".into(), "group = label".into());
        }
        common_cases(&mut cases, &base, flavour, true);
        bases.push(base);
    }
    for top in [false, true] {
        let base = funnel_base(top);
        cases.rules(&base, "", "analysis_type", "analysis_type", ANALYSIS_TYPE);
        cases.rules(&base, "", "steps", "steps", STEPS);
        let steps26: Vec<Value> = (0..26)
            .map(|_| json!({"event_collection": "c", "actor_property": "a", "timeframe": "today"}))
            .collect();
        cases.owned_rules(
            &base,
            "",
            "steps",
            "steps",
            &[(Value::Array(steps26), InvalidParameterError, String::new())],
        );
        for k in 0..3 {
            let field = format!("steps[{k}]");
            let ptr = format!("/steps/{k}");
            cases.rules(&base, "/steps", &k.to_string(), &field, STEP);
            for m in ["event_collection", "actor_property"] {
                cases.rules(&base, &ptr, m, &format!("{field}.{m}"), REQUIRED_STRING);
            }
            let tf: Vec<Rule> = TIMEFRAME
                .iter()
                .copied()
                .filter(|r| !top || !(r.0 == MISSING || r.0 == "null"))
                .collect();
            cases.rules(&base, &ptr, "timeframe", &format!("{field}.timeframe"), &tf);
            cases.rules(&base, &ptr, "timezone", &format!("{field}.timezone"), TIMEZONE);
            for m in ["optional", "inverted", "with_actors"] {
                cases.rules(&base, &ptr, m, &format!("{field}.{m}"), BOOLEAN);
            }
            if k == 1 {
                cases.filters(&base, &ptr, &format!("{field}.filters"));
            }
        }
        // §2.5: step 0 may be neither optional nor inverted.
        for (m, v) in
            [("optional", json!(true)), ("inverted", json!(true)), ("optional", json!("true"))]
        {
            let b = Cases::mutate(&base, "/steps/0", m, &v);
            cases.push(b, InvalidParameterError, format!("steps[0].{m}"), format!("steps[0].{m}"));
        }
        let b = Cases::mutate(&base, "/steps/0", "inverted", &json!("true"));
        cases.push(
            b,
            InvalidParameterError,
            "steps[0].inverted".into(),
            "steps[0].inverted".into(),
        );
        // A top-level timeframe/timezone is validated even when the steps
        // have their own.
        let tf: Vec<Rule> =
            TIMEFRAME.iter().copied().filter(|r| !(r.0 == MISSING || r.0 == "null")).collect();
        cases.rules(&base, "", "timeframe", "timeframe", &tf);
        cases.rules(&base, "", "timezone", "timezone", TIMEZONE);
        if top {
            // No timeframe anywhere: the first step reports it.
            let b = Cases::mutate(&base, "", "timeframe", &value_of(MISSING));
            cases.push(
                b,
                TimeframeDefinitionError,
                "steps[0].timeframe".into(),
                "no timeframe".into(),
            );
        }
        cases.rules(&base, "", "include_metadata", "include_metadata", BOOLEAN);
        cases.rules(&base, "", "max_age", "max_age", MAX_AGE);
        bases.push(base);
    }
    for full in [false, true] {
        let base = extraction_base(full);
        cases.rules(&base, "", "analysis_type", "analysis_type", ANALYSIS_TYPE);
        cases.rules(&base, "", "event_collection", "event_collection", REQUIRED_STRING);
        cases.rules(&base, "", "timeframe", "timeframe", TIMEFRAME);
        cases.rules(&base, "", "timezone", "timezone", TIMEZONE);
        cases.rules(&base, "", "latest", "latest", LATEST);
        cases.rules(&base, "", "property_names", "property_names", PROPERTY_NAMES);
        cases.rules(&base, "", "content_type", "content_type", CONTENT_TYPE);
        cases.rules(&base, "", "email", "email", EMAIL);
        cases.rules(&base, "", "include_metadata", "include_metadata", BOOLEAN);
        cases.rules(&base, "", "max_age", "max_age", MAX_AGE);
        if !full {
            cases.filters(&base, "", "filters");
        }
        bases.push(base);
    }
    (bases, cases.0)
}

// --------------------------------------------------------------- the test

#[test]
fn every_base_query_is_valid() {
    let (bases, _) = all_cases();
    assert_eq!(bases.len(), 10 * 3 + 3 + 2 + 2);
    for b in &bases {
        if let Err(e) = parse_query(b) {
            panic!("base query {b} should parse, got {e}");
        }
    }
}

#[test]
fn malformed_queries_fail_with_the_golden_code_and_field() {
    let (_, cases) = all_cases();
    // Distinct bodies; a body generated twice must expect the same error.
    let mut seen: BTreeMap<String, (QueryErrorCode, String)> = BTreeMap::new();
    let mut failures = Vec::new();
    for case in &cases {
        let key = case.body.to_string();
        if let Some((code, path)) = seen.get(&key) {
            assert!(
                *code == case.code && *path == case.path,
                "one body, two expectations: {} / {} vs {code} / {path}",
                case.rule,
                case.path
            );
            continue;
        }
        seen.insert(key, (case.code, case.path.clone()));
        let got = catch_unwind(AssertUnwindSafe(|| parse_query(&case.body)));
        let want = format!("{}: ", case.path);
        match got {
            Err(_) => failures.push(format!("PANIC on {} ({})", short(&case.body), case.rule)),
            Ok(Ok(_)) => failures.push(format!(
                "accepted {} ({}); want {} at {}",
                short(&case.body),
                case.rule,
                case.code,
                case.path
            )),
            Ok(Err(e)) if e.code != case.code || !e.message.starts_with(&want) => {
                failures.push(format!(
                    "{}: want {} at {:?}, got {} {:?} — {}",
                    case.rule,
                    case.code,
                    case.path,
                    e.code,
                    e.message,
                    short(&case.body)
                ))
            }
            Ok(Err(_)) => {}
        }
    }
    let distinct = seen.len();
    assert!(
        failures.is_empty(),
        "{} of {distinct} cases failed:\n{}",
        failures.len(),
        failures.iter().take(60).cloned().collect::<Vec<_>>().join("\n")
    );
    assert!(distinct >= 5_000, "only {distinct} distinct malformed queries");
    eprintln!("{distinct} distinct malformed queries, all with the golden error");
}

#[test]
fn each_error_code_is_exercised() {
    let (_, cases) = all_cases();
    let mut per_code: BTreeMap<&str, usize> = BTreeMap::new();
    for c in &cases {
        *per_code.entry(c.code.as_str()).or_default() += 1;
    }
    for code in [
        TimeframeDefinitionError,
        InvalidPropertyNameForGeoFilter,
        FilterDefinitionError,
        MissingParameterError,
        InvalidParameterError,
        LimitExceededError,
    ] {
        assert!(per_code.get(code.as_str()).copied().unwrap_or(0) > 0, "no case for {code}");
    }
}

/// Spot checks of whole messages, so the suite pins wording the rule tables
/// only test by prefix.
#[test]
fn messages_name_the_field_and_say_why() {
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"analysis_type": "count", "event_collection": "c", "timeframe": "this_7_days",
                   "filters": [{"property_name": "a", "operator": "exists", "property_value": true},
                               {"property_name": "a", "operator": "equals", "property_value": 1}]}),
            r#"filters[1].operator: unknown operator "equals""#,
        ),
        (
            json!({"analysis_type": "funnel", "steps": [
                {"event_collection": "a", "actor_property": "u", "timeframe": "today", "optional": true}]}),
            "steps[0].optional: the first step may not be optional",
        ),
        (
            json!({"analysis_type": "multi_analysis", "event_collection": "c", "timeframe": "today",
                   "analyses": {"gross": {"analysis_type": "percentile", "target_property": "p", "percentile": 0}}}),
            "analyses.gross.percentile: 0 is not in (0, 100]",
        ),
        (
            json!({"analysis_type": "count", "event_collection": "c", "timeframe": "today", "limit": 3}),
            "limit: limit requires order_by",
        ),
        (
            json!({"analysis_type": "count", "event_collection": "c", "timeframe": "today",
                   "order_by": "result"}),
            "order_by: order_by requires group_by",
        ),
    ];
    for (body, want) in cases {
        let e = parse_query(&body).expect_err("must fail");
        assert_eq!(e.message, want, "{body}");
    }
}
