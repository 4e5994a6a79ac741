//! The executor: runs resolved analyses and funnels over a [`Snapshot`]
//! and renders Keen's response bodies (keen-semantics §2–6).
//!
//! Per segment, in parallel (rayon): the timeframe and every interval
//! bucket are row ranges found by binary search on the sorted
//! `keen.timestamp` ([`Segment::time_range`]); [`filter::Prepared`] turns
//! the filters into a bitmap of matching rows; the rows then fold into
//! [`partial::Partial`] states, one per analysis, per group and per bucket.
//! Segment results merge associatively; the merged states are rendered.
//!
//! Shortcuts that never touch rows: a count is the bitmap's cardinality; a
//! count grouped by one string or bool property is, per value, the
//! cardinality of its index bitmap within the selection; count_unique of a
//! string property over whole segments is the union of the segments'
//! distinct dictionary ids.

pub mod filter;
pub mod partial;
pub mod value;

mod column;
mod group;
mod numeric;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use rayon::prelude::*;
use roaring::RoaringBitmap;
use serde_json::{Map, Value};
use tally_ingest::{NumArray, Segment, Snapshot, ValueType};

use column::{list_elems, num_at, PropCols, View};
use group::{Comp, Decoder, GVal, Groups};
use partial::{DistinctDicts, Partial};
use value::{NumKey, ValKey};

pub use group::MAX_GROUPS;

use crate::error::{QueryError, Result};
use crate::model::{Analysis, AnalysisKind, Common, FunnelStep, GroupBy, Scalar};
use crate::render::scalar_json;
use crate::time::TimeRange;

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
            let merged = snap.segments().par_iter().map(|seg| plan.segment(seg)).try_reduce(
                Vec::new,
                |a, b| {
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
                },
            )?;
            let merged = if merged.is_empty() {
                bucket_list.iter().map(|_| Groups::default()).collect()
            } else {
                merged
            };
            (merged, plan.dicts.clone(), plan.decoders.clone(), scanned)
        }
    };

    let labels: Vec<&str> = analyses.iter().map(|(l, _)| l.unwrap_or("result")).collect();
    let render = Render { common, kinds: &kinds, labels: &labels, multi, dicts: &dicts };
    let result = if common.group_by.is_empty() {
        let values: Vec<Value> = per_bucket
            .iter_mut()
            .map(|g| match g.get(&[]) {
                Some(i) => render.values(&mut g.states[i as usize]),
                None => render.values(&mut empty.clone()),
            })
            .collect();
        wrap_buckets(common, buckets, values)
    } else {
        // Every group of the whole timeframe appears in every bucket (§5.4).
        let mut universe: Vec<Box<[Comp]>> = Vec::new();
        {
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
        let decoded: Vec<Vec<GVal>> = universe
            .iter()
            .map(|k| k.iter().zip(&decoders).map(|(c, d)| d.decode(c)).collect())
            .collect();
        let values: Vec<Value> = per_bucket
            .iter_mut()
            .map(|g| render.groups(g, &universe, &decoded, &empty))
            .collect::<Result<_>>()?;
        wrap_buckets(common, buckets, values)
    };
    let mut body = Map::new();
    body.insert("result".into(), result);
    if common.include_metadata {
        body.insert("execution_metadata".into(), metadata(started, scanned, analyses, common));
    }
    Ok(Value::Object(body))
}

fn metadata(
    started: Instant,
    scanned: u64,
    analyses: &[(Option<&str>, &Analysis)],
    common: &Common,
) -> Value {
    let mut paths: BTreeSet<&str> = BTreeSet::new();
    for (_, a) in analyses {
        if let Some(t) = &a.target_property {
            paths.insert(t);
        }
    }
    for g in &common.group_by {
        paths.insert(g.property());
    }
    fn filter_paths<'a>(fs: &'a [crate::model::Filter], out: &mut BTreeSet<&'a str>) {
        use crate::model::Filter as F;
        for f in fs {
            match f {
                F::Cmp { property, .. }
                | F::Exists { property, .. }
                | F::In { property, .. }
                | F::Contains { property, .. }
                | F::Regex { property, .. } => {
                    out.insert(property);
                }
                F::Within { .. } => {
                    out.insert(tally_ingest::LOCATION_PATH);
                }
                F::Or(subs) => filter_paths(subs, out),
            }
        }
    }
    filter_paths(&common.filters, &mut paths);
    let mut m = Map::new();
    m.insert(
        "total_processing_time".into(),
        crate::render::f64_json(started.elapsed().as_secs_f64()),
    );
    m.insert("events_scanned".into(), Value::from(scanned));
    m.insert("properties_per_event".into(), Value::from(paths.len() as u64));
    Value::Object(m)
}

fn check_names(analyses: &[(Option<&str>, &Analysis)], common: &Common, multi: bool) -> Result<()> {
    for g in &common.group_by {
        if g.property() == "result" {
            return Err(QueryError::invalid(
                "group_by",
                "a group property may not be named result",
            ));
        }
        if multi && analyses.iter().any(|(l, _)| *l == Some(g.property())) {
            return Err(QueryError::invalid(
                "analyses",
                format!("label {:?} equals a group_by property", g.property()),
            ));
        }
    }
    for o in &common.order_by {
        let p = o.property.as_str();
        let is_group = common.group_by.iter().any(|g| g.property() == p);
        let is_result =
            if multi { analyses.iter().any(|(l, _)| *l == Some(p)) } else { p == "result" };
        if !is_group && !is_result {
            return Err(QueryError::invalid(
                "order_by",
                format!("property_name {p:?} is neither a group_by property nor a result"),
            ));
        }
    }
    Ok(())
}

fn wrap_buckets(common: &Common, buckets: Option<&[TimeRange]>, values: Vec<Value>) -> Value {
    match buckets {
        None => values.into_iter().next().unwrap_or(Value::Null),
        Some(bs) => Value::Array(
            bs.iter()
                .zip(values)
                .map(|(b, v)| {
                    let mut tf = Map::new();
                    tf.insert("start".into(), common.timezone.format_instant(b.start_ms).into());
                    tf.insert("end".into(), common.timezone.format_instant(b.end_ms).into());
                    let mut m = Map::new();
                    m.insert("timeframe".into(), Value::Object(tf));
                    m.insert("value".into(), v);
                    Value::Object(m)
                })
                .collect(),
        ),
    }
}

struct Render<'a> {
    common: &'a Common,
    kinds: &'a [AnalysisKind],
    labels: &'a [&'a str],
    multi: bool,
    dicts: &'a [DistinctDicts],
}

impl Render<'_> {
    fn results(&self, states: &mut [Partial]) -> Vec<Scalar> {
        states
            .iter_mut()
            .zip(self.kinds)
            .zip(self.dicts)
            .map(|((s, &k), d)| s.finish_in_place(k, d))
            .collect()
    }

    /// The value without group_by: a scalar, or the label object.
    fn values(&self, states: &mut [Partial]) -> Value {
        let r = self.results(states);
        if self.multi {
            let mut m = Map::new();
            for (l, v) in self.labels.iter().zip(&r) {
                m.insert((*l).to_owned(), scalar_json(v));
            }
            Value::Object(m)
        } else {
            r.first().map_or(Value::Null, scalar_json)
        }
    }

    /// The group list of one bucket: every group of `universe`, ordered and
    /// limited (§6.3).
    fn groups(
        &self,
        g: &mut Groups,
        universe: &[Box<[Comp]>],
        decoded: &[Vec<GVal>],
        empty: &[Partial],
    ) -> Result<Value> {
        let rows: Vec<(usize, Vec<Scalar>)> = universe
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let r = match g.get(k) {
                    Some(id) => self.results(&mut g.states[id as usize]),
                    None => self.results(&mut empty.to_vec()),
                };
                (i, r)
            })
            .collect();
        let mut order: Vec<usize> = (0..rows.len()).collect();
        let by_values = |a: usize, b: usize| {
            for (x, y) in decoded[a].iter().zip(&decoded[b]) {
                let o = x.cmp(y);
                if o.is_ne() {
                    return o;
                }
            }
            std::cmp::Ordering::Equal
        };
        let keys: Vec<(bool, bool, usize)> = self
            .common
            .order_by
            .iter()
            .map(|o| {
                let group = self.common.group_by.iter().position(|gb| gb.property() == o.property);
                let result = if self.multi {
                    self.labels.iter().position(|l| *l == o.property)
                } else {
                    (o.property == "result").then_some(0)
                };
                // check_names made sure one of the two exists; a label
                // never equals a group path.
                match (result, group) {
                    (Some(r), _) => (true, o.descending, r),
                    (None, g) => (false, o.descending, g.unwrap_or(0)),
                }
            })
            .collect();
        order.sort_by(|&a, &b| {
            for &(is_result, desc, i) in &keys {
                let o = if is_result {
                    let (x, y) = (&rows[a].1[i], &rows[b].1[i]);
                    match (x == &Scalar::Null, y == &Scalar::Null) {
                        (true, true) => std::cmp::Ordering::Equal,
                        (true, false) => std::cmp::Ordering::Greater,
                        (false, true) => std::cmp::Ordering::Less,
                        (false, false) => {
                            let o = x.canonical_cmp(y);
                            if desc {
                                o.reverse()
                            } else {
                                o
                            }
                        }
                    }
                } else {
                    let (x, y) = (&decoded[a][i], &decoded[b][i]);
                    match (x.is_null(), y.is_null()) {
                        (true, true) => std::cmp::Ordering::Equal,
                        (true, false) => std::cmp::Ordering::Greater,
                        (false, true) => std::cmp::Ordering::Less,
                        (false, false) => {
                            let o = x.cmp(y);
                            if desc {
                                o.reverse()
                            } else {
                                o
                            }
                        }
                    }
                };
                if o.is_ne() {
                    return o;
                }
            }
            by_values(a, b)
        });
        if let Some(limit) = self.common.limit {
            order.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        }
        let out = order
            .into_iter()
            .map(|i| {
                let mut m = Map::new();
                for (gb, v) in self.common.group_by.iter().zip(&decoded[i]) {
                    m.insert(gb.property().to_owned(), v.json());
                }
                for (l, v) in self.labels.iter().zip(&rows[i].1) {
                    m.insert((*l).to_owned(), scalar_json(v));
                }
                Value::Object(m)
            })
            .collect();
        Ok(Value::Array(out))
    }
}

/// One group_by element, resolved.
struct GroupPlan {
    prop: PropCols,
    kind: GroupKind,
}

enum GroupKind {
    Property,
    Buckets { size: f64, offset: f64 },
    Ranges(Vec<(Option<f64>, Option<f64>)>),
}

/// One analysis, resolved.
struct TargetPlan {
    kind: AnalysisKind,
    prop: Option<PropCols>,
}

/// A query resolved against one snapshot.
struct Plan<'a> {
    filters: filter::Prepared,
    groups: Vec<GroupPlan>,
    targets: Vec<TargetPlan>,
    range: TimeRange,
    buckets: &'a [TimeRange],
    empty: Vec<Partial>,
    dicts: Vec<DistinctDicts>,
    decoders: Vec<Decoder>,
}

fn distinct_dicts(snap: &Snapshot, prop: &PropCols) -> DistinctDicts {
    DistinctDicts {
        strs: prop.col_id(ValueType::String).and_then(|id| snap.dictionary(id)).cloned(),
        elems: prop.col_id(ValueType::List).and_then(|id| snap.dictionary(id)).cloned(),
    }
}

impl<'a> Plan<'a> {
    fn new(
        snap: &Snapshot,
        analyses: &[(Option<&str>, &Analysis)],
        common: &Common,
        range: TimeRange,
        buckets: &'a [TimeRange],
    ) -> Result<Plan<'a>> {
        let filters = filter::Prepared::new(snap, &common.filters)?;
        let groups: Vec<GroupPlan> = common
            .group_by
            .iter()
            .map(|g| GroupPlan {
                prop: PropCols::resolve(snap, g.property()),
                kind: match g {
                    GroupBy::Property(_) => GroupKind::Property,
                    GroupBy::Buckets { size, offset, .. } => {
                        GroupKind::Buckets { size: *size, offset: *offset }
                    }
                    GroupBy::Ranges { ranges, .. } => GroupKind::Ranges(ranges.clone()),
                },
            })
            .collect();
        let decoders = groups
            .iter()
            .map(|g| {
                let d = distinct_dicts(snap, &g.prop);
                Decoder {
                    strs: d.strs,
                    elems: d.elems,
                    ranges: match &g.kind {
                        GroupKind::Ranges(r) => r.clone(),
                        _ => Vec::new(),
                    },
                    buckets: match g.kind {
                        GroupKind::Buckets { size, offset } => Some((size, offset)),
                        _ => None,
                    },
                }
            })
            .collect();
        let targets: Vec<TargetPlan> = analyses
            .iter()
            .map(|(_, a)| TargetPlan {
                kind: a.kind,
                prop: match a.kind {
                    AnalysisKind::Count => None,
                    _ => a.target_property.as_deref().map(|p| PropCols::resolve(snap, p)),
                },
            })
            .collect();
        let dicts = targets
            .iter()
            .map(|t| t.prop.as_ref().map(|p| distinct_dicts(snap, p)).unwrap_or_default())
            .collect();
        let empty = targets.iter().map(|t| Partial::empty(t.kind)).collect();
        Ok(Plan { filters, groups, targets, range, buckets, empty, dicts, decoders })
    }

    /// One segment's groups per bucket (empty vector: no row in range).
    fn segment(&self, seg: &Arc<Segment>) -> Result<Vec<Groups>> {
        let full = seg.time_range(self.range.start_ms, self.range.end_ms);
        if full.is_empty() {
            return Ok(Vec::new());
        }
        let sel = self.filters.select(seg, full.clone());
        let ranges: Vec<std::ops::Range<u32>> = self
            .buckets
            .iter()
            .map(|b| {
                seg.time_range(b.start_ms.max(self.range.start_ms), b.end_ms.min(self.range.end_ms))
            })
            .collect();
        if let Some(out) = self.count_by_index(seg, &sel, &full, &ranges)? {
            return Ok(out);
        }
        let mut out = Vec::with_capacity(self.buckets.len());
        for r in ranges {
            if r.is_empty() || sel.is_empty() {
                out.push(Groups::default());
                continue;
            }
            let sub = if r == full {
                sel.clone()
            } else {
                let mut rb = RoaringBitmap::new();
                rb.insert_range(r);
                rb &= &sel;
                rb
            };
            out.push(self.fold(seg, &sub)?);
        }
        Ok(out)
    }

    /// Folds selected rows `sub` of `seg` into groups.
    fn fold(&self, seg: &Segment, sub: &RoaringBitmap) -> Result<Groups> {
        let mut groups = Groups::default();
        if sub.is_empty() {
            return Ok(groups);
        }
        if self.groups.is_empty() {
            let states: Vec<Partial> = self.targets.iter().map(|t| fold_all(t, seg, sub)).collect();
            groups.id(&[], &self.empty)?;
            groups.states[0] = states;
            return Ok(groups);
        }
        // Row → group pairs (a row falls in several range groups).
        let views: Vec<Vec<View<'_>>> = self.groups.iter().map(|g| g.prop.views(seg)).collect();
        let mut rows: Vec<u32> = Vec::with_capacity(sub.len() as usize);
        let mut gids: Vec<u32> = Vec::with_capacity(sub.len() as usize);
        let mut buf: Vec<Comp> = Vec::with_capacity(self.groups.len());
        let has_ranges = self.groups.iter().any(|g| matches!(g.kind, GroupKind::Ranges(_)));
        let single_str =
            self.groups.len() == 1 && matches!(self.groups[0].kind, GroupKind::Property);
        if single_str && self.str_pairs(&views[0], sub, &mut groups, &mut rows, &mut gids)? {
            for (a, t) in self.targets.iter().enumerate() {
                fold_pairs(t, a, seg, &rows, &gids, &mut groups.states);
            }
            return Ok(groups);
        }
        let mut dense: Vec<u32> = Vec::new();
        let mut it = sub.iter();
        while let Some(run) = it.next_range() {
            for r in run {
                let row = r as usize;
                if has_ranges {
                    let alts: Vec<Vec<Comp>> = self
                        .groups
                        .iter()
                        .zip(&views)
                        .map(|(g, v)| match &g.kind {
                            GroupKind::Ranges(rs) => range_comps(v, row, rs),
                            _ => vec![comp(g, v, row)],
                        })
                        .collect();
                    // Every combination of the alternatives (an odometer).
                    let mut idx = vec![0usize; alts.len()];
                    'combos: loop {
                        buf.clear();
                        buf.extend(alts.iter().zip(&idx).map(|(a, &i)| a[i].clone()));
                        rows.push(r);
                        gids.push(groups.id(&buf, &self.empty)?);
                        let mut k = alts.len();
                        loop {
                            if k == 0 {
                                break 'combos;
                            }
                            k -= 1;
                            idx[k] += 1;
                            if idx[k] < alts[k].len() {
                                break;
                            }
                            idx[k] = 0;
                        }
                    }
                    continue;
                }
                if single_str {
                    if let Some(View::Str(_, ids)) = views[0].iter().find(|v| v.valid(row)) {
                        let id = ids.value(row) as usize;
                        if id < (1 << 22) {
                            if dense.len() <= id {
                                dense.resize(id + 1, u32::MAX);
                            }
                            if dense[id] == u32::MAX {
                                dense[id] = groups.id(&[Comp::Str(id as u32)], &self.empty)?;
                            }
                            rows.push(r);
                            gids.push(dense[id]);
                            continue;
                        }
                    }
                }
                buf.clear();
                buf.extend(self.groups.iter().zip(&views).map(|(g, v)| comp(g, v, row)));
                rows.push(r);
                gids.push(groups.id(&buf, &self.empty)?);
            }
        }
        for (a, t) in self.targets.iter().enumerate() {
            fold_pairs(t, a, seg, &rows, &gids, &mut groups.states);
        }
        Ok(groups)
    }

    /// Row → group pairs for one group_by property that holds only strings
    /// (and nulls) in this segment: a dense table from dictionary id to
    /// group, over the narrow id slice. False when that does not apply.
    fn str_pairs(
        &self,
        views: &[View<'_>],
        sub: &RoaringBitmap,
        groups: &mut Groups,
        rows: &mut Vec<u32>,
        gids: &mut Vec<u32>,
    ) -> Result<bool> {
        let mut strs = views.iter().filter(|v| !matches!(v, View::Null(_)));
        let (Some(View::Str(c, ids)), None) = (strs.next(), strs.next()) else {
            return Ok(false);
        };
        let max = c.index.as_ref().and_then(|i| i.values().last().copied()).unwrap_or(0);
        if max >= 1 << 22 {
            return Ok(false);
        }
        let mut w = StrWalk {
            dense: vec![u32::MAX; max as usize + 1],
            null_gid: u32::MAX,
            nulls: ids.nulls(),
            empty: &self.empty,
        };
        match ids {
            tally_ingest::StrIds::U8(a) => w.walk(a.values(), sub, groups, rows, gids)?,
            tally_ingest::StrIds::U16(a) => w.walk(a.values(), sub, groups, rows, gids)?,
            tally_ingest::StrIds::U32(a) => w.walk(a.values(), sub, groups, rows, gids)?,
        }
        Ok(true)
    }

    /// Counts grouped by one string/bool property, per bucket, from index
    /// bitmaps and cardinalities alone (no row is visited). `None` when the
    /// shortcut does not apply.
    fn count_by_index(
        &self,
        seg: &Segment,
        sel: &RoaringBitmap,
        full: &std::ops::Range<u32>,
        ranges: &[std::ops::Range<u32>],
    ) -> Result<Option<Vec<Groups>>> {
        if self.groups.len() != 1
            || !matches!(self.groups[0].kind, GroupKind::Property)
            || !self.targets.iter().all(|t| t.kind == AnalysisKind::Count)
        {
            return Ok(None);
        }
        let views = self.groups[0].prop.views(seg);
        if !views.iter().all(|v| matches!(v, View::Str(..) | View::Bool(..) | View::Null(_))) {
            return Ok(None);
        }
        let indexes: Vec<(bool, &tally_ingest::ValueIndex)> = views
            .iter()
            .filter_map(|v| Some((matches!(v, View::Bool(..)), v.column()?.index.as_ref()?)))
            .collect();
        let whole = sel.len() == seg.len() as u64;
        let one = ranges.len() == 1 && ranges[0] == *full;
        // Index work grows with values (× buckets when they are few), row
        // work with the selected rows: take the index only when cheaper.
        let values: u64 = indexes.iter().map(|(_, i)| i.values().len() as u64).sum();
        let work = match (one, ranges.len()) {
            (true, _) if whole => 0,
            (true, _) => values,
            (false, n) if n <= 64 => values * n as u64,
            (false, _) => values,
        };
        if work > sel.len() / 4 {
            return Ok(None);
        }
        let mut out: Vec<Groups> = ranges.iter().map(|_| Groups::default()).collect();
        let mut counted = vec![0u64; ranges.len()];
        let add = |g: &mut Groups, c: Comp, n: u64| -> Result<()> {
            let id = g.id(&[c], &self.empty)? as usize;
            for p in &mut g.states[id] {
                if let Partial::Count(x) = p {
                    *x += n;
                }
            }
            Ok(())
        };
        for (is_bool, idx) in indexes {
            for &val in idx.values() {
                let c = if is_bool { Comp::Bool(val == 1) } else { Comp::Str(val) };
                if one && whole {
                    let n = idx.cardinality(val);
                    if n > 0 {
                        counted[0] += n;
                        add(&mut out[0], c, n)?;
                    }
                    continue;
                }
                if one {
                    let n = idx.bitmap(val).intersection_len(sel);
                    if n > 0 {
                        counted[0] += n;
                        add(&mut out[0], c, n)?;
                    }
                    continue;
                }
                if ranges.len() <= 64 {
                    let mut vb = idx.bitmap(val);
                    if !whole {
                        vb &= sel;
                    }
                    for (j, r) in ranges.iter().enumerate() {
                        let n = vb.range_cardinality(r.clone());
                        if n > 0 {
                            counted[j] += n;
                            add(&mut out[j], c.clone(), n)?;
                        }
                    }
                    continue;
                }
                // Many buckets: rows ascend, and so do the buckets, so one
                // pass over the value's rows counts them all.
                let mut per_bucket: Vec<(usize, u64)> = Vec::new();
                let (mut j, mut n) = (0usize, 0u64);
                let mut step = |row: u32| {
                    while j < ranges.len() && row >= ranges[j].end {
                        if n > 0 {
                            per_bucket.push((j, n));
                            n = 0;
                        }
                        j += 1;
                    }
                    if j < ranges.len() && row >= ranges[j].start {
                        n += 1;
                    }
                };
                if whole {
                    idx.for_each_row(val, &mut step);
                } else {
                    let vb = idx.bitmap(val) & sel;
                    vb.iter().for_each(&mut step);
                }
                if n > 0 {
                    per_bucket.push((j, n));
                }
                for (j, n) in per_bucket {
                    counted[j] += n;
                    add(&mut out[j], c.clone(), n)?;
                }
            }
        }
        for (j, r) in ranges.iter().enumerate() {
            let total = if one { sel.len() } else { sel.range_cardinality(r.clone()) };
            if total > counted[j] {
                add(&mut out[j], Comp::Null, total - counted[j])?;
            }
        }
        Ok(Some(out))
    }
}

/// Row → group ids for a string group_by property, dense by dictionary id.
struct StrWalk<'a> {
    dense: Vec<u32>,
    null_gid: u32,
    nulls: Option<&'a arrow_buffer::NullBuffer>,
    empty: &'a [Partial],
}

impl StrWalk<'_> {
    fn walk<T: Copy + Into<u32>>(
        &mut self,
        v: &[T],
        sub: &RoaringBitmap,
        groups: &mut Groups,
        rows: &mut Vec<u32>,
        gids: &mut Vec<u32>,
    ) -> Result<()> {
        for r in sub.iter() {
            let row = r as usize;
            let g = match v.get(row) {
                Some(&id) if self.nulls.is_none_or(|n| n.is_valid(row)) => {
                    let id: u32 = id.into();
                    match self.dense.get(id as usize) {
                        Some(&g) if g != u32::MAX => g,
                        Some(_) => {
                            let g = groups.id(&[Comp::Str(id)], self.empty)?;
                            self.dense[id as usize] = g;
                            g
                        }
                        None => groups.id(&[Comp::Str(id)], self.empty)?,
                    }
                }
                _ => {
                    if self.null_gid == u32::MAX {
                        self.null_gid = groups.id(&[Comp::Null], self.empty)?;
                    }
                    self.null_gid
                }
            };
            rows.push(r);
            gids.push(g);
        }
        Ok(())
    }
}

/// The component of a Property or Buckets element at `row`.
#[inline]
fn comp(g: &GroupPlan, views: &[View<'_>], row: usize) -> Comp {
    match g.kind {
        GroupKind::Property => {
            let Some(v) = views.iter().find(|v| v.valid(row)) else { return Comp::Null };
            match *v {
                View::Str(_, ids) => Comp::Str(ids.value(row)),
                View::Num(_, a) => Comp::Num(NumKey::from_number(num_at(a, row))),
                View::Bool(_, a) => Comp::Bool(a.value(row)),
                View::Dt(_, d) => Comp::Dt(d.value(row)),
                View::List(_, a, vals) => Comp::List(list_elems(a, vals, row).into()),
                View::Geo(_, _, vals) => {
                    Comp::Geo([vals[2 * row].to_bits(), vals[2 * row + 1].to_bits()])
                }
                View::Id(ids) => Comp::Owned(ids.get(row).to_hex()),
                View::Null(_) => Comp::Null,
            }
        }
        GroupKind::Buckets { size, offset } => match num_of(views, row) {
            Some(x) => {
                let k = ((x - offset) / size).floor();
                if k.is_finite() && k.abs() < 9.0e15 {
                    Comp::Bucket(k as i64)
                } else {
                    Comp::Null
                }
            }
            None => Comp::Null,
        },
        GroupKind::Ranges(_) => Comp::Null,
    }
}

fn num_of(views: &[View<'_>], row: usize) -> Option<f64> {
    views.iter().find_map(|v| match v {
        View::Num(_, a) if a.as_array().is_valid(row) => Some(num_at(a, row).as_f64()),
        _ => None,
    })
}

fn range_comps(views: &[View<'_>], row: usize, ranges: &[(Option<f64>, Option<f64>)]) -> Vec<Comp> {
    let Some(x) = num_of(views, row) else { return vec![Comp::Null] };
    let v: Vec<Comp> = ranges
        .iter()
        .enumerate()
        .filter(|(_, (f, t))| f.is_none_or(|f| x >= f) && t.is_none_or(|t| x < t))
        .map(|(i, _)| Comp::Range(i as u32))
        .collect();
    if v.is_empty() {
        vec![Comp::Null]
    } else {
        v
    }
}

/// The num column of a target in `seg`.
fn num_col<'s>(t: &TargetPlan, seg: &'s Segment) -> Option<&'s NumArray> {
    let id = t.prop.as_ref()?.col_id(ValueType::Num)?;
    match &seg.column(id)?.data {
        tally_ingest::ColumnData::Num(a) => Some(a),
        _ => None,
    }
}

fn is_numeric(kind: AnalysisKind) -> bool {
    !matches!(kind, AnalysisKind::Count | AnalysisKind::CountUnique | AnalysisKind::SelectUnique)
}

/// Folds every row of `sub` into one state.
fn fold_all(t: &TargetPlan, seg: &Segment, sub: &RoaringBitmap) -> Partial {
    let mut p = Partial::empty(t.kind);
    match t.kind {
        AnalysisKind::Count => p = Partial::Count(sub.len()),
        k if is_numeric(k) => {
            if let Some(a) = num_col(t, seg) {
                numeric::fold_rows(&mut p, a, sub);
            }
        }
        _ => {
            let Some(prop) = &t.prop else { return p };
            let Partial::Distinct(d) = &mut p else { return p };
            let whole = sub.len() == seg.len() as u64;
            for v in prop.views(seg) {
                match v {
                    View::Str(c, ids) => {
                        let Some(idx) = c.index.as_ref() else { continue };
                        if whole {
                            d.strs |= sorted_ids_bitmap(idx.values());
                        } else {
                            let max = idx.values().last().copied().unwrap_or(0) as usize;
                            let mut bits = vec![0u64; max / 64 + 1];
                            let mut it = sub.iter();
                            while let Some(run) = it.next_range() {
                                for r in run {
                                    let r = r as usize;
                                    if ids.is_valid(r) {
                                        let id = ids.value(r) as usize;
                                        if let Some(w) = bits.get_mut(id / 64) {
                                            *w |= 1 << (id % 64);
                                        }
                                    }
                                }
                            }
                            d.strs |= words_bitmap(&bits);
                        }
                    }
                    View::List(c, ..) if whole => {
                        if let Some(idx) = c.index.as_ref() {
                            d.elems |= sorted_ids_bitmap(idx.values());
                        }
                    }
                    _ => {
                        let mut it = sub.iter();
                        while let Some(run) = it.next_range() {
                            for r in run {
                                add_distinct(d, &v, r as usize);
                            }
                        }
                    }
                }
            }
        }
    }
    p
}

/// A bitmap of sorted distinct ids (dense ids go through a bitset: roaring's
/// sorted push is slow on dense containers).
fn sorted_ids_bitmap(ids: &[u32]) -> RoaringBitmap {
    let Some(&max) = ids.last() else { return RoaringBitmap::new() };
    if (ids.len() as u64) * 32 < u64::from(max) {
        return RoaringBitmap::from_sorted_iter(ids.iter().copied()).unwrap_or_default();
    }
    let mut words = vec![0u64; max as usize / 64 + 1];
    for &id in ids {
        words[id as usize / 64] |= 1 << (id % 64);
    }
    words_bitmap(&words)
}

/// The bitmap of a bitset (bit i of word w = id 64·w + i).
fn words_bitmap(words: &[u64]) -> RoaringBitmap {
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    RoaringBitmap::from_lsb0_bytes(0, &bytes)
}

#[inline]
fn add_distinct(d: &mut partial::Distinct, v: &View<'_>, row: usize) {
    if !v.valid(row) {
        return;
    }
    match *v {
        View::Str(_, ids) => {
            d.strs.insert(ids.value(row));
        }
        View::Num(_, a) => {
            d.nums.insert(NumKey::from_number(num_at(a, row)));
        }
        View::Bool(_, a) => d.bools |= 1 << u8::from(a.value(row)),
        View::Dt(_, dt) => {
            d.dts.insert(dt.value(row));
        }
        View::List(_, a, vals) => {
            for &e in list_elems(a, vals, row) {
                d.elems.insert(e);
            }
        }
        View::Id(ids) => {
            d.owned.insert(ids.get(row).to_hex());
        }
        View::Geo(..) | View::Null(_) => {}
    }
}

/// Folds (row, group) pairs into analysis `a` of each group's states.
fn fold_pairs(
    t: &TargetPlan,
    a: usize,
    seg: &Segment,
    rows: &[u32],
    gids: &[u32],
    states: &mut [Vec<Partial>],
) {
    match t.kind {
        AnalysisKind::Count => {
            for &g in gids {
                if let Partial::Count(c) = &mut states[g as usize][a] {
                    *c += 1;
                }
            }
        }
        k if is_numeric(k) => {
            let Some(col) = num_col(t, seg) else { return };
            numeric::fold_pairs(a, col, rows, gids, states);
        }
        _ => {
            let Some(prop) = &t.prop else { return };
            for v in prop.views(seg) {
                for (&r, &g) in rows.iter().zip(gids) {
                    if let Partial::Distinct(d) = &mut states[g as usize][a] {
                        add_distinct(d, &v, r as usize);
                    }
                }
            }
        }
    }
}

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
    let Some((first, _)) = steps.first() else {
        return Err(QueryError::invalid("steps", "a funnel needs at least one step"));
    };
    if first.optional || first.inverted {
        return Err(QueryError::invalid(
            "steps[0]",
            "the first step may be neither optional nor inverted",
        ));
    }
    let sets: Vec<BTreeSet<ValKey>> =
        steps.iter().map(|(s, r)| step_actors(s, *r, snapshot_of)).collect::<Result<_>>()?;
    let mut result = Vec::with_capacity(steps.len());
    let mut actors = Vec::with_capacity(steps.len());
    let mut running: BTreeSet<ValKey> = BTreeSet::new();
    for (k, ((step, _), a)) in steps.iter().zip(sets).enumerate() {
        let s = if k == 0 {
            a
        } else if step.inverted {
            running.difference(&a).cloned().collect()
        } else {
            running.intersection(&a).cloned().collect()
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

/// A_k: the distinct non-null actor values among the step's events.
fn step_actors(
    step: &FunnelStep,
    range: TimeRange,
    snapshot_of: &dyn Fn(&str) -> Option<Arc<Snapshot>>,
) -> Result<BTreeSet<ValKey>> {
    let Some(snap) = snapshot_of(&step.event_collection) else { return Ok(BTreeSet::new()) };
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
        Partial::Distinct(d) => d.keys(&dicts),
        _ => BTreeSet::new(),
    })
}
