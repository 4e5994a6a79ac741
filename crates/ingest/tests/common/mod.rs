//! Helpers shared by the collection-level integration tests.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::Path;
use std::sync::Arc;

use tally_ingest::{
    parse_event, Collection, CollectionOptions, FixedClock, FlatBatch, OpenReport, StdStorage,
};

/// The fixed clock every collection test runs at.
pub const NOW_MS: i64 = 1_718_202_920_123;

/// Parses `events` into one batch with its raw bytes laid out back to back.
pub fn batch_of<S: AsRef<str>>(events: &[S]) -> (FlatBatch, Vec<u8>) {
    let mut b = FlatBatch::new();
    let mut raw = Vec::new();
    for e in events {
        let e = e.as_ref();
        parse_event(e.as_bytes(), &mut b, &Default::default()).unwrap();
        let start = raw.len();
        raw.extend_from_slice(e.as_bytes());
        b.events.last_mut().unwrap().raw = start..raw.len();
    }
    (b, raw)
}

/// Opens (or creates) collection `c` in `dir/c` with `opts`.
pub fn open_with(dir: &Path, opts: CollectionOptions) -> (Collection, OpenReport) {
    Collection::open(
        Arc::new(StdStorage::new()),
        dir.join("c"),
        "c",
        Arc::new(FixedClock::at(NOW_MS)),
        opts,
    )
    .unwrap()
}

/// Opens (or creates) collection `c` in `dir/c` with default options.
pub fn open(dir: &Path) -> (Collection, OpenReport) {
    open_with(dir, CollectionOptions::default())
}

/// Appends every event of `events` and asserts all were stored.
pub fn append_all<S: AsRef<str>>(c: &Collection, events: &[S]) {
    let (b, _) = batch_of(events);
    let idx: Vec<usize> = (0..events.len()).collect();
    let out = c.append(&b, &idx).unwrap();
    assert_eq!(out.stored, events.len(), "{:?}", out.results);
}

/// The file names in `dir/c`, sorted.
pub fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir.join("c"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}
