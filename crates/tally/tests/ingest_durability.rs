//! Durability through the facade: reopen after a clean close, after a torn
//! WAL tail, mid-log corruption, and read-your-writes.

use std::path::{Path, PathBuf};

use tally::{Engine, FixedClock, NdjsonOptions};

const NOW: i64 = 1_718_202_920_123; // 2024-06-12T14:35:20.123Z

fn engine(dir: &Path) -> Engine {
    Engine::builder().with_data_dir(dir).with_clock(FixedClock::at(NOW)).open().unwrap()
}

fn sample() -> Vec<u8> {
    std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/events/sample.jsonl"))
        .unwrap()
}

fn rows(p: &tally::Project, c: &str) -> usize {
    p.snapshot(c).map(|s| s.rows()).unwrap_or(0)
}

fn wal_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in walk(dir) {
        if e.extension().is_some_and(|x| x == "log") {
            out.push(e);
        }
    }
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

#[test]
fn sample_survives_clean_reopen_unsealed_and_sealed() {
    let dir = tempfile::tempdir().unwrap();
    let input = sample();
    let lines = input.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count();
    let counts: Vec<(String, usize)>;
    {
        let e = engine(dir.path());
        let (p, _) = e.project_or_create("p1").unwrap();
        let s = p.ingest_ndjson(&input[..], &NdjsonOptions::default(), &mut |_| {}).unwrap();
        assert_eq!(s.accepted as usize, lines);
        assert_eq!(s.rejected, 0);
        counts = p.collection_names().into_iter().map(|c| (c.clone(), rows(&p, &c))).collect();
        assert_eq!(counts.iter().map(|c| c.1).sum::<usize>(), lines);
        assert!(counts.len() >= 4);
    }
    // Reopen: everything comes back from the WAL.
    {
        let e = engine(dir.path());
        let p = e.project("p1").unwrap();
        for (c, n) in &counts {
            assert_eq!(rows(&p, c), *n, "collection {c} after WAL replay");
        }
        let reports = p.open_reports();
        assert!(reports.iter().all(|(_, r)| r.torn_tail.is_none()));
        assert_eq!(reports.iter().map(|(_, r)| r.replayed_events).sum::<usize>(), lines);
        p.flush().unwrap();
    }
    // Reopen after sealing: everything comes back from segments, nothing replayed.
    {
        let e = engine(dir.path());
        let p = e.project("p1").unwrap();
        for (c, n) in &counts {
            assert_eq!(rows(&p, c), *n, "collection {c} after seal");
            assert_eq!(p.collection(c).unwrap().sealed_segments(), 1);
        }
        assert!(p.open_reports().iter().all(|(_, r)| r.replayed_events == 0));
    }
}

#[test]
fn torn_wal_tail_is_truncated_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    {
        let e = engine(dir.path());
        let (p, _) = e.project_or_create("p1").unwrap();
        for i in 0..10 {
            p.record("clicks", format!(r#"{{"n": {i}}}"#).as_bytes()).unwrap();
        }
    }
    let wals = wal_files(dir.path());
    assert_eq!(wals.len(), 1);
    // A crash in the middle of an append: half a record header at the end.
    let mut bytes = std::fs::read(&wals[0]).unwrap();
    let good_len = bytes.len();
    bytes.extend_from_slice(&[0x33, 0x00, 0x00, 0x00, 0xde, 0xad]);
    std::fs::write(&wals[0], &bytes).unwrap();
    {
        let e = engine(dir.path());
        let p = e.project("p1").unwrap();
        assert_eq!(rows(&p, "clicks"), 10);
        let reports = p.open_reports();
        let torn = reports[0].1.torn_tail.expect("torn tail reported");
        assert_eq!(torn.offset, good_len as u64);
        assert_eq!(std::fs::read(&wals[0]).unwrap().len(), good_len, "tail truncated");
        // The collection stays writable after recovery.
        p.record("clicks", br#"{"n": 10}"#).unwrap();
        assert_eq!(rows(&p, "clicks"), 11);
    }
    let e = engine(dir.path());
    assert_eq!(rows(&e.project("p1").unwrap(), "clicks"), 11);
}

#[test]
fn mid_log_corruption_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    {
        let e = engine(dir.path());
        let (p, _) = e.project_or_create("p1").unwrap();
        for i in 0..10 {
            p.record("clicks", format!(r#"{{"n": {i}, "pad": "xxxxxxxxxxxxxxxx"}}"#).as_bytes())
                .unwrap();
        }
    }
    let wal = wal_files(dir.path()).remove(0);
    let mut bytes = std::fs::read(&wal).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(&wal, &bytes).unwrap();
    let err = Engine::builder().with_data_dir(dir.path()).open().unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains(&wal.file_name().unwrap().to_string_lossy().to_string()), "{msg}");
    assert!(msg.contains("corrupt"), "{msg}");
}

#[test]
fn read_your_writes_across_head_and_segments() {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::builder()
        .with_data_dir(dir.path())
        .with_clock(FixedClock::at(NOW))
        .with_segment_rows(7)
        .open()
        .unwrap();
    let (p, _) = e.project_or_create("p1").unwrap();
    for i in 0..30 {
        p.record("clicks", format!(r#"{{"n": {i}}}"#).as_bytes()).unwrap();
        assert_eq!(rows(&p, "clicks"), i + 1);
    }
    assert_eq!(p.collection("clicks").unwrap().sealed_segments(), 4);
    drop(p);
    drop(e);
    let e = engine(dir.path());
    assert_eq!(rows(&e.project("p1").unwrap(), "clicks"), 30);
}

#[test]
fn uniqueness_token_suppresses_duplicates_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let e = engine(dir.path());
        let (p, _) = e.project_or_create("p1").unwrap();
        let ev = br#"{"keen": {"uniqueness_token": "tok-1"}, "a": 1}"#;
        p.record("orders", ev).unwrap();
        p.record("orders", ev).unwrap(); // success, not stored
        assert_eq!(rows(&p, "orders"), 1);
        let resp = p
            .record_batch(br#"{"orders": [{"keen": {"uniqueness_token": "tok-2"}}, {"keen": {"uniqueness_token": "tok-2"}}]}"#)
            .unwrap();
        assert_eq!(resp.failed(), 0);
        assert_eq!(rows(&p, "orders"), 2);
        p.flush().unwrap();
    }
    let e = engine(dir.path());
    let p = e.project("p1").unwrap();
    p.record("orders", br#"{"keen": {"uniqueness_token": "tok-1"}}"#).unwrap();
    assert_eq!(rows(&p, "orders"), 2);
}

/// The id of string `value` in column `path` of every segment that has it.
fn ids_of(snap: &tally::Snapshot, path: &str, value: &str) -> (u32, Vec<u32>) {
    let col = snap.schema().id(path, tally_ingest::ValueType::String).unwrap();
    let id = snap.dictionary(col).unwrap().lookup(value).unwrap();
    let mut seen = Vec::new();
    for seg in snap.segments() {
        if let Some(c) = seg.column(col) {
            if let tally_ingest::ColumnData::Str(a) = &c.data {
                let mut here = 0u64;
                for (row, v) in a.iter().enumerate() {
                    if v == Some(id) {
                        here += 1;
                        seen.push(id);
                        assert!(c.presence.contains(row as u32));
                    }
                }
                let index = c.index.as_ref().expect("string columns are indexed");
                assert_eq!(index.cardinality(id), here, "bitmap index agrees with the column");
            }
        }
    }
    (id, seen)
}

#[test]
fn dictionary_ids_are_stable_across_segments_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let before;
    {
        let e = engine(dir.path());
        let (p, _) = e.project_or_create("p1").unwrap();
        for i in 0..30 {
            let user = ["ada", "bob", "cy"][i % 3];
            p.record("c", format!(r#"{{"user": "{user}", "i": {i}}}"#).as_bytes()).unwrap();
            if i % 10 == 9 {
                p.collection("c").unwrap().flush().unwrap();
            }
        }
        let snap = p.snapshot("c").unwrap();
        assert_eq!(snap.segments().len(), 3);
        before = ["ada", "bob", "cy"].map(|u| ids_of(&snap, "user", u));
        for (id, seen) in &before {
            assert_eq!(seen.len(), 10, "every segment uses the same id {id}");
        }
    }
    let e = engine(dir.path());
    let p = e.project("p1").unwrap();
    p.record("c", br#"{"user": "bob", "i": 99}"#).unwrap();
    let snap = p.snapshot("c").unwrap();
    let after = ["ada", "bob", "cy"].map(|u| ids_of(&snap, "user", u));
    for (b, a) in before.iter().zip(after.iter()) {
        assert_eq!(b.0, a.0, "ids survive reopen");
    }
    assert_eq!(after[1].1.len(), 11, "the new head row reuses bob's id");
}

#[test]
fn a_data_directory_has_one_engine_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let first = engine(dir.path());
    let err = Engine::builder().with_data_dir(dir.path()).open().unwrap_err();
    assert!(err.to_string().contains("in use by another tally engine"), "{err}");
    drop(first);
    let again = engine(dir.path());
    // A project handle that outlives its engine can still write, so it
    // keeps the directory locked until it is dropped too.
    let (p, _) = again.project_or_create("p").unwrap();
    drop(again);
    let err = Engine::builder().with_data_dir(dir.path()).open().unwrap_err();
    assert!(err.to_string().contains("in use by another tally engine"), "{err}");
    p.record("c", br#"{"x": 1}"#).unwrap();
    drop(p);
    let last = engine(dir.path());
    assert_eq!(last.project("p").unwrap().snapshot("c").unwrap().rows(), 1);
}
