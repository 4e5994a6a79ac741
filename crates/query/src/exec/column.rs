//! A property path resolved to its typed columns (a path may hold several
//! types, `price::num` and `price::string`), and per segment, views of the
//! columns present there — including the `keen.*` columns every segment
//! keeps outside its column list (`keen.timestamp`, `keen.created_at`,
//! `keen.id`).

use arrow_array::{Array, BooleanArray, FixedSizeListArray, Int64Array, ListArray, UInt32Array};
use tally_ingest::{
    ColumnData, ColumnId, EventIds, Ints, NumArray, Segment, SegmentColumn, Snapshot, StrIds,
    ValueType, CREATED_AT_COLUMN, ID_COLUMN, TIMESTAMP_COLUMN,
};

/// Where a typed column's values live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Src {
    /// A segment column.
    Col(ColumnId),
    /// `keen.timestamp`.
    Timestamp,
    /// `keen.created_at`.
    CreatedAt,
    /// `keen.id`.
    Id,
}

/// A property path and its typed columns in the snapshot's schema.
#[derive(Debug, Clone)]
pub(crate) struct PropCols {
    /// The typed columns.
    pub cols: Vec<(ValueType, Src)>,
}

impl PropCols {
    /// Resolves `path` against the snapshot's schema.
    pub fn resolve(snap: &Snapshot, path: &str) -> PropCols {
        let schema = snap.schema();
        let mut cols = Vec::new();
        for ty in schema.types_of(path) {
            let Some(id) = schema.id(path, ty) else { continue };
            let src = match id {
                TIMESTAMP_COLUMN => Src::Timestamp,
                CREATED_AT_COLUMN => Src::CreatedAt,
                ID_COLUMN => Src::Id,
                _ => Src::Col(id),
            };
            cols.push((ty, src));
        }
        PropCols { cols }
    }

    /// The column id of type `ty`, if the path has a segment column of it.
    pub fn col_id(&self, ty: ValueType) -> Option<ColumnId> {
        self.cols.iter().find_map(|&(t, s)| match s {
            Src::Col(id) if t == ty => Some(id),
            _ => None,
        })
    }

    /// The typed columns present in `seg`.
    pub fn views<'a>(&self, seg: &'a Segment) -> Vec<View<'a>> {
        self.cols.iter().filter_map(|&(_, src)| View::of(seg, src)).collect()
    }
}

/// Datetime values: a column, or a `keen.*` array.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Dt<'a> {
    /// A datetime column (nullable).
    Arr(&'a Int64Array),
    /// `keen.timestamp` (every row).
    Slice(&'a [i64]),
    /// `keen.created_at` (every row).
    Ints(&'a Ints),
}

impl Dt<'_> {
    /// True when `row` has a value.
    #[inline]
    pub fn valid(&self, row: usize) -> bool {
        match self {
            Dt::Arr(a) => a.is_valid(row),
            Dt::Slice(_) | Dt::Ints(_) => true,
        }
    }

    /// The value at `row` (meaningless when not valid).
    #[inline]
    pub fn value(&self, row: usize) -> i64 {
        match self {
            Dt::Arr(a) => a.value(row),
            Dt::Slice(s) => s[row],
            Dt::Ints(i) => i.value(row),
        }
    }
}

/// One typed column of a property in one segment.
#[derive(Debug, Clone, Copy)]
pub(crate) enum View<'a> {
    /// Strings (dictionary ids).
    Str(&'a SegmentColumn, &'a StrIds),
    /// Numbers.
    Num(&'a SegmentColumn, &'a NumArray),
    /// Booleans.
    Bool(&'a SegmentColumn, &'a BooleanArray),
    /// Datetimes (`None` column for the `keen.*` ones).
    Dt(Option<&'a SegmentColumn>, Dt<'a>),
    /// Lists of element ids.
    List(&'a SegmentColumn, &'a ListArray, &'a [u32]),
    /// Geo pairs.
    Geo(&'a SegmentColumn, &'a FixedSizeListArray, &'a [f64]),
    /// Explicit nulls.
    Null(&'a SegmentColumn),
    /// `keen.id` (every row).
    Id(&'a EventIds),
}

impl<'a> View<'a> {
    fn of(seg: &'a Segment, src: Src) -> Option<View<'a>> {
        Some(match src {
            Src::Timestamp => View::Dt(None, Dt::Slice(seg.timestamps())),
            Src::CreatedAt => View::Dt(None, Dt::Ints(seg.created_at())),
            Src::Id => View::Id(seg.ids()),
            Src::Col(id) => {
                let c = seg.column(id)?;
                match &c.data {
                    ColumnData::Str(a) => View::Str(c, a),
                    ColumnData::Num(a) => View::Num(c, a),
                    ColumnData::Bool(a) => View::Bool(c, a),
                    ColumnData::Datetime(a) => View::Dt(Some(c), Dt::Arr(a)),
                    ColumnData::List(a) => {
                        let vals = a.values().as_any().downcast_ref::<UInt32Array>()?;
                        View::List(c, a, vals.values())
                    }
                    ColumnData::Geo(a) => {
                        let vals =
                            a.values().as_any().downcast_ref::<arrow_array::Float64Array>()?;
                        View::Geo(c, a, vals.values())
                    }
                    ColumnData::Null => View::Null(c),
                }
            }
        })
    }

    /// True when the view holds a non-null value at `row`.
    #[inline]
    pub fn valid(&self, row: usize) -> bool {
        match self {
            View::Str(_, a) => a.is_valid(row),
            View::Num(_, a) => a.as_array().is_valid(row),
            View::Bool(_, a) => a.is_valid(row),
            View::Dt(_, d) => d.valid(row),
            View::List(_, a, _) => a.is_valid(row),
            View::Geo(_, a, _) => a.is_valid(row),
            View::Null(_) => false,
            View::Id(_) => true,
        }
    }

    /// The segment column, for the stored ones.
    pub fn column(&self) -> Option<&'a SegmentColumn> {
        match *self {
            View::Str(c, _)
            | View::Num(c, _)
            | View::Bool(c, _)
            | View::List(c, _, _)
            | View::Geo(c, _, _)
            | View::Null(c) => Some(c),
            View::Dt(c, _) => c,
            View::Id(_) => None,
        }
    }
}

/// The element ids of list row `row`.
#[inline]
pub(crate) fn list_elems<'a>(a: &ListArray, vals: &'a [u32], row: usize) -> &'a [u32] {
    let offs = a.value_offsets();
    &vals[offs[row] as usize..offs[row + 1] as usize]
}

/// The number at `row` of a column known to hold one there.
#[inline]
pub(crate) fn num_at(a: &NumArray, row: usize) -> crate::model::Number {
    match a {
        NumArray::Int(i) => crate::model::Number::Int(i.value(row)),
        NumArray::Float(f) => crate::model::Number::Float(f.value(row)),
        NumArray::Mixed(m) => match m.value(row) {
            tally_ingest::Num::Int(i) => crate::model::Number::Int(i),
            tally_ingest::Num::Float(f) => crate::model::Number::Float(f),
        },
    }
}
