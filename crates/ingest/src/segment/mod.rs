//! Immutable, sorted, indexed segments.
//!
//! A [`Segment`] holds a contiguous run of a collection's rows sorted by
//! `keen.timestamp` (stable: ties keep arrival order), so a timeframe is the
//! row range [`Segment::time_range`] finds by binary search. Every column
//! present in the segment is a [`SegmentColumn`]: an Arrow array as long as
//! the segment (null where the row has no value of that type), a presence
//! bitmap, [`ColumnStats`] and, for string, bool and list columns, a
//! [`ValueIndex`].
//!
//! Numbers: a column is [`NumArray::Int`] when every value in the segment is
//! an integer, else [`NumArray::Float`] — or [`NumArray::Mixed`] when some
//! integer cannot be held exactly by an f64 (beyond 2^53): every value as
//! f64 plus the exact value of those integers, so integers stay exact
//! (keen-semantics §0) whatever else the segment holds.
//!
//! Deletes never change a segment: [`Segment::with_deleted`] makes a new
//! version sharing the data with another deletion bitmap.

mod builder;
mod event_ids;
mod index;
mod ints;
mod stats;
mod strids;
mod valid;

use std::ops::Range;
use std::sync::Arc;

use arrow_array::{Array, BooleanArray, FixedSizeListArray, Float64Array, Int64Array, ListArray};
use roaring::RoaringBitmap;

pub use builder::build_segment;
pub(crate) use builder::{geo_item_field, list_item_field};
pub use event_ids::EventIds;
pub use index::{ValueIndex, INDEX_BITMAP_MIN_ROWS};
pub use ints::Ints;
pub use stats::{ColumnStats, StatValue};
pub use strids::StrIds;

use crate::dict::Dicts;
use crate::error::{IngestError, Result};
use crate::value::{ColumnId, ColumnKey, EventId, RowId, SegmentId, ValueType};

/// Numbers of one column in one segment.
#[derive(Debug, Clone, PartialEq)]
pub enum NumArray {
    /// Every value in the segment is an integer (stored as narrow offsets
    /// from the segment's minimum, see [`Ints`]).
    Int(Ints),
    /// At least one value is not an integer, and every integer is exactly
    /// representable as f64.
    Float(Float64Array),
    /// At least one value is not an integer and some integer is not
    /// exactly representable as f64.
    Mixed(MixedNums),
}

/// Values of a [`NumArray::Mixed`] column: all of them as f64 (what the
/// Parquet file holds), and the exact value of every integer an f64 cannot
/// hold, sorted by row.
#[derive(Debug, Clone, PartialEq)]
pub struct MixedNums {
    values: Float64Array,
    exact: Vec<(RowId, i64)>,
}

impl MixedNums {
    /// Builds from the f64 values and the exact integers (sorted by row,
    /// rows within `values`).
    pub fn new(values: Float64Array, mut exact: Vec<(RowId, i64)>) -> MixedNums {
        exact.sort_unstable_by_key(|e| e.0);
        exact.dedup_by_key(|e| e.0);
        MixedNums { values, exact }
    }

    /// Every value as f64 (integers in [`MixedNums::exact`] rounded).
    pub fn values(&self) -> &Float64Array {
        &self.values
    }

    /// (row, value) of every integer an f64 cannot hold, ascending rows.
    pub fn exact(&self) -> &[(RowId, i64)] {
        &self.exact
    }

    /// The exact value at `row` (the caller checks validity).
    pub fn value(&self, row: usize) -> crate::head::Num {
        match self.exact.binary_search_by_key(&(row as RowId), |e| e.0) {
            Ok(i) => crate::head::Num::Int(self.exact[i].1),
            Err(_) => crate::head::Num::Float(self.values.value(row)),
        }
    }
}

impl NumArray {
    /// The array as a dyn Arrow array.
    pub fn as_array(&self) -> &dyn Array {
        match self {
            NumArray::Int(a) => a.as_array(),
            NumArray::Float(a) => a,
            NumArray::Mixed(m) => &m.values,
        }
    }

    /// The exact number at `row`, if present.
    pub fn num(&self, row: usize) -> Option<crate::head::Num> {
        use crate::head::Num;
        match self {
            NumArray::Int(a) => a.is_valid(row).then(|| Num::Int(a.value(row))),
            NumArray::Float(a) => a.is_valid(row).then(|| Num::Float(a.value(row))),
            NumArray::Mixed(m) => m.values.is_valid(row).then(|| m.value(row)),
        }
    }

    /// Row `row` as f64, if present.
    pub fn f64(&self, row: usize) -> Option<f64> {
        match self {
            NumArray::Int(a) => a.is_valid(row).then(|| a.value(row) as f64),
            NumArray::Float(a) => a.is_valid(row).then(|| a.value(row)),
            NumArray::Mixed(m) => m.values.is_valid(row).then(|| m.values.value(row)),
        }
    }
}

/// The values of one column in one segment; every array has the segment's
/// length and is null where the row has no value of this type.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnData {
    /// Dictionary ids of the column's collection dictionary, narrowed to
    /// the smallest width that holds the segment's largest id.
    Str(StrIds),
    /// Numbers.
    Num(NumArray),
    /// Booleans.
    Bool(BooleanArray),
    /// Datetimes, UTC milliseconds.
    Datetime(Int64Array),
    /// Lists of element dictionary ids (the list column's dictionary, whose
    /// values are canonical JSON texts).
    List(ListArray),
    /// `[longitude, latitude]` as a fixed-size list of two f64.
    Geo(FixedSizeListArray),
    /// `null` values: the presence bitmap says where.
    Null,
}

impl ColumnData {
    /// The value type stored.
    pub fn value_type(&self) -> ValueType {
        match self {
            ColumnData::Str(_) => ValueType::String,
            ColumnData::Num(_) => ValueType::Num,
            ColumnData::Bool(_) => ValueType::Bool,
            ColumnData::Datetime(_) => ValueType::Datetime,
            ColumnData::List(_) => ValueType::List,
            ColumnData::Geo(_) => ValueType::Geo,
            ColumnData::Null => ValueType::Null,
        }
    }

    /// The Arrow array (`None` for `Null`).
    pub fn array(&self) -> Option<&dyn Array> {
        Some(match self {
            ColumnData::Str(a) => a.as_array(),
            ColumnData::Num(a) => a.as_array(),
            ColumnData::Bool(a) => a,
            ColumnData::Datetime(a) => a,
            ColumnData::List(a) => a,
            ColumnData::Geo(a) => a,
            ColumnData::Null => return None,
        })
    }
}

/// One column of a segment.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentColumn {
    /// The column's id in the collection schema.
    pub id: ColumnId,
    /// The column's key.
    pub key: ColumnKey,
    /// The values.
    pub data: ColumnData,
    /// Rows with a value of this type (equals the array's validity).
    pub presence: RoaringBitmap,
    /// Statistics.
    pub stats: ColumnStats,
    /// Rows per value, for string, bool and list columns.
    pub index: Option<ValueIndex>,
}

#[derive(Debug, PartialEq)]
struct Core {
    id: SegmentId,
    timestamps: Int64Array,
    created_at: Ints,
    ids: EventIds,
    columns: Vec<SegmentColumn>,
}

/// An immutable segment (see the module docs). Cloning is cheap.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    core: Arc<Core>,
    deleted: Arc<RoaringBitmap>,
}

impl Segment {
    pub(crate) fn from_parts(
        id: SegmentId,
        timestamps: Int64Array,
        created_at: Int64Array,
        ids: Vec<EventId>,
        columns: Vec<SegmentColumn>,
        deleted: RoaringBitmap,
    ) -> Segment {
        Segment {
            core: Arc::new(Core {
                id,
                timestamps,
                created_at: Ints::new(created_at.values().to_vec(), None),
                ids: EventIds::new(&ids),
                columns,
            }),
            deleted: Arc::new(deleted),
        }
    }

    /// The segment's id.
    pub fn id(&self) -> SegmentId {
        self.core.id
    }

    /// Number of rows (deleted rows included).
    pub fn len(&self) -> usize {
        self.core.ids.len()
    }

    /// True when the segment has no row.
    pub fn is_empty(&self) -> bool {
        self.core.ids.is_empty()
    }

    /// `keen.timestamp` per row, UTC ms, non-decreasing.
    pub fn timestamps(&self) -> &[i64] {
        self.core.timestamps.values()
    }

    /// `keen.timestamp` as an Arrow array.
    pub fn timestamps_array(&self) -> &Int64Array {
        &self.core.timestamps
    }

    /// `keen.created_at` per row, UTC ms (stored as narrow offsets: a
    /// segment's events were mostly accepted within seconds of each other).
    pub fn created_at(&self) -> &Ints {
        &self.core.created_at
    }

    /// `keen.created_at` as a plain Arrow array (materialised).
    pub fn created_at_array(&self) -> Int64Array {
        self.core.created_at.to_i64_array()
    }

    /// `keen.id` per row.
    pub fn ids(&self) -> &EventIds {
        &self.core.ids
    }

    /// Smallest `keen.timestamp` (`None` when empty).
    pub fn min_ts(&self) -> Option<i64> {
        self.timestamps().first().copied()
    }

    /// Largest `keen.timestamp` (`None` when empty).
    pub fn max_ts(&self) -> Option<i64> {
        self.timestamps().last().copied()
    }

    /// The rows with `start_ms <= keen.timestamp < end_ms`.
    pub fn time_range(&self, start_ms: i64, end_ms: i64) -> Range<RowId> {
        let ts = self.timestamps();
        let lo = ts.partition_point(|&t| t < start_ms);
        let hi = ts.partition_point(|&t| t < end_ms).max(lo);
        lo as RowId..hi as RowId
    }

    /// The column `id`, if the segment has a value of it.
    pub fn column(&self, id: ColumnId) -> Option<&SegmentColumn> {
        let cols = &self.core.columns;
        cols.binary_search_by_key(&id, |c| c.id).ok().map(|i| &cols[i])
    }

    /// All present columns, in id order.
    pub fn columns(&self) -> impl Iterator<Item = &SegmentColumn> + '_ {
        self.core.columns.iter()
    }

    /// Live rows (not deleted) whose indexed `column` holds value id `value`
    /// (dict id; bool 0/1; list element id): a cardinality lookup, minus
    /// the deleted rows holding it. 0 when the column is absent or has no
    /// index.
    pub fn count_eq(&self, column: ColumnId, value: u32) -> u64 {
        let Some(idx) = self.column(column).and_then(|c| c.index.as_ref()) else {
            return 0;
        };
        let all = idx.cardinality(value);
        if self.deleted.is_empty() || all == 0 {
            all
        } else {
            all - idx.bitmap(value).intersection_len(&self.deleted)
        }
    }

    /// The deletion vector: rows deleted from this version.
    pub fn deleted(&self) -> &RoaringBitmap {
        &self.deleted
    }

    /// A new version of this segment with deletion vector `deleted`; the
    /// data is shared.
    pub fn with_deleted(&self, deleted: RoaringBitmap) -> Segment {
        Segment { core: self.core.clone(), deleted: Arc::new(deleted) }
    }

    /// A copy of this segment under id `id` without the columns `drop`
    /// (a deleted property); rows, ids and the deletion vector are kept.
    pub fn without_columns(&self, drop: &[ColumnId], id: SegmentId) -> Segment {
        let c = &self.core;
        Segment {
            core: Arc::new(Core {
                id,
                timestamps: c.timestamps.clone(),
                created_at: c.created_at.clone(),
                ids: c.ids.clone(),
                columns: c.columns.iter().filter(|col| !drop.contains(&col.id)).cloned().collect(),
            }),
            deleted: self.deleted.clone(),
        }
    }

    /// Approximate heap bytes (Arrow memory sizes, roaring serialized sizes).
    pub fn memory_bytes(&self) -> usize {
        let c = &self.core;
        let mut n = c.timestamps.get_array_memory_size()
            + c.created_at.as_array().get_array_memory_size()
            + c.ids.memory_bytes()
            + self.deleted.serialized_size();
        for col in &c.columns {
            n += std::mem::size_of::<SegmentColumn>()
                + col.data.array().map_or(0, |a| a.get_array_memory_size())
                + col.presence.serialized_size()
                + col.index.as_ref().map_or(0, |i| i.memory_bytes());
        }
        n
    }

    /// Checks every invariant: [`Segment::validate_structure`], plus
    /// presence equals validity row by row, the index equals a scan of the
    /// array, and the stats match the data. String min/max are checked
    /// against `dicts` when the column's dictionary is there.
    pub fn validate_with(&self, dicts: Option<&Dicts>) -> Result<()> {
        self.validate_structure(dicts)?;
        let bug = |m: String| Err(IngestError::Internal(format!("segment {}: {m}", self.id())));
        let n = self.len();
        let c = &self.core;
        for col in &c.columns {
            let name = &col.key;
            if let Some(a) = col.data.array() {
                let valid = RoaringBitmap::from_sorted_iter(
                    (0..n as u32).filter(|&r| a.is_valid(r as usize)),
                )
                .expect("ascending rows");
                if valid != col.presence {
                    return bug(format!("column {name} presence differs from validity"));
                }
            }
            let expect_index = builder::index_of(&col.data);
            if expect_index != col.index {
                return bug(format!("column {name} index differs from a scan of its values"));
            }
            let dict = dicts.and_then(|d| d.get(col.id));
            let reader = dict.map(|d| d.reader());
            let mut stats = stats::compute(
                &col.data,
                n,
                col.presence.len(),
                col.index.as_ref(),
                reader.as_ref(),
            );
            if matches!(col.data, ColumnData::Str(_)) && reader.is_none() {
                stats.min.clone_from(&col.stats.min);
                stats.max.clone_from(&col.stats.max);
            }
            if stats != col.stats {
                return bug(format!(
                    "column {name} stats {:?} differ from the data {:?}",
                    col.stats, stats
                ));
            }
        }
        Ok(())
    }

    /// The cheap part of [`Segment::validate_with`], run when a segment is
    /// loaded from files whose checksums matched: lengths, sorted
    /// timestamps, column order and types, presence and index rows within
    /// the segment, presence equal in size to the array's valid rows, ids
    /// and list elements within their dictionary. It does not rebuild
    /// indexes or statistics (derived data the checksums already cover), so
    /// a segment that passes can be queried without panics even if its
    /// files were forged with matching checksums.
    pub fn validate_structure(&self, dicts: Option<&Dicts>) -> Result<()> {
        let bug = |m: String| Err(IngestError::Internal(format!("segment {}: {m}", self.id())));
        let n = self.len();
        let c = &self.core;
        if c.timestamps.len() != n || c.created_at.len() != n {
            return bug("keen.* arrays differ in length".into());
        }
        if c.timestamps.null_count() != 0
            || c.created_at.nulls().is_some_and(|n| n.null_count() != 0)
        {
            return bug("keen.* arrays hold nulls".into());
        }
        if self.timestamps().windows(2).any(|w| w[0] > w[1]) {
            return bug("timestamps are not sorted".into());
        }
        if self.deleted.max().is_some_and(|m| m as usize >= n) {
            return bug("deletion vector past the last row".into());
        }
        if c.columns.windows(2).any(|w| w[0].id >= w[1].id) {
            return bug("columns not sorted by id".into());
        }
        for col in &c.columns {
            let name = &col.key;
            if col.data.value_type() != col.key.ty {
                return bug(format!("column {name} holds {} data", col.data.value_type()));
            }
            if col.presence.is_empty() || col.presence.max().is_some_and(|m| m as usize >= n) {
                return bug(format!("column {name} presence is empty or past the last row"));
            }
            if let Some(a) = col.data.array() {
                if a.len() != n || (n - a.null_count()) as u64 != col.presence.len() {
                    return bug(format!(
                        "column {name} length or validity differs from its presence"
                    ));
                }
            }
            if col.stats.present != col.presence.len() {
                return bug(format!("column {name} stats count differs from its presence"));
            }
            if col.index.as_ref().and_then(|i| i.max_row()).is_some_and(|m| m as usize >= n) {
                return bug(format!("column {name} index row past the last row"));
            }
            let dict = dicts.and_then(|d| d.get(col.id));
            if let (Some(d), Some(idx)) = (dict, &col.index) {
                if idx.values().last().is_some_and(|&v| v as usize >= d.len()) {
                    return bug(format!("column {name} holds an id past its dictionary"));
                }
            }
            if let (Some(d), ColumnData::List(a)) = (dict, &col.data) {
                let elems = a.values().as_any().downcast_ref::<arrow_array::UInt32Array>();
                if elems.is_none_or(|e| e.values().iter().any(|&v| v as usize >= d.len())) {
                    return bug(format!("column {name} holds a list element past its dictionary"));
                }
            }
        }
        Ok(())
    }

    /// [`Segment::validate_with`] without dictionaries.
    pub fn validate(&self) -> Result<()> {
        self.validate_with(None)
    }
}

/// Maps `f` over `items` on scoped threads (one per core), keeping order.
///
/// Not rayon: sealing runs under the collection lock, and a rayon worker
/// waiting in a parallel call may steal another job (say, a concurrent
/// ingest's append) that blocks on the lock its own thread holds.
pub(crate) fn par_map<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(items.len());
    if threads <= 1 {
        return items.into_iter().map(f).collect();
    }
    let n = items.len();
    let slots: Vec<std::sync::Mutex<Option<T>>> =
        items.into_iter().map(|t| std::sync::Mutex::new(Some(t))).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(slot) = slots.get(i) else { break };
            let item = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(item) = item {
                done.push((i, f(item)));
            }
        }
        done
    };
    let mut out: Vec<Option<R>> = (0..n).map(|_| None).collect();
    std::thread::scope(|s| {
        let helpers: Vec<_> = (1..threads).map(|_| s.spawn(work)).collect();
        let mine = work();
        for (i, r) in mine {
            out[i] = Some(r);
        }
        for h in helpers {
            let done = h.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
            for (i, r) in done {
                out[i] = Some(r);
            }
        }
    });
    out.into_iter().map(|r| r.expect("every item was mapped")).collect()
}

#[cfg(test)]
mod tests;
