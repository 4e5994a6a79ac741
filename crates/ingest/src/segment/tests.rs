use proptest::prelude::*;

use super::*;
use crate::head::Head;
use crate::schema::Schema;
use crate::testutil::gen;
use arrow_array::UInt32Array;

fn sample(n: usize, seed: u64) -> (Head, Schema, Dicts) {
    let (mut h, mut s, mut d) = (Head::new(), Schema::new(), Dicts::new());
    gen::fill(&mut h, &gen::batch(n, seed), &mut s, &mut d, 0);
    (h, s, d)
}

#[test]
fn build_sorts_stably_and_validates() {
    let (h, s, d) = sample(2000, 1);
    let seg = build_segment(&h, 0..h.len(), &s, &d, 7);
    seg.validate_with(Some(&d)).unwrap();
    assert_eq!(seg.len(), 2000);
    assert_eq!(seg.id(), 7);
    // stable: ties keep arrival order (ids encode arrival order)
    for w in 0..seg.len() - 1 {
        let (a, b) = (seg.timestamps()[w], seg.timestamps()[w + 1]);
        assert!(a <= b);
        if a == b {
            assert!(seg.ids().get(w) < seg.ids().get(w + 1));
        }
    }
    // each row keeps its own created_at (created_at = base + arrival index)
    for (k, id) in seg.ids().iter().enumerate() {
        let arrival = u64::from_be_bytes(id.0[..8].try_into().unwrap()) as usize;
        assert_eq!(seg.created_at().value(k), h.created_at[arrival]);
        assert_eq!(seg.timestamps()[k], h.timestamps[arrival]);
    }
    // type conflict keeps both columns
    let vn = seg.column(s.id("v", ValueType::Num).unwrap()).unwrap();
    let vs = seg.column(s.id("v", ValueType::String).unwrap()).unwrap();
    assert_eq!(vn.stats.present + vs.stats.present, 2000);
    assert!((&vn.presence & &vs.presence).is_empty());
}

#[test]
fn time_range_is_half_open() {
    let (h, s, d) = sample(500, 2);
    let seg = build_segment(&h, 0..h.len(), &s, &d, 1);
    let ts = seg.timestamps();
    let (lo, hi) = (ts[100], ts[400]);
    let r = seg.time_range(lo, hi);
    let want: Vec<usize> = (0..ts.len()).filter(|&i| ts[i] >= lo && ts[i] < hi).collect();
    assert_eq!(r.start as usize, want[0]);
    assert_eq!(r.end as usize, want.last().unwrap() + 1);
    assert_eq!(seg.time_range(hi, lo), seg.time_range(hi, lo).start..seg.time_range(hi, lo).start);
    assert_eq!(seg.time_range(i64::MIN, i64::MAX), 0..seg.len() as u32);
    assert_eq!(seg.min_ts(), Some(ts[0]));
}

#[test]
fn head_tail_segment_and_stats() {
    let (h, s, d) = sample(300, 3);
    let seg = build_segment(&h, 100..250, &s, &d, 2);
    seg.validate_with(Some(&d)).unwrap();
    assert_eq!(seg.len(), 150);
    let price = seg.column(s.id("item.price", ValueType::Num).unwrap()).unwrap();
    assert!(matches!(price.data, ColumnData::Num(NumArray::Float(_))));
    let count = seg.column(s.id("count", ValueType::Num).unwrap()).unwrap();
    let ColumnData::Num(NumArray::Int(a)) = &count.data else { panic!("count is integral") };
    let max = a.iter().flatten().max().unwrap();
    assert_eq!(count.stats.max, Some(StatValue::Num { value: max as f64, exact: Some(max) }));
    let country = seg.column(s.id("user.address.country", ValueType::String).unwrap()).unwrap();
    let idx = country.index.as_ref().unwrap();
    let total: u64 = idx.values().iter().map(|&v| idx.cardinality(v)).sum();
    assert_eq!(total, 150);
    assert_eq!(country.stats.max, Some(StatValue::Str("ünï".into())));
    let cid = s.id("user.address.country", ValueType::String).unwrap();
    let no = d.get(cid).unwrap().lookup("NO").unwrap();
    let scan = |seg: &Segment| {
        let ColumnData::Str(a) = &seg.column(cid).unwrap().data else { panic!() };
        (0..a.len())
            .filter(|&r| a.is_valid(r) && a.value(r) == no && !seg.deleted().contains(r as u32))
            .count() as u64
    };
    assert_eq!(seg.count_eq(cid, no), scan(&seg));
    let del = seg.with_deleted((0..150u32).step_by(3).collect());
    assert_eq!(del.count_eq(cid, no), scan(&del));
    assert!(del.count_eq(cid, no) < seg.count_eq(cid, no));
    let empty = build_segment(&h, 5..5, &s, &d, 3);
    empty.validate().unwrap();
    assert_eq!(empty.columns().count(), 0);
    assert_eq!(empty.time_range(0, i64::MAX), 0..0);
}

#[test]
fn with_deleted_shares_data() {
    let (h, s, d) = sample(100, 4);
    let seg = build_segment(&h, 0..h.len(), &s, &d, 1);
    let v2 = seg.with_deleted([3u32, 9].into_iter().collect());
    assert_eq!(v2.deleted().len(), 2);
    assert!(seg.deleted().is_empty());
    assert_eq!(v2.timestamps(), seg.timestamps());
    v2.validate().unwrap();
    assert!(seg.with_deleted([100u32].into_iter().collect()).validate().is_err());
}

fn scan_str(a: &UInt32Array, v: u32) -> RoaringBitmap {
    (0..a.len() as u32).filter(|&r| a.is_valid(r as usize) && a.value(r as usize) == v).collect()
}

proptest! {
    #[test]
    fn bitmap_index_equals_row_scan(
        vals in proptest::collection::vec(proptest::option::of(0u32..300), 0..600),
        lists in proptest::collection::vec(proptest::option::of(proptest::collection::vec(0u32..20, 0..5)), 0..300),
        bools in proptest::collection::vec(proptest::option::of(proptest::bool::ANY), 0..300),
    ) {
        let ba = arrow_array::BooleanArray::from(bools.clone());
        let bidx = builder::index_of(&ColumnData::Bool(ba)).unwrap();
        for (v, b) in [(0u32, false), (1, true)] {
            let want: RoaringBitmap = bools
                .iter()
                .enumerate()
                .filter(|(_, x)| **x == Some(b))
                .map(|(r, _)| r as u32)
                .collect();
            prop_assert_eq!(bidx.cardinality(v), want.len());
            prop_assert_eq!(bidx.bitmap(v), want);
        }

        let a = UInt32Array::from(vals.clone());
        let data = ColumnData::Str(a.clone().into());
        let idx = builder::index_of(&data).unwrap();
        for v in 0..300u32 {
            let want = scan_str(&a, v);
            prop_assert_eq!(idx.cardinality(v), want.len());
            prop_assert_eq!(idx.bitmap(v), want.clone());
            let mut got = RoaringBitmap::new();
            idx.union_into(v, &mut got);
            prop_assert_eq!(got, want);
        }
        let distinct: std::collections::BTreeSet<u32> = vals.iter().flatten().copied().collect();
        prop_assert_eq!(idx.values().to_vec(), distinct.into_iter().collect::<Vec<_>>());

        let la = ListArray::from_iter_primitive::<arrow_array::types::UInt32Type, _, _>(
            lists.iter().map(|l| l.as_ref().map(|l| l.iter().map(|&v| Some(v)).collect::<Vec<_>>())),
        );
        // rebuild with the non-null item field the builder uses
        let la = ListArray::new(builder::list_item_field(), la.offsets().clone(), la.values().clone(), la.nulls().cloned());
        let lidx = builder::index_of(&ColumnData::List(la)).unwrap();
        for v in 0..20u32 {
            let want: RoaringBitmap = lists
                .iter()
                .enumerate()
                .filter(|(_, l)| l.as_ref().is_some_and(|l| l.contains(&v)))
                .map(|(r, _)| r as u32)
                .collect();
            prop_assert_eq!(lidx.cardinality(v), want.len());
            prop_assert_eq!(lidx.bitmap(v), want);
        }
    }
}

/// A head cell or a segment cell, in one comparable form.
#[derive(Debug, PartialEq)]
enum Cell {
    Str(u32),
    Num(String),
    Bool(bool),
    Datetime(i64),
    List(Vec<u32>),
    Geo([u64; 2]),
    Null,
}

/// A number as f64 unless f64 cannot hold it exactly (the segment keeps
/// such integers exact, and may store any other one as a float).
fn num_cell(x: crate::head::Num) -> Cell {
    use crate::head::Num;
    match x {
        Num::Int(i) if (i as f64) as i128 != i128::from(i) => Cell::Num(format!("{i}")),
        x => Cell::Num(format!("{:?}", x.as_f64())),
    }
}

fn head_cell(hc: &crate::head::HeadColumn, row: u32) -> Option<Cell> {
    use crate::head::HeadValues;
    let e = hc.rows.binary_search(&row).ok()?;
    Some(match &hc.values {
        HeadValues::Str(v) => Cell::Str(v[e]),
        HeadValues::Num(v) => num_cell(v[e]),
        HeadValues::Bool(v) => Cell::Bool(v[e]),
        HeadValues::Datetime(v) => Cell::Datetime(v[e]),
        HeadValues::List { offsets, elems } => {
            Cell::List(elems[offsets[e] as usize..offsets[e + 1] as usize].to_vec())
        }
        HeadValues::Geo(v) => Cell::Geo([v[e][0].to_bits(), v[e][1].to_bits()]),
        HeadValues::Null => Cell::Null,
    })
}

fn segment_cell(c: &SegmentColumn, k: usize) -> Option<Cell> {
    if !c.presence.contains(k as u32) {
        return None;
    }
    Some(match &c.data {
        ColumnData::Str(a) => Cell::Str(a.value(k)),
        ColumnData::Num(a) => num_cell(a.num(k).expect("present")),
        ColumnData::Bool(a) => Cell::Bool(a.value(k)),
        ColumnData::Datetime(a) => Cell::Datetime(a.value(k)),
        ColumnData::List(a) => {
            let l = a.value(k);
            let l = l.as_any().downcast_ref::<UInt32Array>().expect("u32 ids");
            Cell::List(l.values().to_vec())
        }
        ColumnData::Geo(a) => {
            let p = a.value(k);
            let p = p.as_any().downcast_ref::<arrow_array::Float64Array>().expect("f64 pairs");
            Cell::Geo([p.value(0).to_bits(), p.value(1).to_bits()])
        }
        ColumnData::Null => Cell::Null,
    })
}

/// Every cell of every column lands on the row its event was sorted to,
/// for every column type and with rows outside the range left out; a
/// column's validity agrees with its presence bitmap.
#[test]
fn every_cell_lands_on_its_sorted_row() {
    for (n, seed, range) in [(3000, 11, 0..3000), (3000, 12, 700..2300), (40_000, 13, 0..40_000)] {
        let (mut h, mut s, mut d) = sample(n, seed);
        // A location on some events: a geo column.
        let mut b = crate::flat::FlatBatch::new();
        for i in 0..50u32 {
            let raw = format!(
                r#"{{"keen":{{"timestamp":"2024-01-{:02}T00:00:00Z","location":{{"coordinates":[{}.5,-{}.25]}}}},"g":{i}}}"#,
                1 + i % 28,
                i,
                i
            );
            crate::event::parse_event(raw.as_bytes(), &mut b, &crate::flat::EventLimits::default())
                .unwrap();
        }
        let base = h.len() as u64;
        gen::fill(&mut h, &b, &mut s, &mut d, base);
        let range = range.start..range.end + 50 * usize::from(range.end == n);
        let seg = build_segment(&h, range.clone(), &s, &d, 1);
        seg.validate_with(Some(&d)).unwrap();
        let mut types = std::collections::BTreeSet::new();
        for c in seg.columns() {
            let hc = h.column(c.id).expect("head column");
            types.insert(format!("{:?}", c.key.ty));
            let mut present = 0;
            for (k, id) in seg.ids().iter().enumerate() {
                let arrival = u64::from_be_bytes(id.0[..8].try_into().unwrap()) as u32;
                let want = head_cell(hc, arrival);
                present += usize::from(want.is_some());
                assert_eq!(segment_cell(c, k), want, "column {:?} row {k}", c.key);
            }
            assert_eq!(c.presence.len() as usize, present, "presence of {:?}", c.key);
            assert_eq!(c.stats.present as usize, present);
        }
        for ty in ["String", "Num", "Bool", "List", "Geo", "Null"] {
            assert!(types.contains(ty), "sample {seed} has no {ty} column: {types:?}");
        }
    }
}
