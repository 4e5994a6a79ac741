//! Collection deletes (keen-semantics §9.6) at the storage layer: events by
//! selection through deletion vectors, a property through rewritten
//! segments and dropped columns, the whole collection through a renamed
//! directory; each durable across reopen, none touching other data.

mod common;

use common::{append_all, files, open, open_with};
use roaring::RoaringBitmap;
use tally_ingest::{
    Collection, CollectionOptions, ColumnData, IngestError, Snapshot, StdStorage, ValueType,
};

/// `{"i": i, "s": "v<i % 3>", "o": {"a": i, "b": "x"}}` for i in range.
fn events(range: std::ops::Range<usize>) -> Vec<String> {
    range
        .map(|i| format!(r#"{{"i": {i}, "s": "v{}", "o": {{"a": {i}, "b": "x"}}}}"#, i % 3))
        .collect()
}

/// The live values of `i`, sorted.
fn live_i(snap: &Snapshot) -> Vec<i64> {
    let id = snap.schema().id("i", ValueType::Num).expect("column i");
    let mut v = Vec::new();
    for seg in snap.segments() {
        let Some(ColumnData::Num(a)) = seg.column(id).map(|c| &c.data) else { continue };
        for r in 0..seg.len() {
            if !seg.deleted().contains(r as u32) {
                v.push(a.f64(r).unwrap() as i64);
            }
        }
    }
    v.sort_unstable();
    v
}

/// Rows whose `i` satisfies `keep_out`, per segment.
fn rows_where(snap: &Snapshot, pred: impl Fn(i64) -> bool) -> Vec<(u64, RoaringBitmap)> {
    let id = snap.schema().id("i", ValueType::Num).unwrap();
    snap.segments()
        .iter()
        .map(|seg| {
            let Some(ColumnData::Num(a)) = seg.column(id).map(|c| &c.data) else {
                return (seg.id(), RoaringBitmap::new());
            };
            let rows = (0..seg.len()).filter(|&r| pred(a.f64(r).unwrap() as i64));
            (seg.id(), rows.map(|r| r as u32).collect())
        })
        .collect()
}

fn small_segments() -> CollectionOptions {
    CollectionOptions { segment_rows: 40, ..Default::default() }
}

#[test]
fn deleted_events_vanish_at_once_and_stay_deleted_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (c, _) = open_with(dir.path(), small_segments());
        for k in 0..5 {
            append_all(&c, &events(20 * k..20 * k + 20)); // 2 sealed segments of 40 + 20 in the head
        }
        assert_eq!((c.sealed_segments(), c.head_rows()), (2, 20));
        let before = c.snapshot();
        let n = c
            .delete_events::<IngestError, _>(|snap| {
                // Every acknowledged event is in a sealed segment.
                assert_eq!(snap.rows(), 100);
                assert!(snap.segments().iter().all(|s| s.id() < 1 << 63));
                Ok(rows_where(snap, |i| i % 2 == 0))
            })
            .unwrap();
        assert_eq!(n, 50);
        let odd: Vec<i64> = (0..100).filter(|i| i % 2 == 1).collect();
        assert_eq!(live_i(&c.snapshot()), odd);
        // A snapshot taken before still sees every event (atomic swap).
        assert_eq!(live_i(&before).len(), 100);
        // Deleting the same rows again deletes nothing.
        let again = c.delete_events::<IngestError, _>(|s| Ok(rows_where(s, |i| i % 2 == 0)));
        assert_eq!(again.unwrap(), 0);
        // Later events are not touched by the earlier delete.
        append_all(&c, &events(100..104));
        assert_eq!(live_i(&c.snapshot()).len(), 54);
    }
    let (c, report) = open_with(dir.path(), small_segments());
    assert!(report.removed_orphans.is_empty(), "{:?}", report.removed_orphans);
    let mut want: Vec<i64> = (0..100).filter(|i| i % 2 == 1).collect();
    want.extend(100..104);
    assert_eq!(live_i(&c.snapshot()), want);
    let dels = files(dir.path()).into_iter().filter(|f| f.ends_with(".del")).count();
    assert_eq!(dels, 3, "one deletion vector per touched segment");
}

#[test]
fn a_second_delete_adds_to_the_vector_and_a_fully_deleted_segment_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let (c, _) = open_with(dir.path(), small_segments());
    append_all(&c, &events(0..40));
    append_all(&c, &events(40..80));
    assert_eq!((c.sealed_segments(), c.head_rows()), (2, 0));
    c.delete_events::<IngestError, _>(|s| Ok(rows_where(s, |i| i < 10))).unwrap();
    c.delete_events::<IngestError, _>(|s| Ok(rows_where(s, |i| (10..20).contains(&i)))).unwrap();
    assert_eq!(live_i(&c.snapshot()), (20..80).collect::<Vec<_>>());
    let names = files(dir.path());
    assert_eq!(names.iter().filter(|f| f.ends_with(".del")).count(), 1, "{names:?}");
    // Deleting the rest of the first segment removes it and its files.
    c.delete_events::<IngestError, _>(|s| Ok(rows_where(s, |i| i < 40))).unwrap();
    assert_eq!(c.snapshot().segments().len(), 1);
    let names = files(dir.path());
    assert_eq!(names.iter().filter(|f| f.ends_with(".parquet")).count(), 1, "{names:?}");
    assert_eq!(names.iter().filter(|f| f.ends_with(".del")).count(), 0, "{names:?}");
    drop(c);
    let (c, report) = open_with(dir.path(), small_segments());
    assert!(report.removed_orphans.is_empty());
    assert_eq!(live_i(&c.snapshot()), (40..80).collect::<Vec<_>>());
}

#[test]
fn an_error_from_the_selection_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (c, _) = open(dir.path());
    append_all(&c, &events(0..10));
    let err =
        c.delete_events::<IngestError, _>(|_| Err(IngestError::Internal("no".into()))).unwrap_err();
    assert!(err.to_string().contains("no"));
    assert_eq!(live_i(&c.snapshot()).len(), 10);
    let bad = c.delete_events::<IngestError, _>(|_| Ok(vec![(999, [1u32].into_iter().collect())]));
    assert!(matches!(bad, Err(IngestError::Internal(_))), "{bad:?}");
    assert_eq!(live_i(&c.snapshot()).len(), 10);
}

#[test]
fn a_deleted_property_leaves_schema_segments_and_disk() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (c, _) = open_with(dir.path(), small_segments());
        append_all(&c, &events(0..50));
        let dropped = c.delete_property("o").unwrap();
        assert_eq!(dropped, 2, "o.a and o.b");
        let snap = c.snapshot();
        assert_eq!(snap.schema().id("o.a", ValueType::Num), None);
        assert_eq!(snap.schema().id("o.b", ValueType::String), None);
        assert!(snap.schema().paths().iter().all(|p| !p.starts_with("o.")));
        assert_eq!(live_i(&snap), (0..50).collect::<Vec<_>>(), "other values kept");
        for seg in snap.segments() {
            assert!(seg.columns().all(|col| !col.key.path.starts_with("o.")));
        }
        // The value "x" is gone from the Parquet bytes too.
        for f in files(dir.path()).iter().filter(|f| f.ends_with(".parquet")) {
            let bytes = std::fs::read(dir.path().join("c").join(f)).unwrap();
            assert!(!bytes.windows(5).any(|w| w == b"o.b::"), "{f} still names o.b");
        }
        assert!(matches!(c.delete_property("o"), Err(IngestError::NotFound { .. })));
        assert!(matches!(c.delete_property("nope"), Err(IngestError::NotFound { .. })));
        // A prefix of a name is not a parent: "o" must not take "ox".
        append_all(&c, &[r#"{"ox": 1, "o": {"a": "now a string"}}"#]);
        assert_eq!(c.delete_property("o").unwrap(), 1);
        assert!(c.snapshot().schema().id("ox", ValueType::Num).is_some());
        // The property can come back as a new column.
        append_all(&c, &[r#"{"o": {"a": 7}}"#]);
        let snap = c.snapshot();
        let id = snap.schema().id("o.a", ValueType::Num).expect("o.a again");
        let with_value: usize = snap
            .segments()
            .iter()
            .filter_map(|s| s.column(id))
            .map(|col| col.presence.len() as usize)
            .sum();
        assert_eq!(with_value, 1, "only the new event has o.a");
    }
    let (c, report) = open_with(dir.path(), small_segments());
    assert!(report.removed_orphans.is_empty(), "{:?}", report.removed_orphans);
    let snap = c.snapshot();
    assert_eq!(snap.rows(), 52);
    assert_eq!(snap.schema().types_of("o.a"), vec![ValueType::Num]);
    assert_eq!(snap.schema().id("o.b", ValueType::String), None);
    // Column ids: i 3, s 4, o.a 5, o.b 6, ox 7, o.a (string) 8. The dropped
    // string columns' dictionaries are gone; s keeps its own.
    let names = files(dir.path());
    assert!(names.contains(&"dict-00000004.dict".to_string()), "{names:?}");
    assert!(!names.contains(&"dict-00000006.dict".to_string()), "{names:?}");
    assert!(!names.contains(&"dict-00000008.dict".to_string()), "{names:?}");
}

#[test]
fn ids_resolved_before_a_property_delete_are_not_used_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let (c, _) = open(dir.path());
    append_all(&c, &[r#"{"p": "a"}"#]);
    let (b, _) = common::batch_of(&[r#"{"p": "a"}"#]);
    let resolved = c.resolve(&b);
    c.delete_property("p").unwrap();
    let part =
        tally_ingest::AppendPart { batch: &b, wal: &[], events: &[0], resolved: Some(&resolved) };
    c.append_resolved(&[part]).unwrap();
    let snap = c.snapshot();
    let id = snap.schema().id("p", ValueType::String).expect("p is a new column");
    let seen: u64 =
        snap.segments().iter().filter_map(|s| s.column(id)).map(|c| c.presence.len()).sum();
    assert_eq!(seen, 1, "the event after the delete is in the new column");
}

#[test]
fn a_deleted_collection_is_gone_and_its_handles_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let (c, _) = open_with(dir.path(), small_segments());
    append_all(&c, &events(0..50));
    let other = c.clone();
    c.delete_collection().unwrap();
    assert!(!dir.path().join("c").exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let (b, _) = common::batch_of(&[r#"{"i": 1}"#]);
    assert!(!c.snapshot().schema().paths().contains(&"i"));
    assert!(matches!(other.append(&b, &[0]), Err(IngestError::Deleted { .. })));
    assert!(matches!(other.flush(), Err(IngestError::Deleted { .. })));
    assert!(matches!(c.delete_collection(), Err(IngestError::Deleted { .. })));
    assert_eq!(other.snapshot().rows(), 0);
    drop((c, other));
    // A new collection of the same name starts empty, tokens forgotten.
    let (c, _) = open(dir.path());
    assert_eq!(c.snapshot().rows(), 0);
    assert!(!Collection::is_deleted_dir(&StdStorage::new(), &dir.path().join("c")).unwrap());
}

#[test]
fn a_deleted_property_frees_its_room_under_the_column_limit() {
    let dir = tempfile::tempdir().unwrap();
    let (c, _) =
        open_with(dir.path(), CollectionOptions { max_columns: 3 + 2, ..Default::default() });
    append_all(&c, &[r#"{"a": 1, "b": 2}"#]);
    // Full: a third property is refused, by both the fast and the slow path.
    let (b, _) = common::batch_of(&[r#"{"c": 3}"#, r#"{"a": 4}"#]);
    let out = c.append(&b, &[0, 1]).unwrap();
    assert!(out.results[0].is_err() && out.results[1].is_ok(), "{:?}", out.results);
    c.delete_property("a").unwrap();
    let (b, _) = common::batch_of(&[r#"{"c": 3}"#, r#"{"d": 4}"#]);
    let out = c.append(&b, &[0, 1]).unwrap();
    assert!(out.results[0].is_ok() && out.results[1].is_err(), "{:?}", out.results);
    append_all(&c, &[r#"{"c": 5}"#]);
}
