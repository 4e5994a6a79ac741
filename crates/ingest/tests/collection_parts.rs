//! `Collection::append_parts`: several parsed batches, one WAL record.

mod common;
use common::{batch_of as batch, open, open_with};
use tally_ingest::CollectionOptions;

#[test]
fn parts_share_one_record_and_replay_whole() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (c, _) = open(dir.path());
        let (b1, _) = batch(&[r#"{"a": 1}"#, r#"{"keen": {"uniqueness_token": "t"}, "a": 2}"#]);
        let (b2, _) = batch(&[
            r#"{"keen": {"uniqueness_token": "t"}, "a": 3}"#, // duplicate of a token in part 1
            r#"{"b": "x"}"#,
        ]);
        let outs = c.append_parts(&[(&b1, &[0, 1]), (&b2, &[0, 1])]).unwrap();
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
    let open = || open_with(dir.path(), opts.clone()).0;
    let c = open();
    let (b1, _) = batch(&[r#"{"a": 1, "b": 2, "c": 3}"#, r#"{"x": 1, "y": 2}"#]);
    let (b2, _) = batch(&[r#"{"a": 5, "d": "new"}"#, r#"{"a": 6}"#]);
    let outs = c.append_parts(&[(&b1, &[0, 1]), (&b2, &[0, 1])]).unwrap();
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
        open_with(dir.path(), CollectionOptions { max_columns, ..Default::default() }).0
    };
    let c = with(100);
    let (b, _) = batch(&[r#"{"a": 1, "b": 2, "c": 3, "d": 4}"#]);
    assert!(c.append(&b, &[0]).unwrap().results[0].is_ok());
    drop(c);
    let c = with(4);
    assert_eq!(c.snapshot().rows(), 1);
    let (b, _) = batch(&[r#"{"e": 5}"#]);
    assert!(
        c.append(&b, &[0]).unwrap().results[0].is_err(),
        "the lower limit holds for new columns"
    );
}
