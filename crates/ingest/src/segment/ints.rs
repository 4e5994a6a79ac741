//! `Ints`: a segment's integer column as narrow offsets from its minimum.

use arrow_array::{Array, Int64Array, UInt16Array, UInt32Array, UInt8Array};
use arrow_buffer::{NullBuffer, ScalarBuffer};

/// An integer column stored frame-of-reference: `value = base + offset`,
/// with offsets in the narrowest of `u8`, `u16`, `u32` that holds the
/// segment's range (plain `i64` when the range is wider). Nulls where a
/// row has no integer.
#[derive(Debug, Clone, PartialEq)]
pub struct Ints {
    base: i64,
    repr: Repr,
}

#[derive(Debug, Clone, PartialEq)]
enum Repr {
    U8(UInt8Array),
    U16(UInt16Array),
    U32(UInt32Array),
    I64(Int64Array),
}

impl Ints {
    /// Encodes `values` (rows without a value may hold anything; `nulls`
    /// says which rows are valid).
    pub fn new(values: Vec<i64>, nulls: Option<NullBuffer>) -> Ints {
        let valid = |r: usize| nulls.as_ref().is_none_or(|n| n.is_valid(r));
        let (mut lo, mut hi) = (i64::MAX, i64::MIN);
        for (r, &v) in values.iter().enumerate() {
            if valid(r) {
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
        if lo > hi {
            (lo, hi) = (0, 0);
        }
        let range = i128::from(hi) - i128::from(lo);
        let off =
            |v: i64| if v < lo || v > hi { 0 } else { (i128::from(v) - i128::from(lo)) as u64 };
        let repr = if range <= i128::from(u8::MAX) {
            Repr::U8(UInt8Array::new(values.iter().map(|&v| off(v) as u8).collect(), nulls))
        } else if range <= i128::from(u16::MAX) {
            Repr::U16(UInt16Array::new(values.iter().map(|&v| off(v) as u16).collect(), nulls))
        } else if range <= i128::from(u32::MAX) {
            Repr::U32(UInt32Array::new(values.iter().map(|&v| off(v) as u32).collect(), nulls))
        } else {
            return Ints {
                base: 0,
                repr: Repr::I64(Int64Array::new(ScalarBuffer::from(values), nulls)),
            };
        };
        Ints { base: lo, repr }
    }

    /// The number of distinct values among the valid rows, and their
    /// minimum and maximum. Narrow offsets (`u8`, `u16`) are counted in a
    /// bitset of their range; wider ones are sorted.
    pub(crate) fn distinct_min_max(&self) -> (u64, Option<i64>, Option<i64>) {
        let rows = super::valid::ValidRows::of(self.len(), self.nulls());
        /// Distinct, min and max of offsets below `span`, by a bitset.
        fn by_bitset(
            offsets: impl Iterator<Item = usize>,
            span: usize,
        ) -> (u64, Option<usize>, Option<usize>) {
            let mut seen = vec![0u64; span.div_ceil(64)];
            for v in offsets {
                seen[v >> 6] |= 1 << (v & 63);
            }
            let distinct = seen.iter().map(|w| u64::from(w.count_ones())).sum();
            let min = seen
                .iter()
                .position(|&w| w != 0)
                .map(|i| i * 64 + seen[i].trailing_zeros() as usize);
            let max = seen
                .iter()
                .rposition(|&w| w != 0)
                .map(|i| i * 64 + 63 - seen[i].leading_zeros() as usize);
            (distinct, min, max)
        }
        fn sorted<T: Ord + Copy>(mut v: Vec<T>) -> (u64, Option<T>, Option<T>) {
            v.sort_unstable();
            let distinct = if v.is_empty() {
                0
            } else {
                1 + v.windows(2).filter(|w| w[0] != w[1]).count() as u64
            };
            (distinct, v.first().copied(), v.last().copied())
        }
        let base = self.base;
        let at = |o: usize| base.wrapping_add(o as i64);
        match &self.repr {
            Repr::U8(a) => {
                let vals = rows.gather(a.values());
                let (d, lo, hi) = by_bitset(vals.iter().map(|&v| usize::from(v)), 1 << 8);
                (d, lo.map(at), hi.map(at))
            }
            Repr::U16(a) => {
                let vals = rows.gather(a.values());
                let (d, lo, hi) = by_bitset(vals.iter().map(|&v| usize::from(v)), 1 << 16);
                (d, lo.map(at), hi.map(at))
            }
            Repr::U32(a) => {
                let (d, lo, hi) = sorted(rows.gather(a.values()));
                let at = |o: u32| base.wrapping_add(i64::from(o));
                (d, lo.map(at), hi.map(at))
            }
            Repr::I64(a) => sorted(rows.gather(a.values())),
        }
    }

    /// The frame of reference: every value is `base()` plus its offset.
    pub fn base(&self) -> i64 {
        self.base
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.as_array().len()
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The validity of each row.
    pub fn nulls(&self) -> Option<&NullBuffer> {
        self.as_array().nulls()
    }

    /// True when row `i` holds an integer.
    pub fn is_valid(&self, i: usize) -> bool {
        self.as_array().is_valid(i)
    }

    /// The value at row `i` (meaningless where the row is null).
    pub fn value(&self, i: usize) -> i64 {
        match &self.repr {
            Repr::U8(a) => self.base.wrapping_add(i64::from(a.value(i))),
            Repr::U16(a) => self.base.wrapping_add(i64::from(a.value(i))),
            Repr::U32(a) => self.base.wrapping_add(i64::from(a.value(i))),
            Repr::I64(a) => a.value(i),
        }
    }

    /// Every row's value, `None` where the row is null.
    pub fn iter(&self) -> impl Iterator<Item = Option<i64>> + '_ {
        (0..self.len()).map(move |i| self.is_valid(i).then(|| self.value(i)))
    }

    /// The column as a plain `Int64Array` (what Parquet stores).
    pub fn to_i64_array(&self) -> Int64Array {
        match &self.repr {
            Repr::I64(a) => a.clone(),
            _ => Int64Array::new(
                (0..self.len()).map(|i| self.value(i)).collect(),
                self.nulls().cloned(),
            ),
        }
    }

    /// The stored array: offsets from [`Ints::base`] (or the values when
    /// stored as `i64`).
    pub fn as_array(&self) -> &dyn Array {
        match &self.repr {
            Repr::U8(a) => a,
            Repr::U16(a) => a,
            Repr::U32(a) => a,
            Repr::I64(a) => a,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_width_and_extreme() {
        let cases: [Vec<i64>; 6] = [
            vec![5, 7, 260],
            vec![-3, 250],
            vec![1_000, 70_000],
            vec![1_718_202_920_123, 1_718_202_999_999],
            vec![i64::MIN, i64::MAX, 0],
            vec![],
        ];
        for v in cases {
            let nulls =
                (!v.is_empty()).then(|| NullBuffer::from_iter((0..v.len()).map(|i| i != 1)));
            let a = Ints::new(v.clone(), nulls.clone());
            for (i, &x) in v.iter().enumerate() {
                if nulls.as_ref().is_none_or(|n| n.is_valid(i)) {
                    assert_eq!(a.value(i), x);
                    assert_eq!(a.to_i64_array().value(i), x);
                } else {
                    assert!(!a.is_valid(i));
                }
            }
        }
        assert!(matches!(Ints::new(vec![10, 200], None).repr, Repr::U8(_)));
        assert!(matches!(Ints::new(vec![0, 70_000], None).repr, Repr::U32(_)));
        assert!(matches!(Ints::new(vec![i64::MIN, i64::MAX], None).repr, Repr::I64(_)));
    }

    proptest::proptest! {
        /// Distinct count, minimum and maximum equal a set of the valid
        /// values, for every width (the range picks it) and null pattern.
        #[test]
        fn distinct_min_max_equals_a_set(
            base in proptest::prelude::any::<i64>(),
            span in proptest::sample::select(vec![1i64, 200, 60_000, 3_000_000_000, i64::MAX]),
            cells in proptest::collection::vec(
                (proptest::prelude::any::<u64>(), proptest::prelude::any::<bool>()),
                0..300,
            ),
        ) {
            let values: Vec<i64> = cells
                .iter()
                .map(|&(x, _)| base.saturating_add((x % span.unsigned_abs().max(1)) as i64))
                .collect();
            let valid: Vec<bool> = cells.iter().map(|&(_, v)| v).collect();
            let nulls = valid.iter().any(|v| !v).then(|| NullBuffer::from(valid.clone()));
            let a = Ints::new(values.clone(), nulls);
            let set: std::collections::BTreeSet<i64> =
                values.iter().zip(&valid).filter(|(_, &v)| v).map(|(&x, _)| x).collect();
            let want = (set.len() as u64, set.first().copied(), set.last().copied());
            proptest::prop_assert_eq!(a.distinct_min_max(), want);
        }
    }
}
