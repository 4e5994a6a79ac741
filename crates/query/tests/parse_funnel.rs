//! Funnels (keen-semantics §2.5): the example of §2.5 parses and echoes its
//! steps exactly as the example response shows them.

use serde_json::{json, Value};
use tally_query::parse::parse_query;
use tally_query::{Filter, Query, QueryErrorCode, TimeUnit, TimeZone, Timeframe};

fn funnel(body: Value) -> tally_query::Funnel {
    match parse_query(&body).unwrap() {
        Query::Funnel(f) => f,
        other => panic!("not a funnel: {other:?}"),
    }
}

#[test]
fn section_2_5_example_echo() {
    let body = json!({"analysis_type": "funnel", "timeframe": "this_7_days", "steps": [
        {"event_collection": "signups",   "actor_property": "user.id"},
        {"event_collection": "purchases", "actor_property": "user.id", "with_actors": true},
        {"event_collection": "referrals", "actor_property": "user.id", "optional": true},
        {"event_collection": "churned",   "actor_property": "user.id", "inverted": true}]});
    let f = funnel(body);
    let echo: Vec<Value> = f.steps.iter().map(|s| s.echo.clone()).collect();
    let want = json!([
        {"event_collection": "signups",   "actor_property": "user.id", "timeframe": "this_7_days", "timezone": "UTC", "filters": [], "optional": false, "inverted": false, "with_actors": false},
        {"event_collection": "purchases", "actor_property": "user.id", "timeframe": "this_7_days", "timezone": "UTC", "filters": [], "optional": false, "inverted": false, "with_actors": true},
        {"event_collection": "referrals", "actor_property": "user.id", "timeframe": "this_7_days", "timezone": "UTC", "filters": [], "optional": true,  "inverted": false, "with_actors": false},
        {"event_collection": "churned",   "actor_property": "user.id", "timeframe": "this_7_days", "timezone": "UTC", "filters": [], "optional": false, "inverted": true,  "with_actors": false}]);
    assert_eq!(Value::Array(echo.clone()), want);
    // Member order is the example's, byte for byte.
    assert_eq!(
        serde_json::to_string(&Value::Array(echo)).unwrap(),
        serde_json::to_string(&want).unwrap()
    );
    let seven = Timeframe::Relative { previous: false, n: 7, unit: TimeUnit::Day };
    assert!(f.steps.iter().all(|s| s.timeframe == seven && s.timezone == TimeZone::default()));
    let flags: Vec<(bool, bool, bool)> =
        f.steps.iter().map(|s| (s.optional, s.inverted, s.with_actors)).collect();
    assert_eq!(
        flags,
        [(false, false, false), (false, false, true), (true, false, false), (false, true, false)]
    );
    assert_eq!(f.steps[1].event_collection, "purchases");
    assert_eq!(f.steps[3].actor_property, "user.id");
    assert!(!f.include_metadata);
}

#[test]
fn step_values_override_the_funnel() {
    let body = json!({"analysis_type": "funnel", "timeframe": "this_7_days", "timezone": "US/Pacific",
        "include_metadata": true, "steps": [
        {"event_collection": "a", "actor_property": "u", "timeframe": "previous_2_weeks", "timezone": -28800,
         "filters": [{"property_name": "x", "operator": "eq", "property_value": 1}], "extra": "dropped"},
        {"event_collection": "b", "actor_property": "u"},
        {"event_collection": "c", "actor_property": "u",
         "timeframe": r#"{"start": "2024-06-01T00:00:00Z", "end": "2024-06-02T00:00:00Z"}"#}]});
    let f = funnel(body);
    assert!(f.include_metadata);
    assert_eq!(
        f.steps[0].timeframe,
        Timeframe::Relative { previous: true, n: 2, unit: TimeUnit::Week }
    );
    assert_eq!(f.steps[0].timezone, TimeZone::Fixed(-28800));
    assert!(matches!(f.steps[0].filters[..], [Filter::Cmp { .. }]));
    assert_eq!(
        f.steps[0].echo,
        json!({"event_collection": "a", "actor_property": "u", "timeframe": "previous_2_weeks", "timezone": -28800,
               "filters": [{"property_name": "x", "operator": "eq", "property_value": 1}],
               "optional": false, "inverted": false, "with_actors": false})
    );
    assert_eq!(f.steps[1].timezone, TimeZone::Named(chrono_tz::US::Pacific));
    assert_eq!(f.steps[1].echo["timezone"], json!("US/Pacific"));
    assert_eq!(f.steps[1].echo["timeframe"], json!("this_7_days"));
    assert_eq!(
        f.steps[2].echo["timeframe"],
        json!({"start": "2024-06-01T00:00:00Z", "end": "2024-06-02T00:00:00Z"})
    );
    assert!(matches!(f.steps[2].timeframe, Timeframe::Absolute { .. }));
}

#[test]
fn every_step_may_bring_its_own_timeframe() {
    let f = funnel(json!({"analysis_type": "funnel", "steps": [
        {"event_collection": "a", "actor_property": "u", "timeframe": "today"},
        {"event_collection": "b", "actor_property": "u", "timeframe": "yesterday"}]}));
    assert_eq!(f.steps.len(), 2);
    assert_eq!(
        f.steps[1].timeframe,
        Timeframe::Relative { previous: true, n: 1, unit: TimeUnit::Day }
    );
}

#[test]
fn step_count_bounds() {
    let step = json!({"event_collection": "a", "actor_property": "u"});
    let steps: Vec<Value> = (0..25).map(|_| step.clone()).collect();
    let f = funnel(json!({"analysis_type": "funnel", "timeframe": "today", "steps": steps}));
    assert_eq!(f.steps.len(), 25);
    let steps: Vec<Value> = (0..26).map(|_| step.clone()).collect();
    let err =
        parse_query(&json!({"analysis_type": "funnel", "timeframe": "today", "steps": steps}))
            .unwrap_err();
    assert_eq!(err.code, QueryErrorCode::InvalidParameterError);
    assert!(err.message.starts_with("steps: "), "{}", err.message);
}
