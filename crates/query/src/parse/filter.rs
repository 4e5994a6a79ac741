//! Filters (keen-semantics §3): shape, operators, `property_type`
//! coercion, the datetime bridge, and the filter-count limit.

use regex::RegexBuilder;
use serde_json::Value;

use super::{decoded, json_number, MAX_FILTERS, MAX_IN_MEMBERS, MAX_REGEX_CHARS, REGEX_SIZE_LIMIT};
use crate::error::{QueryError, QueryErrorCode, Result};
use crate::model::{CmpOp, Filter, Number, Operand, Scalar};
use crate::time::json_kind;

// ------------------------------------------------------------- filters

/// Filter `property_type` names of §3.1.
#[derive(Clone, Copy, PartialEq, Eq)]
enum PropType {
    String,
    Number,
    Boolean,
    Datetime,
    Other,
}

pub(super) fn parse_filter_list(v: &Value, field: &str, count: &mut usize) -> Result<Vec<Filter>> {
    let v = decoded(v);
    match v.as_ref() {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, f)| parse_filter(f, &format!("{field}[{i}]"), count))
            .collect(),
        other => Err(QueryError::filter(
            field,
            format!("expected an array of filters, got {}", json_kind(other)),
        )),
    }
}

fn parse_filter(v: &Value, field: &str, count: &mut usize) -> Result<Filter> {
    *count += 1;
    if *count > MAX_FILTERS {
        return Err(QueryError::limit(format!(
            "{field}: more than {MAX_FILTERS} filters in one query (counting nested ones)"
        )));
    }
    let Value::Object(obj) = v else {
        return Err(QueryError::filter(
            field,
            format!("expected a filter object, got {}", json_kind(v)),
        ));
    };
    let op_field = format!("{field}.operator");
    let op = match obj.get("operator") {
        None | Some(Value::Null) => {
            return Err(QueryError::filter(&op_field, "required member is missing"))
        }
        Some(Value::String(s)) => s.as_str(),
        Some(other) => {
            return Err(QueryError::filter(
                &op_field,
                format!("expected a string, got {}", json_kind(other)),
            ))
        }
    };
    let value_field = format!("{field}.property_value");
    let cmp = match op {
        "eq" => Some(CmpOp::Eq),
        "ne" => Some(CmpOp::Ne),
        "lt" => Some(CmpOp::Lt),
        "lte" => Some(CmpOp::Lte),
        "gt" => Some(CmpOp::Gt),
        "gte" => Some(CmpOp::Gte),
        "or" | "exists" | "in" | "contains" | "not_contains" | "regex" | "within" => None,
        other => return Err(QueryError::filter(&op_field, format!("unknown operator {other:?}"))),
    };
    if op == "or" {
        let subs = match obj.get("property_value") {
            Some(Value::Array(subs)) if !subs.is_empty() => subs,
            _ => {
                return Err(QueryError::filter(
                    &value_field,
                    "\"or\" needs a non-empty array of filters",
                ))
            }
        };
        return subs
            .iter()
            .enumerate()
            .map(|(i, s)| parse_filter(s, &format!("{value_field}[{i}]"), count))
            .collect::<Result<Vec<_>>>()
            .map(Filter::Or);
    }
    let name_field = format!("{field}.property_name");
    let property = match obj.get("property_name") {
        None | Some(Value::Null) => {
            return Err(QueryError::filter(&name_field, "required member is missing"))
        }
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::String(_)) => return Err(QueryError::filter(&name_field, "must not be empty")),
        Some(other) => {
            return Err(QueryError::filter(
                &name_field,
                format!("expected a string, got {}", json_kind(other)),
            ))
        }
    };
    let type_field = format!("{field}.property_type");
    let ty = match obj.get("property_type") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) => Some(match t.to_ascii_lowercase().as_str() {
            "string" => PropType::String,
            "number" => PropType::Number,
            "boolean" => PropType::Boolean,
            "datetime" => PropType::Datetime,
            "list" | "geo" | "null" => PropType::Other,
            _ => {
                return Err(QueryError::filter(&type_field, format!("unknown property type {t:?}")))
            }
        }),
        Some(other) => {
            return Err(QueryError::filter(
                &type_field,
                format!("expected a string, got {}", json_kind(other)),
            ))
        }
    };
    if op == "within" && property != "keen.location.coordinates" {
        return Err(QueryError::new(
            QueryErrorCode::InvalidPropertyNameForGeoFilter,
            format!(
                "{name_field}: \"within\" is allowed only on keen.location.coordinates, not {property:?}"
            ),
        ));
    }
    let Some(value) = obj.get("property_value") else {
        return Err(QueryError::filter(&value_field, "required member is missing"));
    };
    if let Some(op) = cmp {
        let operand = match (op, value) {
            (_, Value::Object(_)) => {
                return Err(QueryError::filter(
                    &value_field,
                    format!("{} does not take an object", op_name(op)),
                ))
            }
            (CmpOp::Eq | CmpOp::Ne, Value::Array(items)) => {
                let elems = items
                    .iter()
                    .enumerate()
                    .map(|(i, x)| operand(x, ty, &format!("{value_field}[{i}]")).map(|o| o.value))
                    .collect::<Result<Vec<_>>>()?;
                Operand { value: Scalar::List(elems), as_datetime: None }
            }
            (CmpOp::Eq | CmpOp::Ne, v) => operand(v, ty, &value_field)?,
            (_, v) => {
                let o = operand(v, ty, &value_field)?;
                if !matches!(o.value, Scalar::Num(_) | Scalar::Str(_) | Scalar::Datetime(_)) {
                    return Err(QueryError::filter(
                        &value_field,
                        format!(
                            "{} needs a number, a string or a date-time, got {}",
                            op_name(op),
                            json_kind(v)
                        ),
                    ));
                }
                o
            }
        };
        return Ok(Filter::Cmp { property, op, operand });
    }
    match op {
        "exists" => {
            let exists = match operand(value, ty, &value_field) {
                Ok(Operand { value: Scalar::Bool(b), .. }) => b,
                _ => {
                    return Err(QueryError::filter(
                        &value_field,
                        format!("\"exists\" needs true or false, got {value}"),
                    ))
                }
            };
            Ok(Filter::Exists { property, exists })
        }
        "in" => {
            let items = match value {
                Value::Array(items) if !items.is_empty() => items,
                _ => {
                    return Err(QueryError::filter(
                        &value_field,
                        "\"in\" needs a non-empty array of primitives",
                    ))
                }
            };
            if items.len() > MAX_IN_MEMBERS {
                return Err(QueryError::limit(format!(
                    "{value_field}: the \"in\" list has {} members, more than {MAX_IN_MEMBERS}",
                    items.len()
                )));
            }
            let operands = items
                .iter()
                .enumerate()
                .map(|(i, x)| operand(x, ty, &format!("{value_field}[{i}]")))
                .collect::<Result<Vec<_>>>()?;
            Ok(Filter::In { property, operands })
        }
        "contains" | "not_contains" => {
            let o = operand(value, ty, &value_field)?;
            if matches!(o.value, Scalar::Null) {
                return Err(QueryError::filter(
                    &value_field,
                    format!("{op:?} needs a string, number or boolean, got null"),
                ));
            }
            Ok(Filter::Contains { property, operand: o, negated: op == "not_contains" })
        }
        "regex" => {
            let Value::String(pattern) = value else {
                return Err(QueryError::filter(
                    &value_field,
                    format!("\"regex\" needs a string pattern, got {}", json_kind(value)),
                ));
            };
            let chars = pattern.chars().count();
            if chars > MAX_REGEX_CHARS {
                return Err(QueryError::filter(
                    &value_field,
                    format!("the pattern has {chars} characters, more than {MAX_REGEX_CHARS}"),
                ));
            }
            let regex = RegexBuilder::new(pattern).size_limit(REGEX_SIZE_LIMIT).build().map_err(
                |e| match e {
                    regex::Error::CompiledTooBig(limit) => QueryError::filter(
                        &value_field,
                        format!("the compiled pattern exceeds the size limit of {limit} bytes"),
                    ),
                    e => QueryError::filter(&value_field, format!("invalid regex: {e}")),
                },
            )?;
            Ok(Filter::Regex { property, regex })
        }
        "within" => parse_within(value, &value_field),
        _ => Err(QueryError::filter(&op_field, format!("unknown operator {op:?}"))),
    }
}

fn op_name(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => "\"eq\"",
        CmpOp::Ne => "\"ne\"",
        CmpOp::Lt => "\"lt\"",
        CmpOp::Lte => "\"lte\"",
        CmpOp::Gt => "\"gt\"",
        CmpOp::Gte => "\"gte\"",
    }
}

/// A primitive filter value, coerced by `property_type`.
fn operand(v: &Value, ty: Option<PropType>, field: &str) -> Result<Operand> {
    let plain = |value: Scalar| Operand { value, as_datetime: None };
    match (ty, v) {
        (_, Value::Array(_) | Value::Object(_)) => Err(QueryError::filter(
            field,
            format!("expected a primitive value, got {}", json_kind(v)),
        )),
        (_, Value::Null) => Ok(plain(Scalar::Null)),
        (Some(PropType::Number), Value::String(s)) => match parse_number(s) {
            Some(n) => Ok(plain(Scalar::Num(n))),
            None => Err(QueryError::filter(
                field,
                format!("property_type Number: {s:?} is not a number"),
            )),
        },
        (Some(PropType::Number), Value::Bool(_)) => Err(QueryError::filter(
            field,
            "property_type Number: expected a number or a numeric string, got a boolean",
        )),
        (Some(PropType::Boolean), Value::String(s)) => match s.as_str() {
            "true" => Ok(plain(Scalar::Bool(true))),
            "false" => Ok(plain(Scalar::Bool(false))),
            _ => Err(QueryError::filter(
                field,
                format!("property_type Boolean: {s:?} is not \"true\" or \"false\""),
            )),
        },
        (Some(PropType::Boolean), Value::Number(_)) => Err(QueryError::filter(
            field,
            "property_type Boolean: expected a boolean or \"true\"/\"false\", got a number",
        )),
        (Some(PropType::Datetime), Value::String(s)) => match tally_ingest::parse_timestamp(s) {
            Some(ms) => Ok(Operand { value: Scalar::Datetime(ms), as_datetime: Some(ms) }),
            None => Err(QueryError::filter(
                field,
                format!("property_type Datetime: {s:?} is not an ISO-8601 date-time"),
            )),
        },
        (Some(PropType::Datetime), other) => Err(QueryError::filter(
            field,
            format!(
                "property_type Datetime: expected an ISO-8601 string, got {}",
                json_kind(other)
            ),
        )),
        (_, Value::Number(n)) => Ok(plain(Scalar::Num(json_number(n)))),
        (_, Value::Bool(b)) => Ok(plain(Scalar::Bool(*b))),
        (_, Value::String(s)) => Ok(Operand {
            value: Scalar::Str(s.clone()),
            as_datetime: tally_ingest::parse_timestamp(s),
        }),
    }
}

fn parse_number(s: &str) -> Option<Number> {
    if let Ok(i) = s.parse::<i64>() {
        return Some(Number::Int(i));
    }
    // Rust accepts "inf" and "NaN"; Keen numbers are finite decimals.
    let looks_decimal = s.bytes().all(|c| c.is_ascii_digit() || b"+-.eE".contains(&c))
        && s.bytes().any(|c| c.is_ascii_digit());
    let f = s.parse::<f64>().ok().filter(|f| f.is_finite() && looks_decimal)?;
    Some(Number::from_f64(f))
}

fn parse_within(value: &Value, field: &str) -> Result<Filter> {
    let Value::Object(o) = value else {
        return Err(QueryError::filter(
            field,
            format!(
                "\"within\" needs {{\"coordinates\": [lon, lat], \"max_distance_miles\": d}}, got {}",
                json_kind(value)
            ),
        ));
    };
    let cf = format!("{field}.coordinates");
    let (lon, lat) = match o.get("coordinates") {
        Some(Value::Array(c)) if c.len() == 2 => match (c[0].as_f64(), c[1].as_f64()) {
            (Some(lon), Some(lat)) => (lon, lat),
            _ => return Err(QueryError::filter(&cf, "expected two numbers [longitude, latitude]")),
        },
        None | Some(Value::Null) => {
            return Err(QueryError::filter(&cf, "required member is missing"))
        }
        _ => return Err(QueryError::filter(&cf, "expected two numbers [longitude, latitude]")),
    };
    if !(-180.0..=180.0).contains(&lon) {
        return Err(QueryError::filter(&cf, format!("longitude {lon} is outside [-180, 180]")));
    }
    if !(-90.0..=90.0).contains(&lat) {
        return Err(QueryError::filter(&cf, format!("latitude {lat} is outside [-90, 90]")));
    }
    let df = format!("{field}.max_distance_miles");
    let max_distance_miles = match o.get("max_distance_miles") {
        Some(Value::Number(n)) => match n.as_f64() {
            Some(d) if d.is_finite() && d >= 0.0 => d,
            _ => return Err(QueryError::filter(&df, format!("{n} is not a distance ≥ 0"))),
        },
        None | Some(Value::Null) => {
            return Err(QueryError::filter(&df, "required member is missing"))
        }
        Some(other) => {
            return Err(QueryError::filter(
                &df,
                format!("expected a number, got {}", json_kind(other)),
            ))
        }
    };
    Ok(Filter::Within { lon, lat, max_distance_miles })
}
