//! A row bitmap walked container by container: contiguous row ranges, runs
//! of 64-row words (dense containers), or lists of rows (sparse ones), so
//! the folds over them can work a word or a slice at a time instead of
//! row by row through the bitmap iterator.
//!
//! `roaring` does not expose its containers; their standard serialized
//! form (the portable Roaring format) does, without copying more than the
//! bitmap's own size. Anything unexpected in that form falls back to the
//! bitmap's run iterator, so every row is always visited exactly once, in
//! ascending order.

use arrow_buffer::NullBuffer;
use roaring::RoaringBitmap;

/// A part of a row bitmap, rows ascending.
pub(crate) enum Piece<'a> {
    /// Every row of `start..end`.
    Range(u32, u32),
    /// Bit `i` of word `w` is row `start + 64·w + i` (`start` is a
    /// multiple of 64).
    Words(u32, &'a [u64]),
    /// These rows.
    Rows(&'a [u32]),
}

const NO_RUN: u32 = 12346;
const RUN: u16 = 12347;
/// Containers with at most this many rows are arrays.
const ARRAY_LIMIT: u64 = 4096;

/// Calls `f` with the pieces of `rows`, in ascending row order.
pub(crate) fn for_each_piece(rows: &RoaringBitmap, mut f: impl FnMut(Piece<'_>)) {
    let (Some(lo), Some(hi)) = (rows.min(), rows.max()) else { return };
    if u64::from(hi - lo) + 1 == rows.len() {
        f(Piece::Range(lo, hi + 1));
        return;
    }
    let mut bytes = Vec::with_capacity(rows.serialized_size());
    if rows.serialize_into(&mut bytes).is_err() || !walk(&bytes, rows.len(), &mut f) {
        let mut it = rows.iter();
        while let Some(r) = it.next_range() {
            f(Piece::Range(*r.start(), *r.end() + 1));
        }
    }
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Walks the serialized bitmap; false (before calling `f`) when the bytes
/// are not the expected form of a bitmap of `total` rows.
fn walk(b: &[u8], total: u64, f: &mut impl FnMut(Piece<'_>)) -> bool {
    let Some(plan) = containers(b, total) else { return false };
    let mut words = vec![0u64; 1024];
    let mut list: Vec<u32> = Vec::with_capacity(ARRAY_LIMIT as usize);
    for c in plan {
        let high = u32::from(c.key) << 16;
        let data = &b[c.at..c.at + c.len];
        match c.kind {
            Kind::Bitset => {
                for (w, ch) in words.iter_mut().zip(data.chunks_exact(8)) {
                    *w = u64::from_le_bytes([
                        ch[0], ch[1], ch[2], ch[3], ch[4], ch[5], ch[6], ch[7],
                    ]);
                }
                f(Piece::Words(high, &words));
            }
            Kind::Array => {
                list.clear();
                list.extend(
                    data.chunks_exact(2)
                        .map(|ch| high | u32::from(u16::from_le_bytes([ch[0], ch[1]]))),
                );
                f(Piece::Rows(&list));
            }
            Kind::Runs => {
                for ch in data[2..].chunks_exact(4) {
                    let start = u32::from(u16::from_le_bytes([ch[0], ch[1]]));
                    let len = u32::from(u16::from_le_bytes([ch[2], ch[3]]));
                    f(Piece::Range(high | start, (high | start) + len + 1));
                }
            }
        }
    }
    true
}

#[derive(Clone, Copy)]
enum Kind {
    Bitset,
    Array,
    Runs,
}

struct Cont {
    key: u16,
    kind: Kind,
    at: usize,
    len: usize,
}

/// The containers of a serialized bitmap, checked against its length and
/// cardinality.
fn containers(b: &[u8], total: u64) -> Option<Vec<Cont>> {
    let cookie = u32_at(b, 0)?;
    let (size, runs_at, mut at) = if cookie == NO_RUN {
        (u32_at(b, 4)? as usize, None, 8)
    } else if cookie as u16 == RUN {
        let size = (cookie >> 16) as usize + 1;
        (size, Some(4), 4 + size.div_ceil(8))
    } else {
        return None;
    };
    let is_run =
        |i: usize| runs_at.is_some_and(|r| b.get(r + i / 8).is_some_and(|x| x >> (i % 8) & 1 == 1));
    let desc = at;
    at += 4 * size;
    if runs_at.is_none() || size >= 4 {
        at += 4 * size; // offsets
    }
    let mut out = Vec::with_capacity(size);
    let mut seen = 0u64;
    for i in 0..size {
        let key = u16_at(b, desc + 4 * i)?;
        let card = u64::from(u16_at(b, desc + 4 * i + 2)?) + 1;
        let (kind, len) = if is_run(i) {
            (Kind::Runs, 2 + 4 * usize::from(u16_at(b, at)?))
        } else if card <= ARRAY_LIMIT {
            (Kind::Array, 2 * card as usize)
        } else {
            (Kind::Bitset, 8192)
        };
        if b.len() < at + len {
            return None;
        }
        out.push(Cont { key, kind, at, len });
        at += len;
        seen += card;
    }
    (at == b.len() && seen == total).then_some(out)
}

/// The validity of each row as 64-row words (bit `i` of word `w`: row
/// `64·w + i`); `None` when every row is valid.
pub(crate) fn valid_words(nulls: Option<&NullBuffer>) -> Option<Vec<u64>> {
    let n = nulls?;
    let chunks = n.inner().bit_chunks();
    let mut out: Vec<u64> = chunks.iter().collect();
    if chunks.remainder_len() > 0 {
        out.push(chunks.remainder_bits());
    }
    Some(out)
}

/// Word `w` of `valid` (all ones without a null buffer; zero past its end).
#[inline]
pub(crate) fn valid_word(valid: Option<&[u64]>, w: usize) -> u64 {
    match valid {
        None => u64::MAX,
        Some(v) => v.get(w).copied().unwrap_or(0),
    }
}

/// True when row `r` is valid.
#[inline]
pub(crate) fn is_valid(valid: Option<&[u64]>, r: usize) -> bool {
    valid_word(valid, r / 64) >> (r % 64) & 1 == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows_of(rb: &RoaringBitmap) -> Vec<u32> {
        let mut out = Vec::new();
        for_each_piece(rb, |p| match p {
            Piece::Range(a, b) => out.extend(a..b),
            Piece::Words(start, ws) => {
                for (w, &x) in ws.iter().enumerate() {
                    for i in 0..64 {
                        if x >> i & 1 == 1 {
                            out.push(start + 64 * w as u32 + i);
                        }
                    }
                }
            }
            Piece::Rows(rs) => out.extend_from_slice(rs),
        });
        out
    }

    #[test]
    fn pieces_visit_every_row_once_in_order() {
        let mut rb = RoaringBitmap::new();
        // A dense container, a sparse one, a run container, a lone row.
        rb.extend((0..65_536u32).filter(|r| r % 3 == 0));
        rb.extend((65_536..131_072u32).filter(|r| r % 1000 == 7));
        rb.insert_range(200_000..260_000);
        rb.insert(1_000_000);
        let want: Vec<u32> = rb.iter().collect();
        assert_eq!(rows_of(&rb), want);
        rb.optimize();
        assert_eq!(rows_of(&rb), want, "after run compression");
        let few: RoaringBitmap = [3u32, 9, 70_000].into_iter().collect();
        assert_eq!(rows_of(&few), vec![3, 9, 70_000]);
        let range: RoaringBitmap = (10..20u32).collect();
        assert_eq!(rows_of(&range), (10..20).collect::<Vec<_>>());
        assert!(rows_of(&RoaringBitmap::new()).is_empty());
    }

    #[test]
    fn validity_words_follow_the_null_buffer() {
        let n = NullBuffer::from_iter((0..130).map(|i| i % 2 == 0 || i == 129));
        let v = valid_words(Some(&n)).unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!(v[0], 0x5555_5555_5555_5555);
        assert!(is_valid(Some(&v), 129) && !is_valid(Some(&v), 127) && is_valid(Some(&v), 128));
        assert!(!is_valid(Some(&v), 500));
        assert!(is_valid(None, 500));
    }
}
