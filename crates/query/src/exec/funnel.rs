//! Funnels (keen-semantics §2.5): per step the distinct actors, then the
//! running set algebra.

use std::sync::Arc;

use rayon::prelude::*;
use serde_json::{Map, Value};
use tally_ingest::Snapshot;

use super::column::PropCols;
use super::filter;
use super::partial::{Distinct, DistinctDicts, Partial};
use super::plan::{distinct_dicts, fold_all, TargetPlan};
use super::value::ValKey;
use crate::error::{Deadline, QueryError, Result};
use crate::model::{AnalysisKind, FunnelStep};
use crate::render::scalar_json;
use crate::time::TimeRange;

/// Runs a funnel (§2.5): `steps` with their resolved timeframes;
/// `snapshot_of` gives a collection's snapshot (`None`: never received an
/// event). Returns `{"result": [...], "actors"?: [...], "steps": [...]}`;
/// `actors` only when some step has `with_actors`.
///
/// Errors: `InvalidParameterError` when there is no step or step 0 is
/// optional or inverted.
pub fn run_funnel(
    steps: &[(&FunnelStep, TimeRange)],
    snapshot_of: &dyn Fn(&str) -> Option<Arc<Snapshot>>,
) -> Result<Value> {
    run_funnel_until(steps, snapshot_of, Deadline::none())
}

/// [`run_funnel`] that fails with `QueryTimeoutError` once `deadline`
/// passes (checked before each step).
pub fn run_funnel_until(
    steps: &[(&FunnelStep, TimeRange)],
    snapshot_of: &dyn Fn(&str) -> Option<Arc<Snapshot>>,
    deadline: Deadline,
) -> Result<Value> {
    let Some((first, _)) = steps.first() else {
        return Err(QueryError::invalid("steps", "a funnel needs at least one step"));
    };
    if first.optional || first.inverted {
        return Err(QueryError::invalid(
            "steps[0]",
            "the first step may be neither optional nor inverted",
        ));
    }
    // Each step's actors stay a set of dictionary ids of its own
    // collection; only the running set R is materialised (step 0's actors,
    // in canonical order), and each later step tests R's members by
    // dictionary lookup: O(|R|), not O(|A_k|) decoded strings.
    let sets: Vec<Option<(Distinct, DistinctDicts)>> = steps
        .iter()
        .map(|(s, r)| {
            deadline.check()?;
            step_actors(s, *r, snapshot_of)
        })
        .collect::<Result<_>>()?;
    deadline.check()?;
    let mut result = Vec::with_capacity(steps.len());
    let mut actors = Vec::with_capacity(steps.len());
    let mut running: Vec<ValKey> = Vec::new();
    for (k, ((step, _), a)) in steps.iter().zip(sets).enumerate() {
        let s: Vec<ValKey> = if k == 0 {
            a.map(|(d, dicts)| d.keys(&dicts).into_iter().collect()).unwrap_or_default()
        } else {
            let member = |x: &ValKey| a.as_ref().is_some_and(|(d, dicts)| d.contains(x, dicts));
            running.iter().filter(|x| member(x) != step.inverted).cloned().collect()
        };
        result.push(Value::from(s.len() as u64));
        actors.push(if step.with_actors {
            Value::Array(s.iter().map(|v| scalar_json(&v.to_scalar())).collect())
        } else {
            Value::Null
        });
        if k == 0 || !step.optional {
            running = s;
        }
    }
    let mut body = Map::new();
    body.insert("result".into(), Value::Array(result));
    if steps.iter().any(|(s, _)| s.with_actors) {
        body.insert("actors".into(), Value::Array(actors));
    }
    body.insert("steps".into(), Value::Array(steps.iter().map(|(s, _)| s.echo.clone()).collect()));
    Ok(Value::Object(body))
}

/// A_k: the distinct non-null actor values among the step's events, as a
/// distinct state over the collection's dictionaries (`None`: no value).
fn step_actors(
    step: &FunnelStep,
    range: TimeRange,
    snapshot_of: &dyn Fn(&str) -> Option<Arc<Snapshot>>,
) -> Result<Option<(Distinct, DistinctDicts)>> {
    let Some(snap) = snapshot_of(&step.event_collection) else { return Ok(None) };
    let filters = filter::Prepared::new(&snap, &step.filters)?;
    let t = TargetPlan {
        kind: AnalysisKind::SelectUnique,
        prop: Some(PropCols::resolve(&snap, &step.actor_property)),
    };
    let merged = snap
        .segments()
        .par_iter()
        .map(|seg| {
            let r = seg.time_range(range.start_ms, range.end_ms);
            if r.is_empty() {
                return Partial::empty(t.kind);
            }
            let sel = filters.select(seg, r);
            fold_all(&t, seg, &sel)
        })
        .reduce(
            || Partial::empty(AnalysisKind::SelectUnique),
            |mut a, b| {
                a.merge(&b);
                a
            },
        );
    let dicts = t.prop.as_ref().map(|p| distinct_dicts(&snap, p)).unwrap_or_default();
    Ok(match merged {
        Partial::Distinct(d) => Some((*d, dicts)),
        _ => None,
    })
}
