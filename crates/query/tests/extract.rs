//! Extraction (keen-semantics §9.5): event rebuilding, order, latest,
//! property_names, limits and CSV.

use std::sync::Arc;

use serde_json::{json, Value};
use tally_ingest::{
    parse_event, Collection, CollectionOptions, FixedClock, FlatBatch, Snapshot, StdStorage,
};
use tally_query::extract::{extract, render_csv, SelectFn};
use tally_query::{Extraction, TimeRange, TimeZone, Timeframe};

fn collection(dir: &std::path::Path, events: &[Value], seal_after: usize) -> Collection {
    let (c, _) = Collection::open(
        Arc::new(StdStorage::new()),
        dir.join("c"),
        "c",
        Arc::new(FixedClock::at(1_718_202_920_123)),
        CollectionOptions::default(),
    )
    .unwrap();
    for (i, e) in events.iter().enumerate() {
        let text = e.to_string();
        let mut b = FlatBatch::new();
        parse_event(text.as_bytes(), &mut b, &Default::default()).unwrap();
        c.append(&b, &[0]).unwrap();
        if i + 1 == seal_after {
            c.flush().unwrap();
        }
    }
    c
}

fn query(latest: Option<u64>, property_names: Option<Vec<&str>>) -> Extraction {
    Extraction {
        event_collection: "c".into(),
        timeframe: Timeframe::Absolute { start_ms: 0, end_ms: i64::MAX / 2 },
        timezone: TimeZone::default(),
        filters: vec![],
        latest,
        property_names: property_names.map(|v| v.into_iter().map(String::from).collect()),
        csv: false,
        email: None,
        include_metadata: false,
    }
}

const ALL: TimeRange = TimeRange { start_ms: 0, end_ms: i64::MAX / 2 };

fn all_rows() -> Box<SelectFn<'static>> {
    Box::new(|_s: &Snapshot, seg: &tally_ingest::Segment, rows: std::ops::Range<u32>| {
        let mut b = roaring::RoaringBitmap::new();
        b.insert_range(rows);
        b -= seg.deleted();
        Ok(b)
    })
}

fn sample() -> Vec<Value> {
    vec![
        json!({"keen": {"timestamp": "2024-06-12T10:00:00.000Z"}, "user": {"id": "u2", "age": 31}, "tags": ["a", 1, true, null], "ok": true}),
        json!({"keen": {"timestamp": "2024-06-10T10:00:00Z", "location": {"coordinates": [10.5, 59.9]}}, "price": 2.5, "when": "2024-06-01T12:00:00+02:00"}),
        json!({"keen": {"timestamp": "2024-06-11T10:00:00.000Z"}, "gone": null, "user": {"id": 7}}),
    ]
}

fn strip_ids(mut e: Value) -> Value {
    let k = e["keen"].as_object_mut().unwrap();
    assert_eq!(k.remove("id").unwrap().as_str().unwrap().len(), 24);
    assert_eq!(k.remove("created_at").unwrap(), json!("2024-06-12T14:35:20.123Z"));
    e
}

#[test]
fn events_come_back_in_timestamp_order_across_segments_and_head() {
    let dir = tempfile::tempdir().unwrap();
    let c = collection(dir.path(), &sample(), 2);
    let snap = c.snapshot();
    let out = extract(Some(&snap), &query(None, None), ALL, &*all_rows(), 100).unwrap();
    let out: Vec<Value> = out.into_iter().map(strip_ids).collect();
    assert_eq!(
        out,
        vec![
            json!({"keen": {"timestamp": "2024-06-10T10:00:00.000Z", "location": {"coordinates": [10.5, 59.9]}}, "price": 2.5, "when": "2024-06-01T10:00:00.000Z"}),
            json!({"keen": {"timestamp": "2024-06-11T10:00:00.000Z"}, "user": {"id": 7}, "gone": null}),
            json!({"keen": {"timestamp": "2024-06-12T10:00:00.000Z"}, "user": {"id": "u2", "age": 31}, "tags": ["a", 1, true, null], "ok": true}),
        ]
    );
}

#[test]
fn latest_keeps_the_newest_in_ascending_order() {
    let dir = tempfile::tempdir().unwrap();
    let c = collection(dir.path(), &sample(), 1);
    let snap = c.snapshot();
    let out =
        extract(Some(&snap), &query(Some(2), Some(vec!["keen.timestamp"])), ALL, &*all_rows(), 1)
            .unwrap();
    assert_eq!(
        out,
        vec![
            json!({"keen": {"timestamp": "2024-06-11T10:00:00.000Z"}}),
            json!({"keen": {"timestamp": "2024-06-12T10:00:00.000Z"}}),
        ]
    );
}

#[test]
fn property_names_keep_only_listed_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let c = collection(dir.path(), &sample(), 3);
    let snap = c.snapshot();
    let out =
        extract(Some(&snap), &query(None, Some(vec!["user.id", "price"])), ALL, &*all_rows(), 10)
            .unwrap();
    assert_eq!(
        out,
        vec![json!({"price": 2.5}), json!({"user": {"id": 7}}), json!({"user": {"id": "u2"}})]
    );
}

#[test]
fn over_the_limit_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let c = collection(dir.path(), &sample(), 0);
    let snap = c.snapshot();
    let err = extract(Some(&snap), &query(None, None), ALL, &*all_rows(), 2).unwrap_err();
    assert_eq!(err.code, tally_query::QueryErrorCode::LimitExceededError);
    assert!(err.message.contains("limit of 2"), "{}", err.message);
    // latest bounds it
    assert_eq!(extract(Some(&snap), &query(Some(3), None), ALL, &*all_rows(), 2).unwrap().len(), 3);
}

#[test]
fn timeframe_is_half_open_and_missing_collection_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    let c = collection(dir.path(), &sample(), 2);
    let snap = c.snapshot();
    let range = TimeRange { start_ms: 1_718_013_600_000, end_ms: 1_718_186_400_000 }; // 06-10T10:00 .. 06-12T10:00
    let out =
        extract(Some(&snap), &query(None, Some(vec!["keen.timestamp"])), range, &*all_rows(), 10)
            .unwrap();
    assert_eq!(out.len(), 2);
    assert_eq!(out[1], json!({"keen": {"timestamp": "2024-06-11T10:00:00.000Z"}}));
    assert!(extract(None, &query(None, None), ALL, &*all_rows(), 10).unwrap().is_empty());
}

#[test]
fn csv_has_sorted_header_json_lists_and_rfc4180_quoting() {
    let events = vec![
        json!({"b": "x,y", "a": {"z": 1, "y": null}, "l": [1, "q"]}),
        json!({"a": {"y": "say \"hi\""}, "c": true}),
    ];
    let csv = render_csv(&events).unwrap();
    assert_eq!(
        csv,
        "a.y,a.z,b,c,l\r\n,1,\"x,y\",,\"[1,\"\"q\"\"]\"\r\n\"say \"\"hi\"\"\",,,true,\r\n"
    );
}
