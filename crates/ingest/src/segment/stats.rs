//! Per-column statistics used to prune segments and answer cheap queries.

use std::cmp::Ordering;

use std::collections::HashSet;

use arrow_array::Array;

use super::valid::ValidRows;
use super::{ColumnData, NumArray};
use crate::dict::DictReader;
use crate::segment::index::ValueIndex;

/// A minimum or maximum value.
#[derive(Debug, Clone, PartialEq)]
pub enum StatValue {
    /// A number: its f64 value, plus the exact integer when it is integral
    /// and within i64.
    Num {
        /// The value as f64.
        value: f64,
        /// The exact integer, when integral.
        exact: Option<i64>,
    },
    /// A string (min/max by Unicode code point).
    Str(String),
    /// A boolean (`false < true`).
    Bool(bool),
    /// A datetime, UTC milliseconds.
    Datetime(i64),
}

/// Statistics of one column in one segment.
///
/// `distinct` counts distinct values: strings and bools by value, lists by
/// distinct *element*, numbers by numeric value, geo by pair; a `null`
/// column has 0. `min`/`max` exist for num, string, bool and datetime
/// columns with at least one value.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ColumnStats {
    /// Rows with a value of this column's type.
    pub present: u64,
    /// Segment rows without one (`segment len - present`).
    pub null_count: u64,
    /// Distinct values (see above).
    pub distinct: u64,
    /// Smallest value.
    pub min: Option<StatValue>,
    /// Largest value.
    pub max: Option<StatValue>,
}

fn num(value: f64, exact: Option<i64>) -> StatValue {
    StatValue::Num { value, exact }
}

fn float_exact(f: f64) -> Option<i64> {
    // 2^63 is exactly representable; i64 covers [-2^63, 2^63).
    (f.fract() == 0.0 && (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&f))
        .then_some(f as i64)
}

/// Exact comparison of an integer with a finite float.
fn cmp_int_float(i: i64, f: f64) -> Ordering {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    let t = f.trunc();
    if t >= TWO_63 {
        return Ordering::Less;
    }
    if t < -TWO_63 {
        return Ordering::Greater;
    }
    match i128::from(i).cmp(&(t as i128)) {
        Ordering::Equal => 0.0f64.partial_cmp(&(f - t)).unwrap_or(Ordering::Equal),
        o => o,
    }
}

/// Distinct values of a sorted slice.
fn distinct_sorted<T: PartialEq>(v: &[T]) -> u64 {
    if v.is_empty() {
        0
    } else {
        1 + v.windows(2).filter(|w| w[0] != w[1]).count() as u64
    }
}

/// Computes the stats of `data` (segment of `len` rows). String min/max
/// need the column's dictionary; without one they are left `None`.
pub(crate) fn compute(
    data: &ColumnData,
    len: usize,
    present: u64,
    index: Option<&ValueIndex>,
    dict: Option<&DictReader<'_>>,
) -> ColumnStats {
    let mut s = ColumnStats { present, null_count: len as u64 - present, ..ColumnStats::default() };
    match data {
        ColumnData::Num(NumArray::Int(a)) => {
            let (distinct, min, max) = a.distinct_min_max();
            s.distinct = distinct;
            s.min = min.map(|v| num(v as f64, Some(v)));
            s.max = max.map(|v| num(v as f64, Some(v)));
        }
        ColumnData::Num(NumArray::Float(a)) => {
            let mut vals = ValidRows::of(a.len(), a.nulls()).gather(a.values());
            for f in &mut vals {
                if *f == 0.0 {
                    *f = 0.0; // -0.0 counts as 0.0
                }
            }
            let mut bits: Vec<u64> = vals.iter().map(|f| f.to_bits()).collect();
            bits.sort_unstable();
            s.distinct = distinct_sorted(&bits);
            s.min = vals.iter().copied().reduce(f64::min).map(|f| num(f, float_exact(f)));
            s.max = vals.iter().copied().reduce(f64::max).map(|f| num(f, float_exact(f)));
        }
        ColumnData::Num(NumArray::Mixed(m)) => {
            let exact = m.exact();
            let is_exact = |r: usize| exact.binary_search_by_key(&(r as u32), |e| e.0).is_ok();
            let a = m.values();
            let floats: Vec<f64> = (0..a.len())
                .filter(|&r| a.is_valid(r) && !is_exact(r))
                .map(|r| if a.value(r) == 0.0 { 0.0 } else { a.value(r) })
                .collect();
            let mut bits: Vec<u64> = floats.iter().map(|f| f.to_bits()).collect();
            bits.sort_unstable();
            let mut ints: Vec<i64> = exact.iter().map(|e| e.1).collect();
            ints.sort_unstable();
            // An integer f64 cannot hold never equals an f64 value.
            s.distinct = distinct_sorted(&bits) + distinct_sorted(&ints);
            let fmin = floats.iter().copied().reduce(f64::min);
            let fmax = floats.iter().copied().reduce(f64::max);
            let (imin, imax) = (ints.first().copied(), ints.last().copied());
            let pick = |f: Option<f64>, i: Option<i64>, want: Ordering| match (f, i) {
                (Some(f), Some(i)) if cmp_int_float(i, f) == want => Some(num(i as f64, Some(i))),
                (Some(f), _) => Some(num(f, float_exact(f))),
                (None, Some(i)) => Some(num(i as f64, Some(i))),
                (None, None) => None,
            };
            s.min = pick(fmin, imin, Ordering::Less);
            s.max = pick(fmax, imax, Ordering::Greater);
        }
        ColumnData::Datetime(a) => {
            let mut vals = ValidRows::of(a.len(), a.nulls()).gather(a.values());
            vals.sort_unstable();
            s.distinct = distinct_sorted(&vals);
            s.min = vals.first().map(|&v| StatValue::Datetime(v));
            s.max = vals.last().map(|&v| StatValue::Datetime(v));
        }
        ColumnData::Bool(_) => {
            let values = index.map(|i| i.values()).unwrap_or_default();
            s.distinct = values.len() as u64;
            s.min = values.first().map(|&v| StatValue::Bool(v == 1));
            s.max = values.last().map(|&v| StatValue::Bool(v == 1));
        }
        ColumnData::Str(_) => {
            let values = index.map(|i| i.values()).unwrap_or_default();
            s.distinct = values.len() as u64;
            if let Some(d) = dict {
                let strs = values.iter().filter_map(|&v| d.value(v));
                let (mut lo, mut hi): (Option<&str>, Option<&str>) = (None, None);
                for v in strs {
                    if lo.is_none_or(|l| v < l) {
                        lo = Some(v);
                    }
                    if hi.is_none_or(|h| v > h) {
                        hi = Some(v);
                    }
                }
                s.min = lo.map(|v| StatValue::Str(v.to_owned()));
                s.max = hi.map(|v| StatValue::Str(v.to_owned()));
            }
        }
        ColumnData::List(_) => {
            s.distinct = index.map_or(0, |i| i.values().len() as u64);
        }
        ColumnData::Geo(a) => {
            let vals = a.values();
            let vals = vals
                .as_any()
                .downcast_ref::<arrow_array::Float64Array>()
                .expect("geo values are f64");
            let mut set = HashSet::new();
            for row in 0..a.len() {
                if a.is_valid(row) {
                    set.insert((vals.value(2 * row).to_bits(), vals.value(2 * row + 1).to_bits()));
                }
            }
            s.distinct = set.len() as u64;
        }
        ColumnData::Null => {}
    }
    s
}
