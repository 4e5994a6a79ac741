//! Exact selection of the values at given ranks without materialising
//! them: a two-pass radix select over order-preserving 64-bit keys.
//!
//! Keys: an integer is its bits with the sign flipped; a float is its
//! `f64::total_cmp` key with the sign flipped, so unsigned key order is
//! the value order the percentile uses. Pass 1 counts, in parallel per
//! source, the keys per bucket (the high bits of `key − lowest bound`;
//! every key is clamped into the buckets, so any bounds keep the buckets
//! ordered and the answer exact); the merged counts name the bucket(s)
//! holding the wanted ranks. Pass 2 collects only those buckets' keys and
//! selects within them.

use rayon::prelude::*;

use super::numeric::{for_each_f64, for_each_i64, total_key};
use super::partial::LazyRows;
use crate::model::Number;

/// Buckets of pass 1 (at most).
const BUCKET_BITS: u32 = 11;
const NB: usize = 1 << BUCKET_BITS;
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

#[inline]
fn each_key(s: &Source<'_>, float: bool, mut f: impl FnMut(u64)) {
    match *s {
        Source::Ints(v) if float => v.iter().for_each(|&x| f(float_key(x as f64))),
        Source::Ints(v) => v.iter().for_each(|&x| f(int_key(x))),
        Source::Floats(v) => v.iter().for_each(|&x| f(float_key(x))),
        Source::Lazy(l) if float => for_each_f64(&l.col, &l.rows, |x| f(float_key(x))),
        Source::Lazy(l) => for_each_i64(&l.col, &l.rows, |x| f(int_key(x))),
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
    match s {
        Source::Lazy(l) if l.rows.is_empty() => None,
        Source::Lazy(l) => Some((num_key(l.lo, float), num_key(l.hi, float))),
        _ => {
            let (mut lo, mut hi) = (u64::MAX, 0u64);
            each_key(s, float, |k| {
                lo = lo.min(k);
                hi = hi.max(k);
            });
            (lo <= hi).then_some((lo, hi))
        }
    }
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
    let shift = (64 - span.leading_zeros()).saturating_sub(BUCKET_BITS);
    let nb = (span >> shift) as usize + 1;
    let bucket = move |k: u64| ((k.saturating_sub(kmin) >> shift) as usize).min(nb - 1);
    let hist = sources
        .par_iter()
        .map(|s| {
            // Small u32 counts stay in L1 (a source has < 2^32 values).
            let mut h = [0u32; NB];
            each_key(s, float, |k| h[bucket(k) & (NB - 1)] += 1);
            h[..nb].iter().map(|&c| u64::from(c)).collect::<Vec<u64>>()
        })
        .reduce(
            || vec![0u64; nb],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                a
            },
        );
    let want = r + usize::from(next);
    let (mut b1, mut b2, mut before, mut cum) = (None, None, 0usize, 0usize);
    for (b, &c) in hist.iter().enumerate() {
        let c = c as usize;
        if b1.is_none() && cum + c > r {
            b1 = Some(b);
            before = cum;
        }
        if cum + c > want {
            b2 = Some(b);
            break;
        }
        cum += c;
    }
    let (b1, b2) = (b1?, b2?);
    let mut keys: Vec<u64> = sources
        .par_iter()
        .map(|s| {
            let mut out = Vec::new();
            each_key(s, float, |k| {
                let b = bucket(k);
                if b >= b1 && b <= b2 {
                    out.push(k);
                }
            });
            out
        })
        .flatten()
        .collect();
    let j = r - before;
    if j >= keys.len() {
        return None;
    }
    let (_, lo, rest) = keys.select_nth_unstable(j);
    let lo = *lo;
    Some((lo, next.then(|| rest.iter().copied().min().unwrap_or(lo))))
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
