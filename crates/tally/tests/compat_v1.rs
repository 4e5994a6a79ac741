//! Frozen on-disk format v1: `testdata/compat/v1/datadir` was written once
//! by this version (manifest, WAL, Parquet segments, index sidecars,
//! dictionaries, project file) and is never regenerated. Every later
//! version must open it and read the same events.
//!
//! To create it (only when it is missing, e.g. for a new format version
//! directory): `TALLY_MAKE_COMPAT=1 cargo test -p tally --test compat_v1 -- --ignored`.

#[path = "support/fs.rs"]
mod fs_util;

use std::path::{Path, PathBuf};

use fs_util::*;

use tally::{Engine, FixedClock, NdjsonOptions};

const NOW: i64 = 1_718_202_920_123; // 2024-06-12T14:35:20.123Z

fn compat_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/compat/v1")
}

#[test]
#[ignore = "writes the frozen v1 sample; run once with TALLY_MAKE_COMPAT=1"]
fn make_compat_v1() {
    let dir = compat_dir().join("datadir");
    if !fs_util::may_write_frozen(&dir, "v1") {
        return;
    }
    let e = Engine::builder().with_data_dir(&dir).with_clock(FixedClock::at(NOW)).open().unwrap();
    let (p, _) = e.create_project_with_id("compat", "compat").unwrap();
    let s =
        p.ingest_ndjson(&sample_lines(300)[..], &NdjsonOptions::default(), &mut |_| {}).unwrap();
    assert_eq!(s.rejected, 0);
    p.flush().unwrap();
    // A second segment for pageviews, then events left in the WAL only.
    for i in 0..40 {
        p.record(
            "pageviews",
            format!(r#"{{"n": {i}, "user": {{"id": "u{i}"}}, "tags": ["x", {i}]}}"#).as_bytes(),
        )
        .unwrap();
    }
    p.collection("pageviews").unwrap().flush().unwrap();
    for i in 0..5 {
        p.record(
            "pageviews",
            format!(r#"{{"wal_only": {i}, "user": {{"id": "u{i}"}}}}"#).as_bytes(),
        )
        .unwrap();
    }
    let schema = serde_json::to_string_pretty(&p.schema()).unwrap();
    std::fs::write(compat_dir().join("schema.json"), schema + "\n").unwrap();
}

#[test]
fn v1_data_directory_opens_and_reads_back() {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&compat_dir().join("datadir"), tmp.path());
    let e =
        Engine::builder().with_data_dir(tmp.path()).with_clock(FixedClock::at(NOW)).open().unwrap();
    let p = e.project("compat").unwrap();
    let expected = sample_lines(300);
    let mut per_collection = std::collections::BTreeMap::<String, usize>::new();
    for l in expected.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let v: serde_json::Value = serde_json::from_slice(l).unwrap();
        let name = v.as_object().unwrap().keys().next().unwrap().clone();
        *per_collection.entry(name).or_default() += 1;
    }
    *per_collection.get_mut("pageviews").unwrap() += 45;
    for (c, n) in &per_collection {
        assert_eq!(p.snapshot(c).unwrap().rows(), *n, "collection {c}");
    }
    assert_eq!(p.collection("pageviews").unwrap().sealed_segments(), 2);
    assert_eq!(p.collection("pageviews").unwrap().head_rows(), 5);
    let schema = serde_json::to_string_pretty(&p.schema()).unwrap() + "\n";
    let golden = std::fs::read_to_string(compat_dir().join("schema.json")).unwrap();
    assert_eq!(schema, golden);
    // The WAL-only events replayed with their original ids and values.
    let snap = p.snapshot("pageviews").unwrap();
    let head = snap.segments().last().unwrap();
    assert_eq!(head.len(), 5);
    assert!(head.created_at().iter().all(|c| c == Some(NOW)));
}

#[test]
fn v1_files_start_with_their_magic_bytes() {
    let dir = compat_dir().join("datadir/projects/compat/collections");
    let mut seen = std::collections::BTreeSet::new();
    let mut stack = vec![dir];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let bytes = std::fs::read(&p).unwrap();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            let magic: &[u8] = if name == "MANIFEST" {
                b"TLYMANI1"
            } else if name.ends_with(".log") {
                b"TLYWAL01"
            } else if name.ends_with(".idx") {
                b"TLYIDX01"
            } else if name.ends_with(".dict") {
                b"TLYDICT1"
            } else if name.ends_with(".parquet") {
                b"PAR1"
            } else {
                panic!("unexpected file {name}");
            };
            assert!(bytes.starts_with(magic), "{name}");
            seen.insert(name.rsplit('.').next().unwrap().to_string());
        }
    }
    for kind in ["MANIFEST", "log", "idx", "dict", "parquet"] {
        assert!(seen.contains(kind), "no {kind} file in the sample");
    }
}
