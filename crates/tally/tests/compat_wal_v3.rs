//! Frozen WAL payload version 3: `testdata/compat/wal-v3/datadir` was
//! written once by the version that introduced it, with every event left
//! in the WAL (nothing sealed), and is never regenerated. Every later
//! version must replay it to exactly what ingesting the same input stores.
//!
//! To create it (only when it is missing): `TALLY_MAKE_COMPAT=1 cargo test
//! -p tally --test compat_wal_v3 -- --ignored`.

#[path = "support/fs.rs"]
mod fs_util;

use std::path::{Path, PathBuf};

use fs_util::*;

use tally::{Engine, FixedClock, NdjsonOptions, Project};

const NOW: i64 = 1_733_000_000_456; // 2024-11-30T20:53:20.456Z

fn compat_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/compat/wal-v3")
}

/// The input of the sample, through every write path: NDJSON (parts
/// encoded by the parsers), a Keen batch and single events (encoded by
/// the collection), and a part of which one event is a duplicate (encoded
/// again without it).
fn write_sample(p: &Project) {
    let s =
        p.ingest_ndjson(&sample_lines(200)[..], &NdjsonOptions::default(), &mut |_| {}).unwrap();
    assert_eq!(s.rejected, 0);
    let batch = r#"{"pageviews": [{"n": 1, "tags": ["x", 2, null]}, {"n": 2.5, "ok": true}],
        "signups": [{"keen": {"location": {"coordinates": [13.4, 52.5]}}, "plan": "pro"}]}"#;
    p.record_batch(batch.as_bytes()).unwrap();
    p.record("pageviews", br#"{"keen": {"uniqueness_token": "t-1"}, "u": "first"}"#).unwrap();
    let dup = concat!(
        r#"{"pageviews": {"keen": {"uniqueness_token": "t-1"}, "u": "again"}}"#,
        "\n",
        r#"{"pageviews": {"keen": {"timestamp": "2024-02-03T04:05:06.789Z"}, "u": "kept"}}"#,
        "\n"
    );
    p.ingest_ndjson(dup.as_bytes(), &NdjsonOptions::default(), &mut |_| {}).unwrap();
}

#[test]
#[ignore = "writes the frozen WAL v3 sample; run once with TALLY_MAKE_COMPAT=1"]
fn make_compat_wal_v3() {
    let dir = compat_dir().join("datadir");
    if !fs_util::may_write_frozen(&dir, "WAL v3") {
        return;
    }
    let e = Engine::builder().with_data_dir(&dir).with_clock(FixedClock::at(NOW)).open().unwrap();
    let (p, _) = e.create_project_with_id("compat", "compat").unwrap();
    write_sample(&p);
}

/// Rows, timestamps, `keen.created_at` and every column of a collection's
/// read snapshot (`keen.id` has a random prefix per collection).
type Contents = Vec<(usize, Vec<i64>, Vec<tally_ingest::SegmentColumn>)>;

fn contents(p: &Project) -> Vec<(String, tally_ingest::Schema, Contents)> {
    p.collection_names()
        .into_iter()
        .map(|c| {
            let snap = p.snapshot(&c).unwrap();
            let segs = snap
                .segments()
                .iter()
                .map(|s| (s.len(), s.timestamps().to_vec(), s.columns().cloned().collect()))
                .collect();
            (c, snap.schema().clone(), segs)
        })
        .collect()
}

#[test]
fn wal_v3_sample_replays_to_what_the_input_stores() {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&compat_dir().join("datadir"), tmp.path());
    let logs: Vec<PathBuf> = files_under(tmp.path())
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "log"))
        .collect();
    assert!(!logs.is_empty());
    for log in &logs {
        let wal = tally_ingest::decode_wal(&std::fs::read(log).unwrap()).unwrap();
        assert!(wal.torn_tail.is_none());
        assert!(wal.records.iter().all(|r| r.payload[0] == 3), "{log:?} holds payload v3 only");
    }
    let e =
        Engine::builder().with_data_dir(tmp.path()).with_clock(FixedClock::at(NOW)).open().unwrap();
    let p = e.project("compat").unwrap();
    assert!(p.collection_names().iter().all(|c| p.collection(c).unwrap().sealed_segments() == 0));

    let fresh_dir = tempfile::tempdir().unwrap();
    let fresh = Engine::builder()
        .with_data_dir(fresh_dir.path())
        .with_clock(FixedClock::at(NOW))
        .open()
        .unwrap();
    let (q, _) = fresh.create_project_with_id("compat", "compat").unwrap();
    write_sample(&q);
    let (got, want) = (contents(&p), contents(&q));
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g, w, "collection {}", w.0);
    }
    let rows: usize = got.iter().flat_map(|c| c.2.iter().map(|s| s.0)).sum();
    assert_eq!(rows, 200 + 3 + 1 + 1);
}
