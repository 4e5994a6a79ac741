//! `Collection::append_parts`: several parsed batches, one WAL record.

use std::sync::Arc;

use tally_ingest::{parse_event, Collection, CollectionOptions, FixedClock, FlatBatch, StdStorage};

fn batch(events: &[&str]) -> (FlatBatch, Vec<u8>) {
    let mut b = FlatBatch::new();
    let mut raw = Vec::new();
    for e in events {
        parse_event(e.as_bytes(), &mut b, &Default::default()).unwrap();
        let start = raw.len();
        raw.extend_from_slice(e.as_bytes());
        b.events.last_mut().unwrap().raw = start..raw.len();
    }
    (b, raw)
}

fn open(dir: &std::path::Path) -> (Collection, tally_ingest::OpenReport) {
    Collection::open(
        Arc::new(StdStorage::new()),
        dir.join("c"),
        "c",
        Arc::new(FixedClock::at(1_718_202_920_123)),
        CollectionOptions::default(),
    )
    .unwrap()
}

#[test]
fn parts_share_one_record_and_replay_whole() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (c, _) = open(dir.path());
        let (b1, r1) = batch(&[r#"{"a": 1}"#, r#"{"keen": {"uniqueness_token": "t"}, "a": 2}"#]);
        let (b2, r2) = batch(&[
            r#"{"keen": {"uniqueness_token": "t"}, "a": 3}"#, // duplicate of a token in part 1
            r#"{"b": "x"}"#,
        ]);
        let outs = c.append_parts(&[(&b1, &r1, &[0, 1]), (&b2, &r2, &[0, 1])]).unwrap();
        assert_eq!(outs.len(), 2);
        assert_eq!((outs[0].stored, outs[1].stored), (2, 1));
        assert!(outs.iter().all(|o| o.results.iter().all(|r| r.is_ok())));
        assert_eq!(c.snapshot().rows(), 3);
    }
    let (c, report) = open(dir.path());
    assert_eq!(report.replayed_records, 1, "one WAL record for both parts");
    assert_eq!(report.replayed_events, 3);
    assert_eq!(c.snapshot().rows(), 3);
}

#[test]
fn column_limit_rejects_only_the_events_that_break_it() {
    let dir = tempfile::tempdir().unwrap();
    let opts = CollectionOptions { max_columns: 3 + 4, ..Default::default() };
    let open = || {
        Collection::open(
            Arc::new(StdStorage::new()),
            dir.path().join("c"),
            "c",
            Arc::new(FixedClock::at(1_718_202_920_123)),
            opts.clone(),
        )
        .unwrap()
        .0
    };
    let c = open();
    let (b1, r1) = batch(&[r#"{"a": 1, "b": 2, "c": 3}"#, r#"{"x": 1, "y": 2}"#]);
    let (b2, r2) = batch(&[r#"{"a": 5, "d": "new"}"#, r#"{"a": 6}"#]);
    let outs = c.append_parts(&[(&b1, &r1, &[0, 1]), (&b2, &r2, &[0, 1])]).unwrap();
    // a, b, c fit (3 + 3 = 6 of 7); x+y would make 8: rejected; d makes 7: fits.
    assert!(outs[0].results[0].is_ok());
    let err = outs[0].results[1].as_ref().unwrap_err();
    assert_eq!(err.code(), tally_ingest::ErrorCode::InvalidEvent);
    assert!(err.to_string().contains("columns per collection"), "{err}");
    assert!(outs[1].results.iter().all(|r| r.is_ok()));
    assert_eq!((outs[0].stored, outs[1].stored), (1, 2));
    assert_eq!(c.snapshot().rows(), 3);
    let schema = c.snapshot().schema().clone();
    assert_eq!(schema.len(), 7);
    drop(c);
    let c = open();
    assert_eq!(c.snapshot().rows(), 3);
    assert_eq!(c.snapshot().schema().len(), 7);
}

/// Regression: replay enforced the column limit, so lowering it between
/// runs made a collection with acknowledged events in its WAL unopenable.
#[test]
fn lowering_the_column_limit_never_refuses_acknowledged_events() {
    let dir = tempfile::tempdir().unwrap();
    let with = |max_columns| {
        Collection::open(
            Arc::new(StdStorage::new()),
            dir.path().join("c"),
            "c",
            Arc::new(FixedClock::at(1_718_202_920_123)),
            CollectionOptions { max_columns, ..Default::default() },
        )
        .unwrap()
        .0
    };
    let c = with(100);
    let (b, r) = batch(&[r#"{"a": 1, "b": 2, "c": 3, "d": 4}"#]);
    assert!(c.append(&b, &r, &[0]).unwrap().results[0].is_ok());
    drop(c);
    let c = with(4);
    assert_eq!(c.snapshot().rows(), 1);
    let (b, r) = batch(&[r#"{"e": 5}"#]);
    assert!(
        c.append(&b, &r, &[0]).unwrap().results[0].is_err(),
        "the lower limit holds for new columns"
    );
}
