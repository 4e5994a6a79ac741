//! Keen batch documents (partial failure) and schema output.

use tally::{Engine, FixedClock, NdjsonOptions};

const NOW: i64 = 1_718_202_920_123;

fn project(dir: &std::path::Path) -> tally::Project {
    let e = Engine::builder().with_data_dir(dir).with_clock(FixedClock::at(NOW)).open().unwrap();
    e.project_or_create("P").unwrap().0
}

#[test]
fn batch_partial_failure_stores_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let p = project(dir.path());
    let body = br#"{"sign_ups": [{"username": "ada"}, {"username": "bob", "bad.name": 1}],
                    "purchases": [{"price": 5}],
                    "_bad": [{"x": 1}, {"x": 2}]}"#;
    let resp = p.record_batch(body).unwrap();
    let json = serde_json::to_value(&resp).unwrap();
    assert_eq!(json["sign_ups"][0], serde_json::json!({"success": true}));
    assert_eq!(json["sign_ups"][1]["success"], false);
    assert_eq!(json["sign_ups"][1]["error"]["name"], "InvalidPropertyNameError");
    assert!(json["sign_ups"][1]["error"]["description"].as_str().unwrap().contains("bad.name"));
    assert_eq!(json["purchases"], serde_json::json!([{"success": true}]));
    assert_eq!(json["_bad"][0]["error"]["name"], "InvalidCollectionNameError");
    assert_eq!(json["_bad"][1]["error"]["name"], "InvalidCollectionNameError");
    // Request order is kept.
    let order: Vec<&String> = resp.collections.iter().map(|(n, _)| n).collect();
    assert_eq!(order, ["sign_ups", "purchases", "_bad"]);
    assert_eq!(p.snapshot("sign_ups").unwrap().rows(), 1);
    assert_eq!(p.snapshot("purchases").unwrap().rows(), 1);
    assert!(p.snapshot("_bad").is_none());
}

#[test]
fn malformed_batches_fail_whole() {
    let dir = tempfile::tempdir().unwrap();
    let p = project(dir.path());
    for body in [&b"[1,2]"[..], br#"{"a": {"x": 1}}"#, b"{not json", br#"{"a": [], "a": []}"#] {
        let err = p.record_batch(body).unwrap_err();
        assert_eq!(err.error_code(), "InvalidBatchError", "{}", String::from_utf8_lossy(body));
    }
    assert_eq!(serde_json::to_string(&p.record_batch(b"{}").unwrap()).unwrap(), "{}");
    // Over the event limit: nothing stored.
    let events: Vec<String> = (0..5_001).map(|i| format!(r#"{{"i": {i}}}"#)).collect();
    let body = format!(r#"{{"many": [{}]}}"#, events.join(","));
    assert_eq!(p.record_batch(body.as_bytes()).unwrap_err().error_code(), "InvalidBatchError");
    assert!(p.snapshot("many").is_none());
    let events: Vec<String> = (0..5_000).map(|i| format!(r#"{{"i": {i}}}"#)).collect();
    let body = format!(r#"{{"many": [{}]}}"#, events.join(","));
    assert_eq!(p.record_batch(body.as_bytes()).unwrap().failed(), 0);
    assert_eq!(p.snapshot("many").unwrap().rows(), 5_000);
}

#[test]
fn schema_in_keen_shape_with_type_conflicts() {
    let dir = tempfile::tempdir().unwrap();
    let p = project(dir.path());
    p.record("purchases", br#"{"item": {"price": 25.5, "tags": ["a", 1]}, "user": {"id": "u1"}, "ok": true, "gone": null, "when": "2024-06-12T14:35:20Z", "v": 4.2}"#).unwrap();
    p.record(
        "purchases",
        br#"{"v": "4.2.1", "keen": {"location": {"coordinates": [10.75, 59.91]}}}"#,
    )
    .unwrap();
    let s = serde_json::to_value(p.collection_schema("purchases").unwrap()).unwrap();
    assert_eq!(s["name"], "purchases");
    assert_eq!(s["url"], "/3.0/projects/P/events/purchases");
    let props = &s["properties"];
    assert_eq!(props["item.price"], "num");
    assert_eq!(props["item.tags"], "list");
    assert_eq!(props["user.id"], "string");
    assert_eq!(props["ok"], "bool");
    assert_eq!(props["gone"], "null");
    assert_eq!(props["when"], "datetime");
    assert_eq!(props["keen.timestamp"], "datetime");
    assert_eq!(props["keen.created_at"], "datetime");
    assert_eq!(props["keen.id"], "string");
    assert_eq!(props["keen.location.coordinates"], "geo");
    assert_eq!(props["v"], "string", "most recently written type wins");
    assert_eq!(s["property_types"]["v"], serde_json::json!(["num", "string"]));
    let all = serde_json::to_value(p.schema()).unwrap();
    assert_eq!(all.as_array().unwrap().len(), 1);
    let prop = serde_json::to_value(p.property_schema("purchases", "item.price").unwrap()).unwrap();
    assert_eq!(
        prop,
        serde_json::json!({"property_name": "item.price", "type": "num", "url": "/3.0/projects/P/events/purchases/properties/item.price"})
    );
    assert_eq!(p.collection_schema("nope").unwrap_err().error_code(), "ResourceNotFoundError");
    assert_eq!(
        p.property_schema("purchases", "nope").unwrap_err().error_code(),
        "ResourceNotFoundError"
    );
}

#[test]
fn ndjson_bad_lines_are_reported_with_line_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let p = project(dir.path());
    let input = b"{\"a\": {\"x\": 1}}\nnot json\n\n{\"a\": {\"$bad\": 1}}\n{\"_c\": {}}\n{\"a\": {\"x\": 2}}";
    let s = p.ingest_ndjson(&input[..], &NdjsonOptions::default(), &mut |_| {}).unwrap();
    assert_eq!(s.accepted, 2);
    assert_eq!(s.rejected, 3);
    let lines: Vec<u64> = s.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, [2, 4, 5]);
    assert_eq!(s.errors[0].error_code, "InvalidEventError");
    assert_eq!(s.errors[1].error_code, "InvalidPropertyNameError");
    assert_eq!(s.errors[2].error_code, "InvalidCollectionNameError");
    assert_eq!(p.snapshot("a").unwrap().rows(), 2);
    // --collection mode: bare events.
    let opts = NdjsonOptions { collection: Some("bare".into()), ..Default::default() };
    let s = p.ingest_ndjson(&b"{\"x\": 1}\n{\"y\": 2}\n"[..], &opts, &mut |_| {}).unwrap();
    assert_eq!((s.accepted, s.rejected), (2, 0));
}

#[test]
fn airbyte_options_sanitise_names_and_infer_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let p = project(dir.path());
    let opts = NdjsonOptions {
        sanitize_collection_names: true,
        infer_timestamp_from: Some("updated_at".into()),
        ..Default::default()
    };
    let input = b"{\"Caf\xc3\xa9 (v2)!\": {\"updated_at\": 1718202920}}\n";
    let s = p.ingest_ndjson(&input[..], &opts, &mut |_| {}).unwrap();
    assert_eq!((s.accepted, s.rejected), (1, 0), "{:?}", s.errors);
    assert_eq!(p.collection_names(), ["Cafe v2"]);
    let snap = p.snapshot("Cafe v2").unwrap();
    let seg = &snap.segments()[0];
    assert_eq!(seg.timestamps()[0], 1_718_202_920_000);
}
