//! Extraction (keen-semantics §9.5): matching events rebuilt as JSON, in
//! `keen.timestamp` order, as JSON rows or CSV.
//!
//! Rows are selected per segment (in parallel) by the caller's selection
//! function (filters and deletion bitmap applied), sorted by
//! (`keen.timestamp`, `keen.id`) across segments, cut to `latest` or
//! checked against the synchronous limit, and only then rebuilt into
//! events, so the cost of rebuilding is paid only for returned rows.
//!
//! Choices the spec leaves open:
//! - An event's members come out as `keen` first, then properties in the
//!   order the collection first saw them.
//! - `keen` holds `timestamp`, `created_at`, `id`, then any other stored
//!   `keen.*` values (`location`, `uniqueness_token`).
//! - `property_names` keeps only the listed leaf paths (a path naming an
//!   object keeps nothing); an event with none of them is returned as `{}`.

use std::ops::Range;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, UInt32Type};
use arrow_array::Array;
use rayon::prelude::*;
use roaring::RoaringBitmap;
use serde_json::{Map, Value};
use tally_ingest::{
    format_datetime, ColumnData, DictReader, Segment, SegmentColumn, Snapshot, CREATED_AT_COLUMN,
    ID_COLUMN, TIMESTAMP_COLUMN,
};

use crate::error::{QueryError, Result};
use crate::model::Extraction;
use crate::time::TimeRange;

/// The most events a synchronous extraction returns without `latest`
/// (keen-semantics §9.5).
pub const MAX_SYNC_EXTRACTION: u64 = 100_000;

/// The most events an asynchronous (`email`) extraction hands to its sink.
pub const MAX_ASYNC_EXTRACTION: u64 = 10_000_000;

/// Selects the matching rows of one segment within a row range (filters
/// applied, deleted rows removed).
pub type SelectFn<'a> =
    dyn Fn(&Snapshot, &Segment, Range<u32>) -> Result<RoaringBitmap> + Sync + 'a;

/// A picked row: (timestamp, event id, segment index, row).
type Picked = (i64, [u8; 12], u32, u32);

/// Runs an extraction and returns the events, oldest first.
///
/// `max_events` is the size limit without `latest`
/// ([`MAX_SYNC_EXTRACTION`] or [`MAX_ASYNC_EXTRACTION`]); more matching
/// events is a `LimitExceededError`.
pub fn extract(
    snapshot: Option<&Snapshot>,
    q: &Extraction,
    range: TimeRange,
    select: &SelectFn<'_>,
    max_events: u64,
) -> Result<Vec<Value>> {
    let Some(snap) = snapshot else { return Ok(Vec::new()) };
    let segments = snap.segments();
    let picked: Vec<Vec<Picked>> = segments
        .par_iter()
        .enumerate()
        .map(|(si, seg)| {
            let rows = seg.time_range(range.start_ms, range.end_ms);
            if rows.is_empty() {
                return Ok(Vec::new());
            }
            let bm = select(snap, seg, rows)?;
            let ts = seg.timestamps();
            let ids = seg.ids();
            Ok(bm.iter().map(|r| (ts[r as usize], ids.get(r as usize).0, si as u32, r)).collect())
        })
        .collect::<Result<_>>()?;
    let total: u64 = picked.iter().map(|p| p.len() as u64).sum();
    if q.latest.is_none() && total > max_events {
        return Err(QueryError::limit(format!(
            "extraction: {total} events match, more than the limit of {max_events}; narrow the \
             timeframe or filters, or set latest"
        )));
    }
    let mut all: Vec<Picked> = picked.into_iter().flatten().collect();
    all.sort_unstable();
    if let Some(n) = q.latest {
        let keep = (n.min(all.len() as u64)) as usize;
        all.drain(..all.len() - keep);
    }
    let wanted = q.property_names.as_deref();
    let out: Vec<Value> = all
        .par_chunks(4096)
        .flat_map_iter(|chunk| {
            chunk
                .iter()
                .map(|&(_, _, si, row)| rebuild(snap, &segments[si as usize], row, wanted))
                .collect::<Vec<_>>()
        })
        .collect();
    Ok(out)
}

/// Rebuilds row `row` of `seg` as a nested JSON event. With `wanted`, only
/// those leaf paths are kept.
pub fn rebuild(snap: &Snapshot, seg: &Segment, row: u32, wanted: Option<&[String]>) -> Value {
    let keep = |path: &str| wanted.is_none_or(|w| w.iter().any(|p| p == path));
    let r = row as usize;
    let mut event = Map::new();
    let mut keen = Map::new();
    if keep("keen.timestamp") {
        keen.insert("timestamp".into(), Value::String(format_datetime(seg.timestamps()[r])));
    }
    if keep("keen.created_at") && seg.created_at().is_valid(r) {
        keen.insert("created_at".into(), Value::String(format_datetime(seg.created_at().value(r))));
    }
    if keep("keen.id") {
        keen.insert("id".into(), Value::String(seg.ids().get(r).to_hex()));
    }
    if !keen.is_empty() {
        event.insert("keen".into(), Value::Object(keen));
    }
    for col in seg.columns() {
        if matches!(col.id, TIMESTAMP_COLUMN | CREATED_AT_COLUMN | ID_COLUMN)
            || !col.presence.contains(row)
        {
            continue;
        }
        let path: &str = &col.key.path;
        if !keep(path) {
            continue;
        }
        let dict = snap.dictionary(col.id).map(|d| d.reader());
        if let Some(v) = column_value(col, r, dict.as_ref()) {
            insert_path(&mut event, path, v);
        }
    }
    Value::Object(event)
}

/// The JSON value of `col` at row `r` (`None` if the row has no value).
pub fn column_value(col: &SegmentColumn, r: usize, dict: Option<&DictReader<'_>>) -> Option<Value> {
    Some(match &col.data {
        ColumnData::Str(ids) => {
            if !ids.is_valid(r) {
                return None;
            }
            Value::String(dict?.value(ids.value(r))?.to_owned())
        }
        ColumnData::Num(a) => match a.num(r)? {
            tally_ingest::Num::Int(i) => Value::from(i),
            tally_ingest::Num::Float(f) => crate::render::f64_json(f),
        },
        ColumnData::Bool(a) => {
            if !a.is_valid(r) {
                return None;
            }
            Value::Bool(a.value(r))
        }
        ColumnData::Datetime(a) => {
            if !a.is_valid(r) {
                return None;
            }
            Value::String(format_datetime(a.value(r)))
        }
        ColumnData::List(a) => {
            if !a.is_valid(r) {
                return None;
            }
            let items = a.value(r);
            let items = items.as_primitive_opt::<UInt32Type>()?;
            let mut out = Vec::with_capacity(items.len());
            for id in items.values().iter() {
                let text = dict?.value(*id)?;
                out.push(serde_json::from_str(text).unwrap_or(Value::Null));
            }
            Value::Array(out)
        }
        ColumnData::Geo(a) => {
            if !a.is_valid(r) {
                return None;
            }
            let pair = a.value(r);
            let pair = pair.as_primitive_opt::<Float64Type>()?;
            Value::Array(
                pair.values()
                    .iter()
                    .map(|f| serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number))
                    .collect(),
            )
        }
        ColumnData::Null => Value::Null,
    })
}

/// Inserts `v` at dotted `path` inside `obj`, creating objects on the way.
fn insert_path(obj: &mut Map<String, Value>, path: &str, v: Value) {
    match path.split_once('.') {
        None => {
            obj.insert(path.to_owned(), v);
        }
        Some((head, rest)) => {
            let child = obj.entry(head.to_owned()).or_insert_with(|| Value::Object(Map::new()));
            if !child.is_object() {
                *child = Value::Object(Map::new());
            }
            if let Value::Object(m) = child {
                insert_path(m, rest, v);
            }
        }
    }
}

/// The response body of a JSON extraction: `{"result": [events...]}`.
pub fn render_json(events: Vec<Value>) -> Value {
    let mut m = Map::new();
    m.insert("result".into(), Value::Array(events));
    Value::Object(m)
}

/// The CSV form of extracted events (keen-semantics §9.5): a header row with
/// the sorted union of flattened leaf paths, one row per event, lists as
/// JSON text, missing and null as empty cells, RFC 4180 quoting.
pub fn render_csv(events: &[Value]) -> Result<String> {
    let flat: Vec<Vec<(String, &Value)>> = events
        .iter()
        .map(|e| {
            let mut out = Vec::new();
            flatten("", e, &mut out);
            out
        })
        .collect();
    let mut header: Vec<&str> = flat.iter().flatten().map(|(p, _)| p.as_str()).collect();
    header.sort_unstable();
    header.dedup();
    let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
    let io = |e: csv::Error| {
        QueryError::new(crate::QueryErrorCode::LimitExceededError, format!("csv: {e}"))
    };
    w.write_record(&header).map_err(io)?;
    let mut cells: Vec<String> = vec![String::new(); header.len()];
    for row in &flat {
        cells.iter_mut().for_each(String::clear);
        for (path, v) in row {
            if let Ok(i) = header.binary_search(&path.as_str()) {
                cells[i] = match v {
                    Value::Null => String::new(),
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
            }
        }
        w.write_record(&cells).map_err(io)?;
    }
    let bytes = w.into_inner().map_err(|e| io(e.into_error().into()))?;
    Ok(String::from_utf8(bytes).unwrap_or_default())
}

fn flatten<'a>(prefix: &str, v: &'a Value, out: &mut Vec<(String, &'a Value)>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let p = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(&p, child, out);
            }
        }
        _ if !prefix.is_empty() => out.push((prefix.to_owned(), v)),
        _ => {}
    }
}
