//! Exact selection of the values at given ranks without materialising
//! them: a radix select over order-preserving 64-bit keys, in one pass
//! when the keys span few values, else in two.
//!
//! Keys: an integer is its bits with the sign flipped; a float is its
//! `f64::total_cmp` key with the sign flipped, so unsigned key order is
//! the value order the percentile uses. Pass 1 counts, in parallel per
//! source, the keys per bin: bin 0 holds the keys below the lowest bound,
//! bins `1..=nb` the high bits of `key − lowest bound`, bin `nb + 1` the
//! keys past the end (near bounds suffice: every key has its bin, in key
//! order, so the answer stays exact). The merged counts name the bin(s)
//! holding the wanted ranks. A bin one key wide (a span below 2^11, or
//! below 2^16 and small beside the number of values) is that key: no
//! second pass, unless the rank falls outside the bounds. Else pass 2
//! collects only those bins' keys and selects within them.
//!
//! The passes read the columns 64 rows at a time (one word of the row
//! bitmap and of the validity): pass 1 adds every lane's bit to its bin,
//! branch-free, into interleaved copies of the histogram so repeated bins
//! do not wait on each other; pass 2 tests a whole word's keys before
//! collecting any.

use arrow_array::Array;
use rayon::prelude::*;
use roaring::RoaringBitmap;
use tally_ingest::NumArray;

use super::numeric::{slice, total_key, word_chunk, Slice, BITS};
use super::partial::LazyRows;
use super::rows;
use crate::model::Number;

/// Bits of the bins of a two-pass selection (at most).
const BUCKET_BITS: u32 = 11;
/// Keys spanning at most this many bits get a bin each: one pass.
const EXACT_BITS: u32 = 16;
/// Histograms of at most this many bins are counted in [`COPIES`]
/// interleaved copies (small enough for L1) and kept per source.
const SPLIT_MAX: usize = (1 << BUCKET_BITS) + 2;
/// Interleaved copies of a small histogram (two beat one where few bins
/// take most keys, and four no longer fit in L1).
const COPIES: usize = 2;
/// Selected rows of a 64-row word from which the passes work on all lanes.
const DENSE: u32 = 24;
/// Explicit values are split into parts this long for the parallel passes.
const PART: usize = 1 << 20;

/// Where keys come from.
pub(crate) enum Source<'a> {
    /// Integers.
    Ints(&'a [i64]),
    /// Floats.
    Floats(&'a [f64]),
    /// A segment's rows not yet read.
    Lazy(&'a LazyRows),
}

const SIGN: u64 = 1 << 63;

/// The key of an integer.
#[inline]
pub(crate) fn int_key(x: i64) -> u64 {
    (x as u64) ^ SIGN
}

/// The key of a float.
#[inline]
pub(crate) fn float_key(x: f64) -> u64 {
    (total_key(x) as u64) ^ SIGN
}

/// The integer of an [`int_key`].
pub(crate) fn key_int(k: u64) -> i64 {
    (k ^ SIGN) as i64
}

/// The float of a [`float_key`] (the key map is its own inverse).
pub(crate) fn key_float(k: u64) -> f64 {
    f64::from_bits(total_key(f64::from_bits(k ^ SIGN)) as u64)
}

/// The sources of `ints`, `floats` and `lazy`, explicit ones in parts.
pub(crate) fn sources<'a>(
    ints: &'a [i64],
    floats: &'a [f64],
    lazy: &'a [LazyRows],
) -> Vec<Source<'a>> {
    let mut out: Vec<Source<'a>> = Vec::new();
    out.extend(ints.chunks(PART).map(Source::Ints));
    out.extend(floats.chunks(PART).map(Source::Floats));
    out.extend(lazy.iter().map(Source::Lazy));
    out
}

/// A narrow integer offset type of a [`Slice`].
trait Narrow: Copy + Into<u64> {
    /// The largest offset.
    const MAX: u64;
    /// `x` as an offset (`x ≤ MAX`).
    fn of(x: u64) -> Self;
    /// True when `self − lo ≤ width` (wrapping).
    fn within(self, lo: Self, width: Self) -> bool;
}

macro_rules! narrow {
    ($t:ty) => {
        impl Narrow for $t {
            const MAX: u64 = <$t>::MAX as u64;
            #[inline]
            fn of(x: u64) -> Self {
                x as $t
            }
            #[inline]
            fn within(self, lo: Self, width: Self) -> bool {
                self.wrapping_sub(lo) <= width
            }
        }
    };
}
narrow!(u8);
narrow!(u16);
narrow!(u32);

impl Source<'_> {
    /// Number of values.
    fn len(&self) -> u64 {
        match self {
            Source::Ints(v) => v.len() as u64,
            Source::Floats(v) => v.len() as u64,
            Source::Lazy(l) => l.rows.len(),
        }
    }
}

/// What a pass does with the values of a source, at most 64 at a time.
trait Pass {
    /// Takes `chunk[i]` for the set bits `i` of `m` (no bit past the
    /// chunk's end), whose keys are `key(x)`.
    fn keys<T: Copy>(&mut self, chunk: &[T], m: u64, key: impl Fn(T) -> u64 + Copy);

    /// [`Pass::keys`] of the integers `base + x` of narrow offsets `x`.
    #[inline]
    fn offsets<T: Narrow>(&mut self, chunk: &[T], m: u64, base: i64) {
        self.keys(chunk, m, move |x: T| int_key(base.wrapping_add(x.into() as i64)))
    }
}

/// Feeds `p` every key of `s` (`float`: integers as floats).
fn scan(s: &Source<'_>, float: bool, p: &mut impl Pass) {
    match *s {
        Source::Ints(v) if float => {
            each_slice_chunk(v, |c, m| p.keys(c, m, |x: i64| float_key(x as f64)))
        }
        Source::Ints(v) => each_slice_chunk(v, |c, m| p.keys(c, m, int_key)),
        Source::Floats(v) => each_slice_chunk(v, |c, m| p.keys(c, m, float_key)),
        Source::Lazy(l) => scan_lazy(l, float, p),
    }
}

fn scan_lazy(l: &LazyRows, float: bool, p: &mut impl Pass) {
    let rows = &l.rows;
    let Some((base, s, nulls)) = slice(&l.col) else {
        // Mixed (selected in place by the caller): their f64 values.
        if let NumArray::Mixed(m) = &l.col {
            let a = m.values();
            let valid = rows::valid_words(a.nulls());
            each_chunk(a.values(), valid.as_deref(), rows, |c, m| p.keys(c, m, float_key));
        }
        return;
    };
    let valid = rows::valid_words(nulls);
    let valid = valid.as_deref();
    match s {
        Slice::U8(v) => scan_narrow(v, base, float, valid, rows, p),
        Slice::U16(v) => scan_narrow(v, base, float, valid, rows, p),
        Slice::U32(v) => scan_narrow(v, base, float, valid, rows, p),
        Slice::I64(v) if float => each_chunk(v, valid, rows, |c, m| {
            p.keys(c, m, move |x: i64| float_key(base.wrapping_add(x) as f64))
        }),
        Slice::I64(v) => each_chunk(v, valid, rows, |c, m| {
            p.keys(c, m, move |x: i64| int_key(base.wrapping_add(x)))
        }),
        Slice::F64(v) => each_chunk(v, valid, rows, |c, m| p.keys(c, m, float_key)),
    }
}

fn scan_narrow<T: Narrow>(
    v: &[T],
    base: i64,
    float: bool,
    valid: Option<&[u64]>,
    rows: &RoaringBitmap,
    p: &mut impl Pass,
) {
    if float {
        each_chunk(v, valid, rows, |c, m| {
            p.keys(c, m, move |x: T| float_key(base.wrapping_add(x.into() as i64) as f64))
        });
    } else {
        each_chunk(v, valid, rows, |c, m| p.offsets(c, m, base));
    }
}

/// Calls `f` with the 64-value chunks of `v` and masks of all ones.
#[inline]
fn each_slice_chunk<T>(v: &[T], mut f: impl FnMut(&[T], u64)) {
    for c in v.chunks(64) {
        f(c, u64::MAX >> (64 - c.len()));
    }
}

/// Calls `f(chunk, m)` for the valid rows of `rows` among the values `v`:
/// bit `i` of `m` names `chunk[i]` (a chunk is a word's 64 rows, or one
/// row of a sparse container), in ascending row order.
fn each_chunk<T>(
    v: &[T],
    valid: Option<&[u64]>,
    rows: &RoaringBitmap,
    mut f: impl FnMut(&[T], u64),
) {
    #[inline]
    fn word<T>(v: &[T], r0: usize, m: u64, f: &mut impl FnMut(&[T], u64)) {
        if let Some((c, m)) = word_chunk(v, r0, m) {
            f(c, m);
        }
    }
    rows::for_each_piece(rows, |piece| match piece {
        rows::Piece::Range(lo, hi) => {
            let (lo, hi) = (lo as usize, (hi as usize).min(v.len()));
            let mut r = lo;
            while r < hi {
                let w = r / 64;
                let end = ((w + 1) * 64).min(hi);
                let m = rows::valid_word(valid, w)
                    & (u64::MAX >> (63 - (end - 1 - w * 64)))
                    & (u64::MAX << (r - w * 64));
                word(v, w * 64, m, &mut f);
                r = end;
            }
        }
        rows::Piece::Words(start, words) => {
            for (i, &w) in words.iter().enumerate() {
                let r0 = start as usize + 64 * i;
                word(v, r0, w & rows::valid_word(valid, r0 / 64), &mut f);
            }
        }
        rows::Piece::Rows(rs) => {
            for &r in rs {
                let r = r as usize;
                if rows::is_valid(valid, r) {
                    if let Some(x) = v.get(r..r + 1) {
                        f(x, 1);
                    }
                }
            }
        }
    });
}

/// Pass 1: counts keys per bin (see the module docs) into `h`, `copies`
/// interleaved histograms of `nb + 2` bins.
struct Count<'h> {
    h: &'h mut [u32],
    copies: usize,
    kmin: u64,
    shift: u32,
    nb: u64,
}

impl Count<'_> {
    #[inline]
    fn count<T: Copy>(&mut self, chunk: &[T], m: u64, bin: impl Fn(T) -> usize) {
        if self.copies == COPIES {
            count::<T, COPIES>(self.h, chunk, m, bin)
        } else {
            count::<T, 1>(self.h, chunk, m, bin)
        }
    }
}

impl Pass for Count<'_> {
    #[inline]
    fn keys<T: Copy>(&mut self, chunk: &[T], m: u64, key: impl Fn(T) -> u64 + Copy) {
        let (kmin, shift, nb) = (self.kmin, self.shift, self.nb);
        // Branch-free (a lane off the selection may hold anything): below
        // kmin is bin 1 less one.
        self.count(chunk, m, move |x: T| {
            let k = key(x);
            ((k.saturating_sub(kmin) >> shift).min(nb) + 1 - u64::from(k < kmin)) as usize
        });
    }

    #[inline]
    fn offsets<T: Narrow>(&mut self, chunk: &[T], m: u64, base: i64) {
        let lowest = key_int(self.kmin);
        if base < lowest {
            // Bounds above the column's base: the general bins.
            return self.keys(chunk, m, move |x: T| int_key(base.wrapping_add(x.into() as i64)));
        }
        // key − kmin = (base − lowest) + x, never below zero.
        let c = base.wrapping_sub(lowest) as u64;
        let (shift, nb) = (self.shift, self.nb);
        self.count(chunk, m, move |x: T| {
            ((x.into().wrapping_add(c) >> shift).min(nb) + 1) as usize
        });
    }
}

/// True when enough of a word's rows are selected that working on all 64
/// lanes beats visiting the selected ones.
#[inline]
fn dense(m: u64) -> bool {
    m.count_ones() >= DENSE
}

/// Adds the set bits of `m` to the bins `bin(chunk[i])` of `h`, `C`
/// interleaved histograms: a full, dense chunk branch-free, lane `i` into copy
/// `i % C`, so repeated bins do not wait on each other.
#[inline]
fn count<T: Copy, const C: usize>(h: &mut [u32], chunk: &[T], m: u64, bin: impl Fn(T) -> usize) {
    let len = h.len() / C;
    if let (Ok(c), true) = (<&[T; 64]>::try_from(chunk), dense(m)) {
        for (j, lanes) in c.chunks_exact(8).enumerate() {
            let bits = &BITS[(m >> (8 * j)) as usize & 0xFF];
            for k in 0..8 {
                if let Some(n) = h.get_mut((k % C) * len + bin(lanes[k])) {
                    *n += u32::from(bits[k]);
                }
            }
        }
        return;
    }
    let mut m = m;
    while m != 0 {
        if let Some(&x) = chunk.get(m.trailing_zeros() as usize) {
            if let Some(n) = h.get_mut(bin(x)) {
                *n += 1;
            }
        }
        m &= m - 1;
    }
}

/// Pass 2: collects the keys `k` with `k − lo ≤ width` (wrapping).
struct Collect {
    out: Vec<u64>,
    lo: u64,
    width: u64,
}

impl Collect {
    /// Pushes `key(chunk[i])` for the set bits `i` of `m` where `hit`.
    #[inline]
    fn push<T: Copy>(
        &mut self,
        chunk: &[T],
        m: u64,
        hit: impl Fn(T) -> bool,
        key: impl Fn(T) -> u64,
    ) {
        let mut found = 0u64;
        if dense(m) {
            for (i, &x) in chunk.iter().enumerate() {
                found |= u64::from(hit(x)) << i;
            }
            found &= m;
        } else {
            let mut rest = m;
            while rest != 0 {
                let i = rest.trailing_zeros();
                found |= u64::from(chunk.get(i as usize).is_some_and(|&x| hit(x))) << i;
                rest &= rest - 1;
            }
        }
        while found != 0 {
            if let Some(&x) = chunk.get(found.trailing_zeros() as usize) {
                self.out.push(key(x));
            }
            found &= found - 1;
        }
    }
}

impl Pass for Collect {
    #[inline]
    fn keys<T: Copy>(&mut self, chunk: &[T], m: u64, key: impl Fn(T) -> u64 + Copy) {
        let (lo, width) = (self.lo, self.width);
        self.push(chunk, m, move |x| key(x).wrapping_sub(lo) <= width, key);
    }

    #[inline]
    fn offsets<T: Narrow>(&mut self, chunk: &[T], m: u64, base: i64) {
        // The wanted keys as offsets: [lo, lo + width] − base, clipped.
        let from = i128::from(key_int(self.lo)) - i128::from(base);
        let to = from + i128::from(self.width);
        let (from, to) = (from.max(0), to.min(i128::from(T::MAX)));
        if from > to {
            return;
        }
        let (xlo, xw) = (T::of(from as u64), T::of((to - from) as u64));
        // Most words hold none: test them all at once (vectorized) first.
        if !chunk.iter().fold(false, |any, &x| any | x.within(xlo, xw)) {
            return;
        }
        let key = move |x: T| int_key(base.wrapping_add(x.into() as i64));
        self.push(chunk, m, move |x: T| x.within(xlo, xw), key);
    }
}

fn num_key(n: Number, float: bool) -> u64 {
    match (n, float) {
        (Number::Int(i), false) => int_key(i),
        // Saturating: a bound only needs to be near.
        (Number::Float(f), false) => int_key(f as i64),
        (n, true) => float_key(n.as_f64()),
    }
}

/// Bounds of a source's keys (near ones suffice, see the module docs).
fn bounds(s: &Source<'_>, float: bool) -> Option<(u64, u64)> {
    let lo_hi = |it: &mut dyn Iterator<Item = u64>| {
        it.fold(None, |b: Option<(u64, u64)>, k| {
            Some(b.map_or((k, k), |(lo, hi)| (lo.min(k), hi.max(k))))
        })
    };
    match *s {
        Source::Lazy(l) if l.rows.is_empty() => None,
        Source::Lazy(l) => Some((num_key(l.lo, float), num_key(l.hi, float))),
        // Integer to float is monotone: the extreme integers' keys.
        Source::Ints(v) => {
            let (lo, hi) = (v.iter().min()?, v.iter().max()?);
            Some((num_key(Number::Int(*lo), float), num_key(Number::Int(*hi), float)))
        }
        Source::Floats(v) => lo_hi(&mut v.iter().map(|&x| float_key(x))),
    }
}

/// The histogram of `s`'s keys in `nb + 2` bins (see [`Count`]).
fn histogram(s: &Source<'_>, float: bool, kmin: u64, shift: u32, nb: usize) -> Vec<u32> {
    let len = nb + 2;
    let copies = if len <= SPLIT_MAX { COPIES } else { 1 };
    let mut h = vec![0u32; copies * len];
    scan(s, float, &mut Count { h: &mut h, copies, kmin, shift, nb: nb as u64 });
    let (first, rest) = h.split_at_mut(len);
    for copy in rest.chunks_exact(len) {
        first.iter_mut().zip(copy).for_each(|(a, b)| *a += b);
    }
    h.truncate(len);
    h
}

fn add_into(mut a: Vec<u64>, b: &[u32]) -> Vec<u64> {
    a.iter_mut().zip(b).for_each(|(x, &y)| *x += u64::from(y));
    a
}

/// The keys at ranks `r` and, when `next`, `r + 1` (0-based, ascending)
/// among every key of `sources` (`float`: all as floats, else all as
/// integers); `None` when there are not that many.
pub(crate) fn keys_at(
    sources: &[Source<'_>],
    float: bool,
    r: usize,
    next: bool,
) -> Option<(u64, Option<u64>)> {
    let (kmin, kmax) = sources
        .iter()
        .filter_map(|s| bounds(s, float))
        .fold((u64::MAX, 0u64), |(a, b), (lo, hi)| (a.min(lo), b.max(hi)));
    if kmin > kmax {
        return None;
    }
    let span = kmax - kmin;
    let bits = 64 - span.leading_zeros();
    // A bin per key when the span is small, and small beside the values
    // (each source's histogram is cleared and merged bin by bin).
    let n: u64 = sources.iter().map(Source::len).sum();
    let exact_ok = bits <= BUCKET_BITS
        || (bits <= EXACT_BITS && (span + 1).saturating_mul(sources.len() as u64) <= n);
    let shift = if exact_ok { 0 } else { bits.saturating_sub(BUCKET_BITS) };
    // Bins: 0 below kmin, 1..=nb from kmin on, nb + 1 past kmax.
    let nb = (span >> shift) as usize + 1;
    let len = nb + 2;
    let hist = |s: &Source<'_>| histogram(s, float, kmin, shift, nb);
    // Small histograms are kept per source (pass 2 sizes its output and
    // skips sources by them); large ones merge as they go.
    let (per, total): (Vec<Vec<u32>>, Vec<u64>) = if len <= SPLIT_MAX {
        let per: Vec<Vec<u32>> = sources.par_iter().map(hist).collect();
        let total = per.iter().fold(vec![0u64; len], |a, h| add_into(a, h));
        (per, total)
    } else {
        let total =
            sources.par_iter().fold(|| vec![0u64; len], |a, s| add_into(a, &hist(s))).reduce(
                || vec![0u64; len],
                |mut a, b| {
                    a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                    a
                },
            );
        (Vec::new(), total)
    };
    let want = r + usize::from(next);
    let (mut b1, mut b2, mut before1, mut before2, mut cum) = (None, None, 0, 0, 0usize);
    for (b, &c) in total.iter().enumerate() {
        let c = c as usize;
        if b1.is_none() && cum + c > r {
            b1 = Some(b);
            before1 = cum;
        }
        if cum + c > want {
            b2 = Some(b);
            before2 = cum;
            break;
        }
        cum += c;
    }
    let (b1, b2) = (b1?, b2?);
    // A bin one key wide holds that key; others are read in pass 2 (bins
    // strictly between b1 and b2 are empty).
    let exact = |b: usize| shift == 0 && (1..=nb).contains(&b);
    let at = |b: usize| kmin + (b - 1) as u64;
    if exact(b1) && exact(b2) {
        return Some((at(b1), next.then(|| at(b2))));
    }
    let (first, last, skipped) =
        if exact(b1) { (b2, b2, before2) } else { (b1, if exact(b2) { b1 } else { b2 }, before1) };
    let start = |b: usize| match b {
        0 => 0,
        b => (u128::from(kmin) + ((b as u128 - 1) << shift)).min(u128::from(u64::MAX)) as u64,
    };
    let end = |b: usize| match b {
        0 => kmin.wrapping_sub(1),
        b if b > nb => u64::MAX,
        b => (u128::from(kmin) + ((b as u128) << shift) - 1).min(u128::from(u64::MAX)) as u64,
    };
    let lo = start(first);
    let width = end(last).wrapping_sub(lo);
    let collect = |(i, s): (usize, &Source<'_>)| {
        let cap = per.get(i).map(|h| h[first..=last].iter().map(|&c| c as usize).sum::<usize>());
        if cap == Some(0) {
            return Vec::new();
        }
        let mut c = Collect { out: Vec::with_capacity(cap.unwrap_or(0)), lo, width };
        scan(s, float, &mut c);
        c.out
    };
    let parts: Vec<Vec<u64>> = sources.par_iter().enumerate().map(collect).collect();
    let mut keys: Vec<u64> = Vec::with_capacity(parts.iter().map(Vec::len).sum());
    parts.iter().for_each(|p| keys.extend_from_slice(p));
    if exact(b1) {
        // Rank r + 1 is the first key of bin b2.
        let j = want - skipped;
        if j >= keys.len() {
            return None;
        }
        let hi = *keys.select_nth_unstable(j).1;
        return Some((at(b1), Some(hi)));
    }
    let j = r - skipped;
    if j >= keys.len() {
        return None;
    }
    let (_, lo, rest) = keys.select_nth_unstable(j);
    let lo = *lo;
    let hi = match next {
        false => None,
        true if exact(b2) => Some(at(b2)),
        true => Some(rest.iter().copied().min().unwrap_or(lo)),
    };
    Some((lo, hi))
}

#[cfg(test)]
mod tests {
    use arrow_array::Float64Array;
    use arrow_buffer::NullBuffer;
    use roaring::RoaringBitmap;
    use tally_ingest::{Ints, NumArray};

    use super::*;
    use crate::exec::partial::Values;

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
    }

    fn lazy(rng: &mut Rng, col: NumArray, len: u32, lo: Number, hi: Number) -> LazyRows {
        let nulls = col.as_array().nulls().cloned();
        let rows: RoaringBitmap = (0..len)
            .filter(|&r| nulls.as_ref().is_none_or(|n| n.is_valid(r as usize)))
            .filter(|_| !rng.next().is_multiple_of(3))
            .collect();
        LazyRows { col, rows, lo, hi }
    }

    #[test]
    fn radix_selection_equals_selection_in_place() {
        let mut rng = Rng(7);
        let len = 20_000u32;
        let ps = [0.01, 1.0, 25.0, 33.3, 50.0, 90.0, 95.0, 99.99, 100.0];
        for case in 0..6 {
            let mut v = Values::default();
            for _ in 0..3 {
                let ints: Vec<i64> = (0..len)
                    .map(|_| match case {
                        0 => (rng.next() % 1000) as i64 - 500,
                        1 => 42,
                        2 => rng.next() as i64,
                        _ => (rng.next() % 3_000_000) as i64,
                    })
                    .collect();
                let nulls = NullBuffer::from_iter((0..len).map(|_| !rng.next().is_multiple_of(5)));
                // Case 3: bounds far too tight; selection must stay exact.
                let (lo, hi) = match case {
                    3 => (Number::Int(1_000_000), Number::Int(1_000_010)),
                    _ => (Number::Int(i64::MIN), Number::Int(i64::MAX)),
                };
                v.lazy.push(lazy(
                    &mut rng,
                    NumArray::Int(Ints::new(ints, Some(nulls))),
                    len,
                    lo,
                    hi,
                ));
            }
            if case >= 4 {
                // Floats (with both zeros) mixed with integers.
                let pool = [-0.0, 0.0, 0.5, -3.25, 1e9, 7.0];
                let fl: Vec<Option<f64>> = (0..len)
                    .map(|_| {
                        (!rng.next().is_multiple_of(4))
                            .then(|| pool[(rng.next() % pool.len() as u64) as usize])
                    })
                    .collect();
                let (lo, hi) = (Number::Float(-3.25), Number::Float(1e9));
                v.lazy.push(lazy(&mut rng, NumArray::Float(Float64Array::from(fl)), len, lo, hi));
                if case == 5 {
                    v.floats.extend([0.25, -0.0, 2.5]);
                }
            }
            v.ints.extend([-7, 0, 3_000_001]);
            for p in ps {
                let radix = v.clone().percentile_with(p, 0);
                let in_place = v.clone().percentile_with(p, usize::MAX);
                assert_eq!(radix, in_place, "case {case} p {p}");
                assert!(radix.is_some());
            }
        }
    }

    /// Which rows of a column a [`LazyRows`] selects.
    #[derive(Clone, Copy)]
    enum Pick {
        /// Every valid row (a range when there are no nulls).
        All,
        /// About two in three (dense containers: words, most rows taken).
        Most,
        /// About one in six (dense containers, words of a few rows).
        Some,
        /// About one in fifty (sparse containers: row lists).
        Few,
    }

    fn pick(rng: &mut Rng, col: NumArray, how: Pick, lo: Number, hi: Number) -> LazyRows {
        let len = col.as_array().len() as u32;
        let nulls = col.as_array().nulls().cloned();
        let rows: RoaringBitmap = (0..len)
            .filter(|&r| nulls.as_ref().is_none_or(|n| n.is_valid(r as usize)))
            .filter(|_| match how {
                Pick::All => true,
                Pick::Most => !rng.next().is_multiple_of(3),
                Pick::Some => rng.next().is_multiple_of(6),
                Pick::Few => rng.next().is_multiple_of(50),
            })
            .collect();
        LazyRows { col, rows, lo, hi }
    }

    fn int_col(rng: &mut Rng, len: u32, nulls: bool, value: impl Fn(&mut Rng) -> i64) -> NumArray {
        let vals: Vec<i64> = (0..len).map(|_| value(rng)).collect();
        let nulls =
            nulls.then(|| NullBuffer::from_iter((0..len).map(|_| !rng.next().is_multiple_of(4))));
        NumArray::Int(Ints::new(vals, nulls))
    }

    /// Radix selection (forced) equals selection in place at many ranks.
    fn check(v: &Values, what: &str) {
        let mut ps: Vec<f64> = (1..=200).map(|i| f64::from(i) * 0.5).collect();
        ps.extend([0.25, 39.75, 40.25, 60.25, 99.75]);
        ps.extend([0.01, 33.33, 99.99, 99.5]);
        for p in ps {
            let radix = v.clone().percentile_with(p, 0);
            let in_place = v.clone().percentile_with(p, usize::MAX);
            match (radix, in_place) {
                (Some(Number::Float(a)), Some(Number::Float(b))) => {
                    assert_eq!(a.to_bits(), b.to_bits(), "{what} p {p}")
                }
                (a, b) => assert_eq!(a, b, "{what} p {p}"),
            }
        }
    }

    #[test]
    fn one_pass_and_two_pass_selections_equal_selection_in_place() {
        let mut rng = Rng(11);
        // Over 6 · 4096 rows: one in six still makes a dense container.
        let len = 30_000u32;
        let full = (Number::Int(i64::MIN), Number::Int(i64::MAX));
        // (name, value, bounds): small spans take one pass (a bin per
        // key), wide ones two; bounds too tight put keys in the edge bins.
        type Gen = (&'static str, fn(&mut Rng) -> i64, Option<(i64, i64)>);
        let gens: [Gen; 12] = [
            ("u8 skewed", |r| [0, 0, 0, 1, 2, 9, 200][(r.next() % 7) as usize], Some((0, 200))),
            ("u8 constant", |_| -5, Some((-5, -5))),
            ("u16 span", |r| (r.next() % 60_000) as i64 - 30_000, Some((-30_000, 29_999))),
            ("u16 tight", |r| (r.next() % 1_000) as i64, Some((400, 600))),
            ("u16 loose", |r| (r.next() % 1_000) as i64 + 7, None),
            // Many keys at the bounds and just past them.
            (
                "u16 edges",
                |r| [0, 399, 399, 400, 500, 600, 601, 601, 999][(r.next() % 9) as usize],
                Some((400, 600)),
            ),
            // Many keys at the first and last key of two-pass bins (64 wide).
            (
                "u32 bin edges",
                |r| [0, 63, 64, 2047, 2048, 4095, 100_000][(r.next() % 7) as usize],
                Some((0, 100_000)),
            ),
            ("u32 skewed", |r| ((r.next() % 1_800_000) as i64).pow(3) / 3_240_000_000_000, None),
            ("u32 wide", |r| (r.next() % 3_000_000_000) as i64, Some((0, 2_999_999_999))),
            ("u32 tight", |r| (r.next() % 3_000_000) as i64, Some((1_000_000, 1_000_010))),
            ("i64", |r| r.next() as i64, None),
            ("beyond 2^53", |r| (1 << 53) + (r.next() % 5) as i64, Some((1 << 53, (1 << 53) + 4))),
        ];
        let picks = [Pick::All, Pick::Most, Pick::Some, Pick::Few];
        for (name, value, bounds) in gens {
            let (lo, hi) = bounds.map_or(full, |(a, b)| (Number::Int(a), Number::Int(b)));
            for nulls in [false, true] {
                let mut v = Values::default();
                for how in picks {
                    let col = int_col(&mut rng, len, nulls, value);
                    v.lazy.push(pick(&mut rng, col, how, lo, hi));
                }
                check(&v, &format!("{name} nulls {nulls}"));
                // Explicit integers beside them (two below, one past all).
                v.ints.extend([i64::MIN, -7, i64::MAX]);
                check(&v, &format!("{name} nulls {nulls} with ints"));
                // Floats beside them: every key a float key.
                v.floats.extend([-0.0, 0.0, 0.5, 1e300]);
                check(&v, &format!("{name} nulls {nulls} with floats"));
                let fl: Vec<Option<f64>> = (0..len)
                    .map(|_| (!rng.next().is_multiple_of(4)).then(|| value(&mut rng) as f64 + 0.5))
                    .collect();
                let col = NumArray::Float(Float64Array::from(fl));
                v.lazy.push(pick(
                    &mut rng,
                    col,
                    Pick::Most,
                    Number::Float(-1e300),
                    Number::Float(1e300),
                ));
                check(&v, &format!("{name} nulls {nulls} with a float column"));
            }
        }
        // Floats alone, few distinct (ties, both zeros), bounds exact or not.
        let pool = [-0.0, 0.0, 0.5, -3.25, 7.0, f64::INFINITY, f64::NEG_INFINITY];
        for (lo, hi) in [(f64::NEG_INFINITY, f64::INFINITY), (-1.0, 1.0)] {
            let mut v = Values::default();
            for how in picks {
                let fl: Vec<Option<f64>> = (0..len)
                    .map(|_| {
                        (!rng.next().is_multiple_of(5))
                            .then(|| pool[(rng.next() % pool.len() as u64) as usize])
                    })
                    .collect();
                let col = NumArray::Float(Float64Array::from(fl));
                v.lazy.push(pick(&mut rng, col, how, Number::Float(lo), Number::Float(hi)));
            }
            check(&v, &format!("floats bounds {lo} {hi}"));
        }
        // No value at all, and empty selections beside values.
        let mut v = Values::default();
        v.lazy.push(LazyRows {
            col: int_col(&mut rng, 10, false, |_| 1),
            rows: RoaringBitmap::new(),
            lo: Number::Int(1),
            hi: Number::Int(1),
        });
        assert_eq!(v.clone().percentile_with(50.0, 0), None);
        v.ints.push(3);
        check(&v, "one explicit value beside an empty selection");
    }

    #[test]
    fn keys_order_like_values() {
        let ints = [i64::MIN, -1, 0, 1, i64::MAX];
        assert!(ints.windows(2).all(|w| int_key(w[0]) < int_key(w[1])));
        assert!(ints.iter().all(|&i| key_int(int_key(i)) == i));
        let fs = [f64::NEG_INFINITY, -1e300, -0.5, -0.0, 0.0, 1e-300, 2.0, f64::INFINITY];
        assert!(fs.windows(2).all(|w| float_key(w[0]) < float_key(w[1])));
        assert!(fs.iter().all(|&f| key_float(float_key(f)).to_bits() == f.to_bits()));
    }
}
