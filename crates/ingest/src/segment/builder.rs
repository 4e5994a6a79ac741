//! Head rows → [`Segment`]: stable sort by timestamp, columns, indexes, stats.

use std::ops::Range;
use std::sync::Arc;

use arrow_array::{
    Array, BooleanArray, FixedSizeListArray, Float64Array, Int64Array, ListArray, UInt32Array,
};
use arrow_buffer::{BooleanBuffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field, FieldRef};
use roaring::RoaringBitmap;

use super::{stats, ColumnData, NumArray, Segment, SegmentColumn, ValueIndex};
use crate::dict::Dicts;
use crate::head::{Head, HeadValues, Num};
use crate::schema::Schema;
use crate::value::SegmentId;

const NONE: u32 = u32::MAX;

/// Segments with fewer rows build their columns on the calling thread.
const PARALLEL_MIN_ROWS: usize = 16_384;

/// The item field of list columns: non-null `UInt32` element ids.
pub(crate) fn list_item_field() -> FieldRef {
    Arc::new(Field::new("item", DataType::UInt32, false))
}

/// The item field of geo columns: non-null `Float64`.
pub(crate) fn geo_item_field() -> FieldRef {
    Arc::new(Field::new("item", DataType::Float64, false))
}

/// Builds a segment from head rows `rows` (a contiguous range), sorted by
/// `keen.timestamp` with ties in arrival order.
///
/// Used to seal a whole head and to freeze a head tail into an in-memory
/// segment for read snapshots. Columns not in `schema` (never happens for a
/// head built against it) are skipped.
///
/// # Panics
///
/// If `rows` is not within `0..head.len()`.
pub fn build_segment(
    head: &Head,
    rows: Range<usize>,
    schema: &Schema,
    dicts: &Dicts,
    id: SegmentId,
) -> Segment {
    assert!(
        rows.start <= rows.end && rows.end <= head.len(),
        "row range {rows:?} outside the head"
    );
    let n = rows.len();
    let ts = &head.timestamps[rows.clone()];
    // order[k] = head row (relative to rows.start) that goes to segment row k.
    let order: Option<Vec<u32>> = if ts.windows(2).all(|w| w[0] <= w[1]) {
        None
    } else {
        // (timestamp, arrival) keys are distinct, so an unstable sort of them
        // is the stable sort by timestamp.
        let mut keys: Vec<u128> = ts
            .iter()
            .enumerate()
            .map(|(i, &t)| (u128::from((t as u64) ^ (1 << 63)) << 32) | i as u128)
            .collect();
        keys.sort_unstable();
        Some(keys.into_iter().map(|k| k as u32).collect())
    };
    let inv: Option<Vec<u32>> = order.as_ref().map(|o| {
        let mut inv = vec![0u32; n];
        for (k, &i) in o.iter().enumerate() {
            inv[i as usize] = k as u32;
        }
        inv
    });
    let permute = |i: usize| order.as_ref().map_or(i, |o| o[i] as usize);
    let timestamps = Int64Array::from_iter_values((0..n).map(|k| ts[permute(k)]));
    let created = &head.created_at[rows.clone()];
    let created_at = Int64Array::from_iter_values((0..n).map(|k| created[permute(k)]));
    let hids = &head.ids[rows.clone()];
    let ids = (0..n).map(|k| hids[permute(k)]).collect();

    let head_columns: Vec<_> = head
        .columns()
        .filter_map(|(cid, hc)| {
            let entries = hc.entries_in(&rows);
            let key = schema.key(cid)?;
            (!entries.is_empty()).then_some((cid, key, hc, entries))
        })
        .collect();
    let build =
        |(cid, key, hc, entries)| build_column(cid, key, hc, entries, &rows, inv.as_deref(), dicts);
    let columns: Vec<SegmentColumn> = if n >= PARALLEL_MIN_ROWS {
        super::par_map(head_columns, build)
    } else {
        head_columns.into_iter().map(build).collect()
    };
    Segment::from_parts(id, timestamps, created_at, ids, columns, RoaringBitmap::new())
}

/// One segment column from head column `hc` (its `entries` fall in `rows`).
fn build_column(
    cid: crate::value::ColumnId,
    key: &crate::value::ColumnKey,
    hc: &crate::head::HeadColumn,
    entries: Range<usize>,
    rows: &Range<usize>,
    inv: Option<&[u32]>,
    dicts: &Dicts,
) -> SegmentColumn {
    let n = rows.len();
    {
        // src[k] = entry index of the head column for segment row k, or NONE.
        let mut src = vec![NONE; n];
        for e in entries {
            let rel = hc.rows[e] as usize - rows.start;
            let k = inv.map_or(rel, |inv| inv[rel] as usize);
            src[k] = e as u32;
        }
        // Validity bits packed 64 at a time; the presence bitmap is read
        // from the same bytes.
        let bits = BooleanBuffer::collect_bool(n, |k| src[k] != NONE);
        let present = bits.count_set_bits();
        let presence = RoaringBitmap::from_lsb0_bytes(0, bits.values());
        let nulls = (present < n).then(|| NullBuffer::new(bits));
        let pick = |k: usize| src[k] as usize;
        let data = match &hc.values {
            HeadValues::Str(v) => ColumnData::Str(super::StrIds::new(
                (0..n).map(|k| if src[k] == NONE { 0 } else { v[pick(k)] }).collect(),
                nulls,
            )),
            HeadValues::Num(v) => {
                let all_int = (0..n).all(|k| src[k] == NONE || matches!(v[pick(k)], Num::Int(_)));
                if all_int {
                    let it = (0..n).map(|k| match (src[k], v.get(pick(k))) {
                        (NONE, _) | (_, None) => 0,
                        (_, Some(Num::Int(i))) => *i,
                        (_, Some(Num::Float(f))) => *f as i64,
                    });
                    ColumnData::Num(NumArray::Int(super::Ints::new(it.collect(), nulls)))
                } else {
                    let it = (0..n).map(|k| if src[k] == NONE { 0.0 } else { v[pick(k)].as_f64() });
                    let values = Float64Array::new(ScalarBuffer::from_iter(it), nulls);
                    let exact: Vec<(u32, i64)> = (0..n)
                        .filter(|&k| src[k] != NONE)
                        .filter_map(|k| match v[pick(k)] {
                            Num::Int(i) if (i as f64) as i128 != i128::from(i) => {
                                Some((k as u32, i))
                            }
                            _ => None,
                        })
                        .collect();
                    if exact.is_empty() {
                        ColumnData::Num(NumArray::Float(values))
                    } else {
                        ColumnData::Num(NumArray::Mixed(super::MixedNums::new(values, exact)))
                    }
                }
            }
            HeadValues::Bool(v) => ColumnData::Bool(BooleanArray::new(
                BooleanBuffer::collect_bool(n, |k| src[k] != NONE && v[pick(k)]),
                nulls,
            )),
            HeadValues::Datetime(v) => ColumnData::Datetime(Int64Array::new(
                ScalarBuffer::from_iter(
                    (0..n).map(|k| if src[k] == NONE { 0 } else { v[pick(k)] }),
                ),
                nulls,
            )),
            HeadValues::List { offsets, elems } => {
                let mut offs: Vec<i32> = Vec::with_capacity(n + 1);
                let mut vals: Vec<u32> = Vec::new();
                offs.push(0);
                for &e in &src {
                    if e != NONE {
                        let e = e as usize;
                        vals.extend_from_slice(
                            &elems[offsets[e] as usize..offsets[e + 1] as usize],
                        );
                    }
                    offs.push(
                        i32::try_from(vals.len())
                            .expect("a segment list column holds fewer than 2^31 elements"),
                    );
                }
                ColumnData::List(ListArray::new(
                    list_item_field(),
                    OffsetBuffer::new(ScalarBuffer::from(offs)),
                    Arc::new(UInt32Array::from(vals)),
                    nulls,
                ))
            }
            HeadValues::Geo(v) => {
                let flat =
                    (0..n).flat_map(|k| if src[k] == NONE { [0.0, 0.0] } else { v[pick(k)] });
                let values = Float64Array::new(ScalarBuffer::from_iter(flat), None);
                ColumnData::Geo(FixedSizeListArray::new(
                    geo_item_field(),
                    2,
                    Arc::new(values),
                    nulls,
                ))
            }
            HeadValues::Null => ColumnData::Null,
        };
        debug_assert_eq!(data.value_type(), key.ty);
        finish_column(cid, key.clone(), data, presence, n, dicts)
    }
}

/// Computes index and stats of a column whose data and presence are known.
pub(crate) fn finish_column(
    id: crate::value::ColumnId,
    key: crate::value::ColumnKey,
    data: ColumnData,
    presence: RoaringBitmap,
    len: usize,
    dicts: &Dicts,
) -> SegmentColumn {
    let mut presence = presence;
    presence.optimize();
    let index = index_of(&data);
    let reader = dicts.get(id).map(|d| d.reader());
    let stats = stats::compute(&data, len, presence.len(), index.as_ref(), reader.as_ref());
    drop(reader);
    SegmentColumn { id, key, data, presence, stats, index }
}

/// The value index a column's data implies (string, bool, list columns).
pub(crate) fn index_of(data: &ColumnData) -> Option<ValueIndex> {
    match data {
        ColumnData::Str(a) => {
            let rows = present_rows(a.len(), a.nulls());
            let vals = a.values_u32();
            let vals = &vals[..];
            let max = rows.clone().map(|r| vals[r as usize]).max().unwrap_or(0);
            let pairs = rows.map(|r| (r, vals[r as usize]));
            Some(if (max as usize) <= a.len().saturating_mul(4) + 4096 {
                ValueIndex::from_row_values(pairs, max)
            } else {
                let mut p: Vec<u64> =
                    pairs.map(|(r, v)| (u64::from(v) << 32) | u64::from(r)).collect();
                ValueIndex::from_pairs(&mut p)
            })
        }
        ColumnData::Bool(a) => {
            let vals = a.values();
            let pairs =
                present_rows(a.len(), a.nulls()).map(|r| (r, vals.value(r as usize) as u32));
            Some(ValueIndex::from_row_values(pairs, 1))
        }
        ColumnData::List(a) => {
            let values = a
                .values()
                .as_any()
                .downcast_ref::<UInt32Array>()
                .expect("list elements are u32 ids");
            let values = values.values();
            let offs = a.value_offsets();
            let pairs = present_rows(a.len(), a.nulls()).flat_map(move |row| {
                let r = row as usize;
                values[offs[r] as usize..offs[r + 1] as usize].iter().map(move |&v| (row, v))
            });
            let max = pairs.clone().map(|(_, v)| v).max().unwrap_or(0);
            Some(if (max as usize) <= values.len().saturating_mul(4) + 4096 {
                ValueIndex::from_row_values(pairs, max)
            } else {
                let mut p: Vec<u64> =
                    pairs.map(|(r, v)| (u64::from(v) << 32) | u64::from(r)).collect();
                ValueIndex::from_pairs(&mut p)
            })
        }
        _ => None,
    }
}

/// The valid rows of an array of `len` rows with validity `nulls`, ascending.
fn present_rows(len: usize, nulls: Option<&NullBuffer>) -> impl Iterator<Item = u32> + Clone + '_ {
    (0..len as u32).filter(move |&r| nulls.is_none_or(|n| n.is_valid(r as usize)))
}
