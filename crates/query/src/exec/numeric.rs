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
use super::rows;
use crate::model::Number;

/// A num column's values as a typed slice.
pub(crate) enum Slice<'a> {
    U8(&'a [u8]),
    U16(&'a [u16]),
    U32(&'a [u32]),
    I64(&'a [i64]),
    F64(&'a [f64]),
}

/// The values of `a` as a base plus typed offsets, and its validity
/// (`None` for mixed columns).
pub(crate) fn slice(a: &NumArray) -> Option<(i64, Slice<'_>, Option<&NullBuffer>)> {
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

/// Folds the values of `a` at the rows of `sub` into `p`, a piece of the
/// bitmap at a time (see [`rows`]): sums, minima and maxima of integer
/// offsets work on whole 64-row words and add the base once per count.
/// Values are visited in ascending row order, as a row-by-row fold would.
pub(crate) fn fold_rows(p: &mut Partial, a: &NumArray, sub: &RoaringBitmap) {
    if let (Partial::Sum(st) | Partial::Average(st), NumArray::Float(x)) = (&mut *p, a) {
        // Float sums are exact (see `exact`): bins per exponent, handed to
        // the sum once per fold.
        let valid = rows::valid_words(x.nulls());
        super::exact::ExponentBins::with(|bins| {
            visit(x.values(), valid.as_deref(), sub, |v| bins.add(v));
            if bins.n > 0 {
                st.n += bins.n;
                st.has_float = true;
                bins.flush_into(&mut st.floats);
            }
        });
        return;
    }
    let Some((base, s, nulls)) = slice(a) else {
        // Mixed columns (exact integers beyond 2^53 among floats): rare,
        // read row by row with their exact values.
        let arr = a.as_array();
        for r in sub.iter().map(|r| r as usize).filter(|&r| arr.is_valid(r)) {
            p.add_number(super::column::num_at(a, r));
        }
        return;
    };
    let valid = rows::valid_words(nulls);
    let valid = valid.as_deref();
    rows::for_each_piece(sub, |piece| match s {
        Slice::U8(v) => ints_piece(p, base, v, valid, piece),
        Slice::U16(v) => ints_piece(p, base, v, valid, piece),
        Slice::U32(v) => ints_piece(p, base, v, valid, piece),
        Slice::I64(v) => ints_piece(p, 0, v, valid, piece),
        Slice::F64(v) => floats_piece(p, v, valid, piece),
    });
}

/// `LANES[b][k]`: all ones when bit `k` of `b` is set, else zero.
static LANES: [[u64; 8]; 256] = {
    let mut t = [[0u64; 8]; 256];
    let mut b = 0;
    while b < 256 {
        let mut k = 0;
        while k < 8 {
            if b >> k & 1 == 1 {
                t[b][k] = u64::MAX;
            }
            k += 1;
        }
        b += 1;
    }
    t
};

/// An integer offset type of [`Slice`].
trait Off: Copy + Ord + Into<i64> {
    /// Σ of `chunk[i]` where bit `i` of `m` is set, as i128.
    fn masked_sum(chunk: &[Self], m: u64) -> i128;
    /// Branch-free [`masked_min_max`] of a full 64-row chunk (`None`: not
    /// full, or no such path for the type).
    fn masked_min_max_64(chunk: &[Self], m: u64) -> Option<(i64, i64)>;
}

/// `BITS[b]`: byte `k` is bit `k` of `b`. A table, so that adding or
/// copying a lane's bit stays a load (not a branch on it).
pub(crate) static BITS: [[u8; 8]; 256] = {
    let mut t = [[0u8; 8]; 256];
    let mut b = 0;
    while b < 256 {
        let mut k = 0;
        while k < 8 {
            t[b][k] = (b >> k & 1) as u8;
            k += 1;
        }
        b += 1;
    }
    t
};

macro_rules! narrow_off {
    ($t:ty) => {
        impl Off for $t {
            #[inline]
            fn masked_min_max_64(chunk: &[Self], m: u64) -> Option<(i64, i64)> {
                let x = <&[Self; 64]>::try_from(chunk).ok()?;
                let mut on = [0u8; 64];
                for (j, o) in on.chunks_exact_mut(8).enumerate() {
                    o.copy_from_slice(&BITS[(m >> (8 * j)) as usize & 0xFF]);
                }
                let (mut lo, mut hi) = (<$t>::MAX, <$t>::MIN);
                for i in 0..64 {
                    let on = <$t>::from(on[i]);
                    // Off lanes: all ones for the minimum, zero for the maximum.
                    lo = lo.min(x[i] | on.wrapping_sub(1));
                    hi = hi.max(x[i] & on.wrapping_neg());
                }
                Some((i64::from(lo), i64::from(hi)))
            }
            #[inline]
            fn masked_sum(chunk: &[Self], m: u64) -> i128 {
                // 64 offsets below 2^32 sum below 2^38: no overflow in u64.
                let mut s = 0u64;
                if let Ok(x) = <&[Self; 64]>::try_from(chunk) {
                    // Branch-free, a byte of the mask (8 lanes) at a time.
                    for (j, lanes) in x.chunks_exact(8).enumerate() {
                        let lut = &LANES[(m >> (8 * j)) as usize & 0xFF];
                        for k in 0..8 {
                            s += u64::from(lanes[k]) & lut[k];
                        }
                    }
                    return i128::from(s);
                }
                let mut m = m;
                while m != 0 {
                    if let Some(&x) = chunk.get(m.trailing_zeros() as usize) {
                        s += u64::from(x);
                    }
                    m &= m - 1;
                }
                i128::from(s)
            }
        }
    };
}
narrow_off!(u8);
narrow_off!(u16);
narrow_off!(u32);

impl Off for i64 {
    fn masked_min_max_64(_: &[Self], _: u64) -> Option<(i64, i64)> {
        None
    }
    #[inline]
    fn masked_sum(chunk: &[Self], mut m: u64) -> i128 {
        let mut s = 0i128;
        while m != 0 {
            if let Some(&x) = chunk.get(m.trailing_zeros() as usize) {
                s += i128::from(x);
            }
            m &= m - 1;
        }
        s
    }
}

/// Smallest and largest of `chunk[i]` (as i64) where bit `i` of `m` is
/// set (`m` ≠ 0).
#[inline]
fn masked_min_max<T: Off>(chunk: &[T], mut m: u64) -> (i64, i64) {
    if let Some(r) = T::masked_min_max_64(chunk, m) {
        return r;
    }
    let (mut lo, mut hi) = (i64::MAX, i64::MIN);
    while m != 0 {
        if let Some(&x) = chunk.get(m.trailing_zeros() as usize) {
            lo = lo.min(x.into());
            hi = hi.max(x.into());
        }
        m &= m - 1;
    }
    (lo, hi)
}

/// The smallest (`min`) or largest total-order key ([`total_key`]) of
/// `chunk[i]` where bit `i` of `m` is set (`m` ≠ 0).
#[inline]
fn masked_key_extreme(chunk: &[f64], mut m: u64, min: bool) -> i64 {
    if let Ok(x) = <&[f64; 64]>::try_from(chunk) {
        // Numeric min/max (vectorizable), exact under total order unless
        // the result is a zero (±0 tie) or a selected value is NaN.
        let pad = if min { f64::INFINITY } else { f64::NEG_INFINITY };
        // One accumulator per lane: vertical, so it vectorizes.
        let (mut acc, mut nan) = ([pad; 8], [false; 8]);
        for (j, lanes) in x.chunks_exact(8).enumerate() {
            let lut = &LANES[(m >> (8 * j)) as usize & 0xFF];
            for k in 0..8 {
                let v = f64::from_bits((lanes[k].to_bits() & lut[k]) | (pad.to_bits() & !lut[k]));
                nan[k] |= v.is_nan();
                acc[k] = if min { acc[k].min(v) } else { acc[k].max(v) };
            }
        }
        let nan = nan.iter().any(|&n| n);
        let best = acc.iter().copied().fold(pad, |b, v| if min { b.min(v) } else { b.max(v) });
        if !nan && best != 0.0 {
            return total_key(best);
        }
    }
    let mut best = if min { i64::MAX } else { i64::MIN };
    while m != 0 {
        if let Some(&x) = chunk.get(m.trailing_zeros() as usize) {
            let key = total_key(x);
            best = if min { best.min(key) } else { best.max(key) };
        }
        m &= m - 1;
    }
    best
}

/// Calls `f(row)` for every set bit of `m`, bit 0 being row `r0`.
#[inline]
fn each_bit(r0: usize, mut m: u64, mut f: impl FnMut(usize)) {
    while m != 0 {
        f(r0 + m.trailing_zeros() as usize);
        m &= m - 1;
    }
}

fn min_int(p: &mut Partial, x: i64) {
    if let Partial::Min(m) = p {
        if m.is_none_or(|m| Number::Int(x).cmp_num(m).is_lt()) {
            *m = Some(Number::Int(x));
        }
    }
}

fn max_int(p: &mut Partial, x: i64) {
    if let Partial::Max(m) = p {
        if m.is_none_or(|m| Number::Int(x).cmp_num(m).is_gt()) {
            *m = Some(Number::Int(x));
        }
    }
}

fn ints_piece<T: Off>(
    p: &mut Partial,
    base: i64,
    v: &[T],
    valid: Option<&[u64]>,
    piece: rows::Piece<'_>,
) {
    let val = |x: T| base.wrapping_add(x.into());
    match piece {
        rows::Piece::Range(lo, hi) => {
            let (lo, hi) = (lo as usize, (hi as usize).min(v.len()));
            if lo >= hi {
                return;
            }
            if valid.is_some() {
                // Word-aligned masks over the range.
                let mut r = lo;
                while r < hi {
                    let w = r / 64;
                    let end = ((w + 1) * 64).min(hi);
                    let mut m = rows::valid_word(valid, w);
                    m &= (u64::MAX >> (63 - (end - 1 - w * 64))) & (u64::MAX << (r - w * 64));
                    ints_word(p, base, v, w * 64, m);
                    r = end;
                }
                return;
            }
            let run = &v[lo..hi];
            match p {
                Partial::Sum(s) | Partial::Average(s) => {
                    let off: i128 = run.iter().map(|&x| i128::from(x.into())).sum();
                    s.int += off + i128::from(base) * run.len() as i128;
                    s.n += run.len() as u64;
                }
                Partial::Min(_) => {
                    if let Some(&x) = run.iter().min() {
                        min_int(p, val(x));
                    }
                }
                Partial::Max(_) => {
                    if let Some(&x) = run.iter().max() {
                        max_int(p, val(x));
                    }
                }
                Partial::Values(vs) => vs.ints.extend(run.iter().map(|&x| val(x))),
                p => run.iter().for_each(|&x| p.add_number(Number::Int(val(x)))),
            }
        }
        rows::Piece::Words(start, words) => {
            let start = start as usize;
            for (i, &w) in words.iter().enumerate() {
                let r0 = start + 64 * i;
                let m = w & rows::valid_word(valid, r0 / 64);
                if m != 0 {
                    ints_word(p, base, v, r0, m);
                }
            }
        }
        rows::Piece::Rows(rs) => {
            for &r in rs {
                let r = r as usize;
                if let (Some(&x), true) = (v.get(r), rows::is_valid(valid, r)) {
                    p.add_number(Number::Int(val(x)));
                }
            }
        }
    }
}

/// The 64 values from row `r0` and the bits of `m` that name rows of the
/// column (bits past its end name none); `None` when no bit is left.
#[inline]
pub(crate) fn word_chunk<T>(v: &[T], r0: usize, m: u64) -> Option<(&[T], u64)> {
    let chunk = v.get(r0..(r0 + 64).min(v.len()))?;
    let m = if chunk.len() < 64 { m & ((1u64 << chunk.len()) - 1) } else { m };
    (m != 0).then_some((chunk, m))
}

/// Folds the rows `r0 + i` for the set bits `i` of `m`.
#[inline]
fn ints_word<T: Off>(p: &mut Partial, base: i64, v: &[T], r0: usize, m: u64) {
    let Some((chunk, m)) = word_chunk(v, r0, m) else { return };
    match p {
        Partial::Sum(s) | Partial::Average(s) => {
            let n = u64::from(m.count_ones());
            s.int += T::masked_sum(chunk, m) + i128::from(base) * i128::from(n);
            s.n += n;
        }
        Partial::Min(_) => {
            let (lo, _) = masked_min_max(chunk, m);
            min_int(p, base.wrapping_add(lo));
        }
        Partial::Max(_) => {
            let (_, hi) = masked_min_max(chunk, m);
            max_int(p, base.wrapping_add(hi));
        }
        Partial::Values(vs) => {
            each_bit(0, m, |i| vs.ints.push(base.wrapping_add(chunk[i].into())));
        }
        p => each_bit(0, m, |i| p.add_number(Number::Int(base.wrapping_add(chunk[i].into())))),
    }
}

/// The total-order key of an f64 (`f64::total_cmp` compares these); the
/// map is its own inverse on the bits.
#[inline]
pub(crate) fn total_key(x: f64) -> i64 {
    let b = x.to_bits() as i64;
    b ^ (((b >> 63) as u64) >> 1) as i64
}

fn floats_piece(p: &mut Partial, v: &[f64], valid: Option<&[u64]>, piece: rows::Piece<'_>) {
    let word = |p: &mut Partial, r0: usize, m: u64| {
        let Some((chunk, m)) = word_chunk(v, r0, m) else { return };
        match p {
            Partial::Min(_) | Partial::Max(_) => {
                // Extremes by total order (what `cmp_num` uses), so the
                // first smallest (largest) value wins as row by row.
                // Equal keys are equal bits: the value is the key's.
                let key = masked_key_extreme(chunk, m, matches!(p, Partial::Min(_)));
                p.add_number(Number::Float(f64::from_bits(
                    total_key(f64::from_bits(key as u64)) as u64
                )));
            }
            Partial::Values(vs) => each_bit(0, m, |i| vs.floats.push(chunk[i])),
            p => each_bit(0, m, |i| p.add_number(Number::Float(chunk[i]))),
        }
    };
    match piece {
        rows::Piece::Range(lo, hi) => {
            let (lo, hi) = (lo as usize, (hi as usize).min(v.len()));
            let mut r = lo;
            while r < hi {
                let w = r / 64;
                let end = ((w + 1) * 64).min(hi);
                let mut m = rows::valid_word(valid, w);
                m &= (u64::MAX >> (63 - (end - 1 - w * 64))) & (u64::MAX << (r - w * 64));
                word(p, w * 64, m);
                r = end;
            }
        }
        rows::Piece::Words(start, words) => {
            for (i, &w) in words.iter().enumerate() {
                let r0 = start as usize + 64 * i;
                let m = w & rows::valid_word(valid, r0 / 64);
                if m != 0 {
                    word(p, r0, m);
                }
            }
        }
        rows::Piece::Rows(rs) => {
            for &r in rs {
                let r = r as usize;
                if let (Some(&x), true) = (v.get(r), rows::is_valid(valid, r)) {
                    p.add_number(Number::Float(x));
                }
            }
        }
    }
}

/// Calls `f` with the value of every row of `rows` that holds one, in row
/// order: integers of an integer column as they are, of a float column
/// nothing (see [`for_each_f64`]).
pub(crate) fn for_each_i64(a: &NumArray, rows: &RoaringBitmap, mut f: impl FnMut(i64)) {
    let Some((base, s, nulls)) = slice(a) else { return };
    let valid = rows::valid_words(nulls);
    let valid = valid.as_deref();
    match s {
        Slice::U8(v) => visit(v, valid, rows, |x| f(base.wrapping_add(i64::from(x)))),
        Slice::U16(v) => visit(v, valid, rows, |x| f(base.wrapping_add(i64::from(x)))),
        Slice::U32(v) => visit(v, valid, rows, |x| f(base.wrapping_add(i64::from(x)))),
        Slice::I64(v) => visit(v, valid, rows, f),
        Slice::F64(_) => {}
    }
}

/// Calls `f` with the value of every row of `rows` that holds one, in row
/// order, as f64 (integers converted).
pub(crate) fn for_each_f64(a: &NumArray, rows: &RoaringBitmap, mut f: impl FnMut(f64)) {
    match a {
        NumArray::Float(x) => {
            let valid = rows::valid_words(x.nulls());
            visit(x.values(), valid.as_deref(), rows, f)
        }
        NumArray::Int(_) => for_each_i64(a, rows, |i| f(i as f64)),
        NumArray::Mixed(m) => {
            let valid = rows::valid_words(m.values().nulls());
            visit(m.values().values(), valid.as_deref(), rows, f)
        }
    }
}

/// Calls `f(v[r])` for the valid rows `r` of `rows`, ascending.
#[inline]
fn visit<T: Copy>(v: &[T], valid: Option<&[u64]>, rows: &RoaringBitmap, mut f: impl FnMut(T)) {
    rows::for_each_piece(rows, |piece| match piece {
        rows::Piece::Range(lo, hi) => {
            let (lo, hi) = (lo as usize, (hi as usize).min(v.len()));
            if lo >= hi {
                return;
            }
            if valid.is_none() {
                v[lo..hi].iter().for_each(|&x| f(x));
                return;
            }
            let mut r = lo;
            while r < hi {
                let w = r / 64;
                let end = ((w + 1) * 64).min(hi);
                let mut m = rows::valid_word(valid, w);
                m &= (u64::MAX >> (63 - (end - 1 - w * 64))) & (u64::MAX << (r - w * 64));
                each_bit(w * 64, m, |r| f(v[r]));
                r = end;
            }
        }
        rows::Piece::Words(start, words) => {
            for (i, &w) in words.iter().enumerate() {
                let r0 = start as usize + 64 * i;
                let m = w & rows::valid_word(valid, r0 / 64);
                each_bit(r0, m, |r| {
                    if let Some(&x) = v.get(r) {
                        f(x)
                    }
                });
            }
        }
        rows::Piece::Rows(rs) => {
            for &r in rs {
                let r = r as usize;
                if let (Some(&x), true) = (v.get(r), rows::is_valid(valid, r)) {
                    f(x)
                }
            }
        }
    });
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

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Float64Array;
    use tally_ingest::Ints;

    /// A small deterministic generator (xorshift64*).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
    }

    fn kinds() -> Vec<Partial> {
        use crate::model::AnalysisKind as K;
        [K::Count, K::Sum, K::Minimum, K::Maximum, K::Average, K::StandardDeviation, K::Median]
            .into_iter()
            .map(Partial::empty)
            .collect()
    }

    /// Row by row, the reference fold.
    fn naive(p: &mut Partial, a: &NumArray, sub: &RoaringBitmap) {
        for r in sub.iter() {
            if let Some(x) = a.f64(r as usize) {
                let n = match a {
                    NumArray::Int(i) => Number::Int(i.value(r as usize)),
                    NumArray::Float(_) => Number::Float(x),
                    NumArray::Mixed(_) => super::super::column::num_at(a, r as usize),
                };
                p.add_number(n);
            }
        }
    }

    fn selections(rng: &mut Rng, len: u32) -> Vec<RoaringBitmap> {
        let mut out = vec![(0..len).collect(), (5..len - 3).collect()];
        for density in [2u64, 3, 10, 500, 20_000] {
            let rb: RoaringBitmap =
                (0..len).filter(|_| rng.next().is_multiple_of(density)).collect();
            out.push(rb);
        }
        let mut runs = RoaringBitmap::new();
        runs.insert_range(100..70_000);
        runs.insert_range(80_000..80_001);
        runs.insert_range(90_000..len);
        runs.optimize();
        out.push(runs);
        out
    }

    #[test]
    fn word_folds_equal_row_by_row_folds() {
        let mut rng = Rng(42);
        let len = 140_037u32;
        let mut cols: Vec<NumArray> = Vec::new();
        for range in [200i64, 60_000, 3_000_000_000, i64::MAX] {
            for with_nulls in [false, true] {
                let vals: Vec<i64> = (0..len)
                    .map(|_| {
                        let x = (rng.next() % (range as u64)) as i64;
                        if range == i64::MAX {
                            x - i64::MAX / 2
                        } else {
                            x - 17
                        }
                    })
                    .collect();
                let nulls = with_nulls.then(|| {
                    NullBuffer::from_iter((0..len).map(|_| !rng.next().is_multiple_of(4)))
                });
                cols.push(NumArray::Int(Ints::new(vals, nulls)));
            }
        }
        for with_nulls in [false, true] {
            // Few distinct values, with both zeros, so ties are frequent.
            let pool = [-0.0, 0.0, 1.5, -2.25, 1e300, -7.0, 0.1];
            let vals: Vec<Option<f64>> = (0..len)
                .map(|_| {
                    let v = pool[(rng.next() % pool.len() as u64) as usize];
                    (!with_nulls || !rng.next().is_multiple_of(3)).then_some(v)
                })
                .collect();
            cols.push(NumArray::Float(Float64Array::from(vals)));
        }
        for a in &cols {
            for sub in selections(&mut rng, len) {
                for empty in kinds() {
                    let (mut got, mut want) = (empty.clone(), empty);
                    fold_rows(&mut got, a, &sub);
                    naive(&mut want, a, &sub);
                    // Min/max compare bits too (−0.0 vs 0.0).
                    match (&got, &want) {
                        (
                            Partial::Min(Some(Number::Float(x))),
                            Partial::Min(Some(Number::Float(y))),
                        )
                        | (
                            Partial::Max(Some(Number::Float(x))),
                            Partial::Max(Some(Number::Float(y))),
                        ) => {
                            assert_eq!(x.to_bits(), y.to_bits())
                        }
                        _ => assert_eq!(got, want),
                    }
                }
            }
        }
    }
}
