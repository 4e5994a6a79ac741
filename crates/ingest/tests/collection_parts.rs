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
