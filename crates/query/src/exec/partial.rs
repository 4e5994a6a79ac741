//! Mergeable partial states of the analyses (keen-semantics §2.2).
//!
//! Every segment (and every group and interval bucket in it) folds its
//! selected rows into a [`Partial`]; partials merge associatively and
//! commutatively, so segments run in parallel and merge in any order:
//!
//! | analysis | state | merge |
//! |---|---|---|
//! | count | rows | + |
//! | sum | exact i128 integer sum + exact f64 sum ([`ExactSum`]) | + |
//! | minimum / maximum | smallest / largest number | min / max |
//! | average | the sum state (it counts its values) | + |
//! | standard_deviation | n and the exact Σx and Σx² (i128 while every value is an integer, [`ExactSum`]s otherwise) | + |
//! | median / percentile | every value (integers kept exact) | concatenation; exact selection at the end |
//! | count_unique / select_unique | collection dictionary ids (bitmaps), numbers, booleans, datetimes | union |

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use roaring::RoaringBitmap;
use tally_ingest::{Dictionary, NumArray};

use super::exact::ExactSum;
use super::value::{decode_elem, NumKey, ValKey};
use crate::model::{AnalysisKind, Number, Scalar};

/// An exact integer sum plus an exact float sum: the total is a function
/// of the values alone, never of how they were grouped (segments, threads),
/// which the noninterference property needs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SumState {
    /// Sum of the integer values, exact.
    pub int: i128,
    /// Sum of the non-integer values, exact.
    pub floats: ExactSum,
    /// Number of values.
    pub n: u64,
    /// True once a non-integer value was added.
    pub has_float: bool,
}

impl SumState {
    /// Adds one value.
    #[inline]
    pub fn add(&mut self, v: Number) {
        self.n += 1;
        match v {
            Number::Int(i) => self.int += i128::from(i),
            Number::Float(f) => {
                self.has_float = true;
                self.floats.add(f);
            }
        }
    }

    /// Merges another sum.
    pub fn merge(&mut self, o: &SumState) {
        self.int += o.int;
        self.n += o.n;
        if o.has_float {
            self.has_float = true;
            self.floats.merge(&o.floats);
        }
    }

    /// The sum: an integer when every value was and the sum fits in i64
    /// (§2.2), else the exact total rounded once to an f64.
    pub fn total(&self) -> Number {
        if !self.has_float {
            if let Ok(i) = i64::try_from(self.int) {
                return Number::Int(i);
            }
        }
        let mut all = self.floats.clone();
        all.add_i128(self.int);
        Number::Float(all.to_f64())
    }
}

/// Count and the exact sums Σx and Σx²: integers in `i128` (`ints`),
/// everything else (floats, and integer sums that would overflow) in
/// [`ExactSum`]s, each square added exactly ([`ExactSum::add_square`]).
/// The deviation is computed from the exact sums, so it depends on the
/// values alone, never on how they were grouped; integer-only data keeps
/// its exactly rounded `n·Σx² − (Σx)²` path and never touches the
/// [`ExactSum`]s. Equality compares the sums, not how they are split.
#[derive(Debug, Clone, Default)]
pub struct Moments {
    /// Number of values.
    pub n: u64,
    /// (Σx, Σx²) of the integer values not moved into `sum`/`squares`.
    pub ints: (i128, i128),
    /// True once `sum`/`squares` hold anything (a float, or integers moved
    /// there when `ints` would overflow).
    pub spilled: bool,
    /// The rest of Σx.
    pub sum: ExactSum,
    /// The rest of Σx².
    pub squares: ExactSum,
}

impl PartialEq for Moments {
    fn eq(&self, o: &Moments) -> bool {
        self.n == o.n && self.spilled == o.spilled && self.totals() == o.totals()
    }
}

impl Moments {
    /// Adds one value.
    #[inline]
    pub fn add(&mut self, v: Number) {
        self.n += 1;
        match v {
            Number::Int(i) => {
                let i = i128::from(i);
                let sq = i * i; // |i| < 2^63: fits
                match self.ints.0.checked_add(i).zip(self.ints.1.checked_add(sq)) {
                    Some(next) => self.ints = next,
                    None => {
                        self.spill();
                        self.ints = (i, sq);
                    }
                }
            }
            Number::Float(x) => {
                self.spilled = true;
                self.sum.add(x);
                self.squares.add_square(x);
            }
        }
    }

    /// The exact (Σx, Σx²).
    fn totals(&self) -> (ExactSum, ExactSum) {
        let (mut sum, mut squares) = (self.sum.clone(), self.squares.clone());
        sum.add_i128(self.ints.0);
        squares.add_i128(self.ints.1);
        (sum, squares)
    }

    /// Moves the integer sums into the exact sums.
    fn spill(&mut self) {
        self.spilled = true;
        self.sum.add_i128(self.ints.0);
        self.squares.add_i128(self.ints.1);
        self.ints = (0, 0);
    }

    /// Merges another state.
    pub fn merge(&mut self, o: &Moments) {
        self.n += o.n;
        match self.ints.0.checked_add(o.ints.0).zip(self.ints.1.checked_add(o.ints.1)) {
            Some(next) => self.ints = next,
            None => {
                self.spill();
                self.sum.add_i128(o.ints.0);
                self.squares.add_i128(o.ints.1);
            }
        }
        if o.spilled {
            self.spilled = true;
            self.sum.merge(&o.sum);
            self.squares.merge(&o.squares);
        }
    }

    /// Population standard deviation, `None` without values.
    pub fn std_dev(&self) -> Option<f64> {
        if self.n == 0 {
            return None;
        }
        let (s, q) = self.ints;
        if !self.spilled {
            let n = i128::from(self.n);
            // n²·variance = n·Σx² − (Σx)², exact when it fits.
            if let Some(num) =
                n.checked_mul(q).zip(s.checked_mul(s)).and_then(|(a, b)| a.checked_sub(b))
            {
                let den = (self.n as f64) * (self.n as f64);
                return Some((num.max(0) as f64 / den).sqrt());
            }
        }
        let (sum, mut dev) = self.totals();
        // Σ(x − m)² = Σx² − 2m·Σx + n·m² holds for any m; with m the
        // rounded mean it is computed exactly (no cancellation is lost),
        // then rounded once.
        let n = self.n as f64;
        let m = sum.to_f64() / n;
        sum.add_times_to(-2.0 * m, &mut dev);
        let m2 = m * m;
        let m2_err = m.mul_add(m, -m2);
        dev.add_product(n, m2, 0);
        dev.add_product(n, m2_err, 0);
        Some((dev.to_f64().max(0.0) / n).sqrt())
    }
}

/// Every numeric value, for exact median and percentile: values read
/// (grouped folds), and whole selections of a segment's column not read
/// yet ([`LazyRows`], ungrouped folds), which the percentile selects from
/// in two passes without materialising them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Values {
    /// Integer values.
    pub ints: Vec<i64>,
    /// Non-integer values.
    pub floats: Vec<f64>,
    /// Selections not read yet.
    pub lazy: Vec<LazyRows>,
}

/// The values of a num column at some rows, not read yet.
#[derive(Debug, Clone, PartialEq)]
pub struct LazyRows {
    /// The column (integers when [`NumArray::Int`], else floats).
    pub col: NumArray,
    /// Rows, each holding a value in `col`.
    pub rows: RoaringBitmap,
    /// At most the smallest value (near bounds make the selection fast;
    /// any bounds keep it exact).
    pub lo: Number,
    /// At least the largest value.
    pub hi: Number,
}

/// From this many values on, a state with [`LazyRows`] selects by radix
/// passes; fewer are read and selected in place.
pub const RADIX_MIN_VALUES: usize = 1 << 16;

impl Values {
    /// Adds one value.
    #[inline]
    pub fn add(&mut self, v: Number) {
        match v {
            Number::Int(i) => self.ints.push(i),
            Number::Float(f) => self.floats.push(f),
        }
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.ints.len()
            + self.floats.len()
            + self.lazy.iter().map(|l| l.rows.len() as usize).sum::<usize>()
    }

    /// True without values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends `other`'s values.
    pub fn extend(&mut self, other: &Values) {
        self.ints.extend_from_slice(&other.ints);
        self.floats.extend_from_slice(&other.floats);
        self.lazy.extend(other.lazy.iter().filter(|l| !l.rows.is_empty()).cloned());
    }

    /// Reads the [`LazyRows`] into the value vectors.
    pub fn materialize(&mut self) {
        for l in std::mem::take(&mut self.lazy) {
            match &l.col {
                NumArray::Int(_) => {
                    super::numeric::for_each_i64(&l.col, &l.rows, |x| self.ints.push(x))
                }
                NumArray::Float(_) => {
                    super::numeric::for_each_f64(&l.col, &l.rows, |x| self.floats.push(x))
                }
                NumArray::Mixed(_) => {
                    let arr = l.col.as_array();
                    for r in l.rows.iter().map(|r| r as usize).filter(|&r| arr.is_valid(r)) {
                        match super::column::num_at(&l.col, r) {
                            Number::Int(i) => self.ints.push(i),
                            Number::Float(f) => self.floats.push(f),
                        }
                    }
                }
            }
        }
    }

    /// The percentile `p` (0 < p ≤ 100) by linear interpolation at rank
    /// p/100·(n−1), exact (selection, no sort; the rank is computed in
    /// hundredths of a percent so `p = 95` over 4 values is exactly 2.85).
    pub fn percentile(&self, p: f64) -> Option<Number> {
        self.clone().percentile_in_place(p)
    }

    /// [`Values::percentile`] without a copy: reorders the values (the
    /// state stays the same multiset).
    pub fn percentile_in_place(&mut self, p: f64) -> Option<Number> {
        self.percentile_with(p, RADIX_MIN_VALUES)
    }

    /// [`Values::percentile_in_place`], selecting by radix passes from
    /// `radix_min` values on when some are not read yet.
    pub fn percentile_with(&mut self, p: f64, radix_min: usize) -> Option<Number> {
        let n = self.len();
        if n == 0 {
            return None;
        }
        let bp = (p * 100.0).round().clamp(0.0, 10_000.0) as u128;
        let num = bp * (n as u128 - 1);
        let i = (num / 10_000) as usize;
        let frac = (num % 10_000) as i128;
        if self.lazy.iter().any(|l| matches!(l.col, NumArray::Mixed(_))) {
            // Exact integers beside floats (rare): select in place.
            self.materialize();
        }
        let lazy_floats = self.lazy.iter().any(|l| matches!(l.col, NumArray::Float(_)));
        let (lo, hi) = if !self.lazy.is_empty() && n >= radix_min {
            let float = !self.floats.is_empty() || lazy_floats;
            let srcs = super::select::sources(&self.ints, &self.floats, &self.lazy);
            let (lo, hi) = super::select::keys_at(&srcs, float, i, frac != 0)?;
            let hi = hi.unwrap_or(lo);
            if float {
                use super::select::key_float;
                (Number::Float(key_float(lo)), Number::Float(key_float(hi)))
            } else {
                use super::select::key_int;
                (Number::Int(key_int(lo)), Number::Int(key_int(hi)))
            }
        } else {
            self.materialize();
            if self.floats.is_empty() {
                let (_, lo, rest) = self.ints.select_nth_unstable(i);
                let lo = *lo;
                let hi = if frac == 0 { lo } else { rest.iter().copied().min().unwrap_or(lo) };
                (Number::Int(lo), Number::Int(hi))
            } else {
                if !self.ints.is_empty() {
                    let ints = std::mem::take(&mut self.ints);
                    self.floats.extend(ints.iter().map(|&i| i as f64));
                }
                let v = &mut self.floats;
                let (_, lo, rest) = v.select_nth_unstable_by(i, f64::total_cmp);
                let lo = *lo;
                let hi = if frac == 0 {
                    lo
                } else {
                    rest.iter().copied().reduce(f64::min).unwrap_or(lo)
                };
                (Number::Float(lo), Number::Float(hi))
            }
        };
        Some(interpolate(lo, hi, frac))
    }
}

/// `lo + (hi − lo)·frac/10000`: exact for integers when it is one.
fn interpolate(lo: Number, hi: Number, frac: i128) -> Number {
    match (lo, hi) {
        (Number::Int(lo), Number::Int(hi)) => {
            if frac == 0 {
                return Number::Int(lo);
            }
            let total = i128::from(lo) * 10_000 + (i128::from(hi) - i128::from(lo)) * frac;
            let (q, rem) = (total.div_euclid(10_000), total.rem_euclid(10_000));
            if rem == 0 {
                if let Ok(x) = i64::try_from(q) {
                    return Number::Int(x);
                }
            }
            // q + rem/10000 with one rounding (q is exact below 2^53), so
            // 2^52 + 0.5 rounds to even like the f64 formula, not up.
            Number::from_f64(q as f64 + rem as f64 / 10_000.0)
        }
        (lo, hi) => {
            let (lo, hi) = (lo.as_f64(), hi.as_f64());
            if frac == 0 {
                return Number::from_f64(lo);
            }
            Number::from_f64(lo + (hi - lo) * frac as f64 / 10_000.0)
        }
    }
}

/// Distinct values of one property, type-strict, null never counted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Distinct {
    /// Ids in the property's string dictionary.
    pub strs: RoaringBitmap,
    /// Element ids in the property's list dictionary.
    pub elems: RoaringBitmap,
    /// Numbers.
    pub nums: HashSet<NumKey>,
    /// Booleans seen: bit 0 false, bit 1 true.
    pub bools: u8,
    /// Datetimes, UTC ms.
    pub dts: HashSet<i64>,
    /// Strings without a dictionary (`keen.id`).
    pub owned: HashSet<String>,
}

/// The dictionaries a [`Distinct`] state's ids refer to.
#[derive(Debug, Clone, Default)]
pub struct DistinctDicts {
    /// The string column's dictionary.
    pub strs: Option<Arc<Dictionary>>,
    /// The list column's dictionary.
    pub elems: Option<Arc<Dictionary>>,
}

impl Distinct {
    /// Merges another state.
    pub fn merge(&mut self, o: &Distinct) {
        self.strs |= &o.strs;
        self.elems |= &o.elems;
        self.nums.extend(o.nums.iter().copied());
        self.bools |= o.bools;
        self.dts.extend(o.dts.iter().copied());
        self.owned.extend(o.owned.iter().cloned());
    }

    /// The distinct values, canonically ordered (list elements and string
    /// values are one value space: `"a"` and `["a"]` share `"a"`).
    pub fn keys(&self, dicts: &DistinctDicts) -> BTreeSet<ValKey> {
        let mut out = BTreeSet::new();
        out.extend(self.nums.iter().map(|&n| ValKey::Num(n)));
        if self.bools & 1 != 0 {
            out.insert(ValKey::Bool(false));
        }
        if self.bools & 2 != 0 {
            out.insert(ValKey::Bool(true));
        }
        out.extend(self.dts.iter().map(|&d| ValKey::Datetime(d)));
        out.extend(self.owned.iter().map(|s| ValKey::Str(s.clone())));
        if let Some(d) = &dicts.strs {
            let r = d.reader();
            out.extend(
                self.strs.iter().filter_map(|id| r.value(id)).map(|s| ValKey::Str(s.into())),
            );
        }
        if let Some(d) = &dicts.elems {
            let r = d.reader();
            out.extend(self.elems.iter().filter_map(|id| r.value(id)).filter_map(decode_elem));
        }
        out
    }

    /// Whether `key` is one of the distinct values, without decoding the
    /// set: a dictionary lookup for strings (and list element texts).
    pub fn contains(&self, key: &ValKey, dicts: &DistinctDicts) -> bool {
        use super::value::{datetime_text, number_text, string_text};
        let in_elems = |text: String| {
            !self.elems.is_empty()
                && dicts
                    .elems
                    .as_ref()
                    .and_then(|d| d.lookup(&text))
                    .is_some_and(|id| self.elems.contains(id))
        };
        match key {
            ValKey::Num(n) => self.nums.contains(n) || in_elems(number_text(n.number())),
            ValKey::Str(s) => {
                dicts
                    .strs
                    .as_ref()
                    .and_then(|d| d.lookup(s))
                    .is_some_and(|id| self.strs.contains(id))
                    || self.owned.contains(s)
                    || in_elems(string_text(s))
            }
            ValKey::Bool(b) => self.bools & (1 << u8::from(*b)) != 0 || in_elems(b.to_string()),
            ValKey::Datetime(ms) => self.dts.contains(ms) || in_elems(datetime_text(*ms)),
        }
    }

    /// Number of distinct values (no string is decoded unless list
    /// elements must be reconciled with scalar values).
    pub fn count(&self, dicts: &DistinctDicts) -> u64 {
        if self.elems.is_empty() {
            self.strs.len()
                + self.nums.len() as u64
                + u64::from(self.bools.count_ones())
                + self.dts.len() as u64
                + self.owned.len() as u64
        } else {
            self.keys(dicts).len() as u64
        }
    }
}

/// The partial state of one analysis (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub enum Partial {
    /// count
    Count(u64),
    /// sum
    Sum(SumState),
    /// minimum
    Min(Option<Number>),
    /// maximum
    Max(Option<Number>),
    /// average
    Average(SumState),
    /// standard_deviation (boxed: two exact sums would make every
    /// partial, in every group, as large)
    StdDev(Box<Moments>),
    /// median, percentile
    Values(Values),
    /// count_unique, select_unique
    Distinct(Box<Distinct>),
}

impl Partial {
    /// The state of no event for `kind`.
    pub fn empty(kind: AnalysisKind) -> Partial {
        match kind {
            AnalysisKind::Count => Partial::Count(0),
            AnalysisKind::Sum => Partial::Sum(SumState::default()),
            AnalysisKind::Minimum => Partial::Min(None),
            AnalysisKind::Maximum => Partial::Max(None),
            AnalysisKind::Average => Partial::Average(SumState::default()),
            AnalysisKind::StandardDeviation => Partial::StdDev(Box::default()),
            AnalysisKind::Median | AnalysisKind::Percentile(_) => {
                Partial::Values(Values::default())
            }
            AnalysisKind::CountUnique | AnalysisKind::SelectUnique => {
                Partial::Distinct(Box::default())
            }
        }
    }

    /// Adds one numeric value (count counts it; distinct states collect it).
    #[inline]
    pub fn add_number(&mut self, v: Number) {
        match self {
            Partial::Count(c) => *c += 1,
            Partial::Sum(s) | Partial::Average(s) => s.add(v),
            Partial::Min(m) => {
                if m.is_none_or(|m| v.cmp_num(m).is_lt()) {
                    *m = Some(v)
                }
            }
            Partial::Max(m) => {
                if m.is_none_or(|m| v.cmp_num(m).is_gt()) {
                    *m = Some(v)
                }
            }
            Partial::StdDev(s) => s.add(v),
            Partial::Values(s) => s.add(v),
            Partial::Distinct(d) => {
                d.nums.insert(NumKey::from_number(v));
            }
        }
    }

    /// Merges `other` (same analysis) into `self`.
    pub fn merge(&mut self, other: &Partial) {
        match (self, other) {
            (Partial::Count(a), Partial::Count(b)) => *a += b,
            (Partial::Sum(a), Partial::Sum(b)) | (Partial::Average(a), Partial::Average(b)) => {
                a.merge(b)
            }
            (Partial::Min(a), Partial::Min(Some(b))) if a.is_none_or(|x| b.cmp_num(x).is_lt()) => {
                *a = Some(*b)
            }
            (Partial::Max(a), Partial::Max(Some(b))) if a.is_none_or(|x| b.cmp_num(x).is_gt()) => {
                *a = Some(*b)
            }
            (Partial::StdDev(a), Partial::StdDev(b)) => a.merge(b),
            (Partial::Values(a), Partial::Values(b)) => a.extend(b),
            (Partial::Distinct(a), Partial::Distinct(b)) => a.merge(b),
            _ => {}
        }
    }

    /// [`Partial::finish`] without copying median/percentile values (they
    /// are reordered in place; the state means the same afterwards).
    pub fn finish_in_place(&mut self, kind: AnalysisKind, dicts: &DistinctDicts) -> Scalar {
        if let Partial::Values(v) = self {
            let p = match kind {
                AnalysisKind::Percentile(p) => p,
                _ => 50.0,
            };
            return match v.percentile_in_place(p) {
                Some(Number::Float(f)) if !f.is_finite() => Scalar::Null,
                Some(n) => Scalar::Num(n),
                None => Scalar::Null,
            };
        }
        self.finish(kind, dicts)
    }

    /// The result (§2.2, empty results per §2.3): a number, `null`, or for
    /// select_unique the canonically ordered list.
    pub fn finish(&self, kind: AnalysisKind, dicts: &DistinctDicts) -> Scalar {
        let num = |n: Option<Number>| match n {
            Some(Number::Float(f)) if !f.is_finite() => Scalar::Null,
            Some(n) => Scalar::Num(n),
            None => Scalar::Null,
        };
        match self {
            Partial::Count(c) => Scalar::Num(Number::Int(i64::try_from(*c).unwrap_or(i64::MAX))),
            Partial::Sum(s) => num(Some(s.total())),
            Partial::Min(m) | Partial::Max(m) => num(*m),
            Partial::Average(s) => num((s.n > 0).then(|| {
                let total = match s.total() {
                    Number::Int(i) => i as f64,
                    Number::Float(f) => f,
                };
                Number::from_f64(total / s.n as f64)
            })),
            Partial::StdDev(m) => num(m.std_dev().map(Number::from_f64)),
            Partial::Values(v) => {
                let p = match kind {
                    AnalysisKind::Percentile(p) => p,
                    _ => 50.0,
                };
                num(v.percentile(p))
            }
            Partial::Distinct(d) => match kind {
                AnalysisKind::SelectUnique => {
                    Scalar::List(d.keys(dicts).iter().map(ValKey::to_scalar).collect())
                }
                _ => Scalar::Num(Number::Int(d.count(dicts) as i64)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partials_stay_small() {
        // Every group of a group_by holds one per analysis.
        assert!(std::mem::size_of::<Partial>() <= 80, "{}", std::mem::size_of::<Partial>());
    }

    fn vals(v: &[f64]) -> Values {
        let mut s = Values::default();
        for &x in v {
            s.add(Number::from_f64(x));
        }
        s
    }

    #[test]
    fn spec_percentile_examples() {
        let a = vals(&[10.0, 20.0, 30.0, 40.0]);
        assert_eq!(a.percentile(50.0), Some(Number::Int(25)));
        assert_eq!(a.percentile(95.0).map(Number::as_f64), Some(38.5));
        let b = vals(&[1.0, 1.0, 3.0, 4.0, 5.0]);
        assert_eq!(b.percentile(50.0), Some(Number::Int(3)));
        assert_eq!(b.percentile(90.0).map(Number::as_f64), Some(4.6));
        let c = vals(&[1.5, 10.0, 20.0, 30.0]);
        assert_eq!(c.percentile(100.0).map(Number::as_f64), Some(30.0));
        assert_eq!(vals(&[]).percentile(50.0), None);
    }

    #[test]
    fn integer_sums_are_exact_and_overflow_to_float() {
        let mut s = SumState::default();
        s.add(Number::Int(i64::MAX));
        s.add(Number::Int(1));
        assert!(matches!(s.total(), Number::Float(_)));
        s.add(Number::Int(-1));
        assert_eq!(s.total(), Number::Int(i64::MAX));
    }
}
