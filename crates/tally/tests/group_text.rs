//! Answers with `group_by` are written straight to JSON text
//! (`Response::JsonText`): the exact bytes, member order included, must be
//! what serializing the equivalent tree gives (keen-semantics §0, §5, §6).

use serde_json::{json, Value};
use tally::{Engine, FixedClock, Response};

const NOW: i64 = 1_718_202_920_123; // 2024-06-12T14:35:20.123Z

fn project() -> (tempfile::TempDir, tally::Project) {
    let dir = tempfile::tempdir().unwrap();
    let engine =
        Engine::builder().with_data_dir(dir.path()).with_clock(FixedClock::at(NOW)).open().unwrap();
    let (p, _) = engine.project_or_create("p").unwrap();
    let events = [
        json!({"keen": {"timestamp": "2024-06-10T01:00:00.000Z"}, "b": "y\"q", "a": 2, "n": 1.5}),
        json!({"keen": {"timestamp": "2024-06-10T02:00:00.000Z"}, "b": "x", "a": 2, "n": 4}),
        json!({"keen": {"timestamp": "2024-06-11T03:00:00.000Z"}, "b": "x", "n": 2}),
        json!({"keen": {"timestamp": "2024-06-11T04:00:00.000Z"}, "b": "\u{e9}", "a": true}),
    ];
    for (i, e) in events.iter().enumerate() {
        p.record("c", e.to_string().as_bytes()).unwrap();
        if i == 1 {
            p.flush().unwrap();
        }
    }
    (dir, p)
}

fn text(p: &tally::Project, q: Value) -> String {
    match p.query_json_at(&q, NOW).unwrap() {
        Response::JsonText(t) => t,
        other => panic!("expected JsonText, got {other:?}"),
    }
}

const TF: &str = r#"{"start": "2024-06-10T00:00:00.000Z", "end": "2024-06-12T00:00:00.000Z"}"#;

#[test]
fn group_lists_are_exact_text_in_member_order() {
    let (_d, p) = project();
    let tf: Value = serde_json::from_str(TF).unwrap();
    let got = text(
        &p,
        json!({"analysis_type": "count", "event_collection": "c", "timeframe": tf,
               "group_by": ["b", "a"]}),
    );
    // Canonical order: numbers before strings before booleans, null
    // last; per group the group_by members first, in request order.
    assert_eq!(
        got,
        r#"{"result":[{"b":"x","a":2,"result":1},{"b":"x","a":null,"result":1},{"b":"y\"q","a":2,"result":1},{"b":"é","a":true,"result":1}]}"#
    );
}

#[test]
fn multi_analysis_with_interval_and_metadata_keeps_member_order() {
    let (_d, p) = project();
    let tf: Value = serde_json::from_str(TF).unwrap();
    let q = json!({"analysis_type": "multi_analysis", "event_collection": "c", "timeframe": tf,
                   "interval": "daily", "group_by": "b",
                   "analyses": {"total": {"analysis_type": "sum", "target_property": "n"},
                                "avg": {"analysis_type": "average", "target_property": "n"}}});
    let got = text(&p, q.clone());
    assert_eq!(
        got,
        concat!(
            r#"{"result":["#,
            r#"{"timeframe":{"start":"2024-06-10T00:00:00.000Z","end":"2024-06-11T00:00:00.000Z"},"value":["#,
            r#"{"b":"x","total":4,"avg":4},{"b":"y\"q","total":1.5,"avg":1.5},{"b":"é","total":0,"avg":null}]},"#,
            r#"{"timeframe":{"start":"2024-06-11T00:00:00.000Z","end":"2024-06-12T00:00:00.000Z"},"value":["#,
            r#"{"b":"x","total":2,"avg":2},{"b":"y\"q","total":0,"avg":null},{"b":"é","total":0,"avg":null}]}"#,
            r#"]}"#
        )
    );
    // Metadata follows the result.
    let mut with_meta = q;
    with_meta["include_metadata"] = json!(true);
    let got = text(&p, with_meta);
    assert!(got.starts_with(r#"{"result":[{"timeframe":"#), "{got}");
    let v: Value = serde_json::from_str(&got).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["result", "execution_metadata"]);
    assert_eq!(v["execution_metadata"]["events_scanned"], json!(4));
}

#[test]
fn text_answers_equal_their_tree_and_order_by_limit_apply() {
    let (_d, p) = project();
    let tf: Value = serde_json::from_str(TF).unwrap();
    let q = json!({"analysis_type": "count", "event_collection": "c", "timeframe": tf,
                   "group_by": "b", "order_by": {"property_name": "result", "direction": "DESC"},
                   "limit": 2});
    let r = p.query_json_at(&q, NOW).unwrap();
    assert_eq!(r.text(), r#"{"result":[{"b":"x","result":2},{"b":"y\"q","result":1}]}"#);
    let tree =
        Response::Json(json!({"result": [{"b": "x", "result": 2}, {"b": "y\"q", "result": 1}]}));
    assert_eq!(r, tree, "equality compares JSON, not variants");
    assert_eq!(r.into_json().unwrap(), tree.into_json().unwrap());
    // Without group_by the answer stays a tree.
    let plain = p
        .query_json_at(
            &json!({"analysis_type": "count", "event_collection": "c", "timeframe": tf}),
            NOW,
        )
        .unwrap();
    assert_eq!(plain, Response::Json(json!({"result": 4})));
}

/// Group order comes from the dictionary's sorted ids when the groups
/// cover much of the dictionary, from comparing strings otherwise; both
/// must give the canonical order, as the dictionary grows between queries.
#[test]
fn group_order_is_canonical_whichever_way_it_is_sorted() {
    let (_d, p) = project();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let tf = json!({"start": "2024-06-01T00:00:00.000Z", "end": "2024-06-12T00:00:00.000Z"});
    let count = json!({"analysis_type": "count", "event_collection": "d", "timeframe": tf,
                       "group_by": "s"});
    let few = json!({"analysis_type": "count", "event_collection": "d", "timeframe": tf,
                     "group_by": "s", "filters": [{"property_name": "k", "operator": "eq", "property_value": 3}]});
    for round in 0..3 {
        for _ in 0..200 {
            let r = next();
            let len = (r % 7) as usize;
            let s: String = (0..len)
                .map(|i| ['a', 'b', '\u{e9}', '/', '0'][(r >> (8 + i * 3)) as usize % 5])
                .collect();
            let e = json!({"keen": {"timestamp": "2024-06-05T00:00:00.000Z"},
                           "s": format!("https://x.example/{s}"), "k": r % 40});
            p.record("d", e.to_string().as_bytes()).unwrap();
        }
        if round == 1 {
            p.flush().unwrap();
        }
        for q in [&count, &few] {
            let v = p.query_json_at(q, NOW).unwrap().into_json().unwrap();
            let got: Vec<&str> =
                v["result"].as_array().unwrap().iter().map(|g| g["s"].as_str().unwrap()).collect();
            let mut want = got.clone();
            want.sort();
            want.dedup();
            assert_eq!(got, want, "round {round}: {q}");
            assert!(!got.is_empty());
        }
    }
}
