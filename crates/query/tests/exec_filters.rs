//! Every filter operator (keen-semantics §3) on scalar, list, missing, null
//! and type-conflicting values, over data split across a sealed segment and
//! two head parts.

mod exec_util;

use exec_util::*;
use roaring::RoaringBitmap;
use serde_json::{json, Value};
use tally_query::exec::filter::{haversine_miles, select};
use tally_query::exec::run_analysis;
use tally_query::{AnalysisKind, CmpOp, Filter};

const HOUR: i64 = 3_600_000;

fn events() -> Vec<String> {
    let vals = [
        r#""v": 42, "keen": {"location": {"coordinates": [-122.4194, 37.7749]}}"#,
        r#""v": "42", "keen": {"location": {"coordinates": [-118.2437, 34.0522]}}"#,
        r#""v": ["a", "b", 42]"#,
        r#""v": null"#,
        r#""w": 1"#,
        r#""v": true"#,
        r#""v": "2024-06-10T06:13:20.123Z""#,
        r#""v": "apple pie""#,
        r#""v": 3.5"#,
        r#""v": []"#,
        r#""v": ["x", null]"#,
        r#""v": false"#,
        r#""v": ["2024-06-10T06:13:20.123Z", 7.5]"#,
    ];
    vals.iter()
        .enumerate()
        .map(|(i, body)| {
            // keen.location must sit inside the keen object: merge by hand.
            let t = tally_ingest::format_datetime(DAY0 + i as i64 * HOUR);
            if let Some((v, loc)) = body.split_once(r#", "keen": {"location": "#) {
                let loc = loc.strip_suffix('}').unwrap();
                format!(r#"{{"keen": {{"timestamp": "{t}", "location": {loc}}}, "id": {i}, {v}}}"#)
            } else {
                format!(r#"{{"keen": {{"timestamp": "{t}"}}, "id": {i}, {body}}}"#)
            }
        })
        .collect()
}

/// The ids matching `filters`, by select_unique, checked against count and
/// against `filter::select` on every segment.
fn ids(snap: &tally_ingest::Snapshot, filters: Vec<Filter>) -> Vec<i64> {
    let mut c = common(1);
    c.filters = filters;
    let su = an(AnalysisKind::SelectUnique, Some("id"));
    let out = run1(Some(snap), &su, &c, range(1), None);
    let ids: Vec<i64> =
        out["result"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
    let count = run1(Some(snap), &an(AnalysisKind::Count, None), &c, range(1), None);
    assert_eq!(count["result"], json!(ids.len()));
    let mut n = 0;
    for seg in snap.segments() {
        let rows = seg.time_range(DAY0, DAY0 + DAY);
        n += select(snap, seg, &c.filters, rows).unwrap().len();
    }
    assert_eq!(n, ids.len() as u64);
    ids
}

#[test]
fn data_spans_sealed_segments_and_head_parts() {
    let snap = snapshot_of(&events(), 4, 8);
    assert_eq!(snap.rows(), 13);
    assert!(snap.segments().len() >= 3, "{} segments", snap.segments().len());
}

#[test]
fn every_operator() {
    let snap = snapshot_of(&events(), 4, 8);
    let all: Vec<i64> = (0..13).collect();
    let but = |ex: &[i64]| all.iter().copied().filter(|i| !ex.contains(i)).collect::<Vec<_>>();
    let cases: Vec<(Filter, Vec<i64>)> = vec![
        (cmp("v", CmpOp::Eq, json!(42)), vec![0, 2]),
        (cmp("v", CmpOp::Eq, json!(42.0)), vec![0, 2]),
        (cmp("v", CmpOp::Eq, json!("42")), vec![1]),
        (cmp("v", CmpOp::Eq, json!("a")), vec![2]),
        (cmp("v", CmpOp::Eq, json!(true)), vec![5]),
        (cmp("v", CmpOp::Eq, json!(false)), vec![11]),
        (cmp("v", CmpOp::Eq, Value::Null), vec![3, 4]),
        (cmp("v", CmpOp::Ne, Value::Null), but(&[3, 4])),
        (cmp("v", CmpOp::Ne, json!(42)), but(&[0, 2])),
        (cmp("v", CmpOp::Ne, json!("42")), but(&[1])),
        (cmp("v", CmpOp::Eq, json!("2024-06-10T06:13:20.123Z")), vec![6, 12]),
        (cmp("v", CmpOp::Eq, json!("2024-06-10T08:13:20.123+02:00")), vec![6, 12]),
        (cmp("v", CmpOp::Eq, json!([])), vec![9]),
        (cmp("v", CmpOp::Eq, json!(["a", "b", 42])), vec![2]),
        (cmp("v", CmpOp::Eq, json!(["a", "b"])), vec![]),
        (cmp("v", CmpOp::Eq, json!(["x", null])), vec![10]),
        (cmp("v", CmpOp::Ne, json!([])), but(&[9])),
        (cmp("v", CmpOp::Gt, json!(10)), vec![0, 2]),
        (cmp("v", CmpOp::Lt, json!(10)), vec![8, 12]),
        (cmp("v", CmpOp::Gte, json!(3.5)), vec![0, 2, 8, 12]),
        (cmp("v", CmpOp::Lte, json!(3.5)), vec![8]),
        (cmp("v", CmpOp::Lt, json!("b")), vec![1, 2, 7]),
        (cmp("v", CmpOp::Gt, json!("2024-01-01T00:00:00Z")), vec![1, 2, 6, 7, 10, 12]),
        (cmp("v", CmpOp::Lt, json!("2024-06-10T06:13:20.124Z")), vec![6, 12]),
        (Filter::Exists { property: "v".into(), exists: true }, but(&[3, 4])),
        (Filter::Exists { property: "v".into(), exists: false }, vec![3, 4]),
        (Filter::Exists { property: "nope".into(), exists: false }, all.clone()),
        (
            Filter::In {
                property: "v".into(),
                operands: vec![operand(json!(42)), operand(json!("a")), operand(Value::Null)],
            },
            vec![0, 2, 3, 4],
        ),
        (
            Filter::In {
                property: "v".into(),
                operands: vec![operand(json!("apple pie")), operand(json!(true))],
            },
            vec![5, 7],
        ),
        (
            Filter::Contains {
                property: "v".into(),
                operand: operand(json!("pp")),
                negated: false,
            },
            vec![7],
        ),
        (
            Filter::Contains { property: "v".into(), operand: operand(json!("a")), negated: false },
            vec![2, 7],
        ),
        (
            Filter::Contains { property: "v".into(), operand: operand(json!("a")), negated: true },
            but(&[2, 7]),
        ),
        (
            Filter::Contains { property: "v".into(), operand: operand(json!(42)), negated: false },
            vec![2],
        ),
        (
            // contains never matches a datetime (§0 edge cases)
            Filter::Contains {
                property: "v".into(),
                operand: operand(json!("2024")),
                negated: true,
            },
            all.clone(),
        ),
        (
            // nor a datetime list element
            Filter::Contains {
                property: "v".into(),
                operand: operand(json!("2024-06-10T06:13:20.123Z")),
                negated: false,
            },
            vec![],
        ),
        (
            Filter::Regex { property: "v".into(), regex: regex::Regex::new("^a").unwrap() },
            vec![2, 7],
        ),
        (Filter::Regex { property: "v".into(), regex: regex::Regex::new("2024").unwrap() }, vec![]),
        (
            Filter::Regex { property: "v".into(), regex: regex::Regex::new("(?i)APPLE").unwrap() },
            vec![7],
        ),
        (Filter::Within { lon: -122.4194, lat: 37.7749, max_distance_miles: 10.0 }, vec![0]),
        (Filter::Within { lon: -122.4194, lat: 37.7749, max_distance_miles: 400.0 }, vec![0, 1]),
        (
            Filter::Or(vec![cmp("v", CmpOp::Eq, json!(true)), cmp("v", CmpOp::Eq, json!("42"))]),
            vec![1, 5],
        ),
        (
            Filter::Or(vec![
                cmp("v", CmpOp::Eq, Value::Null),
                Filter::Or(vec![cmp("id", CmpOp::Gte, json!(11))]),
            ]),
            vec![3, 4, 11, 12],
        ),
        (cmp("keen.timestamp", CmpOp::Gte, json!("2024-06-10T05:00:00Z")), (5..13).collect()),
        (cmp("keen.timestamp", CmpOp::Lt, json!("2024-06-10T02:00:00")), vec![0, 1]),
        (cmp("w", CmpOp::Eq, json!(1)), vec![4]),
        (cmp("w", CmpOp::Ne, json!(1)), but(&[4])),
    ];
    for (i, (f, want)) in cases.into_iter().enumerate() {
        let got = ids(&snap, vec![f.clone()]);
        assert_eq!(got, want, "case {i}: {f:?}");
    }
}

#[test]
fn filters_are_anded_cheapest_first_and_order_does_not_matter() {
    let snap = snapshot_of(&events(), 4, 8);
    let a = cmp("v", CmpOp::Ne, json!("42"));
    let b = cmp("id", CmpOp::Lt, json!(6));
    let e = Filter::Exists { property: "v".into(), exists: true };
    assert_eq!(ids(&snap, vec![a.clone(), b.clone(), e.clone()]), vec![0, 2, 5]);
    assert_eq!(ids(&snap, vec![e, b, a]), vec![0, 2, 5]);
}

#[test]
fn select_subtracts_deleted_rows_and_respects_the_row_range() {
    let snap = snapshot_of(&events(), 4, 8);
    let seg = &snap.segments()[0];
    let n = seg.len() as u32;
    let all = select(&snap, seg, &[], 0..n).unwrap();
    assert_eq!(all.len(), u64::from(n));
    let part = select(&snap, seg, &[], 1..3).unwrap();
    assert_eq!(part.iter().collect::<Vec<_>>(), vec![1, 2]);
    let mut del = RoaringBitmap::new();
    del.insert(1);
    let deleted = seg.with_deleted(del);
    let got = select(&snap, &deleted, &[], 0..n).unwrap();
    assert!(!got.contains(1));
    assert_eq!(got.len(), u64::from(n) - 1);
    #[allow(clippy::reversed_empty_ranges)]
    let backwards = 5..2;
    assert!(select(&snap, seg, &[], backwards).unwrap().is_empty());
    assert!(select(&snap, seg, &[], n..n + 10).unwrap().is_empty());
}

#[test]
fn haversine_distance() {
    let d = haversine_miles(-122.4194, 37.7749, -118.2437, 34.0522);
    assert!((d - 347.4).abs() < 1.0, "{d}");
    assert_eq!(haversine_miles(1.0, 2.0, 1.0, 2.0), 0.0);
}

#[test]
fn missing_collection_counts_zero() {
    let out =
        run_analysis(None, &[(None, &an(AnalysisKind::Count, None))], &common(1), range(1), None)
            .unwrap();
    assert_eq!(out, json!({"result": 0}));
}

#[test]
fn keen_id_and_created_at_are_filterable() {
    let snap = snapshot_of(&events(), 4, 8);
    let seg = &snap.segments()[0];
    let id = seg.ids().get(1).to_hex();
    let first = ids(
        &snap,
        vec![cmp("id", CmpOp::Lt, json!(4)), cmp("keen.id", CmpOp::Eq, json!(id.clone()))],
    );
    assert_eq!(first.len(), 1);
    let ne = ids(&snap, vec![cmp("keen.id", CmpOp::Ne, json!(id))]);
    assert_eq!(ne.len(), 12);
    let all = ids(&snap, vec![Filter::Exists { property: "keen.created_at".into(), exists: true }]);
    assert_eq!(all.len(), 13);
    let prefix = ids(
        &snap,
        vec![Filter::Regex {
            property: "keen.id".into(),
            regex: regex::Regex::new("^[0-9a-f]{24}$").unwrap(),
        }],
    );
    assert_eq!(prefix.len(), 13);
}
