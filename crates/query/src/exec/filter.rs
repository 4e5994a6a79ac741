//! Filters → a [`RoaringBitmap`] of the matching rows of one segment
//! (keen-semantics §3).
//!
//! A [`Prepared`] filter list is built once per query and snapshot: every
//! property is resolved to its typed columns, every operand to the
//! collection dictionary ids it can match (string, bool and list columns),
//! and every dictionary-wide predicate (`lt` on strings, `regex`,
//! substring `contains`, comparisons on list elements) to a table over the
//! dictionary. Per segment:
//!
//! - equality, `in`, `exists`, list membership are unions of
//!   [`tally_ingest::ValueIndex`] bitmaps — no row is visited;
//! - dictionary predicates union the bitmaps of the segment's values whose
//!   table entry is set — again no row scan;
//! - comparisons on numbers and datetimes, `within`, and anything on
//!   `keen.id` are tight loops over the column arrays, restricted to the
//!   runs of candidate rows, skipped when the column statistics show that no
//!   value can match;
//! - filters run cheapest first, each only over the rows the previous ones
//!   kept; negations (`ne`, `not_contains`, `exists: false`, `eq null`) are
//!   complements within those rows, so they match events without the
//!   property (§3.2, §3.3);
//! - the deletion bitmap is subtracted first.

use std::ops::Range;

use arrow_array::Array;
use regex::Regex;
use roaring::RoaringBitmap;
use tally_ingest::{Segment, Snapshot, StatValue, ValueType, LOCATION_PATH};

use super::column::{list_elems, num_at, PropCols, Src, View};
use super::value::{decode_elem, elem_texts, ValKey};
use crate::error::Result;
use crate::model::{CmpOp, Filter, Number, Operand, Scalar};

/// Mean earth radius of the `within` operator, in miles (§3.2).
pub const EARTH_RADIUS_MILES: f64 = 3_958.8;

/// The rows of `segment` within `rows` (row ids, e.g. a timeframe's
/// [`Segment::time_range`]) that are not deleted and match every filter.
///
/// Prepares the filters for this one call; to run the same filters over
/// many segments, build a [`Prepared`] once.
pub fn select(
    snapshot: &Snapshot,
    segment: &Segment,
    filters: &[Filter],
    rows: Range<u32>,
) -> Result<RoaringBitmap> {
    Ok(Prepared::new(snapshot, filters)?.select(segment, rows))
}

/// Filters resolved against one snapshot (see the module docs).
#[derive(Debug)]
pub struct Prepared {
    /// ANDed, cheapest first.
    nodes: Vec<Node>,
}

#[derive(Debug)]
enum Node {
    /// Rows where some test matches (or, negated, none does).
    Leaf { tests: Vec<ColTest>, negate: bool, cost: u8 },
    /// Rows matching any sub-filter (each a conjunction).
    Or(Vec<Vec<Node>>),
}

impl Node {
    fn cost(&self) -> u8 {
        match self {
            Node::Leaf { cost, .. } => *cost,
            Node::Or(subs) => {
                subs.iter().flatten().map(Node::cost).max().unwrap_or(0).saturating_add(1)
            }
        }
    }
}

#[derive(Debug)]
struct ColTest {
    src: Src,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    /// Rows holding a value of the column.
    Present,
    /// Rows whose index holds one of these value ids.
    Ids(Vec<u32>),
    /// Rows whose index holds a value id with `table[id]`.
    Table(Vec<bool>),
    /// List rows equal, element for element, to one of these id sequences.
    ListEq(Vec<Vec<u32>>),
    /// Numbers.
    Num(Pred<Number>),
    /// Datetimes.
    Dt(Pred<i64>),
    /// `keen.id` strings.
    IdStr(StrPred),
    /// Great-circle distance from (lon, lat) at most `miles`.
    Geo { lon: f64, lat: f64, miles: f64 },
}

impl Kind {
    fn cost(&self) -> u8 {
        match self {
            Kind::Present | Kind::Ids(_) => 1,
            Kind::Table(_) => 2,
            Kind::ListEq(_) | Kind::Num(_) | Kind::Dt(_) => 3,
            Kind::Geo { .. } => 4,
            Kind::IdStr(_) => 5,
        }
    }
}

#[derive(Debug)]
enum Pred<T> {
    In(Vec<T>),
    Cmp(CmpOp, T),
}

#[derive(Debug)]
enum StrPred {
    In(Vec<String>),
    Cmp(CmpOp, String),
    Contains(String),
    Regex(Regex),
}

fn cmp_holds(op: CmpOp, o: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::*;
    match op {
        CmpOp::Eq => o == Equal,
        CmpOp::Ne => o != Equal,
        CmpOp::Lt => o == Less,
        CmpOp::Lte => o != Greater,
        CmpOp::Gt => o == Greater,
        CmpOp::Gte => o != Less,
    }
}

impl Prepared {
    /// Resolves `filters` (ANDed) against `snapshot`.
    pub fn new(snapshot: &Snapshot, filters: &[Filter]) -> Result<Prepared> {
        let mut nodes = filters.iter().map(|f| prepare(snapshot, f)).collect::<Result<Vec<_>>>()?;
        nodes.sort_by_key(Node::cost);
        Ok(Prepared { nodes })
    }

    /// True when there is no filter.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// True when every filter is answered from indexes alone (no row scan).
    pub fn index_only(&self) -> bool {
        self.nodes.iter().all(|n| n.cost() <= 2)
    }

    /// The live rows of `segment` within `rows` matching every filter.
    pub fn select(&self, segment: &Segment, rows: Range<u32>) -> RoaringBitmap {
        let end = rows.end.min(segment.len() as u32);
        let mut cand = RoaringBitmap::new();
        if rows.start >= end {
            return cand;
        }
        cand.insert_range(rows.start..end);
        if !segment.deleted().is_empty() {
            cand -= segment.deleted();
        }
        eval_all(&self.nodes, segment, cand)
    }
}

fn eval_all(nodes: &[Node], seg: &Segment, mut cand: RoaringBitmap) -> RoaringBitmap {
    for n in nodes {
        if cand.is_empty() {
            break;
        }
        cand = eval(n, seg, &cand);
    }
    cand
}

fn eval(node: &Node, seg: &Segment, cand: &RoaringBitmap) -> RoaringBitmap {
    match node {
        Node::Leaf { tests, negate, .. } => {
            let mut m = RoaringBitmap::new();
            for t in tests {
                let Some(view) = view_of(seg, t.src) else { continue };
                m |= test(&t.kind, &view, cand);
            }
            if *negate {
                cand - m
            } else {
                m
            }
        }
        Node::Or(subs) => {
            let mut acc = RoaringBitmap::new();
            let mut rest = cand.clone();
            for sub in subs {
                if rest.is_empty() {
                    break;
                }
                let r = eval_all(sub, seg, rest.clone());
                rest -= &r;
                acc |= r;
            }
            acc
        }
    }
}

fn view_of(seg: &Segment, src: Src) -> Option<View<'_>> {
    let p = PropCols { cols: vec![(ValueType::Null, src)] };
    p.views(seg).into_iter().next()
}

/// Calls `keep` for every candidate row, collecting those it accepts.
fn scan(cand: &RoaringBitmap, mut keep: impl FnMut(usize) -> bool) -> RoaringBitmap {
    let mut out = RoaringBitmap::new();
    let mut it = cand.iter();
    while let Some(run) = it.next_range() {
        for r in run {
            if keep(r as usize) {
                let _ = out.try_push(r);
            }
        }
    }
    out
}

fn test(kind: &Kind, view: &View<'_>, cand: &RoaringBitmap) -> RoaringBitmap {
    match kind {
        Kind::Present => match view.column() {
            Some(c) if !matches!(view, View::Null(_)) => &c.presence & cand,
            Some(_) => RoaringBitmap::new(),
            None => cand.clone(),
        },
        Kind::Ids(ids) => {
            let Some(idx) = view.column().and_then(|c| c.index.as_ref()) else {
                return RoaringBitmap::new();
            };
            let mut m = RoaringBitmap::new();
            for &id in ids {
                idx.union_into(id, &mut m);
            }
            m & cand
        }
        Kind::Table(table) => {
            let Some(idx) = view.column().and_then(|c| c.index.as_ref()) else {
                return RoaringBitmap::new();
            };
            let mut m = RoaringBitmap::new();
            for &v in idx.values() {
                if table.get(v as usize).copied().unwrap_or(false) {
                    idx.union_into(v, &mut m);
                }
            }
            m & cand
        }
        Kind::ListEq(seqs) => {
            let View::List(c, a, vals) = *view else { return RoaringBitmap::new() };
            let mut out = RoaringBitmap::new();
            for seq in seqs {
                let rows = match (seq.first(), c.index.as_ref()) {
                    (Some(&first), Some(idx)) => {
                        let mut b = idx.bitmap(first) & cand;
                        for &e in &seq[1..] {
                            if b.is_empty() {
                                break;
                            }
                            b &= idx.bitmap(e);
                        }
                        b
                    }
                    (Some(_), None) => RoaringBitmap::new(),
                    (None, _) => &c.presence & cand,
                };
                out |= scan(&rows, |r| list_elems(a, vals, r) == seq.as_slice());
            }
            out
        }
        Kind::Num(pred) => {
            let View::Num(c, a) = *view else { return RoaringBitmap::new() };
            if !num_may_match(pred, c.stats.min.as_ref(), c.stats.max.as_ref()) {
                return RoaringBitmap::new();
            }
            let arr = a.as_array();
            match pred {
                Pred::In(ns) => scan(cand, |r| {
                    arr.is_valid(r) && {
                        let v = num_at(a, r);
                        ns.contains(&v)
                    }
                }),
                Pred::Cmp(op, n) => {
                    scan(cand, |r| arr.is_valid(r) && cmp_holds(*op, num_at(a, r).cmp_num(*n)))
                }
            }
        }
        Kind::Dt(pred) => {
            let View::Dt(c, d) = *view else { return RoaringBitmap::new() };
            if let Some(c) = c {
                if !dt_may_match(pred, c.stats.min.as_ref(), c.stats.max.as_ref()) {
                    return RoaringBitmap::new();
                }
            }
            match pred {
                Pred::In(ts) => scan(cand, |r| d.valid(r) && ts.contains(&d.value(r))),
                Pred::Cmp(op, t) => scan(cand, |r| d.valid(r) && cmp_holds(*op, d.value(r).cmp(t))),
            }
        }
        Kind::IdStr(p) => {
            let View::Id(ids) = *view else { return RoaringBitmap::new() };
            scan(cand, |r| {
                let s = ids.get(r).to_hex();
                match p {
                    StrPred::In(v) => v.contains(&s),
                    StrPred::Cmp(op, o) => cmp_holds(*op, s.as_str().cmp(o.as_str())),
                    StrPred::Contains(o) => s.contains(o.as_str()),
                    StrPred::Regex(re) => re.is_match(&s),
                }
            })
        }
        Kind::Geo { lon, lat, miles } => {
            let View::Geo(_, a, vals) = *view else { return RoaringBitmap::new() };
            scan(cand, |r| {
                a.is_valid(r) && haversine_miles(*lon, *lat, vals[2 * r], vals[2 * r + 1]) <= *miles
            })
        }
    }
}

/// Great-circle distance in miles between two `(longitude, latitude)`
/// points in degrees (haversine, earth radius [`EARTH_RADIUS_MILES`]).
pub fn haversine_miles(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_MILES * h.sqrt().min(1.0).asin()
}

fn stat_f64(s: Option<&StatValue>) -> Option<f64> {
    match s {
        Some(StatValue::Num { value, .. }) => Some(*value),
        _ => None,
    }
}

/// False only when the stats prove no value in [min, max] can match.
fn num_may_match(pred: &Pred<Number>, min: Option<&StatValue>, max: Option<&StatValue>) -> bool {
    let (Some(lo), Some(hi)) = (stat_f64(min), stat_f64(max)) else { return true };
    // Stats are f64; widen by one ulp-ish margin so rounding never prunes a match.
    let (lo, hi) = (lo - lo.abs() * 1e-15 - 1e-300, hi + hi.abs() * 1e-15 + 1e-300);
    let inside = |x: f64| x >= lo && x <= hi;
    match pred {
        Pred::In(ns) => ns.iter().any(|n| inside(n.as_f64())),
        Pred::Cmp(op, n) => {
            let x = n.as_f64();
            match op {
                CmpOp::Eq => inside(x),
                CmpOp::Ne => true,
                CmpOp::Lt | CmpOp::Lte => lo <= x,
                CmpOp::Gt | CmpOp::Gte => hi >= x,
            }
        }
    }
}

fn dt_may_match(pred: &Pred<i64>, min: Option<&StatValue>, max: Option<&StatValue>) -> bool {
    let (Some(StatValue::Datetime(lo)), Some(StatValue::Datetime(hi))) = (min, max) else {
        return true;
    };
    let inside = |x: i64| x >= *lo && x <= *hi;
    match pred {
        Pred::In(ts) => ts.iter().copied().any(inside),
        Pred::Cmp(op, x) => match op {
            CmpOp::Eq => inside(*x),
            CmpOp::Ne => true,
            CmpOp::Lt => lo < x,
            CmpOp::Lte => lo <= x,
            CmpOp::Gt => hi > x,
            CmpOp::Gte => hi >= x,
        },
    }
}

fn present_leaf(prop: &PropCols, negate: bool) -> Node {
    let tests = prop
        .cols
        .iter()
        .filter(|(ty, _)| *ty != ValueType::Null)
        .map(|&(_, src)| ColTest { src, kind: Kind::Present })
        .collect();
    Node::Leaf { tests, negate, cost: 1 }
}

fn leaf(tests: Vec<ColTest>, negate: bool) -> Node {
    let cost = tests.iter().map(|t| t.kind.cost()).max().unwrap_or(1);
    Node::Leaf { tests, negate, cost }
}

fn prepare(snap: &Snapshot, f: &Filter) -> Result<Node> {
    Ok(match f {
        Filter::Exists { property, exists } => {
            present_leaf(&PropCols::resolve(snap, property), !exists)
        }
        Filter::Cmp { property, op, operand } => {
            let prop = PropCols::resolve(snap, property);
            match (op, &operand.value) {
                (CmpOp::Eq, Scalar::Null) => present_leaf(&prop, true),
                (CmpOp::Ne, Scalar::Null) => present_leaf(&prop, false),
                (CmpOp::Eq | CmpOp::Ne, _) => {
                    leaf(eq_tests(snap, &prop, std::slice::from_ref(operand)), *op == CmpOp::Ne)
                }
                (_, _) => leaf(cmp_tests(snap, &prop, *op, operand), false),
            }
        }
        Filter::In { property, operands } => {
            let prop = PropCols::resolve(snap, property);
            let values: Vec<Operand> =
                operands.iter().filter(|o| o.value != Scalar::Null).cloned().collect();
            let eq = leaf(eq_tests(snap, &prop, &values), false);
            if values.len() < operands.len() {
                Node::Or(vec![vec![eq], vec![present_leaf(&prop, true)]])
            } else {
                eq
            }
        }
        Filter::Contains { property, operand, negated } => {
            let prop = PropCols::resolve(snap, property);
            leaf(contains_tests(snap, &prop, operand), *negated)
        }
        Filter::Regex { property, regex } => {
            let prop = PropCols::resolve(snap, property);
            leaf(regex_tests(snap, &prop, regex), false)
        }
        Filter::Within { lon, lat, max_distance_miles } => {
            let prop = PropCols::resolve(snap, LOCATION_PATH);
            let tests = prop
                .cols
                .iter()
                .filter(|(ty, _)| *ty == ValueType::Geo)
                .map(|&(_, src)| ColTest {
                    src,
                    kind: Kind::Geo { lon: *lon, lat: *lat, miles: *max_distance_miles },
                })
                .collect();
            leaf(tests, false)
        }
        Filter::Or(subs) => Node::Or(
            subs.iter()
                .map(|s| {
                    let mut v = vec![prepare(snap, s)?];
                    v.sort_by_key(Node::cost);
                    Ok(v)
                })
                .collect::<Result<_>>()?,
        ),
    })
}

/// Dictionary ids of the texts in `texts` (those interned).
fn lookup_ids(snap: &Snapshot, col: tally_ingest::ColumnId, texts: &[String]) -> Vec<u32> {
    let Some(d) = snap.dictionary(col) else { return Vec::new() };
    let r = d.reader();
    let mut ids: Vec<u32> = texts.iter().filter_map(|t| r.lookup(t)).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// A table over a dictionary: `pred(text)` per id.
fn dict_table(
    snap: &Snapshot,
    col: tally_ingest::ColumnId,
    pred: impl Fn(&str) -> bool,
) -> Option<Vec<bool>> {
    let d = snap.dictionary(col)?;
    let r = d.reader();
    let t: Vec<bool> = (0..r.len() as u32).map(|i| r.value(i).is_some_and(&pred)).collect();
    t.iter().any(|&b| b).then_some(t)
}

fn eq_tests(snap: &Snapshot, prop: &PropCols, operands: &[Operand]) -> Vec<ColTest> {
    let mut tests = Vec::new();
    for &(ty, src) in &prop.cols {
        let kind = match (ty, src) {
            (ValueType::String, Src::Id) => {
                let v: Vec<String> = operands
                    .iter()
                    .filter_map(|o| match &o.value {
                        Scalar::Str(s) => Some(s.clone()),
                        _ => None,
                    })
                    .collect();
                (!v.is_empty()).then_some(Kind::IdStr(StrPred::In(v)))
            }
            (ValueType::String, Src::Col(id)) => {
                let texts: Vec<String> = operands
                    .iter()
                    .filter_map(|o| match &o.value {
                        Scalar::Str(s) => Some(s.clone()),
                        _ => None,
                    })
                    .collect();
                let ids = lookup_ids(snap, id, &texts);
                (!ids.is_empty()).then_some(Kind::Ids(ids))
            }
            (ValueType::Num, _) => {
                let v: Vec<Number> = operands
                    .iter()
                    .filter_map(|o| match o.value {
                        Scalar::Num(n) => Some(n),
                        _ => None,
                    })
                    .collect();
                (!v.is_empty()).then_some(Kind::Num(Pred::In(v)))
            }
            (ValueType::Bool, _) => {
                let mut v: Vec<u32> = operands
                    .iter()
                    .filter_map(|o| match o.value {
                        Scalar::Bool(b) => Some(u32::from(b)),
                        _ => None,
                    })
                    .collect();
                v.sort_unstable();
                v.dedup();
                (!v.is_empty()).then_some(Kind::Ids(v))
            }
            (ValueType::Datetime, _) => {
                let v: Vec<i64> = operands
                    .iter()
                    .filter_map(|o| match o.value {
                        Scalar::Datetime(ms) => Some(ms),
                        Scalar::Str(_) => o.as_datetime,
                        _ => None,
                    })
                    .collect();
                (!v.is_empty()).then_some(Kind::Dt(Pred::In(v)))
            }
            (ValueType::List, Src::Col(id)) => {
                let texts: Vec<String> =
                    operands.iter().flat_map(|o| elem_texts(&o.value, o.as_datetime)).collect();
                let ids = lookup_ids(snap, id, &texts);
                if !ids.is_empty() {
                    tests.push(ColTest { src, kind: Kind::Ids(ids) });
                }
                let seqs: Vec<Vec<u32>> = operands
                    .iter()
                    .filter_map(|o| match &o.value {
                        Scalar::List(elems) => {
                            let d = snap.dictionary(id)?;
                            let r = d.reader();
                            elems
                                .iter()
                                .map(|e| match e {
                                    Scalar::Null => r.lookup("null"),
                                    // The datetime bridge, element by element: a
                                    // zoned date-time string can only be stored as a
                                    // datetime; a zone-less one may be a string.
                                    Scalar::Str(s) => {
                                        let as_string = r.lookup(&super::value::string_text(s));
                                        let dt = tally_ingest::parse_timestamp(s).and_then(|ms| {
                                            r.lookup(&super::value::datetime_text(ms))
                                        });
                                        if tally_ingest::parse_zoned_datetime(s).is_some() {
                                            dt
                                        } else {
                                            as_string.or(dt)
                                        }
                                    }
                                    _ => r.lookup(elem_texts(e, None).first()?),
                                })
                                .collect::<Option<Vec<u32>>>()
                        }
                        _ => None,
                    })
                    .collect();
                (!seqs.is_empty()).then_some(Kind::ListEq(seqs))
            }
            _ => None,
        };
        if let Some(kind) = kind {
            tests.push(ColTest { src, kind });
        }
    }
    tests
}

fn cmp_tests(snap: &Snapshot, prop: &PropCols, op: CmpOp, o: &Operand) -> Vec<ColTest> {
    let mut tests = Vec::new();
    for &(ty, src) in &prop.cols {
        let kind = match (ty, src, &o.value) {
            (ValueType::String, Src::Id, Scalar::Str(s)) => {
                Some(Kind::IdStr(StrPred::Cmp(op, s.clone())))
            }
            (ValueType::String, Src::Col(id), Scalar::Str(s)) => {
                dict_table(snap, id, |v| cmp_holds(op, v.cmp(s.as_str()))).map(Kind::Table)
            }
            (ValueType::Num, _, Scalar::Num(n)) => Some(Kind::Num(Pred::Cmp(op, *n))),
            (ValueType::Bool, _, Scalar::Bool(b)) => {
                let t = vec![cmp_holds(op, false.cmp(b)), cmp_holds(op, true.cmp(b))];
                Some(Kind::Table(t))
            }
            (ValueType::Datetime, _, Scalar::Datetime(ms)) => Some(Kind::Dt(Pred::Cmp(op, *ms))),
            (ValueType::Datetime, _, Scalar::Str(_)) => {
                o.as_datetime.map(|ms| Kind::Dt(Pred::Cmp(op, ms)))
            }
            (ValueType::List, Src::Col(id), v) => {
                dict_table(snap, id, |text| match (decode_elem(text), v) {
                    (Some(ValKey::Num(e)), Scalar::Num(n)) => cmp_holds(op, e.number().cmp_num(*n)),
                    (Some(ValKey::Str(e)), Scalar::Str(s)) => cmp_holds(op, e.as_str().cmp(s)),
                    (Some(ValKey::Datetime(e)), Scalar::Datetime(ms)) => cmp_holds(op, e.cmp(ms)),
                    (Some(ValKey::Datetime(e)), Scalar::Str(_)) => {
                        o.as_datetime.is_some_and(|ms| cmp_holds(op, e.cmp(&ms)))
                    }
                    (Some(ValKey::Bool(e)), Scalar::Bool(b)) => cmp_holds(op, e.cmp(b)),
                    _ => false,
                })
                .map(Kind::Table)
            }
            _ => None,
        };
        if let Some(kind) = kind {
            tests.push(ColTest { src, kind });
        }
    }
    tests
}

fn contains_tests(snap: &Snapshot, prop: &PropCols, o: &Operand) -> Vec<ColTest> {
    let mut tests = Vec::new();
    for &(ty, src) in &prop.cols {
        let kind = match (ty, src, &o.value) {
            (ValueType::String, Src::Id, Scalar::Str(s)) => {
                Some(Kind::IdStr(StrPred::Contains(s.clone())))
            }
            (ValueType::String, Src::Col(id), Scalar::Str(s)) => {
                dict_table(snap, id, |v| v.contains(s.as_str())).map(Kind::Table)
            }
            (ValueType::List, Src::Col(id), v) => {
                // Membership, but never of a datetime element (§0: contains
                // matches no datetime).
                let mut ids = lookup_ids(snap, id, &elem_texts(v, None));
                if let Some(d) = snap.dictionary(id) {
                    let r = d.reader();
                    ids.retain(|&e| {
                        !matches!(r.value(e).and_then(decode_elem), Some(ValKey::Datetime(_)))
                    });
                }
                (!ids.is_empty()).then_some(Kind::Ids(ids))
            }
            _ => None,
        };
        if let Some(kind) = kind {
            tests.push(ColTest { src, kind });
        }
    }
    tests
}

fn regex_tests(snap: &Snapshot, prop: &PropCols, re: &Regex) -> Vec<ColTest> {
    let mut tests = Vec::new();
    for &(ty, src) in &prop.cols {
        let kind = match (ty, src) {
            (ValueType::String, Src::Id) => Some(Kind::IdStr(StrPred::Regex(re.clone()))),
            (ValueType::String, Src::Col(id)) => {
                dict_table(snap, id, |v| re.is_match(v)).map(Kind::Table)
            }
            (ValueType::List, Src::Col(id)) => dict_table(
                snap,
                id,
                |text| matches!(decode_elem(text), Some(ValKey::Str(s)) if re.is_match(&s)),
            )
            .map(Kind::Table),
            _ => None,
        };
        if let Some(kind) = kind {
            tests.push(ColTest { src, kind });
        }
    }
    tests
}
