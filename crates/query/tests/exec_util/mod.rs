//! Shared helpers of the executor tests: collections built on in-memory
//! storage, split across sealed segments and head parts, and model values.
#![allow(dead_code)]

use std::sync::Arc;

use serde_json::Value;
use tally_ingest::{
    parse_event, Collection, CollectionOptions, FixedClock, FlatBatch, SimStorage, Snapshot,
};
use tally_query::exec::run_analysis;
use tally_query::{
    Analysis, AnalysisKind, CmpOp, Common, Filter, GroupBy, Operand, OrderBy, Scalar, TimeRange,
    TimeZone, Timeframe,
};

/// 2024-06-10T00:00:00Z in ms.
pub const DAY0: i64 = 1_717_977_600_000;
/// One day in ms.
pub const DAY: i64 = 86_400_000;

/// Appends `chunks` one batch each to a collection sealing every
/// `segment_rows` rows, taking a snapshot after each chunk (so unsealed
/// chunks become separate head parts). Returns the collection.
pub fn collection(chunks: &[Vec<String>], segment_rows: usize) -> Collection {
    let (c, _) = Collection::open(
        Arc::new(SimStorage::new()),
        "/data/c".into(),
        "c",
        Arc::new(FixedClock::at(DAY0 + 10 * DAY)),
        CollectionOptions { segment_rows, ..Default::default() },
    )
    .unwrap();
    for chunk in chunks {
        let mut b = FlatBatch::new();
        let mut raw = Vec::new();
        for e in chunk {
            parse_event(e.as_bytes(), &mut b, &Default::default()).unwrap();
            let start = raw.len();
            raw.extend_from_slice(e.as_bytes());
            b.events.last_mut().unwrap().raw = start..raw.len();
        }
        let idx: Vec<usize> = (0..chunk.len()).collect();
        let out = c.append(&b, &idx).unwrap();
        assert!(out.results.iter().all(|r| r.is_ok()), "{:?}", out.results);
        let _ = c.snapshot();
    }
    c
}

/// Events split into chunks of `chunk` events, sealing at `segment_rows`.
pub fn snapshot_of(events: &[String], chunk: usize, segment_rows: usize) -> Arc<Snapshot> {
    let chunks: Vec<Vec<String>> = events.chunks(chunk).map(|c| c.to_vec()).collect();
    collection(&chunks, segment_rows).snapshot()
}

/// An event at `ts` ms with extra members `body` (a JSON object's inside).
pub fn ev(ts: i64, body: &str) -> String {
    let t = tally_ingest::format_datetime(ts);
    if body.is_empty() {
        format!(r#"{{"keen": {{"timestamp": "{t}"}}}}"#)
    } else {
        format!(r#"{{"keen": {{"timestamp": "{t}"}}, {body}}}"#)
    }
}

/// Common parameters over [DAY0, DAY0 + days·DAY).
pub fn common(days: i64) -> Common {
    Common {
        event_collection: "c".into(),
        timeframe: Timeframe::Absolute { start_ms: DAY0, end_ms: DAY0 + days * DAY },
        timezone: TimeZone::default(),
        filters: Vec::new(),
        interval: None,
        group_by: Vec::new(),
        order_by: Vec::new(),
        limit: None,
        max_age: None,
        include_metadata: false,
    }
}

/// The range of `common(days)`.
pub fn range(days: i64) -> TimeRange {
    TimeRange { start_ms: DAY0, end_ms: DAY0 + days * DAY }
}

/// Daily buckets over `days` days.
pub fn daily(days: i64) -> Vec<TimeRange> {
    (0..days)
        .map(|d| TimeRange { start_ms: DAY0 + d * DAY, end_ms: DAY0 + (d + 1) * DAY })
        .collect()
}

/// An analysis.
pub fn an(kind: AnalysisKind, target: Option<&str>) -> Analysis {
    Analysis { kind, target_property: target.map(str::to_owned) }
}

/// An operand from JSON (strings get their date-time reading).
pub fn operand(v: Value) -> Operand {
    let value = scalar(&v);
    let as_datetime = match &value {
        Scalar::Str(s) => tally_ingest::parse_timestamp(s),
        _ => None,
    };
    Operand { value, as_datetime }
}

/// A scalar from JSON.
pub fn scalar(v: &Value) -> Scalar {
    match v {
        Value::Null => Scalar::Null,
        Value::Bool(b) => Scalar::Bool(*b),
        Value::Number(n) => Scalar::Num(match n.as_i64() {
            Some(i) => tally_query::Number::Int(i),
            None => tally_query::Number::from_f64(n.as_f64().unwrap()),
        }),
        Value::String(s) => Scalar::Str(s.clone()),
        Value::Array(a) => Scalar::List(a.iter().map(scalar).collect()),
        Value::Object(_) => panic!("objects are no operands"),
    }
}

/// `property op value`.
pub fn cmp(property: &str, op: CmpOp, v: Value) -> Filter {
    Filter::Cmp { property: property.into(), op, operand: operand(v) }
}

/// Group by a property.
pub fn gb(p: &str) -> GroupBy {
    GroupBy::Property(p.into())
}

/// Order by.
pub fn ob(p: &str, descending: bool) -> OrderBy {
    OrderBy { property: p.into(), descending }
}

/// Runs one unlabeled analysis.
pub fn run1(
    snap: Option<&Snapshot>,
    a: &Analysis,
    c: &Common,
    r: TimeRange,
    b: Option<&[TimeRange]>,
) -> Value {
    run_analysis(snap, &[(None, a)], c, r, b).unwrap()
}
