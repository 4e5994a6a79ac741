//! Head rows → [`Segment`]: stable sort by timestamp, columns, indexes, stats.

use std::ops::Range;
use std::sync::Arc;

use arrow_array::{
    Array, BooleanArray, FixedSizeListArray, Float64Array, Int64Array, ListArray, UInt32Array,
};
use arrow_buffer::{BooleanBufferBuilder, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field, FieldRef};
use roaring::RoaringBitmap;

use super::valid::ValidRows;
use super::{stats, ColumnData, NumArray, Segment, SegmentColumn, ValueIndex};
use crate::dict::Dicts;
use crate::head::{Head, HeadValues, Num};
use crate::schema::Schema;
use crate::value::SegmentId;

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
        // Segment row of head entry `e`. The entries' rows are distinct
        // (a path written twice in one event keeps one entry), so every
        // value is written once, straight to its place: no per-column map
        // from segment rows back to entries (n × u32 filled, scattered and
        // read back for every column, present or not).
        let dest = |e: usize| {
            let rel = hc.rows[e] as usize - rows.start;
            inv.map_or(rel, |inv| inv[rel] as usize)
        };
        let present = entries.len();
        let mut valid = BooleanBufferBuilder::new(n);
        valid.append_n(n, false);
        for e in entries.clone() {
            valid.set_bit(dest(e), true);
        }
        // Validity bits; the presence bitmap is read from the same bytes.
        let bits = valid.finish();
        let presence = RoaringBitmap::from_lsb0_bytes(0, bits.values());
        let nulls = (present < n).then(|| NullBuffer::new(bits));
        /// `vals[dest(e)] = f(e)` for every entry, other rows `T::default()`.
        fn scatter<T: Copy + Default>(
            n: usize,
            entries: Range<usize>,
            dest: impl Fn(usize) -> usize,
            f: impl Fn(usize) -> T,
        ) -> Vec<T> {
            let mut vals = vec![T::default(); n];
            for e in entries {
                vals[dest(e)] = f(e);
            }
            vals
        }
        let data = match &hc.values {
            HeadValues::Str(v) => ColumnData::Str(super::StrIds::new(
                scatter(n, entries.clone(), dest, |e| v[e]),
                nulls,
            )),
            HeadValues::Num(v) => {
                let all_int = v[entries.clone()].iter().all(|x| matches!(x, Num::Int(_)));
                if all_int {
                    let ints = scatter(n, entries.clone(), dest, |e| match v[e] {
                        Num::Int(i) => i,
                        Num::Float(f) => f as i64,
                    });
                    ColumnData::Num(NumArray::Int(super::Ints::new(ints, nulls)))
                } else {
                    let floats = scatter(n, entries.clone(), dest, |e| v[e].as_f64());
                    let values = Float64Array::new(ScalarBuffer::from(floats), nulls);
                    let exact: Vec<(u32, i64)> = entries
                        .clone()
                        .filter_map(|e| match v[e] {
                            Num::Int(i) if (i as f64) as i128 != i128::from(i) => {
                                Some((dest(e) as u32, i))
                            }
                            _ => None,
                        })
                        .collect();
                    if exact.is_empty() {
                        ColumnData::Num(NumArray::Float(values))
                    } else {
                        // MixedNums sorts `exact` by row.
                        ColumnData::Num(NumArray::Mixed(super::MixedNums::new(values, exact)))
                    }
                }
            }
            HeadValues::Bool(v) => {
                let mut b = BooleanBufferBuilder::new(n);
                b.append_n(n, false);
                for e in entries.clone() {
                    if v[e] {
                        b.set_bit(dest(e), true);
                    }
                }
                ColumnData::Bool(BooleanArray::new(b.finish(), nulls))
            }
            HeadValues::Datetime(v) => ColumnData::Datetime(Int64Array::new(
                ScalarBuffer::from(scatter(n, entries.clone(), dest, |e| v[e])),
                nulls,
            )),
            HeadValues::List { offsets, elems } => {
                // Lengths by segment row, then their running sum, then each
                // list copied to its offset.
                let lens = scatter(n, entries.clone(), dest, |e| offsets[e + 1] - offsets[e]);
                let mut offs: Vec<i32> = Vec::with_capacity(n + 1);
                let mut total: usize = 0;
                offs.push(0);
                for &l in &lens {
                    total += l as usize;
                    offs.push(
                        i32::try_from(total)
                            .expect("a segment list column holds fewer than 2^31 elements"),
                    );
                }
                let mut vals: Vec<u32> = vec![0; total];
                for e in entries.clone() {
                    let at = offs[dest(e)] as usize;
                    let list = &elems[offsets[e] as usize..offsets[e + 1] as usize];
                    vals[at..at + list.len()].copy_from_slice(list);
                }
                ColumnData::List(ListArray::new(
                    list_item_field(),
                    OffsetBuffer::new(ScalarBuffer::from(offs)),
                    Arc::new(UInt32Array::from(vals)),
                    nulls,
                ))
            }
            HeadValues::Geo(v) => {
                let pairs = scatter(n, entries.clone(), dest, |e| v[e]);
                let flat: Vec<f64> = pairs.into_iter().flatten().collect();
                let values = Float64Array::new(ScalarBuffer::from(flat), None);
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
            let valid = ValidRows::of(a.len(), a.nulls());
            let rows = valid.iter();
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
            let valid = ValidRows::of(a.len(), a.nulls());
            let pairs = valid.iter().map(|r| (r, vals.value(r as usize) as u32));
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
            let valid = ValidRows::of(a.len(), a.nulls());
            let pairs = valid.iter().flat_map(move |row| {
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
