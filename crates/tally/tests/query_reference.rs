//! The engine against the naive reference evaluator (tests/support):
//! random events (all types, lists, nulls, conflicts, nesting; split over
//! several sealed segments with the rest still in the head) × random
//! queries (every analysis, operator, timeframe form, timezone, interval,
//! group_by, order_by/limit, multi_analysis, funnel) → the same response or
//! the same error code.
//!
//! CI runs a CI-sized number of cases; `TALLY_FULL=1` runs many more.

mod support;

use proptest::prelude::*;
use serde_json::Value;
use support::compare::{same, same_with};
use support::gen;
use support::reference;
use tally::Response;

fn cases() -> u32 {
    if std::env::var("TALLY_FULL").is_ok_and(|v| v == "1") {
        5_000
    } else {
        192
    }
}

/// The first JSON path where `a` and `b` differ (for failure messages).
fn first_difference(a: &Value, b: &Value, path: String) -> Option<String> {
    if same(a, b) {
        return None;
    }
    match (a, b) {
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (p, q))| first_difference(p, q, format!("{path}[{i}]"))),
        (Value::Object(x), Value::Object(y)) => {
            for (k, v) in x {
                match y.get(k) {
                    Some(w) => {
                        if let Some(d) = first_difference(v, w, format!("{path}.{k}")) {
                            return Some(d);
                        }
                    }
                    None => return Some(format!("{path}.{k}: reference {v}, engine has none")),
                }
            }
            Some(format!(
                "{path}: members differ: reference {:?} engine {:?}",
                x.keys().collect::<Vec<_>>(),
                y.keys().collect::<Vec<_>>()
            ))
        }
        _ => Some(format!("{path}: reference {a}, engine {b}")),
    }
}

fn engine_answer(events: &[(String, Value)], query: &Value, split: usize) -> Result<Value, String> {
    // In-memory storage: the property is about answers, not files.
    let (_engine, p) = support::world::engine_with(events, split);
    match p.query_json_at(query, gen::NOW_MS) {
        Ok(Response::Csv(t)) => Ok(Value::String(t)),
        Ok(r) => {
            let mut v = r.into_json().unwrap();
            strip_engine_ids(&mut v);
            Ok(v)
        }
        Err(e) => Err(e.error_code().to_string()),
    }
}

/// Extractions return `keen.created_at` and `keen.id`, which the engine
/// assigns and the reference does not model.
fn strip_engine_ids(v: &mut Value) {
    if let Some(Value::Array(events)) = v.get_mut("result") {
        for e in events {
            if let Some(Value::Object(k)) = e.get_mut("keen") {
                k.remove("created_at");
                k.remove("id");
            }
        }
    }
}

fn check(events: Vec<(String, Value)>, query: Value, split: usize) -> Result<(), TestCaseError> {
    let stored: Vec<(String, Value)> =
        events.iter().map(|(c, e)| (c.clone(), gen::stored_form(e))).collect();
    let want = reference::evaluate(&stored, &query, gen::NOW_MS).map_err(|e| e.code);
    let got = engine_answer(&events, &query, split.min(events.len()));
    let rounded = matches!(
        query["analysis_type"].as_str(),
        Some("sum" | "median" | "percentile" | "average" | "standard_deviation" | "multi_analysis")
    );
    let ok = match (&want, &got) {
        (Ok(a), Ok(b)) => same_with(a, b, rounded),
        (Err(a), Err(b)) => a == b,
        _ => false,
    };
    let diff = match (&want, &got) {
        (Ok(a), Ok(b)) => first_difference(a, b, String::new()).unwrap_or_default(),
        _ => String::new(),
    };
    prop_assert!(
        ok,
        "query {}\ndiff {}\nevents {}\nreference {:?}\nengine    {:?}",
        query,
        diff,
        serde_json::to_string(&stored).unwrap(),
        want,
        got
    );
    Ok(())
}

proptest! {
    #![proptest_config(gen::config(cases()))]

    #[test]
    fn engine_matches_reference(events in gen::events(), query in gen::query(), split in 0usize..40) {
        check(events, query, split)?;
    }
}

/// Development aid: runs many cases without stopping or shrinking and
/// prints every mismatch (`cargo test -p tally --test query_reference -- --ignored --nocapture`).
#[test]
#[ignore]
fn survey_mismatches() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::new(gen::config(1));
    let strat = (gen::events(), gen::query(), 0usize..40);
    let n: usize = std::env::var("SURVEY_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(500);
    let mut bad = 0;
    for _ in 0..n {
        let (events, query, split) = strat.new_tree(&mut runner).unwrap().current();
        if let Err(e) = check(events, query, split) {
            bad += 1;
            let text = e.to_string();
            println!(
                "MISMATCH {}",
                text.lines()
                    .filter(|l| !l.starts_with("reference") && !l.starts_with("engine"))
                    .collect::<Vec<_>>()
                    .join("\n  ")
            );
        }
    }
    println!("{bad} of {n} mismatched");
}
