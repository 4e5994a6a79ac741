//! Running a validated [`Query`]: resolve its timeframe against the clock,
//! hand it to the executor (which adds `execution_metadata` to analyses
//! when asked; funnels and extractions get it here).

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{Map, Value};
use tally_ingest::Snapshot;

use crate::error::{Deadline, Result};
use crate::extract::{self, MAX_SYNC_EXTRACTION};
use crate::model::{Common, Query};
use crate::time::TimeRange;

/// Where a query finds a collection's data: the snapshot of a collection
/// (`None` if the collection never received an event).
pub trait SnapshotSource: Sync {
    /// The read snapshot of `collection`.
    fn snapshot(&self, collection: &str) -> Option<Arc<Snapshot>>;
}

impl<F: Fn(&str) -> Option<Arc<Snapshot>> + Sync> SnapshotSource for F {
    fn snapshot(&self, collection: &str) -> Option<Arc<Snapshot>> {
        self(collection)
    }
}

/// What a query answers.
///
/// Equality compares JSON bodies as JSON, whichever of `Json` and
/// `JsonText` holds them.
#[derive(Debug, Clone)]
pub enum Response {
    /// A Keen JSON response body (`{"result": ...}` plus the members funnels
    /// and metadata add).
    Json(Value),
    /// A Keen JSON response body already serialized: answers with
    /// `group_by` are written straight to text (see [`crate::exec::Body`]).
    JsonText(String),
    /// A CSV extraction (`content_type: "text/csv"`).
    Csv(String),
}

impl Response {
    /// The JSON body, if this is one (parsed from text for `JsonText`).
    pub fn json(&self) -> Option<Cow<'_, Value>> {
        match self {
            Response::Json(v) => Some(Cow::Borrowed(v)),
            Response::JsonText(t) => Some(Cow::Owned(parse_text(t))),
            Response::Csv(_) => None,
        }
    }

    /// The JSON body, if this is one, by value.
    pub fn into_json(self) -> Option<Value> {
        match self {
            Response::Json(v) => Some(v),
            Response::JsonText(t) => Some(parse_text(&t)),
            Response::Csv(_) => None,
        }
    }

    /// The body as text: serialized JSON (compact, members in order), or
    /// the CSV.
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            Response::Json(v) => Cow::Owned(v.to_string()),
            Response::JsonText(t) | Response::Csv(t) => Cow::Borrowed(t),
        }
    }
}

fn parse_text(t: &str) -> Value {
    // The engine wrote the text with serde_json: it parses.
    serde_json::from_str(t).unwrap_or(Value::Null)
}

impl PartialEq for Response {
    fn eq(&self, other: &Response) -> bool {
        match (self, other) {
            (Response::Csv(a), Response::Csv(b)) => a == b,
            (Response::Csv(_), _) | (_, Response::Csv(_)) => false,
            (Response::JsonText(a), Response::JsonText(b)) => a == b || self.json() == other.json(),
            _ => self.json() == other.json(),
        }
    }
}

impl From<crate::exec::Body> for Response {
    fn from(b: crate::exec::Body) -> Response {
        match b {
            crate::exec::Body::Tree(v) => Response::Json(v),
            crate::exec::Body::Text(t) => Response::JsonText(t),
        }
    }
}

/// Runs `query` with "now" = `now_ms` (read once per query, keen-semantics
/// §4.3) against `source`.
///
/// An extraction with `email` is answered like a synchronous one here; the
/// facade hands such extractions to its sink instead.
pub fn execute(query: &Query, now_ms: i64, source: &dyn SnapshotSource) -> Result<Response> {
    execute_until(query, now_ms, source, Deadline::none())
}

/// [`execute`] that fails with `QueryTimeoutError` once `deadline` passes.
pub fn execute_until(
    query: &Query,
    now_ms: i64,
    source: &dyn SnapshotSource,
    deadline: Deadline,
) -> Result<Response> {
    deadline.check()?;
    let started = Instant::now();
    let (body, meta) = match query {
        Query::Analysis { analysis, common } => {
            let (range, buckets, snap) = prepare(common, now_ms, source)?;
            let body = crate::exec::run_analysis_until(
                snap.as_deref(),
                &[(None, analysis)],
                common,
                range,
                buckets.as_deref(),
                deadline,
            )?;
            return Ok(body.into());
        }
        Query::Multi { analyses, common } => {
            let (range, buckets, snap) = prepare(common, now_ms, source)?;
            let labelled: Vec<_> = analyses.iter().map(|(l, a)| (Some(l.as_str()), a)).collect();
            let body = crate::exec::run_analysis_until(
                snap.as_deref(),
                &labelled,
                common,
                range,
                buckets.as_deref(),
                deadline,
            )?;
            return Ok(body.into());
        }
        Query::Funnel(f) => {
            let steps = f
                .steps
                .iter()
                .map(|s| Ok((s, s.timeframe.resolve(now_ms, &s.timezone)?)))
                .collect::<Result<Vec<_>>>()?;
            let lookup = |c: &str| source.snapshot(c);
            let body = crate::exec::run_funnel_until(&steps, &lookup, deadline)?;
            let meta = f.include_metadata.then(|| {
                let mut total = (0u64, 0u64);
                for (s, r) in &steps {
                    let (a, b) = scanned(source.snapshot(&s.event_collection).as_deref(), *r);
                    total = (total.0 + a, total.1.max(b));
                }
                total
            });
            (body, meta)
        }
        Query::Extraction(x) => {
            let range = x.timeframe.resolve(now_ms, &x.timezone)?;
            let snap = source.snapshot(&x.event_collection);
            let events = extract_events_until(x, now_ms, source, MAX_SYNC_EXTRACTION, deadline)?;
            if x.csv {
                return Ok(Response::Csv(extract::render_csv(&events)?));
            }
            let meta = x.include_metadata.then(|| scanned(snap.as_deref(), range));
            (extract::render_json(events), meta)
        }
    };
    Ok(Response::Json(match meta {
        Some((events, props)) => with_metadata(body, started, events, props),
        None => body,
    }))
}

/// The events of an extraction, oldest first; more than `max_events`
/// matching (without `latest`) is a `LimitExceededError`.
pub fn extract_events(
    x: &crate::model::Extraction,
    now_ms: i64,
    source: &dyn SnapshotSource,
    max_events: u64,
) -> Result<Vec<Value>> {
    extract_events_until(x, now_ms, source, max_events, Deadline::none())
}

/// [`extract_events`] that fails with `QueryTimeoutError` once `deadline`
/// passes (checked before each segment).
pub fn extract_events_until(
    x: &crate::model::Extraction,
    now_ms: i64,
    source: &dyn SnapshotSource,
    max_events: u64,
    deadline: Deadline,
) -> Result<Vec<Value>> {
    let range = x.timeframe.resolve(now_ms, &x.timezone)?;
    let snap = source.snapshot(&x.event_collection);
    let prepared = match &snap {
        Some(s) => Some(crate::exec::filter::Prepared::new(s, &x.filters)?),
        None => None,
    };
    let select = |_: &Snapshot, seg: &tally_ingest::Segment, rows: std::ops::Range<u32>| {
        deadline.check()?;
        Ok(prepared.as_ref().map(|p| p.select(seg, rows)).unwrap_or_default())
    };
    extract::extract(snap.as_deref(), x, range, &select, max_events)
}

/// The live rows of `snapshot` with `keen.timestamp` in `range` that match
/// every filter, per segment id (segments without a match are left out):
/// what a delete by filters and timeframe removes (keen-semantics §9.6).
/// The same filter evaluation as every analysis: bitmap indexes where
/// they exist, the deletion vector subtracted, a binary search for the
/// timeframe.
///
/// It runs on the calling thread, segment after segment: a delete calls it
/// holding the collection's writer lock, and rayon's workers must never be
/// needed under a lock that a worker (an append from a parallel caller)
/// may be waiting for.
pub fn matching_rows(
    snapshot: &Snapshot,
    filters: &[crate::model::Filter],
    range: TimeRange,
) -> Result<Vec<(tally_ingest::SegmentId, roaring::RoaringBitmap)>> {
    let prepared = crate::exec::filter::Prepared::new(snapshot, filters)?;
    Ok(snapshot
        .segments()
        .iter()
        .filter_map(|seg| {
            let rows = seg.time_range(range.start_ms, range.end_ms);
            if rows.is_empty() {
                return None;
            }
            let bm = prepared.select(seg, rows);
            (!bm.is_empty()).then(|| (seg.id(), bm))
        })
        .collect())
}

type Prepared = (TimeRange, Option<Vec<TimeRange>>, Option<Arc<Snapshot>>);

fn prepare(common: &Common, now_ms: i64, source: &dyn SnapshotSource) -> Result<Prepared> {
    let range = common.timeframe.resolve(now_ms, &common.timezone)?;
    let buckets = match &common.interval {
        Some(i) => Some(i.buckets(range, &common.timezone)?),
        None => None,
    };
    Ok((range, buckets, source.snapshot(&common.event_collection)))
}

/// (events in the timeframe, properties of the collection): what the
/// engine looked at. Events are counted by binary search, not scanned.
fn scanned(snap: Option<&Snapshot>, range: TimeRange) -> (u64, u64) {
    let Some(s) = snap else { return (0, 0) };
    let events = s
        .segments()
        .iter()
        .map(|seg| seg.time_range(range.start_ms, range.end_ms).len() as u64)
        .sum();
    (events, s.schema().paths().len() as u64)
}

fn with_metadata(body: Value, started: Instant, events: u64, props: u64) -> Value {
    let Value::Object(mut m) = body else { return body };
    let mut meta = Map::new();
    meta.insert("total_processing_time".into(), Value::from(started.elapsed().as_secs_f64()));
    meta.insert("events_scanned".into(), Value::from(events));
    meta.insert("properties_per_event".into(), Value::from(props));
    m.insert("execution_metadata".into(), Value::Object(meta));
    Value::Object(m)
}
