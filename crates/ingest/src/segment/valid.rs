//! [`ValidRows`]: the rows of an array that hold a value, found once.

use arrow_buffer::NullBuffer;

/// The valid rows of an array: every row when it has no nulls, else the
/// set bits of its validity, read a word at a time (a per-row bit test in
/// each pass of the index build and the statistics was a third of them).
pub(crate) enum ValidRows {
    All(u32),
    Listed(Vec<u32>),
}

impl ValidRows {
    /// The valid rows of an array of `len` rows with validity `nulls`.
    pub(crate) fn of(len: usize, nulls: Option<&NullBuffer>) -> ValidRows {
        match nulls.filter(|n| n.null_count() > 0) {
            None => ValidRows::All(len as u32),
            Some(n) => ValidRows::Listed(n.inner().set_indices_u32().collect()),
        }
    }

    /// The rows, ascending (cheap to clone: each pass walks a copy).
    pub(crate) fn iter(&self) -> ValidIter<'_> {
        match self {
            ValidRows::All(n) => ValidIter { all: 0..*n, listed: [].iter() },
            ValidRows::Listed(rows) => ValidIter { all: 0..0, listed: rows.iter() },
        }
    }

    /// The entries of `vals` (one per row) at the valid rows, in order.
    pub(crate) fn gather<T: Copy>(&self, vals: &[T]) -> Vec<T> {
        match self {
            ValidRows::All(_) => vals.to_vec(),
            ValidRows::Listed(rows) => rows.iter().map(|&r| vals[r as usize]).collect(),
        }
    }
}

/// An iterator over [`ValidRows`].
#[derive(Clone)]
pub(crate) struct ValidIter<'a> {
    all: std::ops::Range<u32>,
    listed: std::slice::Iter<'a, u32>,
}

impl Iterator for ValidIter<'_> {
    type Item = u32;

    #[inline]
    fn next(&mut self) -> Option<u32> {
        self.all.next().or_else(|| self.listed.next().copied())
    }
}
