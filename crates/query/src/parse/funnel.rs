//! Funnels (keen-semantics §2.5) and extractions (§9.5): the two query
//! types without the common analysis parameters.

use serde_json::{Map, Value};

use super::filter::parse_filter_list;
use super::{
    decoded, get, optional_bool, parse_filters, parse_max_age, required_str, uint_param,
    MAX_FUNNEL_STEPS,
};
use crate::error::{QueryError, Result};
use crate::model::{Extraction, Funnel, FunnelStep, Query};
use crate::time::{json_kind, TimeZone, Timeframe};

// -------------------------------------------------------------- funnel

pub(super) fn parse_funnel(obj: &Map<String, Value>) -> Result<Query> {
    let steps_v = get(obj, "steps").ok_or_else(|| QueryError::missing("steps"))?;
    let steps_v = decoded(steps_v);
    let Value::Array(raw_steps) = steps_v.as_ref() else {
        return Err(QueryError::invalid(
            "steps",
            format!("expected an array of steps, got {}", json_kind(&steps_v)),
        ));
    };
    if raw_steps.is_empty() || raw_steps.len() > MAX_FUNNEL_STEPS {
        return Err(QueryError::invalid(
            "steps",
            format!("expected 1 to {MAX_FUNNEL_STEPS} steps, got {}", raw_steps.len()),
        ));
    }
    // Top-level defaults, validated when present.
    let top_timeframe = match get(obj, "timeframe") {
        None => None,
        Some(v) => Some((Timeframe::parse_at(v, "timeframe")?, echo_timeframe(v))),
    };
    let top_timezone = match get(obj, "timezone") {
        None => None,
        Some(v) => Some((TimeZone::parse(v)?, v.clone())),
    };
    let include_metadata = optional_bool(obj, "include_metadata", "include_metadata")?;
    // Validated like every query's (§2.1); answers are always fresh.
    parse_max_age(obj)?;
    let mut filter_count = 0;
    let mut steps = Vec::with_capacity(raw_steps.len());
    for (i, raw) in raw_steps.iter().enumerate() {
        let field = format!("steps[{i}]");
        let Value::Object(s) = raw else {
            return Err(QueryError::invalid(
                &field,
                format!("expected a step object, got {}", json_kind(raw)),
            ));
        };
        let event_collection =
            required_str(s, "event_collection", &format!("{field}.event_collection"))?.to_string();
        let actor_property =
            required_str(s, "actor_property", &format!("{field}.actor_property"))?.to_string();
        let tf_field = format!("{field}.timeframe");
        let (timeframe, tf_echo) = match (get(s, "timeframe"), &top_timeframe) {
            (Some(v), _) => (Timeframe::parse_at(v, &tf_field)?, echo_timeframe(v)),
            (None, Some((tf, echo))) => (*tf, echo.clone()),
            (None, None) => {
                return Err(QueryError::timeframe(
                    &tf_field,
                    "required parameter is missing (give it on the step or on the funnel)",
                ))
            }
        };
        let (timezone, tz_echo) = match (get(s, "timezone"), &top_timezone) {
            (Some(v), _) => (TimeZone::parse_at(v, &format!("{field}.timezone"))?, v.clone()),
            (None, Some((tz, echo))) => (*tz, echo.clone()),
            (None, None) => (TimeZone::default(), Value::String("UTC".into())),
        };
        let filters_field = format!("{field}.filters");
        let (filters, filters_echo) = match get(s, "filters") {
            None => (Vec::new(), Value::Array(Vec::new())),
            Some(v) => {
                (parse_filter_list(v, &filters_field, &mut filter_count)?, decoded(v).into_owned())
            }
        };
        let optional = optional_bool(s, "optional", &format!("{field}.optional"))?;
        let inverted = optional_bool(s, "inverted", &format!("{field}.inverted"))?;
        let with_actors = optional_bool(s, "with_actors", &format!("{field}.with_actors"))?;
        if i == 0 && optional {
            return Err(QueryError::invalid(
                "steps[0].optional",
                "the first step may not be optional",
            ));
        }
        if i == 0 && inverted {
            return Err(QueryError::invalid(
                "steps[0].inverted",
                "the first step may not be inverted",
            ));
        }
        let mut echo = Map::new();
        echo.insert("event_collection".into(), Value::String(event_collection.clone()));
        echo.insert("actor_property".into(), Value::String(actor_property.clone()));
        echo.insert("timeframe".into(), tf_echo);
        echo.insert("timezone".into(), tz_echo);
        echo.insert("filters".into(), filters_echo);
        echo.insert("optional".into(), Value::Bool(optional));
        echo.insert("inverted".into(), Value::Bool(inverted));
        echo.insert("with_actors".into(), Value::Bool(with_actors));
        steps.push(FunnelStep {
            event_collection,
            actor_property,
            timeframe,
            timezone,
            filters,
            optional,
            inverted,
            with_actors,
            echo: Value::Object(echo),
        });
    }
    Ok(Query::Funnel(Funnel { steps, include_metadata }))
}

/// A timeframe as the funnel echoes it: as given, a GET-encoded object
/// decoded.
fn echo_timeframe(v: &Value) -> Value {
    match v {
        Value::String(s) if s.trim_start().starts_with('{') => {
            serde_json::from_str(s).unwrap_or_else(|_| v.clone())
        }
        _ => v.clone(),
    }
}

// ---------------------------------------------------------- extraction

pub(super) fn parse_extraction(obj: &Map<String, Value>) -> Result<Query> {
    let event_collection = required_str(obj, "event_collection", "event_collection")?.to_string();
    let timeframe = Timeframe::parse_at(obj.get("timeframe").unwrap_or(&Value::Null), "timeframe")?;
    let timezone = get(obj, "timezone").map_or(Ok(TimeZone::default()), TimeZone::parse)?;
    let filters = get(obj, "filters").map_or(Ok(Vec::new()), |v| parse_filters(v, "filters"))?;
    let latest = match get(obj, "latest") {
        None => None,
        Some(v) => match uint_param(v, "latest") {
            Ok(n) if n >= 1 => Some(n),
            _ => {
                return Err(QueryError::invalid(
                    "latest",
                    format!("expected an integer ≥ 1, got {v}"),
                ))
            }
        },
    };
    let property_names = match get(obj, "property_names") {
        None => None,
        Some(v) => {
            let v = decoded(v);
            let bad = || {
                QueryError::invalid(
                    "property_names",
                    "expected a non-empty array of property paths",
                )
            };
            let Value::Array(items) = v.as_ref() else { return Err(bad()) };
            if items.is_empty() {
                return Err(bad());
            }
            let mut names = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::String(s) if !s.is_empty() => names.push(s.clone()),
                    other => {
                        return Err(QueryError::invalid(
                            &format!("property_names[{i}]"),
                            format!("expected a non-empty string, got {other}"),
                        ))
                    }
                }
            }
            Some(names)
        }
    };
    let csv = match get(obj, "content_type") {
        None => false,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("text/csv") => true,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("application/json") => false,
        Some(other) => {
            return Err(QueryError::invalid(
                "content_type",
                format!("expected \"text/csv\" or \"application/json\", got {other}"),
            ))
        }
    };
    let email = match get(obj, "email") {
        None => None,
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(other) => {
            return Err(QueryError::invalid(
                "email",
                format!("expected a non-empty string, got {other}"),
            ))
        }
    };
    let include_metadata = optional_bool(obj, "include_metadata", "include_metadata")?;
    parse_max_age(obj)?;
    Ok(Query::Extraction(Extraction {
        event_collection,
        timeframe,
        timezone,
        filters,
        latest,
        property_names,
        csv,
        email,
        include_metadata,
    }))
}
