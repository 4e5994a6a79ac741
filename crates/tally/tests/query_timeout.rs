//! The query time limit (keen-semantics §7.2 `QueryTimeoutError`).

use std::time::Duration;

use serde_json::json;
use tally::{Engine, FixedClock};

const NOW: i64 = 1_718_202_920_123;

#[test]
fn a_query_past_its_time_limit_fails_with_query_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::builder()
        .with_data_dir(dir.path())
        .with_clock(FixedClock::at(NOW))
        .with_query_timeout(Duration::ZERO)
        .open()
        .unwrap();
    let (p, _) = engine.project_or_create("p").unwrap();
    p.record("a", br#"{"x": 1, "u": "v"}"#).unwrap();
    p.record("b", br#"{"x": 2, "u": "v"}"#).unwrap();
    let tf = "this_day";
    let queries = [
        json!({"analysis_type": "count", "event_collection": "a", "timeframe": tf}),
        json!({"analysis_type": "multi_analysis", "event_collection": "a", "timeframe": tf,
               "analyses": {"n": {"analysis_type": "count"}}}),
        json!({"analysis_type": "funnel", "timeframe": tf,
               "steps": [{"event_collection": "a", "actor_property": "u"}, {"event_collection": "b", "actor_property": "u"}]}),
        json!({"analysis_type": "extraction", "event_collection": "a", "timeframe": tf}),
        json!({"analysis_type": "extraction", "event_collection": "a", "timeframe": tf, "email": "x@example.com"}),
    ];
    for q in queries {
        let err = p.query_json_at(&q, NOW).unwrap_err();
        assert_eq!(err.error_code(), "QueryTimeoutError", "{q}");
        assert!(err.to_string().contains("time limit"), "{err}");
    }
}

#[test]
fn the_default_limit_lets_queries_finish() {
    let dir = tempfile::tempdir().unwrap();
    let engine =
        Engine::builder().with_data_dir(dir.path()).with_clock(FixedClock::at(NOW)).open().unwrap();
    let (p, _) = engine.project_or_create("p").unwrap();
    p.record("a", br#"{"x": 1}"#).unwrap();
    let q = json!({"analysis_type": "count", "event_collection": "a", "timeframe": "this_day"});
    assert_eq!(p.query_json_at(&q, NOW).unwrap(), tally::Response::Json(json!({"result": 1})));
    assert_eq!(tally::DEFAULT_QUERY_TIMEOUT, Duration::from_secs(300));
}
