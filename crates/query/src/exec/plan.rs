//! A query resolved against one snapshot, and the per-segment work: row
//! ranges of the timeframe and buckets, the filter bitmap, group ids, and
//! the folds of rows into partial states (with the index-only shortcuts).

use std::sync::Arc;

use roaring::RoaringBitmap;
use tally_ingest::{NumArray, Segment, Snapshot, StatValue, ValueType};

use super::column::{list_elems, num_at, PropCols, View};
use super::group::{Comp, Decoder, Groups};
use super::partial::{self, DistinctDicts, Partial};
use super::value::NumKey;
use super::{filter, numeric};
use crate::error::Result;
use crate::model::{Analysis, AnalysisKind, Common, GroupBy, Number};
use crate::time::TimeRange;

/// One group_by element, resolved.
pub(super) struct GroupPlan {
    pub(super) prop: PropCols,
    pub(super) kind: GroupKind,
}

pub(super) enum GroupKind {
    Property,
    Buckets { size: f64, offset: f64 },
    Ranges(Vec<(Option<f64>, Option<f64>)>),
}

/// One analysis, resolved.
pub(super) struct TargetPlan {
    pub(super) kind: AnalysisKind,
    pub(super) prop: Option<PropCols>,
}

/// A query resolved against one snapshot.
pub(super) struct Plan<'a> {
    pub(super) filters: filter::Prepared,
    pub(super) groups: Vec<GroupPlan>,
    pub(super) targets: Vec<TargetPlan>,
    pub(super) range: TimeRange,
    pub(super) buckets: &'a [TimeRange],
    pub(super) empty: Vec<Partial>,
    pub(super) dicts: Vec<DistinctDicts>,
    pub(super) decoders: Vec<Decoder>,
}

pub(super) fn distinct_dicts(snap: &Snapshot, prop: &PropCols) -> DistinctDicts {
    DistinctDicts {
        strs: prop.col_id(ValueType::String).and_then(|id| snap.dictionary(id)).cloned(),
        elems: prop.col_id(ValueType::List).and_then(|id| snap.dictionary(id)).cloned(),
    }
}

impl<'a> Plan<'a> {
    pub(super) fn new(
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
    pub(super) fn segment(&self, seg: &Arc<Segment>) -> Result<Vec<Groups>> {
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
        // String counts go to a dense table by id (no hashing per value)
        // unless the ids are too spread for the buckets.
        let max_id = indexes
            .iter()
            .filter(|(b, _)| !b)
            .filter_map(|(_, i)| i.values().last().copied())
            .max()
            .unwrap_or(0);
        let dense = u64::from(max_id) * ranges.len() as u64 <= 1 << 21;
        let add = |g: &mut Groups, c: Comp, n: u64| -> Result<()> {
            if let (true, Comp::Str(id)) = (dense, &c) {
                g.add_dense(*id, n);
                return Ok(());
            }
            let id = g.id(&[c], &self.empty)? as usize;
            for p in &mut g.states[id] {
                if let Partial::Count(x) = p {
                    *x += n;
                }
            }
            Ok(())
        };
        for (is_bool, idx) in indexes {
            if one && whole {
                for (val, n) in idx.counts() {
                    if n > 0 {
                        counted[0] += n;
                        let c = if is_bool { Comp::Bool(val == 1) } else { Comp::Str(val) };
                        add(&mut out[0], c, n)?;
                    }
                }
                continue;
            }
            for &val in idx.values() {
                let c = if is_bool { Comp::Bool(val == 1) } else { Comp::Str(val) };
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
pub(super) struct StrWalk<'a> {
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
pub(super) fn comp(g: &GroupPlan, views: &[View<'_>], row: usize) -> Comp {
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

pub(super) fn num_of(views: &[View<'_>], row: usize) -> Option<f64> {
    views.iter().find_map(|v| match v {
        View::Num(_, a) if a.as_array().is_valid(row) => Some(num_at(a, row).as_f64()),
        _ => None,
    })
}

pub(super) fn range_comps(
    views: &[View<'_>],
    row: usize,
    ranges: &[(Option<f64>, Option<f64>)],
) -> Vec<Comp> {
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
pub(super) fn num_col<'s>(t: &TargetPlan, seg: &'s Segment) -> Option<&'s NumArray> {
    let id = t.prop.as_ref()?.col_id(ValueType::Num)?;
    match &seg.column(id)?.data {
        tally_ingest::ColumnData::Num(a) => Some(a),
        _ => None,
    }
}

/// The num segment column of a target in `seg`.
fn num_segment_col<'s>(
    t: &TargetPlan,
    seg: &'s Segment,
) -> Option<&'s tally_ingest::SegmentColumn> {
    let c = seg.column(t.prop.as_ref()?.col_id(ValueType::Num)?)?;
    matches!(c.data, tally_ingest::ColumnData::Num(_)).then_some(c)
}

pub(super) fn is_numeric(kind: AnalysisKind) -> bool {
    !matches!(kind, AnalysisKind::Count | AnalysisKind::CountUnique | AnalysisKind::SelectUnique)
}

/// Folds every row of `sub` into one state.
pub(super) fn fold_all(t: &TargetPlan, seg: &Segment, sub: &RoaringBitmap) -> Partial {
    let mut p = Partial::empty(t.kind);
    match t.kind {
        AnalysisKind::Count => p = Partial::Count(sub.len()),
        k if is_numeric(k) => {
            let Some(a) = num_col(t, seg) else { return p };
            if let (Partial::Values(vs), Some(c)) = (&mut p, num_segment_col(t, seg)) {
                // Median/percentile: keep the selection, read it when
                // selecting (two radix passes, no value materialised).
                let rows = sub & &c.presence;
                if !rows.is_empty() {
                    let bound = |s: Option<&StatValue>| match s {
                        Some(StatValue::Num { exact: Some(i), .. }) => Some(Number::Int(*i)),
                        Some(StatValue::Num { value, .. }) => Some(Number::Float(*value)),
                        _ => None,
                    };
                    let (lo, hi) = match (bound(c.stats.min.as_ref()), bound(c.stats.max.as_ref()))
                    {
                        (Some(lo), Some(hi)) => (lo, hi),
                        _ => {
                            let (mut lo, mut hi) = (Partial::Min(None), Partial::Max(None));
                            numeric::fold_rows(&mut lo, a, &rows);
                            numeric::fold_rows(&mut hi, a, &rows);
                            match (lo, hi) {
                                (Partial::Min(Some(lo)), Partial::Max(Some(hi))) => (lo, hi),
                                _ => return p,
                            }
                        }
                    };
                    vs.lazy.push(partial::LazyRows { col: a.clone(), rows, lo, hi });
                }
                return p;
            }
            // A sparse column (say `price`, in 15% of the events): fold only
            // the selected rows that hold a value, not every selected row.
            if let Some(c) = num_segment_col(t, seg) {
                if c.presence.len() * 4 < seg.len() as u64 {
                    let present = sub & &c.presence;
                    numeric::fold_rows(&mut p, a, &present);
                    return p;
                }
            }
            numeric::fold_rows(&mut p, a, sub);
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
pub(super) fn sorted_ids_bitmap(ids: &[u32]) -> RoaringBitmap {
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
pub(super) fn words_bitmap(words: &[u64]) -> RoaringBitmap {
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    RoaringBitmap::from_lsb0_bytes(0, &bytes)
}

#[inline]
pub(super) fn add_distinct(d: &mut partial::Distinct, v: &View<'_>, row: usize) {
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
pub(super) fn fold_pairs(
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
