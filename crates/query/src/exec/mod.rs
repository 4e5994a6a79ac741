//! The executor: runs resolved analyses and funnels over a [`Snapshot`]
//! and renders Keen's response bodies (keen-semantics §2–6).
//!
//! Per segment, in parallel (rayon): the timeframe and every interval
//! bucket are row ranges found by binary search on the sorted
//! `keen.timestamp` ([`tally_ingest::Segment::time_range`]);
//! [`filter::Prepared`] turns the filters into a bitmap of matching rows; the rows then fold into
//! [`partial::Partial`] states, one per analysis, per group and per bucket.
//! Segment results merge associatively; the merged states are rendered.
//!
//! Shortcuts that never touch rows: a count is the bitmap's cardinality; a
//! count grouped by one string or bool property is, per value, the
//! cardinality of its index bitmap within the selection; count_unique of a
//! string property over whole segments is the union of the segments'
//! distinct dictionary ids.

pub mod exact;
pub mod filter;
pub mod partial;
pub mod value;

mod column;
mod funnel;
mod group;
mod numeric;
mod output;
mod plan;
mod rows;
mod select;

pub use funnel::{run_funnel, run_funnel_until};
pub use group::MAX_GROUPS;

use std::time::Instant;

use rayon::prelude::*;
use serde_json::{Map, Value};
use tally_ingest::Snapshot;

use group::{Comp, Decoder, GVal, Groups};
use output::{check_names, metadata, wrap_bucket_texts, wrap_buckets, Render};
use partial::{DistinctDicts, Partial};
use plan::Plan;

use crate::error::{Deadline, Result};
use crate::model::{Analysis, AnalysisKind, Common};
use crate::time::TimeRange;

/// A response body: a JSON tree, or JSON text written straight from the
/// merged states. Answers with `group_by` come as text: a tree of one map
/// per group cost more than the whole query for tens of thousands of
/// groups.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// A JSON tree.
    Tree(Value),
    /// Serialized JSON: the bytes `serde_json` writes for the same tree
    /// (members in the same order).
    Text(String),
}

impl Body {
    /// The body as a tree (parses text).
    pub fn into_value(self) -> Value {
        match self {
            Body::Tree(v) => v,
            Body::Text(t) => serde_json::from_str(&t).unwrap_or(Value::Null),
        }
    }
}

/// Runs one analysis (`analyses = [(None, a)]`) or a multi_analysis
/// (labelled, in request order) and returns the full response body
/// `{"result": ...}` (§2.4, §2.6, §5.3, §6), plus `execution_metadata`
/// when `common.include_metadata`.
///
/// `range` is the resolved timeframe; `buckets` the resolved interval
/// buckets (contiguous, in time order), if the query has an interval.
/// `snapshot = None` (a collection that never received an event) gives the
/// empty result: zero-filled buckets, no groups (§2.3).
///
/// Errors: `InvalidParameterError` for an order_by property that is no
/// group_by path (nor `result`, nor a label in multi_analysis) or a label
/// equal to a group_by path; `LimitExceededError` past [`MAX_GROUPS`]
/// groups (per bucket).
pub fn run_analysis(
    snapshot: Option<&Snapshot>,
    analyses: &[(Option<&str>, &Analysis)],
    common: &Common,
    range: TimeRange,
    buckets: Option<&[TimeRange]>,
) -> Result<Value> {
    run_analysis_until(snapshot, analyses, common, range, buckets, Deadline::none())
        .map(Body::into_value)
}

/// [`run_analysis`] that fails with `QueryTimeoutError` once `deadline`
/// passes (checked before each segment), answering a [`Body`] (text for
/// `group_by`).
pub fn run_analysis_until(
    snapshot: Option<&Snapshot>,
    analyses: &[(Option<&str>, &Analysis)],
    common: &Common,
    range: TimeRange,
    buckets: Option<&[TimeRange]>,
    deadline: Deadline,
) -> Result<Body> {
    deadline.check()?;
    let started = Instant::now();
    let multi = !(analyses.len() == 1 && analyses[0].0.is_none());
    check_names(analyses, common, multi)?;
    let bucket_list: Vec<TimeRange> = match buckets {
        Some(b) => b.to_vec(),
        None => vec![range],
    };
    let kinds: Vec<AnalysisKind> = analyses.iter().map(|(_, a)| a.kind).collect();
    let empty: Vec<Partial> = kinds.iter().map(|&k| Partial::empty(k)).collect();

    let (mut per_bucket, dicts, decoders, scanned) = match snapshot {
        None => (
            bucket_list.iter().map(|_| Groups::default()).collect::<Vec<_>>(),
            vec![DistinctDicts::default(); analyses.len()],
            vec![Decoder::default(); common.group_by.len()],
            0u64,
        ),
        Some(snap) => {
            let plan = Plan::new(snap, analyses, common, range, &bucket_list)?;
            let scanned: u64 = snap
                .segments()
                .iter()
                .map(|s| {
                    let r = s.time_range(range.start_ms, range.end_ms);
                    u64::from(r.end - r.start)
                })
                .sum();
            let merged = snap
                .segments()
                .par_iter()
                .map(|seg| {
                    deadline.check()?;
                    plan.segment(seg)
                })
                .try_reduce(Vec::new, |a, b| {
                    if a.is_empty() {
                        return Ok(b);
                    }
                    if b.is_empty() {
                        return Ok(a);
                    }
                    let mut a = a;
                    for (x, y) in a.iter_mut().zip(b) {
                        x.merge(y, &plan.empty)?;
                    }
                    Ok(a)
                })?;
            let mut merged = if merged.is_empty() {
                bucket_list.iter().map(|_| Groups::default()).collect()
            } else {
                merged
            };
            for g in &mut merged {
                g.flush_dense(&plan.empty)?;
            }
            (merged, plan.dicts.clone(), plan.decoders.clone(), scanned)
        }
    };

    let labels: Vec<&str> = analyses.iter().map(|(l, _)| l.unwrap_or("result")).collect();
    let render = Render { common, kinds: &kinds, labels: &labels, multi, dicts: &dicts };
    if common.group_by.is_empty() {
        let values: Vec<Value> = per_bucket
            .iter_mut()
            .map(|g| match g.get(&[]) {
                Some(i) => render.values(&mut g.states[i as usize]),
                None => render.values(&mut empty.clone()),
            })
            .collect();
        let mut body = Map::new();
        body.insert("result".into(), wrap_buckets(common, buckets, values));
        if common.include_metadata {
            body.insert("execution_metadata".into(), metadata(started, scanned, analyses, common));
        }
        return Ok(Body::Tree(Value::Object(body)));
    }
    // Every group of the whole timeframe appears in every bucket (§5.4).
    let aligned = per_bucket.len() == 1;
    let mut universe: Vec<Box<[Comp]>> = Vec::new();
    if let [one] = per_bucket.as_mut_slice() {
        // One bucket: its keys are the universe, in state order.
        universe = std::mem::take(&mut one.keys);
    } else {
        let mut seen: std::collections::HashSet<&[Comp]> = std::collections::HashSet::new();
        for g in &per_bucket {
            for k in &g.keys {
                if seen.insert(k) {
                    universe.push(k.clone());
                }
            }
        }
    }
    if universe.len() > MAX_GROUPS {
        return Err(group::too_many_groups());
    }
    // Group values, `group_by.len()` per key.
    let readers: Vec<_> = decoders.iter().map(|d| d.strs.as_ref().map(|s| s.reader())).collect();
    // Strings stay borrowed from the dictionaries: their read locks are
    // held until the text is written.
    let mut decoded: Vec<GVal<'_>> = Vec::with_capacity(universe.len() * decoders.len());
    for k in &universe {
        for ((c, d), r) in k.iter().zip(&decoders).zip(&readers) {
            decoded.push(d.decode_with(c, r.as_ref()));
        }
    }
    let single_strs = match readers.as_slice() {
        [Some(r)] => Some(r),
        _ => None,
    };
    let values: Vec<Vec<u8>> = per_bucket
        .iter_mut()
        .map(|g| render.groups(g, &universe, aligned, &decoded, single_strs, &empty))
        .collect::<Result<_>>()?;
    let mut out = b"{\"result\":".to_vec();
    out.extend_from_slice(&wrap_bucket_texts(common, buckets, values));
    if common.include_metadata {
        out.extend_from_slice(b",\"execution_metadata\":");
        crate::render::write_value(&mut out, &metadata(started, scanned, analyses, common));
    }
    out.push(b'}');
    // Only serde_json's output and literal ASCII went in: valid UTF-8.
    let text = String::from_utf8(out)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    Ok(Body::Text(text))
}
