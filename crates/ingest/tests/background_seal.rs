//! Background seals: a full head of at least `BACKGROUND_SEAL_MIN_ROWS`
//! rows is sealed on its own thread while appends go on into a new head
//! and a new log; every acknowledged event stays readable and durable
//! through the switch, and a log chain left by an uncommitted seal
//! replays in order.

mod common;

use std::sync::Arc;

use tally_ingest::{
    Collection, CollectionOptions, FixedClock, FlatBatch, IngestError, StdStorage, Storage,
    WalWriter, BACKGROUND_SEAL_MIN_ROWS,
};

fn batch(from: usize, n: usize) -> (FlatBatch, Vec<u8>, Vec<usize>) {
    let events: Vec<String> =
        (from..from + n).map(|i| format!(r#"{{"i": {i}, "s": "v{}"}}"#, i % 97)).collect();
    let (b, raw) = common::batch_of(&events);
    (b, raw, (0..n).collect())
}

fn open(dir: &std::path::Path) -> (Collection, tally_ingest::OpenReport) {
    common::open_with(
        dir,
        CollectionOptions { segment_rows: BACKGROUND_SEAL_MIN_ROWS, ..Default::default() },
    )
}

fn logs(dir: &std::path::Path) -> Vec<String> {
    common::files(dir).into_iter().filter(|n| n.starts_with("wal-")).collect()
}

/// The sum of column `i` over every row a snapshot sees: each event once.
fn sum_i(c: &Collection) -> (usize, i64) {
    let snap = c.snapshot();
    let mut sum = 0i64;
    for seg in snap.segments() {
        let id = snap.schema().id("i", tally_ingest::ValueType::Num).expect("column i");
        if let Some(tally_ingest::ColumnData::Num(a)) = seg.column(id).map(|c| &c.data) {
            for r in 0..seg.len() {
                sum += a.f64(r).map_or(0, |n| n as i64);
            }
        }
    }
    (snap.rows(), sum)
}

#[test]
fn appends_go_on_while_a_full_head_seals_and_every_row_stays_visible() {
    let dir = tempfile::tempdir().unwrap();
    let per = 4_000;
    let total = 6 * per; // the head freezes after the fifth append
    {
        let (c, _) = open(dir.path());
        for k in 0..total / per {
            let (b, _, idx) = batch(k * per, per);
            c.append(&b, &idx).unwrap();
            let n = (k + 1) * per;
            let expect: i64 = (0..n as i64).sum();
            assert_eq!(sum_i(&c), (n, expect), "after {n} rows");
        }
        c.flush().unwrap();
        assert_eq!(c.head_rows(), 0);
        assert_eq!(c.sealed_segments(), 2, "one background seal, one by flush");
        assert_eq!(
            logs(dir.path()).len(),
            1,
            "the sealed logs are removed: {:?}",
            logs(dir.path())
        );
    }
    let (c, report) = open(dir.path());
    assert_eq!(report.replayed_events, 0);
    assert_eq!(sum_i(&c), (total, (0..total as i64).sum()));
}

#[test]
fn a_close_during_a_background_seal_commits_it() {
    let dir = tempfile::tempdir().unwrap();
    let n = BACKGROUND_SEAL_MIN_ROWS + 10;
    {
        let (c, _) = open(dir.path());
        let (b, _, idx) = batch(0, n);
        c.append(&b, &idx).unwrap();
        let (b, _, idx) = batch(n, 5);
        c.append(&b, &idx).unwrap();
    } // dropped: waits for the seal, commits it
    let (c, report) = open(dir.path());
    assert_eq!(c.sealed_segments(), 1);
    assert_eq!(report.replayed_events, 5, "only the rows after the freeze replay");
    assert_eq!(sum_i(&c), (n + 5, (0..(n + 5) as i64).sum()));
    assert_eq!(logs(dir.path()).len(), 1, "{:?}", logs(dir.path()));
}

/// An uncommitted seal leaves the manifest's log followed by the log that
/// took over at the freeze: open replays both, in order.
#[test]
fn a_log_chain_from_an_uncommitted_seal_replays_in_order() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (c, _) = open(dir.path());
        let (b, _, idx) = batch(0, 3);
        c.append(&b, &idx).unwrap();
    }
    // What a freeze does before its commit: a later log takes over. Write
    // records into it by opening it as the collection's only log.
    let cdir = dir.path().join("c");
    let first = cdir.join("wal-0000000000000001.log");
    let saved = std::fs::read(&first).unwrap();
    let storage: Arc<dyn Storage> = Arc::new(StdStorage::new());
    drop(WalWriter::create(storage.clone(), cdir.join("wal-0000000000000002.log"), 2).unwrap());
    {
        // Open sees the chain [1, 2] and appends to log 2.
        let (c, report) = open(dir.path());
        assert_eq!(report.replayed_events, 3);
        let (b, _, idx) = batch(3, 4);
        c.append(&b, &idx).unwrap();
    }
    assert_eq!(std::fs::read(&first).unwrap(), saved, "the closed log is never rewritten");
    assert_eq!(logs(dir.path()).len(), 2);
    let (c, report) = open(dir.path());
    assert_eq!(report.replayed_events, 7);
    assert_eq!(sum_i(&c), (7, (0..7).sum()));
    // The next seal removes every log of the chain before its new one.
    c.flush().unwrap();
    assert_eq!(logs(dir.path()).len(), 1, "{:?}", logs(dir.path()));
    drop(c);
    let (c, report) = open(dir.path());
    assert_eq!(report.replayed_events, 0);
    assert_eq!(sum_i(&c), (7, (0..7).sum()));
}

#[test]
fn a_gap_or_a_torn_tail_before_the_last_log_is_corruption_naming_the_file() {
    for case in ["gap", "torn"] {
        let dir = tempfile::tempdir().unwrap();
        {
            let (c, _) = open(dir.path());
            let (b, _, idx) = batch(0, 3);
            c.append(&b, &idx).unwrap();
        }
        let cdir = dir.path().join("c");
        let storage: Arc<dyn Storage> = Arc::new(StdStorage::new());
        let first = cdir.join("wal-0000000000000001.log");
        let next = if case == "gap" { 5 } else { 2 };
        let later = cdir.join(format!("wal-{next:016x}.log"));
        drop(WalWriter::create(storage, later.clone(), next).unwrap());
        if case == "torn" {
            let mut bytes = std::fs::read(&first).unwrap();
            bytes.truncate(bytes.len() - 3);
            std::fs::write(&first, bytes).unwrap();
        }
        let err = Collection::open(
            Arc::new(StdStorage::new()),
            cdir.clone(),
            "c",
            Arc::new(FixedClock::at(1_718_202_920_123)),
            CollectionOptions::default(),
        )
        .unwrap_err();
        let named = if case == "gap" { &later } else { &first };
        match &err {
            IngestError::Corrupt { file, .. } => assert_eq!(file, named, "{case}: {err}"),
            other => panic!("{case}: {other:?}"),
        }
    }
}
