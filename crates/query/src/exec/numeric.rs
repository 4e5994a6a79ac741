//! Tight loops that fold a num column into numeric partial states: over
//! the runs of a row bitmap (ungrouped), or over (row, group) pairs. The
//! integer columns are read as their narrow frame-of-reference slices
//! (`u8`/`u16`/`u32` offsets from a base, or `i64`), never row by row
//! through a dynamic accessor.

use arrow_array::{Array, Int64Array, UInt16Array, UInt32Array, UInt8Array};
use arrow_buffer::NullBuffer;
use roaring::RoaringBitmap;
use tally_ingest::NumArray;

use super::partial::Partial;
use crate::model::Number;

/// A num column's values as a typed slice.
enum Slice<'a> {
    U8(&'a [u8]),
    U16(&'a [u16]),
    U32(&'a [u32]),
    I64(&'a [i64]),
    F64(&'a [f64]),
}

fn slice(a: &NumArray) -> Option<(i64, Slice<'_>, Option<&NullBuffer>)> {
    match a {
        NumArray::Float(f) => Some((0, Slice::F64(f.values()), f.nulls())),
        NumArray::Mixed(_) => None,
        NumArray::Int(ints) => {
            let arr = ints.as_array();
            let any = arr.as_any();
            let s = if let Some(x) = any.downcast_ref::<UInt8Array>() {
                Slice::U8(x.values())
            } else if let Some(x) = any.downcast_ref::<UInt16Array>() {
                Slice::U16(x.values())
            } else if let Some(x) = any.downcast_ref::<UInt32Array>() {
                Slice::U32(x.values())
            } else if let Some(x) = any.downcast_ref::<Int64Array>() {
                return Some((0, Slice::I64(x.values()), arr.nulls()));
            } else {
                return None;
            };
            Some((ints.base(), s, arr.nulls()))
        }
    }
}

/// Folds the values of `a` at the rows of `sub` into `p`.
pub(crate) fn fold_rows(p: &mut Partial, a: &NumArray, sub: &RoaringBitmap) {
    let Some((base, s, nulls)) = slice(a) else {
        // Mixed columns (exact integers beyond 2^53 among floats): rare,
        // read row by row with their exact values.
        let arr = a.as_array();
        for r in sub.iter().map(|r| r as usize).filter(|&r| arr.is_valid(r)) {
            p.add_number(super::column::num_at(a, r));
        }
        return;
    };
    match s {
        Slice::U8(v) => ints_rows(p, base, v, nulls, sub),
        Slice::U16(v) => ints_rows(p, base, v, nulls, sub),
        Slice::U32(v) => ints_rows(p, base, v, nulls, sub),
        Slice::I64(v) => ints_rows(p, 0, v, nulls, sub),
        Slice::F64(v) => {
            let mut it = sub.iter();
            while let Some(run) = it.next_range() {
                for r in run {
                    let r = r as usize;
                    if nulls.is_none_or(|n| n.is_valid(r)) {
                        p.add_number(Number::Float(v[r]));
                    }
                }
            }
        }
    }
}

fn ints_rows<T: Copy + Into<i64>>(
    p: &mut Partial,
    base: i64,
    v: &[T],
    nulls: Option<&NullBuffer>,
    sub: &RoaringBitmap,
) {
    let val = |x: T| base.wrapping_add(x.into());
    let contiguous = match (sub.min(), sub.max()) {
        (Some(lo), Some(hi)) => u64::from(hi - lo) + 1 == sub.len(),
        _ => true,
    };
    if !contiguous {
        // Scattered rows: one pass over the bitmap, no per-run overhead.
        let valid = |r: usize| nulls.is_none_or(|n| n.is_valid(r));
        match p {
            Partial::Sum(s) | Partial::Average(s) => {
                let (mut acc, mut n) = (0i128, 0u64);
                for r in sub.iter() {
                    let r = r as usize;
                    if let Some(&x) = v.get(r) {
                        if valid(r) {
                            acc += i128::from(x.into());
                            n += 1;
                        }
                    }
                }
                s.int += acc + i128::from(base) * i128::from(n);
                s.n += n;
            }
            Partial::Values(vs) => {
                vs.ints.reserve(sub.len() as usize);
                for r in sub.iter() {
                    let r = r as usize;
                    if let Some(&x) = v.get(r) {
                        if valid(r) {
                            vs.ints.push(val(x));
                        }
                    }
                }
            }
            p => {
                for r in sub.iter() {
                    let r = r as usize;
                    if let Some(&x) = v.get(r) {
                        if valid(r) {
                            p.add_number(Number::Int(val(x)));
                        }
                    }
                }
            }
        }
        return;
    }
    let mut it = sub.iter();
    while let Some(run) = it.next_range() {
        let (lo, hi) = (*run.start() as usize, *run.end() as usize + 1);
        let Some(run) = v.get(lo..hi) else { continue };
        match (&mut *p, nulls) {
            (Partial::Sum(s) | Partial::Average(s), None) => {
                let off: i128 = run.iter().map(|&x| i128::from(x.into())).sum();
                s.int += off + i128::from(base) * run.len() as i128;
                s.n += run.len() as u64;
            }
            (Partial::Min(m), None) => {
                if let Some(x) = run.iter().map(|&x| val(x)).min() {
                    if m.is_none_or(|m| Number::Int(x).cmp_num(m).is_lt()) {
                        *m = Some(Number::Int(x));
                    }
                }
            }
            (Partial::Max(m), None) => {
                if let Some(x) = run.iter().map(|&x| val(x)).max() {
                    if m.is_none_or(|m| Number::Int(x).cmp_num(m).is_gt()) {
                        *m = Some(Number::Int(x));
                    }
                }
            }
            (Partial::Values(vs), None) => vs.ints.extend(run.iter().map(|&x| val(x))),
            (p, None) => run.iter().for_each(|&x| p.add_number(Number::Int(val(x)))),
            (p, Some(n)) => {
                for (i, &x) in run.iter().enumerate() {
                    if n.is_valid(lo + i) {
                        p.add_number(Number::Int(val(x)));
                    }
                }
            }
        }
    }
}

/// Folds (row, group) pairs into analysis `a` of the groups' states:
/// sums and averages accumulate into flat per-group arrays first.
pub(crate) fn fold_pairs(
    a: usize,
    col: &NumArray,
    rows: &[u32],
    gids: &[u32],
    states: &mut [Vec<Partial>],
) {
    let Some((base, s, nulls)) = slice(col) else {
        let arr = col.as_array();
        for (&r, &g) in rows.iter().zip(gids) {
            if arr.is_valid(r as usize) {
                states[g as usize][a].add_number(super::column::num_at(col, r as usize));
            }
        }
        return;
    };
    let is_sum =
        matches!(states.first().map(|s| &s[a]), Some(Partial::Sum(_) | Partial::Average(_)));
    match s {
        Slice::U8(v) => int_pairs(a, base, v, nulls, rows, gids, states, is_sum),
        Slice::U16(v) => int_pairs(a, base, v, nulls, rows, gids, states, is_sum),
        Slice::U32(v) => int_pairs(a, base, v, nulls, rows, gids, states, is_sum),
        Slice::I64(v) => int_pairs(a, 0, v, nulls, rows, gids, states, is_sum),
        Slice::F64(v) => {
            for (&r, &g) in rows.iter().zip(gids) {
                let r = r as usize;
                if nulls.is_none_or(|n| n.is_valid(r)) {
                    states[g as usize][a].add_number(Number::Float(v[r]));
                }
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn int_pairs<T: Copy + Into<i64>>(
    a: usize,
    base: i64,
    v: &[T],
    nulls: Option<&NullBuffer>,
    rows: &[u32],
    gids: &[u32],
    states: &mut [Vec<Partial>],
    is_sum: bool,
) {
    if is_sum {
        let mut acc = vec![(0i128, 0u64); states.len()];
        for (&r, &g) in rows.iter().zip(gids) {
            let r = r as usize;
            if nulls.is_none_or(|n| n.is_valid(r)) {
                if let (Some(x), Some(slot)) = (v.get(r), acc.get_mut(g as usize)) {
                    slot.0 += i128::from(base.wrapping_add((*x).into()));
                    slot.1 += 1;
                }
            }
        }
        for (st, (sum, n)) in states.iter_mut().zip(acc) {
            if let Partial::Sum(s) | Partial::Average(s) = &mut st[a] {
                s.int += sum;
                s.n += n;
            }
        }
        return;
    }
    for (&r, &g) in rows.iter().zip(gids) {
        let r = r as usize;
        if nulls.is_none_or(|n| n.is_valid(r)) {
            if let Some(x) = v.get(r) {
                states[g as usize][a].add_number(Number::Int(base.wrapping_add((*x).into())));
            }
        }
    }
}
