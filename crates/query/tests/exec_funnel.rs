//! Funnels (keen-semantics §2.5): the spec's example, filters, per-step
//! timeframes, missing collections, step-0 rules.

mod exec_util;

use std::collections::HashMap;
use std::sync::Arc;

use exec_util::*;
use serde_json::{json, Value};
use tally_ingest::Snapshot;
use tally_query::exec::run_funnel;
use tally_query::{CmpOp, Filter, FunnelStep, QueryErrorCode, TimeRange, TimeZone, Timeframe};

fn coll(users: &[&str]) -> Arc<Snapshot> {
    let evs: Vec<String> = users
        .iter()
        .enumerate()
        .map(|(i, u)| ev(DAY0 + i as i64 * 1000, &format!(r#""user": {{"id": "{u}"}}, "n": {i}"#)))
        .collect();
    snapshot_of(&evs, 2, 3)
}

fn step(collection: &str, optional: bool, inverted: bool, with_actors: bool) -> FunnelStep {
    FunnelStep {
        event_collection: collection.into(),
        actor_property: "user.id".into(),
        timeframe: Timeframe::Relative { previous: false, n: 7, unit: tally_query::TimeUnit::Day },
        timezone: TimeZone::default(),
        filters: Vec::new(),
        optional,
        inverted,
        with_actors,
        echo: json!({"event_collection": collection, "actor_property": "user.id",
            "timeframe": "this_7_days", "timezone": "UTC", "filters": [],
            "optional": optional, "inverted": inverted, "with_actors": with_actors}),
    }
}

fn world() -> HashMap<&'static str, Arc<Snapshot>> {
    let mut m = HashMap::new();
    m.insert("signups", coll(&["u1", "u2", "u3", "u4", "u1"]));
    m.insert("purchases", coll(&["u2", "u3", "u9", "u2"]));
    m.insert("referrals", coll(&["u3"]));
    m.insert("churned", coll(&["u2"]));
    m
}

#[test]
fn spec_funnel_example() {
    let w = world();
    let lookup = |name: &str| w.get(name).cloned();
    let steps = [
        step("signups", false, false, false),
        step("purchases", false, false, true),
        step("referrals", true, false, false),
        step("churned", false, true, false),
    ];
    let r = range(1);
    let with: Vec<(&FunnelStep, TimeRange)> = steps.iter().map(|s| (s, r)).collect();
    let got = run_funnel(&with, &lookup).unwrap();
    let want = json!({"result": [4, 2, 1, 1],
     "actors": [null, ["u2", "u3"], null, null],
     "steps": [{"event_collection": "signups",   "actor_property": "user.id", "timeframe": "this_7_days", "timezone": "UTC", "filters": [], "optional": false, "inverted": false, "with_actors": false},
               {"event_collection": "purchases", "actor_property": "user.id", "timeframe": "this_7_days", "timezone": "UTC", "filters": [], "optional": false, "inverted": false, "with_actors": true},
               {"event_collection": "referrals", "actor_property": "user.id", "timeframe": "this_7_days", "timezone": "UTC", "filters": [], "optional": true,  "inverted": false, "with_actors": false},
               {"event_collection": "churned",   "actor_property": "user.id", "timeframe": "this_7_days", "timezone": "UTC", "filters": [], "optional": false, "inverted": true,  "with_actors": false}]});
    assert_eq!(got.to_string(), want.to_string());
}

#[test]
fn no_actors_member_without_with_actors_and_missing_collections_are_empty() {
    let w = world();
    let lookup = |name: &str| w.get(name).cloned();
    let steps = [step("signups", false, false, false), step("nowhere", false, false, false)];
    let r = range(1);
    let with: Vec<(&FunnelStep, TimeRange)> = steps.iter().map(|s| (s, r)).collect();
    let got = run_funnel(&with, &lookup).unwrap();
    assert_eq!(got["result"], json!([4, 0]));
    assert!(got.get("actors").is_none());
}

#[test]
fn step_filters_and_timeframes_apply_per_step() {
    let w = world();
    let lookup = |name: &str| w.get(name).cloned();
    let mut s0 = step("signups", false, false, true);
    s0.filters = vec![cmp("n", CmpOp::Lt, json!(3))];
    let s1 = step("purchases", false, false, true);
    // purchases' first event (u2) only: [DAY0, DAY0 + 1s)
    let r1 = TimeRange { start_ms: DAY0, end_ms: DAY0 + 1000 };
    let with = [(&s0, range(1)), (&s1, r1)];
    let got = run_funnel(&with, &lookup).unwrap();
    assert_eq!(got["result"], json!([3, 1]));
    assert_eq!(got["actors"], json!([["u1", "u2", "u3"], ["u2"]]));
    let mut bad = step("signups", false, false, false);
    bad.filters = vec![Filter::Exists { property: "user.id".into(), exists: false }];
    let got = run_funnel(&[(&bad, range(1))], &lookup).unwrap();
    assert_eq!(got["result"], json!([0]), "null actors never count");
}

#[test]
fn first_step_may_not_be_optional_or_inverted() {
    let lookup = |_: &str| None;
    for (o, i) in [(true, false), (false, true)] {
        let s = step("signups", o, i, false);
        let err = run_funnel(&[(&s, range(1))], &lookup).unwrap_err();
        assert_eq!(err.code, QueryErrorCode::InvalidParameterError);
    }
    assert!(run_funnel(&[], &lookup).is_err());
    let s = step("signups", false, false, true);
    let got = run_funnel(&[(&s, range(1))], &lookup).unwrap();
    assert_eq!(got["result"], json!([0]));
    assert_eq!(got["actors"], json!([[]]));
    let _ = Value::Null;
}
