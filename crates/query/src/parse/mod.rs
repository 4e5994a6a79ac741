//! Keen query JSON → the typed, validated [`Query`] (keen-semantics §2–6,
//! §9.5).
//!
//! Entry points: [`parse_query`] (the body carries `analysis_type`),
//! [`parse_analysis`] (the type comes from the URL path), [`parse_query_str`]
//! (raw JSON text) and [`parse_filters`] (a filter list on its own, for
//! access-key options). Every error carries Keen's code and a message that
//! starts with the offending field path, e.g.
//! `filters[1].operator: unknown operator "equals"`.
//!
//! ```
//! use serde_json::json;
//! use tally_query::{parse::parse_query, Query};
//! let q = parse_query(&json!({
//!     "analysis_type": "count", "event_collection": "purchases",
//!     "timeframe": "this_7_days", "cache": false
//! })).unwrap();
//! assert!(matches!(q, Query::Analysis { .. }));
//! let err = parse_query(&json!({
//!     "analysis_type": "count", "event_collection": "purchases", "timeframe": "this_7_days",
//!     "filters": [{"property_name": "a", "operator": "eq", "property_value": 1},
//!                 {"property_name": "a", "operator": "equals", "property_value": 1}]
//! })).unwrap_err();
//! assert_eq!(err.message, r#"filters[1].operator: unknown operator "equals""#);
//! ```
//!
//! # Choices
//!
//! Where keen-semantics leaves a detail open (\[ours\]), the parser does this:
//!
//! - **Unknown members** are ignored at every level (query body, filter,
//!   funnel step, multi-analysis member, group_by object). So are members a
//!   type does not use: `target_property` on count, `percentile` on anything
//!   but percentile, `interval`/`group_by`/`order_by`/`limit` on funnel and
//!   extraction, `latest`/`property_names`/`email`/`content_type` outside
//!   extraction.
//! - **`null` is absent** for every optional member (saved-query
//!   definitions echo unset members as `null`, §9.1); for a required member
//!   `null` is "missing".
//! - **GET encoding** (§10.3) is decoded here, so a transport can pass query
//!   string values through as JSON strings: `timeframe`, `filters`,
//!   `group_by`, `order_by`, `steps`, `analyses` and `property_names` given
//!   as a string that holds a JSON array or object are read as that JSON
//!   (a `group_by`/`order_by` string that does not parse stays a path);
//!   `percentile`, `limit`, `latest` and `max_age` accept numeric strings;
//!   `include_metadata`, `optional`, `inverted` and `with_actors` accept
//!   `"true"`/`"false"`.
//! - **Filter limit**: more than [`MAX_FILTERS`] filters in one query
//!   (counting every `or` and its sub-filters; for a funnel, all steps
//!   together) is a `LimitExceededError`.
//! - **`in` limit**: an `in` list of more than [`MAX_IN_MEMBERS`] members
//!   is a `LimitExceededError` naming `filters[i].property_value`.
//! - **`or`** needs a non-empty array of filter objects; `property_name`
//!   is ignored.
//! - **`property_type`** is matched ignoring ASCII case; an unknown name is
//!   a `FilterDefinitionError`. `"Number"` turns a numeric string into a
//!   number, `"Boolean"` turns `"true"`/`"false"` into a boolean,
//!   `"Datetime"` turns an ISO-8601 string (zone optional, UTC) into a
//!   [`Scalar::Datetime`](crate::Scalar::Datetime) operand (so it matches `datetime` values only);
//!   each applies to every element of an `in` or list operand, leaves
//!   `null` alone, and fails with `FilterDefinitionError` on a value it
//!   cannot convert.
//! - **Operand types**: `lt`/`lte`/`gt`/`gte` take a number or a string;
//!   `contains`/`not_contains` a string, number or boolean (not `null`);
//!   `eq`/`ne` any primitive, `null` or an array of primitives; `in` a
//!   non-empty array of primitives, `null` allowed; `exists` a boolean;
//!   `regex` a string of at most [`MAX_REGEX_CHARS`] characters whose
//!   compiled program fits [`REGEX_SIZE_LIMIT`] bytes.
//! - **`within`**: the property name is checked first
//!   (`InvalidPropertyNameForGeoFilter`), then the value: `coordinates`
//!   `[lon, lat]` with lon in [−180, 180] and lat in [−90, 90], and
//!   `max_distance_miles` a finite number ≥ 0.
//! - **group_by**: a path is a non-empty string; paths may not repeat; an
//!   object `{"property_name"}` without `buckets`/`ranges` is a plain path;
//!   one with both is an error; a `ranges` list is non-empty and each range
//!   with both sides has `from < to`.
//! - **order_by**: an array may mix strings and objects and may not be
//!   empty; `direction` is `ASC`/`DESC` in any case.
//! - **multi_analysis**: `analyses` must hold at least one label.
//! - **funnel**: the echoed step holds exactly the eight members of §2.5's
//!   example in its order (`event_collection`, `actor_property`,
//!   `timeframe`, `timezone`, `filters`, `optional`, `inverted`,
//!   `with_actors`); `timeframe` and `timezone` are the step's own values as
//!   given, else the funnel's, `timezone` defaults to `"UTC"`; a
//!   GET-encoded timeframe or filter string is echoed decoded. A top-level
//!   `timeframe`/`timezone` is validated even when every step has its own.
//! - **extraction**: `property_names` is a non-empty array of non-empty
//!   strings; `content_type` is `"text/csv"` or `"application/json"`;
//!   `email` a non-empty string.
//! - **timezone**: a name is matched exactly, then ignoring ASCII case; a
//!   numeric string is always seconds (`"+0530"` is 530 s, not 5 h 30 —
//!   write `"+05:30"`); a JSON number must be integral.
//! - **timeframe** (see [`crate::time`]): N may have leading zeros
//!   (`this_07_days`); `this_days` (plural without N) is N = 1. Resolving
//!   beyond chrono's calendar range (about ±262,000 years, e.g.
//!   `this_1000000_years`) is a `TimeframeDefinitionError`. Minute and hour
//!   floors use the zone's offset at "now". A local time inside a DST gap
//!   is read with the offset in force one day earlier, which moves it
//!   forward by the gap.
//! - **interval**: named intervals (`daily`, ...) split at calendar
//!   boundaries of the zone; `every_N_unit` (also N = 1) steps from the
//!   range start (§5.2), so `every_1_days` over a range starting at 10:00
//!   has buckets from 10:00 to 10:00.
//!   `minutely`/`hourly` boundaries are the wall-clock floor of the range
//!   start followed by elapsed steps. An empty range has no buckets; the
//!   10,000-bucket check happens while the buckets are generated, before
//!   the 10,001st is stored.
//! - **Strings that name things** (`event_collection`, `target_property`,
//!   `actor_property`, paths, labels) must be non-empty; their content is
//!   not otherwise checked (an unknown collection answers an empty result).

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::error::{QueryError, Result};
use crate::model::{
    Analysis, AnalysisKind, Common, Filter, GroupBy, Interval, Number, OrderBy, Query,
};
use crate::time::{json_kind, TimeZone, Timeframe};

mod filter;
mod funnel;

use filter::parse_filter_list;

/// Most filters one query may hold, counting nested ones (keen-semantics §3.1).
pub const MAX_FILTERS: usize = 100;
/// Most members of one `in` list (RELIABILITY §3c).
pub const MAX_IN_MEMBERS: usize = 10_000;
/// Most `group_by` elements (keen-semantics §6.1).
pub const MAX_GROUP_BY: usize = 10;
/// Most funnel steps (keen-semantics §2.5).
pub const MAX_FUNNEL_STEPS: usize = 25;
/// Longest `regex` pattern, in characters (keen-semantics §3.2).
pub const MAX_REGEX_CHARS: usize = 1_000;
/// Size limit of one compiled `regex` filter, bytes (see the regex crate's
/// `RegexBuilder::size_limit`).
pub const REGEX_SIZE_LIMIT: usize = 2 * 1024 * 1024;
/// Bounds of `max_age`, seconds: 30 < max_age ≤ 129,600 (keen-semantics §2.1).
pub const MAX_AGE_BOUNDS: (u64, u64) = (30, 129_600);

/// The analysis types a simple query or a multi-analysis member may name.
const SIMPLE_TYPES: &[&str] = &[
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

/// Parses JSON text holding a query body with an `analysis_type` member.
/// Text that is not JSON → `InvalidParameterError`.
pub fn parse_query_str(text: &str) -> Result<Query> {
    let body: Value = serde_json::from_str(text)
        .map_err(|e| QueryError::invalid("query", format!("the body is not valid JSON: {e}")))?;
    parse_query(&body)
}

/// Parses a query body whose `analysis_type` member names the analysis
/// (count, count_unique, minimum, maximum, sum, average, median,
/// percentile, select_unique, standard_deviation, multi_analysis, funnel,
/// extraction).
pub fn parse_query(body: &Value) -> Result<Query> {
    let obj = object(body)?;
    match obj.get("analysis_type") {
        None | Some(Value::Null) => Err(QueryError::missing("analysis_type")),
        Some(Value::String(t)) => parse_analysis(t, body),
        Some(other) => Err(QueryError::invalid(
            "analysis_type",
            format!("expected a string, got {}", json_kind(other)),
        )),
    }
}

/// Parses a query body for the analysis `analysis_type` (as named by the
/// URL path); an `analysis_type` member of the body is ignored.
pub fn parse_analysis(analysis_type: &str, body: &Value) -> Result<Query> {
    let obj = object(body)?;
    match analysis_type {
        "funnel" => funnel::parse_funnel(obj),
        "extraction" => funnel::parse_extraction(obj),
        "multi_analysis" => parse_multi(obj),
        t if SIMPLE_TYPES.contains(&t) => {
            let analysis = parse_one_analysis(t, obj, "")?;
            let common = parse_common(obj, None)?;
            Ok(Query::Analysis { analysis, common })
        }
        t => Err(QueryError::invalid("analysis_type", format!("unknown analysis type {t:?}"))),
    }
}

/// Parses a `filters` list on its own (a JSON array, or a string holding
/// one; `null` is no filter), naming errors from `field`. At most
/// [`MAX_FILTERS`] filters, counting nested ones.
pub fn parse_filters(v: &Value, field: &str) -> Result<Vec<Filter>> {
    let mut count = 0;
    parse_filter_list(v, field, &mut count)
}

// ---------------------------------------------------------------- helpers

fn object(body: &Value) -> Result<&Map<String, Value>> {
    match body {
        Value::Object(o) => Ok(o),
        other => Err(QueryError::invalid(
            "query",
            format!("the body must be a JSON object, got {}", json_kind(other)),
        )),
    }
}

/// The member `name`, with `null` read as absent.
fn get<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name).filter(|v| !v.is_null())
}

/// `v`, or the JSON array/object a string holds (GET encoding).
fn decoded(v: &Value) -> Cow<'_, Value> {
    if let Value::String(s) = v {
        let t = s.trim_start();
        if t.starts_with('[') || t.starts_with('{') {
            if let Ok(inner @ (Value::Array(_) | Value::Object(_))) = serde_json::from_str(s) {
                return Cow::Owned(inner);
            }
        }
    }
    Cow::Borrowed(v)
}

fn field_of(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// A required non-empty string member.
fn required_str<'a>(obj: &'a Map<String, Value>, name: &str, field: &str) -> Result<&'a str> {
    match get(obj, name) {
        None => Err(QueryError::missing(field)),
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(Value::String(_)) => Err(QueryError::invalid(field, "must not be empty")),
        Some(other) => {
            Err(QueryError::invalid(field, format!("expected a string, got {}", json_kind(other))))
        }
    }
}

/// A boolean, or `"true"`/`"false"` (GET encoding).
fn bool_param(v: &Value, field: &str) -> Result<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s == "true" => Ok(true),
        Value::String(s) if s == "false" => Ok(false),
        other => {
            Err(QueryError::invalid(field, format!("expected a boolean, got {}", json_kind(other))))
        }
    }
}

fn optional_bool(obj: &Map<String, Value>, name: &str, field: &str) -> Result<bool> {
    get(obj, name).map_or(Ok(false), |v| bool_param(v, field))
}

/// A non-negative integer, as a JSON number (integral) or a decimal string.
fn uint_param(v: &Value, field: &str) -> Result<u64> {
    let bad = || QueryError::invalid(field, format!("expected a non-negative integer, got {v}"));
    match v {
        Value::Number(n) => match n.as_u64() {
            Some(u) => Ok(u),
            None => match n.as_f64() {
                Some(f) if f.fract() == 0.0 && (0.0..1.8e19).contains(&f) => Ok(f as u64),
                _ => Err(bad()),
            },
        },
        Value::String(s) if !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()) => {
            s.parse::<u64>().map_err(|_| bad())
        }
        _ => Err(bad()),
    }
}

fn json_number(n: &serde_json::Number) -> Number {
    match n.as_i64() {
        Some(i) => Number::Int(i),
        None => Number::from_f64(n.as_f64().unwrap_or(0.0)),
    }
}

// ---------------------------------------------------------- analyses

/// One analysis of type `t` (a simple type) from `obj`; `prefix` names
/// `obj` in errors ("" for the query body).
fn parse_one_analysis(t: &str, obj: &Map<String, Value>, prefix: &str) -> Result<Analysis> {
    let kind = match t {
        "count" => AnalysisKind::Count,
        "count_unique" => AnalysisKind::CountUnique,
        "minimum" => AnalysisKind::Minimum,
        "maximum" => AnalysisKind::Maximum,
        "sum" => AnalysisKind::Sum,
        "average" => AnalysisKind::Average,
        "median" => AnalysisKind::Median,
        "percentile" => AnalysisKind::Percentile(parse_percentile(
            get(obj, "percentile"),
            &field_of(prefix, "percentile"),
        )?),
        "select_unique" => AnalysisKind::SelectUnique,
        "standard_deviation" => AnalysisKind::StandardDeviation,
        other => {
            return Err(QueryError::invalid(
                &field_of(prefix, "analysis_type"),
                format!("unknown analysis type {other:?}"),
            ))
        }
    };
    let target_property = if kind == AnalysisKind::Count {
        None
    } else {
        Some(
            required_str(obj, "target_property", &field_of(prefix, "target_property"))?.to_string(),
        )
    };
    Ok(Analysis { kind, target_property })
}

fn parse_percentile(v: Option<&Value>, field: &str) -> Result<f64> {
    let p = match v {
        None => return Err(QueryError::missing(field)),
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.parse::<f64>().ok(),
        Some(_) => None,
    };
    let Some(p) = p.filter(|p| p.is_finite()) else {
        return Err(QueryError::invalid(field, "expected a number in (0, 100]"));
    };
    if !(p > 0.0 && p <= 100.0) {
        return Err(QueryError::invalid(field, format!("{p} is not in (0, 100]")));
    }
    // At most two decimals: p is the double nearest to some d/100. Then
    // p·100 rounds to d and d/100 (correctly rounded) is p again; a p with
    // more decimals, however small (1e-8), does not come back.
    if (p * 100.0).round() / 100.0 != p {
        return Err(QueryError::invalid(field, format!("{p} has more than two decimals")));
    }
    Ok(p)
}

fn parse_multi(obj: &Map<String, Value>) -> Result<Query> {
    let analyses_v = get(obj, "analyses").ok_or_else(|| QueryError::missing("analyses"))?;
    let analyses_v = decoded(analyses_v);
    let Value::Object(members) = analyses_v.as_ref() else {
        return Err(QueryError::invalid(
            "analyses",
            format!("expected an object of label → analysis, got {}", json_kind(&analyses_v)),
        ));
    };
    if members.is_empty() {
        return Err(QueryError::invalid("analyses", "at least one analysis is required"));
    }
    let labels: Vec<String> = members.keys().cloned().collect();
    let common = parse_common(obj, Some(&labels))?;
    let mut analyses = Vec::with_capacity(members.len());
    for (label, def) in members {
        let prefix = format!("analyses.{label}");
        if label.is_empty() {
            return Err(QueryError::invalid("analyses", "a label must not be empty"));
        }
        if common.group_by.iter().any(|g| g.property() == label) {
            return Err(QueryError::invalid(
                &prefix,
                format!("label {label:?} equals a group_by property"),
            ));
        }
        let Value::Object(def) = def else {
            return Err(QueryError::invalid(
                &prefix,
                format!("expected an analysis object, got {}", json_kind(def)),
            ));
        };
        let type_field = format!("{prefix}.analysis_type");
        let t = match get(def, "analysis_type") {
            None => return Err(QueryError::missing(&type_field)),
            Some(Value::String(t)) => t.as_str(),
            Some(other) => {
                return Err(QueryError::invalid(
                    &type_field,
                    format!("expected a string, got {}", json_kind(other)),
                ))
            }
        };
        if !SIMPLE_TYPES.contains(&t) {
            return Err(QueryError::invalid(
                &type_field,
                format!("analysis type {t:?} is not allowed in multi_analysis"),
            ));
        }
        analyses.push((label.clone(), parse_one_analysis(t, def, &prefix)?));
    }
    Ok(Query::Multi { analyses, common })
}

// ------------------------------------------------------ common params

/// The common parameters of §2.1; `labels` are the multi-analysis labels
/// (then `order_by` names a label or a group path, not `"result"`).
fn parse_common(obj: &Map<String, Value>, labels: Option<&[String]>) -> Result<Common> {
    let event_collection = required_str(obj, "event_collection", "event_collection")?.to_string();
    let timeframe = Timeframe::parse_at(obj.get("timeframe").unwrap_or(&Value::Null), "timeframe")?;
    let timezone = get(obj, "timezone").map_or(Ok(TimeZone::default()), TimeZone::parse)?;
    let filters = get(obj, "filters").map_or(Ok(Vec::new()), |v| parse_filters(v, "filters"))?;
    let interval = get(obj, "interval").map(Interval::parse).transpose()?;
    let group_by = get(obj, "group_by").map_or(Ok(Vec::new()), parse_group_by)?;
    let order_by = match get(obj, "order_by") {
        None => Vec::new(),
        Some(v) => parse_order_by(v, &group_by, labels)?,
    };
    let limit = match get(obj, "limit") {
        None => None,
        Some(_) if order_by.is_empty() => {
            return Err(QueryError::invalid("limit", "limit requires order_by"))
        }
        Some(v) => match uint_param(v, "limit") {
            Ok(n) if n >= 1 => Some(n),
            _ => {
                return Err(QueryError::invalid(
                    "limit",
                    format!("expected an integer ≥ 1, got {v}"),
                ))
            }
        },
    };
    let max_age = parse_max_age(obj)?;
    let include_metadata = optional_bool(obj, "include_metadata", "include_metadata")?;
    Ok(Common {
        event_collection,
        timeframe,
        timezone,
        filters,
        interval,
        group_by,
        order_by,
        limit,
        max_age,
        include_metadata,
    })
}

/// `max_age` (§2.1, every query type): integer seconds, 30 < max_age ≤
/// 129,600; `None` when absent.
fn parse_max_age(obj: &Map<String, Value>) -> Result<Option<u32>> {
    let Some(v) = get(obj, "max_age") else { return Ok(None) };
    let (lo, hi) = MAX_AGE_BOUNDS;
    match uint_param(v, "max_age") {
        Ok(n) if n > lo && n <= hi => Ok(Some(n as u32)),
        _ => Err(QueryError::invalid(
            "max_age",
            format!("expected an integer number of seconds with {lo} < max_age ≤ {hi}, got {v}"),
        )),
    }
}

fn parse_group_by(v: &Value) -> Result<Vec<GroupBy>> {
    let v = decoded(v);
    let groups = match v.as_ref() {
        Value::Array(items) => {
            if items.is_empty() || items.len() > MAX_GROUP_BY {
                return Err(QueryError::invalid(
                    "group_by",
                    format!("expected 1 to {MAX_GROUP_BY} properties, got {}", items.len()),
                ));
            }
            items
                .iter()
                .enumerate()
                .map(|(i, item)| parse_group_elem(item, &format!("group_by[{i}]")))
                .collect::<Result<Vec<_>>>()?
        }
        other => vec![parse_group_elem(other, "group_by")?],
    };
    for (i, g) in groups.iter().enumerate() {
        if groups[..i].iter().any(|h| h.property() == g.property()) {
            return Err(QueryError::invalid(
                "group_by",
                format!("property {:?} is named twice", g.property()),
            ));
        }
    }
    Ok(groups)
}

fn group_path(s: &str, field: &str) -> Result<String> {
    if s.is_empty() {
        return Err(QueryError::invalid(field, "a group_by property must not be empty"));
    }
    if s == "result" {
        return Err(QueryError::invalid(field, "a group_by property may not be named \"result\""));
    }
    Ok(s.to_string())
}

fn finite(v: Option<&Value>, field: &str) -> Result<Option<f64>> {
    match v {
        None => Ok(None),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(f) if f.is_finite() => Ok(Some(f)),
            _ => Err(QueryError::invalid(field, format!("{n} is not a finite number"))),
        },
        Some(other) => {
            Err(QueryError::invalid(field, format!("expected a number, got {}", json_kind(other))))
        }
    }
}

fn parse_group_elem(v: &Value, field: &str) -> Result<GroupBy> {
    match v {
        Value::String(s) => Ok(GroupBy::Property(group_path(s, field)?)),
        Value::Object(o) => {
            let name_field = format!("{field}.property_name");
            let property = group_path(required_str(o, "property_name", &name_field)?, &name_field)?;
            match (get(o, "buckets"), get(o, "ranges")) {
                (None, None) => Ok(GroupBy::Property(property)),
                (Some(_), Some(_)) => {
                    Err(QueryError::invalid(field, "give either buckets or ranges, not both"))
                }
                (Some(b), None) => {
                    let bf = format!("{field}.buckets");
                    let Value::Object(b) = b else {
                        return Err(QueryError::invalid(
                            &bf,
                            format!(
                                "expected an object {{\"size\", \"offset\"}}, got {}",
                                json_kind(b)
                            ),
                        ));
                    };
                    let size_field = format!("{bf}.size");
                    let size = finite(get(b, "size"), &size_field)?
                        .ok_or_else(|| QueryError::missing(&size_field))?;
                    if size <= 0.0 {
                        return Err(QueryError::invalid(&size_field, format!("{size} is not > 0")));
                    }
                    let offset = finite(get(b, "offset"), &format!("{bf}.offset"))?.unwrap_or(0.0);
                    Ok(GroupBy::Buckets { property, size, offset })
                }
                (None, Some(r)) => {
                    let rf = format!("{field}.ranges");
                    let items = match r {
                        Value::Array(items) if !items.is_empty() => items,
                        _ => {
                            return Err(QueryError::invalid(
                                &rf,
                                "expected a non-empty array of {\"from\", \"to\"} objects",
                            ))
                        }
                    };
                    let mut ranges = Vec::with_capacity(items.len());
                    for (i, item) in items.iter().enumerate() {
                        let f = format!("{rf}[{i}]");
                        let Value::Object(item) = item else {
                            return Err(QueryError::invalid(
                                &f,
                                format!(
                                    "expected a {{\"from\", \"to\"}} object, got {}",
                                    json_kind(item)
                                ),
                            ));
                        };
                        let from = finite(get(item, "from"), &format!("{f}.from"))?;
                        let to = finite(get(item, "to"), &format!("{f}.to"))?;
                        if let (Some(a), Some(b)) = (from, to) {
                            if a >= b {
                                return Err(QueryError::invalid(
                                    &f,
                                    format!("from ({a}) must be less than to ({b})"),
                                ));
                            }
                        }
                        ranges.push((from, to));
                    }
                    Ok(GroupBy::Ranges { property, ranges })
                }
            }
        }
        other => Err(QueryError::invalid(
            field,
            format!("expected a property path or an object, got {}", json_kind(other)),
        )),
    }
}

fn parse_order_by(
    v: &Value,
    group_by: &[GroupBy],
    labels: Option<&[String]>,
) -> Result<Vec<OrderBy>> {
    if group_by.is_empty() {
        return Err(QueryError::invalid("order_by", "order_by requires group_by"));
    }
    let v = decoded(v);
    let items: Vec<(String, &Value)> = match v.as_ref() {
        Value::Array(items) => {
            if items.is_empty() {
                return Err(QueryError::invalid("order_by", "must not be an empty array"));
            }
            items.iter().enumerate().map(|(i, x)| (format!("order_by[{i}]"), x)).collect()
        }
        other => vec![("order_by".to_string(), other)],
    };
    let mut out = Vec::with_capacity(items.len());
    for (field, item) in items {
        let (property, descending) = match item {
            Value::String(s) => (s.clone(), false),
            Value::Object(o) => {
                let name_field = format!("{field}.property_name");
                let name = required_str(o, "property_name", &name_field)?.to_string();
                let dir_field = format!("{field}.direction");
                let descending = match get(o, "direction") {
                    None => false,
                    Some(Value::String(d)) if d.eq_ignore_ascii_case("asc") => false,
                    Some(Value::String(d)) if d.eq_ignore_ascii_case("desc") => true,
                    Some(d) => {
                        return Err(QueryError::invalid(
                            &dir_field,
                            format!("expected \"ASC\" or \"DESC\", got {d}"),
                        ))
                    }
                };
                (name, descending)
            }
            other => {
                return Err(QueryError::invalid(
                    &field,
                    format!("expected a property name or an object, got {}", json_kind(other)),
                ))
            }
        };
        let is_group = group_by.iter().any(|g| g.property() == property);
        let allowed = match labels {
            None => is_group || property == "result",
            Some(labels) => is_group || labels.contains(&property),
        };
        if !allowed {
            let want = if labels.is_some() {
                "an analysis label or a group_by property"
            } else {
                "\"result\" or a group_by property"
            };
            let name_field = if matches!(item, Value::Object(_)) {
                format!("{field}.property_name")
            } else {
                field.clone()
            };
            return Err(QueryError::invalid(&name_field, format!("{property:?} is not {want}")));
        }
        out.push(OrderBy { property, descending });
    }
    Ok(out)
}
