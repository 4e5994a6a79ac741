//! [`ExactSum`]: the exact sum of f64 values, so float aggregates do not
//! depend on how rows are grouped into segments.
//!
//! Floating-point addition is not associative: summing the same values in
//! another grouping (other segment boundaries, which another tenant's
//! events move) changes the last bits of a compensated sum or a Welford
//! variance. That broke the noninterference property (an access key's
//! answer must not depend on other tenants' data) for `standard_deviation`
//! over floats. An exact sum is a function of the multiset of values only;
//! it is rounded to f64 once, at the end, by a fixed procedure.
//!
//! Representation: every finite f64 is `m × 2^(p − 1074)` with an integer
//! `m < 2^53` and a bit position `p ≥ 0`, so a sum of them is an integer
//! multiple of `2^−1074`. That integer is kept in signed 32-bit digits
//! (`i64` cells, for carry headroom) at global indexes `0..CHUNKS`, digit
//! `k` weighing `2^(32k − 1074)`; only the window of indexes touched so far
//! is stored (a few cells for everyday data). An addition adds at most two
//! values below `2^32` to any cell, so `2^29` additions fit before the
//! carries must be propagated ([`ExactSum::normalize`]). Infinities and
//! NaN are tracked apart, with IEEE's rules for the result.

/// Digits of the accumulator: bit positions up to `32 × CHUNKS`, above the
/// largest f64 (position 2098) with room for carries.
const CHUNKS: usize = 68;

/// Additions between carry propagations (each adds below `2^33` to a cell).
const ADDS_BEFORE_CARRY: u32 = 1 << 29;

/// Position of `2^0` (see the module docs).
const UNIT_POSITION: i64 = 1074;

/// An exact sum of f64 values (see the module docs). Equality is equality
/// of the sums (and of their infinity and NaN flags), whatever the digits.
#[derive(Debug, Clone, Default)]
pub struct ExactSum {
    /// Global index of `cells[0]` (a byte: partials of every group hold
    /// one, so it stays small).
    base: u8,
    /// Digits `base..base + cells.len()`.
    cells: Vec<i64>,
    /// Additions since the last carry propagation.
    adds: u32,
    nan: bool,
    pos_inf: bool,
    neg_inf: bool,
}

impl PartialEq for ExactSum {
    fn eq(&self, other: &ExactSum) -> bool {
        let (mut a, mut b) = (self.clone(), other.clone());
        a.normalize();
        b.normalize();
        (a.base, &a.cells, a.nan, a.pos_inf, a.neg_inf)
            == (b.base, &b.cells, b.nan, b.pos_inf, b.neg_inf)
    }
}

impl ExactSum {
    /// Adds `x` exactly.
    #[inline(always)]
    pub fn add(&mut self, x: f64) {
        self.add_scaled(x, 0);
    }

    /// Adds `x × 2^w` exactly (bits below `2^−1074` are dropped, a value
    /// beyond the accumulator's range counts as an infinity).
    #[inline(always)]
    pub fn add_scaled(&mut self, x: f64, w: i64) {
        if !x.is_finite() {
            self.add_special(x);
            return;
        }
        if x == 0.0 {
            return;
        }
        let (m, p, neg) = decompose(x);
        let p = p + w;
        if p >= 0 && p + 85 < 32 * CHUNKS as i64 {
            self.add_mantissa(m, p, neg);
        } else {
            self.add_magnitude(u128::from(m), p, neg);
        }
    }

    /// The common case of [`ExactSum::add_scaled`]: `m < 2^53` at a
    /// position well inside the range, three digits touched directly.
    #[inline(always)]
    fn add_mantissa(&mut self, m: u64, p: i64, neg: bool) {
        if self.adds >= ADDS_BEFORE_CARRY {
            self.normalize();
        }
        self.adds += 1;
        let k = (p >> 5) as usize;
        let t = u128::from(m) << (p & 31);
        let i = self.window(k, k + 2);
        let d = [
            (t as u64 & 0xffff_ffff) as i64,
            ((t >> 32) as u64 & 0xffff_ffff) as i64,
            (t >> 64) as i64,
        ];
        let cells = &mut self.cells[i..i + 3];
        if neg {
            for (c, d) in cells.iter_mut().zip(d) {
                *c -= d;
            }
        } else {
            for (c, d) in cells.iter_mut().zip(d) {
                *c += d;
            }
        }
    }

    /// Grows the window to hold global digits `lo..=hi`; returns the
    /// position of `lo` in `cells`.
    #[inline(always)]
    fn window(&mut self, lo: usize, hi: usize) -> usize {
        let base = usize::from(self.base);
        if !self.cells.is_empty() && lo >= base && hi < base + self.cells.len() {
            return lo - base;
        }
        self.cell(lo);
        self.cell(hi);
        lo - usize::from(self.base)
    }

    /// Adds `x²` exactly, by integer arithmetic on the mantissa (no FMA
    /// call on targets without one): `x = m·2^(p−1074)` gives
    /// `x² = m²·2^(2p−2148)`, `m² < 2^106`.
    #[inline]
    pub fn add_square(&mut self, x: f64) {
        if !x.is_finite() {
            self.add_special(x * x);
            return;
        }
        if x == 0.0 {
            return;
        }
        let (m, p, _) = decompose(x);
        self.add_magnitude(u128::from(m) * u128::from(m), 2 * p - UNIT_POSITION, false);
    }

    /// Adds an integer exactly.
    pub fn add_i128(&mut self, v: i128) {
        if v != 0 {
            self.add_magnitude(v.unsigned_abs(), UNIT_POSITION, v < 0);
        }
    }

    /// Adds `a × b` exactly (both finite and the product far from the
    /// range's ends): the product and its rounding error (by FMA) are both
    /// added.
    pub fn add_product(&mut self, a: f64, b: f64, w: i64) {
        let p = a * b;
        if !p.is_finite() {
            self.add_special(p);
            return;
        }
        let e = a.mul_add(b, -p);
        self.add_scaled(p, w);
        self.add_scaled(e, w);
    }

    fn add_special(&mut self, x: f64) {
        if x.is_nan() {
            self.nan = true;
        } else if x > 0.0 {
            self.pos_inf = true;
        } else {
            self.neg_inf = true;
        }
    }

    /// Adds `m × 2^(p − 1074)`.
    #[inline]
    fn add_magnitude(&mut self, mut m: u128, mut p: i64, neg: bool) {
        if p < 0 {
            // Below the smallest subnormal: those bits are dropped.
            let drop = (-p).min(127) as u32;
            m >>= drop;
            p = 0;
            if m == 0 {
                return;
            }
        }
        let top_bit = p + 128 - i64::from(m.leading_zeros());
        if top_bit >= 32 * CHUNKS as i64 - 32 {
            self.add_special(if neg { f64::NEG_INFINITY } else { f64::INFINITY });
            return;
        }
        if self.adds >= ADDS_BEFORE_CARRY {
            self.normalize();
        }
        self.adds += 1;
        let sign = if neg { -1i64 } else { 1 };
        let k = (p >> 5) as usize;
        let o = (p & 31) as u32;
        let pieces = (128 - m.leading_zeros()).div_ceil(32) as usize;
        let i = self.window(k, k + pieces);
        // 32-bit pieces of m, each shifted into two cells.
        for j in 0..pieces {
            let t = (((m >> (32 * j)) as u64) & 0xffff_ffff) << o;
            self.cells[i + j] += sign * (t & 0xffff_ffff) as i64;
            self.cells[i + j + 1] += sign * (t >> 32) as i64;
        }
    }

    /// The cell of global index `k`, the window grown to hold it.
    fn cell(&mut self, k: usize) -> &mut i64 {
        if self.cells.is_empty() {
            self.base = k as u8;
            self.cells.push(0);
        } else if k < usize::from(self.base) {
            let more = usize::from(self.base) - k;
            self.cells.splice(0..0, std::iter::repeat_n(0, more));
            self.base = k as u8;
        } else if k >= usize::from(self.base) + self.cells.len() {
            self.cells.resize(k - usize::from(self.base) + 1, 0);
        }
        &mut self.cells[k - usize::from(self.base)]
    }

    /// Propagates carries into the canonical form: every cell but the
    /// highest in `0..2^32`, the highest in `−2^31..2^31` (two's complement
    /// digits, no cell of sign extension only, no zero cell at either end),
    /// so equal sums have equal digits.
    pub fn normalize(&mut self) {
        self.adds = 0;
        let mut i = 0;
        while i < self.cells.len() {
            let v = self.cells[i];
            let c = v >> 32;
            if i + 1 < self.cells.len() {
                self.cells[i] -= c << 32;
                self.cells[i + 1] += c;
            } else if !(-(1i64 << 31)..1i64 << 31).contains(&v)
                && usize::from(self.base) + i + 1 < CHUNKS
            {
                self.cells[i] -= c << 32;
                self.cells.push(c);
            }
            i += 1;
        }
        while self.cells.len() >= 2 {
            let len = self.cells.len();
            let (top, below) = (self.cells[len - 1], self.cells[len - 2]);
            if top == 0 && below < 1 << 31 {
                self.cells.pop();
            } else if top == -1 && below >= 1 << 31 {
                self.cells.pop();
                self.cells[len - 2] = below - (1 << 32);
            } else {
                break;
            }
        }
        let zeros = self.cells.iter().take_while(|&&c| c == 0).count();
        if zeros == self.cells.len() {
            self.cells.clear();
            self.base = 0;
        } else if zeros > 0 {
            self.cells.drain(..zeros);
            self.base += zeros as u8;
        }
    }

    /// Adds `other` (exactly).
    pub fn merge(&mut self, other: &ExactSum) {
        self.nan |= other.nan;
        self.pos_inf |= other.pos_inf;
        self.neg_inf |= other.neg_inf;
        if other.cells.is_empty() {
            return;
        }
        if u64::from(self.adds) + u64::from(other.adds) + 1 >= u64::from(ADDS_BEFORE_CARRY) {
            self.normalize();
        }
        for (i, &c) in other.cells.iter().enumerate() {
            *self.cell(usize::from(other.base) + i) += c;
        }
        self.adds += other.adds + 1;
    }

    /// `self × a`, added exactly to `out` (each normalized digit times `a`
    /// by [`ExactSum::add_product`]).
    pub fn add_times_to(&self, a: f64, out: &mut ExactSum) {
        let mut s = self.clone();
        s.normalize();
        if s.nan || (s.pos_inf && s.neg_inf) {
            out.add_special(f64::NAN);
        } else if s.pos_inf || s.neg_inf {
            let inf = if s.pos_inf { f64::INFINITY } else { f64::NEG_INFINITY };
            out.add_special(inf * a);
        }
        for (i, &c) in s.cells.iter().enumerate() {
            if c != 0 {
                let w = 32 * (usize::from(s.base) + i) as i64 - UNIT_POSITION;
                out.add_product(a, c as f64, w);
            }
        }
    }

    /// The sum rounded to f64, a function of the exact value only (round
    /// to nearest, ties to even, for every result above the subnormal
    /// range); infinities and NaN by IEEE's rules.
    pub fn to_f64(&self) -> f64 {
        if self.nan || (self.pos_inf && self.neg_inf) {
            return f64::NAN;
        }
        if self.pos_inf {
            return f64::INFINITY;
        }
        if self.neg_inf {
            return f64::NEG_INFINITY;
        }
        let mut s = self.clone();
        s.normalize();
        if s.cells.is_empty() {
            return 0.0;
        }
        let neg = s.cells.last().is_some_and(|&c| c < 0);
        if neg {
            for c in &mut s.cells {
                *c = -*c;
            }
            s.normalize();
        }
        // Global digits, at least three for the window below.
        let base = usize::from(s.base);
        let digit = |k: usize| -> u128 {
            if k >= base && k < base + s.cells.len() {
                s.cells[k - base] as u128
            } else {
                0
            }
        };
        let h = (base + s.cells.len() - 1).max(2);
        let sticky = (base..h.saturating_sub(2)).any(|k| digit(k) != 0);
        let acc = (digit(h) << 64) | (digit(h - 1) << 32) | digit(h - 2) | u128::from(sticky);
        // `as` rounds to nearest, ties to even; the sticky bit lies below
        // the rounding point whenever there are bits beneath it.
        let f = scale(acc as f64, 32 * (h as i64 - 2) - UNIT_POSITION);
        if neg {
            -f
        } else {
            f
        }
    }
}

/// Per-exponent mantissa sums: a fold adds each value to the `i128` of
/// its exponent (one add, no carries: 2^74 values fit), then hands the
/// few bins it touched to an [`ExactSum`] once. Exact, and about as cheap
/// as a plain float add.
pub struct ExponentBins {
    /// Signed sum of the mantissas with biased exponent `e`.
    bins: Box<[i128; 2048]>,
    /// Exponents whose bin was zero when a value arrived (to flush and
    /// clear only those).
    touched: Vec<u16>,
    /// Non-finite values, added to the sum as they are.
    special: Vec<f64>,
    /// Values added.
    pub n: u64,
}

impl Default for ExponentBins {
    fn default() -> Self {
        ExponentBins { bins: Box::new([0; 2048]), touched: Vec::new(), special: Vec::new(), n: 0 }
    }
}

impl ExponentBins {
    /// Runs `f` with this thread's bins (empty on entry and on return when
    /// `f` flushes them): a fold does not allocate or clear 32 KiB each time.
    pub fn with<R>(f: impl FnOnce(&mut ExponentBins) -> R) -> R {
        thread_local! {
            static BINS: std::cell::RefCell<ExponentBins> = std::cell::RefCell::new(ExponentBins::default());
        }
        BINS.with(|b| match b.try_borrow_mut() {
            Ok(mut bins) => {
                if bins.n != 0 || !bins.touched.is_empty() || !bins.special.is_empty() {
                    // A fold that unwound midway left values behind.
                    bins.clear();
                }
                f(&mut bins)
            }
            // Re-entered (never in the engine): use fresh bins.
            Err(_) => f(&mut ExponentBins::default()),
        })
    }

    /// Empties the bins without adding them anywhere.
    fn clear(&mut self) {
        for e in self.touched.drain(..) {
            self.bins[usize::from(e)] = 0;
        }
        self.special.clear();
        self.n = 0;
    }

    /// Adds `x`.
    #[inline(always)]
    pub fn add(&mut self, x: f64) {
        self.n += 1;
        let bits = x.to_bits();
        let e = ((bits >> 52) & 0x7ff) as usize;
        if e == 0x7ff {
            self.special.push(x);
            return;
        }
        let frac = bits & ((1u64 << 52) - 1);
        let m = if e == 0 { frac } else { frac | (1u64 << 52) } as i128;
        if self.bins[e] == 0 {
            self.touched.push(e as u16);
        }
        if bits >> 63 == 1 {
            self.bins[e] -= m;
        } else {
            self.bins[e] += m;
        }
    }

    /// Adds every bin to `out` (exactly) and empties them (`n` too).
    pub fn flush_into(&mut self, out: &mut ExactSum) {
        for e in self.touched.drain(..) {
            let b = &mut self.bins[usize::from(e)];
            if *b != 0 {
                let p = if e == 0 { 0 } else { i64::from(e) - 1 };
                out.add_magnitude(b.unsigned_abs(), p, *b < 0);
                *b = 0;
            }
        }
        self.n = 0;
        for x in self.special.drain(..) {
            out.add_special(x);
        }
    }
}

/// A finite, nonzero `x` as `(m, p, negative)`: `|x| = m × 2^(p − 1074)`,
/// `m < 2^53`, `p ≥ 0` (see the module docs).
#[inline(always)]
fn decompose(x: f64) -> (u64, i64, bool) {
    let bits = x.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i64;
    let frac = bits & ((1u64 << 52) - 1);
    let (m, p) = if exp == 0 { (frac, 0) } else { (frac | (1u64 << 52), exp - 1) };
    (m, p, bits >> 63 == 1)
}

/// `x × 2^e`, in steps that keep every factor a normal power of two.
fn scale(mut x: f64, mut e: i64) -> f64 {
    while e > 1000 {
        x *= pow2(1000);
        e -= 1000;
    }
    while e < -1000 {
        x *= pow2(-1000);
        e += 1000;
    }
    x * pow2(e)
}

fn pow2(e: i64) -> f64 {
    f64::from_bits(((e + 1023) as u64) << 52)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum_of(xs: &[f64]) -> ExactSum {
        let mut s = ExactSum::default();
        for &x in xs {
            s.add(x);
        }
        s
    }

    #[test]
    fn small_sums_are_exact() {
        assert_eq!(sum_of(&[]).to_f64(), 0.0);
        assert_eq!(sum_of(&[1.5, 2.25, -0.75]).to_f64(), 3.0);
        assert_eq!(sum_of(&[0.1, 0.2]).to_f64(), 0.30000000000000004);
        assert_eq!(sum_of(&[1e100, 1.0, -1e100]).to_f64(), 1.0);
        assert_eq!(sum_of(&[f64::MAX, -f64::MAX, 5e-324]).to_f64(), 5e-324);
        assert_eq!(sum_of(&[-2.5]).to_f64(), -2.5);
        assert_eq!(sum_of(&[f64::MAX, f64::MAX]).to_f64(), f64::INFINITY);
        assert!(sum_of(&[f64::INFINITY, f64::NEG_INFINITY]).to_f64().is_nan());
        let mut s = sum_of(&[0.5]);
        s.add_i128(-3);
        assert_eq!(s.to_f64(), -2.5);
        s.add_i128(i128::from(i64::MAX) * 4);
        assert_eq!(s.to_f64(), (i64::MAX as f64) * 4.0);
    }

    #[test]
    fn rounding_is_to_nearest_even() {
        // 2^53 + 1 is a tie between 2^53 and 2^53 + 2: even wins.
        let big = 9_007_199_254_740_992.0;
        assert_eq!(sum_of(&[big, 1.0]).to_f64(), big);
        assert_eq!(sum_of(&[big, 1.0, 1e-300]).to_f64(), big + 2.0, "sticky bits break the tie");
        assert_eq!(sum_of(&[big, 3.0]).to_f64(), big + 4.0);
    }

    /// The point of it: every order and grouping gives the same bits.
    #[test]
    fn grouping_and_order_do_not_change_the_result() {
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for _ in 0..200 {
            let n = (next() % 200) as usize + 1;
            let xs: Vec<f64> = (0..n)
                .map(|_| {
                    let m = (next() % 2_000_000) as f64 - 1_000_000.0;
                    m * 10f64.powi((next() % 9) as i32 - 4)
                })
                .collect();
            let whole = sum_of(&xs).to_f64();
            let mut rev = xs.clone();
            rev.reverse();
            assert_eq!(sum_of(&rev).to_f64().to_bits(), whole.to_bits());
            let cut = (next() as usize) % n;
            let mut a = sum_of(&xs[..cut]);
            a.merge(&sum_of(&xs[cut..]));
            assert_eq!(a.to_f64().to_bits(), whole.to_bits());
        }
    }

    /// Dyadic values have an exact i128 reference: the sum must be it,
    /// rounded once (negative totals included).
    #[test]
    fn sums_equal_the_exact_value_rounded_once() {
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..500 {
            let mut want: i128 = 0;
            let mut s = ExactSum::default();
            for _ in 0..50 {
                rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let v = ((rng >> 11) as i64 - (1 << 52)) as i128; // about ±2^52
                want += v;
                s.add(v as f64 / 1024.0); // exact: v < 2^53
            }
            assert_eq!(s.to_f64(), want as f64 / 1024.0, "{want}");
        }
    }

    #[test]
    fn products_are_added_exactly() {
        let x = 0.1f64;
        let mut s = ExactSum::default();
        s.add_product(x, x, 0);
        s.add_scaled(-(x * x), 0);
        // What is left is the rounding error of x·x, exactly.
        assert_eq!(s.to_f64(), x.mul_add(x, -(x * x)));
        let mut t = ExactSum::default();
        sum_of(&[1.5, 2.0]).add_times_to(-2.0, &mut t);
        assert_eq!(t.to_f64(), -7.0);
    }

    #[test]
    fn squares_are_exact() {
        for x in [0.1f64, -3.75, 1e-200, 5e-324, 1.0e150, 123456.789, -2.0f64.powi(-1000)] {
            let mut s = ExactSum::default();
            s.add_square(x);
            let mut t = ExactSum::default();
            t.add_product(x, x, 0);
            assert_eq!(s.to_f64(), (x * x), "{x}");
            if x.abs() > 1e-150 {
                assert_eq!(s, t, "{x}: by integers and by FMA");
            }
        }
    }

    #[test]
    fn exponent_bins_sum_exactly() {
        let xs = [0.1, -0.2, 1e300, -1e300, 3.5, 5e-324, -7.25e-10, 2.0f64.powi(60)];
        let mut bins = ExponentBins::default();
        for &x in &xs {
            bins.add(x);
        }
        let mut a = ExactSum::default();
        assert_eq!(bins.n, xs.len() as u64);
        bins.flush_into(&mut a);
        assert_eq!(bins.n, 0);
        assert_eq!(a, sum_of(&xs));
        let mut b = ExponentBins::default();
        b.add(f64::INFINITY);
        b.flush_into(&mut a);
        assert_eq!(a.to_f64(), f64::INFINITY);
    }

    #[test]
    fn many_additions_carry_without_overflow() {
        let mut s = ExactSum { adds: ADDS_BEFORE_CARRY - 3, ..Default::default() };
        for _ in 0..10 {
            s.add(4_294_967_295.0);
        }
        assert_eq!(s.to_f64(), 42_949_672_950.0);
    }
}
