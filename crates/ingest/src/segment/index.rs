//! [`ValueIndex`]: for each value id of a column, the set of rows holding it.

use roaring::RoaringBitmap;

use crate::value::RowId;

/// Values with at least this many rows keep a [`RoaringBitmap`]; rarer
/// values keep a sorted posting slice of row ids (4 bytes a row).
pub const INDEX_BITMAP_MIN_ROWS: usize = 64;

/// A bitmap index: value id → rows (see the segment module docs).
///
/// Value ids are dictionary ids for string columns, `0` = false / `1` = true
/// for bool columns, and element dictionary ids for list columns (a row
/// counts once per distinct element).
///
/// Memory: a rare value costs 8 bytes plus 4 per row; a frequent value its
/// roaring bitmap. Lookups are a binary search over the distinct values,
/// never a scan of rows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ValueIndex {
    /// Sorted distinct value ids.
    values: Vec<u32>,
    /// `ends[i]`: end of value `i`'s posting slice in `postings` (start is
    /// `ends[i - 1]`); an empty slice means the value has a bitmap.
    ends: Vec<u32>,
    postings: Vec<RowId>,
    /// Values with a bitmap, sorted by value: (value, cardinality, rows).
    bitmaps: Vec<(u32, u64, RoaringBitmap)>,
}

impl ValueIndex {
    /// Builds an index from `(value << 32) | row` pairs in any order;
    /// duplicate pairs count once. Reorders `pairs`.
    pub fn from_pairs(pairs: &mut [u64]) -> ValueIndex {
        pairs.sort_unstable();
        let mut idx = ValueIndex::default();
        let mut i = 0;
        while i < pairs.len() {
            let value = (pairs[i] >> 32) as u32;
            let mut j = i;
            while j < pairs.len() && (pairs[j] >> 32) as u32 == value {
                j += 1;
            }
            let rows = pairs[i..j].iter().map(|p| *p as u32);
            let mut rows_vec: Vec<u32> = rows.collect();
            rows_vec.dedup();
            idx.push(value, &rows_vec);
            i = j;
        }
        idx.shrink();
        idx
    }

    /// Builds an index from `(row, value)` pairs with rows non-decreasing
    /// and every value at most `max_value` (duplicate pairs count once):
    /// the same index as [`ValueIndex::from_pairs`], by a counting sort.
    /// `pairs` is walked twice.
    pub(crate) fn from_row_values<I>(pairs: I, max_value: u32) -> ValueIndex
    where
        I: Iterator<Item = (RowId, u32)> + Clone,
    {
        let mut starts = vec![0u32; max_value as usize + 2];
        let mut total = 0usize;
        for (_, v) in pairs.clone() {
            starts[v as usize + 1] += 1;
            total += 1;
        }
        for i in 1..starts.len() {
            starts[i] += starts[i - 1];
        }
        let mut next = starts.clone();
        let mut rows = vec![0 as RowId; total];
        for (r, v) in pairs {
            let slot = &mut next[v as usize];
            rows[*slot as usize] = r;
            *slot += 1;
        }
        let mut idx = ValueIndex::default();
        for v in 0..=max_value {
            let bucket = &mut rows[starts[v as usize] as usize..starts[v as usize + 1] as usize];
            if bucket.is_empty() {
                continue;
            }
            // Rows arrive in order; a value repeated within a row is adjacent.
            let mut w = 1;
            for i in 1..bucket.len() {
                if bucket[i] != bucket[w - 1] {
                    bucket[w] = bucket[i];
                    w += 1;
                }
            }
            idx.push(v, &bucket[..w]);
        }
        idx.shrink();
        idx
    }

    fn shrink(&mut self) {
        let idx = self;
        idx.values.shrink_to_fit();
        idx.ends.shrink_to_fit();
        idx.postings.shrink_to_fit();
        idx.bitmaps.shrink_to_fit();
    }

    /// Adds `value` (greater than every value so far) with its sorted,
    /// distinct, non-empty rows.
    fn push(&mut self, value: u32, rows: &[RowId]) {
        self.values.push(value);
        if rows.len() >= INDEX_BITMAP_MIN_ROWS {
            let bm = RoaringBitmap::from_sorted_iter(rows.iter().copied())
                .expect("rows are sorted and distinct");
            self.bitmaps.push((value, rows.len() as u64, bm));
        } else {
            self.postings.extend_from_slice(rows);
        }
        self.ends
            .push(u32::try_from(self.postings.len()).expect("postings hold fewer than 2^32 rows"));
    }

    /// Assembles an index from decoded parts (`postings_per_value[i]` empty
    /// means value `i` has one of `bitmaps`). Returns `None` when the parts
    /// are inconsistent.
    pub(crate) fn from_parts(
        values: Vec<u32>,
        ends: Vec<u32>,
        postings: Vec<RowId>,
        bitmaps: Vec<(u32, RoaringBitmap)>,
    ) -> Option<ValueIndex> {
        if values.len() != ends.len() || values.windows(2).any(|w| w[0] >= w[1]) {
            return None;
        }
        let mut start = 0u32;
        let mut big = 0usize;
        for (&v, &end) in values.iter().zip(&ends) {
            if end < start || end as usize > postings.len() {
                return None;
            }
            let slice = &postings[start as usize..end as usize];
            if slice.is_empty() {
                let (bv, bm) = bitmaps.get(big)?;
                if *bv != v || (bm.len() as usize) < INDEX_BITMAP_MIN_ROWS {
                    return None;
                }
                big += 1;
            } else if slice.len() >= INDEX_BITMAP_MIN_ROWS || slice.windows(2).any(|w| w[0] >= w[1])
            {
                return None;
            }
            start = end;
        }
        if big != bitmaps.len() || start as usize != postings.len() {
            return None;
        }
        let bitmaps = bitmaps.into_iter().map(|(v, b)| (v, b.len(), b)).collect();
        Some(ValueIndex { values, ends, postings, bitmaps })
    }

    /// The parts, for encoding: values, ends, postings, bitmaps.
    pub(crate) fn parts(
        &self,
    ) -> (&[u32], &[u32], &[RowId], impl Iterator<Item = (u32, &RoaringBitmap)> + '_) {
        (&self.values, &self.ends, &self.postings, self.bitmaps.iter().map(|(v, _, b)| (*v, b)))
    }

    /// The largest row any value holds (`None` for an empty index).
    pub fn max_row(&self) -> Option<RowId> {
        let p = self.postings.iter().copied().max();
        let b = self.bitmaps.iter().filter_map(|b| b.2.max()).max();
        p.max(b)
    }

    /// Sorted distinct value ids present in the segment.
    pub fn values(&self) -> &[u32] {
        &self.values
    }

    fn posting(&self, pos: usize) -> &[RowId] {
        let start = if pos == 0 { 0 } else { self.ends[pos - 1] as usize };
        &self.postings[start..self.ends[pos] as usize]
    }

    fn big(&self, value: u32) -> Option<&(u32, u64, RoaringBitmap)> {
        self.bitmaps.binary_search_by_key(&value, |b| b.0).ok().map(|i| &self.bitmaps[i])
    }

    /// Every value with its number of rows, ascending by value: one walk
    /// over the postings' ends and the big bitmaps, no search per value.
    pub fn counts(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        let mut big = self.bitmaps.iter();
        let mut start = 0u32;
        self.values.iter().zip(&self.ends).map(move |(&v, &end)| {
            let n = if end == start {
                // An empty posting slice: the value has one of the big
                // bitmaps, in value order (checked by `from_parts`).
                big.next().map_or(0, |b| b.1)
            } else {
                u64::from(end - start)
            };
            start = end;
            (v, n)
        })
    }

    /// Number of rows holding `value` (0 if absent); no row scan.
    pub fn cardinality(&self, value: u32) -> u64 {
        match self.values.binary_search(&value) {
            Err(_) => 0,
            Ok(pos) => match self.posting(pos) {
                [] => self.big(value).map_or(0, |b| b.1),
                p => p.len() as u64,
            },
        }
    }

    /// The rows holding `value` (empty if absent): a clone of the stored
    /// bitmap, or built from the posting slice.
    pub fn bitmap(&self, value: u32) -> RoaringBitmap {
        match self.values.binary_search(&value) {
            Err(_) => RoaringBitmap::new(),
            Ok(pos) => match self.posting(pos) {
                [] => self.big(value).map(|b| b.2.clone()).unwrap_or_default(),
                p => {
                    RoaringBitmap::from_sorted_iter(p.iter().copied()).expect("postings are sorted")
                }
            },
        }
    }

    /// Calls `f` with every row holding `value`, ascending.
    pub fn for_each_row(&self, value: u32, mut f: impl FnMut(RowId)) {
        if let Ok(pos) = self.values.binary_search(&value) {
            match self.posting(pos) {
                [] => {
                    if let Some(b) = self.big(value) {
                        b.2.iter().for_each(f)
                    }
                }
                p => p.iter().copied().for_each(&mut f),
            }
        }
    }

    /// Adds the rows of `value` to `out` (an `in` filter's union).
    pub fn union_into(&self, value: u32, out: &mut RoaringBitmap) {
        if let Ok(pos) = self.values.binary_search(&value) {
            match self.posting(pos) {
                [] => {
                    if let Some(b) = self.big(value) {
                        *out |= &b.2;
                    }
                }
                p => out.extend(p.iter().copied()),
            }
        }
    }

    /// Approximate heap bytes (roaring's serialized size as a proxy).
    pub fn memory_bytes(&self) -> usize {
        self.values.capacity() * 4
            + self.ends.capacity() * 4
            + self.postings.capacity() * 4
            + self.bitmaps.iter().map(|b| 16 + b.2.serialized_size()).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rare_and_frequent_values() {
        let mut pairs: Vec<u64> = Vec::new();
        for row in 0..1000u64 {
            let v = if row % 10 == 0 { 7 } else { 100 + row };
            pairs.push((v << 32) | row);
        }
        pairs.push(7 << 32); // duplicate counts once
        let idx = ValueIndex::from_pairs(&mut pairs);
        assert_eq!(idx.cardinality(7), 100);
        assert_eq!(idx.cardinality(101), 1);
        assert_eq!(idx.cardinality(110), 0);
        assert_eq!(idx.bitmap(7).len(), 100);
        assert_eq!(idx.bitmap(105).iter().collect::<Vec<_>>(), vec![5]);
        assert_eq!(idx.values().len(), 901);
        let counts: Vec<(u32, u64)> = idx.counts().collect();
        let by_search: Vec<(u32, u64)> =
            idx.values().iter().map(|&v| (v, idx.cardinality(v))).collect();
        assert_eq!(counts, by_search);
        assert_eq!(counts[0], (7, 100));
        let (v, e, p, b) = idx.parts();
        let back = ValueIndex::from_parts(
            v.to_vec(),
            e.to_vec(),
            p.to_vec(),
            b.map(|(v, b)| (v, b.clone())).collect(),
        )
        .unwrap();
        assert_eq!(back, idx);
    }
}

#[cfg(test)]
mod counting_tests {
    use super::*;

    /// The counting sort builds the same index as sorting the pairs,
    /// duplicates within a row included.
    #[test]
    fn from_row_values_equals_from_pairs() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut rand = move |m: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % m
        };
        for (rows, values) in [(0u32, 1u64), (1, 1), (500, 3), (5000, 40), (5000, 4000)] {
            let mut rv: Vec<(u32, u32)> = Vec::new();
            for r in 0..rows {
                for _ in 0..rand(4) {
                    rv.push((r, rand(values) as u32));
                }
            }
            let max = rv.iter().map(|p| p.1).max().unwrap_or(0);
            let mut pairs: Vec<u64> =
                rv.iter().map(|&(r, v)| (u64::from(v) << 32) | u64::from(r)).collect();
            let expect = ValueIndex::from_pairs(&mut pairs);
            assert_eq!(ValueIndex::from_row_values(rv.iter().copied(), max), expect);
        }
    }
}

#[cfg(test)]
mod memory_tests {
    use super::*;

    /// A 100k-distinct id over 1M rows (the 1M-over-10M shape, scaled down)
    /// stays within a few bytes per row.
    #[test]
    fn high_cardinality_index_is_lean() {
        let rows = 1_000_000u64;
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut pairs: Vec<u64> = (0..rows)
            .map(|r| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                ((state % 100_000) << 32) | r
            })
            .collect();
        let idx = ValueIndex::from_pairs(&mut pairs);
        let per_row = idx.memory_bytes() as f64 / rows as f64;
        assert!(per_row < 6.0, "{per_row} bytes per row");
        let total: u64 = idx.values().iter().map(|&v| idx.cardinality(v)).sum();
        assert_eq!(total, rows);
    }
}
